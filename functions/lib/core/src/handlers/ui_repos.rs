//! `GET /ui/`: the repos this caller may read, with their formats, package count and last
//! publish; and, for a token holder (with JavaScript), a form that creates a repo.
use crate::app::App;
use crate::auth::{Caller, Scope};
use crate::body::Response;
use crate::commit::{list_repos, load_published, state};
use crate::error::ApiResult;
use crate::ui::{self, esc};
use std::collections::BTreeSet;
use std::fmt::Write as _;

pub async fn get(app: &App, caller: &Caller) -> ApiResult<Response> {
    let mut repos = list_repos(app).await?;
    repos.retain(|r| !r.private || caller.may(Scope::Read, Some(&r.name)));
    let mut rows = String::new();
    for r in &repos {
        // A repo being created or deleted meanwhile is shown without its figures.
        let (count, formats) = match state(app, &r.name).await {
            Ok(s) => {
                let formats: BTreeSet<&str> = s
                    .records
                    .values()
                    .flat_map(|p| p.entries.keys().map(String::as_str))
                    .collect();
                let f = formats.into_iter().collect::<Vec<_>>().join(", ");
                (s.records.len().to_string(), f)
            }
            Err(_) => (String::from("?"), String::new()),
        };
        let published = match load_published(app, &r.name).await {
            Ok(Some((p, _))) => ui::time(p.published_at),
            _ => "never".into(),
        };
        let _ = writeln!(
            rows,
            "<tr><th scope=\"row\"><a href=\"{}\">{}</a>{}</th><td>{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&ui::repo_url(&r.name, "")),
            esc(&r.name),
            if r.private {
                " <span class=\"tag\">private</span>"
            } else {
                ""
            },
            esc(if r.title.is_empty() {
                &r.description
            } else {
                &r.title
            }),
            esc(&formats),
            count,
            published,
        );
    }
    let table = if repos.is_empty() {
        "<p>No repositories yet.</p>\n".to_string()
    } else {
        format!(
            "<table class=\"list\"><caption class=\"sr-only\">Repositories</caption><thead><tr>\
             <th scope=\"col\">Repository</th><th scope=\"col\">Description</th>\
             <th scope=\"col\">Formats</th><th scope=\"col\" class=\"num\">Packages</th>\
             <th scope=\"col\">Last publish</th></tr></thead>\n<tbody>\n{rows}</tbody></table>\n"
        )
    };
    let main = format!(
        "<h1>Repositories</h1>\n{table}\
         <section id=\"create\" class=\"write\" hidden aria-labelledby=\"create-h\">\
         <h2 id=\"create-h\">Create a repository</h2>\
         <form id=\"create-form\"><p><label for=\"new-name\">Name</label> \
         <input id=\"new-name\" name=\"name\" required maxlength=\"64\"></p>\
         <p><label for=\"new-desc\">Description</label> <input id=\"new-desc\" name=\"description\"></p>\
         <p><input id=\"new-private\" name=\"private\" type=\"checkbox\"> \
         <label for=\"new-private\">Private (reads need a token)</label></p>\
         <p><button type=\"submit\">Create</button></p></form></section>\n"
    );
    Ok(ui::html(ui::page("Repositories", None, &main)))
}
