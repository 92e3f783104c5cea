//! Unit tests: genuine packages of every packing format, parsed; malformed and truncated ones
//! refused (never a panic); pacman packages never claimed; plan and finish checked by
//! assembling the outputs the way the host does and reading them back with the `tar` crate.

use reposmith_generator_sdk::RsaDigest;
use std::collections::BTreeMap;
use std::io::Read;

use serde_json::Value;

use crate::reposmith::generator::types::{
    Assembled, Content, Encoding, Entry, Part, Piece, ShelfSummary,
};
use crate::testpkg::{self, Codec};
use crate::{manifest, pkg, repo};

fn analyze(name: &str, data: &[u8]) -> Result<Vec<Entry>, String> {
    repo::analyze(testpkg::reader(data.to_vec()), &testpkg::facts(name, data))
}

fn frag<'a>(e: &'a Entry, name: &str) -> &'a [u8] {
    &e.fragments.iter().find(|f| f.name == name).unwrap().data
}

#[test]
fn info_describes_the_generator() {
    use reposmith_generator_sdk::exports::reposmith::generator::generator::Guest;
    let info = crate::FreeBsd::info();
    assert_eq!(
        (info.name.as_str(), info.mount.as_str()),
        ("freebsd", "freebsd")
    );
    assert_eq!(info.extensions, [".pkg"]);
    assert_eq!(info.contract, "0.2.0");
}

#[test]
fn claims_every_packing_format_by_content() {
    for c in testpkg::ALL {
        let p = testpkg::sample(c);
        let head = &p[..p.len().min(4096)];
        assert!(pkg::claims("x.bin", head), "{c:?}");
        assert!(pkg::claims("hello-2.10_1.pkg", head), "{c:?}");
    }
}

#[test]
fn never_claims_pacman_packages_or_other_files() {
    for c in testpkg::ALL {
        let p = testpkg::pacman(c);
        let head = &p[..p.len().min(4096)];
        assert!(!pkg::claims("x-1-1-x86_64.pkg.tar.zst", head), "{c:?}");
        assert!(!pkg::claims("x.pkg", head), "{c:?} named .pkg");
        let err = analyze("x.pkg", &p).unwrap_err();
        assert!(err.contains("pacman"), "{c:?}: {err}");
    }
    assert!(!pkg::claims("a.pkg", b""));
    assert!(!pkg::claims("a.pkg", b"hello"));
    assert!(!pkg::claims("a.deb", b"!<arch>\ndebian-binary   "));
    // A head too short to decode: the name decides, and never for pacman's names.
    let p = testpkg::sample(Codec::Xz);
    assert!(pkg::claims("a.pkg", &p[..8]));
    assert!(!pkg::claims("a.pkg.tar.xz", &p[..8]));
}

#[test]
fn analyzes_every_packing_format() {
    for c in testpkg::ALL {
        let p = testpkg::sample(c);
        let facts = testpkg::facts("hello-2.10_1.pkg", &p);
        let e = analyze("hello-2.10_1.pkg", &p).unwrap();
        assert_eq!(e.len(), 1);
        let e = &e[0];
        assert_eq!((e.name.as_str(), e.version.as_str()), ("hello", "2.10_1"));
        assert_eq!(e.shelf, "FreeBSD:14:amd64");
        assert_eq!(e.arch, "FreeBSD:14:amd64");
        assert_eq!(e.path, "pool/hello-2.10_1.pkg");
        let yaml = frag(e, repo::YAML);
        assert!(yaml.ends_with(b"\n"));
        assert_eq!(yaml.iter().filter(|&&b| b == b'\n').count(), 1);
        let line: Value = serde_json::from_slice(yaml).unwrap();
        let data: Value = serde_json::from_slice(frag(e, repo::DATA)).unwrap();
        assert_eq!(line, data);
        // Every field of the compact manifest, unchanged, plus what `pkg repo` adds.
        let Value::Object(mut want) = serde_json::from_str::<Value>(&testpkg::compact_manifest(
            "hello",
            "2.10_1",
            "FreeBSD:14:amd64",
        ))
        .unwrap() else {
            panic!()
        };
        want.insert("sum".into(), facts.sha256.clone().into());
        want.insert("pkgsize".into(), (p.len() as u64).into());
        want.insert("path".into(), "All/hello-2.10_1.pkg".into());
        want.insert("repopath".into(), "All/hello-2.10_1.pkg".into());
        assert_eq!(line, Value::Object(want), "{c:?}");
    }
}

#[test]
fn full_manifest_alone_is_made_compact() {
    let t = testpkg::tar(&[
        (
            "+MANIFEST",
            testpkg::full_manifest("solo", "1.0", "FreeBSD:13:aarch64").as_bytes(),
        ),
        ("/usr/local/bin/solo", b"x"),
    ]);
    let p = testpkg::compress(Codec::Zstd, &t);
    let e = analyze("solo-1.0.pkg", &p).unwrap();
    let line: Value = serde_json::from_slice(frag(&e[0], repo::YAML)).unwrap();
    for k in ["files", "directories", "scripts"] {
        assert!(line.get(k).is_none(), "{k} kept");
    }
    assert_eq!(line["abi"], "FreeBSD:13:aarch64");
    assert_eq!(e[0].shelf, "FreeBSD:13:aarch64");
}

#[test]
fn multi_frame_zstd_is_read() {
    let t = testpkg::package_tar("multi", "1", "FreeBSD:14:amd64");
    let (a, b) = t.split_at(1024);
    let mut p = testpkg::compress(Codec::Zstd, a);
    p.extend(testpkg::compress(Codec::Zstd, b));
    assert!(pkg::claims("m.pkg", &p[..p.len().min(4096)]));
    assert_eq!(analyze("multi-1.pkg", &p).unwrap()[0].name, "multi");
}

#[test]
fn truncated_packages_are_refused_without_panic() {
    for c in testpkg::ALL {
        let p = testpkg::sample(c);
        for cut in [
            0,
            1,
            8,
            100,
            511,
            600,
            p.len() / 2,
            p.len() - 20,
            p.len() - 1,
        ] {
            if cut >= p.len() {
                continue;
            }
            let short = &p[..cut];
            let _ = pkg::claims("x.pkg", short);
            let r = analyze("x.pkg", short);
            // An uncompressed tar cut inside its trailing zero blocks is still whole.
            if c == Codec::Plain && cut >= p.len() - 1024 {
                continue;
            }
            assert!(r.is_err(), "{c:?} cut at {cut}/{} was accepted", p.len());
        }
    }
}

#[test]
fn garbage_is_refused_without_panic() {
    let mut seed = 0x2545f4914f6cdd1du64;
    for c in testpkg::ALL {
        let p = testpkg::sample(c);
        for i in 0..40 {
            let mut bad = p.clone();
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = 6 + (seed as usize) % (bad.len() - 6);
                bad[at] ^= (seed >> 32) as u8 | 1;
            }
            let _ = pkg::claims("x.pkg", &bad[..bad.len().min(4096)]);
            let _ = analyze("x.pkg", &bad);
            let _ = i;
        }
    }
    assert!(analyze("x.pkg", b"").is_err());
    assert!(analyze("x.pkg", b"not a package at all").is_err());
}

#[test]
fn bad_manifests_name_what_is_wrong() {
    let cases: [(&str, &str); 6] = [
        ("{not json", "not a JSON manifest"),
        ("[1,2]", "not a JSON object"),
        (
            r#"{"version":"1","origin":"a/b","comment":"c","prefix":"/usr/local","abi":"FreeBSD:14:amd64"}"#,
            "has no name",
        ),
        (
            r#"{"name":"a","version":"1","origin":"a/b","comment":"c","prefix":"/usr/local"}"#,
            "no abi nor arch",
        ),
        (
            r#"{"name":"a","version":"1","origin":"a/b","comment":"c","prefix":"/usr/local","abi":"FreeBSD/../x"}"#,
            "invalid abi",
        ),
        (
            r#"{"name":"../a","version":"1","origin":"a/b","comment":"c","prefix":"/usr/local","abi":"FreeBSD:14:amd64"}"#,
            "invalid name",
        ),
    ];
    for (m, want) in cases {
        let p = testpkg::compress(
            Codec::Gzip,
            &testpkg::tar(&[("+COMPACT_MANIFEST", m.as_bytes()), ("x", b"x")]),
        );
        let err = analyze("a.pkg", &p).unwrap_err();
        assert!(err.contains(want), "{m}: {err}");
    }
    let p = testpkg::compress(Codec::Gzip, &testpkg::tar(&[("usr/x", b"x")]));
    assert!(analyze("a.pkg", &p).unwrap_err().contains("first member"));
    let p = testpkg::sample(Codec::Zstd);
    assert!(analyze("../a.pkg", &p).unwrap_err().contains("file name"));
}

#[test]
fn abis_fold_wildcards_into_concrete_trees() {
    let s = |shelf: &str| ShelfSummary {
        shelf: shelf.into(),
        entries: 1,
    };
    let r = testpkg::repo("r");
    assert_eq!(
        repo::abis(&r, &[s("FreeBSD:14:*"), s("FreeBSD:14:aarch64")]),
        ["FreeBSD:14:aarch64", "FreeBSD:14:amd64"]
    );
    assert_eq!(repo::abis(&r, &[s("FreeBSD:13:i386")]), ["FreeBSD:13:i386"]);
    assert!(repo::abis(&r, &[]).is_empty());
    let plan = repo::plan(&r, &[s("FreeBSD:14:*"), s("FreeBSD:14:aarch64")]).unwrap();
    let link = plan
        .links
        .iter()
        .find(|l| l.prefix == "FreeBSD:14:aarch64/All/")
        .unwrap();
    assert_eq!(link.shelves, ["FreeBSD:14:aarch64", "FreeBSD:14:*"]);
    // packagesite.yaml, data and meta.conf per ABI.
    assert_eq!(plan.files.len(), 6);
}

#[test]
fn meta_conf_has_pkg_repo_defaults() {
    let m = repo::meta_conf();
    for line in [
        "version = 2;",
        "packing_format = \"tzst\";",
        "manifests = \"packagesite.yaml\";",
        "data = \"data\";",
        "manifests_archive = \"packagesite\";",
    ] {
        assert!(m.lines().any(|l| l == line), "{line}");
    }
}

struct FakeSigner;

impl repo::Sign for FakeSigner {
    fn rsa_sign(&self, data: &[u8], _digest: RsaDigest) -> Result<Vec<u8>, String> {
        let mut v = b"SIG(".to_vec();
        v.extend_from_slice(data);
        v.push(b')');
        Ok(v)
    }
    fn rsa_public_key(&self) -> String {
        "-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n".into()
    }
}

fn sha256_hex(d: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(d))
}

fn decode(enc: Encoding, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match enc {
        Encoding::Zstd => {
            ruzstd::decoding::StreamingDecoder::new(data)
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
        }
        Encoding::Xz => {
            lzma_rust2::XzReader::new(data, true)
                .read_to_end(&mut out)
                .unwrap();
        }
        _ => out = data.to_vec(),
    }
    out
}

/// Plans, assembles and finishes like the host, for the given entries.
fn publish(entries: &[Entry]) -> BTreeMap<String, Vec<u8>> {
    let mut by_shelf: BTreeMap<String, Vec<&Entry>> = BTreeMap::new();
    for e in entries {
        by_shelf.entry(e.shelf.clone()).or_default().push(e);
    }
    let shelves: Vec<ShelfSummary> = by_shelf
        .iter()
        .map(|(s, v)| ShelfSummary {
            shelf: s.clone(),
            entries: v.len() as u32,
        })
        .collect();
    let r = testpkg::repo("r");
    let plan = repo::plan(&r, &shelves).unwrap();
    let mut files = BTreeMap::new();
    let mut assembled = Vec::new();
    for f in &plan.files {
        let mut data = Vec::new();
        for part in &f.parts {
            match part {
                Part::Literal(b) => data.extend_from_slice(b),
                Part::Entries(sel) => {
                    let mut first = true;
                    for s in &sel.shelves {
                        for e in by_shelf.get(s).into_iter().flatten() {
                            if !first {
                                data.extend_from_slice(&sel.separator);
                            }
                            first = false;
                            data.extend_from_slice(frag(e, &sel.fragment));
                        }
                    }
                }
                Part::TarMember(_) => panic!("not used"),
            }
        }
        let sha = sha256_hex(&data);
        assembled.push(Assembled {
            path: f.path.clone(),
            encoding: Encoding::Identity,
            size: data.len() as u64,
            md5: String::new(),
            sha1: String::new(),
            sha256: sha.clone(),
            sha512: String::new(),
            open_size: data.len() as u64,
            open_sha256: sha,
            patch: None,
        });
        files.insert(f.path.clone(), data);
    }
    for o in repo::finish(&r, &assembled, &FakeSigner).unwrap() {
        let data = match o.content {
            Content::Bytes(b) => b,
            Content::SameAs(p) => files[&p].clone(),
            Content::Concat(c) => {
                let mut joined = Vec::new();
                for p in c.pieces {
                    match p {
                        Piece::Bytes(b) => joined.extend(b),
                        Piece::File(f) => joined.extend_from_slice(&files[&f]),
                    }
                }
                // Stored encoded by the host; decoded here to read back.
                decode(Encoding::Identity, &joined)
            }
        };
        files.insert(o.path, data);
    }
    files
}

fn members(tar_bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(tar_bytes);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut d = Vec::new();
            e.read_to_end(&mut d).unwrap();
            (name, d)
        })
        .collect()
}

#[test]
fn publishes_signed_catalogues_per_abi() {
    let mut entries = Vec::new();
    for (n, abi, c) in [
        ("alpha", "FreeBSD:14:amd64", Codec::Zstd),
        ("beta", "FreeBSD:14:*", Codec::Xz),
        ("gamma", "FreeBSD:13:amd64", Codec::Gzip),
    ] {
        let p = testpkg::package(c, n, "1.0", abi);
        entries.extend(analyze(&format!("{n}-1.0.pkg"), &p).unwrap());
    }
    let files = publish(&entries);
    assert_eq!(files[repo::KEY_PATH], FakeSigner.rsa_public_key_bytes());
    for (abi, names) in [
        ("FreeBSD:14:amd64", vec!["alpha", "beta"]),
        ("FreeBSD:13:amd64", vec!["gamma"]),
    ] {
        let yaml = &files[&format!("{abi}/packagesite.yaml")];
        let got: Vec<String> = std::str::from_utf8(yaml)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["name"]
                    .as_str()
                    .unwrap()
                    .into()
            })
            .collect();
        assert_eq!(got, names, "{abi}");
        assert_eq!(
            files[&format!("{abi}/meta.conf")],
            repo::meta_conf().into_bytes()
        );
        for (archive, member, plain) in [
            ("packagesite.pkg", "packagesite.yaml", "packagesite.yaml"),
            ("packagesite.txz", "packagesite.yaml", "packagesite.yaml"),
            ("data.pkg", "data", "data"),
        ] {
            let plain = &files[&format!("{abi}/{plain}")];
            let m = members(&files[&format!("{abi}/{archive}")]);
            assert_eq!(m.len(), 2, "{abi}/{archive}");
            assert_eq!(m[0].0, "signature");
            let want = format!("SIG({})\0", sha256_hex(plain));
            assert_eq!(
                m[0].1,
                want.as_bytes(),
                "{abi}/{archive} signs the hex sha256"
            );
            assert_eq!((m[1].0.as_str(), &m[1].1), (member, plain));
        }
        let data: Value = serde_json::from_slice(&files[&format!("{abi}/data")]).unwrap();
        assert_eq!(data["groups"], Value::Array(vec![]));
        let pk: Vec<&str> = data["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(pk, names);
    }
}

impl FakeSigner {
    fn rsa_public_key_bytes(&self) -> Vec<u8> {
        use repo::Sign;
        self.rsa_public_key().into_bytes()
    }
}

#[test]
fn finish_asks_for_the_encodings_pkg_reads() {
    let p = testpkg::sample(Codec::Zstd);
    let e = analyze("hello-2.10_1.pkg", &p).unwrap();
    let _ = publish(&e);
    let r = testpkg::repo("r");
    let a = |path: &str| Assembled {
        path: path.into(),
        encoding: Encoding::Identity,
        size: 3,
        md5: String::new(),
        sha1: String::new(),
        sha256: "ab".repeat(32),
        sha512: String::new(),
        open_size: 3,
        open_sha256: "ab".repeat(32),
        patch: None,
    };
    let out = repo::finish(
        &r,
        &[
            a("FreeBSD:14:amd64/packagesite.yaml"),
            a("FreeBSD:14:amd64/data"),
            a("FreeBSD:14:amd64/meta.conf"),
        ],
        &FakeSigner,
    )
    .unwrap();
    let enc = |path: &str| match &out.iter().find(|o| o.path == path).unwrap().content {
        Content::Concat(c) => c.encoding,
        _ => panic!("{path} is not a concat"),
    };
    assert_eq!(enc("FreeBSD:14:amd64/packagesite.pkg"), Encoding::Zstd);
    assert_eq!(enc("FreeBSD:14:amd64/packagesite.txz"), Encoding::Xz);
    assert_eq!(enc("FreeBSD:14:amd64/data.pkg"), Encoding::Zstd);
    // A catalogue digest that is not hex is refused rather than signed.
    let mut bad = a("FreeBSD:14:amd64/packagesite.yaml");
    bad.open_sha256 = "zz".into();
    let meta = a("FreeBSD:14:amd64/meta.conf");
    assert!(repo::finish(&r, &[bad, a("FreeBSD:14:amd64/data"), meta], &FakeSigner).is_err());
    let _ = manifest::clip("x");
    let _ = decode(Encoding::Zstd, &testpkg::compress(Codec::Zstd, b"abc"));
    let _ = decode(Encoding::Xz, &testpkg::compress(Codec::Xz, b"abc"));
}
