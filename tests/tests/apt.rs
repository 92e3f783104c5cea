//! Real apt, signed: the foundation's end-to-end proof. Three .debs (one `Architecture:
//! all`, one depending on it, one with an epoch and a `+`) uploaded with `manage-repo add`,
//! then apt-get update + install with dependency resolution into a throwaway root,
//! `signed-by` the served key. A foreign key must make apt fail.
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

#[test]
fn apt_installs_signed_with_dependencies() {
    installs(&Server::start(&tmp().join("data")));
}

/// The same on S3 + DynamoDB (a moto server on the wire).
#[test]
fn apt_installs_from_s3_and_dynamodb() {
    let moto = common::moto::Moto::start();
    let opts = moto.server_opts("apt");
    installs(&Server::start_opts(
        &tmp().join("data"),
        &built().generators,
        opts,
    ));
}

fn installs(server: &Server) {
    let out = server.cli(&["create", "main-repo", "--description", "apt e2e"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let debs = fixture_debs();
    let files: Vec<String> = [
        "harness-lib_1.0-1_all.deb",
        "harness-app_1.0-1_amd64.deb",
        "harness-epoch_2.0+dfsg-1_amd64.deb",
    ]
    .iter()
    .map(|f| debs.join(f).to_string_lossy().into_owned())
    .collect();
    let mut args = vec!["add", "main-repo"];
    args.extend(files.iter().map(String::as_str));
    let out = server.cli(&args);
    assert!(
        out.status.success(),
        "add: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The API lists all three; the metadata is consistent with its Release.
    let list = server.get("/repos/main-repo/packages/").json();
    assert_eq!(list["packages"].as_array().unwrap().len(), 3);
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
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(log.contains("/InRelease 200"), "apt fetched InRelease");
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
