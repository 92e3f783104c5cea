//! `GET /openapi.json` against a live server, and schemathesis (PyPI; `.ci/run` installs it)
//! run on it: for a bounded number of examples per operation (positive and negative data),
//! no answer may be a 5xx, and every answer must fit the document (its status documented,
//! its content type and its body the documented ones). The core's unit tests
//! (functions/lib/core/src/openapi.rs) hold the document to the router and the dispatcher;
//! this holds it to what the server really answers.
//!
//! The server has data for the document's examples (repo `demo` with debs and rpms, Vieter
//! repo `bur` with pacman packages), so the examples phase reaches real files and listings.
//! The run is in two parts: every operation but DELETE first, then the DELETEs, so that
//! the reads meet the data before a DELETE may remove it. Nothing is excluded: generators,
//! tokens and repos may all be deleted, on this throwaway server.
//!
//! The package query parameters of `GET /repos/{repo}/packages/` (`name`, `arch`, `latest`,
//! ...; issue 17) are documented before this branch's server implements them: it answers
//! them with the plain listing, which the documented `oneOf` (listing or query answer)
//! accepts, so they need no exclusion here.
//!
//! `OPENAPI_EXAMPLES` sets the examples per operation (default 25), `SCHEMATHESIS_SEED` a
//! seed to replay a run (each run prints its seed).
mod common;
use common::*;
use std::process::Command;

/// The one schemathesis this test is written for (its CLI is v4's).
const SCHEMATHESIS: &str = "schemathesis==4.32.5";

fn examples() -> String {
    std::env::var("OPENAPI_EXAMPLES").unwrap_or_else(|_| "25".into())
}

/// `schemathesis run` on the live document with the admin token; its output, and whether
/// it passed.
fn schemathesis(server: &Server, filter: &[&str]) -> (bool, String) {
    let mut cmd = Command::new("schemathesis");
    cmd.arg("run")
        .arg(server.u("/openapi.json"))
        .args(["--url", &server.url])
        .args(["-H", &format!("Authorization: Bearer {}", server.token)])
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
        ])
        .args(["--max-examples", &examples()])
        .args(["--phases", "examples,coverage,fuzzing"])
        // One worker: schemathesis' workers are threads, and on CPython 3.11 two threads that
        // parse source at once (hypothesis reads its lambdas' source to describe a strategy)
        // can trip the interpreter's AST recursion check (python/cpython#106905: "SystemError:
        // AST constructor recursion depth mismatch"), which schemathesis reports as its own
        // runtime error. CI met it twice in a row; one worker never did here (0 of 30 runs,
        // 2 of 30 with two).
        .args(["--workers", "1", "--request-timeout", "60"])
        .args(["--suppress-health-check", "all"])
        .args(filter)
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false");
    if let Ok(seed) = std::env::var("SCHEMATHESIS_SEED") {
        cmd.args(["--seed", &seed]);
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("schemathesis (python3 -m pip install '{SCHEMATHESIS}') must be installed: {e}")
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The end of schemathesis' report: failures (if any) and the summary.
fn summary(text: &str) -> &str {
    let at = text
        .find("=== FAILURES ===")
        .or_else(|| text.find("=== SUMMARY ==="))
        .and_then(|i| text[..i].rfind('\n'))
        .unwrap_or(0);
    &text[at..]
}

#[test]
fn schemathesis_finds_no_server_error_and_no_schema_break() {
    // A generators folder of its own: schemathesis may delete generators.
    let gens = tmp();
    for e in std::fs::read_dir(&built().generators).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, gens.join(p.file_name().unwrap())).unwrap();
    }
    // Negative data includes wrong tokens: do not let them lock the admin out.
    let opts = Opts {
        args: vec!["--auth-failures-per-minute".into(), "1000000".into()],
        ..Opts::default()
    };
    let server = Server::start_opts(&tmp().join("data"), &gens, opts);

    // The document the server serves is the core's, and it is JSON.
    let served = server.get("/openapi.json");
    assert_eq!(served.status, 200);
    let file = std::fs::read(workspace().join("functions/lib/core/src/openapi.json")).unwrap();
    assert_eq!(served.body, file, "/openapi.json is not src/openapi.json");
    let doc = served.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    // openapi.json is not a repo name, nor a Vieter repo.
    let r = server.send("POST", "/repos/openapi.json/", None);
    assert_eq!(r.status, 400, "{}", r.text());
    let r = server.send("DELETE", "/openapi.json", None);
    assert_eq!(r.status, 405, "{}", r.text());

    // The data of the document's examples.
    server.create_repo("demo");
    for f in FIXTURE_DEBS {
        let r = server.upload("demo", &fixture_debs().join(f));
        assert_eq!(r.status, 201, "{f}: {}", r.text());
    }
    for e in std::fs::read_dir(fixture_rpms()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "rpm") {
            let r = server.upload("demo", &p);
            assert_eq!(r.status, 201, "{}: {}", p.display(), r.text());
        }
    }
    for f in [
        "harness-lib-1.0-1-any.pkg.tar.zst",
        "harness-app-1.0-1-x86_64.pkg.tar.zst",
    ] {
        let bytes = std::fs::read(fixture_pacman().join(f)).unwrap();
        let r = server.send("POST", "/bur/publish", Some(&bytes));
        assert_eq!(r.status, 201, "{f}: {}", r.text());
    }
    assert_eq!(server.get("/bur/x86_64/bur.db").status, 200);
    assert_eq!(
        server.get("/repos/demo/dist/dists/stable/InRelease").status,
        200
    );

    let started = std::time::Instant::now();
    let mut failed = Vec::new();
    // Two path templates overlap others: Vieter's routes at the root (`/{repo}/publish`) and
    // a published tree (`/repos/{repo}/{mount}/{path}`). A negative case that draws one of the
    // names their schema excludes (`repos` for `{repo}`, `snapshots` for `{mount}`) is a
    // request to another route (`POST /repos/publish` creates a repo, `GET
    // /repos/demo/snapshots/0` reads a snapshot), which answers by that route's schema. So
    // these two get positive data only; every other route gets both.
    const OVERLAPPING: &str = r"^/\{repo\}|^/repos/\{repo\}/\{mount\}";
    for (what, filter) in [
        (
            "all but DELETE and the overlapping",
            &[
                "--exclude-method",
                "DELETE",
                "--exclude-path-regex",
                OVERLAPPING,
            ][..],
        ),
        (
            "DELETE but the overlapping",
            &[
                "--include-method",
                "DELETE",
                "--exclude-path-regex",
                OVERLAPPING,
            ][..],
        ),
        (
            "the overlapping, positive data",
            &["--include-path-regex", OVERLAPPING, "--mode", "positive"][..],
        ),
    ] {
        let (mut ok, mut text) = schemathesis(&server, filter);
        // Schemathesis' own generation can trip over itself (hypothesis' FlakyFailure while it
        // draws an example: a "Runtime Error" with no failing check). That says nothing of
        // the server: run once more. A failing check (a 5xx, a schema break) is never retried.
        if !ok && !text.contains("=== FAILURES ===") && text.contains("Runtime Error") {
            println!(
                "schemathesis, {what}: its own runtime error, once more:\n{}",
                summary(&text)
            );
            (ok, text) = schemathesis(&server, filter);
        }
        println!("schemathesis, {what}:\n{}", summary(&text));
        if !ok {
            failed.push(format!("schemathesis, {what}:\n{text}"));
        }
    }
    println!("schemathesis took {:?}", started.elapsed());
    let log = std::fs::read_to_string(&server.log).unwrap_or_default();
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}
