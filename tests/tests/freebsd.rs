//! FreeBSD pkg repositories, end to end. pkg(8) is not packaged for Debian, so: genuine
//! packages laid out as `pkg create` makes them (tests/fixtures/make-freebsd.sh: zstd, xz and
//! gzip, one with `+MANIFEST` only, one for any architecture), uploaded through the API; then
//! every file pkg fetches from `URL/repos/REPO/freebsd/${ABI}` is read back with independent
//! readers (bsdtar, Python's tarfile), every catalogue field checked against the package's
//! own manifest, and every catalogue signature verified with openssl exactly as pkg does for
//! `signature_type: pubkey` (libpkg/pkgsign_ossl.c ossl_verify_cert_cb(): RSA PKCS#1 v1.5,
//! SHA-256, over the 64 lower-case hex characters of the catalogue's SHA-256):
//!
//!   head -c -1 signature > sig          # pkg verifies siglen - 1 bytes (pkg_repo.c)
//!   sha256sum packagesite.yaml | cut -c1-64 | tr -d '\n' > hex
//!   openssl dgst -sha256 -verify repo.pub -signature sig hex
//!
//! Bad and truncated packages answer 422; a pacman package is claimed by pacman only.
mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const HELLO: &str = "hello-2.10_1.pkg";
const LIB: &str = "libharness-1.0.pkg";
const TOOL: &str = "tool-0.3.pkg";

fn fixtures() -> &'static PathBuf {
    fixture("make-freebsd.sh")
}

fn sh(script: &str, dir: &Path) -> std::process::Output {
    Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .output()
        .unwrap()
}

fn ok(out: std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The compact manifest `pkg repo` starts from: `+COMPACT_MANIFEST`, else `+MANIFEST` without
/// what the compact form leaves out (libpkg/pkg_manifest.c, PKG_MANIFEST_EMIT_COMPACT).
fn compact_manifest(pkg: &Path) -> serde_json::Map<String, Value> {
    let dir = tmp();
    let p = pkg.display();
    let out = sh(
        &format!("bsdtar -xOf '{p}' +COMPACT_MANIFEST 2>/dev/null || bsdtar -xOf '{p}' +MANIFEST"),
        &dir,
    );
    let Value::Object(mut m) = serde_json::from_str(&ok(out, "bsdtar manifest")).unwrap() else {
        panic!("manifest is not an object")
    };
    for k in ["files", "config", "directories", "scripts", "lua_scripts"] {
        m.remove(k);
    }
    m
}

/// Fetches one of pkg's signed archives, checks it with bsdtar, Python's tarfile and openssl,
/// and returns the catalogue member's bytes.
fn check_archive(
    server: &Server,
    base: &str,
    name: &str,
    member: &str,
    key: &Path,
    magic: &[u8],
) -> Vec<u8> {
    let r = server.get(&format!("{base}/{name}"));
    assert_eq!(r.status, 200, "{base}/{name}: {}", r.text());
    assert!(r.body.starts_with(magic), "{name}: wrong compression");
    let dir = tmp();
    std::fs::write(dir.join(name), &r.body).unwrap();
    // bsdtar: exactly `signature`, then the catalogue (pkg_repo_pack_db()).
    let list = ok(sh(&format!("bsdtar -tf {name}"), &dir), "bsdtar -t");
    assert_eq!(
        list.lines().collect::<Vec<_>>(),
        ["signature", member],
        "{name}"
    );
    ok(
        sh(&format!("mkdir x && bsdtar -xf {name} -C x"), &dir),
        "bsdtar -x",
    );
    let from_bsdtar = std::fs::read(dir.join("x").join(member)).unwrap();
    // Python's tarfile (zstd through the zstd tool: tarfile has no zstd before 3.14).
    let py = format!(
        "{} | python3 -c 'import sys, tarfile, hashlib\n\
         t = tarfile.open(fileobj=sys.stdin.buffer, mode=\"r|\")\n\
         for m in t:\n    d = t.extractfile(m).read()\n    \
         print(m.name, m.size, m.isreg(), hashlib.sha256(d).hexdigest())'",
        if magic.starts_with(&[0x28, 0xb5]) {
            format!("zstd -dc {name}")
        } else {
            format!("xz -dc {name}")
        }
    );
    let listing = ok(sh(&py, &dir), "python tarfile");
    let rows: Vec<Vec<&str>> = listing.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(rows.len(), 2, "{listing}");
    assert_eq!(rows[0][0], "signature");
    assert_eq!(rows[1][0], member);
    assert_eq!(rows[1][1], from_bsdtar.len().to_string());
    assert_eq!(rows[1][2], "True");
    assert_eq!(rows[1][3], sha256_hex(&from_bsdtar));
    // openssl, as pkg verifies signature_type: pubkey: the member holds the signature and
    // one NUL byte, and pkg verifies its first `siglen - 1` bytes
    // (pkg_repo_archive_extract_check_archive()).
    let sig = std::fs::read(dir.join("x/signature")).unwrap();
    assert_eq!(
        sig.last(),
        Some(&0),
        "{name}: signature member without its NUL"
    );
    std::fs::copy(key, dir.join("repo.pub")).unwrap();
    let bits = ok(
        sh(
            "openssl pkey -pubin -in repo.pub -noout -text | head -1",
            &dir,
        ),
        "openssl pkey -text",
    );
    assert!(
        bits.contains(&format!("({} bit)", (sig.len() - 1) * 8)),
        "{name}: signature is {} bytes for a {bits}",
        sig.len()
    );
    let verify = format!(
        "cd x && head -c -1 signature > sig && \
         sha256sum {member} | cut -c1-64 | tr -d '\\n' > hex && \
         openssl dgst -sha256 -verify ../repo.pub -signature sig hex"
    );
    let out = ok(sh(&verify, &dir), "openssl dgst -verify");
    assert!(out.contains("Verified OK"), "{out}");
    // The same with pkeyutl over the raw SHA-256 of the hex string: EVP_PKEY_verify as in
    // ossl_verify_cert_cb() (RSA_PKCS1_PADDING, signature md sha256).
    let pkeyutl = "cd x && openssl dgst -sha256 -binary hex > hash && \
                   openssl pkeyutl -verify -pubin -inkey ../repo.pub -pkeyopt digest:sha256 \
                   -in hash -sigfile sig";
    let out = ok(sh(pkeyutl, &dir), "openssl pkeyutl -verify");
    assert!(out.contains("Verified Successfully"), "{out}");
    // A changed catalogue must not verify.
    let tampered = format!(
        "cd x && echo >> {member} && sha256sum {member} | cut -c1-64 | tr -d '\\n' > hex && \
         openssl dgst -sha256 -verify ../repo.pub -signature signature hex"
    );
    assert!(
        !sh(&tampered, &dir).status.success(),
        "tampered {name} verified"
    );
    from_bsdtar
}

/// `key = value;` lines of meta.conf (UCL config as pkg repo writes it).
fn meta_conf(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.trim().strip_suffix(';'))
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

#[test]
fn freebsd_repo_is_signed_complete_and_readable() {
    let server = Server::start(&tmp().join("data"));
    server.create_repo("r");
    let dir = fixtures();
    for f in [HELLO, LIB, TOOL] {
        let r = server.upload("r", &dir.join(f));
        assert!(
            (200..300).contains(&r.status),
            "upload {f}: {} {}",
            r.status,
            r.text()
        );
        let gens = r.claimed_by();
        assert_eq!(gens, ["freebsd"], "{f} claimed by {gens:?}");
    }

    let key_resp = server.get("/repos/r/freebsd/keys/repo.pub");
    assert_eq!(key_resp.status, 200);
    assert!(key_resp.text().starts_with("-----BEGIN PUBLIC KEY-----"));
    let key = tmp().join("repo.pub");
    std::fs::write(&key, &key_resp.body).unwrap();
    ok(
        sh(
            &format!("openssl pkey -pubin -in '{}' -noout", key.display()),
            &tmp(),
        ),
        "openssl reads the key",
    );

    let mut checked_fields = 0;
    for (abi, files) in [
        ("FreeBSD:14:amd64", vec![HELLO, LIB]),
        ("FreeBSD:13:aarch64", vec![TOOL]),
    ] {
        let base = format!("/repos/r/freebsd/{abi}");
        let meta = server.get(&format!("{base}/meta.conf"));
        assert_eq!(meta.status, 200, "{abi}/meta.conf");
        let m = meta_conf(&meta.text());
        assert_eq!(m["version"], "2");
        assert_eq!(m["packing_format"], "tzst");
        assert_eq!(m["manifests"], "packagesite.yaml");
        assert_eq!(m["manifests_archive"], "packagesite");
        assert_eq!(m["data"], "data");

        let meta_txz = check_archive(
            &server,
            &base,
            "meta.txz",
            "meta",
            &key,
            &[0xfd, b'7', b'z', b'X', b'Z', 0],
        );
        assert_eq!(meta_txz, meta.body, "{abi}: meta.txz holds meta.conf");
        for (alias, of) in [
            ("packagesite.tzst", "packagesite.pkg"),
            ("data.tzst", "data.pkg"),
        ] {
            let a = server.get(&format!("{base}/{alias}"));
            assert_eq!(a.status, 200, "{abi}/{alias}");
            assert_eq!(
                a.body,
                server.get(&format!("{base}/{of}")).body,
                "{abi}/{alias}"
            );
        }
        let zst = [0x28, 0xb5, 0x2f, 0xfd];
        let xz = [0xfd, b'7', b'z', b'X', b'Z', 0];
        let key = key.as_path();
        let yaml = check_archive(
            &server,
            &base,
            "packagesite.pkg",
            "packagesite.yaml",
            key,
            &zst,
        );
        let yaml_txz = check_archive(
            &server,
            &base,
            "packagesite.txz",
            "packagesite.yaml",
            key,
            &xz,
        );
        assert_eq!(yaml, yaml_txz, "{abi}: .pkg and .txz differ");
        let data = check_archive(&server, &base, "data.pkg", "data", key, &zst);

        let lines: Vec<Value> = std::str::from_utf8(&yaml)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect();
        let data: Value = serde_json::from_slice(&data).unwrap();
        assert_eq!(data["groups"], Value::Array(vec![]));
        assert_eq!(data["expired_packages"], Value::Array(vec![]));
        assert_eq!(
            data["packages"],
            Value::Array(lines.clone()),
            "{abi}: data != packagesite"
        );
        assert_eq!(lines.len(), files.len(), "{abi}");
        for f in files {
            let path = dir.join(f);
            let bytes = std::fs::read(&path).unwrap();
            let mut want = compact_manifest(&path);
            let line = lines
                .iter()
                .find(|l| l["name"] == want["name"])
                .unwrap_or_else(|| panic!("{abi}: {f} not listed"));
            // sum: SHA-256 hex (pkg_checksum_validate_fileat(): no `$` means sha256_hex).
            want.insert("sum".into(), sha256_hex(&bytes).into());
            want.insert("pkgsize".into(), (bytes.len() as u64).into());
            want.insert("path".into(), format!("All/{f}").into());
            want.insert("repopath".into(), format!("All/{f}").into());
            let got = line.as_object().unwrap();
            for (k, v) in &want {
                assert_eq!(got.get(k), Some(v), "{abi} {f}: field {k}");
                checked_fields += 1;
            }
            assert_eq!(got.len(), want.len(), "{abi} {f}: extra fields {got:?}");
            // The package is served where repopath says, byte for byte.
            let served = server.get(&format!("{base}/All/{f}"));
            assert_eq!(served.status, 200, "{abi}/All/{f}");
            assert_eq!(served.body, bytes, "{abi}/All/{f}");
        }
    }
    assert!(
        checked_fields >= 3 * 20,
        "only {checked_fields} fields checked"
    );
    // An ABI without packages has no tree.
    assert_eq!(
        server
            .get("/repos/r/freebsd/FreeBSD:15:amd64/meta.conf")
            .status,
        404
    );
}

#[test]
fn bad_freebsd_packages_are_422_and_pacman_is_not_claimed() {
    let server = Server::start(&tmp().join("data"));
    server.create_repo("r");
    let bytes = std::fs::read(fixtures().join(HELLO)).unwrap();
    for (name, body) in [
        ("trunc.pkg", &bytes[..bytes.len() / 2]),
        ("trunc2.pkg", &bytes[..bytes.len() - 9]),
    ] {
        let r = server.send(
            "POST",
            &format!("/repos/r/packages/?filename={name}"),
            Some(body),
        );
        assert_eq!(r.status, 422, "{name}: {}", r.text());
        let detail = r.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        assert!(
            detail.contains("truncated") || detail.contains("corrupt"),
            "{name}: {detail}"
        );
    }
    // A .pkg whose manifest is not JSON.
    let dir = tmp();
    ok(
        sh(
            "printf 'name: x' > +COMPACT_MANIFEST && bsdtar -cf bad.pkg --zstd +COMPACT_MANIFEST",
            &dir,
        ),
        "bsdtar",
    );
    let r = server.upload("r", &dir.join("bad.pkg"));
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("manifest"), "{}", r.text());
    // Garbage named .pkg: nobody claims it.
    let r = server.send(
        "POST",
        "/repos/r/packages/?filename=junk.pkg",
        Some(b"junk"),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    // Nothing was added.
    let v = server.get("/repos/r/packages/").json();
    assert_eq!(v["packages"].as_array().map(|a| a.len()), Some(0), "{v}");

    // A pacman package (makepkg) is pacman's only, whatever its name.
    let pac = fixture_pacman().join("harness-lib-1.0-1-any.pkg.tar.zst");
    let renamed = tmp().join("harness-lib.pkg");
    std::fs::copy(&pac, &renamed).unwrap();
    server.create_repo("r2");
    for (repo, file) in [("r", &pac), ("r2", &renamed)] {
        let r = server.upload(repo, file);
        assert!((200..300).contains(&r.status), "{}", r.text());
        assert_eq!(r.claimed_by(), ["pacman"]);
    }
}
