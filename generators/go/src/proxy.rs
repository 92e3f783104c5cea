//! The proxy: each module zip becomes one entry on the shelf of its version directory
//! `ESCAPED-PATH/@v/ESCAPED-VERSION`, carrying the three pieces that version's files are made
//! of; at publish every shelf gets its `.info` and `.mod`, and every module its `@v/list` and
//! `@latest`, which is all a `GOPROXY` serves (`go help goproxy`; the zip itself is the
//! entry's `path`, `.../@v/VERSION.zip`, published by the host).
//!
//! Shelf names carry the module path and version, so `plan` knows every file to write from the
//! names and counts it is given: no per-module data crosses into wasm at publish.

use crate::module;
use crate::modzip;
use crate::reposmith::generator::types::{
    BulkFile, Encoding, Entry, Facts, Fragment, Hint, Part, PublishPlan, Selection, ShelfSummary,
};
use std::collections::BTreeMap;

/// `{"Version":"v1.2.3","Time":"..."}`: a version's `.info`.
pub const INFO: &str = "info";
/// The module's go.mod: a version's `.mod`.
pub const MOD: &str = "mod";
/// `v1.2.3\n`: the version's line in `@v/list`.
pub const LIST: &str = "list";
/// Every entry's arch: a module is source.
pub const ARCH: &str = "src";
/// The upload hint giving the version's time (RFC 3339), `Time` in `.info`: what go shows
/// and weighs pseudo-versions by. The zip carries none (x/mod/zip writes zero times) and
/// generators have no clock; go's module cache keeps it in `@v/VERSION.info`.
pub const TIME_HINT: &str = "time";

fn hint<'a>(hints: &'a [Hint], key: &str) -> Option<&'a str> {
    hints
        .iter()
        .find(|h| h.key == key)
        .map(|h| h.value.trim())
        .filter(|v| !v.is_empty())
}

fn digits(s: &str, at: usize, n: usize) -> Option<u32> {
    let d = s.get(at..at + n)?;
    d.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| d.parse().ok())
        .flatten()
}

/// Whether `t` is a time Go's `time.Time` reads from JSON (RFC 3339:
/// `2006-01-02T15:04:05[.999999999](Z|+07:00)`), fields in range.
pub fn is_rfc3339(t: &str) -> bool {
    let b = t.as_bytes();
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) = (
        digits(t, 0, 4),
        digits(t, 5, 2),
        digits(t, 8, 2),
        digits(t, 11, 2),
        digits(t, 14, 2),
        digits(t, 17, 2),
    ) else {
        return false;
    };
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return false;
    }
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match mo {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return false,
    };
    if d == 0 || d > days || h > 23 || mi > 59 || s > 59 {
        return false;
    }
    let mut rest = &t[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 9 {
            return false;
        }
        rest = &frac[n..];
    }
    rest == "Z"
        || (rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest.as_bytes()[3] == b':'
            && digits(rest, 1, 2).is_some_and(|h| h <= 23)
            && digits(rest, 4, 2).is_some_and(|m| m <= 59))
}

/// A version's `.info`, fields in the order go writes them (`Version`, then `Time`).
pub fn info_json(version: &str, time: Option<&str>) -> Vec<u8> {
    let quoted = |s: &str| serde_json::Value::from(s).to_string();
    let mut out = format!("{{\"Version\":{}", quoted(version));
    if let Some(t) = time {
        out.push_str(&format!(",\"Time\":{}", quoted(t)));
    }
    out.push_str("}\n");
    out.into_bytes()
}

/// One module zip → one entry with the pieces of its version's files.
pub fn analyze<R>(read: R, facts: &Facts, hints: &[Hint]) -> Result<Vec<Entry>, String>
where
    R: FnMut(u64, u32) -> Result<Vec<u8>, String>,
{
    let time = hint(hints, TIME_HINT);
    if let Some(t) = time {
        if !is_rfc3339(t) {
            return Err(format!(
                "hint {TIME_HINT}={t:?} is not an RFC 3339 time (2006-01-02T15:04:05Z)"
            ));
        }
    }
    let m = modzip::read(read, facts.size)?;
    let dir = module::version_dir(&m.path, &m.version);
    Ok(vec![Entry {
        name: m.path,
        version: m.version.clone(),
        arch: ARCH.into(),
        path: format!("{dir}.zip"),
        shelf: dir,
        fragments: vec![
            Fragment {
                name: INFO.into(),
                data: info_json(&m.version, time),
            },
            Fragment {
                name: MOD.into(),
                data: m.go_mod,
            },
            Fragment {
                name: LIST.into(),
                data: format!("{}\n", m.version).into_bytes(),
            },
        ],
    }])
}

fn file(path: String, shelves: Vec<String>, fragment: &str) -> BulkFile {
    BulkFile {
        path,
        parts: vec![Part::Entries(Selection {
            shelves,
            fragment: fragment.into(),
            separator: Vec::new(),
        })],
        encodings: vec![Encoding::Identity],
        history: None,
        media_type: None,
    }
}

/// Publish step 1: per version directory (shelf) its `.info` and `.mod`; per module its
/// `@v/list` (every version's line) and `@latest` (the `.info` of the highest release, or of
/// the highest version when there is no release: go asks `@latest` when the list has no
/// release, e.g. only pseudo-versions). Shelves that are not version directories this
/// generator makes are ignored.
pub fn plan(shelves: &[ShelfSummary]) -> PublishPlan {
    // Escaped module path → (version, shelf) of each of its versions.
    let mut modules: BTreeMap<&str, Vec<(String, &str)>> = BTreeMap::new();
    let mut files = Vec::new();
    for s in shelves.iter().filter(|s| s.entries > 0) {
        let Some((_, version)) = module::parse_version_dir(&s.shelf) else {
            continue;
        };
        let escaped = s.shelf.split_once("/@v/").map_or("", |(p, _)| p);
        files.push(file(
            format!("{}.info", s.shelf),
            vec![s.shelf.clone()],
            INFO,
        ));
        files.push(file(format!("{}.mod", s.shelf), vec![s.shelf.clone()], MOD));
        modules
            .entry(escaped)
            .or_default()
            .push((version, &s.shelf));
    }
    for (escaped, versions) in modules {
        let release = |v: &str| module::parse(v).is_some_and(|p| p.prerelease.is_empty());
        let latest = versions
            .iter()
            .max_by(|a, b| {
                release(&a.0)
                    .cmp(&release(&b.0))
                    .then_with(|| module::compare(&a.0, &b.0))
                    // `v2.0.0+incompatible` and `v2.0.0` cannot both be here (a path has one
                    // or the other); the name settles any tie so the choice is stable.
                    .then_with(|| a.1.cmp(b.1))
            })
            .map(|(_, shelf)| shelf.to_string());
        let all = versions.iter().map(|(_, s)| s.to_string()).collect();
        files.push(file(format!("{escaped}/@v/list"), all, LIST));
        if let Some(latest) = latest {
            files.push(file(format!("{escaped}/@latest"), vec![latest], INFO));
        }
    }
    PublishPlan {
        files,
        links: Vec::new(),
    }
}
