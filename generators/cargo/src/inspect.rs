//! `inspect`: versions in SemVer precedence (what cargo resolves by: build metadata does not
//! order), and what an index line says (the description and URLs come from the `about`
//! fragment, which the index does not carry).
use crate::index::{ABOUT, LINE};
use crate::manifest::About;
use reposmith_generator_sdk::exports::reposmith::generator::inspect::{Dependency, Details};
use reposmith_generator_sdk::reposmith::generator::types::{Fragment, Hint};
use reposmith_generator_sdk::versions;
use std::cmp::Ordering;

/// SemVer precedence; a version that does not parse (none is stored: `analyze` refuses them)
/// sorts below every one that does, in the host's natural order.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (semver::Version::parse(a), semver::Version::parse(b)) {
        (Ok(a), Ok(b)) => a.cmp_precedence(&b),
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Ok(_)) => Ordering::Less,
        (Err(_), Err(_)) => versions::natural(a, b),
    }
}

pub fn compare_versions(v: &[String]) -> Vec<u32> {
    versions::ranks(v, compare)
}

fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A requirement's comparators as dependencies: `=`, `>`, `>=`, `<`, `<=` as they are; `^`,
/// `~` and `1.*` by their lower bound (`>=`); `*` unversioned.
fn requirement(name: &str, req: &str) -> Vec<Dependency> {
    let dep = |op: &str, version: String| Dependency {
        name: name.to_string(),
        op: op.to_string(),
        version,
    };
    let Ok(req) = semver::VersionReq::parse(req) else {
        return vec![dep("", String::new())];
    };
    let mut out: Vec<Dependency> = req
        .comparators
        .iter()
        .map(|c| {
            let v = format!(
                "{}.{}.{}{}",
                c.major,
                c.minor.unwrap_or(0),
                c.patch.unwrap_or(0),
                if c.pre.is_empty() {
                    String::new()
                } else {
                    format!("-{}", c.pre)
                }
            );
            let op = match c.op {
                semver::Op::Exact => "=",
                semver::Op::Greater => ">",
                semver::Op::GreaterEq => ">=",
                semver::Op::Less => "<",
                semver::Op::LessEq => "<=",
                _ => ">=",
            };
            dep(op, v)
        })
        .collect();
    if out.is_empty() {
        out.push(dep("", String::new()));
    }
    out
}

pub fn describe(fragments: &[Fragment]) -> Details {
    let line = fragments
        .iter()
        .find(|f| f.name == LINE)
        .and_then(|f| serde_json::from_slice::<serde_json::Value>(&f.data).ok());
    let Some(serde_json::Value::Object(line)) = line else {
        return reposmith_generator_sdk::plain_details(fragments);
    };
    let about: About = fragments
        .iter()
        .find(|f| f.name == ABOUT)
        .and_then(|f| serde_json::from_slice(&f.data).ok())
        .unwrap_or_default();
    let mut fields = Vec::new();
    let mut field = |key: &str, value: String| {
        if !value.is_empty() {
            fields.push(Hint {
                key: key.into(),
                value,
            })
        }
    };
    let get = |k: &str| line.get(k).map(text).unwrap_or_default();
    field("name", get("name"));
    field("vers", get("vers"));
    field("description", about.description.clone());
    field("license", about.license);
    field("repository", about.repository);
    field("homepage", about.homepage);
    field("documentation", about.documentation);
    field("rust_version", get("rust_version"));
    field("links", get("links"));
    field("cksum", get("cksum"));
    let mut depends = Vec::new();
    let deps = line.get("deps").and_then(|d| d.as_array());
    for d in deps.into_iter().flatten() {
        let s = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or_default();
        // A renamed dependency is the package it renames.
        let name = if s("package").is_empty() {
            s("name")
        } else {
            s("package")
        };
        let kind = s("kind");
        let optional = d.get("optional").and_then(|v| v.as_bool()) == Some(true);
        let mut shown = format!("{name} {} ({kind}", s("req"));
        if !s("target").is_empty() {
            shown.push_str(&format!(", {}", s("target")));
        }
        if optional {
            shown.push_str(", optional");
        }
        shown.push(')');
        field("dep", shown);
        // What building it needs: normal and build dependencies that are not optional.
        if kind != "dev" && !optional {
            depends.extend(requirement(name, s("req")).into_iter().map(|r| vec![r]));
        }
    }
    for key in ["features", "features2"] {
        if let Some(f) = line.get(key).and_then(|f| f.as_object()) {
            if !f.is_empty() {
                field(key, f.keys().cloned().collect::<Vec<_>>().join(" "));
            }
        }
    }
    Details {
        summary: about.description.lines().next().unwrap_or_default().into(),
        depends,
        provides: Vec::new(),
        fields,
    }
}
