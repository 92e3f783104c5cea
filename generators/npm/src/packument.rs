//! The registry: each tarball becomes one entry carrying its version document; at publish
//! every package name gets its packument (<https://github.com/npm/registry/blob/main/docs/responses/package-metadata.md>):
//! `{"name", "dist-tags": {"latest"}, "versions": {VERSION: document}}`, served at the name
//! (`NAME`; a scoped one at `@SCOPE%2FNAME`: npm asks for `@SCOPE%2fNAME`, and the host keeps
//! an encoded `/` in the file name it names, see [`document_path`]).
//! Tarballs are published at npm's own layout, `NAME/-/BASENAME-VERSION.tgz`, and each
//! document's `dist.tarball` names that absolute URL (npm 7+ refuses a relative one).

use crate::tarball;
use base64::Engine;
use reposmith_generator_sdk::prelude::*;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The version document of an entry: `"VERSION":{...}`, joined by `,` into `versions`.
pub const DOC: &str = "doc";
/// The generator's mount: the registry is `URL/repos/REPO/npm/`.
pub const MOUNT: &str = "npm";
/// Every entry's arch: npm packages are not per machine (`os`/`cpu` are the client's business).
pub const ARCH: &str = "any";
/// Packuments are JSON, whatever their (extension-less) path says.
pub const JSON: &str = "application/json";

/// A package name as the registry accepts new ones (npm's validate-npm-package-name): at most
/// 214 characters, lower case, URL-safe, optionally `@scope/`, not starting with `.` or `_`.
pub fn check_name(name: &str) -> Result<(), String> {
    let part = |p: &str| {
        !p.is_empty()
            && !p.starts_with(['.', '_'])
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._~".contains(&b))
    };
    let ok = name.len() <= 214
        && match name.strip_prefix('@') {
            Some(scoped) => scoped
                .split_once('/')
                .is_some_and(|(scope, base)| part(scope) && part(base)),
            None => part(name),
        };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "package.json: name {name:?} is not a valid npm package name (lower case, URL-safe, \
             at most 214 characters, optionally @scope/)"
        ))
    }
}

/// Where a version's tarball is published, under the mount: `NAME/-/BASENAME-VERSION.tgz`.
pub fn tarball_path(name: &str, version: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    format!("{name}/-/{base}-{version}.tgz")
}

/// Where a name's packument is published: the name, its scope's `/` as `%2F` (the host keeps
/// an encoded `/` of a request in the file name, and npm encodes it).
pub fn document_path(name: &str) -> String {
    name.replace('/', "%2F")
}

/// The shelf of a version: `NAME@VERSION`, so that `plan` sees every version's number and can
/// name the latest.
fn shelf(name: &str, version: &str) -> String {
    format!("{name}@{version}")
}

/// `NAME@VERSION` → (NAME, VERSION); a scoped name starts with its own `@`.
fn split_shelf(shelf: &str) -> Option<(&str, semver::Version)> {
    let (name, version) = shelf.rsplit_once('@')?;
    (check_name(name).is_ok())
        .then(|| semver::Version::parse(version).ok())
        .flatten()
        .map(|v| (name, v))
}

fn hint<'a>(hints: &'a [Hint], key: &str) -> Option<&'a str> {
    hints
        .iter()
        .find(|h| h.key == key)
        .map(|h| h.value.as_str())
}

/// `dist.integrity`: Subresource Integrity of the tarball (sha512, base64).
fn integrity(sha512_hex: &str) -> Result<String, String> {
    let bytes = (0..sha512_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(sha512_hex.get(i..i + 2).unwrap_or("x"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| "the host's sha512 is not hex".to_string())?;
    Ok(format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// One tarball → one entry carrying its version document.
pub fn analyze<R>(read: R, facts: &Facts, hints: &[Hint]) -> Result<Vec<Entry>, String>
where
    R: FnMut(u64, u32) -> Result<Vec<u8>, String>,
{
    let raw = tarball::package_json(read, facts.size)?;
    let Ok(Value::Object(mut doc)) = serde_json::from_slice::<Value>(&raw) else {
        return Err("package.json is not a JSON object".into());
    };
    let field = |doc: &Map<String, Value>, k: &str| match doc.get(k) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(format!("package.json has no {k:?} string")),
    };
    let name = field(&doc, "name")?;
    let version = field(&doc, "version")?;
    check_name(&name)?;
    let parsed = semver::Version::parse(&version)
        .map_err(|e| format!("package.json: version {version:?} is not SemVer: {e}"))?;
    // npm compares versions as node-semver cleans them: take only the canonical spelling.
    if parsed.to_string() != version {
        return Err(format!(
            "package.json: version {version:?} is not in canonical form ({parsed})"
        ));
    }
    let url = hint(hints, "repo.url").unwrap_or_default();
    let path = tarball_path(&name, &version);
    doc.insert("_id".into(), json!(format!("{name}@{version}")));
    doc.insert(
        "dist".into(),
        json!({
            "tarball": format!("{}/{MOUNT}/{path}", url.trim_end_matches('/')),
            "integrity": integrity(&facts.sha512)?,
            "shasum": facts.sha1,
        }),
    );
    let mut fragment = serde_json::to_vec(&Value::String(version.clone())).expect("a string");
    fragment.push(b':');
    fragment.extend(serde_json::to_vec(&Value::Object(doc)).expect("plain JSON"));
    Ok(vec![Entry {
        shelf: shelf(&name, &version),
        name,
        version,
        arch: ARCH.into(),
        path,
        fragments: vec![Fragment {
            name: DOC.into(),
            data: fragment,
        }],
    }])
}

/// Publish step 1: one packument per package name, its versions in the host's order, and
/// `latest` the highest release (the highest pre-release when there is no release).
pub fn plan(shelves: &[ShelfSummary]) -> PublishPlan {
    let mut names: BTreeMap<&str, Vec<(&str, semver::Version)>> = BTreeMap::new();
    for s in shelves.iter().filter(|s| s.entries > 0) {
        if let Some((name, v)) = split_shelf(&s.shelf) {
            names.entry(name).or_default().push((&s.shelf, v));
        }
    }
    let files = names
        .into_iter()
        .map(|(name, versions)| {
            let latest = versions
                .iter()
                .map(|(_, v)| v)
                .max_by_key(|v| (v.pre.is_empty(), *v))
                .expect("a name has a version");
            let head = json!({"name": name, "dist-tags": {"latest": latest.to_string()}});
            let head = head.to_string();
            // `{...,"versions":{` + the documents + `}}`.
            let open = format!("{},\"versions\":{{", &head[..head.len() - 1]);
            BulkFile {
                media_type: Some(JSON.into()),
                ..reposmith_generator_sdk::bulk_file(
                    document_path(name),
                    vec![
                        Part::Literal(open.into_bytes()),
                        Part::Entries(Selection {
                            shelves: versions.iter().map(|(s, _)| s.to_string()).collect(),
                            fragment: DOC.into(),
                            separator: b",".to_vec(),
                        }),
                        Part::Literal(b"}}\n".to_vec()),
                    ],
                    vec![Encoding::Identity],
                )
            }
        })
        .collect();
    PublishPlan {
        files,
        links: Vec::new(),
    }
}

/// What the query API shows of a version: its description, and its dependencies (npm ranges
/// are not the host's comparison operators: they are listed unversioned, the range as a
/// field).
pub fn describe(fragments: &[Fragment]) -> Details {
    let doc = fragments
        .iter()
        .find(|f| f.name == DOC)
        .and_then(|f| {
            let colon = f.data.iter().position(|&b| b == b':')?;
            serde_json::from_slice::<Value>(&f.data[colon + 1..]).ok()
        })
        .unwrap_or(Value::Null);
    let text = |k: &str| doc.get(k).and_then(Value::as_str).unwrap_or_default();
    let deps: Vec<(String, String)> = doc
        .get("dependencies")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let mut fields = vec![];
    for k in ["description", "license", "homepage"] {
        if !text(k).is_empty() {
            fields.push(Hint {
                key: k.into(),
                value: text(k).into(),
            });
        }
    }
    for (d, range) in &deps {
        fields.push(Hint {
            key: "dependency".into(),
            value: format!("{d} {range}"),
        });
    }
    Details {
        summary: text("description").into(),
        depends: deps
            .into_iter()
            .map(|(name, _)| {
                vec![Dependency {
                    name,
                    op: String::new(),
                    version: String::new(),
                }]
            })
            .collect(),
        provides: vec![],
        fields,
    }
}

/// npm's own order of versions (SemVer precedence; build metadata does not order).
pub fn compare_versions(versions: &[String]) -> Vec<u32> {
    reposmith_generator_sdk::versions::ranks(versions, |a, b| {
        match (semver::Version::parse(a), semver::Version::parse(b)) {
            (Ok(x), Ok(y)) => x.cmp_precedence(&y),
            _ => reposmith_generator_sdk::versions::natural(a, b),
        }
    })
}
