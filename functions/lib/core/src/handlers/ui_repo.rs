//! `GET /ui/repos/{repo}?q=&format=&arch=&latest=&cursor=&from=`: a repo's package table,
//! through the package query (`query`): `q` is part of a name (or a name pattern with `*`,
//! `?`, `[`), `format` and `arch` filter, `latest` keeps each name's newest version; a page
//! is 50 entries, the next one by the query's cursor. Nothing but the page is rendered, so a
//! repo of 50,000 packages answers as fast as the query sorts them. With a token (and
//! JavaScript), files dropped on the page are uploaded.
use crate::app::App;
use crate::body::Response;
use crate::commit::state;
use crate::error::ApiResult;
use crate::query::{self, Query};
use crate::ui::{self, enc, esc};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// The form's parameters.
#[derive(Default)]
struct Form {
    q: String,
    format: String,
    arch: String,
    latest: bool,
    cursor: String,
    from: usize,
}

impl Form {
    fn parse(query: Option<&str>) -> Form {
        let mut f = Form::default();
        for (k, v) in crate::ui::form_pairs(query) {
            let v = v.trim().to_string();
            match k.as_str() {
                "q" => f.q = v,
                "format" => f.format = v,
                "arch" => f.arch = v,
                "latest" => f.latest = !v.is_empty() && v != "0",
                "cursor" => f.cursor = v,
                "from" => f.from = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        f
    }

    /// The package query's parameters.
    fn pairs(&self) -> Vec<(String, String)> {
        let mut p = vec![("limit".to_string(), ui::PAGE.to_string())];
        if !self.q.is_empty() {
            let pattern = if self.q.contains(['*', '?', '[']) {
                self.q.clone()
            } else {
                format!("*{}*", glob::Pattern::escape(&self.q))
            };
            p.push(("name".into(), pattern));
        }
        for (k, v) in [("format", &self.format), ("arch", &self.arch)] {
            if !v.is_empty() {
                p.push((k.into(), v.clone()));
            }
        }
        if self.latest {
            p.push(("latest".into(), "1".into()));
        }
        if !self.cursor.is_empty() {
            p.push(("cursor".into(), self.cursor.clone()));
        }
        p
    }

    /// This form's URL with another cursor.
    fn url(&self, repo: &str, cursor: Option<&str>, from: usize) -> String {
        let mut u = ui::repo_url(repo, "");
        let mut sep = '?';
        let mut add = |k: &str, v: &str| {
            if !v.is_empty() {
                let _ = write!(u, "{sep}{k}={}", enc(v));
                sep = '&';
            }
        };
        add("q", &self.q);
        add("format", &self.format);
        add("arch", &self.arch);
        add("latest", if self.latest { "1" } else { "" });
        if let Some(c) = cursor {
            add("cursor", c);
            add("from", &from.to_string());
        }
        u
    }
}

pub async fn get(app: &App, repo: &str, query: Option<&str>) -> ApiResult<Response> {
    let form = Form::parse(query);
    let s = state(app, repo).await?;
    let mut formats = BTreeSet::new();
    let mut archs = BTreeSet::new();
    for p in s.records.values() {
        for (f, es) in &p.entries {
            formats.insert(f.as_str());
            archs.extend(es.iter().map(|e| e.arch.as_str()));
        }
    }
    let answer = match Query::parse(&form.pairs()) {
        Ok(Some(q)) => query::run_on(app, repo, &s, q).await.map_err(|e| e.detail),
        Ok(None) => unreachable!("the limit is always given"),
        Err(e) => Err(e.detail),
    };
    let c = &s.config;
    let mut o = String::new();
    let _ = write!(
        o,
        "<h1>{}{}</h1>\n{}<p class=\"meta\">{} packages · generation {}</p>\n",
        esc(repo),
        if c.private {
            " <span class=\"tag\">private</span>"
        } else {
            ""
        },
        if c.title.is_empty() && c.description.is_empty() {
            String::new()
        } else {
            format!(
                "<p class=\"lead\">{}</p>\n",
                esc(if c.description.is_empty() {
                    &c.title
                } else {
                    &c.description
                })
            )
        },
        s.records.len(),
        s.generation.map_or("none".into(), |g| g.to_string()),
    );
    let _ = writeln!(
        o,
        "<form id=\"search\" class=\"search\" method=\"get\" action=\"{}\" role=\"search\">\
         <p><label for=\"q\">Find a package</label> \
         <input id=\"q\" name=\"q\" type=\"search\" value=\"{}\" autocomplete=\"off\" \
         placeholder=\"part of a name, or a pattern: lib*\"></p>\
         <p><label for=\"format\">Format</label> <select id=\"format\" name=\"format\">{}</select></p>\
         <p><label for=\"arch\">Architecture</label> <select id=\"arch\" name=\"arch\">{}</select></p>\
         <p><input id=\"latest\" name=\"latest\" type=\"checkbox\" value=\"1\"{}> \
         <label for=\"latest\">Newest versions only</label></p>\
         <p><button type=\"submit\">Search</button></p></form>",
        esc(&ui::repo_url(repo, "")),
        esc(&form.q),
        ui::options(formats.iter().copied(), &form.format),
        ui::options(archs.iter().copied(), &form.arch),
        if form.latest { " checked" } else { "" },
    );
    let _ = writeln!(
        o,
        "<section id=\"upload\" class=\"write\" hidden aria-labelledby=\"upload-h\" data-repo=\"{}\">\
         <h2 id=\"upload-h\">Upload</h2>\
         <div id=\"drop\" class=\"drop\" tabindex=\"0\" role=\"button\" \
         aria-describedby=\"drop-help\">Drop package files here, or press Enter to choose</div>\
         <p id=\"drop-help\" class=\"help\">Each file is published before it is listed; \
         big files go to storage directly where the store offers it.</p>\
         <input id=\"files\" type=\"file\" multiple class=\"sr-only\" tabindex=\"-1\" \
         aria-label=\"Package files\"><ul id=\"uploads\" class=\"uploads\"></ul></section>",
        esc(repo)
    );
    o.push_str("<div id=\"results\" aria-live=\"polite\">\n");
    match answer {
        Err(detail) => {
            let _ = writeln!(o, "<p class=\"error\">{}</p>", esc(&detail));
        }
        Ok(a) if a.packages.is_empty() => {
            o.push_str("<p id=\"count\">No package matches.</p>\n");
        }
        Ok(a) => {
            let first = form.from + 1;
            let last = form.from + a.packages.len();
            let _ = writeln!(
                o,
                "<p id=\"count\">{first}–{last} of {} entries</p>",
                a.total
            );
            o.push_str(
                "<table class=\"list\" id=\"packages\"><caption class=\"sr-only\">Packages\
                 </caption><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Version</th>\
                 <th scope=\"col\">Arch</th><th scope=\"col\">Format</th>\
                 <th scope=\"col\" class=\"num\">Size</th><th scope=\"col\">Uploaded</th></tr>\
                 </thead>\n<tbody>\n",
            );
            for p in &a.packages {
                let _ = writeln!(
                    o,
                    "<tr><th scope=\"row\"><a href=\"{}\" title=\"{}\">{}</a></th><td>{}</td>\
                     <td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                    esc(&ui::package_url(repo, &p.filename)),
                    esc(&p.filename),
                    esc(&p.name),
                    esc(&p.version),
                    esc(&p.arch),
                    esc(&p.format),
                    ui::size(p.size),
                    ui::time(p.uploaded),
                );
            }
            o.push_str("</tbody></table>\n<nav class=\"pager\" aria-label=\"Pages\">");
            if form.from > 0 {
                let _ = write!(
                    o,
                    "<a href=\"{}\">First page</a>",
                    esc(&form.url(repo, None, 0))
                );
            }
            if let Some(next) = &a.next {
                let _ = write!(
                    o,
                    "<a href=\"{}\" rel=\"next\">Next {} →</a>",
                    esc(&form.url(repo, Some(next), last)),
                    ui::PAGE
                );
            }
            o.push_str("</nav>\n");
        }
    }
    o.push_str("</div>\n");
    Ok(ui::html(ui::page(
        repo,
        Some((repo, ui::Tab::Packages)),
        &o,
    )))
}
