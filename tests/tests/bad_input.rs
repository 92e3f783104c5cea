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

    assert_eq!(snapshot(&server), before, "bad input changed the repo");
}
