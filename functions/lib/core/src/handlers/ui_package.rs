//! `GET /ui/repos/{repo}/packages/{package}`: one package file: its digests, every entry
//! with every field its generator describes (`query`, `details`), the other versions of its
//! name, where it is published, which clients get it, and, with a token, its removal.
use crate::app::App;
use crate::body::{Request, Response};
use crate::client::{files, request_base};
use crate::commit::package;
use crate::error::ApiResult;
use crate::query::{self, Item, Query};
use crate::ui::{self, enc, esc};
use std::collections::BTreeSet;
use std::fmt::Write as _;

pub async fn get(app: &App, repo: &str, filename: &str, req: Request) -> ApiResult<Response> {
    let rec = package(app, repo, filename).await?;
    let (parts, _) = req.into_parts();
    let download = format!("/repos/{}/packages/{}", enc(repo), enc(filename));
    let mut o = String::new();
    let _ = write!(
        o,
        "<p class=\"crumbs\"><a href=\"{}\">{}</a> / packages</p>\n<h1>{}</h1>\n\
         <p><a class=\"button\" href=\"{}\" download>Download</a> \
         <button type=\"button\" class=\"write danger\" hidden data-delete=\"{}\" \
         data-name=\"{}\" data-back=\"{}\">Remove…</button></p>\n",
        esc(&ui::repo_url(repo, "")),
        esc(repo),
        esc(filename),
        esc(&download),
        esc(&download),
        esc(filename),
        esc(&ui::repo_url(repo, "")),
    );
    let _ = write!(
        o,
        "<h2>File</h2>\n<dl class=\"fields\"><dt>Size</dt><dd>{} ({} bytes)</dd>\
         <dt>Uploaded</dt><dd>{}{}</dd>\
         <dt>SHA-256</dt><dd><code id=\"sha256\">{}</code></dd>\
         <dt>SHA-512</dt><dd><code>{}</code></dd><dt>SHA-1</dt><dd><code>{}</code></dd>\
         <dt>MD5</dt><dd><code>{}</code></dd>",
        ui::size(rec.size),
        rec.size,
        ui::time(rec.uploaded),
        rec.uploaded_by
            .as_deref()
            .map(|w| format!(" by {}", esc(w)))
            .unwrap_or_default(),
        esc(&rec.sha256),
        esc(&rec.sha512.to_string()),
        esc(&rec.sha1.to_string()),
        esc(&rec.md5.to_string()),
    );
    for h in &rec.hints {
        let _ = write!(o, "<dt>Hint {}</dt><dd>{}</dd>", esc(&h.key), esc(&h.value));
    }
    o.push_str("</dl>\n");

    // Who serves it: the clients of the formats that claimed it, and the published paths.
    let mounts: Vec<(String, String)> = app
        .generators()
        .iter()
        .map(|g| (g.info().name.clone(), g.info().mount.clone()))
        .collect();
    let clients: BTreeSet<String> = match files(app, repo, &request_base(&parts, repo)).await {
        Ok(f) => f
            .files
            .iter()
            .filter(|(g, _)| rec.entries.contains_key(g))
            .map(|(_, c)| c.client.clone())
            .collect(),
        Err(_) => BTreeSet::new(),
    };
    let _ = writeln!(
        o,
        "<p>Served to: {}</p>",
        if clients.is_empty() {
            "no client (no format claimed it)".to_string()
        } else {
            clients
                .iter()
                .map(|c| {
                    format!(
                        "<a href=\"{}#client-{}\">{}</a>",
                        esc(&ui::repo_url(repo, "/setup")),
                        esc(c),
                        esc(c)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        }
    );

    for (format, ids) in &rec.entries {
        let mount = mounts.iter().find(|(g, _)| g == format).map(|(_, m)| m);
        for id in ids {
            let pairs = vec![
                ("name".to_string(), glob::Pattern::escape(&id.name)),
                ("format".to_string(), format.clone()),
                ("details".to_string(), "1".to_string()),
                ("limit".to_string(), query::MAX_LIMIT.to_string()),
            ];
            let items: Vec<Item> = match Query::parse(&pairs)? {
                Some(q) => query::run(app, repo, q).await?.packages,
                None => Vec::new(),
            };
            let this = items
                .iter()
                .find(|i| i.filename == rec.filename && i.arch == id.arch);
            let _ = writeln!(
                o,
                "<section class=\"entry\"><h2>{} {} <span class=\"tag\">{}</span> \
                 <span class=\"tag\">{}</span></h2>",
                esc(&id.name),
                esc(&id.version),
                esc(format),
                esc(&id.arch)
            );
            if let (Some(m), false) = (mount, id.path.is_empty()) {
                let path: Vec<String> = id.path.split('/').map(enc).collect();
                let url = format!("/repos/{}/{}/{}", enc(repo), enc(m), path.join("/"));
                let _ = writeln!(
                    o,
                    "<p>Published at <a href=\"{}\"><code>{}</code></a></p>",
                    esc(&url),
                    esc(&url)
                );
            }
            if let Some(i) = this {
                if let Some(s) = i.summary.as_deref().filter(|s| !s.is_empty()) {
                    let _ = writeln!(o, "<p class=\"lead\">{}</p>", esc(s));
                }
                o.push_str("<dl class=\"fields\">");
                for (k, v) in i.fields.iter().flatten() {
                    let _ = write!(o, "<dt>{}</dt><dd><pre>{}</pre></dd>", esc(k), esc(v));
                }
                let deps: Vec<String> = i
                    .depends
                    .iter()
                    .flatten()
                    .map(|alts| {
                        alts.iter()
                            .map(|d| d.to_string())
                            .collect::<Vec<_>>()
                            .join(" | ")
                    })
                    .collect();
                if !deps.is_empty() {
                    let _ = write!(
                        o,
                        "<dt>Depends (parsed)</dt><dd>{}</dd>",
                        esc(&deps.join(", "))
                    );
                }
                let provides: Vec<String> =
                    i.provides.iter().flatten().map(|d| d.to_string()).collect();
                if !provides.is_empty() {
                    let _ = write!(
                        o,
                        "<dt>Provides (parsed)</dt><dd>{}</dd>",
                        esc(&provides.join(", "))
                    );
                }
                o.push_str("</dl>\n");
            }
            let others: Vec<&Item> = items
                .iter()
                .filter(|i| i.name == id.name && i.filename != rec.filename)
                .collect();
            let _ = write!(
                o,
                "<h3>Versions of {}</h3>\n<ul class=\"versions\"><li>{} {} (this file)</li>",
                esc(&id.name),
                esc(&id.version),
                esc(&id.arch)
            );
            for i in others {
                let _ = write!(
                    o,
                    "<li><a href=\"{}\">{} {}</a> <span class=\"muted\">{}</span></li>",
                    esc(&ui::package_url(repo, &i.filename)),
                    esc(&i.version),
                    esc(&i.arch),
                    esc(&i.filename)
                );
            }
            o.push_str("</ul></section>\n");
        }
    }
    Ok(ui::html(ui::page(
        filename,
        Some((repo, ui::Tab::Packages)),
        &o,
    )))
}
