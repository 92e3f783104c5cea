//! History, rollback, transactions, snapshots and retention (docs/history.md), end to end:
//! - a rollback to the generation of v1 of a .deb and an .rpm is what real apt and dnf see and
//!   install in throwaway roots, and a rollback of that rollback brings v2 back; the history
//!   lists the adds and both rollbacks, newest first, with their generations;
//! - `{"at": T}` picks the generation that was current at T (Unix seconds and RFC 3339);
//! - a transaction of 20 uploads with one bad file commits nothing (422 naming it, index files
//!   byte for byte the same, history unchanged); with the bad file replaced it publishes one
//!   generation holding all 20; 64 concurrent single uploads interleaved with 4 transactions of
//!   10 lose nothing, and no generation holds part of a transaction (on every metadata store);
//! - `kill -9` during a transaction of 20: after a restart the repo holds all 20 or none, and
//!   its published index agrees;
//! - a promote of 100 packages (transaction copy, `replace`) reads no package byte (the package
//!   store's counters from `GET /metrics`) and leaves the source's index as it was; a snapshot
//!   diffs against the live repo (API and `manage-repo diff`);
//! - after `manage-repo gc`, every generation retention keeps (and a snapshot) still serves
//!   its whole apt tree and every package, those past retention answer 410 or 404, and a
//!   package blob only they referenced is gone.
mod common;
use common::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

/// The apt index of the default suite, component and architecture, under a repo's tree.
const PACKAGES: &str = "dist/dists/stable/main/binary-amd64/Packages";

// ---------------------------------------------------------------- fixtures

/// 130 small genuine .debs `hist-0001_1.0-1_amd64.deb` .. `hist-0130` (make-many-quick.py:
/// no dpkg-deb per file), built once per test binary; every test's server is its own, so the
/// tests share them.
fn debs() -> &'static [PathBuf] {
    static DEBS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    DEBS.get_or_init(|| {
        let dir = tmp();
        run_ok(
            Command::new("python3")
                .arg(workspace().join("tests/fixtures/make-many-quick.py"))
                .arg("deb")
                .arg(&dir)
                .args(["130", "hist"]),
        );
        (1..=130)
            .map(|i| dir.join(format!("hist-{i:04}_1.0-1_amd64.deb")))
            .collect()
    })
}

/// `hist-pick` 1.0-1 and 2.0-1 (Architecture: all), make-many-quick.py's deb builder: the
/// same package in two versions.
fn pick_debs() -> (PathBuf, PathBuf) {
    let dir = tmp();
    let script = r#"
import importlib.util, os, sys
spec = importlib.util.spec_from_file_location("quick", sys.argv[1])
quick = importlib.util.module_from_spec(spec)
spec.loader.exec_module(quick)
for v in ("1.0-1", "2.0-1"):
    with open(os.path.join(sys.argv[2], "hist-pick_%s_all.deb" % v), "wb") as f:
        f.write(quick.deb_package("hist-pick", v, "all", "", "history test package %s" % v))
"#;
    run_ok(
        Command::new("python3")
            .args(["-c", script])
            .arg(workspace().join("tests/fixtures/make-many-quick.py"))
            .arg(&dir),
    );
    (
        dir.join("hist-pick_1.0-1_all.deb"),
        dir.join("hist-pick_2.0-1_all.deb"),
    )
}

fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_str().unwrap().to_string()
}

fn names(files: &[PathBuf]) -> BTreeSet<String> {
    files.iter().map(|f| file_name(f)).collect()
}

fn set<S: AsRef<str>, const N: usize>(items: [S; N]) -> BTreeSet<String> {
    items.iter().map(|s| s.as_ref().to_string()).collect()
}

/// A broken .deb: the ar head the deb generator claims a package by (an upload's first bytes
/// are checked as they arrive), then random bytes (a fixed xorshift stream), which no
/// analysis can read.
fn broken_deb() -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut bytes =
        b"!<arch>\ndebian-binary   1700000000  0     0     100644  4         `\n2.0\n".to_vec();
    bytes.extend((0..4096).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    }));
    bytes
}

// ---------------------------------------------------------------- the API

fn post(server: &Server, path: &str, body: Value) -> Resp {
    server.send("POST", path, Some(&serde_json::to_vec(&body).unwrap()))
}

/// A large upload started and its bytes PUT (to the presigned storage URL when the store
/// hands one out), not committed: its id.
fn staged(server: &Server, repo: &str, filename: &str, bytes: &[u8]) -> String {
    let r = post(
        server,
        &format!("/repos/{repo}/uploads/"),
        json!({ "filename": filename }),
    );
    assert_eq!(r.status, 201, "start upload {filename}: {}", r.text());
    let v = r.json();
    let url = v["url"].as_str().unwrap();
    let put = if v["presigned"] == true {
        call(ureq::put(url), Some(bytes))
    } else {
        server.send("PUT", url, Some(bytes))
    };
    assert_eq!(put.status, 200, "PUT {filename}: {}", put.text());
    v["id"].as_str().unwrap().to_string()
}

/// Each file staged as a large upload: their ids, in order.
fn stage(server: &Server, repo: &str, files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .map(|f| staged(server, repo, &file_name(f), &std::fs::read(f).unwrap()))
        .collect()
}

fn adds(ids: &[String]) -> Vec<Value> {
    ids.iter()
        .map(|id| json!({"op": "add", "upload": id}))
        .collect()
}

fn transaction(server: &Server, repo: &str, ops: &[Value], replace: bool) -> Resp {
    post(
        server,
        &format!("/repos/{repo}/transactions"),
        json!({"operations": ops, "replace": replace}),
    )
}

/// `POST /repos/{repo}/rollback` with `body`, which must succeed: its answer.
fn rollback(server: &Server, repo: &str, body: Value) -> Value {
    let r = post(server, &format!("/repos/{repo}/rollback"), body.clone());
    assert_eq!(r.status, 200, "rollback {repo} {body}: {}", r.text());
    r.json()
}

/// The generation a repo (or view) lists and its packages, file name to sha256.
fn listing(server: &Server, repo: &str) -> (u64, BTreeMap<String, Value>) {
    let r = server.get(&format!("/repos/{repo}/packages/"));
    assert_eq!(r.status, 200, "{repo} listing: {}", r.text());
    let v = r.json();
    let packages = array(&v, "packages")
        .iter()
        .map(|p| (p["filename"].as_str().unwrap().to_string(), p.clone()))
        .collect();
    (v["generation"].as_u64().unwrap(), packages)
}

fn listed(server: &Server, repo: &str) -> BTreeSet<String> {
    listing(server, repo).1.into_keys().collect()
}

/// The whole history of a repo, newest first (one page).
fn history(server: &Server, repo: &str) -> Vec<Value> {
    let r = server.get(&format!("/repos/{repo}/history?limit=1000"));
    assert_eq!(r.status, 200, "{repo} history: {}", r.text());
    let v = r.json();
    assert_eq!(v["repo"], repo, "{v}");
    assert!(v["next"].is_null(), "more than one page: {v}");
    array(&v, "entries").to_vec()
}

/// The file names in a JSON array of items (`{"filename": ...}`) or of names.
fn filenames(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|i| i["filename"].as_str().or(i.as_str()).unwrap().to_string())
        .collect()
}

/// The package file names the published apt index of a repo (or view) lists (none when it
/// publishes no Packages).
fn in_packages(server: &Server, repo: &str) -> BTreeSet<String> {
    let r = server.get(&format!("/repos/{repo}/{PACKAGES}"));
    if r.status == 404 {
        return BTreeSet::new();
    }
    assert_eq!(r.status, 200, "{repo} Packages");
    stanzas(&r.text())
        .iter()
        .map(|s| {
            let f = field(s, "Filename").expect("a Filename");
            f.rsplit('/').next().unwrap().to_string()
        })
        .collect()
}

/// InRelease, Release and every index file Release lists, by path: what apt fetches.
fn apt_files(server: &Server, repo: &str) -> BTreeMap<String, Vec<u8>> {
    let base = format!("/repos/{repo}/dist/dists/stable");
    let mut out = BTreeMap::new();
    for f in ["InRelease", "Release"] {
        let r = server.get(&format!("{base}/{f}"));
        assert_eq!(r.status, 200, "{repo}: {f}");
        out.insert(f.to_string(), r.body);
    }
    let release = String::from_utf8_lossy(&out["Release"]).into_owned();
    for (_, _, path) in hashed_lines(&release, "SHA256") {
        let r = server.get(&format!("{base}/{path}"));
        assert_eq!(r.status, 200, "{repo}: {path}");
        out.insert(path.to_string(), r.body);
    }
    out
}

/// Walks a repo's (or view's) apt tree as apt does: the signed InRelease lists what Release
/// lists; every index file is served with its listed size and sha256, by path and by hash
/// (`check_release`); every package the Packages names is served with its SHA256. Answers the
/// package file names.
fn walk_apt(server: &Server, repo: &str) -> BTreeSet<String> {
    let base = format!("/repos/{repo}/dist");
    let inrelease = server.get(&format!("{base}/dists/stable/InRelease"));
    assert_eq!(inrelease.status, 200, "{repo}: InRelease");
    let release = server.get(&format!("{base}/dists/stable/Release"));
    assert_eq!(release.status, 200, "{repo}: Release");
    let (signed, plain) = (inrelease.text(), release.text());
    assert_eq!(
        hashed_lines(&signed, "SHA256"),
        hashed_lines(&plain, "SHA256"),
        "{repo}: InRelease and Release list different files"
    );
    assert!(
        check_release(server, repo, "stable") >= 3,
        "{repo}: {plain}"
    );
    let packages = server.get(&format!("/repos/{repo}/{PACKAGES}"));
    assert_eq!(packages.status, 200, "{repo}: Packages");
    let mut files = BTreeSet::new();
    for st in stanzas(&packages.text()) {
        let path = field(&st, "Filename").unwrap();
        let f = server.get(&format!("{base}/{path}"));
        assert_eq!(f.status, 200, "{repo}: {path} listed but not served");
        assert_eq!(
            Some(sha256_hex(&f.body).as_str()),
            field(&st, "SHA256"),
            "{repo}: {path}"
        );
        files.insert(path.rsplit('/').next().unwrap().to_string());
    }
    files
}

/// Runs a client script (tests/clients/) against `url` with `env`.
fn client(script: &str, url: &str, env: &[(&str, String)]) -> Output {
    Command::new("bash")
        .arg(workspace().join(script))
        .arg(url)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap()
}

fn ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Unix seconds as RFC 3339 (UTC, `Z`).
fn rfc3339(t: u64) -> String {
    // Days to a civil date: H. Hinnant's algorithm.
    let z = (t / 86400) as i64 + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let s = t % 86400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

// ---------------------------------------------------------------- 1, 2: rollback

#[test]
fn rollback_is_what_apt_and_dnf_install_and_history_lists_it() {
    let server = Server::start(&tmp().join("data"));
    std::thread::scope(|s| {
        // Meanwhile, on another repo (it sleeps between commits): rollback by time.
        let at = s.spawn(|| rollback_by_time(&server));
        rollback_seen_by_clients(&server);
        at.join().unwrap();
    });
}

/// apt installs `hist-pick=DEB_VERSION` and dnf installs `RPM` (and does not offer `ABSENT`)
/// from `repo`, each in a fresh throwaway root, at the same time.
fn clients_install(server: &Server, repo: &str, deb_version: &str, rpm: &str, absent: &str) {
    let key = tmp().join("repo.asc");
    let k = server.get(&format!("/repos/{repo}/key.asc"));
    assert_eq!(k.status, 200);
    std::fs::write(&key, &k.body).unwrap();
    let keys = format!(
        "{} {}",
        key.display(),
        fixture_rpms().join("keys/fixture.asc").display()
    );
    std::thread::scope(|s| {
        let apt = s.spawn(|| {
            client(
                "tests/clients/apt.sh",
                &server.u(&format!("/repos/{repo}/dist")),
                &[
                    ("APT_KEY", key.display().to_string()),
                    ("APT_INSTALL", "hist-pick".into()),
                    ("APT_EXPECT_PKGS", format!("hist-pick={deb_version}")),
                    ("APT_EXPECT_FILES", "/usr/share/hist-pick/VERSION".into()),
                    ("APT_DOWNLOAD", String::new()),
                ],
            )
        });
        let dnf = s.spawn(|| {
            client(
                "tests/clients/dnf.sh",
                &server.u(&format!("/repos/{repo}/")),
                &[
                    ("DNF_KEYS", keys.clone()),
                    ("DNF_INSTALL", "harness-lib".into()),
                    ("DNF_EXPECT_PKGS", rpm.into()),
                    ("DNF_AVAILABLE", rpm.into()),
                    ("DNF_ABSENT", absent.into()),
                ],
            )
        });
        ok(
            &format!("apt (expecting {deb_version})"),
            &apt.join().unwrap(),
        );
        ok(&format!("dnf (expecting {rpm})"), &dnf.join().unwrap());
    });
}

fn rollback_seen_by_clients(server: &Server) {
    let (deb1, deb2) = pick_debs();
    let rpm1 = fixture_rpms().join("harness-lib-1.0-1.noarch.rpm");
    let rpm2 = fixture_rpms().join("harness-lib-1.1-1.noarch.rpm");
    server.create_repo("h");
    // v1 of both, then v2 of both: one generation each (an upload answers once published).
    let mut gens = Vec::new();
    for f in [&deb1, &rpm1, &deb2, &rpm2] {
        let r = server.upload("h", f);
        assert_eq!(r.status, 201, "{}: {}", f.display(), r.text());
        gens.push(r.json()["generation"].as_u64().unwrap());
    }
    assert!(gens.windows(2).all(|w| w[1] == w[0] + 1), "{gens:?}");
    let (v1, v2) = (gens[1], gens[3]);
    let (d1, d2, r1, r2) = (
        file_name(&deb1),
        file_name(&deb2),
        file_name(&rpm1),
        file_name(&rpm2),
    );

    // Back to v1: a new generation holding v1's package set.
    let back = rollback(server, "h", json!({ "generation": v1 }));
    assert_eq!(back["rolled_back_to"], v1, "{back}");
    let g_back = back["generation"].as_u64().unwrap();
    assert_eq!(g_back, v2 + 1, "{back}");
    assert_eq!(filenames(&back["removed"]), set([&d2, &r2]), "{back}");
    assert!(filenames(&back["added"]).is_empty(), "{back}");
    let item = back["removed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["filename"] == d2.as_str())
        .unwrap();
    assert_eq!(
        (&item["name"], &item["version"], &item["arch"]),
        (&json!("hist-pick"), &json!("2.0-1"), &json!("all")),
        "{item}"
    );
    let (g, now) = listing(server, "h");
    assert_eq!(g, g_back);
    assert_eq!(
        now.keys().cloned().collect::<BTreeSet<_>>(),
        set([&d1, &r1])
    );
    assert_eq!(in_packages(server, "h"), set([&d1]));
    clients_install(
        server,
        "h",
        "1.0-1",
        "harness-lib-1.0-1.noarch",
        "harness-lib-1.1-1.noarch",
    );

    // The rollback rolled back: v2 again.
    let fwd = rollback(server, "h", json!({ "generation": v2 }));
    assert_eq!(fwd["rolled_back_to"], v2, "{fwd}");
    let g_fwd = fwd["generation"].as_u64().unwrap();
    assert_eq!(g_fwd, g_back + 1, "{fwd}");
    assert_eq!(filenames(&fwd["added"]), set([&d2, &r2]), "{fwd}");
    assert!(filenames(&fwd["removed"]).is_empty(), "{fwd}");
    assert_eq!(listed(server, "h"), set([&d1, &r1, &d2, &r2]));
    clients_install(server, "h", "2.0-1", "harness-lib-1.1-1.noarch", "");

    // The history: newest first, the two rollbacks over the four adds.
    let h = history(server, "h");
    let kinds: Vec<&str> = h.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["rollback", "rollback", "add", "add", "add", "add"],
        "{h:#?}"
    );
    let generations: Vec<u64> = h
        .iter()
        .map(|e| e["generation"].as_u64().unwrap())
        .collect();
    assert_eq!(
        generations,
        [g_fwd, g_back, gens[3], gens[2], gens[1], gens[0]]
    );
    let to: Vec<Value> = h.iter().map(|e| e["rollback_to"].clone()).collect();
    assert_eq!(
        to,
        [
            json!(v2),
            json!(v1),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null
        ]
    );
    assert!(h
        .windows(2)
        .all(|w| w[0]["seq"].as_u64() > w[1]["seq"].as_u64()));
    assert!(h
        .windows(2)
        .all(|w| w[0]["at"].as_u64() >= w[1]["at"].as_u64()));
    for (e, f) in h[2..].iter().zip([&r2, &d2, &r1, &d1]) {
        assert_eq!(filenames(&e["added"]), set([f]), "{e}");
        assert!(filenames(&e["removed"]).is_empty(), "{e}");
    }
    assert_eq!(filenames(&h[0]["added"]), filenames(&fwd["added"]));
    assert_eq!(filenames(&h[1]["removed"]), filenames(&back["removed"]));
    for e in &h {
        assert_eq!(e["who"], json!(["admin"]), "{e}");
        assert_eq!(
            e["time"],
            rfc3339(e["at"].as_u64().unwrap()).as_str(),
            "{e}"
        );
    }
}

/// `{"at": T}` (Unix seconds or RFC 3339) rolls back to the generation current at T.
fn rollback_by_time(server: &Server) {
    server.create_repo("when");
    let files = &debs()[..3];
    let mut gens = Vec::new();
    for (i, f) in files.iter().enumerate() {
        if i > 0 {
            // Whole seconds apart: `at` is in seconds.
            std::thread::sleep(Duration::from_millis(2100));
        }
        let r = server.upload("when", f);
        assert_eq!(r.status, 201, "{}", r.text());
        gens.push(r.json()["generation"].as_u64().unwrap());
    }
    let h = history(server, "when");
    assert_eq!(h.len(), 3, "{h:#?}");
    let at: Vec<u64> = h.iter().rev().map(|e| e["at"].as_u64().unwrap()).collect();
    let generations: Vec<u64> = h
        .iter()
        .rev()
        .map(|e| e["generation"].as_u64().unwrap())
        .collect();
    assert_eq!(generations, gens);
    assert!(at[1] >= at[0] + 2 && at[2] >= at[1] + 2, "{at:?}");
    // A second before the second commit: the first one's generation was current (published
    // before its upload answered, a good second before).
    let r = rollback(server, "when", json!({ "at": at[1] - 1 }));
    assert_eq!(r["rolled_back_to"], gens[0], "at {}: {r}", at[1] - 1);
    assert_eq!(listed(server, "when"), names(&files[..1]));
    let t = rfc3339(at[2] - 1);
    let r = rollback(server, "when", json!({ "at": t }));
    assert_eq!(r["rolled_back_to"], gens[1], "at {t}: {r}");
    assert_eq!(listed(server, "when"), names(&files[..2]));
    assert_eq!(in_packages(server, "when"), names(&files[..2]));
    // Before the repo existed, and a generation that never was: 404. A bad body: 400.
    for (body, status) in [
        (json!({"at": 1_000_000_000}), 404),
        (json!({"generation": 999}), 404),
        (json!({"generation": "three"}), 400),
    ] {
        let r = post(server, "/repos/when/rollback", body.clone());
        assert_eq!(r.status, status, "{body}: {}", r.text());
    }
    assert_eq!(listed(server, "when"), names(&files[..2]));
}

// ---------------------------------------------------------------- 3, 5, 8: transactions

on_every_meta_store!(
    transactions_hold,
    "hist",
    file: transactions_are_all_or_nothing_and_interleave_whole,
    dynamodb: transactions_are_all_or_nothing_on_s3_and_dynamodb,
    redis: transactions_are_all_or_nothing_on_redis,
    postgres: transactions_are_all_or_nothing_on_postgres,
);

fn transactions_hold(server: &Server) {
    std::thread::scope(|s| {
        let mixed = s.spawn(|| interleaved(server));
        all_or_nothing(server);
        mixed.join().unwrap();
    });
}

/// 20 uploads with one bad file: refused, nothing changes; with the bad one replaced: one
/// generation with all 20. Then a rollback takes the 20 away and another brings them back.
fn all_or_nothing(server: &Server) {
    let files = &debs()[..20];
    server.create_repo("tx");
    let first = server.upload("tx", &debs()[120]);
    assert_eq!(first.status, 201, "{}", first.text());
    const BAD: usize = 7;
    let mut ids = stage(server, "tx", files);
    let good = ids[BAD].clone();
    ids[BAD] = staged(server, "tx", "x.deb", &broken_deb());

    let (gen0, _) = listing(server, "tx");
    let index0 = apt_files(server, "tx");
    let history0 = history(server, "tx");
    let r = transaction(server, "tx", &adds(&ids), false);
    assert_eq!(r.status, 422, "{}", r.text());
    let v = r.json();
    assert_eq!(v["error"], "transaction refused", "{v}");
    let items = array(&v, "items");
    assert_eq!(items.len(), 1, "{v}");
    assert_eq!(items[0]["index"], BAD, "{v}");
    assert_eq!(items[0]["op"], "add", "{v}");
    assert!(
        items[0]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{v}"
    );
    // Nothing moved: the listing, every index file byte for byte, the history.
    let (gen1, now) = listing(server, "tx");
    assert_eq!(gen1, gen0);
    assert_eq!(
        now.keys().cloned().collect::<BTreeSet<_>>(),
        names(&debs()[120..121])
    );
    assert!(
        apt_files(server, "tx") == index0,
        "a refused transaction changed the index"
    );
    assert_eq!(history(server, "tx"), history0);

    // The same 19 (still staged: nothing was committed) and a good 20th: one generation.
    ids[BAD] = good;
    let r = transaction(server, "tx", &adds(&ids), false);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let gen_tx = v["generation"].as_u64().unwrap();
    assert_eq!(gen_tx, gen0 + 1, "{v}");
    assert_eq!(filenames(&v["added"]), names(files), "{v}");
    assert!(filenames(&v["removed"]).is_empty(), "{v}");
    let (g, now) = listing(server, "tx");
    assert_eq!(g, gen_tx);
    let mut all = names(files);
    all.insert(file_name(&debs()[120]));
    assert_eq!(now.keys().cloned().collect::<BTreeSet<_>>(), all);
    assert_eq!(in_packages(server, "tx"), all);
    check_release(server, "tx", "stable");
    let h = history(server, "tx");
    assert_eq!(h.len(), history0.len() + 1);
    assert_eq!(h[0]["kind"], "transaction", "{}", h[0]);
    assert_eq!(h[0]["generation"], gen_tx);
    assert_eq!(filenames(&h[0]["added"]), names(files));
    // Committed uploads are gone.
    let again = transaction(server, "tx", &adds(&ids[..1]), false);
    assert_eq!(again.status, 422, "{}", again.text());

    // Rollback to before the transaction: all 20 go at once; and back.
    let back = rollback(server, "tx", json!({ "generation": gen0 }));
    assert_eq!(filenames(&back["removed"]), names(files), "{back}");
    assert_eq!(in_packages(server, "tx"), names(&debs()[120..121]));
    let fwd = rollback(server, "tx", json!({ "generation": gen_tx }));
    assert_eq!(filenames(&fwd["added"]), names(files), "{fwd}");
    assert_eq!(in_packages(server, "tx"), all);
    let kinds: Vec<Value> = history(server, "tx")
        .iter()
        .map(|e| e["kind"].clone())
        .collect();
    assert_eq!(kinds, ["rollback", "rollback", "transaction", "add"]);
}

/// 64 single uploads and 4 transactions of 10, all at once: all 104 end up listed and
/// published, and every generation holds each transaction whole or not at all.
fn interleaved(server: &Server) {
    const REPO: &str = "mix";
    let singles = &debs()[20..84];
    let groups: Vec<&[PathBuf]> = debs()[84..124].chunks(10).collect();
    server.create_repo(REPO);
    let ids: Vec<Vec<String>> = groups.iter().map(|g| stage(server, REPO, g)).collect();
    let barrier = Arc::new(Barrier::new(singles.len() + groups.len()));
    let answers: Vec<Value> = std::thread::scope(|s| {
        let ups: Vec<_> = singles
            .iter()
            .map(|f| {
                let barrier = barrier.clone();
                s.spawn(move || {
                    barrier.wait();
                    let r = server.upload(REPO, f);
                    assert_eq!(r.status, 201, "{}: {}", f.display(), r.text());
                })
            })
            .collect();
        let txs: Vec<_> = ids
            .iter()
            .map(|ids| {
                let barrier = barrier.clone();
                s.spawn(move || {
                    barrier.wait();
                    let r = transaction(server, REPO, &adds(ids), false);
                    assert_eq!(r.status, 200, "{}", r.text());
                    r.json()
                })
            })
            .collect();
        ups.into_iter().for_each(|h| h.join().unwrap());
        txs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all = names(&debs()[20..124]);
    let (current, now) = listing(server, REPO);
    assert_eq!(
        now.keys().cloned().collect::<BTreeSet<_>>(),
        all,
        "lost packages"
    );
    assert_eq!(in_packages(server, REPO), all);
    check_release(server, REPO, "stable");

    // The journal: every file added once; each transaction one entry with its 10.
    let h = history(server, REPO);
    let mut seen = BTreeMap::<String, usize>::new();
    for e in &h {
        for f in filenames(&e["added"]) {
            *seen.entry(f).or_default() += 1;
        }
    }
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), all);
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    let mut first_gen = Vec::new();
    for (group, answer) in groups.iter().zip(&answers) {
        let want = names(group);
        assert_eq!(filenames(&answer["added"]), want, "{answer}");
        let e = h
            .iter()
            .find(|e| filenames(&e["added"]) == want)
            .unwrap_or_else(|| panic!("no one entry adds {want:?}: {h:#?}"));
        assert_eq!(e["kind"], "transaction", "{e}");
        let g = e["generation"].as_u64().unwrap();
        assert!(g <= answer["generation"].as_u64().unwrap(), "{e} {answer}");
        first_gen.push(g);
    }
    assert_eq!(
        h.iter().filter(|e| e["kind"] == "transaction").count(),
        4,
        "{h:#?}"
    );
    assert!(h
        .iter()
        .all(|e| e["kind"] == "add" || e["kind"] == "transaction"));

    // Every generation, frozen: each transaction all there (from its entry's generation on)
    // or all absent (before it).
    for g in 1..=current {
        let view = listed(server, &format!("{REPO}@g{g}"));
        for (group, first) in groups.iter().zip(&first_gen) {
            let there = names(group).iter().filter(|f| view.contains(*f)).count();
            let want = if g >= *first { 10 } else { 0 };
            assert_eq!(
                there, want,
                "generation {g} holds {there} of a transaction first published in {first}"
            );
        }
    }
    println!(
        "64 uploads and 4 transactions published in {} generations",
        current - 1
    );
}

// ---------------------------------------------------------------- 4: kill -9

#[test]
fn kill_nine_mid_transaction_commits_all_or_nothing() {
    let files = &debs()[..20];
    let want = names(files);
    let mut server = Server::start(&tmp().join("data"));
    // How long a warm transaction of 20 takes here (the first one also compiles the
    // generators): the kills aim inside one.
    let mut took = Duration::MAX;
    for calib in ["calib0", "calib1"] {
        server.create_repo(calib);
        let ids = stage(&server, calib, files);
        let t = Instant::now();
        let r = transaction(&server, calib, &adds(&ids), false);
        assert_eq!(r.status, 200, "{}", r.text());
        took = took.min(t.elapsed());
    }
    println!("a transaction of 20: {took:?}");

    // The aim adapts: a kill that came after the answer aims earlier next round, one that
    // came before aims later (towards the commit itself).
    let mut inside = 0;
    let mut delay = took / 2;
    for round in 0..8 {
        let repo = format!("crash{round}");
        server.create_repo(&repo);
        let ids = stage(&server, &repo, files);
        let body =
            serde_json::to_vec(&json!({"operations": adds(&ids), "replace": false})).unwrap();
        let url = server.u(&format!("/repos/{repo}/transactions"));
        let auth = format!("Bearer {}", server.token);
        let answer = std::thread::spawn(move || {
            ureq::post(&url)
                .set("Authorization", &auth)
                .send_bytes(&body)
                .map_err(Box::new)
        });
        std::thread::sleep(delay);
        server.kill9();
        let answered = match answer.join().unwrap() {
            Ok(r) => {
                assert_eq!(r.status(), 200);
                true
            }
            Err(e) if matches!(*e, ureq::Error::Status(..)) => {
                let ureq::Error::Status(code, r) = *e else {
                    unreachable!()
                };
                panic!(
                    "round {round}: {code} {}",
                    r.into_string().unwrap_or_default()
                )
            }
            Err(_) => false, // the server died under it
        };
        inside += usize::from(!answered);

        server.restart();
        let (_, now) = listing(&server, &repo);
        let got: BTreeSet<String> = now.keys().cloned().collect();
        println!(
            "round {round}: killed after {delay:?}, {}, {} of 20 listed after the restart",
            if answered {
                "after the answer"
            } else {
                "before an answer"
            },
            got.len()
        );
        assert!(
            got.is_empty() || got == want,
            "round {round}: {} of 20 listed after the kill: {got:?}",
            got.len()
        );
        if answered {
            assert_eq!(got, want, "round {round}: answered 200 but not all listed");
        }
        assert_eq!(
            in_packages(&server, &repo),
            got,
            "round {round}: the published index disagrees with the package list"
        );
        for (name, p) in &now {
            let f = server.get(&format!("/repos/{repo}/packages/{name}"));
            assert_eq!(f.status, 200, "{name} listed but its blob is gone");
            assert_eq!(sha256_hex(&f.body), p["sha256"].as_str().unwrap());
        }
        let h = history(&server, &repo);
        let txs = h.iter().filter(|e| e["kind"] == "transaction").count();
        assert_eq!(txs, usize::from(!got.is_empty()), "{h:#?}");
        if !got.is_empty() {
            check_release(&server, &repo, "stable");
        } else {
            // The repo works on: the same 20, staged again, commit whole.
            let ids = stage(&server, &repo, files);
            let r = transaction(&server, &repo, &adds(&ids), false);
            assert_eq!(r.status, 200, "{}", r.text());
            assert_eq!(in_packages(&server, &repo), want);
        }
        if inside > 0 && round >= 2 {
            break;
        }
        delay = if answered {
            delay.mul_f64(0.4)
        } else {
            delay.mul_f64(1.5)
        };
    }
    assert!(
        inside > 0,
        "every kill came after the answer: the test proved nothing"
    );
}

// ---------------------------------------------------------------- 6: promote, snapshot

#[test]
fn promote_reads_no_package_byte_and_snapshots_diff() {
    // Index files of one piece each: the package store's `get`s a publish makes are few.
    let opts = Opts {
        env: vec![("REPOSMITH_CHUNK_MEAN".into(), "4096".into())],
        ..Default::default()
    };
    let server = Server::start_opts(&tmp().join("data"), &built().generators, opts);
    let hundred = &debs()[..100];
    server.create_repo("dev");
    server.create_repo("prod");
    let mut args: Vec<String> = ["add", "-j", "8", "dev"].map(String::from).to_vec();
    args.extend(hundred.iter().map(|f| f.display().to_string()));
    server.cli_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    // prod holds something dev does not: `replace` takes it away.
    assert_eq!(server.upload("prod", &debs()[110]).status, 201);
    let (_, dev) = listing(&server, "dev");
    assert_eq!(dev.keys().cloned().collect::<BTreeSet<_>>(), names(hundred));
    let dev_index = apt_files(&server, "dev");
    let (prod_gen, _) = listing(&server, "prod");

    let before = metrics(&server.get("/metrics").text());
    let r = transaction(
        &server,
        "prod",
        &[json!({"op": "copy", "from": "dev", "pattern": "*"})],
        true,
    );
    let after = metrics(&server.get("/metrics").text());
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let moved = |k: &str| after[k] - before[k];
    let store: Vec<String> = after
        .keys()
        .filter(|k| k.starts_with("packages.") && moved(k.as_str()) > 0)
        .map(|k| format!("{k} {}", moved(k)))
        .collect();
    println!("package store calls of the promote: {}", store.join(", "));
    // A package's bytes are read by a generator's reader (analysis) or a `get` of its blob.
    // No analysis at all; and fewer gets than packages: those are the publish's own reads
    // of index files, one piece each here, while reading the packages would take one per
    // package (100 distinct blobs).
    assert_eq!(moved("packages.reader"), 0, "the promote analyzed packages");
    assert!(
        moved("packages.get") < 100,
        "the promote read {} blobs",
        moved("packages.get")
    );
    assert_eq!(v["generation"], prod_gen + 1, "{v}");
    assert_eq!(filenames(&v["added"]), names(hundred), "{v}");
    assert_eq!(filenames(&v["removed"]), names(&debs()[110..111]), "{v}");

    // prod is dev's state, the same records; its apt index lists all 100; dev is unchanged.
    let (_, prod) = listing(&server, "prod");
    assert_eq!(
        prod.keys().cloned().collect::<BTreeSet<_>>(),
        names(hundred)
    );
    for (name, p) in &prod {
        assert_eq!(p["sha256"], dev[name]["sha256"], "{name}");
        assert_eq!(
            p["analysis"], dev[name]["analysis"],
            "{name}: analyzed again"
        );
    }
    assert_eq!(in_packages(&server, "prod"), names(hundred));
    check_release(&server, "prod", "stable");
    assert!(
        apt_files(&server, "dev") == dev_index,
        "the promote changed dev's index"
    );

    // A snapshot of dev, then dev moves on: the view stays, and diffs against it.
    let (dev_gen, _) = listing(&server, "dev");
    let r = server.send("POST", "/repos/dev/snapshots/s1", None);
    assert_eq!(r.status, 201, "{}", r.text());
    let snap = r.json();
    assert_eq!(
        (
            &snap["repo"],
            &snap["name"],
            &snap["generation"],
            &snap["packages"]
        ),
        (&json!("dev"), &json!("s1"), &json!(dev_gen), &json!(100)),
        "{snap}"
    );
    assert_eq!(
        server.send("POST", "/repos/dev/snapshots/s1", None).status,
        409
    );
    let bad = server.send("POST", "/repos/dev/snapshots/g12", None);
    assert!(
        (400..500).contains(&bad.status),
        "a snapshot named g12: {}",
        bad.status
    );
    let list = server.get("/repos/dev/snapshots/").json();
    let snaps: Vec<&Value> = array(&list, "snapshots").iter().collect();
    assert_eq!(snaps.len(), 1, "{list}");
    assert_eq!(snaps[0]["name"], "s1");
    let (plus, minus) = (&debs()[100..102], &debs()[0]);
    for f in plus {
        assert_eq!(server.upload("dev", f).status, 201);
    }
    let gone = file_name(minus);
    let r = server.send("DELETE", &format!("/repos/dev/packages/{gone}"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    let then = listed(&server, "dev@s1");
    let now = listed(&server, "dev");
    assert_eq!(then, names(hundred));
    assert_eq!(
        now.difference(&then).cloned().collect::<BTreeSet<_>>(),
        names(plus)
    );
    assert_eq!(
        then.difference(&now).cloned().collect::<BTreeSet<_>>(),
        set([&gone])
    );
    assert_eq!(in_packages(&server, "dev@s1"), names(hundred));
    let w = server.send(
        "POST",
        &format!(
            "/repos/dev@s1/packages/?filename={}",
            file_name(&debs()[102])
        ),
        Some(&std::fs::read(&debs()[102]).unwrap()),
    );
    assert_eq!(w.status, 405, "a write to a snapshot: {}", w.text());

    // manage-repo diff: one line per change, exit 1.
    let out = server.cli(&["diff", "dev@s1", "dev"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(2) && stderr.contains("unrecognized subcommand") {
        eprintln!("SKIPPED: this manage-repo has no `diff` subcommand yet (branch hcli): {stderr}");
        return;
    }
    assert_eq!(out.status.code(), Some(1), "diff: {stderr}");
    let lines: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim_end().to_string())
        .collect();
    let mut want: BTreeSet<String> = plus.iter().map(|f| format!("+ {}", file_name(f))).collect();
    want.insert(format!("- {gone}"));
    assert_eq!(lines, want);
    let same = server.cli(&["diff", "dev@s1", "dev@s1"]);
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&same.stderr)
    );
}

// ---------------------------------------------------------------- 7: retention and GC

/// Whether a file named `name` is anywhere under `dir` (the file stores keep blobs by sha256).
fn stored(dir: &Path, name: &str) -> bool {
    std::fs::read_dir(dir).unwrap().any(|e| {
        let e = e.unwrap();
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            stored(&p, name)
        } else {
            e.file_name() == name
        }
    })
}

/// Generations made after the one whose package gc must free: more than the 32 retired
/// generations a repo keeps serving for the grace period (an hour; `commit::publish`), which gc
/// keeps whatever the retention, so that the test need not wait an hour.
const CHURN: usize = 34;

#[test]
fn gc_keeps_what_retention_keeps_and_frees_the_rest() {
    let server = Server::start(&tmp().join("data"));
    let r = post(&server, "/repos/keep/", json!({ "keep_generations": 3 }));
    assert_eq!(r.status, 201, "{}", r.text());
    let (a, b) = (&debs()[0], &debs()[1]);
    let churn = &debs()[4..4 + CHURN];
    let generation = || listing(&server, "keep").0;
    assert_eq!(generation(), 1, "create publishes generation 1");
    // 2: a, snapshot s2; 3: a b; 4: a (b removed); 5..: a and one more each time.
    assert_eq!(server.upload("keep", a).status, 201);
    let r = server.send("POST", "/repos/keep/snapshots/s2", None);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["generation"], 2);
    assert_eq!(server.upload("keep", b).status, 201);
    let b_sha = listing(&server, "keep").1[&file_name(b)]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let r = server.send(
        "DELETE",
        &format!("/repos/keep/packages/{}", file_name(b)),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    for f in churn {
        assert_eq!(server.upload("keep", f).status, 201);
    }
    let last = generation();
    assert_eq!(last, 4 + CHURN as u64);
    assert!(
        stored(&server.data, &b_sha),
        "b's blob is not under {}",
        server.data.display()
    );

    let out = run_ok(
        Command::new(&built().bin)
            .arg("--data")
            .arg(&server.data)
            .args(["gc", "--min-age", "0", "--json"]),
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    println!("gc: {report}");
    assert!(report["deleted"].as_u64().unwrap() > 0, "{report}");

    // What retention keeps serves whole: the last 3 generations and the snapshot.
    // Generation g holds a and the first g - 4 of the churn.
    let holds = |g: u64| {
        let mut files = names(&churn[..g as usize - 4]);
        files.insert(file_name(a));
        files
    };
    for (view, files) in [
        (format!("keep@g{}", last - 2), holds(last - 2)),
        (format!("keep@g{}", last - 1), holds(last - 1)),
        (format!("keep@g{last}"), holds(last)),
        ("keep".to_string(), holds(last)),
        ("keep@s2".to_string(), names(std::slice::from_ref(a))),
    ] {
        assert_eq!(walk_apt(&server, &view), files, "{view}");
        assert_eq!(listed(&server, &view), files, "{view}");
    }
    // Past retention: 1 (no snapshot), 3, and the one before the last 3.
    for g in [1, 3, last - 3] {
        for path in ["packages/", "dist/dists/stable/InRelease"] {
            let r = server.get(&format!("/repos/keep@g{g}/{path}"));
            assert!(
                r.status == 410 || r.status == 404,
                "generation {g} past retention: {path} answers {}",
                r.status
            );
        }
    }
    // b was only in generation 3: its bytes went.
    assert!(!stored(&server.data, &b_sha), "b's blob survived gc");
    // A rollback there is refused as past retention; nothing changes.
    let r = post(&server, "/repos/keep/rollback", json!({ "generation": 3 }));
    assert_eq!(r.status, 410, "{}", r.text());
    assert_eq!(generation(), last);
}
