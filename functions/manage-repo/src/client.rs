//! The CLI's client side: each command is one or more REST calls, sent to a server over
//! HTTP or, with `--data DIR` and no `--server`, handed to the same core handlers in-process.
use crate::Cmd;
use anyhow::{bail, Context};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reposmith_core::{App, Body};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

/// Characters left as they are in a path segment or query value.
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub(crate) fn enc(s: &str) -> String {
    utf8_percent_encode(s, KEEP).to_string()
}

pub(crate) enum Transport {
    Http { base: String, token: Option<String> },
    Local(Arc<App>),
}

pub(crate) enum Payload {
    None,
    Json(Value),
    File(PathBuf, ProgressBar),
}

impl Transport {
    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        payload: Payload,
    ) -> anyhow::Result<(u16, Value)> {
        match self {
            Transport::Http { base, token } => {
                let url = format!("{}{}", base.trim_end_matches('/'), path);
                let token = token.clone();
                let method = method.to_string();
                tokio::task::spawn_blocking(move || {
                    http_call(&method, &url, token.as_deref(), payload)
                })
                .await?
            }
            Transport::Local(app) => {
                let body = match payload {
                    Payload::None => Body::Empty,
                    Payload::Json(v) => Body::from(serde_json::to_vec(&v)?),
                    Payload::File(p, bar) => {
                        let data = tokio::fs::read(&p)
                            .await
                            .with_context(|| p.display().to_string())?;
                        bar.inc(data.len() as u64);
                        Body::from(data)
                    }
                };
                let req = http::Request::builder()
                    .method(method)
                    .uri(path)
                    .header("authorization", format!("Bearer {}", app.token))
                    .body(body)?;
                let resp = reposmith_core::handle(app, req).await;
                let status = resp.status().as_u16();
                let bytes = resp.into_body().collect(64 << 20).await?;
                // As over HTTP: a body that is not JSON (a config file) comes as text.
                Ok((
                    status,
                    serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                        Value::String(String::from_utf8_lossy(&bytes).into_owned())
                    }),
                ))
            }
        }
    }
}

impl Transport {
    /// The server's URL of `path` (the path itself in-process).
    pub(crate) fn url(&self, path: &str) -> String {
        match self {
            Transport::Http { base, .. } => format!("{}{path}", base.trim_end_matches('/')),
            Transport::Local(_) => path.to_string(),
        }
    }

    /// A streamed GET of `url` (a path on the server, or a full URL: our token goes to our
    /// server only): status, `Content-Range`, body.
    pub(crate) async fn get(
        &self,
        url: &str,
        headers: Vec<(&'static str, String)>,
    ) -> anyhow::Result<(u16, Option<String>, reposmith_core::ByteStream)> {
        match self {
            Transport::Http { base, token } => {
                let base = base.trim_end_matches('/');
                let (url, token) = if url.starts_with("http://") || url.starts_with("https://") {
                    let ours = url.starts_with(&format!("{base}/"));
                    (url.to_string(), token.clone().filter(|_| ours))
                } else {
                    (format!("{base}{url}"), token.clone())
                };
                // ureq reads blocking: a thread feeds the body through a channel.
                let (head_tx, head_rx) = tokio::sync::oneshot::channel();
                let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
                tokio::task::spawn_blocking(move || {
                    let mut req = ureq::get(&url);
                    if let Some(t) = &token {
                        req = req.set("Authorization", &format!("Bearer {t}"));
                    }
                    for (k, v) in &headers {
                        req = req.set(k, v);
                    }
                    let resp = match req.call() {
                        Ok(r) => r,
                        Err(ureq::Error::Status(_, r)) => r,
                        Err(e) => {
                            let _ = head_tx.send(Err(anyhow::anyhow!("{url}: {e}")));
                            return;
                        }
                    };
                    let head = (
                        resp.status(),
                        resp.header("content-range").map(str::to_string),
                    );
                    if head_tx.send(Ok(head)).is_err() {
                        return;
                    }
                    let mut reader = resp.into_reader();
                    loop {
                        let mut buf = vec![0; 64 << 10];
                        let chunk = match std::io::Read::read(&mut reader, &mut buf) {
                            Ok(0) => return,
                            Ok(n) => {
                                buf.truncate(n);
                                Ok(bytes::Bytes::from(buf))
                            }
                            Err(e) => Err(e),
                        };
                        let stop = chunk.is_err();
                        if tx.blocking_send(chunk).is_err() || stop {
                            return;
                        }
                    }
                });
                let (status, range) = head_rx.await??;
                let body = futures::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|chunk| (chunk, rx))
                });
                Ok((status, range, Box::pin(body)))
            }
            Transport::Local(app) => {
                let mut req = http::Request::builder()
                    .method("GET")
                    .uri(url)
                    .header("authorization", format!("Bearer {}", app.token));
                for (k, v) in &headers {
                    req = req.header(*k, v);
                }
                let resp = reposmith_core::handle(app, req.body(Body::Empty)?).await;
                let range = resp
                    .headers()
                    .get("content-range")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                Ok((
                    resp.status().as_u16(),
                    range,
                    resp.into_body().into_stream(),
                ))
            }
        }
    }
}

pub(crate) fn http_call(
    method: &str,
    url: &str,
    token: Option<&str>,
    payload: Payload,
) -> anyhow::Result<(u16, Value)> {
    let mut req = ureq::request(method, url);
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    let result = match payload {
        Payload::None => req.call(),
        Payload::Json(v) => req
            .set("Content-Type", "application/json")
            .send_string(&v.to_string()),
        Payload::File(p, bar) => {
            let f = std::fs::File::open(&p).with_context(|| p.display().to_string())?;
            let len = f.metadata()?.len();
            req.set("Content-Length", &len.to_string())
                .set("Content-Type", "application/octet-stream")
                .send(bar.wrap_read(f))
        }
    };
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => bail!("{url}: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().unwrap_or_default();
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// A 2xx value, or the server's `{"error","detail"}` in words as an error
/// (`422 unknown package format: passwd is not a package any generator claims`).
pub(crate) fn ok((status, v): (u16, Value)) -> anyhow::Result<Value> {
    if (200..300).contains(&status) {
        return Ok(v);
    }
    bail!("{}", refusal(status, &v))
}

/// A refusal in words: status, the JSON error and its detail (or the body as it came).
pub(crate) fn refusal(status: u16, v: &Value) -> String {
    let text = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    match (text("error"), text("detail"), v.as_str()) {
        (Some(e), Some(d), _) => format!("{status} {e}: {d}"),
        (Some(e), None, _) => format!("{status} {e}"),
        (None, _, Some(body)) if !body.trim().is_empty() => {
            format!(
                "{status} {}",
                body.trim().chars().take(200).collect::<String>()
            )
        }
        _ => format!("{status} (no error message)"),
    }
}

/// Prints `v` as one line of JSON on stdout.
pub(crate) fn print_json(v: &Value) {
    println!("{v}");
}

/// `manage-repo gc`: on a data directory (and the stores it names), never through a server.
pub async fn gc(
    data: Option<PathBuf>,
    stores: &crate::setup::StoreUrls,
    min_age: u64,
    json: bool,
) -> anyhow::Result<()> {
    let Some(dir) = data else {
        crate::usage!("gc works on a data directory: give --data DIR");
    };
    collect(&dir, stores, min_age, json).await
}

/// Runs a client command through a server, or in-process on a data directory.
pub async fn run(
    at: crate::Target,
    stores: crate::setup::StoreUrls,
    cmd: Cmd,
) -> anyhow::Result<()> {
    let json = at.json;
    let t = match (at.server, at.data) {
        (Some(base), _) => Transport::Http {
            base,
            token: at.token,
        },
        (None, Some(dir)) => Transport::Local(crate::setup::open(&dir, None, None, &stores, Default::default())
                .await?
                .app),
        (None, None) => crate::usage!("give --server URL (or REPOSMITH_URL), or --data DIR to work on a data directory directly"),
    };
    match cmd {
        Cmd::Serve { .. }
        | Cmd::Gc { .. }
        | Cmd::Host { .. }
        | Cmd::InitStores { .. }
        | Cmd::Completions { .. }
        | Cmd::Complete { .. } => {
            unreachable!("handled by main")
        }
        Cmd::Create {
            repo,
            description,
            suite,
            component,
            architectures,
            private,
            keep_generations,
            keep_days,
            ..
        } => {
            let settings = CreateSettings {
                description,
                suite,
                component,
                architectures,
                private,
                keep_generations,
                keep_days,
            };
            create(&t, &repo, settings, json).await
        }
        Cmd::Add {
            repo,
            files,
            hints,
            jobs,
            atomic: false,
            ..
        } => add(&t, &repo, files, hints, jobs, json).await,
        Cmd::Add {
            repo,
            files,
            hints,
            jobs,
            atomic: true,
            ..
        } => {
            let c = crate::transact::Changes {
                adds: files,
                removes: Vec::new(),
                hints: hint_query(&hints)?,
                jobs,
            };
            crate::transact::apply(&t, &repo, c, json).await
        }
        Cmd::Apply {
            repo,
            adds,
            removes,
            jobs,
            ..
        } => {
            let c = crate::transact::Changes {
                adds,
                removes,
                hints: String::new(),
                jobs,
            };
            crate::transact::apply(&t, &repo, c, json).await
        }
        Cmd::Promote {
            src, dst, packages, ..
        } => crate::transact::promote(&t, &src, &dst, packages, json).await,
        Cmd::History {
            repo,
            since,
            until,
            package,
            limit,
            ..
        } => {
            let f = crate::history::Filter {
                since,
                until,
                package,
                limit,
            };
            crate::history::history(&t, &repo, f, json).await
        }
        Cmd::Rollback { repo, to, .. } => crate::history::rollback(&t, &repo, to, json).await,
        Cmd::Set {
            repo,
            title,
            description,
            gpgcheck,
            repo_gpgcheck,
            gpgkey,
            no_gpgkey,
            baseurl,
            no_baseurl,
            mirror,
            no_mirrors,
            suites,
            components,
            query,
            ..
        } => {
            let list = |v: Vec<String>, clear: bool| (clear || !v.is_empty()).then_some(v);
            let changes = crate::props::Changes {
                title,
                description,
                gpgcheck,
                repo_gpgcheck,
                gpgkey: list(gpgkey, no_gpgkey),
                baseurl: if no_baseurl {
                    Some(None)
                } else {
                    baseurl.map(Some)
                },
                mirrors: list(mirror, no_mirrors),
                suites,
                components,
                query,
            };
            crate::props::set(&t, &repo, changes, json).await
        }
        Cmd::Enable { repo, .. } => crate::props::switch(&t, &repo, true, json).await,
        Cmd::Disable { repo, .. } => crate::props::switch(&t, &repo, false, json).await,
        Cmd::Config { repo, name, .. } => {
            crate::props::config(&t, &repo, name.as_deref(), json).await
        }
        Cmd::Snapshot {
            repo,
            name,
            list,
            delete,
            ..
        } => {
            use crate::history::SnapshotCmd;
            let cmd = match (name, list, delete) {
                (_, true, _) => SnapshotCmd::List,
                (Some(n), false, true) => SnapshotCmd::Delete(n),
                (Some(n), false, false) => SnapshotCmd::Create(n),
                (None, false, _) => crate::usage!("give a snapshot NAME, or --list"),
            };
            crate::history::snapshot(&t, &repo, cmd, json).await
        }
        Cmd::Diff { a, b, .. } => crate::diff::diff(&t, &a, &b, json).await,
        Cmd::Remove { repo, filename, .. } => remove(&t, &repo, &filename, json).await,
        Cmd::Delete { repo, .. } => delete(&t, &repo, json).await,
        Cmd::Rebuild { repo, .. } => rebuild(&t, &repo, json).await,
        Cmd::List { repo, .. } => list(&t, repo.as_deref(), json).await,
        Cmd::Download {
            repo,
            patterns,
            formats,
            arches,
            all_versions,
            resolve,
            dest,
            jobs,
            ..
        } => {
            let d = crate::query::Download {
                patterns,
                formats,
                arches,
                all_versions,
                resolve,
                dest,
                jobs,
                json,
            };
            crate::query::download(&t, &repo, d).await
        }
        Cmd::Search { repo, text, .. } => crate::query::search(&t, &repo, &text, json).await,
        Cmd::Show { repo, name, .. } => crate::query::show(&t, &repo, &name, json).await,
        Cmd::Token { cmd, .. } => tokens(&t, cmd, json).await,
        Cmd::Key { cmd, .. } => keys(&t, cmd, json).await,
        Cmd::Generator {
            cmd: crate::generator::GeneratorCmd::Install { file, .. },
        } => crate::generator::install(&t, &file, json).await,
        Cmd::Generator { .. } => unreachable!("handled by main"),
    }
}

/// `manage-repo key ...`: a repo's signing keys.
#[derive(clap::Subcommand, Clone)]
pub enum KeyCmd {
    /// The repo's keys: fingerprint, state (signing, overlap), created, expires.
    List {
        /// The repository.
        repo: String,
    },
    /// A new signing key for the repo; the replaced one keeps signing during the overlap
    /// (InRelease carries both signatures, key.asc both keys).
    Rotate {
        /// The repository.
        repo: String,
        /// How long the replaced key keeps signing: seconds, or with m, h or d. 0: none.
        #[arg(long, default_value = "30d", value_parser = parse_overlap)]
        overlap: u64,
        /// Sign with this armored secret key (gpg --export-secret-keys --armor, no
        /// passphrase) instead of a new one.
        #[arg(long = "import", value_name = "FILE")]
        import: Option<std::path::PathBuf>,
        /// Lifetime of a new key (its OpenPGP expiry): seconds, or with m, h or d [default: none].
        #[arg(long, value_parser = parse_duration)]
        expires: Option<u64>,
    },
    /// End a replaced key's overlap now: it stops signing and leaves key.asc.
    Retire {
        /// The repository.
        repo: String,
        /// The replaced key's fingerprint, as `key list` shows it.
        fingerprint: String,
    },
}

fn parse_overlap(s: &str) -> Result<u64, String> {
    if s.trim() == "0" {
        return Ok(0);
    }
    parse_duration(s)
}

async fn keys(t: &Transport, cmd: KeyCmd, json: bool) -> anyhow::Result<()> {
    let (repo, v) = match cmd {
        KeyCmd::List { repo, .. } => {
            let path = format!("/repos/{}/keys/", enc(&repo));
            let v = ok(t.call("GET", &path, Payload::None).await?)?;
            (repo, v)
        }
        KeyCmd::Rotate {
            repo,
            overlap,
            import,
            expires,
        } => {
            let mut body = serde_json::json!({ "overlap": overlap });
            if let Some(f) = import {
                let armored = std::fs::read_to_string(&f)
                    .with_context(|| format!("reading {}", f.display()))?;
                body["key"] = armored.into();
            }
            if let Some(secs) = expires {
                body["lifetime"] = secs.into();
            }
            let path = format!("/repos/{}/keys/", enc(&repo));
            let v = ok(t.call("POST", &path, Payload::Json(body)).await?)?;
            (repo, v)
        }
        KeyCmd::Retire { repo, fingerprint } => {
            let path = format!("/repos/{}/keys/{}", enc(&repo), enc(&fingerprint));
            let v = ok(t.call("DELETE", &path, Payload::None).await?)?;
            (repo, v)
        }
    };
    if json {
        print_json(&v);
        return Ok(());
    }
    for k in v["keys"].as_array().into_iter().flatten() {
        let when = |f: &str| k[f].as_u64().map_or("-".to_string(), |t| t.to_string());
        println!(
            "{repo}\t{}\t{}\tcreated {}\texpires {}\tuntil {}",
            k["fingerprint"]
                .as_str()
                .filter(|f| !f.is_empty())
                .unwrap_or("(server key)"),
            k["state"].as_str().unwrap_or_default(),
            when("created"),
            when("expires"),
            when("until"),
        );
    }
    Ok(())
}

/// `manage-repo token ...`: scoped tokens (needs the admin token).
#[derive(clap::Subcommand, Clone)]
pub enum TokenCmd {
    /// Make a token; it is printed once (only its hash is kept).
    Create {
        /// The token's name (it is shown in the audit log).
        name: String,
        /// read (private repos), upload, delete or admin (repeatable, or comma-separated).
        #[arg(long = "scope", required = true, value_delimiter = ',')]
        scopes: Vec<String>,
        /// Only these repos: names or globs such as 'team-*' (repeatable; default: all).
        #[arg(long = "repo")]
        repos: Vec<String>,
        /// Lifetime: seconds, or with m, h or d, e.g. 90d [default: it does not expire].
        #[arg(long, value_parser = parse_duration)]
        expires: Option<u64>,
    },
    /// The tokens: name, scopes, repos, expiry.
    List,
    /// Revoke a token: its next request is refused.
    Revoke {
        /// The token's name.
        name: String,
    },
}

/// `3600`, `90m`, `12h`, `30d`, as seconds.
pub(crate) fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, unit) = match s.char_indices().last() {
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3600),
        Some((i, 'd')) => (&s[..i], 86_400),
        Some((i, 's')) => (&s[..i], 1),
        _ => (s, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{s:?}: a duration is seconds, or a number with m, h or d"))
}

async fn tokens(t: &Transport, cmd: TokenCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        TokenCmd::Create {
            name,
            scopes,
            repos,
            expires,
        } => {
            let mut body = serde_json::json!({ "name": name, "scopes": scopes, "repos": repos });
            if let Some(secs) = expires {
                body["expires_in"] = secs.into();
            }
            let v = ok(t.call("POST", "/tokens/", Payload::Json(body)).await?)?;
            // The secret alone on stdout, so `$(manage-repo token create ...)` captures it.
            eprintln!("created token {name} (shown once: keep it)");
            if json {
                print_json(&v);
            } else {
                println!("{}", v["token"].as_str().unwrap_or_default());
            }
        }
        TokenCmd::List => {
            let v = ok(t.call("GET", "/tokens/", Payload::None).await?)?;
            if json {
                print_json(&v);
                return Ok(());
            }
            for tk in v["tokens"].as_array().into_iter().flatten() {
                let list = |k: &str| {
                    let items: Vec<&str> = tk[k]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    if items.is_empty() {
                        "*".to_string()
                    } else {
                        items.join(",")
                    }
                };
                let expires = match tk["expires"].as_u64() {
                    None => "never".to_string(),
                    Some(_) if tk["expired"] == true => "expired".to_string(),
                    Some(at) => format!("expires {at}"),
                };
                println!(
                    "{}\t{}\t{}\t{expires}",
                    tk["name"].as_str().unwrap_or_default(),
                    list("scopes"),
                    list("repos")
                );
            }
        }
        TokenCmd::Revoke { name } => {
            let v = ok(t
                .call("DELETE", &format!("/tokens/{}", enc(&name)), Payload::None)
                .await?)?;
            if json {
                print_json(&v);
            } else {
                println!("revoked {name}");
            }
        }
    }
    Ok(())
}

async fn collect(
    dir: &std::path::Path,
    stores: &crate::setup::StoreUrls,
    min_age: u64,
    json: bool,
) -> anyhow::Result<()> {
    let app = crate::setup::open(dir, None, None, stores, Default::default())
        .await?
        .app;
    let r = reposmith_core::gc::collect(&app, min_age)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if json {
        print_json(&serde_json::to_value(&r)?);
    } else {
        println!("{}", gc_line(&r));
    }
    Ok(())
}

/// A GC report in one line (`gc` prints it, `serve --gc-every` logs it).
pub(crate) fn gc_line(r: &reposmith_core::gc::GcReport) -> String {
    format!(
        "gc: deleted {} blobs ({}), kept {} referenced, dropped {} generations past retention",
        r.deleted,
        human_bytes(r.bytes_freed),
        r.referenced,
        r.generations_dropped
    )
}

/// `3.4 MB`: bytes in decimal units, one decimal past kB.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} bytes");
    }
    let (mut v, mut unit) = (n as f64 / 1000.0, 0);
    while v >= 999.95 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

struct CreateSettings {
    description: String,
    suite: Option<String>,
    component: Option<String>,
    architectures: Vec<String>,
    private: bool,
    keep_generations: Option<u64>,
    keep_days: Option<u64>,
}

async fn create(t: &Transport, repo: &str, c: CreateSettings, json: bool) -> anyhow::Result<()> {
    let CreateSettings {
        description,
        suite,
        component,
        architectures,
        private,
        keep_generations,
        keep_days,
    } = c;
    let mut body = serde_json::json!({
        "description": description,
        "architectures": architectures,
        "private": private,
    });
    if let Some(s) = suite {
        body["suite"] = s.into();
    }
    if let Some(c) = component {
        body["component"] = c.into();
    }
    if let Some(n) = keep_generations {
        body["keep_generations"] = n.into();
    }
    if let Some(d) = keep_days {
        body["keep_days"] = d.into();
    }
    let path = format!("/repos/{}/", enc(repo));
    let v = ok(t.call("POST", &path, Payload::Json(body)).await?)?;
    if json {
        print_json(&v);
    } else {
        println!("created {repo} (generation {})", v["generation"]);
    }
    Ok(())
}

async fn remove(t: &Transport, repo: &str, filename: &str, json: bool) -> anyhow::Result<()> {
    let path = format!("/repos/{}/packages/{}", enc(repo), enc(filename));
    let v = ok(t.call("DELETE", &path, Payload::None).await?)?;
    if json {
        print_json(&v);
    } else {
        println!("removed {filename} (generation {})", v["generation"]);
    }
    Ok(())
}

async fn delete(t: &Transport, repo: &str, json: bool) -> anyhow::Result<()> {
    let path = format!("/repos/{}/", enc(repo));
    let v = ok(t.call("DELETE", &path, Payload::None).await?)?;
    if json {
        print_json(&v);
    } else {
        println!("deleted {repo} ({} packages)", v["packages"]);
    }
    Ok(())
}

async fn rebuild(t: &Transport, repo: &str, json: bool) -> anyhow::Result<()> {
    let bar = ProgressBar::new_spinner().with_message(format!("rebuilding {repo}"));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let path = format!("/repos/{}/rebuild", enc(repo));
    let r = t.call("POST", &path, Payload::None).await;
    bar.finish_and_clear();
    let v = ok(r?)?;
    if json {
        print_json(&v);
        return Ok(());
    }
    println!(
        "rebuilt {repo}: {} packages, generation {}, {} ms",
        v["analyzed"], v["generation"], v["millis"]
    );
    for u in v["unclaimed"].as_array().into_iter().flatten() {
        println!("  unclaimed: {}", u.as_str().unwrap_or_default());
    }
    for m in v["missing"].as_array().into_iter().flatten() {
        println!("  missing blob: {}", m.as_str().unwrap_or_default());
    }
    Ok(())
}

/// The packages of `repo` (name, size, sha256), or with no repo the repos (name, description).
async fn list(t: &Transport, repo: Option<&str>, json: bool) -> anyhow::Result<()> {
    let path = match repo {
        Some(r) => format!("/repos/{}/packages/", enc(r)),
        None => "/repos/".to_string(),
    };
    let v = ok(t.call("GET", &path, Payload::None).await?)?;
    if json {
        print_json(&v);
    } else if repo.is_some() {
        for p in v["packages"].as_array().into_iter().flatten() {
            println!(
                "{}\t{}\t{}",
                p["filename"].as_str().unwrap_or_default(),
                p["size"],
                p["sha256"].as_str().unwrap_or_default()
            );
        }
    } else {
        for r in v["repos"].as_array().into_iter().flatten() {
            println!(
                "{}\t{}",
                r["name"].as_str().unwrap_or_default(),
                r["description"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(())
}

async fn add(
    t: &Transport,
    repo: &str,
    files: Vec<PathBuf>,
    hints: Vec<String>,
    jobs: usize,
    json: bool,
) -> anyhow::Result<()> {
    let query = hint_query(&hints)?;
    let bar = bytes_bar(total_size(&files)?);
    // Several uploads in flight: their publishes coalesce on the server.
    let results: Vec<bool> = futures::stream::iter(files)
        .map(|f| {
            let (bar, query) = (bar.clone(), &query);
            async move {
                let Some(name) = file_name(&f) else {
                    let name = f.display().to_string();
                    report(&bar, json, &name, Err("no usable file name".into()));
                    return false;
                };
                match upload(t, repo, &name, query, &f, &bar).await {
                    Ok(v) => {
                        let what = if v["new"] == Value::Bool(false) {
                            "unchanged"
                        } else {
                            "added"
                        };
                        let generation = v["generation"].clone();
                        let line = Line {
                            result: what,
                            words: format!("{what} {name} (generation {generation})"),
                            extra: serde_json::json!({ "generation": generation }),
                        };
                        report(&bar, json, &name, Ok(line));
                        true
                    }
                    Err(e) => {
                        report(&bar, json, &name, Err(format!("{e:#}")));
                        false
                    }
                }
            }
        })
        .buffer_unordered(jobs.max(1))
        .collect()
        .await;
    let failed = results.iter().filter(|ok| !**ok).count();
    bar.finish_and_clear();
    if failed > 0 {
        bail!("{failed} of the uploads failed");
    }
    Ok(())
}

/// `--hint K=V...` as `&hint.K=V...` for an upload's query.
pub(crate) fn hint_query(hints: &[String]) -> anyhow::Result<String> {
    let mut query = String::new();
    for h in hints {
        let Some((k, v)) = h.split_once('=') else {
            crate::usage!("--hint {h:?} is not KEY=VALUE");
        };
        query.push_str(&format!("&hint.{}={}", enc(k), enc(v)));
    }
    Ok(query)
}

/// The files' total size; one that is missing or not a file is a usage error, before any
/// upload.
pub(crate) fn total_size(files: &[PathBuf]) -> anyhow::Result<u64> {
    let mut total = 0;
    for f in files {
        match std::fs::metadata(f) {
            Ok(m) if m.is_file() => total += m.len(),
            Ok(_) => crate::usage!("{}: not a file", f.display()),
            Err(e) => crate::usage!("{}: {e}", f.display()),
        }
    }
    Ok(total)
}

/// The name a file is uploaded under: its own, when it is UTF-8.
pub(crate) fn file_name(f: &std::path::Path) -> Option<String> {
    f.file_name().and_then(|n| n.to_str()).map(str::to_string)
}

/// One progress bar of bytes, on stderr (hidden without a terminal).
pub(crate) fn bytes_bar(total: u64) -> ProgressBar {
    ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
            .expect("valid template"),
    )
}

/// A file's result: its word (added, downloaded...), the line in words, more JSON fields.
pub(crate) struct Line {
    pub result: &'static str,
    pub words: String,
    pub extra: Value,
}

/// A file's result on stdout: a line in words (`failed NAME: why`), or with --json an object
/// `{"file", "result", ...}` (`"error"` for a failure).
pub(crate) fn report(bar: &ProgressBar, json: bool, file: &str, r: Result<Line, String>) {
    let line = match (json, r) {
        (false, Ok(l)) => l.words,
        (false, Err(e)) => format!("failed {file}: {e}"),
        (true, Ok(l)) => {
            let mut v = serde_json::json!({ "file": file, "result": l.result });
            if let Value::Object(extra) = l.extra {
                v.as_object_mut().expect("an object").extend(extra);
            }
            v.to_string()
        }
        (true, Err(e)) => {
            serde_json::json!({ "file": file, "result": "failed", "error": e }).to_string()
        }
    };
    say(bar, line);
}

/// A result line on stdout, whatever the terminal: `ProgressBar::println` draws through the
/// bar, and prints nothing when the bar is hidden (no terminal: CI jobs, scripts).
pub(crate) fn say(bar: &ProgressBar, line: String) {
    bar.suspend(|| println!("{line}"));
}

/// Above this a file goes through the large-upload flow when the server offers it: Lambda
/// caps a request at 6 MB, and a binary body arrives there base64-encoded (4/3 larger).
const LARGE: u64 = 4 << 20;

/// One file: a direct POST, or for a large file over HTTP the large-upload flow
/// (`POST uploads/`, PUT the bytes where it says, `POST uploads/{id}`), which servers
/// without it answer 404/405 to, and then the direct POST is tried.
async fn upload(
    t: &Transport,
    repo: &str,
    name: &str,
    query: &str,
    f: &std::path::Path,
    bar: &ProgressBar,
) -> anyhow::Result<Value> {
    let size = std::fs::metadata(f)
        .with_context(|| f.display().to_string())?
        .len();
    if size > LARGE && matches!(t, Transport::Http { .. }) {
        let (status, v) = t
            .call("POST", &uploads_path(repo, name, query), Payload::None)
            .await?;
        if (200..300).contains(&status) {
            put_bytes(t, &v, f, bar).await?;
            return ok(t.call("POST", &field(&v, "commit")?, Payload::None).await?);
        }
        let no_route = status == 404
            && v["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("no route"));
        if !(no_route || matches!(status, 405 | 501)) {
            // The server has the flow and refused this upload (no such repo, bad name...).
            ok((status, v))?;
        }
    }
    let path = format!(
        "/repos/{}/packages/?filename={}{query}",
        enc(repo),
        enc(name)
    );
    t.call("POST", &path, Payload::File(f.to_path_buf(), bar.clone()))
        .await
        .and_then(ok)
}

/// Where a large upload of `name` begins (`query`: `&hint.K=V`...).
pub(crate) fn uploads_path(repo: &str, name: &str, query: &str) -> String {
    format!(
        "/repos/{}/uploads/?filename={}{query}",
        enc(repo),
        enc(name)
    )
}

/// A string field of a started upload.
pub(crate) fn field(started: &Value, k: &str) -> anyhow::Result<String> {
    started[k]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("the server's upload answer has no {k:?}: {started}"))
}

/// The bytes of a started large upload, PUT where the server said; not committed.
pub(crate) async fn put_bytes(
    t: &Transport,
    started: &Value,
    f: &std::path::Path,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let url = field(started, "url")?;
    let payload = Payload::File(f.to_path_buf(), bar.clone());
    if started["presigned"] == Value::Bool(true) || url.starts_with("http") {
        // Straight to storage: the URL carries its own signature, and never our token.
        let st =
            tokio::task::spawn_blocking(move || http_call("PUT", &url, None, payload)).await??;
        if !(200..300).contains(&st.0) {
            bail!("storage refused the upload: {} {}", st.0, st.1);
        }
    } else {
        ok(t.call("PUT", &url, payload).await?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gc_report_in_one_line() {
        let r = reposmith_core::gc::GcReport {
            blobs: 52,
            referenced: 40,
            deleted: 12,
            bytes_freed: 3_400_000,
            generations_dropped: 5,
            ..Default::default()
        };
        assert_eq!(
            gc_line(&r),
            "gc: deleted 12 blobs (3.4 MB), kept 40 referenced, dropped 5 generations past retention"
        );
        for (n, text) in [
            (0, "0 bytes"),
            (999, "999 bytes"),
            (1000, "1.0 kB"),
            (999_949, "999.9 kB"),
            (999_999, "1.0 MB"),
            (2_500_000_000, "2.5 GB"),
        ] {
            assert_eq!(human_bytes(n), text, "{n}");
        }
    }
}
