//! A third party's format, end to end: `manage-repo generator new` writes a crate that builds
//! for wasm32-wasip2 as it is (and whose unit test passes), `generator check` passes it with a
//! sample and refuses a component of another contract version naming both versions, a
//! running server picks it up when it is dropped into a generators folder (and drops it when
//! it goes), reports a broken file as refused without stopping (nor stopping the next start),
//! and `generator install` uploads it to another server.
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The contract version this build speaks, from the WIT package line (so a contract bump
/// needs no change here).
fn contract() -> String {
    let wit = std::fs::read_to_string(workspace().join("wit/generator.wit")).unwrap();
    wit.lines()
        .find_map(|l| l.strip_prefix("package reposmith:generator@"))
        .and_then(|v| v.strip_suffix(';'))
        .expect("the package line of wit/generator.wit")
        .to_string()
}

/// `generator new demo-txt` in a temp dir, built for wasm32-wasip2 (its unit test run
/// natively first): the component, built once per test binary.
fn demo_wasm() -> &'static PathBuf {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let dir = tmp().join("demo-txt");
        let out = bare_cli(&[
            "generator",
            "new",
            "demo-txt",
            "--dir",
            dir.to_str().unwrap(),
        ]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stdout}{stderr}");
        assert!(stdout.contains("generator demo-txt"), "{stdout}");
        for f in ["Cargo.toml", "src/lib.rs", "README.md"] {
            assert!(dir.join(f).is_file(), "{f} not written");
        }
        // The workspace's lock pins the SDK's dependencies to the versions built here.
        std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        // A target dir of its own under the shared one: its dependencies stay built between
        // runs, and the workspace's builds are not disturbed.
        let target = target_release().parent().unwrap().join("generator-new");
        let cargo = |args: &[&str]| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            run_ok(
                without_test_env(&mut Command::new(cargo))
                    .args(args)
                    .current_dir(&dir)
                    .env("CARGO_TARGET_DIR", &target),
            )
        };
        cargo(&["test", "--release", "--lib"]);
        cargo(&["build", "--release", "--target", "wasm32-wasip2"]);
        let wasm = target.join("wasm32-wasip2/release/demo_txt.wasm");
        assert!(wasm.is_file(), "{} not built", wasm.display());
        wasm
    })
}

/// A sample for the demo generator: `hello-1.0.txt`.
fn hello_txt() -> PathBuf {
    let f = tmp().join("hello-1.0.txt");
    std::fs::write(&f, "hello, world\n").unwrap();
    f
}

/// Copies `from` into `dir` as `name` the documented way: to a hidden name, then renamed.
fn drop_in(from: &Path, dir: &Path, name: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let part = dir.join(format!(".{name}.part"));
    std::fs::copy(from, &part).unwrap();
    std::fs::rename(&part, dir.join(name)).unwrap();
}

fn listed(server: &Server) -> (Vec<String>, Vec<serde_json::Value>) {
    let v = server.get("/generators/").json();
    let names = array(&v, "generators")
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    (names, array(&v, "refused").to_vec())
}

#[test]
fn new_crate_builds_and_passes_its_check() {
    let wasm = demo_wasm().to_str().unwrap();
    let sample = hello_txt();
    let out = bare_cli(&[
        "generator",
        "check",
        wasm,
        "--sample",
        sample.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    println!("{stdout}");
    assert!(out.status.success(), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let v = contract();
    for (i, start) in [
        "ok component: ".to_string(),
        format!("ok contract: exports reposmith:generator/generator@{v}, built against {v}"),
        "ok info: name demo-txt, mount demo-txt, extensions .txt".into(),
        "ok claims: yes".into(),
        "ok analyze: 1 entry (hello 1.0 any)".into(),
        "ok plan: 1 bulk file (index.txt), 0 links".into(),
        "ok finish: 1 output (index.txt.sig)".into(),
        "ok publish: generation ".into(),
    ]
    .iter()
    .enumerate()
    {
        assert!(
            lines.get(i).is_some_and(|l| l.starts_with(start.as_str())),
            "line {i} should start with {start:?}:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("index.txt.gz") && stdout.contains("files/hello-1.0.txt"),
        "{stdout}"
    );

    // Without a sample: the contract and info only.
    let out = bare_cli(&["generator", "check", wasm]);
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    assert_eq!(stdout.lines().count(), 3, "{stdout}");

    // A sample it does not claim: the step that failed, exit 1.
    let deb = fixture_debs().join(FIXTURE_DEBS[0]);
    let out = bare_cli(&[
        "generator",
        "check",
        wasm,
        "--sample",
        deb.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout
            .lines()
            .last()
            .unwrap()
            .starts_with("failed claims: no"),
        "{stdout}"
    );
    assert!(stderr.starts_with("error: "), "{stderr}");

    // Not a component at all.
    let junk = tmp().join("junk.wasm");
    std::fs::write(&junk, b"not wasm").unwrap();
    let out = bare_cli(&["generator", "check", junk.to_str().unwrap()]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout.starts_with("failed component: not a WebAssembly component"),
        "{stdout}"
    );

    // Usage errors exit 2: a bad name, a crate folder in use, a missing file.
    let used = tmp();
    std::fs::write(used.join("keep"), b"").unwrap();
    for args in [
        &["generator", "new", "Bad_Name"][..],
        &["generator", "new", "9lives"],
        &["generator", "new", "ok", "--dir", used.to_str().unwrap()],
        &["generator", "check", "/nonexistent.wasm"],
    ] {
        let out = bare_cli(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out).1);
    }
}

#[test]
fn another_contract_version_is_refused_naming_both() {
    let old = built().old_contract.to_str().unwrap();
    let refusal = format!(
        "the generator was built against reposmith:generator@0.0.9, this host speaks reposmith:generator@{}",
        contract()
    );
    let out = bare_cli(&["generator", "check", old]);
    let (stdout, stderr) = text(&out);
    println!("{stdout}{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.starts_with(&format!("failed contract: {refusal}")),
        "{stdout}"
    );

    let server = Server::start(&tmp().join("data"));
    let r = server.send(
        "POST",
        "/generators/",
        Some(&std::fs::read(&built().old_contract).unwrap()),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let v = r.json();
    assert_eq!(v["error"], "invalid generator", "{v}");
    assert!(v["detail"].as_str().unwrap().starts_with(&refusal), "{v}");
    // The CLI says the same.
    let out = server.cli(&["generator", "install", old]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: 422 invalid generator: {refusal}")),
        "{stderr}"
    );
}

#[test]
fn a_dropped_in_generator_is_picked_up_and_a_bad_one_reported() {
    let wasm = demo_wasm();
    let gens = tmp();
    std::fs::copy(built().generators.join("deb.wasm"), gens.join("deb.wasm")).unwrap();
    let mut server = Server::start_with(&tmp().join("data"), &gens);
    server.create_repo("r");
    let hello = hello_txt();
    assert_eq!(server.upload("r", &hello).status, 422, "no .txt format yet");

    // Dropped into the folder: loaded at the next request, no restart.
    drop_in(wasm, &gens, "demo-txt.wasm");
    let (names, refused) = listed(&server);
    assert!(names.contains(&"demo-txt".to_string()), "{names:?}");
    assert!(refused.is_empty(), "{refused:?}");
    let r = server.upload("r", &hello);
    assert_eq!(r.status, 201, "{}", r.text());
    let index = server.get("/repos/r/demo-txt/index.txt");
    assert_eq!(index.status, 200);
    let sha = sha256_hex(&std::fs::read(&hello).unwrap());
    assert_eq!(
        index.text(),
        format!("# file size sha256\nhello-1.0.txt 13 {sha}\n")
    );
    assert_eq!(
        server.get("/repos/r/demo-txt/files/hello-1.0.txt").text(),
        "hello, world\n"
    );
    server.assert_logged(
        "generator loaded: demo-txt (mount demo-txt) from ",
        "load logged",
    );

    // Garbage in DATA/generators, and a second file of a loaded name: reported, one line
    // each in the log, and the server goes on.
    let uploaded = server.data.join("generators");
    std::fs::create_dir_all(&uploaded).unwrap();
    std::fs::write(uploaded.join("junk.wasm"), b"not wasm at all").unwrap();
    std::fs::copy(gens.join("deb.wasm"), gens.join("zz-deb-again.wasm")).unwrap();
    let (names, refused) = listed(&server);
    assert!(names.contains(&"demo-txt".to_string()), "{names:?}");
    let errors: Vec<(&str, &str)> = refused
        .iter()
        .map(|r| (r["file"].as_str().unwrap(), r["error"].as_str().unwrap()))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors.contains(&(
            "junk.wasm",
            "not a WebAssembly component (no `\\0asm` header)"
        )),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|(f, e)| *f == "zz-deb-again.wasm" && e.contains("already loaded from")),
        "{errors:?}"
    );
    let log = std::fs::read_to_string(&server.log).unwrap();
    let junk_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("generator refused: ") && l.contains("junk.wasm"))
        .collect();
    assert_eq!(junk_lines.len(), 1, "logged once: {log}");
    assert!(
        junk_lines[0].ends_with("junk.wasm: not a WebAssembly component (no `\\0asm` header)"),
        "{}",
        junk_lines[0]
    );
    std::fs::remove_file(gens.join("zz-deb-again.wasm")).unwrap();
    let bye = tmp().join("bye-2.0.txt");
    std::fs::write(&bye, "bye\n").unwrap();
    assert_eq!(server.upload("r", &bye).status, 201);

    // Copied in place (not the documented way): the half-written file is refused, then
    // loaded once the copy is complete, not kept as broken.
    let bytes = std::fs::read(wasm).unwrap();
    std::fs::write(gens.join("demo-txt.wasm"), &bytes[..bytes.len() / 2]).unwrap();
    let (names, refused) = listed(&server);
    assert!(!names.contains(&"demo-txt".to_string()), "{names:?}");
    assert!(
        refused.iter().any(|r| r["file"] == "demo-txt.wasm"),
        "{refused:?}"
    );
    std::fs::write(gens.join("demo-txt.wasm"), &bytes).unwrap();
    let (names, _) = listed(&server);
    assert!(names.contains(&"demo-txt".to_string()), "{names:?}");

    // Removed from the folder: gone at the next request.
    std::fs::remove_file(gens.join("demo-txt.wasm")).unwrap();
    let (names, _) = listed(&server);
    assert!(!names.contains(&"demo-txt".to_string()), "{names:?}");
    server.assert_logged("generator unloaded: demo-txt", "unload logged");

    let log = std::fs::read_to_string(&server.log).unwrap();
    for l in log.lines().filter(|l| l.starts_with("generator ")) {
        println!("log: {l}");
    }

    // The bad file does not stop the next start; it is reported again.
    server.restart();
    let (names, refused) = listed(&server);
    assert_eq!(names, ["deb"]);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["file"], "junk.wasm");
    server.assert_logged("junk.wasm: not a WebAssembly component", "refusal at start");
    server.create_repo("again");
}

#[test]
fn install_uploads_a_generator() {
    let wasm = demo_wasm().to_str().unwrap();
    let server = Server::start(&tmp().join("data"));
    let out = server.cli(&["generator", "install", wasm]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(
        stdout.trim(),
        format!(
            "installed demo-txt (mount demo-txt, contract {})",
            contract()
        )
    );
    let (names, _) = listed(&server);
    assert!(names.contains(&"demo-txt".to_string()), "{names:?}");
    server.create_repo("r");
    assert_eq!(server.upload("r", &hello_txt()).status, 201);
    assert!(server
        .get("/repos/r/demo-txt/index.txt")
        .text()
        .contains("hello-1.0.txt"));
    // Kept: it loads again after a restart, from DATA/generators.
    assert!(server.data.join("generators/demo-txt.wasm").is_file());
}
