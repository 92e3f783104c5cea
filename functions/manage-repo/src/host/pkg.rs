//! FreeBSD pkg: UCL `*.conf` files in /usr/local/etc/pkg/repos (and /etc/pkg), each holding
//! `NAME: { url: "...", enabled: yes, signature_type: "pubkey", pubkey: "...", ... }` objects
//! (several per file allowed; comments `#`, `//`, `/* */`). Edits replace a value's bytes only.
use super::{truth, Changes, Entry, Plan, Put, Served};
use anyhow::bail;
use std::ops::Range;
use std::path::{Path, PathBuf};

pub const DIR: &str = "usr/local/etc/pkg/repos";
pub const KEYS: &str = "usr/local/etc/pkg/keys";

pub fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["etc/pkg", DIR] {
        let mut more: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .into_iter()
            .flatten()
            .flatten()
            .map(|f| f.path())
            .filter(|p| p.extension().is_some_and(|e| e == "conf") && p.is_file())
            .collect();
        more.sort();
        out.extend(more);
    }
    out
}

/// One top-level object: its name, its bytes (name to `}`), where `{` is, its scalar settings.
#[derive(Debug)]
struct Obj {
    name: String,
    span: Range<usize>,
    open: usize,
    keys: Vec<Setting>,
}

#[derive(Debug)]
struct Setting {
    key: String,
    /// The value as written (quotes included).
    raw: Range<usize>,
    value: String,
    quoted: bool,
}

fn skip(s: &[u8], mut i: usize, newlines: bool) -> usize {
    while i < s.len() {
        match s[i] {
            b'\n' if !newlines => return i,
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'#' => {
                while i < s.len() && s[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if s.get(i + 1) == Some(&b'/') => {
                while i < s.len() && s[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if s.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < s.len() && !(s[i] == b'*' && s[i + 1] == b'/') {
                    i += 1;
                }
                i = (i + 2).min(s.len());
            }
            _ => return i,
        }
    }
    i
}

/// A scalar at `i`: (its bytes as written, its text, quoted).
/// A bare key ends at `:`, `=` or a space; a bare value at the end of its line, `,`, `;`, `}`.
fn scalar(t: &str, i: usize, key: bool) -> Option<(Range<usize>, String, bool)> {
    let s = t.as_bytes();
    let q = *s.get(i)?;
    if q == b'"' || q == b'\'' {
        let mut j = i + 1;
        let mut text = String::new();
        while j < s.len() && s[j] != q {
            if s[j] == b'\\' && j + 1 < s.len() {
                j += 1;
            }
            let c = t[j..].chars().next()?;
            text.push(c);
            j += c.len_utf8();
        }
        return (j < s.len()).then(|| (i..j + 1, text, true));
    }
    let mut j = i;
    let stops: &[u8] = if key { b",;}{\n:= \t#" } else { b",;}{\n#" };
    while j < s.len() && !stops.contains(&s[j]) {
        j += 1;
    }
    let raw = t[i..j].trim_end();
    (!raw.is_empty()).then(|| (i..i + raw.len(), raw.to_string(), false))
}

/// The end of a `{...}` or `[...]` starting at `i` (strings and comments skipped).
fn skip_nested(t: &str, i: usize) -> usize {
    let s = t.as_bytes();
    let mut depth = 0;
    let mut j = i;
    while j < s.len() {
        match s[j] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            b'"' | b'\'' => {
                j = scalar(t, j, false).map_or(s.len(), |(r, _, _)| r.end);
                continue;
            }
            b'#' | b'/' => {
                let k = skip(s, j, true);
                if k > j {
                    j = k;
                    continue;
                }
            }
            _ => {}
        }
        j += 1;
    }
    s.len()
}

fn objects(t: &str) -> Vec<Obj> {
    let s = t.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        i = skip(s, i, true);
        if i >= s.len() {
            break;
        }
        let Some((name_raw, name, _)) = scalar(t, i, true) else {
            i += 1; // stray punctuation
            continue;
        };
        let mut j = skip(s, name_raw.end, true);
        if matches!(s.get(j), Some(b':' | b'=')) {
            j = skip(s, j + 1, true);
        }
        if s.get(j) != Some(&b'{') {
            // a top-level setting, not a repository: skip its value
            i = match s.get(j) {
                Some(b'[') => skip_nested(t, j),
                _ => scalar(t, j, false).map_or(j.max(name_raw.end), |(r, _, _)| r.end),
            };
            continue;
        }
        let open = j;
        let close = skip_nested(t, open);
        let mut keys = Vec::new();
        let mut k = open + 1;
        loop {
            k = skip(s, k, true);
            while matches!(s.get(k), Some(b',' | b';')) {
                k = skip(s, k + 1, true);
            }
            if k >= close.saturating_sub(1) || s[k] == b'}' {
                break;
            }
            let Some((kr, key, _)) = scalar(t, k, true) else {
                k += 1;
                continue;
            };
            let mut v = skip(s, kr.end, false);
            if matches!(s.get(v), Some(b':' | b'=')) {
                v = skip(s, v + 1, false);
            }
            match s.get(v) {
                Some(b'{' | b'[') => k = skip_nested(t, v),
                _ => match scalar(t, v, false) {
                    Some((raw, value, quoted)) => {
                        k = raw.end;
                        keys.push(Setting {
                            key,
                            raw,
                            value,
                            quoted,
                        });
                    }
                    None => k = v + 1,
                },
            }
        }
        out.push(Obj {
            name,
            span: name_raw.start..close,
            open,
            keys,
        });
        i = close;
    }
    out
}

impl Obj {
    fn get(&self, k: &str) -> Option<&Setting> {
        self.keys.iter().find(|s| s.key.eq_ignore_ascii_case(k))
    }
}

pub fn parse(text: &str) -> Vec<Entry> {
    objects(text)
        .into_iter()
        .map(|o| {
            let enabled = o
                .get("enabled")
                .and_then(|s| truth(&s.value))
                .unwrap_or(true);
            let url = o.get("url").map(|s| s.value.clone()).unwrap_or_default();
            let mut e = Entry::new(o.name.clone(), enabled, url, o.span.clone());
            e.fields = o
                .keys
                .iter()
                .map(|s| (s.key.clone(), s.value.clone()))
                .collect();
            e
        })
        .collect()
}

pub fn edit(text: &str, e: &Entry, ch: &Changes) -> anyhow::Result<String> {
    let objs = objects(text);
    let Some(o) = objs.iter().find(|o| o.span.start == e.span.start) else {
        bail!("{} is no longer where it was", e.name);
    };
    // (bytes to replace, new text), applied right to left.
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let mut inserts: Vec<String> = Vec::new();
    let mut set = |key: &str, value: &str, quote: bool| match o.get(key) {
        Some(s) => {
            let v = if s.quoted {
                format!("\"{value}\"")
            } else {
                value.to_string()
            };
            edits.push((s.raw.clone(), v));
        }
        None => {
            let v = if quote {
                format!("\"{value}\"")
            } else {
                value.to_string()
            };
            inserts.push(format!("{key}: {v}"));
        }
    };
    if let Some(on) = ch.enabled {
        set("enabled", if on { "yes" } else { "no" }, false);
    }
    let check = match (ch.gpgcheck, ch.repo_gpgcheck) {
        (Some(a), Some(b)) if a != b => {
            bail!("pkg checks one signature (the catalogue's): give --gpgcheck and --repo-gpgcheck the same value")
        }
        (a, b) => a.or(b),
    };
    if let Some(on) = check {
        if on {
            let kind = if o.get("fingerprints").is_some() {
                "fingerprints"
            } else {
                "pubkey"
            };
            if o.get(kind).is_none() {
                bail!(
                    "{} has no pubkey or fingerprints to check signatures with",
                    e.name
                );
            }
            set("signature_type", kind, true);
        } else {
            set("signature_type", "none", true);
        }
    }
    if let Some(url) = &ch.baseurl {
        set("url", url, true);
    }
    let mut out = text.to_string();
    edits.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
    for (r, v) in edits {
        out.replace_range(r, &v);
    }
    if !inserts.is_empty() {
        let multi = text[o.open + 1..].starts_with(['\n', '\r']);
        let add: String = inserts
            .iter()
            .map(|s| {
                if multi {
                    format!("\n  {s},")
                } else {
                    format!(" {s},")
                }
            })
            .collect();
        out.insert_str(o.open + 1, &add);
    }
    Ok(out)
}

/// `text` without the object `e` (and the rest of its last line, when that is blank).
pub fn cut(text: &str, e: &Entry) -> String {
    let mut end = e.span.end;
    let rest = &text[end..];
    let line_end = rest.find('\n').map_or(rest.len(), |n| n + 1);
    if rest[..line_end].trim().is_empty() {
        end += line_end;
    }
    format!("{}{}", &text[..e.span.start], &text[end..])
}

pub fn plan(name: &str, s: &Served) -> anyhow::Result<Plan> {
    let text = s.main_text()?;
    let objs = objects(&text);
    if objs.is_empty() {
        bail!("the served {} has no repository in it", s.files[0].0);
    }
    let mut puts = vec![Put::Create {
        path: Path::new(DIR).join(format!("{name}.conf")),
        data: text.clone().into_bytes(),
    }];
    if let Some((_, data)) = s.other(&[".pub"]) {
        let path = objs[0]
            .get("pubkey")
            .and_then(|p| p.value.strip_prefix('/').map(str::to_string))
            .filter(|p| !p.contains(".."))
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(KEYS).join(format!("{name}.pub")));
        puts.push(Put::Create {
            path,
            data: data.clone(),
        });
    }
    Ok(Plan {
        puts,
        pacman_key: false,
    })
}
