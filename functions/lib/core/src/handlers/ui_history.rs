//! `GET /ui/repos/{repo}/history?before=`: the journal (`commit::history`), newest first,
//! 50 entries a page.
use crate::app::App;
use crate::body::Response;
use crate::commit::{history, HistoryQuery};
use crate::error::ApiResult;
use crate::ui::{self, esc};
use std::fmt::Write as _;

pub async fn get(app: &App, repo: &str, query: Option<&str>) -> ApiResult<Response> {
    let mut pairs: Vec<(String, String)> = crate::routes::query_pairs(query)
        .into_iter()
        .filter(|(k, v)| k == "before" && !v.is_empty())
        .collect();
    pairs.push(("limit".into(), ui::PAGE.to_string()));
    let h = history(app, repo, &HistoryQuery::parse(&pairs)?).await?;
    let mut o = format!("<h1>History of {}</h1>\n", esc(repo));
    if h.entries.is_empty() {
        o.push_str("<p>Nothing yet.</p>\n");
    } else {
        o.push_str(
            "<table class=\"list\"><caption class=\"sr-only\">Journal</caption><thead><tr>\
             <th scope=\"col\">#</th><th scope=\"col\">When</th><th scope=\"col\">What</th>\
             <th scope=\"col\">Who</th><th scope=\"col\">Generation</th>\
             <th scope=\"col\">Packages</th></tr></thead>\n<tbody>\n",
        );
        for e in &h.entries {
            let en = &e.entry;
            let mut what = String::new();
            for (sign, list) in [("+", &en.added), ("−", &en.removed)] {
                for i in list.iter().take(20) {
                    let _ = write!(
                        what,
                        "<li>{sign} <a href=\"{}\">{}</a></li>",
                        esc(&ui::package_url(repo, &i.filename)),
                        esc(&i.filename)
                    );
                }
                if list.len() > 20 {
                    let _ = write!(what, "<li>{sign} … {} more</li>", list.len() - 20);
                }
            }
            if !en.changed.is_empty() {
                let _ = write!(what, "<li>changed: {}</li>", esc(&en.changed.join(", ")));
            }
            let _ = writeln!(
                o,
                "<tr><td class=\"num\">{}</td><td>{}</td><td>{}{}</td><td>{}</td>\
                 <td class=\"num\">{}</td><td><ul class=\"plain\">{what}</ul></td></tr>",
                en.seq,
                ui::time(en.at),
                esc(&en.kind),
                en.rollback_to
                    .map(|s| format!(" to #{s}"))
                    .unwrap_or_default(),
                esc(&en.who.join(", ")),
                e.generation.map_or(String::new(), |g| g.to_string()),
            );
        }
        o.push_str("</tbody></table>\n");
    }
    if let Some(next) = h.next {
        let _ = writeln!(
            o,
            "<nav class=\"pager\" aria-label=\"Pages\"><a href=\"{}\" rel=\"next\">Older →</a></nav>",
            esc(&ui::repo_url(repo, &format!("/history?before={next}")))
        );
    }
    Ok(ui::html(ui::page(
        &format!("History of {repo}"),
        Some((repo, ui::Tab::History)),
        &o,
    )))
}
