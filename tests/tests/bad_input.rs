//! Bad input: each is a clear 4xx with a JSON body naming the problem, and nothing in the
//! repo changes (same package list, same published generation).
mod common;
use common::*;

fn snapshot(server: &Server) -> (serde_json::Value, serde_json::Value) {
    let v = server.get("/repos/r/packages/").json();
    (v["packages"].clone(), v["generation"].clone())
}

fn expect_error(r: &Resp, status: u16, mentions: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let v = r.json();
    assert!(v["error"].is_string(), "no error field: {v}");
    let detail = v["detail"].as_str().unwrap_or_default().to_lowercase();
    assert!(
        detail.contains(mentions),
        "detail {detail:?} should mention {mentions:?}"
    );
}

#[test]
fn bad_uploads_are_clear_4xx_and_change_nothing() {
    let server = Server::start(&tmp().join("data"));
    server.create_repo("r");
    let good = fixture_debs().join("harness-lib_1.0-1_all.deb");
    assert_eq!(server.upload("r", &good).status, 201);
    let before = snapshot(&server);

    // Garbage bytes: no generator claims them; the known formats are listed.
    let r = server.send(
        "POST",
        "/repos/r/packages/?filename=junk.deb",
        Some(b"this is not a package at all"),
    );
    expect_error(&r, 422, "known formats");
    assert!(r.text().contains("deb"));

    // A truncated .deb: claimed, then rejected naming the fault.
    let bytes = std::fs::read(fixture_debs().join("harness-app_1.0-1_amd64.deb")).unwrap();
    let r = server.send(
        "POST",
        "/repos/r/packages/?filename=trunc.deb",
        Some(&bytes[..bytes.len() / 2]),
    );
    expect_error(&r, 422, "trunc");

    // A file name with ../ (encoded or not).
    let r = server.send(
        "POST",
        "/repos/r/packages/?filename=../evil.deb",
        Some(&bytes),
    );
    expect_error(&r, 400, "file name");
    let r = server.send(
        "POST",
        "/repos/r/packages/?filename=..%2Fevil.deb",
        Some(&bytes),
    );
    expect_error(&r, 400, "file name");

    // An empty body.
    let r = server.send("POST", "/repos/r/packages/?filename=empty.deb", Some(b""));
    expect_error(&r, 400, "empty");

    // Missing and wrong tokens.
    let r = match ureq::post(&server.u("/repos/r/packages/?filename=x.deb")).send_bytes(&bytes) {
        Err(ureq::Error::Status(_, r)) => r,
        other => panic!("expected 401, got {other:?}"),
    };
    assert_eq!(r.status(), 401);
    let v: serde_json::Value = r.into_json().unwrap();
    assert!(v["detail"].as_str().unwrap().contains("token"));
    let r = match ureq::post(&server.u("/repos/r/packages/?filename=x.deb"))
        .set("Authorization", "Bearer nope")
        .send_bytes(&bytes)
    {
        Err(ureq::Error::Status(_, r)) => r,
        other => panic!("expected 401, got {other:?}"),
    };
    assert_eq!(r.status(), 401);
    let r = match ureq::delete(&server.u("/repos/r/"))
        .set("X-Api-Key", "nope")
        .call()
    {
        Err(ureq::Error::Status(_, r)) => r,
        other => panic!("expected 401, got {other:?}"),
    };
    assert_eq!(r.status(), 401);

    // An unknown repo.
    let r = server.send("POST", "/repos/nope/packages/?filename=x.deb", Some(&bytes));
    expect_error(&r, 404, "nope");
    expect_error(
        &server.get("/repos/nope/dist/dists/stable/InRelease"),
        404,
        "nope",
    );

    // Same name, other bytes: 409; the same bytes again: 200 and unchanged.
    let r = server.send(
        "POST",
        "/repos/r/packages/?filename=harness-lib_1.0-1_all.deb",
        Some(&bytes),
    );
    expect_error(&r, 409, "other content");
    let r = server.upload("r", &good);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["new"], false);

    // Bad repo settings and names.
    expect_error(
        &server.send("POST", "/repos/bad%20name/", None),
        400,
        "invalid repo name",
    );
    expect_error(
        &server.send("POST", "/repos/x/", Some(b"{not json")),
        400,
        "settings",
    );
    // A name no repo can have is no repo: 404, never the store's refusal of the key.
    for (method, path) in [
        ("POST", "/repos/.%C2%B0%C2%B8/enable"),
        ("POST", "/repos/.%C2%B0%C2%B8/disable"),
        ("PUT", "/repos/.x/"),
    ] {
        expect_error(&server.send(method, path, Some(b"{}")), 404, "no repo");
    }

    assert_eq!(snapshot(&server), before, "bad input changed the repo");
}

/// `method path` sent as it is: HTTP clients normalize `%2E%2E` and the like away.
fn raw(server: &Server, method: &str, path: &str) -> Resp {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(server.url.trim_start_matches("http://")).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Resp {
        status,
        body: body.as_bytes().to_vec(),
    }
}

/// Odd encodings in public GETs (an encoded slash, dots, NUL, invalid UTF-8, double encoding)
/// in a repo name, a file name or a tree path, on the main routes and Vieter's
/// `/{repo}/{arch}/{file}`: each a 4xx with a JSON error (HEAD: the status alone), never a
/// 500, and never a store key, a file-system path or an OS error in the answer.
/// `manage-repo add` from a script or CI job (stdout and stderr are pipes, no terminal):
/// every file's result is a plain line, the summary goes to stderr, the exit code is 1.
#[test]
fn cli_add_prints_a_line_per_file_without_a_terminal() {
    let server = Server::start(&tmp().join("data"));
    server.create_repo("r");
    let good = fixture_debs().join("harness-lib_1.0-1_all.deb");
    let out = server.cli(&["add", "r", "/etc/passwd", good.to_str().unwrap()]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("failed passwd: 422 "), "{stdout}");
    assert!(
        stdout.contains("added harness-lib_1.0-1_all.deb (generation "),
        "{stdout}"
    );
    assert!(stderr.contains("1 of the uploads failed"), "{stderr}");
    let out = server.cli_ok(&["add", "r", good.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("unchanged harness-lib_1.0-1_all.deb"),
        "{stdout}"
    );
}

#[test]
fn odd_encodings_in_public_gets_are_4xx_json() {
    let server = Server::start(&tmp().join("data"));
    server.create_repo("r");
    assert_eq!(
        server
            .upload("r", &fixture_debs().join("harness-lib_1.0-1_all.deb"))
            .status,
        201
    );
    let data = server.data.display().to_string();
    let paths = [
        "/repos/a%2Fb/",
        "/repos/a%2Fb/packages/",
        "/repos/r%2F..%2Fx/dist/dists/stable/InRelease",
        "/repos/%2E%2E/",
        "/repos/%2E%2E/key.asc",
        "/repos/r%00/",
        "/repos/%FF/",
        "/repos/r%252F/",
        "/repos/r/packages/a%2Fb.deb",
        "/repos/r/packages/..%2F..%2Fetc",
        "/repos/r/packages/%2E%2E",
        "/repos/r/packages/%FF",
        "/repos/r/packages/%00",
        "/repos/r/dist/dists%2Fstable%2FInRelease",
        "/repos/r/dist/%2E%2E/%2E%2E/meta",
        "/repos/r/%2E%2E/key.asc",
        "/repos/r/dist/%00",
        "/repos/r/key.asc%2F",
        "/repos/r/uploads/..%2F..%2Fx",
        "/r%2Fx/x86_64/r.db",
        "/r/x86%2F64/r.db",
        "/r/x86_64/r.db%2F..%2F..%2Fx",
        "/r/x86_64/%2E%2E",
        "/r/%2E%2E/r.db",
        "/%2E%2E/%2E%2E/%2E%2E",
        "/r/x86_64/a%00b",
        "/r/x86_64/%FF",
        "/%FF/x/y",
        "/r/x86_64/%252F",
        "/repos%2Fr/",
        "/generators/%2F..",
        "/metrics%2F",
    ];
    for path in paths {
        for method in ["GET", "HEAD"] {
            let r = raw(&server, method, path);
            assert!(
                (400..500).contains(&r.status),
                "{method} {path}: {} {}",
                r.status,
                r.text()
            );
            if method == "HEAD" {
                continue;
            }
            let v = r.json();
            assert!(
                v["error"].is_string() && v["detail"].is_string(),
                "{path}: {v}"
            );
            let text = r.text().to_lowercase();
            for inside in [
                "/config",
                "/head",
                "/published",
                "blobs/",
                "upload/",
                "os error",
                "no such file",
                "permission denied",
                &data.to_lowercase(),
            ] {
                assert!(!text.contains(inside), "{path} shows {inside:?}: {text}");
            }
        }
    }
    server.assert_logged(
        "GET /repos/a%2Fb/ 404",
        "the encoded slash reached the core",
    );
    // The repo and its file are still served.
    assert_eq!(server.package_count("r"), 1);
}
