//! The audit log: one JSON line per write request (whatever its answer), with the time, the
//! client's address, the token's name, the action, the repo and the status. Kept apart from
//! the access log: the adapter says where it goes (`manage-repo serve --audit-log`, stdout on
//! Lambda and Spin). Never a secret: a token appears by its name only.
use crate::commit::journal::rfc3339;
use crate::routes::Route;
use http::Method;
use std::sync::Arc;

/// Where audit lines go; each call is one complete line without its newline.
pub type AuditSink = Arc<dyn Fn(&str) + Send + Sync>;

/// One write request, as the audit log records it.
pub struct Event<'a> {
    pub now: u64,
    pub client: Option<std::net::IpAddr>,
    pub token: Option<&'a str>,
    pub method: &'a Method,
    pub path: &'a str,
    pub status: u16,
    pub detail: Option<&'a str>,
}

pub fn line(e: &Event) -> String {
    let route = crate::routes::route(e.path);
    let (action, repo) = action(&route, e.method);
    serde_json::json!({
        "time": rfc3339(e.now),
        "client": e.client.map(|a| a.to_string()),
        "token": e.token,
        "action": action,
        "repo": repo,
        "method": e.method.as_str(),
        "path": e.path,
        "status": e.status,
        "detail": e.detail,
    })
    .to_string()
}

/// A name for what a write does, and the repo it is about.
fn action(route: &Route, m: &Method) -> (&'static str, Option<String>) {
    use Route as R;
    let del = *m == Method::DELETE;
    match route {
        R::Repo(r) if *m == Method::POST => ("repo.create", Some(r.clone())),
        R::Repo(r) | R::VieterRepo(r) if del => ("repo.delete", Some(r.clone())),
        R::Repo(r) | R::Rebuild(r) => ("repo.rebuild", Some(r.clone())),
        R::Packages(r) => ("package.add", Some(r.clone())),
        R::Package(r, _) => ("package.delete", Some(r.clone())),
        R::Uploads(r) => ("upload.start", Some(r.clone())),
        R::Upload(r, _) if *m == Method::PUT => ("upload.put", Some(r.clone())),
        R::Upload(r, _) => ("upload.commit", Some(r.clone())),
        R::VieterPublish(r) => ("package.add", Some(r.clone())),
        R::VieterArch(r, _) => ("arch.delete", Some(r.clone())),
        R::VieterFile(r, _, _) => ("package.delete", Some(r.clone())),
        R::Generators => ("generator.add", None),
        R::Generator(_) => ("generator.delete", None),
        R::GeneratorEnable(_) => ("generator.enable", None),
        R::Tokens => ("token.create", None),
        R::Token(_) => ("token.revoke", None),
        _ => ("unknown", None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_169_599), "2026-12-01T23:59:59Z");
    }

    #[test]
    fn a_line() {
        let l = line(&Event {
            now: 0,
            client: Some([10, 0, 0, 1].into()),
            token: Some("ci"),
            method: &Method::POST,
            path: "/repos/web/packages/",
            status: 201,
            detail: None,
        });
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["action"], "package.add");
        assert_eq!(v["repo"], "web");
        assert_eq!(v["token"], "ci");
        assert_eq!(v["client"], "10.0.0.1");
        assert_eq!(v["status"], 201);
    }
}
