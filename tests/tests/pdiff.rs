//! apt PDiffs with real apt (`Acquire::PDiffs`, `Debug::pkgAcquire::Diffs`): after a first
//! update, a client one change behind fetches one patch and no Packages file; a removal is
//! patched too; a client five changes behind fetches ONE merged patch; a client older than the
//! history (14 versions) falls back to the whole file, and a client 12 versions behind, across a
//! restart of the server, still fetches one. Each time the lists file apt wrote is
//! byte-identical to the served Packages.
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// An apt client with its own state (lists) in a throwaway directory.
struct Apt {
    dir: PathBuf,
}

impl Apt {
    fn new(server: &Server, repo: &str, key: &Path) -> Apt {
        let dir = tmp();
        for d in [
            "etc/apt/sources.list.d",
            "etc/apt/apt.conf.d",
            "etc/apt/preferences.d",
            "etc/apt/trusted.gpg.d",
            "var/lib/apt/lists/partial",
            "var/cache/apt/archives/partial",
            "log",
            "dpkg",
        ] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        std::fs::write(dir.join("dpkg/status"), "").unwrap();
        std::fs::copy(key, dir.join("repo.asc")).unwrap();
        let url = server.u(&format!("/repos/{repo}/dist"));
        std::fs::write(
            dir.join("etc/apt/sources.list"),
            format!(
                "deb [signed-by={}] {url} stable main\n",
                dir.join("repo.asc").display()
            ),
        )
        .unwrap();
        let d = dir.display();
        std::fs::write(
            dir.join("apt.conf"),
            format!(
                r#"Dir::Etc "{d}/etc/apt";
Dir::State "{d}/var/lib/apt";
Dir::State::status "{d}/dpkg/status";
Dir::Cache "{d}/var/cache/apt";
Dir::Log "{d}/log";
APT::Architecture "amd64";
APT::Architectures {{ "amd64"; }};
APT::Sandbox::User "root";
Acquire::Languages "none";
Acquire::Retries "0";
Acquire::http::Proxy "DIRECT";
Acquire::PDiffs "true";
Debug::pkgAcquire::Diffs "true";
"#
            ),
        )
        .unwrap();
        Apt { dir }
    }

    /// `apt-get update`; what it printed (stdout and the debug lines on stderr).
    fn update(&self) -> String {
        let out = Command::new("apt-get")
            .args(["-q", "update", "--error-on=any"])
            .env("APT_CONFIG", self.dir.join("apt.conf"))
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .unwrap();
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "apt-get update failed:\n{text}");
        text
    }

    /// The Packages file apt keeps in its lists.
    fn packages(&self) -> Vec<u8> {
        let lists = self.dir.join("var/lib/apt/lists");
        let file = std::fs::read_dir(&lists)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with("_binary-amd64_Packages"))
            .expect("apt wrote the Packages list");
        std::fs::read(file).unwrap()
    }
}

/// Patches apt queued (one line each with the debug option), and whether it downloaded a
/// whole Packages file.
fn fetched(log: &str) -> (usize, bool) {
    let patches = log
        .lines()
        .filter(|l| l.contains("pkgAcqIndexDiffs::QueueNextDiff(): ") && l.contains(".diff/T-"))
        .count();
    let whole = log
        .lines()
        .any(|l| l.starts_with("Get:") && l.contains(" amd64 Packages ["));
    (patches, whole)
}

#[test]
fn apt_updates_by_patch_one_and_five_versions_behind_and_falls_back_when_older() {
    let debs = many_debs(46, "pd");
    let mut server = Server::start(&tmp().join("pdiff"));
    server.create_repo("p");
    let mut args = vec!["add".to_string(), "p".to_string()];
    args.extend(debs[..30].iter().map(|d| d.display().to_string()));
    server.cli_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let key = tmp().join("pdiff-repo.asc");
    std::fs::write(&key, server.get("/repos/p/key.asc").body).unwrap();
    let served = |server: &Server| {
        server
            .get("/repos/p/dist/dists/stable/main/binary-amd64/Packages")
            .body
    };
    let index = |server: &Server| {
        server
            .get("/repos/p/dist/dists/stable/main/binary-amd64/Packages.diff/Index")
            .text()
    };

    let (one, five, old) = (
        Apt::new(&server, "p", &key),
        Apt::new(&server, "p", &key),
        Apt::new(&server, "p", &key),
    );
    for c in [&one, &five, &old] {
        c.update();
        assert_eq!(c.packages(), served(&server));
    }

    // One upload behind: one patch, no Packages download, the same bytes.
    assert_eq!(server.upload("p", &debs[30]).status, 201);
    let log = one.update();
    assert_eq!(fetched(&log), (1, false), "{log}\n{}", index(&server));
    assert_eq!(one.packages(), served(&server));

    // A removal is patched as well.
    let gone = debs[3].file_name().unwrap().to_str().unwrap();
    let r = server.send("DELETE", &format!("/repos/p/packages/{gone}"), None);
    assert_eq!(r.status, 200);
    let log = one.update();
    assert_eq!(fetched(&log), (1, false), "{log}\n{}", index(&server));
    assert_eq!(one.packages(), served(&server));

    // Five versions behind: one merged patch.
    for d in &debs[31..34] {
        assert_eq!(server.upload("p", d).status, 201);
    }
    let log = five.update();
    assert_eq!(fetched(&log), (1, false), "{log}\n{}", index(&server));
    assert_eq!(five.packages(), served(&server));
    let log = one.update();
    assert_eq!(fetched(&log), (1, false), "{log}\n{}", index(&server));

    // A restart forgets the patches' scripts held in memory: the next publishes compose
    // the kept patches read back from their gzip files.
    server.restart_in_place();
    // Older than the 14 versions kept: the whole file.
    for d in &debs[34..46] {
        assert_eq!(server.upload("p", d).status, 201);
    }
    let log = old.update();
    assert_eq!(fetched(&log), (0, true), "{log}");
    assert_eq!(old.packages(), served(&server));
    // ...and the client 12 versions behind still gets one patch.
    let log = one.update();
    assert_eq!(fetched(&log), (1, false), "{log}\n{}", index(&server));
    assert_eq!(one.packages(), served(&server));
    assert_eq!(check_release(&server, "p", "stable"), 3);
}

#[test]
fn pdiffs_option_zero_publishes_no_index() {
    let debs = many_debs(2, "nopd");
    let server = Server::start(&tmp().join("nopdiff"));
    let r = server.send(
        "POST",
        "/repos/q/",
        Some(br#"{"options": {"pdiffs": "0"}}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    for d in &debs {
        assert_eq!(server.upload("q", d).status, 201);
    }
    let release = server.get("/repos/q/dist/dists/stable/Release").text();
    assert!(!release.contains("Packages.diff"), "{release}");
    let index = server.get("/repos/q/dist/dists/stable/main/binary-amd64/Packages.diff/Index");
    assert_eq!(index.status, 404);
}
