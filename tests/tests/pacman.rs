//! Real pacman, signed: two makepkg packages (harness-lib `any`, harness-app `x86_64`
//! depending on it) uploaded, then `pacman -Sy` + `-S harness-app` with dependency resolution
//! into a throwaway root under `SigLevel = Required DatabaseRequired`, keyring holding the
//! served repo key; `-Fy` reads the .files database. A foreign key must make pacman fail.
//! And the served databases hold what `repo-add` makes of the same packages.
mod common;
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

const LIB: &str = "harness-lib-1.0-1-any.pkg.tar.zst";
const APP: &str = "harness-app-1.0-1-x86_64.pkg.tar.zst";

fn pacman(server: &Server, repo: &str, key: &Path) -> std::process::Output {
    Command::new("bash")
        .arg(workspace().join("tests/clients/pacman.sh"))
        .arg(server.u(&format!("/repos/{repo}/pacman/$arch")))
        .env("PACMAN_REPO", repo)
        .env("PACMAN_KEY", key)
        .env("PACMAN_INSTALL", "harness-app")
        .env("PACMAN_EXPECT_PKGS", "harness-app harness-lib")
        .env(
            "PACMAN_EXPECT_FILES",
            "/usr/bin/harness-app /usr/share/harness-lib/VERSION",
        )
        .env("PACMAN_DOWNLOAD", "harness-lib")
        .env("PACMAN_FILES", "1")
        .output()
        .unwrap()
}

fn upload_both(server: &Server, repo: &str) {
    server.create_repo(repo);
    for f in [LIB, APP] {
        let r = server.upload(repo, &fixture_pacman().join(f));
        assert!(
            (200..300).contains(&r.status),
            "upload {f}: {} {}",
            r.status,
            r.text()
        );
    }
}

on_local_and_moto!(
    pacman_installs_signed_with_dependencies,
    pacman_installs_from_s3_and_dynamodb,
    "pacman",
    installs
);

fn installs(server: &Server) {
    upload_both(server, "main-repo");

    // The tree pacman reads: the databases, their signatures, the packages and theirs, under
    // the architecture directory; the `any` package is there too.
    for p in [
        "x86_64/main-repo.db",
        "x86_64/main-repo.db.sig",
        "x86_64/main-repo.db.tar.gz",
        "x86_64/main-repo.files",
        "x86_64/main-repo.files.sig",
        &format!("x86_64/{LIB}"),
        &format!("x86_64/{LIB}.sig"),
        &format!("x86_64/{APP}"),
        &format!("x86_64/{APP}.sig"),
    ] {
        let r = server.get(&format!("/repos/main-repo/pacman/{p}"));
        assert_eq!(r.status, 200, "{p}: {}", r.text());
    }
    let served = server.get(&format!("/repos/main-repo/pacman/x86_64/{LIB}"));
    assert_eq!(
        served.body,
        std::fs::read(fixture_pacman().join(LIB)).unwrap()
    );

    let key = tmp().join("repo.asc");
    let k = server.get("/repos/main-repo/key.asc");
    assert_eq!(k.status, 200);
    std::fs::write(&key, &k.body).unwrap();

    let out = pacman(server, "main-repo", &key);
    assert!(
        out.status.success(),
        "pacman failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&server.log).unwrap_or_default()
    );

    let out = pacman(server, "main-repo", &foreign_key());
    assert!(
        !out.status.success(),
        "pacman must reject a database signed by another key"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("signature") || err.contains("invalid"),
        "{err}"
    );
}

/// `DIR/NAME-VERSION/{desc,files}` of an extracted database: per entry, the fields
/// (%FIELD% → values) of desc and the lines of files; %PGPSIG% dropped.
type Db = BTreeMap<String, (BTreeMap<String, Vec<String>>, BTreeSet<String>)>;

fn read_db(dir: &Path) -> Db {
    let mut db = Db::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let desc = std::fs::read_to_string(e.path().join("desc")).unwrap();
        let mut fields = BTreeMap::new();
        for block in desc.split("\n\n").filter(|b| !b.trim().is_empty()) {
            let mut lines = block.lines();
            let key = lines.next().unwrap().to_string();
            fields.insert(key, lines.map(str::to_string).collect::<Vec<_>>());
        }
        fields.remove("%PGPSIG%");
        let files = std::fs::read_to_string(e.path().join("files"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        db.insert(name, (fields, files));
    }
    db
}

fn extract(archive: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    run_ok(
        Command::new("bsdtar")
            .arg("-xf")
            .arg(archive)
            .arg("-C")
            .arg(into),
    );
}

#[test]
fn pacman_databases_match_repo_add() {
    let server = Server::start(&tmp().join("data"));
    upload_both(&server, "eq");
    let work = tmp();

    // repo-add over the same two packages.
    let reference = work.join("ref");
    std::fs::create_dir_all(&reference).unwrap();
    for f in [LIB, APP] {
        std::fs::copy(fixture_pacman().join(f), reference.join(f)).unwrap();
    }
    run_ok(Command::new("repo-add").current_dir(&reference).args([
        "--quiet",
        "eq.db.tar.gz",
        LIB,
        APP,
    ]));

    for kind in ["db", "files"] {
        let served = server.get(&format!("/repos/eq/pacman/x86_64/eq.{kind}"));
        assert_eq!(served.status, 200);
        let ours = work.join(format!("eq.{kind}"));
        std::fs::write(&ours, &served.body).unwrap();
        extract(&ours, &work.join(format!("ours-{kind}")));
        extract(
            &reference.join(format!("eq.{kind}.tar.gz")),
            &work.join(format!("ref-{kind}")),
        );
        let (a, b) = (
            read_db(&work.join(format!("ours-{kind}"))),
            read_db(&work.join(format!("ref-{kind}"))),
        );
        assert_eq!(a.len(), 2, "{kind}: {a:?}");
        assert_eq!(a, b, "{kind}: ours vs repo-add");
    }
}
