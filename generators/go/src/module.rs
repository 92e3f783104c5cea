//! Module paths and versions as the go command checks them: `golang.org/x/mod/module`
//! (`CheckPath`, `CheckFilePath`, `SplitPathVersion`, `CheckPathMajor`, the case escaping of
//! `EscapePath`/`EscapeVersion`) and `golang.org/x/mod/semver` (canonical versions and their
//! order), ported rule for rule so that what is accepted here is what go accepts.
use std::cmp::Ordering;

/// What kind of path an element belongs to: the characters allowed differ.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Module,
    File,
}

/// Reserved file names on Windows, refused in every kind of path (`badWindowsNames`).
const BAD_WINDOWS_NAMES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// `modPathOK`: ASCII letters, digits and `-._~`.
fn mod_path_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~".contains(c)
}

/// `fileNameOK`: ASCII letters, digits, `!#$%&()+,-.=@[]^_{}~ ` and Unicode letters.
fn file_name_ok(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || "!#$%&()+,-.=@[]^_{}~ ".contains(c)
    } else {
        c.is_alphabetic()
    }
}

/// `checkElem`.
fn check_elem(elem: &str, kind: Kind) -> Result<(), String> {
    if elem.is_empty() {
        return Err("empty path element".into());
    }
    if elem.bytes().all(|b| b == b'.') {
        return Err(format!("invalid path element {elem:?}"));
    }
    if elem.starts_with('.') && kind == Kind::Module {
        return Err("leading dot in path element".into());
    }
    if elem.ends_with('.') {
        return Err("trailing dot in path element".into());
    }
    let ok = match kind {
        Kind::Module => mod_path_ok,
        Kind::File => file_name_ok,
    };
    if let Some(c) = elem.chars().find(|&c| !ok(c)) {
        return Err(format!("invalid char {c:?}"));
    }
    let short = elem.split('.').next().unwrap_or(elem);
    if BAD_WINDOWS_NAMES
        .iter()
        .any(|b| b.eq_ignore_ascii_case(short))
    {
        return Err(format!(
            "{short:?} disallowed as path element component on Windows"
        ));
    }
    if kind == Kind::Module {
        // Windows short names (`PROGRA~1`).
        if let Some(t) = short.rfind('~') {
            let suffix = &short[t + 1..];
            if !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()) {
                return Err("trailing tilde and digits in path element".into());
            }
        }
    }
    Ok(())
}

/// `checkPath`.
fn check_any_path(path: &str, kind: Kind) -> Result<(), String> {
    if path.is_empty() {
        return Err("empty string".into());
    }
    if path.starts_with('-') && kind != Kind::File {
        return Err("leading dash".into());
    }
    if path.contains("//") {
        return Err("double slash".into());
    }
    if path.ends_with('/') {
        return Err("trailing slash".into());
    }
    path.split('/').try_for_each(|e| check_elem(e, kind))
}

/// `module.CheckPath`: a valid module path, or why not (in go's words).
pub fn check_path(path: &str) -> Result<(), String> {
    let why = |e: String| format!("malformed module path {path:?}: {e}");
    check_any_path(path, Kind::Module).map_err(why)?;
    let first = path.split('/').next().unwrap_or_default();
    if first.is_empty() {
        return Err(why("leading slash".into()));
    }
    if !first.contains('.') {
        return Err(why("missing dot in first path element".into()));
    }
    if path.starts_with('-') {
        return Err(why("leading dash in first path element".into()));
    }
    if let Some(c) = first
        .chars()
        .find(|&c| !(c == '-' || c == '.' || c.is_ascii_digit() || c.is_ascii_lowercase()))
    {
        return Err(why(format!("invalid char {c:?} in first path element")));
    }
    if split_path_version(path).is_none() {
        return Err(why("invalid version".into()));
    }
    Ok(())
}

/// `module.CheckFilePath`: a file path inside a module.
pub fn check_file_path(path: &str) -> Result<(), String> {
    check_any_path(path, Kind::File).map_err(|e| format!("malformed file path {path:?}: {e}"))
}

/// `SplitPathVersion`: the path without its major version suffix, and the suffix (`/vN` for
/// N >= 2, gopkg.in's `.vN`, or empty); `None` for a malformed suffix (`/v1`, `/v0`, `/v2.0`).
pub fn split_path_version(path: &str) -> Option<(&str, &str)> {
    if path.starts_with("gopkg.in/") {
        return split_gopkg_in(path);
    }
    let b = path.as_bytes();
    let mut i = b.len();
    let mut dot = false;
    while i > 0 && (b[i - 1].is_ascii_digit() || b[i - 1] == b'.') {
        dot |= b[i - 1] == b'.';
        i -= 1;
    }
    if i <= 1 || i == b.len() || b[i - 1] != b'v' || b[i - 2] != b'/' {
        return Some((path, ""));
    }
    let (prefix, major) = path.split_at(i - 2);
    if dot || major.len() <= 2 || major.as_bytes()[2] == b'0' || major == "/v1" {
        return None;
    }
    Some((prefix, major))
}

fn split_gopkg_in(path: &str) -> Option<(&str, &str)> {
    let b = path.as_bytes();
    let mut i = b.len() - path.ends_with("-unstable") as usize * "-unstable".len();
    while i > 0 && b[i - 1].is_ascii_digit() {
        i -= 1;
    }
    if i <= 1 || b[i - 1] != b'v' || b[i - 2] != b'.' {
        return None;
    }
    let (prefix, major) = path.split_at(i - 2);
    if major.len() <= 2 || (major.as_bytes()[2] == b'0' && major != ".v0") {
        return None;
    }
    Some((prefix, major))
}

/// A semantic version as go parses it (`golang.org/x/mod/semver`), kept as text.
#[derive(Debug, PartialEq, Eq)]
pub struct Semver<'a> {
    pub major: &'a str,
    pub minor: &'a str,
    pub patch: &'a str,
    /// With its leading `-`, or empty.
    pub prerelease: &'a str,
    /// With its leading `+`, or empty.
    pub build: &'a str,
}

/// A number with no leading zero.
fn number(s: &str) -> Option<(&str, &str)> {
    let end = s
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    let (n, rest) = s.split_at(end);
    (n == "0" || (!n.is_empty() && !n.starts_with('0'))).then_some((n, rest))
}

/// Dot-separated identifiers of `[0-9A-Za-z-]`, none empty; numeric ones without leading
/// zeros when `numbers` (prerelease, not build).
fn identifiers(s: &str, numbers: bool) -> bool {
    s.split('.').all(|id| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !(numbers
                && id.len() > 1
                && id.starts_with('0')
                && id.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// A full `vMAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]` (go also takes `v1` and `v1.2` as
/// shorthands, which are never canonical, so they are refused here).
pub fn parse(v: &str) -> Option<Semver<'_>> {
    let rest = v.strip_prefix('v')?;
    let (major, rest) = number(rest)?;
    let (minor, rest) = number(rest.strip_prefix('.')?)?;
    let (patch, rest) = number(rest.strip_prefix('.')?)?;
    let (pre_build, build) = match rest.find('+') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if let Some(p) = pre_build.strip_prefix('-') {
        if !identifiers(p, true) {
            return None;
        }
    } else if !pre_build.is_empty() {
        return None;
    }
    if !build.is_empty() && !identifiers(&build[1..], false) {
        return None;
    }
    Some(Semver {
        major,
        minor,
        patch,
        prerelease: pre_build,
        build,
    })
}

fn compare_int(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let (mut x, mut y) = (a[1..].split('.'), b[1..].split('.'));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(dx), Some(dy)) if dx != dy => {
                let num = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
                return match (num(dx), num(dy)) {
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (true, true) => compare_int(dx, dy),
                    (false, false) => dx.cmp(dy),
                };
            }
            _ => {}
        }
    }
}

/// `semver.Compare`: precedence, build metadata ignored; an invalid version sorts below
/// every valid one.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (parse(a), parse(b)) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => compare_int(a.major, b.major)
            .then_with(|| compare_int(a.minor, b.minor))
            .then_with(|| compare_int(a.patch, b.patch))
            .then_with(|| compare_prerelease(a.prerelease, b.prerelease)),
    }
}

/// `module.Check` plus what the go command asks of a version a proxy serves: canonical
/// (`module.CanonicalVersion`: full, no build metadata but `+incompatible`), matching the
/// path's major version suffix, and `+incompatible` only for v2 and up on a path without a
/// suffix (`modfetch/coderepo.go`).
pub fn check(path: &str, version: &str) -> Result<(), String> {
    check_path(path)?;
    let bad = |why: &str| format!("{path}@{version}: invalid version: {why}");
    let v = parse(version).ok_or_else(|| bad("not a semantic version"))?;
    if !v.build.is_empty() && v.build != "+incompatible" {
        return Err(bad(&format!(
            "not canonical (should be {:?}): build metadata other than +incompatible",
            &version[..version.len() - v.build.len()]
        )));
    }
    let incompatible = v.build == "+incompatible";
    let (_, major) = split_path_version(path).unwrap_or((path, ""));
    let major = major.strip_suffix("-unstable").unwrap_or(major);
    let m = format!("v{}", v.major);
    if version.starts_with("v0.0.0-") && major == ".v1" {
        return Ok(()); // an old go bug made such pseudo-versions for gopkg.in .v1 paths
    }
    if major.is_empty() {
        if incompatible && (m == "v0" || m == "v1") {
            return Err(bad(&format!(
                "+incompatible suffix not allowed: major version {m} is compatible"
            )));
        }
        if !(m == "v0" || m == "v1" || incompatible) {
            return Err(bad(&format!(
                "should be v0 or v1, not {m} (a v2+ module's path ends in /{m}; a module without \
                 go.mod takes +incompatible)"
            )));
        }
    } else {
        if m != major[1..] {
            return Err(bad(&format!("should be {}, not {m}", &major[1..])));
        }
        if incompatible {
            return Err(bad(&format!(
                "+incompatible suffix not allowed: the path's {major} suffix means the module has a go.mod"
            )));
        }
    }
    Ok(())
}

/// `escapeString`: each upper-case letter as `!` and its lower case (the proxy protocol's
/// case encoding: a case-insensitive file system or URL keeps `Foo` and `foo` apart).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `unescapeString`: the inverse of [`escape`]; `None` for an upper-case letter, a `!` not
/// followed by a lower-case one, or non-ASCII.
pub fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut bang = false;
    for c in s.chars() {
        if !c.is_ascii() || c.is_ascii_uppercase() {
            return None;
        }
        if bang {
            if !c.is_ascii_lowercase() {
                return None;
            }
            out.push(c.to_ascii_uppercase());
            bang = false;
        } else if c == '!' {
            bang = true;
        } else {
            out.push(c);
        }
    }
    (!bang).then_some(out)
}

/// Where the proxy serves a module version's files: `ESCAPED-PATH/@v/ESCAPED-VERSION`, to
/// which `.info`, `.mod` and `.zip` are appended (also the shelf name).
pub fn version_dir(path: &str, version: &str) -> String {
    format!("{}/@v/{}", escape(path), escape(version))
}

/// The module path and version of a [`version_dir`], checked: `None` for anything else.
pub fn parse_version_dir(dir: &str) -> Option<(String, String)> {
    let (p, v) = dir.split_once("/@v/")?;
    let (path, version) = (unescape(p)?, unescape(v)?);
    (check(&path, &version).is_ok() && version_dir(&path, &version) == dir)
        .then_some((path, version))
}
