//! The generator against `.crate` files built here as `cargo package` builds them: index lines
//! checked field by field against the registry index spec
//! (<https://doc.rust-lang.org/cargo/reference/registry-index.html>), bad inputs refused, and
//! plan/finish as the host runs them.
use crate::index::{self, ABOUT, CONFIG, LINE};
use crate::testcrate::{gzip, krate, manifest, simple, tar};
use crate::Cargo;
use reposmith_generator_sdk::prelude::*;
use reposmith_generator_sdk::testing;
use serde_json::{json, Value};

const SUM: &str = "5e3a1a8a2f0e4b7c9d6f1e2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e";

fn facts(name: &str, size: usize) -> Facts {
    Facts {
        sha256: SUM.into(),
        ..reposmith_generator_sdk::mem_facts(name, size as u64)
    }
}

fn analyze(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let mut read = testing::reader(bytes.to_vec());
    Cargo::analyze(&facts("x.crate", bytes.len()), &mut read, &[])
}

fn line(e: &Entry) -> Value {
    let f = e.fragments.iter().find(|f| f.name == LINE).unwrap();
    let text = std::str::from_utf8(&f.data).unwrap();
    assert!(
        text.ends_with('\n') && text.matches('\n').count() == 1,
        "{text:?}"
    );
    serde_json::from_str(text).unwrap()
}

#[test]
fn index_paths_follow_cargo() {
    // cargo `make_dep_prefix`, over the lower-cased name.
    assert_eq!(index::index_path("a"), "1/a");
    assert_eq!(index::index_path("ab"), "2/ab");
    assert_eq!(index::index_path("abc"), "3/a/abc");
    assert_eq!(index::index_path("Abcd"), "ab/cd/abcd");
    assert_eq!(index::index_path("cargo"), "ca/rg/cargo");
    assert_eq!(index::index_path("Serde_JSON"), "se/rd/serde_json");
}

#[test]
fn a_plain_crate() {
    let bytes = simple("leaf", "0.1.0", "");
    let entries = analyze(&bytes).unwrap();
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(
        (e.name.as_str(), e.version.as_str(), e.arch.as_str()),
        ("leaf", "0.1.0", "src")
    );
    assert_eq!(e.path, "crates/leaf/leaf-0.1.0.crate");
    assert_eq!(e.shelf, "le/af/leaf");
    // The exact line, in crates.io's field order.
    let text = String::from_utf8(e.fragments[0].data.clone()).unwrap();
    assert_eq!(
        text,
        format!(
            "{{\"name\":\"leaf\",\"vers\":\"0.1.0\",\"deps\":[],\"cksum\":\"{SUM}\",\
             \"features\":{{}},\"yanked\":false}}\n"
        )
    );
    let about = e.fragments.iter().find(|f| f.name == ABOUT).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&about.data).unwrap(),
        json!({"description": "The leaf crate", "license": "MIT"})
    );
}

/// Every field of the spec's schema, from a manifest as cargo normalizes it.
#[test]
fn every_field() {
    let rest = r#"
[dependencies.leaf]
version = "0.1"
registry-index = "sparse+http://127.0.0.1:8080/repos/demo/cargo/"

[dependencies.rand_alias]
version = "=0.8.5"
package = "rand"
optional = true
default-features = false
features = ["small_rng", "std"]

[dependencies.serde]
version = ">=1.0.100, <2"
features = ["derive"]

[build-dependencies.cc]
version = "1.0.3"

[dev-dependencies.proptest]
version = "~1.2"

[target."cfg(unix)".dependencies.libc]
version = "0.2"
optional = true

[target.x86_64-pc-windows-gnu.build-dependencies.winres]
version = "*"

[features]
default = ["std"]
std = []
fast = ["rand_alias/simd_support"]
weak = ["serde?/std"]
ns = ["dep:libc"]
"#;
    let bytes = krate(
        "Mid_Crate-1.2.3-beta.1+build.5",
        &format!(
            "[package]\nname = \"Mid_Crate\"\nversion = \"1.2.3-beta.1+build.5\"\n\
             links = \"midlib\"\nrust-version = \"1.70\"\n{rest}"
        ),
    );
    let e = &analyze(&bytes).unwrap()[0];
    assert_eq!(e.shelf, "mi/d_/mid_crate");
    assert_eq!(
        e.path,
        "crates/Mid_Crate/Mid_Crate-1.2.3-beta.1+build.5.crate"
    );
    let l = line(e);
    let keys: Vec<&str> = l.as_object().unwrap().keys().map(String::as_str).collect();
    // serde_json's map is sorted; the order on disk is checked in `a_plain_crate`.
    assert_eq!(
        keys,
        [
            "cksum",
            "deps",
            "features",
            "features2",
            "links",
            "name",
            "rust_version",
            "v",
            "vers",
            "yanked"
        ]
    );
    assert_eq!(l["name"], "Mid_Crate");
    assert_eq!(l["vers"], "1.2.3-beta.1+build.5");
    assert_eq!(l["cksum"], SUM);
    assert_eq!(l["yanked"], false);
    assert_eq!(l["links"], "midlib");
    assert_eq!(l["rust_version"], "1.70");
    // `dep:` and `?/` features go to features2 with v 2 (as crates.io splits them).
    assert_eq!(l["v"], 2);
    assert_eq!(
        l["features"],
        json!({"default": ["std"], "std": [], "fast": ["rand_alias/simd_support"]})
    );
    assert_eq!(
        l["features2"],
        json!({"weak": ["serde?/std"], "ns": ["dep:libc"]})
    );
    let crates_io = "https://github.com/rust-lang/crates.io-index";
    let deps = l["deps"].as_array().unwrap();
    let want = [
        // A dependency from another registry keeps its index URL.
        json!({"name": "leaf", "req": "^0.1", "features": [], "optional": false,
               "default_features": true, "target": null, "kind": "normal",
               "registry": "sparse+http://127.0.0.1:8080/repos/demo/cargo/"}),
        // Renamed: `name` is the new name, `package` the real one.
        json!({"name": "rand_alias", "req": "=0.8.5", "features": ["small_rng", "std"],
               "optional": true, "default_features": false, "target": null,
               "kind": "normal", "registry": crates_io, "package": "rand"}),
        json!({"name": "serde", "req": ">=1.0.100, <2", "features": ["derive"],
               "optional": false, "default_features": true, "target": null,
               "kind": "normal", "registry": crates_io}),
        json!({"name": "cc", "req": "^1.0.3", "features": [], "optional": false,
               "default_features": true, "target": null, "kind": "build",
               "registry": crates_io}),
        json!({"name": "proptest", "req": "~1.2", "features": [], "optional": false,
               "default_features": true, "target": null, "kind": "dev",
               "registry": crates_io}),
        json!({"name": "libc", "req": "^0.2", "features": [], "optional": true,
               "default_features": true, "target": "cfg(unix)", "kind": "normal",
               "registry": crates_io}),
        json!({"name": "winres", "req": "*", "features": [], "optional": false,
               "default_features": true, "target": "x86_64-pc-windows-gnu",
               "kind": "build", "registry": crates_io}),
    ];
    assert_eq!(deps.len(), want.len());
    for (got, want) in deps.iter().zip(&want) {
        assert_eq!(got, want);
    }
}

#[test]
fn shorthand_and_old_spellings() {
    let bytes = simple(
        "abc",
        "2.0.0",
        "[dependencies]\nx = \"1\"\n[dev_dependencies.y]\nversion = \"0.3\"\n\
         default_features = false\n[build_dependencies]\nz = \"0.1.2\"\n",
    );
    let e = &analyze(&bytes).unwrap()[0];
    assert_eq!(e.shelf, "3/a/abc");
    let l = line(e);
    let d = l["deps"].as_array().unwrap();
    let got: Vec<(&str, &str, &str, bool)> = d
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap(),
                d["req"].as_str().unwrap(),
                d["kind"].as_str().unwrap(),
                d["default_features"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("x", "^1", "normal", true),
            ("z", "^0.1.2", "build", true),
            ("y", "^0.3", "dev", false)
        ]
    );
    assert!(l.get("v").is_none() && l.get("features2").is_none());
}

#[test]
fn short_names_and_member_order() {
    // Cargo.toml need not come first; one- and two-letter names.
    for (name, shelf) in [("a", "1/a"), ("xy", "2/xy")] {
        let dir = format!("{name}-0.0.1");
        let bytes = gzip(&tar(&[
            (&format!("{dir}/src/lib.rs"), b""),
            (
                &format!("{dir}/Cargo.toml"),
                manifest(name, "0.0.1", "").as_bytes(),
            ),
        ]));
        let e = &analyze(&bytes).unwrap()[0];
        assert_eq!(e.shelf, shelf);
    }
}

fn refused(bytes: &[u8], needle: &str) {
    match analyze(bytes) {
        Err(e) => assert!(e.contains(needle), "{e:?} does not say {needle:?}"),
        Ok(e) => panic!("accepted: {e:?}"),
    }
}

#[test]
fn bad_names_and_versions_are_refused() {
    for (name, needle) in [
        ("1abc", "must start with an ASCII letter"),
        ("_abc", "must start with an ASCII letter"),
        ("caf\u{e9}", "only ASCII"),
        ("a.b", "only ASCII"),
        ("nul", "Windows device"),
        ("COM1", "Windows device"),
    ] {
        refused(&simple(name, "1.0.0", ""), needle);
    }
    let long = "a".repeat(65);
    refused(&simple(&long, "1.0.0", ""), "1 to 64");
    assert!(analyze(&simple(&"a".repeat(64), "1.0.0", "")).is_ok());
    for vers in ["1.0", "01.0.0", "1.0.0-", "v1.0.0", "1.0.0 "] {
        refused(&simple("leaf", vers, ""), "not a semantic version");
    }
}

#[test]
fn bad_manifests_are_refused() {
    let m = |rest: &str| simple("leaf", "0.1.0", rest);
    refused(&m("[dependencies]\nx = \"one\"\n"), "version requirement");
    refused(
        &m("[dependencies.x]\npath = \"../x\"\n"),
        "no version requirement",
    );
    refused(
        &m("[dependencies.x]\nversion = \"1\"\nregistry = \"rs\"\n"),
        "no registry-index",
    );
    refused(
        &m("[dependencies.x]\nversion = \"1\"\noptional = \"yes\"\n"),
        "not true or false",
    );
    refused(&m("[dependencies]\n\"a b\" = \"1\"\n"), "dependency name");
    refused(&m("[features]\nx = \"y\"\n"), "not a list");
    refused(&m("[dependencies\n"), "not TOML");
    refused(
        &krate(
            "leaf-0.1.0",
            "[package]\nname = \"leaf\"\nversion = \"0.1.0\"\nrust-version = \"latest\"\n",
        ),
        "rust-version",
    );
    refused(
        &krate(
            "leaf-0.1.0",
            "[package]\nname = \"leaf\"\nversion.workspace = true\n",
        ),
        "package.version",
    );
    refused(&krate("leaf-0.1.0", "[lib]\n"), "no [package]");
    refused(
        &gzip(&tar(&[("leaf-0.1.0/Cargo.toml", b"name = \"\xff\"\n")])),
        "not UTF-8",
    );
    // The parser's message on one line, without the excerpt of the file.
    let e = analyze(&m("[dependencies\n")).unwrap_err();
    assert!(
        !e.contains('\n') && e.starts_with("Cargo.toml is not TOML: "),
        "{e:?}"
    );
    // The directory must be NAME-VERSION of the manifest (cargo unpacks by it).
    refused(
        &krate("leaf-0.2.0", &manifest("leaf", "0.1.0", "")),
        "not leaf-0.1.0",
    );
    refused(
        &krate("other-0.1.0", &manifest("leaf", "0.1.0", "")),
        "not leaf-0.1.0",
    );
}

#[test]
fn bad_archives_are_refused() {
    let good = manifest("leaf", "0.1.0", "");
    refused(b"not gzip at all", "not a gzip stream");
    refused(&gzip(b"not a tar"), "bad .crate archive");
    refused(
        &gzip(&tar(&[("leaf-0.1.0/src/lib.rs", b"")])),
        "no NAME-VERSION/Cargo.toml",
    );
    refused(&gzip(&tar(&[("Cargo.toml", good.as_bytes())])), "not under");
    refused(
        &gzip(&tar(&[
            ("leaf-0.1.0/Cargo.toml", good.as_bytes()),
            ("evil/x", b""),
        ])),
        "not under leaf-0.1.0/",
    );
    refused(
        &gzip(&tar(&[
            ("leaf-0.1.0/Cargo.toml", good.as_bytes()),
            ("leaf-0.1.0/Cargo.toml", good.as_bytes()),
        ])),
        "appears twice",
    );
    // Over the manifest cap: refused by its header, without reading it.
    let big = format!(
        "{good}#{}\n",
        "x".repeat(crate::krate::MAX_MANIFEST as usize)
    );
    refused(&krate("leaf-0.1.0", &big), "over the");
}

#[test]
fn a_decompression_bomb_is_refused() {
    // The manifest, then a member of zeros (~1000:1) past MAX_UNPACKED: refused once the cap
    // is reached, not inflated to the end.
    let good = manifest("leaf", "0.1.0", "");
    let mut t = tar(&[("leaf-0.1.0/Cargo.toml", good.as_bytes())]);
    t.truncate(t.len() - 1024); // its end-of-archive blocks
    let size = crate::krate::MAX_UNPACKED + 1;
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_path("leaf-0.1.0/big").unwrap();
    h.set_cksum();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut put = |b: &[u8]| std::io::Write::write_all(&mut gz, b).unwrap();
    put(&t);
    put(h.as_bytes());
    let zeros = vec![0u8; 1 << 20];
    let mut left = size + 2048;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        put(&zeros[..n]);
        left -= n as u64;
    }
    let bomb = gz.finish().unwrap();
    assert!((bomb.len() as u64) < crate::krate::MAX_VERIFIED);
    refused(&bomb, "unpacks to more than");
}

#[test]
fn truncated_and_damaged_crates_never_panic() {
    let good = simple(
        "leaf",
        "0.1.0",
        "[dependencies]\nserde = \"1\"\n[features]\nx = []\n",
    );
    assert!(analyze(&good).is_ok());
    // Every truncation is refused (the gzip trailer is checked).
    for n in 0..good.len() {
        assert!(analyze(&good[..n]).is_err(), "cut at {n} accepted");
    }
    for bad in testing::damaged(&good, 600) {
        let _ = reposmith_generator_sdk::parse_package::<Cargo>("x.crate", &bad, &[]);
    }
}

#[test]
fn claims_by_name_and_content() {
    let good = simple("leaf", "0.1.0", "");
    let head = &good[..good.len().min(4096)];
    assert!(Cargo::claims("leaf-0.1.0.crate", head, &[]));
    assert!(!Cargo::claims("leaf-0.1.0.tar.gz", head, &[]));
    assert!(!Cargo::claims("x.crate", b"PK\x03\x04", &[]));
    // A pacman package or an apk named .crate: a gzip'd tar whose first member is no directory.
    let pacman = gzip(&tar(&[(".PKGINFO", b"pkgname = x\n")]));
    assert!(!Cargo::claims("x.crate", &pacman, &[]));
    // A head that does not decompress far enough: the name decides.
    assert!(Cargo::claims("x.crate", &good[..12], &[]));
    assert!(!Cargo::claims("x.crate", b"", &[]));
}

fn shelf(s: &str, n: u32) -> ShelfSummary {
    ShelfSummary {
        shelf: s.into(),
        entries: n,
    }
}

#[test]
fn plan_one_index_file_per_name() {
    let repo = testing::repo("demo", &[]);
    let plan = Cargo::plan(
        &repo,
        &[
            shelf("le/af/leaf", 2),
            shelf("3/a/abc", 1),
            shelf("1/x", 0),
            // Never published: not an index path.
            shelf("../etc", 1),
            shelf("le/af/Leaf", 1),
            shelf("xx/af/leaf", 1),
        ],
    )
    .unwrap();
    assert!(plan.links.is_empty());
    let paths: Vec<&str> = plan.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["le/af/leaf", "3/a/abc"]);
    let f = &plan.files[0];
    assert_eq!(f.encodings, [Encoding::Identity]);
    assert!(f.history.is_none());
    assert_eq!(
        f.parts,
        [Part::Entries(Selection {
            shelves: vec!["le/af/leaf".into()],
            fragment: LINE.into(),
            separator: vec![],
        })]
    );
}

fn config(base_url: &str) -> serde_json::Value {
    let mut repo = testing::repo("demo", &[]);
    repo.base_url = base_url.into();
    // `finish` signs nothing: `index::finish` is all of it.
    let out = index::finish(&repo);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].path, CONFIG);
    assert_eq!(out[0].media_type.as_deref(), Some("application/json"));
    let Content::Bytes(b) = &out[0].content else {
        panic!("config.json is bytes")
    };
    serde_json::from_slice(b).unwrap()
}

#[test]
fn config_json_dl() {
    let dl = "http://h:8080/repos/demo/cargo/crates/{crate}/{crate}-{version}.crate";
    // The host's `base-url`, with or without a trailing slash.
    for url in [
        "http://h:8080/repos/demo/cargo",
        "http://h:8080/repos/demo/cargo/",
    ] {
        assert_eq!(config(url), json!({ "dl": dl }));
    }
    // Escaped, whatever the URL holds.
    assert_eq!(
        config("http://h/\"x\\")["dl"],
        "http://h/\"x\\/crates/{crate}/{crate}-{version}.crate"
    );
}

/// The index file as the host assembles it (the `line` fragments of the shelf, no separator)
/// is one JSON object per line, one per version.
#[test]
fn an_index_file_lists_every_version() {
    let mut text = Vec::new();
    for v in ["0.1.0", "0.1.1", "0.2.0"] {
        let e = analyze(&simple("leaf", v, "")).unwrap().remove(0);
        assert_eq!(e.shelf, "le/af/leaf");
        text.extend(
            e.fragments
                .into_iter()
                .find(|f| f.name == LINE)
                .unwrap()
                .data,
        );
    }
    let text = String::from_utf8(text).unwrap();
    let vers: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["vers"]
                .as_str()
                .unwrap()
                .into()
        })
        .collect();
    assert_eq!(vers, ["0.1.0", "0.1.1", "0.2.0"]);
}

#[test]
fn versions_in_semver_precedence() {
    let v: Vec<String> = ["1.0.0", "0.10.0", "0.9.0", "1.0.0-alpha", "1.0.0+b", "junk"]
        .map(String::from)
        .to_vec();
    assert_eq!(Cargo::compare_versions(&v), [4, 2, 1, 3, 4, 0]);
}

#[test]
fn describe_a_version() {
    let bytes = simple(
        "mid",
        "0.2.0",
        "[dependencies.leaf]\nversion = \"0.1\"\n[dependencies.r]\nversion = \">=1, <3\"\n\
         package = \"rand\"\n[dependencies.o]\nversion = \"1\"\noptional = true\n\
         [dev-dependencies]\nd = \"1\"\n",
    );
    let e = analyze(&bytes).unwrap().remove(0);
    let d = Cargo::describe(&e.fragments);
    assert_eq!(d.summary, "The mid crate");
    let deps: Vec<(String, String, String)> = d
        .depends
        .iter()
        .map(|alts| {
            assert_eq!(alts.len(), 1);
            (
                alts[0].name.clone(),
                alts[0].op.clone(),
                alts[0].version.clone(),
            )
        })
        .collect();
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        deps,
        [
            s("leaf", ">=", "0.1.0"),
            s("rand", ">=", "1.0.0"),
            s("rand", "<", "3.0.0")
        ]
    );
    let field = |k: &str| -> Vec<&str> {
        d.fields
            .iter()
            .filter(|h| h.key == k)
            .map(|h| h.value.as_str())
            .collect()
    };
    assert_eq!(field("license"), ["MIT"]);
    assert_eq!(
        field("dep"),
        [
            "leaf ^0.1 (normal)",
            "o ^1 (normal, optional)",
            "rand >=1, <3 (normal)",
            "d ^1 (dev)"
        ]
    );
}

#[test]
fn client_files() {
    let repo = reposmith_generator_sdk::client::sample("https://repo.example/repos/demo/cargo");
    let f = Cargo::client_config(&repo).unwrap();
    let names = reposmith_generator_sdk::client::names(&f);
    assert_eq!(
        names,
        [
            ("cargo", "demo-cargo.toml"),
            ("cargo", "demo-cargo-replace.toml")
        ]
    );
    assert_eq!(
        String::from_utf8(f[0].data.clone()).unwrap(),
        "# Demo packages: add to .cargo/config.toml; depend with `CRATE = { version = \"...\", registry = \"demo\" }`
# mirror: index = \"sparse+https://mirror.example/repos/demo/cargo/\"
[registries.demo]
index = \"sparse+https://repo.example/repos/demo/cargo/\"
"
    );
    assert_eq!(
        String::from_utf8(f[1].data.clone()).unwrap(),
        "# Demo packages: add to .cargo/config.toml to take every crate from it
[source.crates-io]
replace-with = \"demo\"

[source.demo]
registry = \"sparse+https://repo.example/repos/demo/cargo/\"
"
    );
    let mut off = repo.clone();
    off.enabled = false;
    off.name = "my repo".into();
    let f = Cargo::client_config(&off).unwrap();
    let text = String::from_utf8(f[0].data.clone()).unwrap();
    assert!(text.contains("# [registries.\"my repo\"]\n"), "{text}");
    assert_eq!(f[0].file_name, "my repo-cargo.toml");
}
