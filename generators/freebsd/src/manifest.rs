//! A package's manifest, turned into its catalogue line.
//!
//! pkg writes `+COMPACT_MANIFEST` and `+MANIFEST` as compact JSON (`libpkg/pkg_manifest.c`
//! `pkg_emit_object()`, `UCL_EMIT_JSON_COMPACT`); the compact one is the full one without
//! `files`, `config`, `directories`, `scripts` and `lua_scripts` (the `PKG_MANIFEST_EMIT_COMPACT`
//! branch). `pkg repo` re-emits each package's compact manifest as one JSON line of
//! `packagesite.yaml` and one element of `data`'s `packages`, adding `sum`, `pkgsize`, `path`
//! and `repopath` (`libpkg/pkg_repo_create.c` `pkg_create_repo_thread()`; `path` is the
//! "dirty hack to be compatible with pkg 1.2" in `pkg_emit_object()`).

use serde_json::{Map, Value};

/// Keys of `+MANIFEST` that the compact form leaves out.
const NOT_COMPACT: [&str; 5] = ["files", "config", "directories", "scripts", "lua_scripts"];
/// Keys `pkg repo` sets itself from the package file.
const REPO_KEYS: [&str; 4] = ["sum", "pkgsize", "path", "repopath"];

/// What the index needs from a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub origin: String,
    /// `abi` (pkg >= 1.13), else `arch`: `FreeBSD:14:amd64`.
    pub abi: String,
    /// The compact manifest, without the keys `pkg repo` sets.
    pub object: Map<String, Value>,
}

pub fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Parses the compact manifest, or the full one stripped to the compact keys.
pub fn parse(compact: Option<&[u8]>, full: Option<&[u8]>) -> Result<Manifest, String> {
    let (what, data) = match (compact, full) {
        (Some(c), _) => ("+COMPACT_MANIFEST", c),
        (None, Some(f)) => ("+MANIFEST", f),
        (None, None) => return Err("the package has no manifest".into()),
    };
    let value: Value =
        serde_json::from_slice(data).map_err(|e| format!("{what} is not a JSON manifest: {e}"))?;
    let Value::Object(mut object) = value else {
        return Err(format!("{what} is not a JSON object"));
    };
    for k in NOT_COMPACT.iter().chain(REPO_KEYS.iter()) {
        object.remove(*k);
    }
    let text = |key: &str| -> Result<String, String> {
        match object.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(Value::String(_)) | None => Err(format!("{what} has no {key}")),
            Some(_) => Err(format!("{what}: {key} is not a string")),
        }
    };
    let name = text("name")?;
    let version = text("version")?;
    let origin = text("origin")?;
    for key in ["comment", "prefix"] {
        text(key)?;
    }
    let abi = match text("abi") {
        Ok(a) => a,
        Err(_) => text("arch").map_err(|_| format!("{what} has no abi nor arch"))?,
    };
    check("name", &name, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '@')
    })?;
    check("version", &version, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | ',' | '~')
    })?;
    check("origin", &origin, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '/' | '@')
    })?;
    check_abi(&abi)?;
    Ok(Manifest {
        name,
        version,
        origin,
        abi,
        object,
    })
}

fn check(what: &str, v: &str, ok: impl Fn(char) -> bool) -> Result<(), String> {
    if v.is_empty() || v.len() > 200 || v.starts_with(['-', '.']) || !v.chars().all(ok) {
        return Err(format!("invalid {what} {:?} in the manifest", clip(v)));
    }
    Ok(())
}

/// `OS:VERSION:ARCH` (pkg `libpkg/pkg_abi.c`): three or more non-empty parts of
/// `[A-Za-z0-9._-]`, or `*` (any) for a whole part.
pub fn check_abi(abi: &str) -> Result<(), String> {
    let parts: Vec<&str> = abi.split(':').collect();
    let ok = abi.len() <= 64
        && parts.len() >= 3
        && parts.iter().all(|p| {
            *p == "*"
                || (!p.is_empty()
                    && !p.starts_with('.')
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        })
        && parts[0] != "*";
    if !ok {
        return Err(format!(
            "invalid abi {:?} in the manifest (want OS:VERSION:ARCH, e.g. FreeBSD:14:amd64)",
            clip(abi)
        ));
    }
    Ok(())
}

impl Manifest {
    /// The catalogue object: the compact manifest plus what `pkg repo` adds.
    pub fn catalogue(&self, sha256: &str, size: u64, repopath: &str) -> Value {
        let mut o = self.object.clone();
        o.insert("sum".into(), Value::String(sha256.to_string()));
        o.insert("pkgsize".into(), Value::from(size));
        o.insert("path".into(), Value::String(repopath.to_string()));
        o.insert("repopath".into(), Value::String(repopath.to_string()));
        Value::Object(o)
    }
}

/// Compact JSON, as `UCL_EMIT_JSON_COMPACT` writes it (one line: JSON escapes every control
/// character, so no newline can appear inside).
pub fn compact(v: &Value) -> String {
    serde_json::to_string(v).expect("a JSON value serializes")
}
