//! dnf and yum: INI `.repo` files in /etc/yum.repos.d, one `[id]` section per repository
//! (several per file allowed), `enabled`, `gpgcheck`, `repo_gpgcheck`, `baseurl` (a value may
//! go on over indented lines). zypper's `.repo` files are the same INI (see `zypper.rs`).
use super::{body, insert_line, lines, set_body, truth, Changes, Entry, Plan, Put, Served};
use std::ops::Range;
use std::path::{Path, PathBuf};

pub const DIR: &str = "etc/yum.repos.d";

pub fn files(root: &Path) -> Vec<PathBuf> {
    repo_files(&root.join(DIR))
}

/// The `*.repo` files of a directory, sorted.
pub fn repo_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|f| f.path())
        .filter(|p| p.extension().is_some_and(|e| e == "repo") && p.is_file())
        .collect();
    out.sort();
    out
}

/// A `[name]` header's name.
fn header(line: &str) -> Option<&str> {
    let t = body(line).trim();
    t.strip_prefix('[')?.strip_suffix(']').map(str::trim)
}

fn is_comment(line: &str) -> bool {
    let t = body(line).trim_start();
    t.starts_with('#') || t.starts_with(';')
}

/// A `key = value` line: (key, value).
fn key_value(line: &str) -> Option<(&str, &str)> {
    if is_comment(line) || body(line).starts_with([' ', '\t']) {
        return None;
    }
    let (k, v) = body(line).split_once('=')?;
    Some((k.trim(), v.trim()))
}

fn is_continuation(line: &str) -> bool {
    let b = body(line);
    b.starts_with([' ', '\t']) && !b.trim().is_empty() && !is_comment(line)
}

/// The sections: (name, lines from the header to the next header).
fn sections(ls: &[String]) -> Vec<(String, Range<usize>)> {
    let mut out: Vec<(String, Range<usize>)> = Vec::new();
    for (i, l) in ls.iter().enumerate() {
        if let Some(name) = header(l) {
            if let Some(last) = out.last_mut() {
                last.1.end = i;
            }
            out.push((name.to_string(), i..ls.len()));
        }
    }
    out
}

/// The settings of a section: (key, value with its continuation lines joined by spaces).
fn settings(ls: &[String], span: &Range<usize>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for l in &ls[span.start + 1..span.end] {
        if let Some((k, v)) = key_value(l) {
            out.push((k.to_string(), v.to_string()));
        } else if is_continuation(l) {
            if let Some(last) = out.last_mut() {
                last.1 = format!("{} {}", last.1, body(l).trim()).trim().to_string();
            }
        }
    }
    out
}

pub fn parse(text: &str) -> Vec<Entry> {
    let ls = lines(text);
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    let mut marks = Vec::new();
    for l in &ls {
        if let Some((begin, name)) = super::marker(l) {
            block = begin.then(|| name.to_string());
        }
        marks.push(block.clone());
    }
    for (name, span) in sections(&ls) {
        if name == "main" {
            continue; // dnf.conf's own settings, when given a whole config
        }
        let fields = settings(&ls, &span);
        let get = |k: &str| {
            fields
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let enabled = get("enabled").and_then(truth).unwrap_or(true);
        let url = ["baseurl", "mirrorlist", "metalink"]
            .iter()
            .find_map(|k| get(k))
            .and_then(|v| v.split_whitespace().next())
            .unwrap_or_default()
            .to_string();
        let mut e = Entry::new(name, enabled, url, span.clone());
        e.block = marks[span.start].clone();
        e.fields = fields;
        out.push(e);
    }
    out
}

/// Sets `key` in the section at `span` (its first line, continuations dropped), or adds it
/// after the section's last setting; returns the section's new span.
pub fn set_key(ls: &mut Vec<String>, span: Range<usize>, key: &str, value: &str) -> Range<usize> {
    let found =
        (span.start + 1..span.end).find(|&i| key_value(&ls[i]).is_some_and(|(k, _)| k == key));
    if let Some(i) = found {
        let b = body(&ls[i]).to_string();
        let eq = b.find('=').expect("a key line has '='");
        let after = &b[eq + 1..];
        let pad = &after[..after.len() - after.trim_start().len()];
        set_body(&mut ls[i], &format!("{}{pad}{value}", &b[..=eq]));
        let mut end = span.end;
        while i + 1 < end && is_continuation(&ls[i + 1]) {
            ls.remove(i + 1);
            end -= 1;
        }
        return span.start..end;
    }
    // After the last setting (or the header), in the file's own `key=value` spacing.
    let last = (span.start..span.end)
        .rev()
        .find(|&i| i == span.start || key_value(&ls[i]).is_some() || is_continuation(&ls[i]))
        .unwrap_or(span.start);
    let spaced = (span.start + 1..span.end)
        .find_map(|i| key_value(&ls[i]).map(|_| body(&ls[i]).contains(" = ")))
        .unwrap_or(false);
    let line = if spaced {
        format!("{key} = {value}")
    } else {
        format!("{key}={value}")
    };
    insert_line(ls, Some(last), &line);
    span.start..span.end + 1
}

pub fn edit(text: &str, e: &Entry, ch: &Changes) -> anyhow::Result<String> {
    let mut ls = lines(text);
    let mut span = e.span.clone();
    let bit = |b: bool| if b { "1" } else { "0" };
    if let Some(on) = ch.enabled {
        span = set_key(&mut ls, span, "enabled", bit(on));
    }
    if let Some(on) = ch.gpgcheck {
        span = set_key(&mut ls, span, "gpgcheck", bit(on));
    }
    if let Some(on) = ch.repo_gpgcheck {
        span = set_key(&mut ls, span, "repo_gpgcheck", bit(on));
    }
    if let Some(url) = &ch.baseurl {
        set_key(&mut ls, span, "baseurl", url);
    }
    Ok(ls.concat())
}

pub fn plan(name: &str, s: &Served) -> anyhow::Result<Plan> {
    repo_plan(DIR, name, s)
}

/// The served `.repo` as DIR/NAME.repo.
pub fn repo_plan(dir: &str, name: &str, s: &Served) -> anyhow::Result<Plan> {
    let text = s.main_text()?;
    if parse(&text).is_empty() {
        anyhow::bail!("the served {} has no [repository] section", s.files[0].0);
    }
    Ok(Plan {
        puts: vec![Put::Create {
            path: Path::new(dir).join(format!("{name}.repo")),
            data: text.into_bytes(),
        }],
        pacman_key: false,
    })
}
