//! pacman: the repository sections of /etc/pacman.conf (every `[NAME]` but `[options]`), with
//! `Server =` lines or an `Include =` server list (followed for the URL only). A section
//! commented out line by line (`#[NAME]`, `#Server = ...`, as Arch ships its testing repos) is
//! a disabled one. `add` appends the served section between `# BEGIN manage-repo NAME` and
//! `# END manage-repo NAME`, and adds the key to pacman's keyring with pacman-key.
use super::{body, insert_line, lines, on_path, set_body, Changes, Entry, Plan, Put, Served};
use anyhow::{bail, Context};
use std::ops::Range;
use std::path::{Path, PathBuf};

pub const FILE: &str = "etc/pacman.conf";
pub const GPGDIR: &str = "etc/pacman.d/gnupg";

pub fn files(root: &Path) -> Vec<PathBuf> {
    let f = root.join(FILE);
    if f.is_file() {
        vec![f]
    } else {
        Vec::new()
    }
}

fn header(l: &str) -> Option<&str> {
    let t = body(l).trim();
    t.strip_prefix('[')?.strip_suffix(']').map(str::trim)
}

/// `#[NAME]` (or `# [NAME]`): NAME.
fn disabled_header(l: &str) -> Option<&str> {
    let t = body(l).trim().strip_prefix('#')?;
    header(t.trim_start_matches('#'))
}

/// `Key = value` or `Key`: (key, value).
fn option(t: &str) -> Option<(&str, &str)> {
    let t = t.trim();
    let (k, v) = t.split_once('=').unwrap_or((t, ""));
    let k = k.trim();
    (!k.is_empty()
        && k.chars().all(|c| c.is_ascii_alphanumeric())
        && k.as_bytes()[0].is_ascii_alphabetic())
    .then_some((k, v.trim()))
}

fn active_option(l: &str) -> Option<(&str, &str)> {
    let t = body(l).trim_start();
    if t.starts_with('#') {
        return None;
    }
    option(t)
}

/// A commented-out option line (`#Server = ...`): its option.
fn commented_option(l: &str) -> Option<(&str, &str)> {
    let t = body(l).trim_start().strip_prefix('#')?;
    option(t.trim_start_matches('#'))
}

fn ends_section(l: &str) -> bool {
    header(l).is_some() || disabled_header(l).is_some() || super::marker(l).is_some()
}

/// The lines of the section whose header is line `i`: to its last option line.
fn section(ls: &[String], i: usize, enabled: bool) -> Range<usize> {
    let mut last = i;
    for (j, l) in ls.iter().enumerate().skip(i + 1) {
        if ends_section(l) {
            break;
        }
        if enabled {
            if active_option(l).is_some() {
                last = j;
            }
        } else if commented_option(l).is_some() {
            last = j;
        } else {
            break;
        }
    }
    i..last + 1
}

/// The first server of an `Include =` list under `root`.
fn included_server(root: &Path, path: &str) -> Option<String> {
    let text = std::fs::read_to_string(root.join(path.trim_start_matches('/'))).ok()?;
    lines(&text).iter().find_map(|l| {
        active_option(l)
            .filter(|(k, _)| *k == "Server")
            .map(|(_, v)| v.to_string())
    })
}

pub fn parse(root: &Path, text: &str) -> Vec<Entry> {
    let ls = lines(text);
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for (i, l) in ls.iter().enumerate() {
        if let Some((begin, name)) = super::marker(l) {
            block = begin.then(|| name.to_string());
            continue;
        }
        let (name, enabled) = match (header(l), disabled_header(l)) {
            (Some(n), _) => (n, true),
            (None, Some(n)) => (n, false),
            _ => continue,
        };
        if name == "options" {
            continue;
        }
        let span = section(&ls, i, enabled);
        let fields: Vec<(String, String)> = ls[span.start + 1..span.end]
            .iter()
            .filter_map(|l| {
                if enabled {
                    active_option(l)
                } else {
                    commented_option(l)
                }
            })
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let get = |k: &str| {
            fields
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        let url = get("Server")
            .or_else(|| get("Include").and_then(|p| included_server(root, &p)))
            .unwrap_or_default();
        let mut e = Entry::new(name.to_string(), enabled, url, span);
        e.block = block.clone();
        e.fields = fields;
        out.push(e);
    }
    out
}

/// SigLevel's words with the package and database levels replaced.
fn sig_level(old: &str, package: Option<bool>, database: Option<bool>) -> String {
    let (mut pkg, mut db) = ("Required".to_string(), "Optional".to_string()); // pacman's default
    let mut others = Vec::new();
    for w in old.split_whitespace() {
        let level = |s: &str| ["Never", "Optional", "Required"].contains(&s);
        if level(w) {
            (pkg, db) = (w.to_string(), w.to_string());
        } else if let Some(l) = w.strip_prefix("Package").filter(|l| level(l)) {
            pkg = l.to_string();
        } else if let Some(l) = w.strip_prefix("Database").filter(|l| level(l)) {
            db = l.to_string();
        } else {
            others.push(w.to_string());
        }
    }
    let word = |on: bool| if on { "Required" } else { "Never" }.to_string();
    if let Some(on) = package {
        pkg = word(on);
    }
    if let Some(on) = database {
        db = word(on);
    }
    if pkg == db {
        others.push(pkg);
    } else {
        others.push(format!("Package{pkg}"));
        others.push(format!("Database{db}"));
    }
    others.join(" ")
}

/// Sets option `key` of the section at `span` to `value` (its first line), or adds it right
/// after the header; the new span.
fn set_option(ls: &mut Vec<String>, span: Range<usize>, key: &str, value: &str) -> Range<usize> {
    if let Some(i) =
        (span.start + 1..span.end).find(|&i| active_option(&ls[i]).is_some_and(|(k, _)| k == key))
    {
        let b = body(&ls[i]).to_string();
        let prefix = match b.find('=') {
            Some(eq) => {
                let after = &b[eq + 1..];
                b[..eq + 1 + after.len() - after.trim_start().len()].to_string()
            }
            None => format!("{} = ", b.trim_end()),
        };
        set_body(&mut ls[i], &format!("{prefix}{value}"));
        return span;
    }
    insert_line(ls, Some(span.start), &format!("{key} = {value}"));
    span.start..span.end + 1
}

pub fn edit(text: &str, e: &Entry, ch: &Changes) -> anyhow::Result<String> {
    let mut ls = lines(text);
    let mut span = e.span.clone();
    let others = ch.gpgcheck.is_some() || ch.repo_gpgcheck.is_some() || ch.baseurl.is_some();
    if !e.enabled && others && ch.enabled != Some(true) {
        bail!(
            "{} is commented out: enable it first (or give --enabled on too)",
            e.name
        );
    }
    if ch.enabled == Some(true) && !e.enabled {
        for l in &mut ls[span.clone()] {
            let b = body(l).to_string();
            let t = b.trim_start();
            let lead = &b[..b.len() - t.len()];
            let new = if t.starts_with("##") {
                format!("{lead}{}", &t[1..])
            } else if let Some(rest) = t.strip_prefix('#') {
                format!("{lead}{}", rest.trim_start())
            } else {
                b.clone()
            };
            set_body(l, &new);
        }
    }
    if ch.gpgcheck.is_some() || ch.repo_gpgcheck.is_some() {
        let old = (span.start + 1..span.end)
            .find_map(|i| {
                active_option(&ls[i])
                    .filter(|(k, _)| *k == "SigLevel")
                    .map(|(_, v)| v.to_string())
            })
            .unwrap_or_default();
        let new = sig_level(&old, ch.gpgcheck, ch.repo_gpgcheck);
        span = set_option(&mut ls, span, "SigLevel", &new);
    }
    if let Some(url) = &ch.baseurl {
        span = set_option(&mut ls, span, "Server", url);
    }
    if ch.enabled == Some(false) && e.enabled {
        for l in &mut ls[span] {
            if !body(l).trim().is_empty() {
                let b = body(l).to_string();
                set_body(l, &format!("#{b}"));
            }
        }
    }
    Ok(ls.concat())
}

pub fn plan(_name: &str, s: &Served) -> anyhow::Result<Plan> {
    let text = s.main_text()?;
    if parse(Path::new("/nonexistent"), &text).is_empty() {
        bail!("the served {} has no [repository] section", s.files[0].0);
    }
    Ok(Plan {
        puts: vec![Put::Append {
            path: FILE.into(),
            text,
        }],
        pacman_key: true,
    })
}

fn pacman_key(gpgdir: &Path, args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new("pacman-key")
        .arg("--gpgdir")
        .arg(gpgdir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("pacman-key: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "pacman-key {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Adds and locally signs the repo's key in ROOT/etc/pacman.d/gnupg: (that dir, root-relative,
/// and the fingerprint), or why not (a warning: the repo is installed all the same).
pub fn add_key(root: &Path, name: &str, s: &Served) -> Result<Option<(PathBuf, String)>, String> {
    let gpgdir = root.join(GPGDIR);
    let fpr = &s.fingerprint;
    let by_hand =
        format!("add the key yourself: pacman-key --add KEY.asc && pacman-key --lsign-key {fpr}");
    if !on_path("pacman-key") {
        return Err(format!("pacman-key is not installed: {by_hand}"));
    }
    let initialised = ["pubring.gpg", "pubring.kbx"]
        .iter()
        .any(|f| gpgdir.join(f).is_file());
    if !initialised {
        return Err(format!(
            "{} is not initialised (pacman-key --init): {by_hand}",
            gpgdir.display()
        ));
    }
    let tmp = std::env::temp_dir().join(format!("manage-repo-{}-{name}.asc", std::process::id()));
    std::fs::write(&tmp, &s.key_armored).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let added = pacman_key(&gpgdir, &["--add", &tmp.display().to_string()]);
    let _ = std::fs::remove_file(&tmp);
    added.map_err(|e| format!("{e}: {by_hand}"))?;
    if let Err(e) = pacman_key(&gpgdir, &["--lsign-key", fpr]) {
        let _ = pacman_key(&gpgdir, &["--delete", fpr]);
        return Err(format!("{e}: {by_hand}"));
    }
    Ok(Some((GPGDIR.into(), fpr.clone())))
}

/// Deletes a key `add_key` added.
pub fn delete_key(gpgdir: &Path, fpr: &str) -> anyhow::Result<()> {
    if !on_path("pacman-key") {
        bail!(
            "pacman-key is not installed: cannot delete key {fpr} from {}",
            gpgdir.display()
        );
    }
    pacman_key(gpgdir, &["--delete", fpr])
        .map_err(anyhow::Error::msg)
        .context("deleting the repo's key from pacman's keyring")
}
