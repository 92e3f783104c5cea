//! apk (Alpine): one repository per line of /etc/apk/repositories (and apk-tools 3's
//! /etc/apk/repositories.d/*.list): `[@TAG] URL`; a line commented out with `#` is a disabled
//! repository. `add` appends the served line between marker comments and puts the served RSA
//! key (`NAME.rsa.pub`) in /etc/apk/keys/.
use super::{body, lines, set_body, Changes, Entry, Plan, Put, Served};
use anyhow::bail;
use std::path::{Path, PathBuf};

pub const FILE: &str = "etc/apk/repositories";
pub const KEYS: &str = "etc/apk/keys";

pub fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.join(FILE)];
    let mut more: Vec<PathBuf> = std::fs::read_dir(root.join("etc/apk/repositories.d"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|f| f.path())
        .filter(|p| p.extension().is_some_and(|e| e == "list"))
        .collect();
    more.sort();
    out.extend(more);
    out.retain(|p| p.is_file());
    out
}

/// A repository line's text: (enabled, tag, URL), with the byte range of the URL in `line`.
fn repo_line(line: &str) -> Option<(bool, Option<&str>, &str, std::ops::Range<usize>)> {
    let b = body(line);
    let t = b.trim_start();
    let (enabled, rest) = match t.strip_prefix('#') {
        Some(r) => (false, r.trim_start_matches('#').trim_start()),
        None => (true, t),
    };
    let mut words = rest.split_whitespace();
    let first = words.next()?;
    let (tag, url) = if let Some(tag) = first.strip_prefix('@') {
        (Some(tag), words.next()?)
    } else {
        (None, first)
    };
    if !(url.contains("://") || url.starts_with('/')) || words.next().is_some() {
        return None; // a comment in words, not a commented-out repository
    }
    let start = url.as_ptr() as usize - b.as_ptr() as usize;
    Some((enabled, tag, url, start..start + url.len()))
}

/// An unmanaged line's name: its tag, else the URL's last two path segments.
fn name_of(tag: Option<&str>, url: &str) -> String {
    if let Some(t) = tag {
        return t.to_string();
    }
    let path = url.split_once("://").map_or(url, |(_, r)| r);
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let n = segs.len();
    if n >= 3 {
        format!("{}/{}", segs[n - 2], segs[n - 1])
    } else {
        segs.join("/")
    }
}

pub fn parse(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for (i, l) in lines(text).iter().enumerate() {
        if let Some((begin, name)) = super::marker(l) {
            block = begin.then(|| name.to_string());
            continue;
        }
        let Some((enabled, tag, url, _)) = repo_line(l) else {
            continue;
        };
        let name = block.clone().unwrap_or_else(|| name_of(tag, url));
        let mut e = Entry::new(name, enabled, url.to_string(), i..i + 1);
        e.block = block.clone();
        e.fields = vec![("line".into(), body(l).trim().to_string())];
        if let Some(t) = tag {
            e.fields.push(("tag".into(), t.to_string()));
        }
        out.push(e);
    }
    out
}

pub fn edit(text: &str, e: &Entry, ch: &Changes) -> anyhow::Result<String> {
    if ch.gpgcheck.is_some() || ch.repo_gpgcheck.is_some() {
        bail!("apk checks every index against /etc/apk/keys: it has no signature check to switch");
    }
    let mut ls = lines(text);
    let i = e.span.start;
    if let Some(url) = &ch.baseurl {
        let b = body(&ls[i]).to_string();
        let (_, _, _, r) = repo_line(&b).expect("a repository line");
        set_body(
            &mut ls[i],
            &format!("{}{url}{}", &b[..r.start], &b[r.end..]),
        );
    }
    match ch.enabled {
        Some(false) if e.enabled => {
            let b = body(&ls[i]).to_string();
            set_body(&mut ls[i], &format!("#{b}"));
        }
        Some(true) if !e.enabled => {
            let b = body(&ls[i]).to_string();
            let t = b.trim_start();
            let lead = &b[..b.len() - t.len()];
            let rest = t.strip_prefix('#').unwrap_or(t).trim_start();
            set_body(&mut ls[i], &format!("{lead}{rest}"));
        }
        _ => {}
    }
    Ok(ls.concat())
}

pub fn plan(_name: &str, s: &Served) -> anyhow::Result<Plan> {
    let text = s.main_text()?;
    if parse(&text).is_empty() {
        bail!("the served {} has no repository line", s.files[0].0);
    }
    let mut puts = vec![Put::Append {
        path: FILE.into(),
        text,
    }];
    for (file, data) in s.files.iter().skip(1) {
        if file.ends_with(".pub") {
            puts.push(Put::Create {
                path: Path::new(KEYS).join(file),
                data: data.clone(),
            });
        }
    }
    Ok(Plan {
        puts,
        pacman_key: false,
    })
}
