//! `GET /ui/repos/{repo}/setup`: for each client, the exact configuration files the repo
//! gives it (`client::files`, what `GET /repos/{repo}/config/` lists), where each goes and a
//! copy button; the signing key's URL and fingerprint.
use crate::app::App;
use crate::body::{Request, Response};
use crate::client::{files, request_base};
use crate::error::ApiResult;
use crate::ui::{self, enc, esc};
use std::fmt::Write as _;

/// Where a client reads a file of this name (the usual place on its system).
fn place(client: &str, file: &str) -> Option<String> {
    let dir = match client {
        "apt" => "/etc/apt/sources.list.d",
        "dnf" | "yum" => "/etc/yum.repos.d",
        "zypper" => "/etc/zypp/repos.d",
        "pkg" if file.ends_with(".conf") => "/usr/local/etc/pkg/repos",
        "pkg" => "/usr/local/etc/pkg/keys",
        "apk" if file.ends_with(".pub") => "/etc/apk/keys",
        "pacman" => "/etc/pacman.d",
        _ => return None,
    };
    Some(format!("{dir}/{file}"))
}

pub async fn get(app: &App, repo: &str, req: Request) -> ApiResult<Response> {
    let (parts, _) = req.into_parts();
    let made = files(app, repo, &request_base(&parts, repo)).await?;
    let mut o = String::new();
    let _ = write!(
        o,
        "<h1>Set up {}</h1>\n<p>Each client's files, as <code>GET /repos/{}/config/</code> \
         lists them. The signing key: <a href=\"{}\"><code>{}</code></a>, fingerprint \
         <code id=\"fingerprint\">{}</code>.</p>\n",
        esc(repo),
        esc(repo),
        esc(&format!("{}/key.asc", made.base_url)),
        esc(&format!("{}/key.asc", made.base_url)),
        esc(if made.fingerprint.is_empty() {
            "(the server's key)"
        } else {
            &made.fingerprint
        }),
    );
    if !made.enabled {
        o.push_str("<p class=\"error\">This repository is disabled: its trees answer 404.</p>\n");
    }
    let mut clients: Vec<&str> = Vec::new();
    for (_, f) in &made.files {
        if !clients.contains(&f.client.as_str()) {
            clients.push(&f.client);
        }
    }
    if clients.is_empty() {
        o.push_str("<p>No client configuration: no generator serves this repository.</p>\n");
    } else {
        o.push_str("<nav class=\"toc\" aria-label=\"Clients\"><ul>");
        for c in &clients {
            let _ = write!(o, "<li><a href=\"#client-{0}\">{0}</a></li>", esc(c));
        }
        o.push_str("</ul></nav>\n");
    }
    for (n, c) in clients.iter().enumerate() {
        let _ = writeln!(
            o,
            "<section class=\"client\" id=\"client-{0}\"><h2>{0}</h2>",
            esc(c)
        );
        for (m, (g, f)) in made
            .files
            .iter()
            .filter(|(_, f)| f.client == *c)
            .enumerate()
        {
            let id = format!("file-{n}-{m}");
            let text = String::from_utf8_lossy(&f.data);
            let url = format!("/repos/{}/config/{}", enc(repo), enc(&f.file_name));
            let _ = writeln!(
                o,
                "<div class=\"file\"><h3><a href=\"{}\"><code>{}</code></a> \
                 <span class=\"muted\">({})</span></h3>{}\
                 <pre id=\"{id}\" class=\"snippet\" data-file=\"{}\" data-client=\"{}\">{}</pre>\
                 <button type=\"button\" class=\"copy\" data-copy=\"{id}\" hidden>Copy</button></div>",
                esc(&url),
                esc(&f.file_name),
                esc(g),
                place(c, &f.file_name)
                    .map(|p| format!("<p>Save as <code>{}</code>:</p>", esc(&p)))
                    .unwrap_or_default(),
                esc(&f.file_name),
                esc(c),
                esc(&text),
            );
        }
        o.push_str("</section>\n");
    }
    for (g, e) in &made.faults {
        let _ = writeln!(o, "<p class=\"error\">{}: {}</p>", esc(g), esc(e));
    }
    Ok(ui::html(ui::page(
        &format!("Set up {repo}"),
        Some((repo, ui::Tab::Setup)),
        &o,
    )))
}
