//! The web interface (`/ui/...`, docs/ui.md): server-rendered HTML pages over the same core
//! functions the JSON API calls, one handler per page in `handlers/ui_*.rs`. Reading works
//! without JavaScript (links and GET forms); `app.js` adds search as you type, copy buttons,
//! and, with a token kept in the browser session, upload, removal and repo creation through
//! the JSON API. Every string a package or a user supplied goes through [`esc`]; every page
//! carries [`SECURITY_HEADERS`], whose CSP allows no inline script and no other origin's
//! script or style. The CSS and JS are compiled in and served under names holding their
//! content hash, cacheable forever.
use crate::body::{Body, Response};
use crate::error::ApiError;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::sync::OnceLock;

/// The stylesheet and script, compiled in.
const CSS: &str = include_str!("style.css");
const JS: &str = include_str!("app.js");

/// The package table's page size.
pub const PAGE: usize = 50;

/// Content-Security-Policy of every page: scripts, styles and images only from this server,
/// no inline script or style, no framing. `connect-src` also allows `https:` for the
/// presigned storage URL a large upload is PUT to (S3); the token never goes there.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self' https:; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// The headers every UI answer carries (pages, assets and error pages).
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    ),
];

/// Escapes text for HTML content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A URL path segment or query value, percent-encoded (then [`esc`] it into an attribute).
pub fn enc(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'.')
        .remove(b'-')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// `/ui/repos/REPO` and below, each segment encoded (not yet escaped).
pub fn repo_url(repo: &str, rest: &str) -> String {
    format!("/ui/repos/{}{rest}", enc(repo))
}

pub fn package_url(repo: &str, filename: &str) -> String {
    repo_url(repo, &format!("/packages/{}", enc(filename)))
}

/// An asset: its served name (`app.0123456789ab.js`), its bytes and type.
pub struct Asset {
    pub name: String,
    pub body: &'static str,
    pub content_type: &'static str,
}

fn hashed(stem: &str, ext: &str, body: &'static str, content_type: &'static str) -> Asset {
    let h = hex::encode(Sha256::digest(body.as_bytes()));
    Asset {
        name: format!("{stem}.{}.{ext}", &h[..12]),
        body,
        content_type,
    }
}

pub fn assets() -> &'static [Asset; 2] {
    static A: OnceLock<[Asset; 2]> = OnceLock::new();
    A.get_or_init(|| {
        [
            hashed("style", "css", CSS, "text/css; charset=utf-8"),
            hashed("app", "js", JS, "text/javascript; charset=utf-8"),
        ]
    })
}

/// Adds [`SECURITY_HEADERS`] to `resp`.
pub fn secure(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    for (k, v) in SECURITY_HEADERS {
        h.insert(*k, http::HeaderValue::from_static(v));
    }
    resp
}

/// Which tab of a repo a page is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Packages,
    Setup,
    History,
}

/// A whole page: `title` (escaped here), the repo tabs when `repo` is given, `main` (HTML).
pub fn page(title: &str, repo: Option<(&str, Tab)>, main: &str) -> String {
    let [css, js] = assets();
    let mut o = String::with_capacity(main.len() + 2048);
    let _ = write!(
        o,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} · reposmith</title><link rel=\"icon\" href=\"data:,\">\
         <link rel=\"stylesheet\" href=\"/ui/assets/{}\">\
         <script src=\"/ui/assets/{}\" defer></script></head>\n<body>\
         <a class=\"skip\" href=\"#main\">Skip to content</a>\
         <header class=\"top\"><a class=\"brand\" href=\"/ui/\">reposmith</a>\
         <nav aria-label=\"Site\"><a href=\"/ui/\">Repositories</a>\
         <a href=\"/openapi.json\">API</a></nav>\
         <form id=\"token-form\" class=\"token\" hidden>\
         <label for=\"token\">Token</label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" \
         placeholder=\"for uploads and changes\">\
         <button type=\"submit\">Use</button></form>\
         <p id=\"token-state\" class=\"token\" hidden><span>Token set for this session</span> \
         <button type=\"button\" id=\"token-forget\">Forget</button></p></header>\n",
        esc(title),
        css.name,
        js.name
    );
    if let Some((r, tab)) = repo {
        let cur = |t: Tab| {
            if t == tab {
                " aria-current=\"page\""
            } else {
                ""
            }
        };
        let _ = writeln!(
            o,
            "<nav class=\"tabs\" aria-label=\"Repository {0}\">\
             <a href=\"{1}\"{2}>Packages</a><a href=\"{3}\"{4}>Set up</a>\
             <a href=\"{5}\"{6}>History</a></nav>",
            esc(r),
            esc(&repo_url(r, "")),
            cur(Tab::Packages),
            esc(&repo_url(r, "/setup")),
            cur(Tab::Setup),
            esc(&repo_url(r, "/history")),
            cur(Tab::History),
        );
    }
    let _ = write!(
        o,
        "<main id=\"main\" tabindex=\"-1\">\n{main}</main>\n\
         <footer><p>reposmith {}</p></footer>\n<div id=\"status\" role=\"status\" \
         aria-live=\"polite\" class=\"sr-only\"></div></body></html>\n",
        env!("CARGO_PKG_VERSION")
    );
    o
}

/// 200 with `html`, the security headers, and no caching (a page shows the live repo).
pub fn html(html: String) -> Response {
    secure(
        http::Response::builder()
            .header(http::header::CONTENT_TYPE, "text/html; charset=utf-8")
            .header(http::header::CACHE_CONTROL, "no-cache")
            .body(Body::from(html))
            .expect("valid response"),
    )
}

/// An error as a page (for a browser: a request that accepts `text/html`).
pub fn error_page(e: &ApiError) -> Response {
    let main = format!(
        "<h1>{} {}</h1><p>{}</p>{}<p><a href=\"/ui/\">All repositories</a></p>\n",
        e.status.as_u16(),
        esc(e.status.canonical_reason().unwrap_or("error")),
        esc(&e.detail),
        if e.status == http::StatusCode::UNAUTHORIZED {
            "<p>This repository is private: sign in with any user name and a token with \
             the <code>read</code> scope as the password.</p>"
        } else {
            ""
        }
    );
    let mut resp = html(page(&e.status.to_string(), None, &main));
    *resp.status_mut() = e.status;
    if e.status == http::StatusCode::UNAUTHORIZED {
        // Basic alone: a browser asks for it (the token as the password) and sends it on.
        resp.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Basic realm=\"reposmith\", charset=\"UTF-8\""),
        );
    }
    if let Some(s) = e.retry_after {
        resp.headers_mut()
            .insert(http::header::RETRY_AFTER, http::HeaderValue::from(s));
    }
    resp
}

/// Does the request prefer a page (a browser) to JSON?
pub fn wants_html(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"))
}

/// A form's query string (`application/x-www-form-urlencoded`: `+` is a space, `%2B` a plus).
pub fn form_pairs(query: Option<&str>) -> Vec<(String, String)> {
    let dec = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (dec(k), dec(v))
        })
        .collect()
}

/// `12.3 kB`.
pub fn size(n: u64) -> String {
    match n {
        n if n < 1000 => format!("{n} B"),
        n if n < 1_000_000 => format!("{:.1} kB", n as f64 / 1e3),
        n if n < 1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        n => format!("{:.2} GB", n as f64 / 1e9),
    }
}

/// `<time>` of seconds since the epoch, in UTC.
pub fn time(secs: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let shown = t.get(..16).unwrap_or(&t).replace('T', " ");
    format!("<time datetime=\"{}\">{} UTC</time>", esc(&t), esc(&shown))
}

/// `<option>`s of `values`, `selected` marked, the first being "any" (value "").
pub fn options<'a>(values: impl IntoIterator<Item = &'a str>, selected: &str) -> String {
    let mut o = format!(
        "<option value=\"\"{}>any</option>",
        if selected.is_empty() { " selected" } else { "" }
    );
    for v in values {
        let _ = write!(
            o,
            "<option{}>{}</option>",
            if v == selected { " selected" } else { "" },
            esc(v)
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
        assert_eq!(enc("a b/c+d.deb"), "a%20b%2Fc%2Bd.deb");
    }

    /// A request as a browser sends it, answered: status, headers, body.
    fn browse(app: &crate::App, path: &str) -> (u16, http::HeaderMap, String) {
        let r = http::Request::builder()
            .uri(path)
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
            .body(crate::Body::Empty)
            .unwrap();
        futures::executor::block_on(async {
            let resp = crate::handle(app, r).await;
            let (parts, body) = resp.into_parts();
            let body = body.collect(1 << 22).await.unwrap();
            (
                parts.status.as_u16(),
                parts.headers,
                String::from_utf8_lossy(&body).into_owned(),
            )
        })
    }

    #[test]
    fn pages_escape_what_packages_say_and_carry_the_headers() {
        use crate::testkit::{answer, app, req, FakeGen};
        let (app, _, _) = app(std::sync::Arc::new(FakeGen::new()));
        assert_eq!(answer(&app, req("POST", "/repos/r/", b"")).0, 201);
        let body = b"PKG <script>alert(1)</script> more";
        let (st, b) = answer(
            &app,
            req("POST", "/repos/r/packages/?filename=evil.pkg", body),
        );
        assert_eq!(st, 201, "{b}");
        for path in [
            "/ui/",
            "/ui/repos/r",
            "/ui/repos/r?q=scr",
            "/ui/repos/r/packages/evil.pkg",
            "/ui/repos/r/setup",
            "/ui/repos/r/history",
            "/ui/repos/nope",
        ] {
            let (status, h, page) = browse(&app, path);
            assert!(
                status == 200 || path.ends_with("nope"),
                "{path}: {status} {page}"
            );
            assert_eq!(h["content-type"], "text/html; charset=utf-8", "{path}");
            assert_eq!(h["content-security-policy"], CSP, "{path}");
            assert_eq!(h["x-frame-options"], "DENY", "{path}");
            assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
            assert!(!page.contains("<script>alert"), "{path}: {page}");
            assert!(!page.contains("<script>"), "{path}: inline script");
        }
        let (_, _, repo) = browse(&app, "/ui/repos/r?q=scr");
        assert!(
            repo.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{repo}"
        );
        assert!(repo.contains("1–1 of 1 entries"), "{repo}");
        // The Set up tab names the API's URLs, not the page's.
        let (_, _, setup) = browse(&app, "/ui/repos/r/setup");
        assert!(!setup.contains("/ui/repos/r/key.asc"), "{setup}");
        let (_, _, none) = browse(&app, "/ui/repos/r?q=zzz");
        assert!(none.contains("No package matches"), "{none}");
        let (status, _, _) = browse(&app, "/ui/repos/nope");
        assert_eq!(status, 404);
        // Not a browser: the JSON error.
        let (status, body) = answer(&app, req("GET", "/ui/repos/nope", b""));
        assert!(status == 404 && body.contains("\"error\""), "{body}");
        // The root sends a browser to the interface.
        let (status, h, _) = browse(&app, "/");
        assert_eq!((status, &h["location"]), (303, &"ui/".parse().unwrap()));
        // Assets by their hashed names, cached for good.
        for a in assets() {
            let (status, h, body) = browse(&app, &format!("/ui/assets/{}", a.name));
            assert_eq!((status, body.as_str()), (200, a.body));
            assert!(h["cache-control"].to_str().unwrap().contains("immutable"));
        }
        assert_eq!(browse(&app, "/ui/assets/app.js").0, 404);
    }

    #[test]
    fn a_private_repo_stays_private() {
        use crate::testkit::{answer, app, req, FakeGen};
        let (app, _, _) = app(std::sync::Arc::new(FakeGen::new()));
        let (st, b) = answer(&app, req("POST", "/repos/p/", br#"{"private": true}"#));
        assert_eq!(st, 201, "{b}");
        answer(
            &app,
            req(
                "POST",
                "/repos/p/packages/?filename=secret.pkg",
                b"PKG secret",
            ),
        );
        for path in [
            "/ui/repos/p",
            "/ui/repos/p/packages/secret.pkg",
            "/ui/repos/p/setup",
        ] {
            let (status, h, page) = browse(&app, path);
            assert_eq!(status, 401, "{path}");
            assert!(h["www-authenticate"].to_str().unwrap().starts_with("Basic"));
            assert!(
                !page.contains("secret.pkg") || path.contains("secret"),
                "{page}"
            );
        }
        let (_, _, list) = browse(&app, "/ui/");
        assert!(!list.contains("/ui/repos/p\""), "{list}");
        // With the token (as a browser sends basic auth), it reads.
        let (status, body) = answer(&app, req("GET", "/ui/repos/p", b""));
        assert!(
            status == 200 && body.contains("secret.pkg"),
            "{status} {body}"
        );
    }

    #[test]
    fn assets_are_named_by_content() {
        let [css, js] = assets();
        assert!(css.name.starts_with("style.") && css.name.ends_with(".css"));
        assert!(js.name.starts_with("app.") && js.name.ends_with(".js"));
        let p = page("<x>", Some(("r<1", Tab::Setup)), "<p>hi</p>");
        assert!(p.contains("&lt;x&gt;") && p.contains("r&lt;1") && !p.contains("<x>"));
        assert!(p.contains(&js.name) && !p.contains("<script>"));
    }
}
