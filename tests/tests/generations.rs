//! Readers never see half a generation, and earlier generations stay readable: a client
//! holding an older InRelease still gets the Packages it names, by path and by hash (apt
//! `Acquire-By-Hash`), after newer uploads moved the repo on. Also: the data directory's
//! secrets are private.
mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;

fn sha256_of_packages_xz(release: &str) -> String {
    release
        .lines()
        .skip_while(|l| !l.starts_with("SHA256:"))
        .find(|l| l.trim_end().ends_with("main/binary-amd64/Packages.xz"))
        .and_then(|l| l.split_whitespace().next())
        .expect("Packages.xz in the SHA256 section")
        .to_string()
}

#[test]
fn earlier_generations_stay_readable_by_hash() {
    let server = Server::start(&tmp().join("data"));
    server.create_repo("g");
    let debs = many_debs(3, "gen");
    assert_eq!(server.upload("g", &debs[0]).status, 201);
    let old_release = server.get("/repos/g/dist/dists/stable/Release").text();
    assert!(old_release.contains("Acquire-By-Hash: yes"));
    let old_hash = sha256_of_packages_xz(&old_release);
    let by_hash = format!("/repos/g/dist/dists/stable/main/binary-amd64/by-hash/SHA256/{old_hash}");
    let old_xz = server.get(&by_hash);
    assert_eq!(old_xz.status, 200);
    assert_eq!(sha256_hex(&old_xz.body), old_hash);

    // Two more generations.
    assert_eq!(server.upload("g", &debs[1]).status, 201);
    assert_eq!(server.upload("g", &debs[2]).status, 201);
    let new_release = server.get("/repos/g/dist/dists/stable/Release").text();
    let new_hash = sha256_of_packages_xz(&new_release);
    assert_ne!(new_hash, old_hash);

    // The old file is still served by its hash, byte for byte; the new one too.
    let again = server.get(&by_hash);
    assert_eq!(again.status, 200, "old by-hash file vanished");
    assert_eq!(sha256_hex(&again.body), old_hash);
    let new_xz = server.get(&format!(
        "/repos/g/dist/dists/stable/main/binary-amd64/by-hash/SHA256/{new_hash}"
    ));
    assert_eq!(sha256_hex(&new_xz.body), new_hash);
    // The current path names the new generation, consistently with the current Release.
    assert_eq!(check_release(&server, "g", "stable"), 3);
    // A hash that was never published is a 404.
    assert_eq!(
        server
            .get(&format!(
                "/repos/g/dist/dists/stable/main/binary-amd64/by-hash/SHA256/{}",
                "0".repeat(64)
            ))
            .status,
        404
    );

    // GC beside the running server (min age 0): it may delete only what nothing references,
    // so everything served, every analysis (the next publish reads them all) and every
    // package still listed must survive it.
    let out = run_ok(
        std::process::Command::new(&built().bin)
            .arg("--data")
            .arg(&server.data)
            .args(["gc", "--min-age", "0"]),
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("gc: "));
    let again = server.get(&by_hash);
    assert_eq!(
        sha256_hex(&again.body),
        old_hash,
        "a served older generation survived GC"
    );
    let more = many_debs(1, "after-gc");
    assert_eq!(server.upload("g", &more[0]).status, 201);
    assert_eq!(server.send("POST", "/repos/g/rebuild", None).status, 200);
    assert_eq!(check_release(&server, "g", "stable"), 3);
    for p in server.get("/repos/g/packages/").json()["packages"]
        .as_array()
        .unwrap()
    {
        let name = p["filename"].as_str().unwrap();
        assert_eq!(
            server.get(&format!("/repos/g/packages/{name}")).status,
            200,
            "{name}"
        );
    }

    // Secrets made on first start are 0600.
    for f in ["token", "signing-key.asc", "rsa-key.pem"] {
        let mode = std::fs::metadata(server.data.join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f} is {mode:o}");
    }
}
