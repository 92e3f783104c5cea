//! Generators are contained per call and across calls: one that faults at `claims`, `plan` or
//! `finish` fails only its own format (the other formats of the same repo still publish and
//! real apt still installs), its faults are counted in `GET /generators/`, after a run of
//! them it is quarantined until re-enabled, and `DELETE /generators/{name}` removes it for
//! good (across restarts). The faults come from the test generator `misbehave`.
mod common;
use common::*;
use std::time::{Duration, Instant};

fn health(server: &Server, name: &str) -> serde_json::Value {
    let list = server.get("/generators/").json();
    array(&list, "generators")
        .iter()
        .find(|g| g["name"] == name)
        .map(|g| g["health"].clone())
        .unwrap_or(serde_json::Value::Null)
}

fn fake(server: &Server, name: &str) -> Resp {
    server.send(
        "POST",
        &format!("/repos/c/packages/?filename={name}"),
        Some(b"0123456789abcdef"),
    )
}

/// Packages `Packages` lists in repo c (the deb format published).
fn deb_listed(server: &Server) -> usize {
    stanzas(
        &server
            .get("/repos/c/dist/dists/stable/main/binary-amd64/Packages")
            .text(),
    )
    .len()
}

#[test]
fn a_faulty_generator_fails_only_its_own_format_and_is_quarantined_then_removed() {
    let gens = deb_and_misbehave();
    let mut server = Server::start_with(&tmp().join("data"), &gens);
    server.create_repo("c");
    let debs = fixture_debs();
    let deb = |i: usize| debs.join(FIXTURE_DEBS[i]);
    assert_eq!(server.upload("c", &deb(0)).status, 201);
    assert_eq!(fake(&server, "misbehave-ok.pkg").status, 201);
    let good_index = server.get("/repos/c/misbehave/index").text();
    assert!(good_index.contains("misbehave-ok.pkg"), "{good_index}");

    // claims: a trap and a loop claim nothing, cost little, and are counted.
    for name in ["misbehave-claims-trap.pkg", "misbehave-claims-loop.pkg"] {
        let t = Instant::now();
        let r = fake(&server, name);
        println!("{name}: {} in {:?}", r.status, t.elapsed());
        assert_eq!(r.status, 422, "{}", r.text());
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }
    let h = health(&server, "misbehave");
    assert_eq!(h["faults"], 2, "{h}");
    assert_eq!(h["consecutive"]["claims"], 2, "{h}");
    assert!(
        h["last_fault"].as_str().unwrap().starts_with("claims"),
        "{h}"
    );
    // A good answer ends the run (the deb upload asks misbehave too).
    assert_eq!(server.upload("c", &deb(1)).status, 201);
    assert!(health(&server, "misbehave")["consecutive"]["claims"].is_null());

    // plan traps: the misbehave format is not published (500 for its upload), deb is.
    let r = fake(&server, "misbehave-plan-trap.pkg");
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.json()["error"], "generator failed");
    assert!(r.text().contains("committed"), "{}", r.text());
    assert_eq!(server.upload("c", &deb(2)).status, 201);
    assert_eq!(deb_listed(&server), 3);
    assert_eq!(check_release(&server, "c", "stable"), 3);
    // Its files stay as the last good generation had them, and the listing says why.
    assert_eq!(server.get("/repos/c/misbehave/index").text(), good_index);
    let faults = server.get("/repos/c/").json()["faults"].clone();
    assert!(
        faults["misbehave"].as_str().unwrap().contains("trap"),
        "{faults}"
    );
    // A third publish in a row that faults: quarantined.
    let r = server.send(
        "DELETE",
        &format!("/repos/c/packages/{}", FIXTURE_DEBS[2].replace('+', "%2B")),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let h = health(&server, "misbehave");
    assert_eq!(h["quarantined"], true, "{h}");
    assert_eq!(h["consecutive"]["publish"], 3, "{h}");
    // Quarantined: not asked at all; uploads of its format say so.
    let r = fake(&server, "misbehave-later.pkg");
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("quarantined: misbehave"), "{}", r.text());
    assert_eq!(server.upload("c", &deb(2)).status, 201);
    assert_eq!(deb_listed(&server), 3);

    // Re-enabled, with the bad package gone: the format publishes again.
    let r = server.send("POST", "/generators/misbehave/enable", None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["was_quarantined"], true);
    let r = server.send("DELETE", "/repos/c/packages/misbehave-plan-trap.pkg", None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(server.get("/repos/c/misbehave/index").text(), good_index);
    assert!(health(&server, "misbehave")["consecutive"]["publish"].is_null());
    assert!(server.get("/repos/c/").json()["faults"].is_null());

    // finish traps: the same containment.
    let r = fake(&server, "misbehave-finish-trap.pkg");
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(server.get("/repos/c/misbehave/index").text(), good_index);
    let r = server.send(
        "DELETE",
        "/repos/c/packages/misbehave-finish-trap.pkg",
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(deb_listed(&server), 3);

    // Real apt installs from the repo whose other generator misbehaved.
    let out = std::process::Command::new("bash")
        .arg(workspace().join("tests/clients/apt.sh"))
        .arg(server.u("/repos/c/dist"))
        .env("APT_KEY", "")
        .env("APT_INSTALL", "harness-app")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "apt: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Removed: gone from the list and its packages' format unknown, after a restart too (its
    // files stay readable for the grace period, as every retired generation's).
    let r = server.send("DELETE", "/generators/misbehave", None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        server.send("DELETE", "/generators/misbehave", None).status,
        404
    );
    assert!(health(&server, "misbehave").is_null());
    assert_eq!(fake(&server, "misbehave-after.pkg").status, 422);
    server.restart();
    assert_eq!(fake(&server, "misbehave-after.pkg").status, 422);
    let list = server.get("/generators/").json();
    let names: Vec<&str> = array(&list, "generators")
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["deb"], "{list}");
}

/// The signer signs only what the host assembled in this publish: a generator asking for a
/// signature over free text, a Release listing a file the host never made, arbitrary bytes or
/// a stored package gets a refusal, and the refusal alone fails its format's publish (the
/// generator ignoring it changes nothing), so no such signature is made or published.
#[test]
fn a_generator_cannot_get_a_signature_over_what_the_host_did_not_assemble() {
    let gens = deb_and_misbehave();
    let server = Server::start_with(&tmp().join("data"), &gens);
    server.create_repo("c");
    let debs = fixture_debs();
    assert_eq!(server.upload("c", &debs.join(FIXTURE_DEBS[0])).status, 201);
    assert_eq!(fake(&server, "misbehave-ok.pkg").status, 201);
    let good_index = server.get("/repos/c/misbehave/index").text();

    let r = fake(&server, "misbehave-finish-forge.pkg");
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.json()["error"], "generator failed");
    let faults = server.get("/repos/c/").json()["faults"].clone();
    let fault = faults["misbehave"].as_str().unwrap_or_default().to_string();
    println!("fault: {fault}");
    // Every request was refused: two for the free text, the forged Release, the RSA bytes,
    // the package by OpenPGP and by RSA.
    assert_eq!(fault.matches("refused to sign").count(), 6, "{fault}");
    for f in [
        "refused.txt",
        "text.asc",
        "text.sig",
        "release.asc",
        "bytes.rsa",
        "package.sig",
        "package.rsa",
    ] {
        let r = server.get(&format!("/repos/c/misbehave/forged/{f}"));
        assert_eq!(r.status, 404, "forged/{f} is published");
    }
    assert_eq!(server.get("/repos/c/misbehave/index").text(), good_index);
    // The other format is untouched and still signs what it assembled.
    assert!(check_release(&server, "c", "stable") > 0);
    let h = health(&server, "misbehave");
    assert_eq!(h["consecutive"]["publish"], 1, "{h}");
}
