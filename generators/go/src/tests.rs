//! The generator against module zips built here as `golang.org/x/mod/zip` lays them out (the
//! SDK's writer: Go's archive/zip, deflated, data descriptors): paths, versions and escaping
//! against `golang.org/x/mod/module`'s rules, bad zips refused with go's reasons, and
//! plan/finish as the host runs them.
use crate::module::{self, check, check_path, compare, escape, unescape};
use crate::proxy::{self, INFO, LIST, MOD};
use crate::{gomod, Go};
use reposmith_generator_sdk::prelude::*;
use reposmith_generator_sdk::testing;

fn analyze_with(bytes: &[u8], hints: &[Hint]) -> Result<Vec<Entry>, String> {
    let mut read = testing::reader(bytes.to_vec());
    let facts = reposmith_generator_sdk::mem_facts("m.zip", bytes.len() as u64);
    Go::analyze(&facts, &mut read, hints)
}

fn analyze(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    analyze_with(bytes, &[])
}

fn err(bytes: &[u8]) -> String {
    analyze(bytes).expect_err("refused")
}

/// A module zip of `path@version` with these files (`go.mod` among them or not).
fn modzip(path: &str, version: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let names: Vec<String> = files
        .iter()
        .map(|(n, _)| format!("{path}@{version}/{n}"))
        .collect();
    let members: Vec<(&str, &[u8])> = names
        .iter()
        .zip(files)
        .map(|(n, (_, d))| (n.as_str(), *d))
        .collect();
    testing::zip(&members)
}

/// A plain module: go.mod declaring `path`, one source file.
fn simple(path: &str, version: &str) -> Vec<u8> {
    let go_mod = format!("module {path}\n\ngo 1.19\n");
    modzip(
        path,
        version,
        &[
            ("go.mod", go_mod.as_bytes()),
            ("hello.go", b"package hello\n"),
            ("sub/x.go", b"package sub\n"),
        ],
    )
}

fn fragment<'a>(e: &'a Entry, name: &str) -> &'a [u8] {
    &e.fragments.iter().find(|f| f.name == name).unwrap().data
}

fn hint(key: &str, value: &str) -> Hint {
    Hint {
        key: key.into(),
        value: value.into(),
    }
}

#[test]
fn escaping_is_gos() {
    // golang.org/x/mod/module's own examples.
    assert_eq!(
        escape("github.com/Azure/azure-sdk-for-go"),
        "github.com/!azure/azure-sdk-for-go"
    );
    assert_eq!(
        escape("github.com/GoogleCloudPlatform/x"),
        "github.com/!google!cloud!platform/x"
    );
    assert_eq!(escape("v1.0.0-RC1"), "v1.0.0-!r!c1");
    assert_eq!(escape("example.com/plain"), "example.com/plain");
    assert_eq!(
        unescape("github.com/!azure/x").unwrap(),
        "github.com/Azure/x"
    );
    for bad in ["github.com/Azure", "a!", "a!1", "a!!b", "é"] {
        assert_eq!(unescape(bad), None, "{bad}");
    }
    assert_eq!(
        module::version_dir("example.com/Greet", "v1.0.0-Beta"),
        "example.com/!greet/@v/v1.0.0-!beta"
    );
    assert_eq!(
        module::parse_version_dir("example.com/!greet/@v/v1.0.0-!beta").unwrap(),
        ("example.com/Greet".into(), "v1.0.0-Beta".into())
    );
}

#[test]
fn module_paths_follow_check_path() {
    for good in [
        "example.com/x",
        "example.com",
        "github.com/Azure/azure-sdk-for-go/v68",
        "example.com/a_b~c/d-e.f",
        "gopkg.in/yaml.v3",
        "gopkg.in/check.v1",
        "gopkg.in/x.v0",
        "gopkg.in/src-d/go-git.v4-unstable",
    ] {
        assert_eq!(check_path(good), Ok(()), "{good}");
    }
    for (bad, why) in [
        ("", "empty string"),
        ("example/x", "missing dot in first path element"),
        ("Example.com/x", "invalid char 'E' in first path element"),
        ("example.com/x/", "trailing slash"),
        ("example.com//x", "double slash"),
        ("-example.com/x", "leading dash"),
        ("example.com/.x", "leading dot in path element"),
        ("example.com/x.", "trailing dot in path element"),
        ("example.com/..", "invalid path element"),
        ("example.com/a b", "invalid char ' '"),
        ("example.com/a@b", "invalid char '@'"),
        ("example.com/a+b", "invalid char '+'"),
        ("example.com/é", "invalid char 'é'"),
        (
            "example.com/com1.x",
            "disallowed as path element component on Windows",
        ),
        ("example.com/PROGRA~1", "trailing tilde and digits"),
        ("example.com/x/v1", "invalid version"),
        ("example.com/x/v0", "invalid version"),
        ("example.com/x/v02", "invalid version"),
        ("example.com/x/v2.0", "invalid version"),
        ("gopkg.in/yaml", "invalid version"),
        ("gopkg.in/yaml.v01", "invalid version"),
    ] {
        let e = check_path(bad).expect_err(bad);
        assert!(e.contains(why), "{bad}: {e}");
        assert!(e.starts_with("malformed module path"), "{e}");
    }
    assert_eq!(
        module::split_path_version("example.com/x/v2"),
        Some(("example.com/x", "/v2"))
    );
    assert_eq!(
        module::split_path_version("example.com/x"),
        Some(("example.com/x", ""))
    );
    assert_eq!(
        module::split_path_version("gopkg.in/yaml.v3"),
        Some(("gopkg.in/yaml", ".v3"))
    );
}

#[test]
fn versions_are_canonical_and_match_the_path() {
    for (path, v) in [
        ("example.com/x", "v0.1.0"),
        ("example.com/x", "v1.2.3-rc.1"),
        ("example.com/x", "v1.2.3-RC.1.0a"),
        ("example.com/x", "v0.0.0-20191109021931-daa7c04131f5"),
        ("example.com/x", "v2.0.0+incompatible"),
        ("example.com/x/v2", "v2.3.4"),
        ("gopkg.in/yaml.v2", "v2.4.0"),
        ("gopkg.in/check.v1", "v0.0.0-20161208181325-20d25e280405"),
    ] {
        assert_eq!(check(path, v), Ok(()), "{path}@{v}");
    }
    for (path, v, why) in [
        ("example.com/x", "1.0.0", "not a semantic version"),
        ("example.com/x", "v1.0", "not a semantic version"),
        ("example.com/x", "v1.0.0.0", "not a semantic version"),
        ("example.com/x", "v01.0.0", "not a semantic version"),
        ("example.com/x", "v1.0.0-01", "not a semantic version"),
        ("example.com/x", "v1.0.0-", "not a semantic version"),
        ("example.com/x", "v1.0.0-a..b", "not a semantic version"),
        ("example.com/x", "v1.0.0+build.1", "not canonical"),
        ("example.com/x", "v2.0.0", "should be v0 or v1, not v2"),
        (
            "example.com/x",
            "v1.0.0+incompatible",
            "major version v1 is compatible",
        ),
        ("example.com/x/v2", "v3.0.0", "should be v2, not v3"),
        (
            "example.com/x/v2",
            "v2.0.0+incompatible",
            "+incompatible suffix not allowed",
        ),
        ("gopkg.in/yaml.v2", "v3.0.0", "should be v2, not v3"),
    ] {
        let e = check(path, v).expect_err(v);
        assert!(e.contains(why), "{path}@{v}: {e}");
    }
}

#[test]
fn semver_order_is_gos() {
    // semver.org's example order, then go's own specifics.
    let ordered = [
        "v0.0.0-20191109021931-daa7c04131f5",
        "v1.0.0-alpha",
        "v1.0.0-alpha.1",
        "v1.0.0-alpha.beta",
        "v1.0.0-beta",
        "v1.0.0-beta.2",
        "v1.0.0-beta.11",
        "v1.0.0-rc.1",
        "v1.0.0",
        "v1.9.0",
        "v1.10.0",
        "v2.0.0+incompatible",
        "v10.0.0",
    ];
    for w in ordered.windows(2) {
        assert_eq!(compare(w[0], w[1]), std::cmp::Ordering::Less, "{w:?}");
        assert_eq!(compare(w[1], w[0]), std::cmp::Ordering::Greater, "{w:?}");
    }
    assert_eq!(
        compare("v2.0.0+incompatible", "v2.0.0"),
        std::cmp::Ordering::Equal
    );
    assert_eq!(compare("junk", "v0.0.1"), std::cmp::Ordering::Less);
    let v: Vec<String> = ["v1.10.0", "v1.9.0", "v1.9.0", "v1.0.0-rc.1"]
        .map(String::from)
        .to_vec();
    assert_eq!(Go::compare_versions(&v), [2, 1, 1, 0]);
}

#[test]
fn a_module_with_an_upper_case_path() {
    let bytes = simple("example.com/Greet", "v1.0.0");
    let entries = analyze(&bytes).unwrap();
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(
        (e.name.as_str(), e.version.as_str(), e.arch.as_str()),
        ("example.com/Greet", "v1.0.0", "src")
    );
    assert_eq!(e.shelf, "example.com/!greet/@v/v1.0.0");
    assert_eq!(e.path, "example.com/!greet/@v/v1.0.0.zip");
    assert_eq!(fragment(e, INFO), b"{\"Version\":\"v1.0.0\"}\n");
    assert_eq!(fragment(e, MOD), b"module example.com/Greet\n\ngo 1.19\n");
    assert_eq!(fragment(e, LIST), b"v1.0.0\n");
}

#[test]
fn the_time_comes_from_a_hint() {
    let bytes = simple("example.com/x/v3", "v3.1.0-Pre.2");
    let t = "2024-02-29T23:59:59.123+01:00";
    let e = &analyze_with(&bytes, &[hint("time", t)]).unwrap()[0];
    assert_eq!(e.shelf, "example.com/x/v3/@v/v3.1.0-!pre.2");
    assert_eq!(
        String::from_utf8_lossy(fragment(e, INFO)),
        format!("{{\"Version\":\"v3.1.0-Pre.2\",\"Time\":\"{t}\"}}\n")
    );
    let e = analyze_with(&bytes, &[hint("time", "yesterday")]).unwrap_err();
    assert!(e.contains("not an RFC 3339 time"), "{e}");
    for good in [
        "2019-11-09T02:19:31Z",
        "2000-02-29T00:00:00-07:30",
        "2023-01-01T10:00:00.5Z",
    ] {
        assert!(proxy::is_rfc3339(good), "{good}");
    }
    for bad in [
        "2019-11-09 02:19:31Z",
        "2019-11-09T02:19:31",
        "2019-13-09T02:19:31Z",
        "2023-02-29T00:00:00Z",
        "2019-11-09T24:00:00Z",
        "2019-11-09T02:19:60Z",
        "2019-11-09T02:19:31.Z",
        "2019-11-09T02:19:31+0100",
        "2019-11-09T02:19:31z",
        "2019-11-09T02:19:31Zé",
        "é",
        "",
    ] {
        assert!(!proxy::is_rfc3339(bad), "{bad}");
    }
}

#[test]
fn a_module_without_go_mod_gets_gos_legacy_one() {
    let bytes = modzip(
        "example.com/old",
        "v0.9.1",
        &[("errors.go", b"package errors\n")],
    );
    let e = &analyze(&bytes).unwrap()[0];
    assert_eq!(fragment(e, MOD), b"module example.com/old\n");
    let bytes = modzip(
        "example.com/old",
        "v2.1.0+incompatible",
        &[("errors.go", b"package errors\n")],
    );
    let e = &analyze(&bytes).unwrap()[0];
    assert_eq!(e.shelf, "example.com/old/@v/v2.1.0+incompatible");
    assert_eq!(fragment(e, MOD), b"module example.com/old\n");
    // A /vN path means the module has a go.mod.
    let bytes = modzip("example.com/new/v2", "v2.0.0", &[("a.go", b"package a\n")]);
    assert!(err(&bytes).contains("go.mod is missing"), "{}", err(&bytes));
}

#[test]
fn go_mod_syntax() {
    let cases: [(&str, Result<&str, &str>); 9] = [
        ("module example.com/x\n", Ok("example.com/x")),
        (
            "// Deprecated: use y\nmodule   example.com/x // the module\n\ngo 1.21\n",
            Ok("example.com/x"),
        ),
        ("module \"example.com/x\"\n", Ok("example.com/x")),
        ("module `example.com/x`\r\n", Ok("example.com/x")),
        ("module (\n\texample.com/x\n)\n", Ok("example.com/x")),
        ("go 1.19\n", Err("no module directive")),
        (
            "module a.com/x\nmodule a.com/y\n",
            Err("repeated module statement"),
        ),
        ("module a.com/x a.com/y\n", Err("usage")),
        ("module \"a.com/x\n", Err("cannot parse")),
    ];
    for (text, want) in cases {
        match (gomod::module_path(text.as_bytes()), want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{text:?}"),
            (Err(got), Err(want)) => assert!(got.contains(want), "{text:?}: {got}"),
            (got, want) => panic!("{text:?}: {got:?}, want {want:?}"),
        }
    }
    assert!(gomod::module_path(b"module \xff\n")
        .unwrap_err()
        .contains("UTF-8"));
    let (go, reqs) = gomod::summary(
        b"module a.com/m\n\ngo 1.20\n\nrequire a.com/one v1.0.0\nrequire (\n\ta.com/two v0.2.0 // indirect\n\t\"a.com/three\" v3.0.0\n)\nreplace a.com/one => ../one\n",
    );
    assert_eq!(go, "1.20");
    assert_eq!(
        reqs,
        [
            ("a.com/one".to_string(), "v1.0.0".to_string()),
            ("a.com/two".into(), "v0.2.0".into()),
            ("a.com/three".into(), "v3.0.0".into())
        ]
    );
}

#[test]
fn bad_zips_are_refused_with_gos_reason() {
    let gm = |p: &str| format!("module {p}\n");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not a zip".to_vec(), "not a module zip"),
        (testing::zip(&[]), "the zip is empty"),
        (
            testing::zip(&[("go.mod", b"module a.com/x\n")]),
            "not under MODULE@VERSION/",
        ),
        (
            modzip(
                "example.com/greet",
                "v1.0.0",
                &[("go.mod", gm("example.com/other").as_bytes())],
            ),
            "go.mod declares module \"example.com/other\", but the zip holds \"example.com/greet\"",
        ),
        (
            // Case matters: go would refuse to use it as example.com/Greet.
            modzip(
                "example.com/Greet",
                "v1.0.0",
                &[("go.mod", gm("example.com/greet").as_bytes())],
            ),
            "go.mod declares module",
        ),
        (
            testing::zip(&[
                ("a.com/x@v1.0.0/go.mod", b"module a.com/x\n"),
                ("a.com/x@v1.0.1/b.go", b"package x\n"),
            ]),
            "path does not have prefix \"a.com/x@v1.0.0/\"",
        ),
        (
            testing::zip(&[
                ("a.com/x@v1.0.0/go.mod", b"module a.com/x\n"),
                ("other/b.go", b"package x\n"),
            ]),
            "path does not have prefix",
        ),
        (
            modzip("a.com/x", "v1.0", &[("go.mod", b"module a.com/x\n")]),
            "not a semantic version",
        ),
        (
            modzip("a.com/x", "v2.0.0", &[("go.mod", b"module a.com/x\n")]),
            "should be v0 or v1, not v2",
        ),
        (
            modzip(
                "a.com/x/v2",
                "v3.0.0",
                &[("go.mod", b"module a.com/x/v2\n")],
            ),
            "should be v2, not v3",
        ),
        (
            modzip("A.com/x", "v1.0.0", &[("go.mod", b"module A.com/x\n")]),
            "invalid char 'A' in first path element",
        ),
        (
            modzip("a.com/x", "v1.0.0+meta", &[("go.mod", b"module a.com/x\n")]),
            "not canonical",
        ),
        (
            modzip(
                "a.com/x",
                "v2.0.0+incompatible",
                &[("go.mod", b"module a.com/x\n")],
            ),
            "+incompatible is for a module without go.mod",
        ),
        (
            modzip(
                "a.com/x",
                "v1.0.0",
                &[
                    ("go.mod", b"module a.com/x\n"),
                    ("sub/go.mod", b"module a.com/x/sub\n"),
                ],
            ),
            "go.mod file not in module root directory",
        ),
        (
            modzip("a.com/x", "v1.0.0", &[("GO.MOD", b"module a.com/x\n")]),
            "go.mod files must have lowercase names",
        ),
        (
            modzip(
                "a.com/x",
                "v1.0.0",
                &[
                    ("go.mod", b"module a.com/x\n"),
                    ("A.go", b""),
                    ("a.go", b""),
                ],
            ),
            "case-insensitive file name collision: \"A.go\" and \"a.go\"",
        ),
        (
            modzip(
                "a.com/x",
                "v1.0.0",
                &[
                    ("go.mod", b"module a.com/x\n"),
                    ("Sub/a.go", b""),
                    ("sub/b.go", b""),
                ],
            ),
            "case-insensitive file name collision: \"Sub\" and \"sub\"",
        ),
        (
            modzip(
                "a.com/x",
                "v1.0.0",
                &[("go.mod", b"module a.com/x\n"), ("a", b""), ("a/b.go", b"")],
            ),
            "entry \"a\" is both a file and a directory",
        ),
        (
            modzip(
                "a.com/x",
                "v1.0.0",
                &[
                    ("go.mod", b"module a.com/x\n"),
                    ("a.go", b""),
                    ("a.go", b""),
                ],
            ),
            "multiple entries for file \"a.go\"",
        ),
        (
            modzip(
                "a.com/x",
                "v1.0.0",
                &[("go.mod", b"module a.com/x\n"), ("a/../b.go", b"")],
            ),
            "file path is not clean",
        ),
        (
            modzip(
                "a.com/x",
                "v1.0.0",
                &[("go.mod", b"module a.com/x\n"), ("a*b.go", b"")],
            ),
            "malformed file path \"a*b.go\": invalid char '*'",
        ),
        (
            modzip(
                "a.com/x",
                "v1.0.0",
                &[("go.mod", b"module a.com/x\n"), ("nul.go", b"")],
            ),
            "disallowed as path element component on Windows",
        ),
        (
            modzip("a.com/x", "v1.0.0", &[("go.mod", b"go 1.19\n")]),
            "go.mod has no module directive",
        ),
    ];
    for (bytes, says) in cases {
        let e = err(&bytes);
        assert!(e.contains(says), "want {says:?}, got {e:?}");
    }
    // Directories and a non-ASCII (letter) file name are fine, as go allows them.
    let ok = modzip(
        "a.com/x",
        "v1.0.0",
        &[
            ("go.mod", b"module a.com/x\n"),
            ("sub/", b""),
            ("sub/ünï.go", b"package sub\n"),
        ],
    );
    assert_eq!(analyze(&ok).unwrap()[0].name, "a.com/x");
}

#[test]
fn damaged_and_truncated_zips_are_refused_never_a_panic() {
    let good = simple("example.com/x", "v1.2.3");
    // A flipped byte in a member's deflated data: the CRC catches it.
    let at = good.windows(5).position(|w| w == b"/x.go").unwrap() + 5 + 2;
    let mut bad = good.clone();
    bad[at] ^= 0x40;
    let e = err(&bad);
    assert!(e.contains("sub/x.go"), "{e}");
    for n in 0..good.len() {
        assert!(analyze(&good[..n]).is_err(), "cut at {n}");
    }
    for bad in testing::damaged(&good, 3000) {
        let _ = analyze(&bad);
        let _ = reposmith_generator_sdk::parse_package::<Go>("m.zip", &bad, &[]);
    }
}

#[test]
fn claims_module_zips_only() {
    let good = simple("example.com/x", "v1.0.0");
    let head = &good[..good.len().min(4096)];
    assert!(Go::claims("x-v1.0.0.zip", head, &[]));
    assert!(!Go::claims("x-v1.0.0.tar", head, &[]));
    assert!(!Go::claims("x.zip", b"PK\x05\x06", &[]));
    assert!(!Go::claims("x.zip", b"PK\x03\x04", &[]));
    let other = testing::zip(&[("README.md", b"hi")]);
    assert!(!Go::claims("other.zip", &other, &[]));
    // A name longer than the head: analyze decides.
    let long = format!("example.com/{}@v1.0.0/go.mod", "a".repeat(5000));
    let z = testing::zip(&[(long.as_str(), b"")]);
    assert!(Go::claims("long.zip", &z[..4096], &[]));
    assert!(!Go::claims("", &[], &[]));
}

fn shelf(name: &str, entries: u32) -> ShelfSummary {
    ShelfSummary {
        shelf: name.into(),
        entries,
    }
}

/// The plan as `(path, shelves, fragment)`, sorted by path.
fn planned(shelves: &[ShelfSummary]) -> Vec<(String, Vec<String>, String)> {
    let plan = Go::plan(&testing::repo("r", &[]), shelves).unwrap();
    assert!(plan.links.is_empty());
    let mut out: Vec<_> = plan
        .files
        .into_iter()
        .map(|f| {
            assert_eq!(f.encodings, [Encoding::Identity]);
            assert!(f.history.is_none());
            let [Part::Entries(sel)] = f.parts.as_slice() else {
                panic!("{}: {:?}", f.path, f.parts)
            };
            assert!(sel.separator.is_empty());
            (f.path, sel.shelves.clone(), sel.fragment.clone())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn plan_writes_every_file_go_asks_for() {
    let s = |v: &str| format!("example.com/!greet/@v/{v}");
    let got = planned(&[
        shelf(&s("v1.0.0"), 1),
        shelf(&s("v1.1.0"), 1),
        shelf(&s("v1.2.0-rc.1"), 1),
        shelf(&s("v1.3.0"), 0), // removed: nothing
        shelf("example.com/tip/@v/v0.0.0-20191109021931-daa7c04131f5", 1),
        shelf("example.com/tip/@v/v0.0.0-20200101000000-aaaaaaaaaaaa", 1),
        // Not version directories this generator makes: ignored.
        shelf("example.com/Greet/@v/v1.0.0", 1),
        shelf("example.com/greet/@v/v1.0", 1),
        shelf("example.com/greet/@v/v2.0.0", 1),
        shelf("../x/@v/v1.0.0", 1),
        shelf("stable/main/amd64", 1),
        shelf("", 1),
    ]);
    let one = |p: String, shelf: String, frag: &str| (p, vec![shelf], frag.to_string());
    let tip = |v: &str| format!("example.com/tip/@v/v0.0.0-{v}");
    let want = vec![
        one("example.com/!greet/@latest".into(), s("v1.1.0"), INFO),
        (
            "example.com/!greet/@v/list".into(),
            vec![s("v1.0.0"), s("v1.1.0"), s("v1.2.0-rc.1")],
            LIST.to_string(),
        ),
        one(format!("{}.info", s("v1.0.0")), s("v1.0.0"), INFO),
        one(format!("{}.mod", s("v1.0.0")), s("v1.0.0"), MOD),
        one(format!("{}.info", s("v1.1.0")), s("v1.1.0"), INFO),
        one(format!("{}.mod", s("v1.1.0")), s("v1.1.0"), MOD),
        one(format!("{}.info", s("v1.2.0-rc.1")), s("v1.2.0-rc.1"), INFO),
        one(format!("{}.mod", s("v1.2.0-rc.1")), s("v1.2.0-rc.1"), MOD),
        // Only pseudo-versions: @latest is the newest of them.
        one(
            "example.com/tip/@latest".into(),
            tip("20200101000000-aaaaaaaaaaaa"),
            INFO,
        ),
        (
            "example.com/tip/@v/list".into(),
            vec![
                tip("20191109021931-daa7c04131f5"),
                tip("20200101000000-aaaaaaaaaaaa"),
            ],
            LIST.to_string(),
        ),
        one(
            format!("{}.info", tip("20191109021931-daa7c04131f5")),
            tip("20191109021931-daa7c04131f5"),
            INFO,
        ),
        one(
            format!("{}.mod", tip("20191109021931-daa7c04131f5")),
            tip("20191109021931-daa7c04131f5"),
            MOD,
        ),
        one(
            format!("{}.info", tip("20200101000000-aaaaaaaaaaaa")),
            tip("20200101000000-aaaaaaaaaaaa"),
            INFO,
        ),
        one(
            format!("{}.mod", tip("20200101000000-aaaaaaaaaaaa")),
            tip("20200101000000-aaaaaaaaaaaa"),
            MOD,
        ),
    ];
    assert_eq!(got, want);
    assert!(planned(&[]).is_empty());
}

#[test]
fn analyze_and_plan_agree() {
    // The shelf analyze files an entry under is one plan turns into files, including the
    // escaped paths, and the zip's path sits next to the .info and .mod.
    for (p, v) in [
        ("example.com/Greet", "v1.0.0"),
        ("example.com/x/v2", "v2.0.0-RC.1"),
        ("gopkg.in/Yaml.v3", "v3.0.1"),
    ] {
        let e = &analyze(&simple(p, v)).unwrap()[0];
        let files = planned(&[shelf(&e.shelf, 1)]);
        let paths: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
        let dir = e.shelf.split_once("/@v/").unwrap().0;
        assert_eq!(
            paths,
            [
                format!("{dir}/@latest"),
                format!("{dir}/@v/list"),
                format!("{}.info", e.shelf),
                format!("{}.mod", e.shelf)
            ]
        );
        assert_eq!(e.path, format!("{}.zip", e.shelf));
    }
}

#[test]
fn finish_adds_nothing() {
    let repo = testing::repo("r", &[]);
    let out = <Go as Generator>::finish(&repo, &[], &[], &NoSigner).unwrap();
    assert!(out.is_empty());
}

/// A signer that refuses everything (its defaults): finish must not need one.
struct NoSigner;
impl Signer for NoSigner {}

#[test]
fn describe_reads_info_and_go_mod() {
    let bytes = modzip(
        "example.com/app",
        "v1.0.0",
        &[(
            "go.mod",
            b"module example.com/app\n\ngo 1.19\n\nrequire (\n\texample.com/Greet v1.0.0\n\texample.com/x/v2 v2.1.0 // indirect\n)\n",
        )],
    );
    let e = &analyze_with(&bytes, &[hint("time", "2020-01-02T03:04:05Z")]).unwrap()[0];
    let d = Go::describe(&e.fragments);
    assert_eq!(d.summary, "Go module example.com/app");
    let fields: Vec<(&str, &str)> = d
        .fields
        .iter()
        .map(|h| (h.key.as_str(), h.value.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("module", "example.com/app"),
            ("version", "v1.0.0"),
            ("time", "2020-01-02T03:04:05Z"),
            ("go", "1.19"),
            ("require", "example.com/Greet v1.0.0"),
            ("require", "example.com/x/v2 v2.1.0"),
        ]
    );
    let deps: Vec<(&str, &str, &str)> = d
        .depends
        .iter()
        .map(|alts| {
            (
                alts[0].name.as_str(),
                alts[0].op.as_str(),
                alts[0].version.as_str(),
            )
        })
        .collect();
    assert_eq!(
        deps,
        [
            ("example.com/Greet", ">=", "v1.0.0"),
            ("example.com/x/v2", ">=", "v2.1.0")
        ]
    );
    // Fragments of another shape: the host's default.
    let plain = Go::describe(&[Fragment {
        name: "x".into(),
        data: b"y".to_vec(),
    }]);
    assert_eq!(plain.fields[0].key, "x");
}

#[test]
fn the_client_file_sets_goproxy() {
    let mut repo = reposmith_generator_sdk::client::sample("https://repo.example/repos/demo/go");
    let files = Go::client_config(&repo).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(
        (files[0].client.as_str(), files[0].file_name.as_str()),
        ("go", "demo-go.env")
    );
    assert_eq!(
        String::from_utf8(files[0].data.clone()).unwrap(),
        "# Demo packages: Go module proxy. Append to the file `go env GOENV` names, or run\n\
         # `go env -w` with each line.\n\
         GOPROXY=https://repo.example/repos/demo/go|https://mirror.example/repos/demo/go\n\
         GOSUMDB=off\n"
    );
    repo.mirrors.clear();
    repo.enabled = false;
    repo.url_args = vec![
        hint("fallback", "https://proxy.golang.org,direct"),
        hint("nosumdb", "example.com/*"),
    ];
    let text = String::from_utf8(Go::client_config(&repo).unwrap()[0].data.clone()).unwrap();
    assert!(
        text.ends_with(
            "# (the repository is disabled)\n\
             # GOPROXY=https://repo.example/repos/demo/go,https://proxy.golang.org,direct\n\
             # GONOSUMDB=example.com/*\n"
        ),
        "{text}"
    );
}
