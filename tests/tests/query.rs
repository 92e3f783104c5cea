//! The package query (`GET /repos/{repo}/packages/?name=GLOB&latest=1...`) against a live
//! server holding 200 packages in 3 formats (common::query_set): shell globs, the formats'
//! own version orders (from the generators' `inspect` export), architectures, details,
//! search, the dependency closure with what nothing satisfies, paging, bad parameters, and
//! the contract's defaults for a generator without `inspect`.
mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;

/// (name, version, arch, format) of each item.
fn rows(v: &Value) -> Vec<(String, String, String, String)> {
    array(v, "packages")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
                p["arch"].as_str().unwrap().to_string(),
                p["format"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn row(name: &str, version: &str, arch: &str, format: &str) -> (String, String, String, String) {
    (name.into(), version.into(), arch.into(), format.into())
}

fn query(server: &Server, q: &str) -> Value {
    let r = server.get(&format!("/repos/q/packages/?{q}"));
    assert_eq!(r.status, 200, "?{q}: {}", r.text());
    r.json()
}

#[test]
fn query_names_versions_details_closure_and_pages() {
    let data = tmp();
    let server = Server::start(&data.join("d"));
    server.create_repo("q");
    let files = query_set();
    let mut args = vec!["add".to_string(), "q".to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    server.cli_ok(&args);
    assert_eq!(server.package_count("q"), 200);

    // The newest per name and arch, by each format's own order: dpkg's `~` sorts before the
    // release and an epoch beats any version (a plain text or number order gets both wrong).
    let v = query(&server, "name=gcc-*&latest=1");
    assert_eq!(
        rows(&v),
        vec![
            row("gcc-12", "12.10-1", "amd64", "deb"),
            row("gcc-12", "12.10-1", "arm64", "deb"),
            row("gcc-13", "13.1-1", "amd64", "deb"),
            row("gcc-doc", "1:1.0-1", "all", "deb"),
            row("gcc-fortran", "13.2.1-10", "x86_64", "pacman"),
            row("gcc-libs", "1:13.2.1-10", "x86_64", "pacman"),
        ]
    );
    assert!(v["next"].is_null());
    let first = &array(&v, "packages")[0];
    assert_eq!(first["filename"], "gcc-12_12.10-1_amd64.deb");
    assert_eq!(first["url"], "/repos/q/packages/gcc-12_12.10-1_amd64.deb");
    let file = files
        .iter()
        .find(|f| f.ends_with("gcc-12_12.10-1_amd64.deb"))
        .unwrap();
    let bytes = std::fs::read(file).unwrap();
    assert_eq!(first["sha256"], sha256_hex(&bytes));
    assert_eq!(first["size"], bytes.len() as u64);
    assert!(first.get("summary").is_none(), "details only when asked");
    // The url serves the package.
    assert_eq!(server.get(first["url"].as_str().unwrap()).status, 200);

    // Every version, newest first within a name and arch.
    let v = query(&server, "name=gcc-1%3F&arch=amd64&format=deb");
    assert_eq!(
        rows(&v),
        vec![
            row("gcc-12", "12.10-1", "amd64", "deb"),
            row("gcc-12", "12.9-1", "amd64", "deb"),
            row("gcc-12", "12.2.0-14", "amd64", "deb"),
            row("gcc-13", "13.1-1", "amd64", "deb"),
            row("gcc-13", "13.1~rc1-1", "amd64", "deb"),
        ]
    );
    // Several patterns, a character class, an exact name.
    let v = query(&server, "name=gccgo&name=gcc-1[3-9]&latest=1");
    let names: Vec<String> = rows(&v).into_iter().map(|r| r.0).collect();
    assert_eq!(names, ["gcc-13", "gccgo"]);
    let v = query(&server, "name=rpmq-000[1-3]");
    assert_eq!(
        rows(&v),
        vec![
            row("rpmq-0001", "1.0-1", "noarch", "rpm"),
            row("rpmq-0002", "1.0-1", "noarch", "rpm"),
            row("rpmq-0003", "1.0-1", "noarch", "rpm"),
        ]
    );

    // Details: what the generator extracted, in each format.
    let v = query(&server, "name=gcc-12&arch=amd64&latest=1&details=1");
    let p = &array(&v, "packages")[0];
    assert_eq!(p["summary"], "GNU C compiler 12");
    assert!(p["fields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f[0] == "Maintainer" && f[1] == "Reposmith Tests <tests@example.invalid>"));
    let v = query(&server, "name=rpmq-0002&details=1");
    let p = &array(&v, "packages")[0];
    assert_eq!(p["depends"][0][0]["name"], "rpmq-0001", "{p}");
    assert_eq!(p["depends"][0][0]["op"], ">=");
    let v = query(&server, "name=gcc-fortran&details=1");
    let p = &array(&v, "packages")[0];
    assert_eq!(p["summary"], "Fortran front end of GCC");
    assert_eq!(p["depends"][0][0]["name"], "gcc-libs");

    // Search: name or summary, any case.
    let v = query(&server, "q=COMPILER&latest=1");
    let names: BTreeSet<String> = rows(&v).into_iter().map(|r| r.0).collect();
    assert_eq!(
        names,
        ["gcc-12", "gcc-13", "gcc-doc", "gccgo"]
            .map(String::from)
            .into()
    );

    // The closure of app-top: app-mid, then app-base (the first alternative), whose
    // missing-lib nothing provides.
    let v = query(&server, "name=app-top&latest=1&resolve=1");
    let names: BTreeSet<String> = rows(&v).into_iter().map(|r| r.0).collect();
    assert_eq!(
        names,
        ["app-base", "app-mid", "app-top"].map(String::from).into()
    );
    let unsatisfied = array(&v, "unsatisfied");
    assert_eq!(unsatisfied.len(), 1, "{v}");
    assert_eq!(unsatisfied[0]["package"], "app-base_1.0-1_all.deb");
    assert_eq!(unsatisfied[0]["dependency"], "missing-lib >= 2");
    // rpm: rpmq-0004 needs rpmq-0003 (>= 1.0); versioned requirements are checked.
    let v = query(&server, "name=rpmq-0004&resolve=1");
    let names: Vec<String> = rows(&v).into_iter().map(|r| r.0).collect();
    assert_eq!(names, ["rpmq-0003", "rpmq-0004"]);
    assert_eq!(array(&v, "unsatisfied").len(), 0, "{v}");
    // gcc-12 12.2.0-14 needs libc6, which this repo lacks.
    let v = query(&server, "name=gcc-12&arch=amd64&resolve=1");
    assert!(array(&v, "unsatisfied")
        .iter()
        .any(|u| u["dependency"] == "libc6 >= 2.34"));

    // Pages: every item once, in order, whatever the page size (a page of 1 ends inside a
    // name's versions, so the next resumes within them), with and without `latest`.
    let all = query(&server, "name=*&limit=1000");
    assert_eq!(array(&all, "packages").len(), 200);
    assert!(all["next"].is_null());
    for base in ["name=*", "latest=1", "format=deb&arch=amd64"] {
        let whole = rows(&query(&server, &format!("{base}&limit=1000")));
        for limit in [1, 7] {
            let mut paged = Vec::new();
            let mut q = format!("{base}&limit={limit}");
            loop {
                let v = query(&server, &q);
                assert!(array(&v, "packages").len() <= limit);
                paged.extend(rows(&v));
                match v["next"].as_str() {
                    Some(c) => q = format!("{base}&limit={limit}&cursor={c}"),
                    None => break,
                }
            }
            assert_eq!(paged, whole, "?{base} in pages of {limit}");
        }
    }
    assert_eq!(rows(&query(&server, "name=*&limit=1000")), rows(&all));

    // Bad parameters: 400 with a JSON error naming the problem, for every one.
    for (q, needle) in [
        ("name=%5B", "pattern"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=x", "limit"),
        ("latest=maybe", "latest"),
        ("cursor=nope", "cursor"),
        ("colour=blue", "colour"),
    ] {
        let r = server.get(&format!("/repos/q/packages/?{q}"));
        assert_eq!(r.status, 400, "?{q}: {}", r.text());
        assert!(
            r.json()["detail"].as_str().unwrap().contains(needle),
            "?{q}: {}",
            r.text()
        );
    }
    assert_eq!(server.get("/repos/nope/packages/?name=x").status, 404);
    // No parameters: the listing, as before.
    let v = server.get("/repos/q/packages/").json();
    assert_eq!(array(&v, "packages").len(), 200);
    assert!(v["repo"]["name"] == "q");
}

/// A generator without `inspect` (the test generator, built for the plain world): the
/// contract's defaults, a natural version order and each fragment as a field.
#[test]
fn query_defaults_for_a_generator_without_inspect() {
    let data = tmp();
    let server = Server::start_with(&data.join("d"), &deb_and_misbehave());
    server.create_repo("q");
    let dir = tmp();
    for name in ["misbehave-a", "misbehave-b"] {
        std::fs::write(dir.join(name), b"whatever").unwrap();
        let r = server.upload("q", &dir.join(name));
        assert!(r.status == 201, "{}", r.text());
    }
    let r = server.get("/repos/q/packages/?format=misbehave&details=1");
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let items = array(&v, "packages");
    assert_eq!(items.len(), 2, "{v}");
    for p in items {
        assert_eq!(p["summary"], "");
        assert_eq!(p["depends"], serde_json::json!([]));
        assert!(!p["fields"].as_array().unwrap().is_empty(), "{p}");
    }
}
