//! The normalized `Cargo.toml` of a `.crate` into the registry index entry of its version
//! (<https://doc.rust-lang.org/cargo/reference/registry-index.html>, "JSON schema"), field by
//! field as cargo sends it when it publishes (cargo `src/cargo/ops/registry/publish.rs`
//! `transmit`) and as crates.io writes it (`crates_io_index::Crate`).
//!
//! Bounded and strict: the manifest is at most `krate::MAX_MANIFEST` bytes (TOML nesting is
//! limited by the parser), the name follows crates.io's rules, versions and requirements must
//! parse as cargo parses them (the `semver` crate), and every field has the type cargo writes.

use serde::Serialize;
use std::collections::BTreeMap;
use toml::{Table, Value};

/// crates.io's index URL: what `registry` names for a dependency the manifest takes from
/// crates.io (in `Cargo.toml` no registry means crates.io; in the index, the same registry).
pub const CRATES_IO: &str = "https://github.com/rust-lang/crates.io-index";
/// crates.io's longest name.
pub const MAX_NAME: usize = 64;

/// One dependency of the index entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Dep {
    /// The name the dependent crate uses (the key; a renamed dependency's new name).
    pub name: String,
    /// The version requirement, as cargo prints it (`^0.1`).
    pub req: String,
    pub features: Vec<String>,
    pub optional: bool,
    pub default_features: bool,
    /// `cfg(...)` or a target triple; `null` for every target.
    pub target: Option<String>,
    /// `normal`, `build` or `dev`.
    pub kind: &'static str,
    /// The index of the registry it comes from; absent: this registry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// The real package name of a renamed dependency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

/// One line of a crate's index file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IndexLine {
    pub name: String,
    pub vers: String,
    pub deps: Vec<Dep>,
    /// sha256 of the `.crate` file, lower-case hex.
    pub cksum: String,
    pub features: BTreeMap<String, Vec<String>>,
    pub yanked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<String>,
    /// 2 when `features2` is present; absent means 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub v: Option<u32>,
    /// Features using `dep:` or `pkg?/feat`, which cargo before 1.60 cannot parse.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features2: Option<BTreeMap<String, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rust_version: Option<String>,
}

impl IndexLine {
    /// The line as the index file holds it: compact JSON and `\n`.
    pub fn render(&self) -> String {
        let mut s = serde_json::to_string(self).expect("plain data serializes");
        s.push('\n');
        s
    }
}

/// What `describe` shows besides the index line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct About {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub license: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub repository: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub homepage: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub documentation: String,
}

/// A crate version, from its manifest.
#[derive(Debug, PartialEq, Eq)]
pub struct Manifest {
    pub line: IndexLine,
    pub about: About,
}

/// Clipped for a message.
pub fn clip(s: &str) -> String {
    s.chars().take(100).collect()
}

/// crates.io's rules for a crate name (`crates_io::models::krate::Crate::validate_crate_name`):
/// 1 to 64 ASCII letters, digits, `-` and `_`, starting with a letter; and not a name
/// Windows reserves for devices (the index file would be `3/n/nul`: cargo refuses those, as
/// `restricted_names::is_windows_reserved`).
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!(
            "crate name {:?} must be 1 to {MAX_NAME} characters",
            clip(name)
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(format!(
            "crate name {:?} must start with an ASCII letter",
            clip(name)
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(format!(
            "crate name {:?} has {c:?}: only ASCII letters, digits, - and _ are allowed",
            clip(name)
        ));
    }
    let lower = name.to_ascii_lowercase();
    let reserved = ["con", "prn", "aux", "nul"].contains(&lower.as_str())
        || ((lower.starts_with("com") || lower.starts_with("lpt"))
            && lower.len() == 4
            && matches!(lower.as_bytes()[3], b'1'..=b'9'));
    if reserved {
        return Err(format!(
            "crate name {name:?} is a Windows device name (cargo cannot store its index file)"
        ));
    }
    Ok(())
}

/// A dependency's name (its key, or `package`): what a resolvable crate name may hold.
/// Looser than `check_name` (names on crates.io predate its rules), still a plain word.
fn check_dep_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!("unusable dependency name {:?}", clip(name)))
    }
}

fn string(v: &Value, what: &str) -> Result<String, String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{what} is not a string"))
}

fn boolean(v: &Value, what: &str) -> Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| format!("{what} is not true or false"))
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, String> {
    let arr = v
        .as_array()
        .ok_or_else(|| format!("{what} is not a list"))?;
    arr.iter()
        .map(|s| string(s, &format!("an item of {what}")))
        .collect()
}

fn table<'a>(v: &'a Value, what: &str) -> Result<&'a Table, String> {
    v.as_table().ok_or_else(|| format!("{what} is not a table"))
}

/// An optional string field of `[package]`.
fn opt_string(pkg: &Table, key: &str) -> Result<Option<String>, String> {
    pkg.get(key)
        .map(|v| string(v, &format!("package.{key}")))
        .transpose()
}

/// `rust-version`: a partial version of 1 to 3 numbers (`1.60`, `1.70.0`), as cargo checks.
fn check_rust_version(v: &str) -> Result<(), String> {
    let parts: Vec<&str> = v.split('.').collect();
    let ok = (1..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "package.rust-version {:?} is not a Rust version like 1.70",
            clip(v)
        ))
    }
}

/// The dependency tables of a manifest level (the top, or a `target.X` table), with their kind.
const KINDS: [(&str, &str); 5] = [
    ("dependencies", "normal"),
    ("build-dependencies", "build"),
    ("build_dependencies", "build"),
    ("dev-dependencies", "dev"),
    ("dev_dependencies", "dev"),
];

fn deps_of(
    level: &Table,
    target: Option<&str>,
    where_: &str,
    out: &mut Vec<Dep>,
) -> Result<(), String> {
    for (key, kind) in KINDS {
        let Some(t) = level.get(key) else { continue };
        let what = format!("{where_}{key}");
        for (name, spec) in table(t, &what)? {
            out.push(dep(name, spec, kind, target, &format!("{what}.{name}"))?);
        }
    }
    Ok(())
}

/// One dependency: `name = "1.0"` or `[dependencies.name]` with `version`, `features`,
/// `optional`, `default-features`, `package`, `registry-index` (the normalized manifest's
/// form of `registry = "name"`). `path` and `git` are what cargo strips on publish; a
/// dependency without a `version` has no place in an index.
fn dep(
    name: &str,
    spec: &Value,
    kind: &'static str,
    target: Option<&str>,
    what: &str,
) -> Result<Dep, String> {
    check_dep_name(name)?;
    let mut d = Dep {
        name: name.to_string(),
        req: String::new(),
        features: Vec::new(),
        optional: false,
        default_features: true,
        target: target.map(str::to_string),
        kind,
        registry: Some(CRATES_IO.to_string()),
        package: None,
    };
    let version = match spec {
        Value::String(v) => v.clone(),
        Value::Table(t) => {
            if let Some(v) = t.get("features") {
                d.features = strings(v, &format!("{what}.features"))?;
            }
            if let Some(v) = t.get("optional") {
                d.optional = boolean(v, &format!("{what}.optional"))?;
            }
            if let Some(v) = t
                .get("default-features")
                .or_else(|| t.get("default_features"))
            {
                d.default_features = boolean(v, &format!("{what}.default-features"))?;
            }
            if let Some(v) = t.get("package") {
                let p = string(v, &format!("{what}.package"))?;
                check_dep_name(&p)?;
                d.package = Some(p);
            }
            match (t.get("registry-index"), t.get("registry")) {
                (Some(v), _) => {
                    let url = string(v, &format!("{what}.registry-index"))?;
                    if url.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
                        return Err(format!(
                            "{what}.registry-index {:?} is not a URL",
                            clip(&url)
                        ));
                    }
                    d.registry = Some(url);
                }
                (None, Some(_)) => {
                    return Err(format!(
                        "{what} names a registry but no registry-index: not a manifest \
                         `cargo package` normalized"
                    ))
                }
                (None, None) => {}
            }
            match t.get("version") {
                Some(v) => string(v, &format!("{what}.version"))?,
                None => {
                    return Err(format!(
                        "{what} has no version requirement (a registry crate cannot depend \
                         on a path or git source alone)"
                    ))
                }
            }
        }
        _ => return Err(format!("{what} is neither a version nor a table")),
    };
    let req = semver::VersionReq::parse(&version).map_err(|e| {
        format!(
            "{what}: version requirement {:?} is not one cargo reads: {e}",
            clip(&version)
        )
    })?;
    d.req = req.to_string();
    Ok(d)
}

/// `[features]`: name → list of features, `dep:NAME`, `NAME/feature`, `NAME?/feature`.
fn features(manifest: &Table) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut out = BTreeMap::new();
    if let Some(f) = manifest.get("features") {
        for (name, list) in table(f, "features")? {
            if name.is_empty() || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(format!("unusable feature name {:?}", clip(name)));
            }
            out.insert(name.clone(), strings(list, &format!("features.{name}"))?);
        }
    }
    Ok(out)
}

/// Parses the manifest of a crate whose archive directory is `dir`, and makes its index line
/// with `cksum` (the `.crate` file's sha256).
pub fn parse(text: &[u8], dir: &str, cksum: &str) -> Result<Manifest, String> {
    let text = std::str::from_utf8(text).map_err(|_| "Cargo.toml is not UTF-8".to_string())?;
    let manifest: Table = text.parse().map_err(|e: toml::de::Error| {
        // "TOML parse error at line L, column C", an excerpt, then what is wrong: on one line.
        let msg = e.to_string();
        let mut lines = msg.lines().map(str::trim).filter(|l| !l.is_empty());
        let (first, last) = (
            lines.next().unwrap_or_default(),
            lines.next_back().unwrap_or_default(),
        );
        match last {
            "" => format!("Cargo.toml is not TOML: {}", clip(first)),
            _ => format!("Cargo.toml is not TOML: {}: {}", clip(first), clip(last)),
        }
    })?;
    let pkg = manifest
        .get("package")
        .or_else(|| manifest.get("project"))
        .ok_or("Cargo.toml has no [package]")?;
    let pkg = table(pkg, "package")?;
    let name = string(
        pkg.get("name").ok_or("package.name is missing")?,
        "package.name",
    )?;
    check_name(&name)?;
    let vers = string(
        pkg.get("version").ok_or("package.version is missing")?,
        "package.version (a normalized manifest has it written out)",
    )?;
    semver::Version::parse(&vers).map_err(|e| {
        format!(
            "package.version {:?} is not a semantic version: {e}",
            clip(&vers)
        )
    })?;
    if dir != format!("{name}-{vers}") {
        return Err(format!(
            "the archive directory {:?} is not {name}-{vers}, the name and version of its \
             Cargo.toml (cargo would refuse to unpack it)",
            clip(dir)
        ));
    }
    if cksum.len() != 64
        || !cksum
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(format!("unusable sha256 {:?} from the host", clip(cksum)));
    }
    let links = opt_string(pkg, "links")?;
    let rust_version = opt_string(pkg, "rust-version")?;
    if let Some(r) = &rust_version {
        check_rust_version(r)?;
    }

    let mut deps = Vec::new();
    deps_of(&manifest, None, "", &mut deps)?;
    if let Some(t) = manifest.get("target") {
        for (target, level) in table(t, "target")? {
            if target.is_empty() || target.chars().any(|c| c.is_control()) {
                return Err(format!("unusable target {:?}", clip(target)));
            }
            deps_of(
                table(level, &format!("target.{target}"))?,
                Some(target),
                &format!("target.{target}."),
                &mut deps,
            )?;
        }
    }

    // As crates.io splits them: a feature using the syntax of cargo 1.60 goes to `features2`,
    // so older cargo still reads `features` (and `v: 2` tells them apart).
    let (features, features2): (BTreeMap<_, _>, BTreeMap<_, _>) =
        features(&manifest)?.into_iter().partition(|(_, vals)| {
            !vals
                .iter()
                .any(|v: &String| v.starts_with("dep:") || v.contains("?/"))
        });
    let v2 = !features2.is_empty();

    // For display only: a field of another type is left out, not refused.
    let soft = |key: &str| {
        pkg.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let about = About {
        description: soft("description"),
        license: soft("license"),
        repository: soft("repository"),
        homepage: soft("homepage"),
        documentation: soft("documentation"),
    };
    Ok(Manifest {
        line: IndexLine {
            name,
            vers,
            deps,
            cksum: cksum.to_string(),
            features,
            yanked: false,
            links,
            v: v2.then_some(2),
            features2: v2.then_some(features2),
            rust_version,
        },
        about,
    })
}
