//! `diff A B`: two package listings (`GET /repos/{repo}/packages/`, or a frozen one at
//! `/repos/{repo}@{ref}/packages/`) compared by file name and sha256, and by package name
//! and version.
use crate::client::{enc, ok, print_json, Payload, Transport};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// `diff` found differences: exit 1 and say nothing more (its errors exit 2, as diff(1)'s).
#[derive(Debug)]
pub struct Differ;

impl std::fmt::Display for Differ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the listings differ")
    }
}

impl std::error::Error for Differ {}

/// What differs from A to B.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Diff {
    /// Files only in B.
    pub added: Vec<String>,
    /// Files only in A.
    pub removed: Vec<String>,
    /// Files in both with another sha256.
    pub changed: Vec<String>,
    /// Package names in both with other versions: name, A's versions, B's.
    pub versions: Vec<(String, Vec<String>, Vec<String>)>,
}

pub async fn diff(t: &Transport, a: &str, b: &str, json: bool) -> anyhow::Result<()> {
    let (pa, pb) = (listing_path(a)?, listing_path(b)?);
    let (va, vb) = futures::try_join!(
        async { ok(t.call("GET", &pa, Payload::None).await?) },
        async { ok(t.call("GET", &pb, Payload::None).await?) },
    )?;
    let d = compare(&va, &vb);
    if json {
        let versions: Vec<Value> = d
            .versions
            .iter()
            .map(|(name, from, to)| json!({ "name": name, "from": from, "to": to }))
            .collect();
        print_json(&json!({
            "a": a, "b": b, "equal": d == Diff::default(),
            "added": d.added, "removed": d.removed, "changed": d.changed, "versions": versions,
        }));
    } else {
        print!("{}", lines(&d));
    }
    if d == Diff::default() {
        Ok(())
    } else {
        Err(Differ.into())
    }
}

/// `REPO` or `REPO@REF` (a snapshot or `gN`) as its listing's path; `@` stays as it is.
fn listing_path(side: &str) -> anyhow::Result<String> {
    match side.split_once('@') {
        None if !side.is_empty() => Ok(format!("/repos/{}/packages/", enc(side))),
        Some((repo, r)) if !repo.is_empty() && !r.is_empty() => {
            Ok(format!("/repos/{}@{}/packages/", enc(repo), enc(r)))
        }
        _ => crate::usage!("{side:?}: give REPO, REPO@SNAPSHOT or REPO@gN"),
    }
}

/// File name → sha256, and package name → its versions, of a listing.
type Sides = (BTreeMap<String, String>, BTreeMap<String, BTreeSet<String>>);

fn index(listing: &Value) -> Sides {
    let (mut files, mut names) = (BTreeMap::new(), BTreeMap::<_, BTreeSet<_>>::new());
    for p in listing["packages"].as_array().into_iter().flatten() {
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        files.insert(s(&p["filename"]), s(&p["sha256"]));
        // Each claiming generator's entries (one for most packages; the same name twice
        // when two generators claim a file).
        let entries = p["entries"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.values());
        for e in entries.filter_map(Value::as_array).flatten() {
            if !s(&e["name"]).is_empty() {
                names
                    .entry(s(&e["name"]))
                    .or_default()
                    .insert(s(&e["version"]));
            }
        }
    }
    (files, names)
}

/// What differs from listing A to listing B.
pub(crate) fn compare(a: &Value, b: &Value) -> Diff {
    let ((fa, na), (fb, nb)) = (index(a), index(b));
    let mut d = Diff::default();
    for (file, sha) in &fa {
        match fb.get(file) {
            None => d.removed.push(file.clone()),
            Some(other) if other != sha => d.changed.push(file.clone()),
            Some(_) => {}
        }
    }
    d.added = fb
        .keys()
        .filter(|f| !fa.contains_key(*f))
        .cloned()
        .collect();
    for (name, va) in &na {
        if let Some(vb) = nb.get(name).filter(|vb| *vb != va) {
            let list = |v: &BTreeSet<String>| v.iter().cloned().collect();
            d.versions.push((name.clone(), list(va), list(vb)));
        }
    }
    d
}

/// `+ file`, `- file`, `~ file` by file name, then `~ name old -> new`.
pub(crate) fn lines(d: &Diff) -> String {
    let mut files: Vec<(&String, char)> = d
        .added
        .iter()
        .map(|f| (f, '+'))
        .chain(d.removed.iter().map(|f| (f, '-')))
        .chain(d.changed.iter().map(|f| (f, '~')))
        .collect();
    files.sort();
    let mut out: String = files
        .into_iter()
        .map(|(f, sign)| format!("{sign} {f}\n"))
        .collect();
    for (name, from, to) in &d.versions {
        out.push_str(&format!(
            "~ {name} {} -> {}\n",
            from.join(","),
            to.join(",")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(items: &[(&str, &str, &str, &str)]) -> Value {
        let packages: Vec<Value> = items
            .iter()
            .map(|(file, sha, name, version)| {
                json!({"filename": file, "sha256": sha, "size": 1,
                    "entries": {"deb": [{"name": name, "version": version, "arch": "all",
                        "path": "", "shelf": ""}]}})
            })
            .collect();
        json!({"repo": {"name": "r"}, "generation": 3, "packages": packages})
    }

    #[test]
    fn equal_listings_have_no_diff() {
        let a = listing(&[("a_1_all.deb", "aa", "a", "1")]);
        assert_eq!(compare(&a, &a.clone()), Diff::default());
        assert_eq!(lines(&Diff::default()), "");
    }

    #[test]
    fn files_by_name_and_sha256_and_packages_by_version() {
        let a = listing(&[
            ("hello_1.0_all.deb", "h1", "hello", "1.0"),
            ("same_1_all.deb", "s", "same", "1"),
            ("gone_1_all.deb", "g", "gone", "1"),
            ("rebuilt_1_all.deb", "r1", "rebuilt", "1"),
        ]);
        let b = listing(&[
            ("hello_2.0_all.deb", "h2", "hello", "2.0"),
            ("same_1_all.deb", "s", "same", "1"),
            ("rebuilt_1_all.deb", "r2", "rebuilt", "1"),
            ("new_1_all.deb", "n", "new", "1"),
        ]);
        let d = compare(&a, &b);
        assert_eq!(d.added, ["hello_2.0_all.deb", "new_1_all.deb"]);
        assert_eq!(d.removed, ["gone_1_all.deb", "hello_1.0_all.deb"]);
        assert_eq!(d.changed, ["rebuilt_1_all.deb"]);
        assert_eq!(
            lines(&d),
            "- gone_1_all.deb\n\
             - hello_1.0_all.deb\n\
             + hello_2.0_all.deb\n\
             + new_1_all.deb\n\
             ~ rebuilt_1_all.deb\n\
             ~ hello 1.0 -> 2.0\n"
        );
    }

    #[test]
    fn several_versions_of_a_name_are_listed_together() {
        let a = listing(&[
            ("x_1_all.deb", "1", "x", "1"),
            ("x_2_all.deb", "2", "x", "2"),
        ]);
        let b = listing(&[
            ("x_2_all.deb", "2", "x", "2"),
            ("x_3_all.deb", "3", "x", "3"),
        ]);
        let d = compare(&a, &b);
        assert_eq!(
            d.versions,
            [(
                "x".into(),
                vec!["1".into(), "2".into()],
                vec!["2".into(), "3".into()]
            )]
        );
        assert!(lines(&d).ends_with("~ x 1,2 -> 2,3\n"));
    }

    #[test]
    fn sides_are_repos_or_frozen_views() {
        assert_eq!(listing_path("r").unwrap(), "/repos/r/packages/");
        assert_eq!(listing_path("r@rc1").unwrap(), "/repos/r@rc1/packages/");
        assert_eq!(listing_path("r@g12").unwrap(), "/repos/r@g12/packages/");
        for bad in ["", "@x", "r@"] {
            let e = listing_path(bad).unwrap_err();
            assert!(e.downcast_ref::<crate::Usage>().is_some(), "{bad}");
        }
    }
}
