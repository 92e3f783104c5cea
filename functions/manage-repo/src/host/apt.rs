//! apt: one-line `deb [OPTIONS] URI SUITE COMPONENT...` entries in /etc/apt/sources.list and
//! sources.list.d/*.list (a line commented out with `#` is a disabled entry), and deb822
//! stanzas in sources.list.d/*.sources (`Types`, `URIs`, `Suites`, `Components`, `Enabled`,
//! `Signed-By` (a path, or the key itself on indented lines), `Trusted`), blank-line separated.
//! A definition is named after its file (`debian` for debian.sources), `FILE:N` when the file
//! holds several.
use super::{body, insert_line, lines, set_body, truth, Changes, Entry, Plan, Put, Served};
use anyhow::{bail, Context};
use std::ops::Range;
use std::path::{Path, PathBuf};

pub const DIR: &str = "etc/apt/sources.list.d";

pub fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.join("etc/apt/sources.list")];
    let mut more: Vec<PathBuf> = std::fs::read_dir(root.join(DIR))
        .into_iter()
        .flatten()
        .flatten()
        .map(|f| f.path())
        .filter(|p| p.extension().is_some_and(|e| e == "list" || e == "sources"))
        .collect();
    more.sort();
    out.extend(more);
    out.retain(|p| p.is_file());
    out
}

fn is_sources(file: &Path) -> bool {
    file.extension().is_some_and(|e| e == "sources")
}

pub fn parse(file: &Path, text: &str) -> Vec<Entry> {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = if is_sources(file) {
        parse_deb822(text)
    } else {
        parse_one_line(text)
    };
    let n = out.len();
    for (i, e) in out.iter_mut().enumerate() {
        e.name = if n == 1 {
            stem.clone()
        } else {
            format!("{stem}:{}", i + 1)
        };
    }
    out
}

// ---------------------------------------------------------------------------------------
// One-line entries.

/// A one-line entry's parts, as byte ranges of its line (without the line ending).
#[derive(Debug)]
struct OneLine {
    enabled: bool,
    kind: Range<usize>,
    /// Inside the brackets.
    options: Option<Range<usize>>,
    /// The brackets and the spaces after them.
    bracketed: Option<Range<usize>>,
    uri: Range<usize>,
    rest: Range<usize>,
}

fn one_line(b: &str) -> Option<OneLine> {
    let mut i = b.len() - b.trim_start().len();
    let enabled = !b[i..].starts_with('#');
    while b[i..].starts_with('#') || b[i..].starts_with([' ', '\t']) {
        i += 1;
    }
    let word = |from: usize| -> Range<usize> {
        let s = &b[from..];
        let end = s.find([' ', '\t']).unwrap_or(s.len());
        from..from + end
    };
    let skip_ws = |from: usize| -> usize {
        from + (b[from..].len() - b[from..].trim_start_matches([' ', '\t']).len())
    };
    let kind = word(i);
    if !matches!(&b[kind.clone()], "deb" | "deb-src") {
        return None;
    }
    let mut at = skip_ws(kind.end);
    let (mut options, mut bracketed) = (None, None);
    if b[at..].starts_with('[') {
        let close = at + b[at..].find(']')?;
        options = Some(at + 1..close);
        let after = skip_ws(close + 1);
        bracketed = Some(at..after);
        at = after;
    }
    let uri = word(at);
    if uri.is_empty() {
        return None;
    }
    let rest = skip_ws(uri.end)..b.len();
    b[rest.clone()].split_whitespace().next()?; // a suite
    Some(OneLine {
        enabled,
        kind,
        options,
        bracketed,
        uri,
        rest,
    })
}

fn parse_one_line(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for (i, l) in lines(text).iter().enumerate() {
        let b = body(l);
        let Some(o) = one_line(b) else { continue };
        let mut e = Entry::new(
            String::new(),
            o.enabled,
            b[o.uri.clone()].to_string(),
            i..i + 1,
        );
        let mut words = b[o.rest.clone()].split_whitespace();
        e.fields = vec![
            ("type".into(), b[o.kind.clone()].to_string()),
            ("uri".into(), b[o.uri.clone()].to_string()),
            ("suite".into(), words.next().unwrap_or_default().to_string()),
            ("components".into(), words.collect::<Vec<_>>().join(" ")),
        ];
        if let Some(opts) = &o.options {
            e.fields
                .insert(1, ("options".into(), b[opts.clone()].trim().to_string()));
        }
        out.push(e);
    }
    out
}

/// One wish for apt's signature checking from --gpgcheck and --repo-gpgcheck (apt checks
/// the signed Release only, so both mean the same).
fn checking(ch: &Changes) -> anyhow::Result<Option<bool>> {
    match (ch.gpgcheck, ch.repo_gpgcheck) {
        (Some(a), Some(b)) if a != b => {
            bail!("apt checks one signature (the Release file's): give --gpgcheck and --repo-gpgcheck the same value")
        }
        (a, b) => Ok(a.or(b)),
    }
}

fn edit_one_line(line: &str, e: &Entry, ch: &Changes) -> anyhow::Result<String> {
    let mut b = line.to_string();
    let o = one_line(&b).context("not a one-line entry any more")?;
    // Right to left, so the ranges still hold.
    if let Some(url) = &ch.baseurl {
        b.replace_range(o.uri.clone(), url);
    }
    if let Some(check) = checking(ch)? {
        let mut opts: Vec<String> = o
            .options
            .as_ref()
            .map(|r| {
                b[r.clone()]
                    .split_whitespace()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let before = opts.clone();
        opts.retain(|w| !w.starts_with("trusted="));
        if !check {
            opts.push("trusted=yes".into());
        }
        if opts != before {
            match (&o.options, &o.bracketed) {
                (Some(_), Some(br)) if opts.is_empty() => b.replace_range(br.clone(), ""),
                (Some(r), _) => b.replace_range(r.clone(), &opts.join(" ")),
                (None, _) => b.insert_str(o.kind.end, &format!(" [{}]", opts.join(" "))),
            }
        }
    }
    match ch.enabled {
        Some(false) if e.enabled => b.insert(0, '#'),
        Some(true) if !e.enabled => {
            let t = b.trim_start();
            let lead = b[..b.len() - t.len()].to_string();
            let rest = t.strip_prefix('#').unwrap_or(t).trim_start().to_string();
            b = format!("{lead}{rest}");
        }
        _ => {}
    }
    Ok(b)
}

// ---------------------------------------------------------------------------------------
// deb822 stanzas.

fn blank(l: &str) -> bool {
    body(l).trim().is_empty()
}

fn is_field(l: &str) -> Option<(&str, &str)> {
    let b = body(l);
    if b.starts_with([' ', '\t', '#']) {
        return None;
    }
    let (k, v) = b.split_once(':')?;
    Some((k.trim(), v.trim()))
}

fn continues(l: &str) -> bool {
    body(l).starts_with([' ', '\t']) && !blank(l)
}

/// The stanzas' line ranges (comment-only groups included: the caller skips them).
fn stanzas(ls: &[String]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, l) in ls.iter().enumerate() {
        match (blank(l), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..ls.len());
    }
    out
}

/// A stanza's fields: (key, value; continuation lines joined with newlines).
fn fields(ls: &[String], span: &Range<usize>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for l in &ls[span.clone()] {
        if let Some((k, v)) = is_field(l) {
            out.push((k.to_string(), v.to_string()));
        } else if continues(l) {
            if let Some(last) = out.last_mut() {
                last.1 = format!("{}\n{}", last.1, body(l).trim()).trim().to_string();
            }
        }
    }
    out
}

fn parse_deb822(text: &str) -> Vec<Entry> {
    let ls = lines(text);
    let mut out = Vec::new();
    for span in stanzas(&ls) {
        let fs = fields(&ls, &span);
        let get = |k: &str| {
            fs.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        if get("Types").is_none() && get("URIs").is_none() {
            continue;
        }
        let enabled = get("Enabled").and_then(truth).unwrap_or(true);
        let url = get("URIs")
            .and_then(|u| u.split_whitespace().next())
            .unwrap_or_default()
            .to_string();
        let mut e = Entry::new(String::new(), enabled, url, span);
        e.fields = fs;
        out.push(e);
    }
    out
}

/// The line of field `key` in the stanza, and the lines its value goes on over.
fn field_lines(ls: &[String], span: &Range<usize>, key: &str) -> Option<Range<usize>> {
    let i = span
        .clone()
        .find(|&i| is_field(&ls[i]).is_some_and(|(k, _)| k.eq_ignore_ascii_case(key)))?;
    let mut end = i + 1;
    while end < span.end && continues(&ls[end]) {
        end += 1;
    }
    Some(i..end)
}

/// Sets a field to a one-line value (in place, or after the stanza's last line): the span.
fn set_field(ls: &mut Vec<String>, span: Range<usize>, key: &str, value: &str) -> Range<usize> {
    if let Some(r) = field_lines(ls, &span, key) {
        let b = body(&ls[r.start]).to_string();
        let colon = b.find(':').expect("a field has ':'");
        let after = &b[colon + 1..];
        let pad = &after[..after.len() - after.trim_start().len()];
        let pad = if pad.is_empty() { " " } else { pad };
        set_body(&mut ls[r.start], &format!("{}{pad}{value}", &b[..=colon]));
        let gone = r.end - r.start - 1;
        ls.drain(r.start + 1..r.end);
        return span.start..span.end - gone;
    }
    insert_line(ls, Some(span.end - 1), &format!("{key}: {value}"));
    span.start..span.end + 1
}

fn remove_field(ls: &mut Vec<String>, span: Range<usize>, key: &str) -> Range<usize> {
    match field_lines(ls, &span, key) {
        Some(r) => {
            let n = r.end - r.start;
            ls.drain(r);
            span.start..span.end - n
        }
        None => span,
    }
}

fn edit_deb822(text: &str, e: &Entry, ch: &Changes) -> anyhow::Result<String> {
    let mut ls = lines(text);
    let mut span = e.span.clone();
    if let Some(on) = ch.enabled {
        span = set_field(&mut ls, span, "Enabled", if on { "yes" } else { "no" });
    }
    if let Some(check) = checking(ch)? {
        span = if check {
            remove_field(&mut ls, span, "Trusted")
        } else {
            set_field(&mut ls, span, "Trusted", "yes")
        };
    }
    if let Some(url) = &ch.baseurl {
        set_field(&mut ls, span, "URIs", url);
    }
    Ok(ls.concat())
}

pub fn edit(text: &str, e: &Entry, ch: &Changes) -> anyhow::Result<String> {
    if is_sources(&e.file) {
        return edit_deb822(text, e, ch);
    }
    let mut ls = lines(text);
    let i = e.span.start;
    let new = edit_one_line(body(&ls[i]), e, ch)?;
    set_body(&mut ls[i], &new);
    Ok(ls.concat())
}

// ---------------------------------------------------------------------------------------
// add.

/// The keyring path a served file names (`Signed-By: /path`, `[signed-by=/path]`), when it
/// does not embed the key.
fn keyring_path(file: &str, text: &str) -> Option<String> {
    if file.ends_with(".sources") {
        let ls = lines(text);
        for span in stanzas(&ls) {
            let fs = fields(&ls, &span);
            if let Some((_, v)) = fs.iter().find(|(k, _)| k.eq_ignore_ascii_case("Signed-By")) {
                if !v.contains('\n') && !v.is_empty() && !v.contains("BEGIN PGP") {
                    return v.split_whitespace().next().map(str::to_string);
                }
            }
        }
        return None;
    }
    for l in lines(text) {
        let b = body(&l);
        if let Some(o) = one_line(b) {
            if let Some(r) = o.options {
                for w in b[r].split_whitespace() {
                    if let Some(p) = w.strip_prefix("signed-by=") {
                        return p.split(',').next().map(str::to_string);
                    }
                }
            }
        }
    }
    None
}

/// The armored key as a binary keyring (for a `.gpg` path).
fn dearmor(armored: &str) -> anyhow::Result<Vec<u8>> {
    use pgp::composed::{Deserializable, SignedPublicKey};
    use pgp::ser::Serialize;
    let (keys, _) = SignedPublicKey::from_string_many(armored)?;
    let mut out = Vec::new();
    for k in keys {
        out.extend(k?.to_bytes()?);
    }
    Ok(out)
}

pub fn plan(name: &str, s: &Served) -> anyhow::Result<Plan> {
    let text = s.main_text()?;
    let file = &s.files[0].0;
    let ext = if file.ends_with(".list") {
        "list"
    } else {
        "sources"
    };
    let entries = parse(Path::new(&format!("x.{ext}")), &text);
    if entries.is_empty() {
        bail!("the served {file} has no apt source in it");
    }
    let mut puts = vec![Put::Create {
        path: Path::new(DIR).join(format!("{name}.{ext}")),
        data: text.clone().into_bytes(),
    }];
    if let Some(path) = keyring_path(file, &text) {
        let rel = match path.strip_prefix('/') {
            Some(r) if !r.contains("..") => PathBuf::from(r),
            _ => Path::new("etc/apt/keyrings").join(format!("{name}.asc")),
        };
        let data = match s.other(&[".asc", ".gpg"]) {
            Some((_, d)) => d.clone(),
            None if path.ends_with(".gpg") => dearmor(&s.key_armored)?,
            None => s.key_armored.clone().into_bytes(),
        };
        puts.push(Put::Create { path: rel, data });
    }
    Ok(Plan {
        puts,
        pacman_key: false,
    })
}
