//! The REST routes beyond uploads: listing, download, delete, rebuild (TRACE and POST),
//! large uploads, generators, key, trailing slashes, and the CLI against them.
mod common;
use common::*;

#[test]
fn routes_behave_as_documented() {
    let server = Server::start(&tmp().join("data"));
    let [lib, app, epoch] = FIXTURE_DEBS.map(|f| fixture_debs().join(f));

    // Create with settings; the same again is 200, other settings 409.
    let body =
        br#"{"description":"api test","suite":"bookworm","architectures":["amd64","arm64"]}"#;
    assert_eq!(server.send("POST", "/repos/api", Some(body)).status, 201);
    assert_eq!(server.send("POST", "/repos/api/", Some(body)).status, 200);
    assert_eq!(
        server
            .send("POST", "/repos/api/", Some(br#"{"suite":"trixie"}"#))
            .status,
        409
    );
    let repos = server.get("/repos").json();
    assert!(array(&repos, "repos").iter().any(|r| r["name"] == "api"));

    // An empty repo is already published for both architectures.
    assert_eq!(
        server
            .get("/repos/api/dist/dists/bookworm/InRelease")
            .status,
        200
    );
    assert_eq!(
        server
            .get("/repos/api/dist/dists/bookworm/main/binary-arm64/Packages")
            .status,
        200
    );

    // Upload with a hint: component contrib.
    let data = std::fs::read(&lib).unwrap();
    let r = server.send(
        "POST",
        "/repos/api/packages/?filename=harness-lib_1.0-1_all.deb&hint.component=contrib",
        Some(&data),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let gen1 = r.json()["generation"].as_u64().unwrap();
    let p = server
        .get("/repos/api/dist/dists/bookworm/contrib/binary-arm64/Packages")
        .text();
    assert!(
        p.contains("Filename: pool/contrib/h/harness-lib/harness-lib_1.0-1_all.deb"),
        "{p}"
    );
    let pool = server.get("/repos/api/dist/pool/contrib/h/harness-lib/harness-lib_1.0-1_all.deb");
    assert_eq!(pool.body, data);

    // Download: GET and HEAD.
    let d = server.get("/repos/api/packages/harness-lib_1.0-1_all.deb");
    assert_eq!((d.status, d.body.len()), (200, data.len()));
    let h = ureq::head(&server.u("/repos/api/packages/harness-lib_1.0-1_all.deb"))
        .call()
        .unwrap();
    assert_eq!(h.header("content-length").unwrap(), data.len().to_string());
    assert_eq!(server.get("/repos/api/packages/missing.deb").status, 404);

    // Multipart upload with a hints part.
    let app_bytes = std::fs::read(&app).unwrap();
    let mut mp = Vec::new();
    mp.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"harness-app_1.0-1_amd64.deb\"\r\nContent-Type: application/octet-stream\r\n\r\n");
    mp.extend_from_slice(&app_bytes);
    mp.extend_from_slice(b"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"hints\"\r\n\r\n{\"component\":\"contrib\"}\r\n--XyZ--\r\n");
    let r = ureq::post(&server.u("/repos/api/packages/"))
        .set("Authorization", &format!("Bearer {}", server.token))
        .set("Content-Type", "multipart/form-data; boundary=XyZ")
        .send_bytes(&mp)
        .unwrap();
    assert_eq!(r.status(), 201);
    let p = server
        .get("/repos/api/dist/dists/bookworm/contrib/binary-amd64/Packages")
        .text();
    assert!(
        p.contains("Package: harness-app") && p.contains("Package: harness-lib"),
        "{p}"
    );

    // Rebuild: TRACE and POST both republish a new generation with the same packages.
    let r = server.send("TRACE", "/repos/api/", None);
    assert_eq!(r.status, 200, "{}", r.text());
    let g2 = r.json()["generation"].as_u64().unwrap();
    assert!(g2 > gen1);
    assert_eq!(r.json()["analyzed"], 2);
    let r = server.send("POST", "/repos/api/rebuild", None);
    assert!(r.json()["generation"].as_u64().unwrap() > g2);
    assert_eq!(
        check_release(&server, "api", "bookworm"),
        12,
        "main and contrib, amd64 and arm64, 3 encodings each"
    );

    // Large-upload flow: start, PUT the bytes, commit.
    let r = server.send(
        "POST",
        "/repos/api/uploads/",
        Some(br#"{"filename":"harness-epoch_2.0+dfsg-1_amd64.deb"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        server
            .send("POST", &format!("/repos/api/uploads/{id}"), None)
            .status,
        409,
        "commit before bytes"
    );
    assert_eq!(
        server
            .send(
                "PUT",
                &format!("/repos/api/uploads/{id}"),
                Some(&std::fs::read(&epoch).unwrap())
            )
            .status,
        200
    );
    let r = server.send("POST", &format!("/repos/api/uploads/{id}"), None);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        server
            .send("POST", &format!("/repos/api/uploads/{id}"), None)
            .status,
        404,
        "an upload commits once"
    );

    // Delete a package: gone from the list and from Packages.
    let r = server.send(
        "DELETE",
        "/repos/api/packages/harness-app_1.0-1_amd64.deb",
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let p = server
        .get("/repos/api/dist/dists/bookworm/contrib/binary-amd64/Packages")
        .text();
    assert!(!p.contains("Package: harness-app"));
    assert_eq!(
        server
            .send(
                "DELETE",
                "/repos/api/packages/harness-app_1.0-1_amd64.deb",
                None
            )
            .status,
        404
    );

    // Generators and key.
    let g = server.get("/generators/").json();
    assert!(array(&g, "generators")
        .iter()
        .any(|g| g["name"] == "deb" && g["mount"] == "dist"));
    assert_eq!(
        server
            .send("POST", "/generators/", Some(b"not wasm"))
            .status,
        422
    );
    assert_eq!(server.get("/repos/api/key.asc").status, 200);

    // The CLI: list, remove, rebuild, delete.
    let out = server.cli(&["list", "api"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("harness-lib_1.0-1_all.deb"));
    server.cli_ok(&["rebuild", "api"]);
    server.cli_ok(&["remove", "api", "harness-lib_1.0-1_all.deb"]);
    server.cli_ok(&["delete", "api"]);
    assert_eq!(server.get("/repos/api/").status, 404);
    assert_eq!(
        server
            .get("/repos/api/dist/dists/bookworm/InRelease")
            .status,
        404
    );
    let out = server.cli(&["list"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("api"));
}

#[test]
fn misbehaving_generators_fail_the_request_and_the_server_keeps_serving() {
    let gens = deb_and_misbehave();
    let server = Server::start_with(&tmp().join("data"), &gens);
    server.create_repo("m");
    for (name, what) in [
        ("misbehave-trap", "trap"),
        ("misbehave-loop", "fuel"),
        ("misbehave-alloc", "memory"),
    ] {
        let t = std::time::Instant::now();
        let r = server.send(
            "POST",
            &format!("/repos/m/packages/?filename={name}"),
            Some(b"0123456789abcdef"),
        );
        println!("{name}: {} in {:?}", r.status, t.elapsed());
        assert_eq!(r.status, 500, "{}", r.text());
        let detail = r.json()["detail"].as_str().unwrap().to_lowercase();
        assert!(detail.contains("misbehave"), "{detail}");
        assert!(
            detail.contains(what) || what == "memory",
            "{name}: {detail}"
        );
        // Still serving, and the deb generator still works.
        let ok = server.upload("m", &fixture_debs().join("harness-lib_1.0-1_all.deb"));
        assert!(ok.status == 201 || ok.status == 200, "{}", ok.text());
    }
    assert_eq!(server.package_count("m"), 1);
}

/// A rebuild republishes exactly what was published before it, with generator instances kept
/// warm across packages: a package whose analysis traps in a reused instance
/// (`misbehave-freshonly`) gets a fresh one, in the middle of the rebuild as at upload.
#[test]
fn a_rebuild_republishes_the_same_indexes_even_when_a_generator_traps_midway() {
    let gens = deb_and_misbehave();
    let server = Server::start_with(&tmp().join("data"), &gens);
    server.create_repo("rb");
    for f in FIXTURE_DEBS {
        let r = server.upload("rb", &fixture_debs().join(f));
        assert_eq!(r.status, 201, "{}", r.text());
    }
    for name in [
        "misbehave-a",
        "misbehave-freshonly",
        "misbehave-b",
        "misbehave-c",
    ] {
        let r = server.send(
            "POST",
            &format!("/repos/rb/packages/?filename={name}.pkg"),
            Some(b"0123456789abcdef"),
        );
        assert_eq!(r.status, 201, "{name}: {}", r.text());
    }
    let total = FIXTURE_DEBS.len() + 4;
    let published = || {
        (
            server
                .get("/repos/rb/dist/dists/stable/main/binary-amd64/Packages")
                .text(),
            server.get("/repos/rb/misbehave/index").text(),
        )
    };
    let before = published();
    assert!(before.0.contains("Package: harness-lib"), "{}", before.0);
    assert!(before.1.contains("misbehave-freshonly.pkg"), "{}", before.1);
    for _ in 0..3 {
        let r = server.send("POST", "/repos/rb/rebuild", None);
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        assert_eq!(v["analyzed"], total, "{v}");
        assert_eq!(v["unclaimed"], serde_json::json!([]), "{v}");
        assert_eq!(published(), before);
    }
}
