//! Tests on genuine packages (built as abuild builds them, see `testapk`), checked against
//! independent tools: Python's zlib/tarfile, openssl, bsdtar.

use crate::apk::{self, claims, read_package};
use crate::index::{self, Sign, NOARCH};
use crate::reposmith::generator::types::{
    Assembled, BulkFile, Content, Encoding, Entry, Facts, Hint, Leaf, Part, Piece, RepoInfo,
    Selection, ShelfSummary,
};
use crate::testapk::{self, sh};
use reposmith_generator_sdk::{ustar, RsaDigest};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;

fn facts(data: &[u8], name: &str) -> Facts {
    Facts {
        filename: name.into(),
        size: data.len() as u64,
        md5: String::new(),
        sha1: String::new(),
        sha256: String::new(),
        sha512: String::new(),
    }
}

fn stanza(e: &crate::reposmith::generator::types::Entry) -> String {
    let f = e.fragments.iter().find(|f| f.name == "stanza").unwrap();
    String::from_utf8(f.data.clone()).unwrap()
}

#[test]
fn signed_and_unsigned_packages_parse_with_the_identity_python_computes() {
    for (sign, format) in [
        (true, "gnu"),
        (false, "gnu"),
        (true, "posix"),
        (false, "posix"),
    ] {
        let b = testapk::apk(
            testapk::PKGINFO,
            &[(".post-install", b"#!/bin/sh\ntrue\n")],
            sign,
            format,
        );
        let c = read_package(testapk::reader(&b.apk), b.apk.len() as u64).unwrap();
        assert_eq!(c.signature.is_some(), sign);
        if sign {
            assert_eq!(c.signature.as_deref(), Some(".SIGN.RSA.test.rsa.pub"));
        }
        assert_eq!(c.q1, testapk::python_q1(&b.apk), "sign={sign} {format}");
        assert_eq!(c.data_start as usize, b.apk.len() - b.data_gz.len());
        assert!(std::str::from_utf8(&c.pkginfo)
            .unwrap()
            .contains("pkgname = hello"));
        assert!(claims("x.apk", &b.apk[..b.apk.len().min(4096)]));
        assert!(claims("renamed.bin", &b.apk[..b.apk.len().min(4096)]));
    }
}

#[test]
fn every_index_field_follows_pkginfo() {
    let b = testapk::apk(testapk::PKGINFO, &[], true, "gnu");
    let entries = index::analyze(
        testapk::reader(&b.apk),
        &facts(&b.apk, "hello-2.12.1-r0.apk"),
    )
    .unwrap();
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(
        (
            e.name.as_str(),
            e.version.as_str(),
            e.arch.as_str(),
            e.shelf.as_str()
        ),
        ("hello", "2.12.1-r0", "x86_64", "x86_64")
    );
    assert_eq!(e.path, "x86_64/hello-2.12.1-r0.apk");
    let q1 = testapk::python_q1(&b.apk);
    assert_eq!(
        stanza(e),
        format!(
            "C:{q1}\nP:hello\nV:2.12.1-r0\nA:x86_64\nS:{}\nI:57344\nT:A program that says hello\n\
             U:https://www.gnu.org/software/hello/\nL:GPL-3.0-or-later\no:hello\n\
             m:Test <test@example.org>\nt:1700000000\nc:0123456789abcdef0123456789abcdef01234567\n\
             k:100\nD:so:libc.musl-x86_64.so.1 busybox>=1.36\np:cmd:hello=2.12.1-r0\n\
             i:hello-base bash\n\n",
            b.apk.len()
        )
    );
    assert_eq!(e.fragments.len(), 1);
}

#[test]
fn corrupt_and_truncated_packages_are_errors_never_panics() {
    let b = testapk::apk(testapk::PKGINFO, &[], true, "gnu");
    let f = |d: &[u8]| index::analyze(testapk::reader(d), &facts(d, "x.apk"));
    // Every truncation point in the metadata, and a stride through the data.
    let n = b.apk.len();
    let mut cuts: Vec<usize> = (0..n.min(2048)).collect();
    cuts.extend((2048..n).step_by(7));
    for cut in cuts {
        let e = f(&b.apk[..cut]).expect_err(&format!("cut at {cut} of {n} accepted"));
        assert!(!e.is_empty());
    }
    // A flipped byte in the data stream: the datahash catches it.
    let mut bad = b.apk.clone();
    let last = bad.len() - 20;
    bad[last] ^= 0xff;
    let e = f(&bad).unwrap_err();
    assert!(e.contains("datahash"), "{e}");
    // Garbage, empty, and a gzip of garbage.
    assert!(f(b"").is_err());
    assert!(f(b"hello world").is_err());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&[7u8; 3000]).unwrap();
    assert!(f(&gz.finish().unwrap()).is_err());
    // No .PKGINFO, missing required keys.
    let no_name = testapk::apk("pkgver = 1-r0\narch = x86_64\n", &[], false, "gnu");
    assert!(f(&no_name.apk).unwrap_err().contains("pkgname"));
    let bad_arch = testapk::apk(
        "pkgname = a\npkgver = 1-r0\narch = ../x\n",
        &[],
        false,
        "gnu",
    );
    assert!(f(&bad_arch.apk).unwrap_err().contains("arch"));
}

#[test]
fn pacman_and_freebsd_packages_are_not_claimed() {
    for (codec, name) in [
        ("gzip -9n", "hello-1-1-x86_64.pkg.tar.gz"),
        ("zstd -q", "hello-1-1-x86_64.pkg.tar.zst"),
        ("xz", "hello-1-1-x86_64.pkg.tar.xz"),
    ] {
        let p = testapk::pacman(codec);
        let head = &p[..p.len().min(4096)];
        assert!(!claims(name, head), "{name}");
        assert!(
            !claims("hello.apk", head) || codec.starts_with("gzip"),
            "{name}"
        );
    }
    // A pacman .pkg.tar.gz that even carries an .apk name: its tar is complete in one stream.
    let small = {
        let d = testapk::scratch();
        std::fs::write(d.join(".PKGINFO"), "pkgname = a\npkgver = 1-1\n").unwrap();
        sh(&d, "tar --owner=0 --group=0 -f - -c .PKGINFO | gzip -9n")
    };
    assert!(!claims("a.apk", &small));
    let e = index::analyze(testapk::reader(&small), &facts(&small, "a.apk")).unwrap_err();
    assert!(e.contains("complete tar"), "{e}");
    for (codec, name) in [("zstd -q", "hello-1.pkg"), ("xz", "hello-1.txz")] {
        let p = testapk::freebsd(codec);
        assert!(!claims(name, &p[..p.len().min(4096)]), "{name}");
        assert!(!claims("hello.apk", &p[..p.len().min(4096)]), "{name}");
    }
    assert!(!claims("a.apk", b""));
    assert!(!claims("a.apk", b"\x1f\x8b"));
}

#[test]
fn a_large_control_stream_is_claimed_by_name_and_parsed_fully() {
    // An install script of incompressible bytes pushes the control stream past 4 KiB.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..20000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let b = testapk::apk(testapk::PKGINFO, &[(".pre-install", &noise)], false, "gnu");
    assert!(b.control_gz.len() > 4096);
    assert!(claims("hello-2.12.1-r0.apk", &b.apk[..4096]));
    let c = read_package(testapk::reader(&b.apk), b.apk.len() as u64).unwrap();
    assert_eq!(c.q1, testapk::python_q1(&b.apk));
}

fn repo(arches: &[&str]) -> RepoInfo {
    RepoInfo {
        name: "r".into(),
        description: "Test repository".into(),
        default_suite: "stable".into(),
        default_component: "main".into(),
        architectures: arches.iter().map(|s| s.to_string()).collect(),
        options: Vec::new(),
        now: 1_700_000_500,
        generation: 3,
        base_url: String::new(),
    }
}

fn select(sel: &Selection, entries: &[Entry], out: &mut Vec<u8>) {
    let mut picked: Vec<_> = entries
        .iter()
        .filter(|e| sel.shelves.contains(&e.shelf))
        .collect();
    picked.sort_by(|a, b| (&a.name, &a.version, &a.path).cmp(&(&b.name, &b.version, &b.path)));
    for (i, e) in picked.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(&sel.separator);
        }
        let f = e.fragments.iter().find(|f| f.name == sel.fragment).unwrap();
        out.extend_from_slice(&f.data);
    }
}

/// Assembles a plan's file as the host does (`functions/lib/core/src/assemble.rs`): literals, the
/// selected fragments in (name, version, path) order, tar members wrapped in a ustar header.
fn assemble(file: &BulkFile, entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in &file.parts {
        match p {
            Part::Literal(b) => out.extend_from_slice(b),
            Part::Entries(sel) => select(sel, entries, &mut out),
            Part::TarMember(m) => {
                let mut content = Vec::new();
                for l in &m.parts {
                    match l {
                        Leaf::Literal(b) => content.extend_from_slice(b),
                        Leaf::Entries(sel) => select(sel, entries, &mut content),
                    }
                }
                out.extend(ustar::file(&m.name, &content, m.mtime).unwrap());
            }
        }
    }
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// The host's signer, with openssl and the test key; blobs by sha256 from `blobs`.
#[derive(Default)]
struct TestKey {
    blobs: RefCell<HashMap<String, Vec<u8>>>,
}

impl Sign for TestKey {
    fn rsa_public_key(&self) -> String {
        std::fs::read_to_string(&testapk::key().1).unwrap()
    }
    fn rsa_key_name(&self) -> String {
        "0123abcd".into()
    }
    fn rsa_sign_blob(&self, blob: &str, digest: RsaDigest) -> Result<Vec<u8>, String> {
        let data = self
            .blobs
            .borrow()
            .get(blob)
            .cloned()
            .ok_or("no such blob")?;
        let d = testapk::scratch();
        std::fs::write(d.join("blob"), data).unwrap();
        let dgst = if digest == RsaDigest::Sha256 {
            "sha256"
        } else {
            "sha1"
        };
        Ok(sh(
            &d,
            &format!(
                "openssl dgst -{dgst} -sign {} blob",
                testapk::key().0.display()
            ),
        ))
    }
}

/// Publishes a repo of `entries` as the host would: plan, assemble, gzip, finish, resolve
/// concat outputs. Returns path → bytes.
fn publish(repo: &RepoInfo, entries: &[Entry], signer: &TestKey) -> HashMap<String, Vec<u8>> {
    let mut counts: HashMap<String, u32> = HashMap::new();
    for e in entries {
        *counts.entry(e.shelf.clone()).or_default() += 1;
    }
    let mut shelves: Vec<_> = counts
        .into_iter()
        .map(|(shelf, entries)| ShelfSummary { shelf, entries })
        .collect();
    shelves.sort_by(|a, b| a.shelf.cmp(&b.shelf));
    let plan = index::plan(repo, &shelves).unwrap();
    let mut files = HashMap::new();
    let mut assembled = Vec::new();
    for f in &plan.files {
        assert_eq!(f.encodings, [Encoding::Gzip]);
        let gz = gzip(&assemble(f, entries));
        let sha = testapk::sha256_hex(&gz);
        signer.blobs.borrow_mut().insert(sha.clone(), gz.clone());
        assembled.push(Assembled {
            path: format!("{}.gz", f.path),
            encoding: Encoding::Gzip,
            size: gz.len() as u64,
            md5: String::new(),
            sha1: String::new(),
            sha256: sha,
            sha512: String::new(),
            open_size: 0,
            open_sha256: String::new(),
            patch: None,
        });
        files.insert(format!("{}.gz", f.path), gz);
    }
    for o in index::finish(repo, &assembled, signer).unwrap() {
        let bytes = match o.content {
            Content::Bytes(b) => b,
            Content::Concat(c) => {
                assert_eq!(c.encoding, Encoding::Identity);
                let mut out = Vec::new();
                for p in c.pieces {
                    match p {
                        Piece::Bytes(b) => out.extend(b),
                        Piece::File(p) => out.extend(files[&p].clone()),
                    }
                }
                out
            }
            Content::SameAs(p) => files[&p].clone(),
        };
        files.insert(o.path, bytes);
    }
    files
}

const VERIFY: &str = r#"python3 - <<'PY'
import zlib, tarfile, io, sys
raw = open("APKINDEX.tar.gz", "rb").read()
z = zlib.decompressobj(31)
seg = z.decompress(raw)
rest = z.unused_data
assert not seg.endswith(b"\0" * 1024), "the signature segment has end blocks"
t = tarfile.open(fileobj=io.BytesIO(seg + b"\0" * 1024))
m = t.getmembers()
assert [x.name for x in m] == [sys.argv[1] if len(sys.argv) > 1 else "SIGNAME"], m
open("sig", "wb").write(t.extractfile(m[0]).read())
open("signed", "wb").write(rest)
t = tarfile.open("APKINDEX.tar.gz", "r:gz")
print(" ".join(t.getnames()))
open("index", "wb").write(t.extractfile("APKINDEX").read())
print(t.extractfile("DESCRIPTION").read().decode())
PY
openssl dgst -DGST -verify PUB -signature sig signed
bsdtar -tf APKINDEX.tar.gz
bsdtar -xOf APKINDEX.tar.gz APKINDEX > bsdtar-index"#;

#[test]
fn the_signed_index_verifies_with_openssl_and_reads_back_with_bsdtar_and_python() {
    let pkgs = [
        testapk::apk(testapk::PKGINFO, &[], true, "gnu"),
        testapk::apk(
            "pkgname = zdata\npkgver = 1.0-r3\narch = noarch\nsize = 10\n",
            &[],
            false,
            "posix",
        ),
        testapk::apk(
            "pkgname = armonly\npkgver = 1-r0\narch = aarch64\n",
            &[],
            false,
            "gnu",
        ),
    ];
    let mut entries = Vec::new();
    for p in &pkgs {
        entries.extend(index::analyze(testapk::reader(&p.apk), &facts(&p.apk, "x.apk")).unwrap());
    }
    let plan = index::plan(
        &repo(&["amd64"]),
        &[ShelfSummary {
            shelf: "aarch64".into(),
            entries: 1,
        }],
    )
    .unwrap();
    let paths: Vec<_> = plan.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "aarch64/APKINDEX.unsigned.tar",
            "x86_64/APKINDEX.unsigned.tar"
        ]
    );
    assert_eq!(plan.links.len(), 2);
    assert_eq!(plan.links[1].prefix, "x86_64/");
    assert_eq!(plan.links[1].shelves, [NOARCH]);

    for (sha256, dgst, kind) in [(false, "sha1", "RSA"), (true, "sha256", "RSA256")] {
        let mut r = repo(&["amd64"]);
        if sha256 {
            r.options.push(Hint {
                key: "apk.signature".into(),
                value: "sha256".into(),
            });
        }
        let signer = TestKey::default();
        let files = publish(&r, &entries, &signer);
        let mut names: Vec<_> = files.keys().cloned().collect();
        names.sort();
        assert_eq!(
            names,
            [
                "aarch64/APKINDEX.tar.gz",
                "aarch64/APKINDEX.unsigned.tar.gz",
                "keys/0123abcd.rsa.pub",
                "x86_64/APKINDEX.tar.gz",
                "x86_64/APKINDEX.unsigned.tar.gz"
            ]
        );
        assert!(String::from_utf8_lossy(&files["keys/0123abcd.rsa.pub"])
            .starts_with("-----BEGIN PUBLIC KEY-----"));
        let signame = format!(".SIGN.{kind}.0123abcd.rsa.pub");
        for (arch, want) in [
            ("x86_64", vec![&entries[0], &entries[1]]),
            ("aarch64", vec![&entries[2], &entries[1]]),
        ] {
            let d = testapk::scratch();
            std::fs::write(
                d.join("APKINDEX.tar.gz"),
                &files[&format!("{arch}/APKINDEX.tar.gz")],
            )
            .unwrap();
            // As apk does: the first gzip stream's tar member names the key and holds the
            // signature; the signed data is every byte after that stream.
            let script = VERIFY
                .replace("python3 -", &format!("python3 - '{signame}'"))
                .replace("DGST", dgst)
                .replace("PUB", &testapk::key().1.display().to_string());
            let out = String::from_utf8(sh(&d, &script)).unwrap();
            assert_eq!(
                out,
                format!(
                    "{signame} DESCRIPTION APKINDEX\nTest repository\n\
                     Verified OK\n{signame}\nDESCRIPTION\nAPKINDEX\n"
                )
            );
            let want: String = want.iter().map(|e| stanza(e)).collect();
            for f in ["index", "bsdtar-index"] {
                let got = String::from_utf8(std::fs::read(d.join(f)).unwrap()).unwrap();
                assert_eq!(got, want, "{arch} {f}");
            }
        }
    }
}

#[test]
fn an_empty_repo_still_has_an_index_per_architecture() {
    let plan = index::plan(&repo(&["amd64", "arm64", "all"]), &[]).unwrap();
    let paths: Vec<_> = plan.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "aarch64/APKINDEX.unsigned.tar",
            "x86_64/APKINDEX.unsigned.tar"
        ]
    );
    let tar = assemble(&plan.files[0], &[]);
    let m = apk::tar_members(&tar).unwrap();
    assert_eq!(
        m,
        [
            ("DESCRIPTION".to_string(), b"Test repository".to_vec()),
            ("APKINDEX".to_string(), Vec::new())
        ]
    );
    let plan = index::plan(&repo(&[]), &[]).unwrap();
    assert_eq!(plan.files[0].path, "x86_64/APKINDEX.unsigned.tar");
}

#[test]
fn base64_matches_the_standard_alphabet() {
    assert_eq!(apk::base64(b""), "");
    assert_eq!(apk::base64(b"f"), "Zg==");
    assert_eq!(apk::base64(b"fo"), "Zm8=");
    assert_eq!(apk::base64(b"foo"), "Zm9v");
    assert_eq!(apk::base64(&[0xfb, 0xff]), "+/8=");
}

#[test]
fn the_index_is_the_same_bytes_at_any_time_until_its_packages_change() {
    // A publish of another format in the repo must not make a new apk index to store,
    // sign and serve (its tar members took the publish time).
    let shelves = [ShelfSummary {
        shelf: "x86_64".into(),
        entries: 3,
    }];
    let at = |now| {
        let mut r = repo(&[]);
        r.now = now;
        format!("{:?}", index::plan(&r, &shelves).unwrap().files)
    };
    assert_eq!(at(1_700_000_500), at(1_800_000_000));
}
