//! The generator against tarballs built here as `npm pack` builds them: the version document
//! and its `dist`, bad inputs refused, and the packument as the host assembles it from `plan`.
use crate::packument::{self, DOC, JSON};
use crate::Npm;
use reposmith_generator_sdk::prelude::*;
use reposmith_generator_sdk::testing;
use serde_json::{json, Value};

/// A tarball of `files` (path, bytes), gzip-compressed like npm pack's.
fn tgz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, path, *data).unwrap();
    }
    let raw = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    gz.finish().unwrap()
}

fn pkg(manifest: &Value) -> Vec<u8> {
    tgz(&[
        ("package/package.json", manifest.to_string().as_bytes()),
        ("package/index.js", b"module.exports = 1;\n"),
    ])
}

fn hints() -> Vec<Hint> {
    vec![Hint {
        key: "repo.url".into(),
        value: "http://h:8080/repos/demo".into(),
    }]
}

fn facts(size: usize) -> Facts {
    Facts {
        sha1: "ab".repeat(20),
        // 64 bytes of 0x01: base64 "AQEB..."
        sha512: "01".repeat(64),
        ..reposmith_generator_sdk::mem_facts("x.tgz", size as u64)
    }
}

fn analyze(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let mut read = testing::reader(bytes.to_vec());
    Npm::analyze(&facts(bytes.len()), &mut read, &hints())
}

/// The version document of an entry: `"VERSION":{...}`.
fn doc(e: &Entry) -> (String, Value) {
    let f = e.fragments.iter().find(|f| f.name == DOC).unwrap();
    let text = std::str::from_utf8(&f.data).unwrap();
    let wrapped: Value = serde_json::from_str(&format!("{{{text}}}")).unwrap();
    let (k, v) = wrapped.as_object().unwrap().iter().next().unwrap();
    (k.clone(), v.clone())
}

#[test]
fn a_plain_package() {
    let m = json!({"name": "left-pad", "version": "1.3.0", "dependencies": {"x": "^1.0.0"}});
    let e = analyze(&pkg(&m)).unwrap().remove(0);
    assert_eq!(
        (e.name.as_str(), e.version.as_str(), e.arch.as_str()),
        ("left-pad", "1.3.0", "any")
    );
    assert_eq!(e.path, "left-pad/-/left-pad-1.3.0.tgz");
    assert_eq!(e.shelf, "left-pad@1.3.0");
    let (version, d) = doc(&e);
    assert_eq!(version, "1.3.0");
    assert_eq!(d["_id"], "left-pad@1.3.0");
    assert_eq!(d["dependencies"], json!({"x": "^1.0.0"}));
    let b64 = format!("sha512-{}", "AQEB".repeat(21) + "AQ==");
    assert_eq!(
        d["dist"],
        json!({
            "tarball": "http://h:8080/repos/demo/npm/left-pad/-/left-pad-1.3.0.tgz",
            "integrity": b64,
            "shasum": "ab".repeat(20),
        })
    );
}

#[test]
fn a_scoped_package() {
    let e = analyze(&pkg(
        &json!({"name": "@acme/greet", "version": "2.0.0-rc.1"}),
    ))
    .unwrap()
    .remove(0);
    assert_eq!(e.path, "@acme/greet/-/greet-2.0.0-rc.1.tgz");
    assert_eq!(e.shelf, "@acme/greet@2.0.0-rc.1");
    assert_eq!(
        doc(&e).1["dist"]["tarball"],
        "http://h:8080/repos/demo/npm/@acme/greet/-/greet-2.0.0-rc.1.tgz"
    );
}

#[test]
fn bad_tarballs_are_refused_with_a_reason() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not gzip at all".to_vec(), "not a gzip stream"),
        (
            tgz(&[("package/index.js", b"1")]),
            "no package/package.json",
        ),
        (
            tgz(&[("package/package.json", b"[1, 2]")]),
            "not a JSON object",
        ),
        (pkg(&json!({"version": "1.0.0"})), "no \"name\""),
        (
            pkg(&json!({"name": "Upper", "version": "1.0.0"})),
            "not a valid npm package name",
        ),
        (
            pkg(&json!({"name": "@a/", "version": "1.0.0"})),
            "not a valid npm package name",
        ),
        (pkg(&json!({"name": "ok", "version": "1.0"})), "not SemVer"),
        (
            pkg(&json!({"name": "ok", "version": "01.0.0"})),
            "not SemVer",
        ),
    ];
    for (bytes, why) in cases {
        let e = analyze(&bytes).unwrap_err();
        assert!(e.contains(why), "{why}: {e}");
    }
    // Truncated: the gzip stream is read to its end.
    let whole = pkg(&json!({"name": "ok", "version": "1.0.0"}));
    let e = analyze(&whole[..whole.len() - 10]).unwrap_err();
    assert!(e.contains("corrupt or truncated"), "{e}");
}

#[test]
fn claims_by_name_and_content() {
    let t = pkg(&json!({"name": "ok", "version": "1.0.0"}));
    assert!(Npm::claims("ok-1.0.0.tgz", &t[..t.len().min(4096)], &[]));
    assert!(!Npm::claims("ok-1.0.0.crate", &t, &[]));
    assert!(!Npm::claims("ok.tgz", b"PK\x03\x04", &[]));
    let loose = tgz(&[("package.json", b"{}")]);
    assert!(!Npm::claims("loose.tgz", &loose, &[]));
}

/// The packument as the host builds it from `plan`: literal parts, and each selection's
/// fragments in the host's order (shelf list order here) joined by the separator.
fn assemble(plan: &PublishPlan, path: &str, docs: &[(&str, Vec<u8>)]) -> Value {
    let f = plan.files.iter().find(|f| f.path == path).unwrap();
    assert_eq!(f.media_type.as_deref(), Some(JSON));
    let mut out = Vec::new();
    for p in &f.parts {
        match p {
            Part::Literal(b) => out.extend_from_slice(b),
            Part::Entries(sel) => {
                let picked: Vec<&Vec<u8>> = docs
                    .iter()
                    .filter(|(shelf, _)| sel.shelves.iter().any(|s| s == shelf))
                    .map(|(_, d)| d)
                    .collect();
                for (i, d) in picked.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(&sel.separator);
                    }
                    out.extend_from_slice(d);
                }
            }
            Part::TarMember(_) => panic!("no tar members in a packument"),
        }
    }
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn a_packument_per_name_with_the_highest_release_as_latest() {
    // Text order would make 1.9.0 the newest; a pre-release is never `latest` over a release.
    let versions = ["1.10.0", "1.9.0", "2.0.0-beta.1"];
    let mut docs = Vec::new();
    let mut shelves = Vec::new();
    for v in versions {
        let e = analyze(&pkg(&json!({"name": "left-pad", "version": v})))
            .unwrap()
            .remove(0);
        shelves.push(ShelfSummary {
            shelf: e.shelf.clone(),
            entries: 1,
        });
        docs.push((v, e));
    }
    let scoped = analyze(&pkg(
        &json!({"name": "@acme/greet", "version": "0.1.0-alpha"}),
    ))
    .unwrap()
    .remove(0);
    shelves.push(ShelfSummary {
        shelf: scoped.shelf.clone(),
        entries: 1,
    });
    // A shelf that is no package's (not NAME@VERSION) is ignored.
    shelves.push(ShelfSummary {
        shelf: "junk".into(),
        entries: 1,
    });
    let plan = packument::plan(&shelves);
    assert_eq!(plan.files.len(), 2);
    let frag = |e: &Entry| e.fragments[0].data.clone();
    let all: Vec<(&str, Vec<u8>)> = docs
        .iter()
        .map(|(_, e)| (e.shelf.as_str(), frag(e)))
        .chain([(scoped.shelf.as_str(), frag(&scoped))])
        .collect();
    let p = assemble(&plan, "left-pad", &all);
    assert_eq!(p["name"], "left-pad");
    assert_eq!(p["dist-tags"], json!({"latest": "1.10.0"}));
    let mut listed: Vec<&String> = p["versions"].as_object().unwrap().keys().collect();
    listed.sort();
    assert_eq!(listed, ["1.10.0", "1.9.0", "2.0.0-beta.1"]);
    assert_eq!(p["versions"]["1.9.0"]["version"], "1.9.0");
    // Only pre-releases: the highest of them.
    let s = assemble(&plan, "@acme%2Fgreet", &all);
    assert_eq!(s["dist-tags"]["latest"], "0.1.0-alpha");
}

#[test]
fn describe_and_versions() {
    let e = analyze(&pkg(&json!({
        "name": "ok", "version": "1.0.0", "description": "does things",
        "dependencies": {"left-pad": "^1.3.0"}
    })))
    .unwrap()
    .remove(0);
    let d = Npm::describe(&e.fragments);
    assert_eq!(d.summary, "does things");
    assert_eq!(d.depends.len(), 1);
    assert_eq!(d.depends[0][0].name, "left-pad");
    assert!(d
        .fields
        .iter()
        .any(|h| h.key == "dependency" && h.value == "left-pad ^1.3.0"));
    let v: Vec<String> = ["1.10.0", "1.9.0", "1.10.0-rc.1", "1.10.0+build"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(Npm::compare_versions(&v), vec![2, 0, 1, 2]);
}

#[test]
fn client_files() {
    let mut repo = reposmith_generator_sdk::client::sample("http://h/repos/demo/npm");
    let files = Npm::client_config(&repo).unwrap();
    let text = String::from_utf8(files[0].data.clone()).unwrap();
    assert!(
        text.contains("\nregistry=http://h/repos/demo/npm/\n"),
        "{text}"
    );
    repo.enabled = false;
    let files = Npm::client_config(&repo).unwrap();
    let text = String::from_utf8(files[0].data.clone()).unwrap();
    assert!(text.contains("\n; registry="), "{text}");
}
