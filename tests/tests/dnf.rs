//! Real dnf and zypper against an rpm repository, signed: the rpm fixtures (signed with their
//! own key) uploaded with `manage-repo add`, then dnf (gpgcheck + repo_gpgcheck) and zypper
//! (--gpgcheck-strict) install with dependency resolution into throwaway roots, trusting the
//! repository's key (for repomd.xml.asc) and the fixtures' key (for the packages). A foreign
//! key makes dnf fail (the install runs on every metadata store: file, DynamoDB, Redis,
//! PostgreSQL). Removing a package and rebuilding the repo are seen by dnf.
mod common;
mod rpmmd;
use common::*;
use rpmmd::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn client(script: &str, url: &str, env: &[(&str, String)]) -> Output {
    let mut c = Command::new("bash");
    c.arg(workspace().join(script)).arg(url);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn dnf(server: &Server, repo: &str, env: &[(&str, String)]) -> Output {
    client(
        "tests/clients/dnf.sh",
        &server.u(&format!("/repos/{repo}/")),
        env,
    )
}

fn ok(what: &str, out: &Output, server: &Server) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n--- server log ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&server.log).unwrap_or_default()
    );
}

fn rpms(names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| fixture_rpms().join(n).to_string_lossy().into_owned())
        .collect()
}

fn all_rpms() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fixture_rpms())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn add(server: &Server, repo: &str, files: &[String]) {
    let mut args = vec!["add", repo];
    args.extend(files.iter().map(String::as_str));
    server.cli_ok(&args);
}

/// The repository key (signs repomd.xml) and the fixtures' key (signs the rpms), as files.
fn keys(server: &Server, repo: &str) -> (PathBuf, PathBuf) {
    let k = server.get(&format!("/repos/{repo}/key.asc"));
    assert_eq!(k.status, 200);
    let served = server.get(&format!("/repos/{repo}/repodata/repomd.xml.key"));
    assert_eq!(served.body, k.body, "repomd.xml.key is the repository key");
    let path = tmp().join("repo.asc");
    std::fs::write(&path, &k.body).unwrap();
    (path, fixture_rpms().join("keys/fixture.asc"))
}

fn list(p: &Path, q: &Path) -> String {
    format!("{} {}", p.display(), q.display())
}

on_every_meta_store!(
    installs,
    "dnf",
    file: dnf_and_zypper_install_signed_with_dependencies,
    dynamodb: dnf_and_zypper_install_from_s3_and_dynamodb,
    redis: dnf_and_zypper_install_with_metadata_on_redis,
    postgres: dnf_and_zypper_install_with_metadata_on_postgres,
);

fn installs(server: &Server) {
    server.create_repo("rpms");
    let files = all_rpms();
    assert_eq!(files.len(), 9, "fixtures: {files:?}");
    add(server, "rpms", &files);

    let repodata = fetch_repodata(server, "rpms");
    for (_, xml) in &repodata {
        assert_eq!(package_count(xml), 9);
    }
    let primary = kind(&repodata, "primary");
    assert!(
        primary.contains("<arch>src</arch>"),
        "the src.rpm is arch src"
    );
    assert!(primary.contains(r#"<version epoch="3" ver="2.0~rc1" rel="1"/>"#));
    assert!(primary.contains(r#"<location href="packages/harness-caret-1.0^git5-1.noarch.rpm"/>"#));

    let (repo_key, fixture_key) = keys(server, "rpms");
    let out = dnf(
        server,
        "rpms",
        &[
            ("DNF_KEYS", list(&repo_key, &fixture_key)),
            // harness-plugin needs /usr/bin/harness-app (a file dependency), which needs
            // harness-lib >= 1.0: dnf must pick 1.1
            (
                "DNF_INSTALL",
                "harness-plugin harness-epoch harness-caret".into(),
            ),
            (
                "DNF_EXPECT_PKGS",
                "harness-plugin-1.0-1.noarch harness-app-1.0-1.x86_64 harness-lib-1.1-1.noarch \
                 harness-epoch-3:2.0~rc1-1.noarch harness-caret-1.0^git5-1.noarch"
                    .into(),
            ),
            (
                "DNF_EXPECT_FILES",
                "/usr/bin/harness-app /usr/share/harness-lib/VERSION".into(),
            ),
            (
                "DNF_AVAILABLE",
                "harness-app-1.0-1.src harness-lib-1.0-1.noarch harness-weak-1.0-1.x86_64".into(),
            ),
            ("DNF_DOWNLOAD", "harness-extra".into()),
        ],
    );
    ok("dnf", &out, server);
    server.assert_logged("/repodata/repomd.xml.asc 200", "dnf checked the signature");

    let out = client(
        "tests/clients/zypper.sh",
        &server.u("/repos/rpms/"),
        &[
            ("ZYPPER_KEYS", list(&repo_key, &fixture_key)),
            ("ZYPPER_INSTALL", "harness-plugin harness-caret".into()),
            (
                "ZYPPER_EXPECT_PKGS",
                "harness-plugin-1.0-1.noarch harness-app-1.0-1.x86_64 harness-lib-1.1-1.noarch"
                    .into(),
            ),
            ("ZYPPER_DOWNLOAD", "harness-extra".into()),
        ],
    );
    ok("zypper", &out, server);
    server.assert_logged("/repodata/repomd.xml.key 200", "zypper fetched the key");

    // A foreign key instead of the repository's: repo_gpgcheck must refuse repomd.xml.
    let foreign = foreign_key();
    let out = dnf(
        server,
        "rpms",
        &[
            ("DNF_KEYS", list(&foreign, &fixture_key)),
            ("DNF_INSTALL", "harness-app".into()),
        ],
    );
    assert!(
        !out.status.success(),
        "dnf must reject metadata signed by another key:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("repomd.xml GPG signature"), "{err}");
    // And the repository key alone does not vouch for the packages (gpgcheck=1).
    let out = dnf(
        server,
        "rpms",
        &[
            ("DNF_KEYS", repo_key.display().to_string()),
            ("DNF_INSTALL", "harness-extra".into()),
        ],
    );
    assert!(
        !out.status.success(),
        "dnf must reject packages signed by a key it does not trust"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("GPG check FAILED"), "{err}");
}

#[test]
fn remove_and_rebuild_are_seen_by_dnf() {
    let server = Server::start(&tmp().join("data"));
    server.create_repo("rr");
    add(
        &server,
        "rr",
        &rpms(&[
            "harness-lib-1.0-1.noarch.rpm",
            "harness-lib-1.1-1.noarch.rpm",
            "harness-app-1.0-1.x86_64.rpm",
        ]),
    );
    let (repo_key, fixture_key) = keys(&server, "rr");
    let keys = list(&repo_key, &fixture_key);
    // dnf (trusting both keys) installs harness-app with `lib`, and passes the `more` checks.
    let installs_with = |lib: &str, more: &[(&str, String)], what: &str| {
        let mut env = vec![
            ("DNF_KEYS", keys.clone()),
            ("DNF_INSTALL", "harness-app".into()),
            ("DNF_EXPECT_PKGS", lib.to_string()),
        ];
        env.extend_from_slice(more);
        ok(what, &dnf(&server, "rr", &env), &server);
    };
    installs_with("harness-lib-1.1-1.noarch", &[], "dnf before removal");
    let before = fetch_repodata(&server, "rr");

    let r = server.send(
        "DELETE",
        "/repos/rr/packages/harness-lib-1.1-1.noarch.rpm",
        None,
    );
    assert!(r.status < 300, "delete: {} {}", r.status, r.text());
    let after = fetch_repodata(&server, "rr");
    let primary = kind(&after, "primary");
    assert_eq!(package_count(primary), 2);
    assert!(!primary.contains(r#"ver="1.1""#));
    for (d, _) in &before {
        // A client holding the old repomd.xml still finds the files it lists.
        let f = server.get(&format!("/repos/rr/{}", d.href));
        assert_eq!(f.status, 200, "{} of the previous generation", d.href);
    }
    installs_with(
        "harness-lib-1.0-1.noarch",
        &[
            ("DNF_ABSENT", "harness-lib-1.1-1.noarch".into()),
            ("DNF_AVAILABLE", "harness-lib-1.0-1.noarch".into()),
        ],
        "dnf after removal",
    );

    // Rebuild: everything re-analyzed; the same packages give the same metadata.
    server.cli_ok(&["rebuild", "rr"]);
    let rebuilt = fetch_repodata(&server, "rr");
    for ((a, _), (b, _)) in after.iter().zip(&rebuilt) {
        assert_eq!(
            a.open_checksum, b.open_checksum,
            "{} is reproducible",
            a.kind
        );
    }
    // Put 1.1 back: dnf sees it again.
    add(&server, "rr", &rpms(&["harness-lib-1.1-1.noarch.rpm"]));
    installs_with("harness-lib-1.1-1.noarch", &[], "dnf after re-adding");
}

#[test]
fn rpm_uploads_are_claimed_by_content_and_malformed_ones_rejected() {
    let server = Server::start(&tmp().join("data"));
    server.create_repo("up");
    let dir = tmp();
    let extra = std::fs::read(fixture_rpms().join("harness-extra-2.0-3.noarch.rpm")).unwrap();

    // Any name: the content decides.
    let renamed = dir.join("renamed.bin");
    std::fs::write(&renamed, &extra).unwrap();
    let r = server.upload("up", &renamed);
    assert_eq!(r.status, 201, "{}", r.text());
    let primary = kind(&fetch_repodata(&server, "up"), "primary").to_string();
    assert!(primary.contains(r#"<location href="packages/renamed.bin"/>"#));
    assert!(primary.contains("<name>harness-extra</name>"));
    assert_eq!(server.get("/repos/up/packages/renamed.bin").body, extra);

    // Malformed: a clear 422 naming the fault, and the repo unchanged.
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("short.rpm", extra[..50].to_vec(), "truncated"),
        ("cut.rpm", extra[..300].to_vec(), "truncated"),
        (
            "payload-cut.rpm",
            extra[..extra.len() - 10].to_vec(),
            "size mismatch",
        ),
        (
            "bad-magic.rpm",
            {
                let mut b = extra.clone();
                b[96] ^= 0xff;
                b
            },
            "signature header magic",
        ),
        (
            "bad-version.rpm",
            {
                let mut b = extra.clone();
                b[4] = 9;
                b
            },
            "lead version",
        ),
    ];
    for (name, bytes, expect) in cases {
        let p = dir.join(name);
        std::fs::write(&p, &bytes).unwrap();
        let r = server.upload("up", &p);
        assert_eq!(r.status, 422, "{name}: {}", r.text());
        let detail = r.json()["detail"].as_str().unwrap_or_default().to_string();
        assert!(detail.contains(expect), "{name}: {detail}");
    }
    assert_eq!(server.package_count("up"), 1);
    assert_eq!(
        package_count(kind(&fetch_repodata(&server, "up"), "primary")),
        1
    );
}
