//! Reading a module zip: what `go mod download` keeps in its cache and
//! `golang.org/x/mod/zip` makes, every file under `MODULE@VERSION/`, `MODULE@VERSION/go.mod`
//! the module's go.mod. Checked as go's own `zip.CheckZip` checks it before extracting
//! (so what is accepted here is what go will unpack): the path and version, every name under
//! the prefix, clean, a valid file path, no two names equal but for case, no go.mod but at
//! the root, the size limits; then the go.mod's `module` line.
//!
//! Through the SDK's zip reader: the central directory by ranged reads, then go.mod; for zips
//! up to [`MAX_VERIFIED`] every member is inflated and its CRC-32 checked, so a damaged upload
//! is refused here rather than by go's unzip.

use crate::gomod;
use crate::module;
use reposmith_generator_sdk::zip::{Archive, Limits, DEFLATED, STORED};
use std::collections::HashMap;

/// `zip.MaxZipFile`: a module zip and what it unpacks to are at most this large.
pub const MAX_ZIP: u64 = 500 << 20;
/// `zip.MaxGoMod` and `zip.MaxLICENSE`.
pub const MAX_GO_MOD: u64 = 16 << 20;
pub const MAX_LICENSE: u64 = 16 << 20;
/// Zips up to this size are inflated to the end (CRCs checked); larger ones are only listed
/// (the host's fuel would not cover inflating hundreds of MiB in wasm).
pub const MAX_VERIFIED: u64 = 16 << 20;

/// Is this a module zip? By name and content: `*.zip`, a local file header first, and that
/// first member's name has the `@v` of `MODULE@vN.../`. Never panics.
pub fn claims(filename: &str, head: &[u8]) -> bool {
    if !filename.ends_with(".zip") || !head.starts_with(b"PK\x03\x04") || head.len() < 30 {
        return false;
    }
    let len = usize::from(u16::from_le_bytes([head[26], head[27]]));
    match head.get(30..30 + len) {
        Some(name) => name.windows(2).any(|w| w == b"@v"),
        // The name runs past the head (4 KiB): analyze decides.
        None => true,
    }
}

/// What a module zip holds that the proxy serves.
#[derive(Debug, PartialEq, Eq)]
pub struct Module {
    pub path: String,
    pub version: String,
    /// The zip's go.mod, or the one go makes for a module without (`module PATH`).
    pub go_mod: Vec<u8>,
    /// The zip had no go.mod.
    pub legacy: bool,
}

fn shown(s: &str) -> String {
    s.chars().take(200).collect()
}

/// `collisionChecker`: names equal but for case, a file that is also a directory, a file
/// twice. `seen` maps the folded name to the name and whether it is a directory.
fn collision(
    seen: &mut HashMap<String, (String, bool)>,
    name: &str,
    dir: bool,
) -> Result<(), String> {
    let mut name = name.to_string();
    let mut dir = dir;
    loop {
        let fold = name.to_lowercase();
        match seen.get(&fold) {
            Some((other, _)) if *other != name => {
                return Err(format!(
                    "case-insensitive file name collision: {:?} and {:?}",
                    shown(other),
                    shown(&name)
                ))
            }
            Some((_, other_dir)) if *other_dir != dir => {
                return Err(format!(
                    "entry {:?} is both a file and a directory",
                    shown(&name)
                ))
            }
            Some(_) if !dir => return Err(format!("multiple entries for file {:?}", shown(&name))),
            // A directory already seen: its parents were checked then.
            Some(_) => return Ok(()),
            None => {
                seen.insert(fold, (name.clone(), dir));
            }
        }
        match name.rfind('/') {
            Some(i) => {
                name.truncate(i);
                dir = true;
            }
            None => return Ok(()),
        }
    }
}

/// Reads and checks the module zip of `size` bytes.
pub fn read<R>(read: R, size: u64) -> Result<Module, String>
where
    R: FnMut(u64, u32) -> Result<Vec<u8>, String>,
{
    if size > MAX_ZIP {
        return Err(format!(
            "module zip file is too large ({size} bytes; limit is {MAX_ZIP} bytes)"
        ));
    }
    let mut zip = Archive::new(read, size, Limits::default())
        .map_err(|e| format!("not a module zip: {e}"))?;
    let first = zip
        .entries
        .first()
        .ok_or("not a module zip: the zip is empty")?
        .name
        .clone();
    // MODULE@VERSION/...: a module path has no `@`, a version no `/`.
    let (path, version) = first
        .split_once('@')
        .and_then(|(p, rest)| Some((p, rest.split_once('/')?.0)))
        .ok_or_else(|| {
            format!(
                "not a module zip: its first entry {:?} is not under MODULE@VERSION/",
                shown(&first)
            )
        })?;
    let (path, version) = (path.to_string(), version.to_string());
    module::check(&path, &version)?;
    let prefix = format!("{path}@{version}/");
    let mut seen = HashMap::new();
    let mut total = 0u64;
    let mut go_mod = None;
    for e in &zip.entries {
        let bad = |why: String| format!("{}: {why}", shown(&e.name));
        let Some(name) = e.name.strip_prefix(&prefix) else {
            return Err(bad(format!("path does not have prefix {prefix:?}")));
        };
        if name.is_empty() {
            continue;
        }
        let (name, dir) = match name.strip_suffix('/') {
            Some(n) => (n, true),
            None => (name, false),
        };
        // `path.Clean(name) != name`: no `.`, `..` or empty element, no leading `/`.
        if name
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return Err(bad("file path is not clean".into()));
        }
        module::check_file_path(name).map_err(bad)?;
        collision(&mut seen, name, dir).map_err(bad)?;
        if dir {
            continue;
        }
        if e.is_encrypted() || !(e.method == STORED || e.method == DEFLATED) {
            return Err(bad(
                "encrypted, or compressed other than stored or deflated (go cannot read it)".into(),
            ));
        }
        let base = name.rsplit('/').next().unwrap_or(name);
        if base.eq_ignore_ascii_case("go.mod") {
            if base != name {
                return Err(bad("go.mod file not in module root directory".into()));
            }
            if name != "go.mod" {
                return Err(bad("go.mod files must have lowercase names".into()));
            }
            if e.size > MAX_GO_MOD {
                return Err(bad(format!(
                    "go.mod file too large (max size is {MAX_GO_MOD} bytes)"
                )));
            }
            go_mod = Some(e.clone());
        }
        if name == "LICENSE" && e.size > MAX_LICENSE {
            return Err(bad(format!(
                "LICENSE file too large (max size is {MAX_LICENSE} bytes)"
            )));
        }
        total = total.saturating_add(e.size);
        if total > MAX_ZIP {
            return Err(format!(
                "total uncompressed size of module contents too large (max size is {MAX_ZIP} bytes)"
            ));
        }
    }
    if size <= MAX_VERIFIED {
        let files: Vec<_> = zip
            .entries
            .iter()
            .filter(|e| !e.is_dir())
            .cloned()
            .collect();
        for e in &files {
            zip.read(e, MAX_ZIP)?;
        }
    }
    let (_, major) = module::split_path_version(&path).unwrap_or((&path, ""));
    let incompatible = version.ends_with("+incompatible");
    let found = match go_mod {
        Some(e) => Some(zip.read(&e, MAX_GO_MOD)?),
        None => None,
    };
    let legacy = found.is_none();
    let go_mod = match found {
        // What go does for a module without go.mod: possible only where no /vN suffix says
        // the module has one.
        None if incompatible || major.is_empty() => gomod::legacy(&path),
        None => {
            return Err(format!(
                "{prefix}go.mod is missing (a module whose path ends in {major} has one)"
            ))
        }
        Some(_) if incompatible => {
            return Err(format!(
                "{path}@{version}: +incompatible is for a module without go.mod, and this one has \
                 one (its path must then end in /{})",
                version.split('.').next().unwrap_or_default()
            ))
        }
        Some(bytes) => {
            let declared = gomod::module_path(&bytes)?;
            if declared != path {
                return Err(format!(
                    "go.mod declares module {:?}, but the zip holds {path:?} (its entries are \
                     under {prefix})",
                    shown(&declared)
                ));
            }
            bytes
        }
    };
    Ok(Module {
        path,
        version,
        go_mod,
        legacy,
    })
}
