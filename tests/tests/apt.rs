//! Real apt, signed: the foundation's end-to-end proof. Three .debs (one `Architecture:
//! all`, one depending on it, one with an epoch and a `+`) uploaded with `manage-repo add`,
//! then apt-get update + install with dependency resolution into a throwaway root,
//! `signed-by` the served key. A foreign key must make apt fail. Run on every metadata store
//! (file, DynamoDB, Redis, PostgreSQL).
mod common;
use common::*;
use std::process::Command;

fn apt(
    server: &Server,
    repo: &str,
    key: &std::path::Path,
    install: &str,
    files: &str,
) -> std::process::Output {
    Command::new("bash")
        .arg(workspace().join("tests/clients/apt.sh"))
        .arg(server.u(&format!("/repos/{repo}/dist")))
        .env("APT_KEY", key)
        .env("APT_INSTALL", install)
        .env("APT_EXPECT_FILES", files)
        .env("APT_DOWNLOAD", "")
        .output()
        .unwrap()
}

on_every_meta_store!(
    installs,
    "apt",
    file: apt_installs_signed_with_dependencies,
    dynamodb: apt_installs_from_s3_and_dynamodb,
    redis: apt_installs_with_metadata_on_redis,
    postgres: apt_installs_with_metadata_on_postgres,
);

fn installs(server: &Server) {
    server.cli_ok(&["create", "main-repo", "--description", "apt e2e"]);
    let files = fixture_deb_args();
    let mut args = vec!["add", "main-repo"];
    args.extend(files.iter().map(String::as_str));
    server.cli_ok(&args);

    // The API lists all three; the metadata is consistent with its Release.
    assert_eq!(server.package_count("main-repo"), 3);
    assert_eq!(check_release(server, "main-repo", "stable"), 3);
    let packages = server
        .get("/repos/main-repo/dist/dists/stable/main/binary-amd64/Packages")
        .text();
    let st = stanzas(&packages);
    let epoch = st
        .iter()
        .find(|s| field(s, "Package") == Some("harness-epoch"))
        .expect("epoch package listed");
    assert_eq!(field(epoch, "Version"), Some("1:2.0+dfsg-1"));
    assert!(field(epoch, "Filename")
        .unwrap()
        .ends_with("harness-epoch_2.0+dfsg-1_amd64.deb"));
    assert!(st
        .iter()
        .any(|s| field(s, "Package") == Some("harness-lib")
            && field(s, "Architecture") == Some("all")));

    let key = tmp().join("repo.asc");
    let k = server.get("/repos/main-repo/key.asc");
    assert_eq!(k.status, 200);
    assert!(k.text().starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"));
    std::fs::write(&key, &k.body).unwrap();

    let out = apt(
        server,
        "main-repo",
        &key,
        "harness-app harness-epoch",
        "/usr/bin/harness-app /usr/share/harness-lib/VERSION /usr/share/harness-epoch/VERSION",
    );
    assert!(
        out.status.success(),
        "apt failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&server.log).unwrap_or_default()
    );
    server.assert_logged("/InRelease 200", "apt fetched InRelease");
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(
        log.contains("%2b") || log.contains("%2B"),
        "apt asked for the + file percent-encoded"
    );

    // A foreign key: apt must refuse the repo.
    let fkey = foreign_key();
    let out = apt(
        server,
        "main-repo",
        &fkey,
        "harness-app",
        "/usr/bin/harness-app",
    );
    assert!(
        !out.status.success(),
        "apt must reject metadata signed by another key"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("NO_PUBKEY") || err.contains("not signed") || err.contains("signature"),
        "{err}"
    );
}
