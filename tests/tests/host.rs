//! `manage-repo host` (issue 15) against a live server and real clients: `host add
//! URL/repos/REPO --client C --root DIR` installs the server's client files (from
//! `GET /repos/REPO/config/`) after checking the key's fingerprint, and apt, dnf, zypper and
//! pacman, configured ONLY from that root (the client scripts' `*_CONFIG_ROOT` mode), install
//! from it; `host disable` makes the client skip the repo and `host enable` brings it back;
//! `host remove` leaves the root byte for byte as before `add`; a `--fingerprint` that is not
//! the server's key is refused and writes nothing.
mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `manage-repo host ARGS... --root ROOT`.
fn host(root: &Path, args: &[&str]) -> Output {
    Command::new(&built().bin)
        .arg("host")
        .args(args)
        .arg("--root")
        .arg(root)
        .env_remove("REPOSMITH_URL")
        .output()
        .unwrap()
}

fn host_ok(root: &Path, args: &[&str]) -> Output {
    let out = host(root, args);
    assert!(
        out.status.success(),
        "host {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every file and directory under `root`: path -> contents (None for a directory).
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for f in std::fs::read_dir(&d).unwrap().flatten() {
            let p = f.path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if p.is_dir() && !p.is_symlink() {
                out.insert(rel, None);
                todo.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).ok());
            }
        }
    }
    out
}

/// A client script configured from `root` only (`PREFIX_CONFIG_ROOT`), with more settings.
fn client(script: &str, url: &str, prefix: &str, root: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new("bash");
    c.arg(workspace().join("tests/clients").join(script))
        .arg(url)
        .env(format!("{prefix}_CONFIG_ROOT"), root);
    for (k, v) in env {
        c.env(format!("{prefix}_{k}"), v);
    }
    c.output().unwrap()
}

fn ok(what: &str, out: &Output, server: &Server) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}\n--- server log ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&server.log)
            .unwrap_or_default()
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The repos a client used after its refresh (the scripts' `PREFIX_REPOS_OUT`).
fn repos_used(script: &str, url: &str, prefix: &str, root: &Path, server: &Server) -> String {
    let out_file = tmp().join("repos-used");
    let f = out_file.to_str().unwrap();
    let out = client(script, url, prefix, root, &[("REPOS_OUT", f)]);
    ok(&format!("{script} (repos used)"), &out, server);
    std::fs::read_to_string(&out_file).unwrap()
}

/// The definitions `host list --json` shows for a client under `root`.
fn listed(root: &Path, client: &str) -> Vec<Value> {
    let out = host_ok(root, &["list", "--client", client, "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    array(&v, "definitions").to_vec()
}

/// One repo holding every format's fixtures.
fn demo_server() -> Server {
    let server = Server::start(&tmp().join("data"));
    server.create_repo("demo");
    let mut files: Vec<PathBuf> = fixture_deb_args().into_iter().map(PathBuf::from).collect();
    for e in std::fs::read_dir(fixture_rpms()).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "rpm") {
            files.push(e.path());
        }
    }
    for f in [
        "harness-lib-1.0-1-any.pkg.tar.zst",
        "harness-app-1.0-1-x86_64.pkg.tar.zst",
    ] {
        files.push(fixture_pacman().join(f));
    }
    for f in &files {
        let r = server.upload("demo", f);
        assert!(
            (200..300).contains(&r.status),
            "upload {}: {} {}",
            f.display(),
            r.status,
            r.text()
        );
    }
    server
}

struct Case {
    client: &'static str,
    script: &'static str,
    prefix: &'static str,
    /// The script's URL argument (shown in its lines; the definitions come from the root).
    url: String,
    /// The name the client knows the repo by in its REPOS_OUT list.
    used_as: String,
    env: Vec<(&'static str, &'static str)>,
}

#[test]
fn host_add_configures_real_clients_and_remove_restores_the_root() {
    let server = demo_server();
    let repo_url = server.u("/repos/demo");
    let listing = server.get("/repos/demo/config/");
    assert_eq!(listing.status, 200, "{}", listing.text());
    let fpr = listing.json()["key"]["fingerprint"]
        .as_str()
        .expect("the listing announces the key's fingerprint")
        .to_string();
    let cases = [
        Case {
            client: "apt",
            script: "apt.sh",
            prefix: "APT",
            url: server.u("/repos/demo/dist"),
            used_as: server.u("/repos/demo/dist"),
            env: vec![
                ("INSTALL", "harness-app"),
                (
                    "EXPECT_FILES",
                    "/usr/bin/harness-app /usr/share/harness-lib/VERSION",
                ),
                ("DOWNLOAD", ""),
            ],
        },
        Case {
            client: "dnf",
            script: "dnf.sh",
            prefix: "DNF",
            url: server.u("/repos/demo/"),
            used_as: "demo".into(),
            env: vec![
                ("INSTALL", "harness-app"),
                ("EXPECT_FILES", "/usr/bin/harness-app"),
            ],
        },
        Case {
            client: "zypper",
            script: "zypper.sh",
            prefix: "ZYPPER",
            url: server.u("/repos/demo/"),
            used_as: "demo".into(),
            env: vec![("INSTALL", "harness-app")],
        },
        Case {
            client: "pacman",
            script: "pacman.sh",
            prefix: "PACMAN",
            url: server.u("/repos/demo/pacman/$arch"),
            used_as: "demo".into(),
            env: vec![
                ("REPO", "demo"),
                ("INSTALL", "harness-app"),
                ("EXPECT_PKGS", "harness-app harness-lib"),
                ("DOWNLOAD", ""),
            ],
        },
    ];
    for c in &cases {
        let root = tmp().join(format!("root-{}", c.client));
        std::fs::create_dir_all(&root).unwrap();
        if c.client == "pacman" {
            // A pacman host has its config and an initialised keyring before any repo.
            std::fs::create_dir_all(root.join("etc/pacman.d")).unwrap();
            std::fs::write(
                root.join("etc/pacman.conf"),
                "[options]\nArchitecture = auto\n",
            )
            .unwrap();
            run_ok(
                Command::new("pacman-key")
                    .arg("--gpgdir")
                    .arg(root.join("etc/pacman.d/gnupg"))
                    .arg("--init"),
            );
        }
        let before = snapshot(&root);

        // A pinned fingerprint that is not the server's: refused, nothing written.
        let out = host(
            &root,
            &[
                "add",
                &repo_url,
                "--client",
                c.client,
                "--fingerprint",
                "0123456789ABCDEF0123456789ABCDEF01234567",
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{}", c.client);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("refusing"),
            "{}: {}",
            c.client,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            snapshot(&root),
            before,
            "{}: a refusal writes nothing",
            c.client
        );

        host_ok(
            &root,
            &[
                "add",
                &repo_url,
                "--client",
                c.client,
                "--fingerprint",
                &fpr,
            ],
        );
        let defs = listed(&root, c.client);
        let demo: Vec<&Value> = defs.iter().filter(|d| d["managed"] == true).collect();
        assert_eq!(demo.len(), 1, "{}: {defs:?}", c.client);
        assert_eq!(demo[0]["enabled"], true, "{}", c.client);

        // The client, configured from the root only, installs.
        let out = client(c.script, &c.url, c.prefix, &root, &c.env);
        ok(c.script, &out, &server);

        // Disabled, the client skips it; enabled, it uses it again.
        host_ok(&root, &["disable", "demo"]);
        let used = repos_used(c.script, &c.url, c.prefix, &root, &server);
        assert!(
            !used.lines().any(|l| l == c.used_as),
            "{}: disabled, still used: {used}",
            c.client
        );
        host_ok(&root, &["enable", "demo"]);
        let used = repos_used(c.script, &c.url, c.prefix, &root, &server);
        assert!(
            used.lines().any(|l| l == c.used_as),
            "{}: enabled, not used: {used}",
            c.client
        );

        host_ok(&root, &["remove", "demo"]);
        if c.client == "pacman" {
            // pacman-key's keyring is gpg's own database: compare the rest byte for byte
            // and see that the key is gone from it.
            let keys = run_ok(
                Command::new("gpg")
                    .arg("--homedir")
                    .arg(root.join("etc/pacman.d/gnupg"))
                    .args(["--batch", "--list-keys", "--with-colons"]),
            );
            assert!(
                !String::from_utf8_lossy(&keys.stdout).contains(&fpr),
                "pacman: the key is still in the keyring"
            );
            let _ = Command::new("gpgconf")
                .arg("--homedir")
                .arg(root.join("etc/pacman.d/gnupg"))
                .args(["--kill", "all"])
                .status();
            let outside = |s: BTreeMap<PathBuf, Option<Vec<u8>>>| {
                s.into_iter()
                    .filter(|(p, _)| !p.starts_with("etc/pacman.d/gnupg"))
                    .collect::<BTreeMap<_, _>>()
            };
            assert_eq!(outside(snapshot(&root)), outside(before), "pacman");
        } else {
            assert_eq!(
                snapshot(&root),
                before,
                "{}: remove restores the root",
                c.client
            );
        }
    }
}
