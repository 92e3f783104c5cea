//! History, rollback, transactions and snapshots from the CLI (issue 16, docs/history.md),
//! against a live server: `add --atomic` and `apply` as one generation each (a refused one
//! changes nothing and names the failing operation), `history` as a table and as JSON,
//! `snapshot`, `diff` between a repo, its snapshot and another repo (exit 0 equal, 1
//! different, 2 error), `promote`, `rollback --to`; `gc`'s one line and `serve --gc-every`.
mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A genuine .deb of harness-lib at another version than the fixture's 1.0-1.
fn harness_lib(dir: &Path, version: &str) -> PathBuf {
    let tree = tempfile::tempdir().unwrap();
    let t = tree.path();
    std::fs::create_dir_all(t.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(t.join("usr/share/harness-lib")).unwrap();
    std::fs::write(t.join("usr/share/harness-lib/VERSION"), version).unwrap();
    let control = format!(
        "Package: harness-lib\nVersion: {version}\nArchitecture: all\n\
         Maintainer: Reposmith Tests <tests@example.invalid>\n\
         Description: harness-lib, another version\n Made by tests/tests/history_cli.rs.\n"
    );
    std::fs::write(t.join("DEBIAN/control"), control).unwrap();
    let out = dir.join(format!("harness-lib_{version}_all.deb"));
    run_ok(
        Command::new("dpkg-deb")
            .args(["--root-owner-group", "-Zgzip", "--build"])
            .arg(t)
            .arg(&out),
    );
    out
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn deb(name: &str) -> String {
    fixture_debs().join(name).display().to_string()
}

/// The file names a repo lists, sorted.
fn files(server: &Server, repo: &str) -> Vec<String> {
    let list = server.get(&format!("/repos/{repo}/packages/")).json();
    let mut names: Vec<String> = array(&list, "packages")
        .iter()
        .map(|p| p["filename"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn transactions_history_snapshots_diff_promote_rollback() {
    let server = Server::start(&tmp().join("data"));
    for repo in ["dev", "prod"] {
        server.create_repo(repo);
    }
    let [lib, app, epoch] = FIXTURE_DEBS.map(deb);
    let lib2 = harness_lib(&tmp(), "2.0-1");

    // Two files, one generation, one history entry.
    let out = server.cli_ok(&["add", "dev", &lib, &app, "--atomic"]);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("added harness-lib_1.0-1_all.deb"),
        "{stdout}"
    );
    assert!(stdout.contains("(+2 -0)"), "{stdout}");
    let h = json(&server.cli_ok(&["history", "dev", "--json"]));
    let entries = array(&h, "entries");
    assert_eq!(entries.len(), 1, "{h}");
    assert_eq!(array(&entries[0], "added").len(), 2, "{h}");
    let first = entries[0]["generation"].as_u64().expect("published");

    // A refused transaction names the failing operation and changes nothing.
    let out = server.cli(&[
        "apply",
        "dev",
        "--add",
        &epoch,
        "--remove",
        "nosuch_1_all.deb",
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("nosuch_1_all.deb: "), "{stderr}");
    assert_eq!(files(&server, "dev").len(), 2);

    let out = server.cli_ok(&["snapshot", "dev", "rc1"]);
    assert!(text(&out).0.contains(&format!("generation {first}")));
    let (list, _) = text(&server.cli_ok(&["snapshot", "dev", "--list"]));
    assert!(list.starts_with("NAME"), "{list}");
    assert!(
        list.lines()
            .any(|l| l.starts_with("rc1 ") && l.contains(&format!(" {first} "))),
        "{list}"
    );

    // A replacement and an addition as one generation.
    server.cli_ok(&[
        "apply",
        "dev",
        "--remove",
        "harness-lib_1.0-1_all.deb",
        "--add",
        lib2.to_str().unwrap(),
        "--add",
        &epoch,
    ]);
    let (table, _) = text(&server.cli_ok(&["history", "dev"]));
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(rows[0].starts_with("GENERATION  TIME"), "{table}");
    for part in ["admin", "+2 -1", "+harness-lib 2.0-1", "-harness-lib 1.0-1"] {
        assert!(rows[1].contains(part), "{part} not in {table}");
    }
    let page = json(&server.cli_ok(&["history", "dev", "--limit", "1", "--json"]));
    assert_eq!(array(&page, "entries").len(), 1, "{page}");
    assert!(page["next"].is_u64(), "{page}");
    let only = json(&server.cli_ok(&[
        "history",
        "dev",
        "--json",
        "--package",
        "harness-e*",
        "--since",
        "1h",
        "--until",
        "now",
    ]));
    assert_eq!(array(&only, "entries").len(), 1, "{only}");

    // The snapshot against the repo now: by file and sha256, and by version.
    let out = server.cli(&["diff", "dev@rc1", "dev"]);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<String> = text(&out).0.lines().map(str::to_string).collect();
    assert_eq!(
        lines,
        [
            "+ harness-epoch_2.0+dfsg-1_amd64.deb",
            "- harness-lib_1.0-1_all.deb",
            "+ harness-lib_2.0-1_all.deb",
            "~ harness-lib 1.0-1 -> 2.0-1",
        ]
    );
    let same = server.cli(&["diff", "dev", "dev"]);
    assert_eq!((same.status.code(), same.stdout.len()), (Some(0), 0));
    assert_eq!(
        server.cli(&["diff", "dev", "nosuch"]).status.code(),
        Some(2)
    );

    // A whole-state promotion from the snapshot, then one more package by pattern.
    server.cli_ok(&["promote", "dev@rc1", "prod"]);
    assert_eq!(
        server.cli(&["diff", "dev@rc1", "prod"]).status.code(),
        Some(0)
    );
    let out = server.cli_ok(&["promote", "dev", "prod", "--package", "harness-e*"]);
    assert!(text(&out)
        .0
        .contains("added harness-epoch_2.0+dfsg-1_amd64.deb"));
    assert_eq!(files(&server, "prod").len(), 3);

    // Back to the snapshot's generation: a new generation with its packages.
    let out = server.cli_ok(&["rollback", "dev", "--to", &first.to_string()]);
    let (said, _) = text(&out);
    assert!(
        said.starts_with(&format!(
            "rolled back dev to generation {first}: generation "
        )),
        "{said}"
    );
    assert_eq!(
        server.cli(&["diff", "dev@rc1", "dev"]).status.code(),
        Some(0)
    );
    assert_eq!(
        server
            .cli(&["rollback", "dev", "--to", "later"])
            .status
            .code(),
        Some(2)
    );

    server.cli_ok(&["snapshot", "dev", "rc1", "--delete"]);
    assert_eq!(
        server.cli(&["diff", "dev@rc1", "dev"]).status.code(),
        Some(2)
    );
}

#[test]
fn gc_in_one_line_and_on_a_schedule() {
    let data = tmp().join("data");
    let opts = Opts {
        args: vec!["--gc-every".into(), "1".into()],
        env: Vec::new(),
    };
    let server = Server::start_opts(&data, &built().generators, opts);
    server.create_repo("r");
    assert_eq!(
        server
            .upload("r", &fixture_debs().join(FIXTURE_DEBS[0]))
            .status,
        201
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = std::fs::read_to_string(&server.log).unwrap();
        if log.contains("gc: deleted ") && log.contains("generations past retention") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no scheduled gc in the log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = run_ok(
        Command::new(&built().bin)
            .args(["gc", "--data"])
            .arg(&server.data),
    );
    let (line, _) = text(&out);
    assert!(
        line.starts_with("gc: deleted ") && line.trim_end().ends_with("generations past retention"),
        "{line}"
    );
}
