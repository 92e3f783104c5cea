//! `download`, `search` and `show`: the package query (`GET /repos/{repo}/packages/?name=...`,
//! paged by `next`), then for `download` a GET of each file's `url` into DEST/NAME.part,
//! resumed with `Range` and checked against the query's sha256 before it takes its name.
use crate::client::{bytes_bar, enc, ok, refusal, report, Line, Payload, Transport};
use anyhow::{bail, Context};
use futures::StreamExt;
use indicatif::ProgressBar;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::future::Future;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

/// Every page of a query, from the first (no cursor) to the one whose `next` is null, as one
/// answer: `repo`, `generation` (of the first page), all `packages`, and `unsatisfied` when
/// a page has it.
pub(crate) async fn follow<F, Fut>(mut page: F) -> anyhow::Result<Value>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = anyhow::Result<Value>>,
{
    let (mut first, mut packages, mut unsatisfied) = (None, Vec::new(), Vec::new());
    let mut seen = BTreeSet::new();
    let mut cursor = None;
    loop {
        let v = page(cursor.take()).await?;
        if v.get("next").is_none() {
            // The plain listing: a server older than the query API ignores its parameters.
            bail!("the server does not answer package queries (it is older than this manage-repo)");
        }
        packages.extend(v["packages"].as_array().into_iter().flatten().cloned());
        for u in v["unsatisfied"].as_array().into_iter().flatten() {
            if !unsatisfied.contains(u) {
                unsatisfied.push(u.clone());
            }
        }
        let next = v["next"].as_str().map(str::to_string);
        first.get_or_insert(v);
        match next {
            None => break,
            Some(c) if !seen.insert(c.clone()) => bail!("the server repeated the cursor {c:?}"),
            Some(c) => cursor = Some(c),
        }
    }
    let first = first.expect("one page at least");
    let mut all = json!({
        "repo": first["repo"],
        "generation": first["generation"],
        "packages": packages,
    });
    if first.get("unsatisfied").is_some() {
        all["unsatisfied"] = unsatisfied.into();
    }
    Ok(all)
}

/// A query on `repo` with these parameters, every page (1000 items a page).
pub(crate) async fn query(
    t: &Transport,
    repo: &str,
    params: &[(&str, String)],
) -> anyhow::Result<Value> {
    let mut base = format!("/repos/{}/packages/?limit=1000", enc(repo));
    for (k, v) in params {
        base.push_str(&format!("&{k}={}", enc(v)));
    }
    follow(|cursor| {
        let path = match cursor {
            Some(c) => format!("{base}&cursor={}", enc(&c)),
            None => base.clone(),
        };
        async move { ok(t.call("GET", &path, Payload::None).await?) }
    })
    .await
}

/// The patterns as globs (the server's syntax: `*`, `?`, `[abc]`, `[a-c]`, `[!x]`); a bad one
/// is a usage error before any request.
pub(crate) fn globs(patterns: &[String]) -> anyhow::Result<Vec<glob::Pattern>> {
    let mut out = Vec::new();
    for p in patterns {
        match glob::Pattern::new(p) {
            Ok(g) if !p.is_empty() => out.push(g),
            Ok(_) => crate::usage!("an empty PATTERN matches no package"),
            Err(e) => crate::usage!("{p:?} is not a valid pattern: {}", e.msg),
        }
    }
    Ok(out)
}

/// The patterns that match none of `names`.
pub(crate) fn unmatched<'a>(
    patterns: &'a [String],
    globs: &[glob::Pattern],
    names: &[&str],
) -> Vec<&'a str> {
    patterns
        .iter()
        .zip(globs)
        .filter(|(_, g)| !names.iter().any(|n| g.matches(n)))
        .map(|(p, _)| p.as_str())
        .collect()
}

/// The files of a query's items, once each (a file two generators claim is two items).
fn files(v: &Value) -> Vec<Value> {
    let mut seen = BTreeSet::new();
    v["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| seen.insert(p["filename"].as_str().unwrap_or_default().to_string()))
        .cloned()
        .collect()
}

pub(crate) struct Download {
    pub patterns: Vec<String>,
    pub formats: Vec<String>,
    pub arches: Vec<String>,
    pub all_versions: bool,
    pub resolve: bool,
    pub dest: PathBuf,
    pub jobs: usize,
    pub json: bool,
}

pub(crate) async fn download(t: &Transport, repo: &str, d: Download) -> anyhow::Result<()> {
    let globs = globs(&d.patterns)?;
    let mut params: Vec<(&str, String)> = d.patterns.iter().map(|p| ("name", p.clone())).collect();
    if !d.all_versions {
        params.push(("latest", "1".into()));
    }
    params.extend(d.formats.iter().map(|f| ("format", f.clone())));
    params.extend(d.arches.iter().map(|a| ("arch", a.clone())));
    if d.resolve {
        params.push(("resolve", "1".into()));
    }
    let v = query(t, repo, &params).await?;
    let items = files(&v);
    std::fs::create_dir_all(&d.dest).with_context(|| d.dest.display().to_string())?;
    let total = items.iter().filter_map(|p| p["size"].as_u64()).sum();
    let bar = bytes_bar(total);
    let (json, dest) = (d.json, &d.dest);
    // Each file's result word (downloaded, present), None when it failed.
    let results: Vec<Option<&str>> = futures::stream::iter(&items)
        .map(|item| {
            let bar = bar.clone();
            async move {
                let name = item["filename"].as_str().unwrap_or_default();
                let r = fetch_one(t, item, dest, &bar)
                    .await
                    .map_err(|e| format!("{e:#}"));
                let result = r.as_ref().ok().map(|l| l.result);
                report(&bar, json, name, r);
                result
            }
        })
        .buffer_unordered(d.jobs.max(1))
        .collect()
        .await;
    bar.finish_and_clear();
    for u in v["unsatisfied"].as_array().into_iter().flatten() {
        let s = |k: &str| u[k].as_str().unwrap_or_default().to_string();
        let line = Line {
            result: "unsatisfied",
            words: format!("unsatisfied {}: {}", s("package"), s("dependency")),
            extra: json!({ "name": s("name"), "dependency": s("dependency") }),
        };
        report(&bar, json, &s("package"), Ok(line));
    }
    let names: Vec<&str> = v["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str())
        .collect();
    let missing = unmatched(&d.patterns, &globs, &names);
    for p in &missing {
        // An unquoted glob the shell expanded to a local file name arrives as that name.
        let hint = if Path::new(p).exists() {
            " (a file of that name is here: quote patterns, 'gcc-*', so the shell keeps them)"
        } else {
            ""
        };
        eprintln!("no package in {repo} matches {p}{hint}");
    }
    let count = |r: Option<&str>| results.iter().filter(|x| **x == r).count();
    let failed = count(None);
    eprintln!(
        "{} downloaded, {} present, {failed} failed",
        count(Some("downloaded")),
        count(Some("present"))
    );
    if failed > 0 {
        bail!("{failed} of the downloads failed");
    }
    if !missing.is_empty() {
        bail!("{} of the patterns matched nothing", missing.len());
    }
    Ok(())
}

/// One file of a query into `dest`: present (right digest already), or fetched.
async fn fetch_one(
    t: &Transport,
    item: &Value,
    dest: &Path,
    bar: &ProgressBar,
) -> anyhow::Result<Line> {
    let name = item["filename"].as_str().unwrap_or_default().to_string();
    // The name comes from the server: never a path out of DEST.
    if Path::new(&name).file_name().and_then(|n| n.to_str()) != Some(name.as_str()) {
        bail!("not a plain file name");
    }
    let sha256 = item["sha256"]
        .as_str()
        .context("the query gives no sha256")?
        .to_lowercase();
    let url = item["url"].as_str().context("the query gives no url")?;
    let size = item["size"].as_u64();
    let path = dest.join(&name);
    let (p, want) = (path.clone(), sha256.clone());
    if tokio::task::spawn_blocking(move || digest(&p).is_ok_and(|d| d == want)).await? {
        bar.inc(size.unwrap_or(0));
        return Ok(Line {
            result: "present",
            words: format!("present {name}"),
            extra: json!({ "path": path, "sha256": sha256 }),
        });
    }
    let part_path = dest.join(format!("{name}.part"));
    let part = tokio::task::spawn_blocking(move || Part::open(part_path, size.unwrap_or(u64::MAX)))
        .await??;
    bar.inc(part.len);
    let part = fetch(t, url, &sha256, part, bar.clone()).await?;
    let len = part.finish(&sha256, size, &path)?;
    Ok(Line {
        result: "downloaded",
        words: format!("downloaded {name} ({len} bytes)"),
        extra: json!({ "path": path, "size": len, "sha256": sha256 }),
    })
}

/// The sha256 of a file, hex.
fn digest(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

/// A download in progress: DEST/NAME.part, what it holds so far, and its running sha256.
pub(crate) struct Part {
    path: PathBuf,
    file: std::fs::File,
    hash: Sha256,
    pub len: u64,
}

/// What to do with an answer to a (ranged) GET.
#[derive(Debug, PartialEq)]
pub(crate) enum Answer {
    /// Write the body after what the part holds.
    Append,
    /// Write the body from the start (the part was emptied).
    Whole,
    /// Empty the part and ask again without a range.
    Again,
    /// A refusal: the error in the body.
    Refused,
}

impl Part {
    /// Opens `path`, keeping (and hashing) what an earlier run got if it is less than `size`.
    pub(crate) fn open(path: PathBuf, size: u64) -> std::io::Result<Part> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let mut part = Part {
            path,
            file: file.try_clone()?,
            hash: Sha256::new(),
            len: 0,
        };
        if file.metadata()?.len() >= size {
            part.restart()?;
        } else {
            part.len = std::io::copy(&mut file, &mut part.hash)?;
        }
        Ok(part)
    }

    fn restart(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.rewind()?;
        self.hash = Sha256::new();
        self.len = 0;
        Ok(())
    }

    /// Decides on an answer's status (and `Content-Range`) to the GET this part asked for,
    /// emptying the part when the server sends the whole file.
    pub(crate) fn answer(
        &mut self,
        status: u16,
        content_range: Option<&str>,
    ) -> anyhow::Result<Answer> {
        match status {
            206 => {
                let from = content_range
                    .and_then(|r| r.trim().strip_prefix("bytes "))
                    .and_then(|r| r.split_once('-'))
                    .and_then(|(start, _)| start.trim().parse::<u64>().ok());
                if self.len == 0 || from != Some(self.len) {
                    bail!("the server sent a range we did not ask for: {content_range:?}");
                }
                self.file.seek(std::io::SeekFrom::End(0))?;
                Ok(Answer::Append)
            }
            // The whole file: no range support, or the file changed (If-Range).
            200 => {
                self.restart()?;
                Ok(Answer::Whole)
            }
            // What the part holds is not a prefix of the file (any more).
            416 if self.len > 0 => {
                self.restart()?;
                Ok(Answer::Again)
            }
            _ => Ok(Answer::Refused),
        }
    }

    pub(crate) fn write(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.file.write_all(buf)?;
        self.hash.update(buf);
        self.len += buf.len() as u64;
        Ok(())
    }

    /// The part becomes `dest` if it has the sha256 (and size) the query gave; otherwise it is
    /// deleted and the file fails. Returns the size.
    pub(crate) fn finish(
        self,
        sha256: &str,
        size: Option<u64>,
        dest: &Path,
    ) -> anyhow::Result<u64> {
        self.file.sync_all()?;
        let got = hex::encode(self.hash.finalize());
        if got != sha256 || size.is_some_and(|s| s != self.len) {
            let _ = std::fs::remove_file(&self.path);
            bail!(
                "sha256 mismatch: the query says {sha256}, the file has {got} ({} bytes); deleted it",
                self.len
            );
        }
        std::fs::rename(&self.path, dest).with_context(|| dest.display().to_string())?;
        Ok(self.len)
    }
}

/// GETs `url` into `part`, from where it stands (`Range`, with `If-Range` on the sha256 so
/// that a file that changed comes whole).
async fn fetch(
    t: &Transport,
    url: &str,
    sha256: &str,
    mut part: Part,
    bar: ProgressBar,
) -> anyhow::Result<Part> {
    for _ in 0..2 {
        let had = part.len;
        let mut headers = Vec::new();
        if had > 0 {
            headers.push(("Range", format!("bytes={had}-")));
            headers.push(("If-Range", format!("\"{sha256}\"")));
        }
        let (status, content_range, mut body) = t.get(url, headers).await?;
        let answer = part.answer(status, content_range.as_deref())?;
        if matches!(answer, Answer::Whole | Answer::Again) {
            bar.set_position(bar.position().saturating_sub(had));
        }
        match answer {
            Answer::Again => continue,
            Answer::Refused => {
                let mut text = Vec::new();
                while let Some(chunk) = body.next().await {
                    text.extend_from_slice(&chunk?);
                }
                let v = serde_json::from_slice(&text)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&text).into()));
                bail!("{}", refusal(status, &v));
            }
            Answer::Whole | Answer::Append => {}
        }
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            part.write(&chunk)?;
            bar.inc(chunk.len() as u64);
        }
        return Ok(part);
    }
    bail!("the server refused the range twice")
}

/// `search REPO TEXT`: the newest versions whose name or summary contains TEXT, as a table.
pub(crate) async fn search(
    t: &Transport,
    repo: &str,
    text: &str,
    json: bool,
) -> anyhow::Result<()> {
    let params = [
        ("q", text.to_string()),
        ("latest", "1".into()),
        ("details", "1".into()),
    ];
    let v = query(t, repo, &params).await?;
    if json {
        crate::client::print_json(&v);
        return Ok(());
    }
    let items = v["packages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if items.is_empty() {
        eprintln!("no package in {repo} has {text:?} in its name or summary");
        return Ok(());
    }
    let mut rows = vec![["NAME", "VERSION", "ARCH", "FORMAT", "SUMMARY"]
        .map(String::from)
        .to_vec()];
    for p in items {
        let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
        let summary = s("summary").lines().next().unwrap_or_default().to_string();
        rows.push(vec![
            s("name"),
            s("version"),
            s("arch"),
            s("format"),
            summary,
        ]);
    }
    print!("{}", table(&rows));
    Ok(())
}

/// Rows as columns two spaces apart, each as wide as its widest cell (the last one unpadded).
pub(crate) fn table(rows: &[Vec<String>]) -> String {
    let mut widths = Vec::new();
    for row in rows {
        widths.resize(widths.len().max(row.len()), 0);
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            } else {
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `show REPO NAME`: every version, format and arch of the package NAME (exactly: glob
/// characters in it are escaped), with every field.
pub(crate) async fn show(t: &Transport, repo: &str, name: &str, json: bool) -> anyhow::Result<()> {
    let params = [
        ("name", glob::Pattern::escape(name)),
        ("details", "1".into()),
    ];
    let v = query(t, repo, &params).await?;
    let items = v["packages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if items.is_empty() {
        bail!("no package named {name} in {repo}");
    }
    if json {
        crate::client::print_json(&v);
        return Ok(());
    }
    let blocks: Vec<String> = items.iter().map(|p| describe(p, &t.url(""))).collect();
    print!("{}", blocks.join("\n"));
    Ok(())
}

/// One query item in words, a `key: value` line each; `url` made absolute with `base`.
pub(crate) fn describe(p: &Value, base: &str) -> String {
    let s = |k: &str| match &p[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    };
    let mut out = String::new();
    for k in [
        "name", "version", "arch", "format", "filename", "size", "sha256",
    ] {
        out.push_str(&format!("{k}: {}\n", s(k)));
    }
    let url = s("url");
    let url = if url.starts_with('/') {
        format!("{base}{url}")
    } else {
        url
    };
    out.push_str(&format!("url: {url}\n"));
    out.push_str(&format!("summary: {}\n", s("summary")));
    let requirements: Vec<String> = p["depends"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|alts| {
            let alts: Vec<String> = alts
                .as_array()
                .into_iter()
                .flatten()
                .map(relation)
                .collect();
            alts.join(" | ")
        })
        .collect();
    out.push_str(&format!("depends: {}\n", requirements.join(", ")));
    let provides: Vec<String> = p["provides"]
        .as_array()
        .into_iter()
        .flatten()
        .map(relation)
        .collect();
    out.push_str(&format!("provides: {}\n", provides.join(", ")));
    out.push_str("fields:\n");
    for f in p["fields"].as_array().into_iter().flatten() {
        let (k, v) = (
            f[0].as_str().unwrap_or_default(),
            f[1].as_str().unwrap_or_default(),
        );
        // A multi-line value (a Description) stays under its field, indented.
        let v = v.trim_end().replace('\n', "\n    ");
        out.push_str(&format!("  {k}: {v}\n"));
    }
    // No trailing blanks after an empty value (`provides:`).
    out.lines()
        .map(|l| l.trim_end().to_string() + "\n")
        .collect()
}

/// `{"name": "libc6", "op": ">=", "version": "2.34"}` as `libc6 (>= 2.34)`.
fn relation(r: &Value) -> String {
    let s = |k: &str| r[k].as_str().unwrap_or_default();
    if s("op").is_empty() {
        s("name").to_string()
    } else {
        format!("{} ({} {})", s("name"), s("op"), s("version"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn sha(data: &[u8]) -> String {
        hex::encode(Sha256::digest(data))
    }

    fn block<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// Pages are asked for with the previous page's `next` until it is null, and merged.
    #[test]
    fn follows_the_cursor_to_the_last_page() {
        let asked = Mutex::new(Vec::new());
        let v = block(follow(|cursor| {
            asked.lock().unwrap().push(cursor.clone());
            let page = match cursor.as_deref() {
                None => json!({"repo": "r", "generation": 7, "next": "c1",
                    "packages": [{"name": "a"}], "unsatisfied": [{"name": "x"}]}),
                Some("c1") => json!({"repo": "r", "generation": 8, "next": "c2",
                    "packages": [{"name": "b"}, {"name": "c"}], "unsatisfied": [{"name": "x"}]}),
                Some("c2") => json!({"repo": "r", "generation": 8, "next": null,
                    "packages": [{"name": "d"}], "unsatisfied": [{"name": "y"}]}),
                Some(other) => panic!("unexpected cursor {other}"),
            };
            async move { Ok(page) }
        }))
        .unwrap();
        assert_eq!(
            *asked.lock().unwrap(),
            [None, Some("c1".into()), Some("c2".into())]
        );
        let names: Vec<&str> = v["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
        assert_eq!(v["generation"], 7);
        assert_eq!(v["unsatisfied"], json!([{"name": "x"}, {"name": "y"}]));
    }

    #[test]
    fn a_repeated_cursor_or_a_plain_listing_is_an_error() {
        let looped = block(follow(|_| async {
            Ok(json!({"packages": [], "next": "same"}))
        }));
        assert!(format!("{:#}", looped.unwrap_err()).contains("repeated the cursor"));
        let old = block(follow(|_| async {
            Ok(json!({"repo": {}, "packages": []}))
        }));
        assert!(format!("{:#}", old.unwrap_err()).contains("does not answer package queries"));
        let one = block(follow(|_| async {
            Ok(json!({"packages": [], "next": null}))
        }))
        .unwrap();
        assert!(one.get("unsatisfied").is_none(), "{one}");
    }

    #[test]
    fn patterns_are_checked_and_unmatched_ones_named() {
        let pats: Vec<String> = ["gcc-*", "lib?foo", "python3-[a-c]*", "zzz", "[!g]*"]
            .map(String::from)
            .to_vec();
        let g = globs(&pats).unwrap();
        let names = ["gcc-12", "libxfoo", "python3-b", "abc"];
        assert_eq!(unmatched(&pats, &g, &names), ["zzz"]);
        for bad in ["[", ""] {
            let e = globs(&[bad.to_string()]).unwrap_err();
            assert!(e.downcast_ref::<crate::Usage>().is_some(), "{bad:?}: {e}");
        }
        // `show NAME` asks for NAME exactly, whatever characters it has.
        let exact = glob::Pattern::new(&glob::Pattern::escape("a[1]*?")).unwrap();
        assert!(exact.matches("a[1]*?") && !exact.matches("a1xx"));
    }

    /// A part resumes from what it holds (hashing it), appends a 206 at that offset, starts
    /// over on a 200 or 416, and becomes the file only with the right digest.
    #[test]
    fn a_part_resumes_and_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let data = b"0123456789abcdefghij".to_vec();
        let (part_path, dest) = (dir.path().join("f.part"), dir.path().join("f"));
        std::fs::write(&part_path, &data[..8]).unwrap();
        let mut p = Part::open(part_path.clone(), data.len() as u64).unwrap();
        assert_eq!(p.len, 8);
        assert!(
            p.answer(206, Some("bytes 3-19/20")).is_err(),
            "wrong offset"
        );
        assert!(p.answer(206, None).is_err());
        assert_eq!(
            p.answer(206, Some("bytes 8-19/20")).unwrap(),
            Answer::Append
        );
        p.write(&data[8..]).unwrap();
        assert_eq!(p.finish(&sha(&data), Some(20), &dest).unwrap(), 20);
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        assert!(!part_path.exists());

        // The server sends the whole file (no ranges, or the file changed): start over.
        std::fs::write(&part_path, b"xxxx").unwrap();
        let mut p = Part::open(part_path.clone(), 20).unwrap();
        assert_eq!(p.answer(200, None).unwrap(), Answer::Whole);
        assert_eq!(p.len, 0);
        p.write(&data).unwrap();
        p.finish(&sha(&data), Some(20), &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);

        // More than the file: emptied at open. 416 on a part: again, from 0. Else refused.
        std::fs::write(&part_path, [0; 30]).unwrap();
        let mut p = Part::open(part_path.clone(), 20).unwrap();
        assert_eq!(p.len, 0);
        p.write(b"abc").unwrap();
        assert_eq!(p.answer(416, None).unwrap(), Answer::Again);
        assert_eq!(
            (p.len, std::fs::metadata(&part_path).unwrap().len()),
            (0, 0)
        );
        assert_eq!(p.answer(404, None).unwrap(), Answer::Refused);

        // A wrong digest: the part is deleted and the file fails.
        p.write(b"not the file").unwrap();
        let e = p
            .finish(&sha(&data), None, &dir.path().join("g"))
            .unwrap_err();
        assert!(e.to_string().contains("sha256 mismatch"), "{e}");
        assert!(!part_path.exists() && !dir.path().join("g").exists());
    }

    #[test]
    fn search_table_and_show_text() {
        let rows = vec![
            vec!["NAME".into(), "VERSION".into(), "SUMMARY".into()],
            vec!["gcc-12".into(), "12.2.0-14".into(), "GNU C compiler".into()],
            vec!["gdb".into(), "1".into(), "".into()],
        ];
        assert_eq!(
            table(&rows),
            "NAME    VERSION    SUMMARY\ngcc-12  12.2.0-14  GNU C compiler\ngdb     1\n"
        );
        let p = json!({"name": "gcc-12", "version": "12.2.0-14", "arch": "amd64",
            "format": "deb", "filename": "gcc-12_12.2.0-14_amd64.deb", "size": 1234,
            "sha256": "ab", "url": "/repos/r/packages/gcc-12_12.2.0-14_amd64.deb",
            "summary": "GNU C compiler",
            "depends": [[{"name": "libc6", "op": ">=", "version": "2.34"}], [{"name": "a"}, {"name": "b"}]],
            "provides": [{"name": "c-compiler", "op": "", "version": ""}],
            "fields": [["Package", "gcc-12"], ["Description", "GNU C compiler\n more text\n"]]});
        let text = describe(&p, "http://h:1");
        for line in [
            "size: 1234\n",
            "url: http://h:1/repos/r/packages/gcc-12_12.2.0-14_amd64.deb\n",
            "depends: libc6 (>= 2.34), a | b\n",
            "provides: c-compiler\n",
            "fields:\n  Package: gcc-12\n  Description: GNU C compiler\n     more text\n",
        ] {
            assert!(text.contains(line), "{line:?} not in\n{text}");
        }
    }
}
