//! Vieter's routes, as its users call them: publish with X-Api-Key, fetch the db, fetch a
//! desc by NAME-VERSION, HEAD 200/404, delete a package, an arch-repo and the repo, with
//! real pacman (`Server = URL/$repo/$arch`, unsigned as Vieter serves) seeing each change.
mod common;
use common::*;
use std::process::Command;

/// `pacman -Sy` + `-Sl` against the Vieter URL; returns the `-Sl` listing.
fn pacman_list(server: &Server, repo: &str) -> String {
    let out = Command::new("bash")
        .arg(workspace().join("tests/clients/pacman.sh"))
        .arg(server.u(&format!("/{repo}/x86_64")))
        .env("PACMAN_REPO", repo)
        .env("PACMAN_INSTALL", "")
        .env("PACMAN_DOWNLOAD", "")
        .env_remove("PACMAN_KEY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "pacman failed:\n{err}");
    err.lines()
        .filter(|l| l.starts_with(&format!("{repo} ")))
        .collect::<Vec<_>>()
        .join("\n")
}

fn vieter_publish(server: &Server, repo: &str, file: &std::path::Path) -> u16 {
    let r = ureq::post(&server.u(&format!("/{repo}/publish")))
        .set("X-Api-Key", &server.token)
        .send_bytes(&std::fs::read(file).unwrap());
    match r {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(s, _)) => s,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn vieter_routes_behave_like_vieter() {
    let server = Server::start(&tmp().join("data"));
    let pkgs = fixture_pacman();
    let lib = pkgs.join("harness-lib-1.0-1-any.pkg.tar.zst");
    let app = pkgs.join("harness-app-1.0-1-x86_64.pkg.tar.zst");

    // Publishing needs the key, and creates the repo.
    let r = ureq::post(&server.u("/bur/publish")).send_bytes(b"x");
    assert!(matches!(r, Err(ureq::Error::Status(401, _))));
    assert_eq!(vieter_publish(&server, "bur", &lib), 201);
    assert_eq!(vieter_publish(&server, "bur", &app), 201);
    assert_eq!(
        vieter_publish(&server, "bur", &app),
        200,
        "the same package again"
    );
    // Main API names are not Vieter repos (`/repos/publish` is the main API's repo route).
    assert_eq!(vieter_publish(&server, "repos", &app), 400);
    assert_eq!(
        server.send("POST", "/repos/repos/", None).status,
        400,
        "reserved name"
    );
    assert_eq!(server.get("/repos/repos/").status, 404);

    // The database, by every name Vieter serves it under.
    for name in ["bur.db", "bur.files", "bur.db.tar.gz", "bur.files.tar.gz"] {
        let r = server.get(&format!("/bur/x86_64/{name}"));
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(&r.body[..2], b"\x1f\x8b", "{name} is gzip");
    }
    // A package file, and a desc by NAME-VERSION.
    let p = server.get("/bur/x86_64/harness-app-1.0-1-x86_64.pkg.tar.zst");
    assert_eq!(p.body, std::fs::read(&app).unwrap());
    let desc = server.get("/bur/x86_64/harness-lib-1.0-1");
    assert_eq!(desc.status, 200);
    assert!(
        desc.text().contains("%NAME%\nharness-lib\n"),
        "{}",
        desc.text()
    );
    assert!(desc
        .text()
        .contains("%FILENAME%\nharness-lib-1.0-1-any.pkg.tar.zst\n"));
    // HEAD: 200 or 404, nothing else.
    let head = |path: &str| match ureq::head(&server.u(path)).call() {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(s, _)) => s,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(head("/bur/x86_64/bur.db"), 200);
    assert_eq!(head("/bur/x86_64/harness-app-1.0-1"), 200);
    assert_eq!(head("/bur/x86_64/nope-1.0-1"), 404);
    assert_eq!(head("/bur/x86_64/nope-1.0-1-x86_64.pkg.tar.zst"), 404);

    let list = pacman_list(&server, "bur");
    assert!(
        list.contains("harness-app 1.0-1") && list.contains("harness-lib 1.0-1"),
        "{list}"
    );

    // Delete a package from the arch-repo: pacman no longer lists it.
    let del = |path: &str| match ureq::delete(&server.u(path))
        .set("X-Api-Key", &server.token)
        .call()
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(s, _)) => s,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(del("/bur/x86_64/harness-app"), 200);
    assert_eq!(del("/bur/x86_64/harness-app"), 404);
    let list = pacman_list(&server, "bur");
    assert!(
        !list.contains("harness-app") && list.contains("harness-lib"),
        "{list}"
    );

    // Delete the arch-repo: its x86_64 packages go, `any` ones stay.
    assert_eq!(vieter_publish(&server, "bur", &app), 201);
    assert_eq!(del("/bur/x86_64"), 200);
    let list = pacman_list(&server, "bur");
    assert!(
        !list.contains("harness-app") && list.contains("harness-lib"),
        "{list}"
    );

    // Delete the repo: gone for pacman and for the main API.
    assert_eq!(del("/bur"), 200);
    assert_eq!(server.get("/bur/x86_64/bur.db").status, 404);
    assert_eq!(server.get("/repos/bur/").status, 404);
}
