//! Per-repo keys: two repos sign with different keys (each made at create, with an expiry);
//! a rotation keeps real apt working across the change (an apt that knows only the old key
//! goes on installing during the overlap, InRelease carrying both signatures, until the
//! old key is retired); a key made by gpg can be imported and then signs.
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The fingerprints (and expiry, Unix seconds or 0) of the keys in an armored key file.
fn keys_in(asc: &Path) -> Vec<(String, u64)> {
    let home = tmp();
    let out = run_ok(
        Command::new("gpg")
            .arg("--homedir")
            .arg(&home)
            .args(["--batch", "--with-colons", "--show-keys"])
            .arg(asc),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut keys = Vec::new();
    let mut expiry = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        match f[0] {
            "pub" => expiry = f[6].parse().unwrap_or(0),
            "fpr" if f.len() > 9 => keys.push((f[9].to_string(), expiry)),
            _ => {}
        }
    }
    // Only primary keys' fingerprints: each key here has no subkey.
    keys
}

/// The fingerprints of the good signatures on a clearsigned file, checked by gpgv against
/// the keys in `asc` alone.
fn good_signers(asc: &Path, signed: &[u8]) -> Vec<String> {
    let dir = tmp();
    let ring = dir.join("ring.gpg");
    run_ok(
        Command::new("gpg")
            .args(["--batch", "--yes", "--dearmor", "-o"])
            .arg(&ring)
            .arg(asc),
    );
    let file = dir.join("InRelease");
    std::fs::write(&file, signed).unwrap();
    let out = Command::new("gpgv")
        .args(["--status-fd", "1", "--keyring"])
        .arg(&ring)
        .arg(&file)
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("[GNUPG:] VALIDSIG "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_string)
        .collect()
}

fn save_key(server: &Server, repo: &str, name: &str) -> PathBuf {
    let path = tmp().join(format!("{name}.asc"));
    let r = server.get(&format!("/repos/{repo}/key.asc"));
    assert_eq!(r.status, 200);
    std::fs::write(&path, r.body).unwrap();
    path
}

fn apt(server: &Server, repo: &str, key: &Path) -> std::process::Output {
    Command::new("bash")
        .arg(workspace().join("tests/clients/apt.sh"))
        .arg(server.u(&format!("/repos/{repo}/dist")))
        .env("APT_KEY", key)
        .env("APT_INSTALL", "harness-app")
        .env("APT_DOWNLOAD", "")
        .output()
        .unwrap()
}

fn assert_apt(out: &std::process::Output, ok: bool, what: &str) {
    assert_eq!(
        out.status.success(),
        ok,
        "{what}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn in_release(server: &Server, repo: &str) -> Vec<u8> {
    let r = server.get(&format!("/repos/{repo}/dist/dists/stable/InRelease"));
    assert_eq!(r.status, 200);
    r.body
}

fn fill(server: &Server, repo: &str) {
    server.cli_ok(&["create", repo]);
    let files = fixture_deb_args();
    let mut args = vec!["add", repo];
    args.extend(files.iter().map(String::as_str));
    server.cli_ok(&args);
}

#[test]
fn two_repos_two_keys_and_apt_across_a_rotation() {
    let server = Server::start(&tmp().join("keys"));
    fill(&server, "one");
    fill(&server, "two");

    // Each repo has its own key, made at create, with an expiry about two years out.
    let (k1, k2) = (
        save_key(&server, "one", "one"),
        save_key(&server, "two", "two"),
    );
    let (keys1, keys2) = (keys_in(&k1), keys_in(&k2));
    assert_eq!(keys1.len(), 1, "{keys1:?}");
    assert_eq!(keys2.len(), 1, "{keys2:?}");
    assert_ne!(keys1[0].0, keys2[0].0, "two repos, two keys");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let year = 365 * 24 * 3600;
    assert!(
        keys1[0].1 > now + year && keys1[0].1 < now + 3 * year,
        "the key expires in about two years: {keys1:?}"
    );
    // Each InRelease verifies with its own repo's key only.
    assert_eq!(
        good_signers(&k1, &in_release(&server, "one")),
        [keys1[0].0.clone()]
    );
    assert!(good_signers(&k2, &in_release(&server, "one")).is_empty());
    let list = String::from_utf8(server.cli_ok(&["key", "list", "one"]).stdout).unwrap();
    assert!(
        list.starts_with(&format!("one\t{}\tsigning\t", keys1[0].0)),
        "{list}"
    );

    // apt that knows the old key.
    assert_apt(&apt(&server, "one", &k1), true, "apt with the repo's key");

    // Rotate with an overlap: InRelease carries both signatures, key.asc both keys.
    server.cli_ok(&["key", "rotate", "one", "--overlap", "7d"]);
    let both = save_key(&server, "one", "one-both");
    let fps: Vec<String> = keys_in(&both).into_iter().map(|k| k.0).collect();
    assert_eq!(fps.len(), 2, "{fps:?}");
    assert_eq!(fps[1], keys1[0].0, "the old key is still published");
    let new_fp = fps[0].clone();
    let signed = in_release(&server, "one");
    let mut signers = good_signers(&both, &signed);
    signers.sort();
    let mut expected = fps.clone();
    expected.sort();
    assert_eq!(
        signers, expected,
        "InRelease is signed by the old and the new key"
    );
    assert_eq!(good_signers(&k1, &signed), [keys1[0].0.clone()]);
    let list = String::from_utf8(server.cli_ok(&["key", "list", "one"]).stdout).unwrap();
    assert!(list.contains(&format!("{new_fp}\tsigning")), "{list}");
    assert!(list.contains(&format!("{}\toverlap", keys1[0].0)), "{list}");
    // The other repo is untouched.
    assert_eq!(keys_in(&save_key(&server, "two", "two-again")), keys2);

    // An old client (the old key only) and a refreshed one (both keys) both install.
    assert_apt(
        &apt(&server, "one", &k1),
        true,
        "apt with the old key, mid-overlap",
    );
    assert_apt(
        &apt(&server, "one", &both),
        true,
        "apt with the refreshed key",
    );

    // The signing key cannot be retired; the old one can, ending the overlap now.
    let out = server.cli(&["key", "retire", "one", &new_fp]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("409"));
    server.cli_ok(&["key", "retire", "one", &keys1[0].0]);
    let newest = save_key(&server, "one", "one-new");
    assert_eq!(
        keys_in(&newest)
            .into_iter()
            .map(|k| k.0)
            .collect::<Vec<_>>(),
        std::slice::from_ref(&new_fp)
    );
    assert_eq!(good_signers(&both, &in_release(&server, "one")), [new_fp]);
    assert_apt(&apt(&server, "one", &k1), false, "apt with a retired key");
    assert_apt(&apt(&server, "one", &newest), true, "apt with the new key");
}

#[test]
fn an_imported_key_signs() {
    let server = Server::start(&tmp().join("keys-import"));
    fill(&server, "imp");
    let (public, secret) = gpg_keypair("Imported <imported@example.invalid>");
    let fp = keys_in(&public)[0].0.clone();
    let out = server.cli_ok(&[
        "key",
        "rotate",
        "imp",
        "--overlap",
        "0",
        "--import",
        secret.to_str().unwrap(),
    ]);
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(
        listed.starts_with(&format!("imp\t{fp}\tsigning\t")),
        "{listed}"
    );
    assert_eq!(listed.lines().count(), 1, "overlap 0: the made key is gone");
    assert_eq!(
        good_signers(&public, &in_release(&server, "imp")),
        std::slice::from_ref(&fp)
    );
    assert_apt(
        &apt(&server, "imp", &public),
        true,
        "apt with the imported key",
    );

    // Not a key: a 400 naming it, nothing changed.
    let r = server.send("POST", "/repos/imp/keys/", Some(br#"{"key": "junk"}"#));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("key"), "{}", r.text());
    let r = server.send("POST", "/repos/imp/keys/", Some(br#"{"overlap": "soon"}"#));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(keys_in(&save_key(&server, "imp", "imp-after"))[0].0, fp);
    // The same key again is a conflict.
    let body = serde_json::json!({ "key": std::fs::read_to_string(&secret).unwrap() });
    let r = server.send(
        "POST",
        "/repos/imp/keys/",
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    // No repo, no keys.
    assert_eq!(server.send("POST", "/repos/nope/keys/", None).status, 404);
    assert_eq!(server.get("/repos/nope/keys/").status, 404);
}
