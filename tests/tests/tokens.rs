//! Scoped tokens and private repos: every route × every kind of caller (no token, a wrong,
//! revoked or expired one, the admin token, and each scope limited to matching repos or not)
//! is answered as `auth` says (allowed, 401 or 403), with a JSON error; `manage-repo token
//! create|list|revoke`; real apt installs from a private repo with a read token in
//! auth.conf.d and fails without it; every write is in the audit log with its token's name.
mod common;
use common::*;
use std::collections::BTreeMap;
use std::process::Command;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Need {
    Public,
    /// The repo list: anyone, but a credential given must be valid.
    List,
    Read,
    Upload,
    Delete,
    Admin,
    GlobalAdmin,
}

/// (method, path with `{r}` for the repo, what it needs). Reads of repos are tried on a private
/// repo (must exist: privacy is its setting); writes on repos that need not exist (the answer
/// past the check is then a 4xx of the handler's, never 401/403).
const ROUTES: &[(&str, &str, Need)] = &[
    ("GET", "/", Need::Public),
    ("GET", "/generators/", Need::Public),
    ("GET", "/metrics", Need::Public),
    ("GET", "/openapi.json", Need::Public),
    ("GET", "/repos/", Need::List),
    ("GET", "/repos/{r}/", Need::Read),
    ("HEAD", "/repos/{r}/", Need::Read),
    ("GET", "/repos/{r}/packages/", Need::Read),
    (
        "GET",
        "/repos/{r}/packages/harness-lib_1.0-1_all.deb",
        Need::Read,
    ),
    ("GET", "/repos/{r}/key.asc", Need::Read),
    ("GET", "/repos/{r}/keys/", Need::Read),
    ("GET", "/repos/{r}/dist/dists/stable/InRelease", Need::Read),
    ("GET", "/{r}/x86_64/{r}.db", Need::Read),
    ("GET", "/repos/{r}/history", Need::Read),
    ("GET", "/repos/{r}/config/", Need::Read),
    ("GET", "/repos/{r}/config/apt", Need::Read),
    ("GET", "/repos/{r}/snapshots/", Need::Read),
    ("GET", "/repos/{r}/snapshots/s1", Need::Read),
    // The web interface reads as the API does (a private repo's pages need its read scope).
    ("GET", "/ui/", Need::List),
    ("GET", "/ui/repos/{r}", Need::Read),
    (
        "GET",
        "/ui/repos/{r}/packages/harness-lib_1.0-1_all.deb",
        Need::Read,
    ),
    ("GET", "/ui/repos/{r}/setup", Need::Read),
    ("GET", "/ui/repos/{r}/history", Need::Read),
    // A read-only view (`REPO@REF`, docs/history.md) is read as its repo.
    ("GET", "/repos/{r}@g1/", Need::Read),
    ("GET", "/repos/{r}@g1/packages/", Need::Read),
    ("POST", "/repos/{r}/packages/", Need::Upload),
    ("POST", "/repos/{r}/uploads/", Need::Upload),
    ("PUT", "/repos/{r}/uploads/0123456789abcdef", Need::Upload),
    ("POST", "/repos/{r}/uploads/0123456789abcdef", Need::Upload),
    ("POST", "/{r}/publish", Need::Upload),
    ("POST", "/repos/{r}/transactions", Need::Upload),
    (
        "DELETE",
        "/repos/{r}/packages/nothing_1_all.deb",
        Need::Delete,
    ),
    ("DELETE", "/{r}/x86_64", Need::Delete),
    (
        "DELETE",
        "/{r}/x86_64/nothing-1-1-x86_64.pkg.tar.zst",
        Need::Delete,
    ),
    ("POST", "/repos/{r}/rebuild", Need::Admin),
    ("POST", "/repos/{r}/keys/", Need::Admin),
    ("DELETE", "/repos/{r}/keys/0123ABCD", Need::Admin),
    ("POST", "/repos/{r}/rollback", Need::Admin),
    ("PUT", "/repos/{r}/", Need::Admin),
    ("POST", "/repos/{r}/enable", Need::Admin),
    ("POST", "/repos/{r}/disable", Need::Admin),
    ("POST", "/repos/{r}/snapshots/s1", Need::Admin),
    ("DELETE", "/repos/{r}/snapshots/s1", Need::Admin),
    ("DELETE", "/repos/{r}/", Need::Admin),
    ("DELETE", "/{r}", Need::Admin),
    ("POST", "/repos/{r}/", Need::Admin),
    ("POST", "/generators/", Need::GlobalAdmin),
    ("DELETE", "/generators/nothing", Need::GlobalAdmin),
    ("POST", "/generators/nothing/enable", Need::GlobalAdmin),
    ("GET", "/tokens/", Need::GlobalAdmin),
    ("POST", "/tokens/", Need::GlobalAdmin),
    ("DELETE", "/tokens/nothing", Need::GlobalAdmin),
];

#[derive(Clone, Debug)]
enum Who {
    Nobody,
    Wrong,
    Revoked(String),
    Expired(String),
    BootstrapAdmin,
    /// A scoped token: its scope, and whether it is limited to `team-*`.
    Scoped(&'static str, bool, String),
}

#[derive(Debug, PartialEq)]
enum Expect {
    Allowed,
    Unauthorized,
    Forbidden,
}

fn expect(who: &Who, need: Need, repo_matches: bool) -> Expect {
    use Expect::*;
    match (who, need) {
        (_, Need::Public) => Allowed,
        (Who::Nobody, Need::List) => Allowed,
        (Who::Nobody | Who::Wrong | Who::Revoked(_) | Who::Expired(_), _) => Unauthorized,
        (Who::BootstrapAdmin, _) => Allowed,
        (Who::Scoped(..), Need::List) => Allowed,
        (Who::Scoped(scope, limited, _), need) => {
            let scope_ok = *scope == "admin"
                || matches!(
                    (*scope, need),
                    ("read", Need::Read) | ("upload", Need::Upload) | ("delete", Need::Delete)
                );
            let repo_ok = match need {
                Need::GlobalAdmin => !limited,
                _ => !limited || repo_matches,
            };
            if scope_ok && repo_ok {
                Allowed
            } else {
                Forbidden
            }
        }
    }
}

fn bearer(server: &Server, method: &str, path: &str, token: Option<&str>) -> Resp {
    let mut req = ureq::request(method, &server.u(path));
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    let body: Option<&[u8]> = (method != "GET" && method != "HEAD").then_some(b"");
    call(req, body)
}

fn make_token(server: &Server, body: serde_json::Value) -> String {
    let r = server.send("POST", "/tokens/", Some(body.to_string().as_bytes()));
    assert_eq!(r.status, 201, "token create: {}", r.text());
    let v = r.json();
    assert!(v.get("sha256").is_none(), "the hash is not shown: {v}");
    v["token"].as_str().unwrap().to_string()
}

#[test]
fn every_route_by_every_scope_and_repo() {
    let data = tmp().join("tokens-matrix");
    let server = Server::start_opts(
        &data,
        &built().generators,
        Opts {
            // The matrix sends hundreds of bad credentials from one address on purpose.
            args: ["--auth-failures-per-minute", "1000000"]
                .map(String::from)
                .to_vec(),
            env: Vec::new(),
        },
    );
    for (repo, private) in [("team-a", true), ("other", true), ("open", false)] {
        let body = serde_json::json!({ "private": private }).to_string();
        let r = server.send("POST", &format!("/repos/{repo}/"), Some(body.as_bytes()));
        assert_eq!(r.status, 201, "create {repo}: {}", r.text());
    }
    let lib = fixture_debs().join("harness-lib_1.0-1_all.deb");
    for repo in ["team-a", "other", "open"] {
        assert_eq!(server.upload(repo, &lib).status, 201);
    }

    let mut callers = vec![
        Who::Nobody,
        Who::Wrong,
        Who::BootstrapAdmin,
        Who::Revoked(make_token(
            &server,
            serde_json::json!({"name": "gone", "scopes": ["admin"]}),
        )),
        Who::Expired(make_token(
            &server,
            serde_json::json!({"name": "old", "scopes": ["admin"], "expires_in": 1}),
        )),
    ];
    let r = server.send("DELETE", "/tokens/gone", None);
    assert_eq!(r.status, 200, "{}", r.text());
    for scope in ["read", "upload", "delete", "admin"] {
        for limited in [true, false] {
            let name = format!("{scope}-{}", if limited { "team" } else { "all" });
            let mut body = serde_json::json!({"name": name, "scopes": [scope]});
            if limited {
                body["repos"] = serde_json::json!(["team-*"]);
            }
            callers.push(Who::Scoped(scope, limited, make_token(&server, body)));
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(2100)); // "old" expires

    let mut checked = 0;
    let mut wrong = Vec::new();
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for who in &callers {
        let token = match who {
            Who::Nobody => None,
            Who::Wrong => Some("nobody.0000".to_string()),
            Who::BootstrapAdmin => Some(server.token.clone()),
            Who::Revoked(t) | Who::Expired(t) | Who::Scoped(_, _, t) => Some(t.clone()),
        };
        for &(method, path, need) in ROUTES {
            // Reads on an existing private repo that a `team-*` token matches or not; writes on
            // repos that need not exist (a DELETE that is allowed must not remove the repos
            // the reads need).
            let repos: &[(&str, bool)] = match need {
                Need::Read => &[("team-a", true), ("other", false)],
                _ if path.contains("{r}") => &[("team-x", true), ("elsewhere", false)],
                _ => &[("", true)],
            };
            for &(repo, matches) in repos {
                let path = path.replace("{r}", repo);
                let r = bearer(&server, method, &path, token.as_deref());
                let got = match r.status {
                    401 => Expect::Unauthorized,
                    403 => Expect::Forbidden,
                    _ => Expect::Allowed,
                };
                let want = expect(who, need, matches);
                checked += 1;
                *tally.entry(format!("{want:?}")).or_default() += 1;
                if got != want || r.status >= 500 {
                    wrong.push(format!(
                        "{method} {path} as {who:?}: {} (want {want:?}) {}",
                        r.status,
                        r.text()
                    ));
                } else if got != Expect::Allowed && method != "HEAD" {
                    let v = r.json();
                    assert!(v["detail"].as_str().is_some(), "JSON error: {v}");
                }
            }
        }
    }
    println!("scope matrix: {checked} requests ({tally:?})");
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(checked > 400, "the matrix is {checked} requests");

    // A reader limited to team-* sees that private repo listed, and not the other one.
    let reader = callers
        .iter()
        .find_map(|w| match w {
            Who::Scoped("read", true, t) => Some(t.clone()),
            _ => None,
        })
        .unwrap();
    let names = |token: Option<&str>| -> Vec<String> {
        let v = bearer(&server, "GET", "/repos/", token).json();
        array(&v, "repos")
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    let public = names(None);
    assert!(public.contains(&"open".to_string()), "{public:?}");
    assert!(
        !public.iter().any(|n| n == "team-a" || n == "other"),
        "{public:?}"
    );
    let seen = names(Some(&reader));
    assert!(seen.contains(&"team-a".to_string()) && !seen.contains(&"other".to_string()));

    // Basic auth with the token as the password (apt, dnf) reads a private repo.
    let basic = ureq::get(&server.u("/repos/team-a/dist/dists/stable/InRelease")).set(
        "Authorization",
        &format!("Basic {}", base64_of(&format!("token:{reader}"))),
    );
    assert_eq!(call(basic, None).status, 200);

    // The audit log has every write, with the token's name and never a secret.
    let audit = std::fs::read_to_string(data.join("audit.log")).unwrap();
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines
        .iter()
        .any(|l| l["action"] == "token.revoke" && l["token"] == "admin" && l["status"] == 200));
    assert!(lines.iter().any(|l| l["action"] == "package.add"
        && l["token"] == "upload-team"
        && l["repo"] == "team-x"
        && l["client"] == "127.0.0.1"));
    assert!(lines
        .iter()
        .any(|l| l["action"] == "package.delete" && l["status"] == 401 && l["token"].is_null()));
    assert!(lines.iter().all(|l| l["time"].as_str().is_some()));
    assert!(!audit.contains(&reader[reader.find('.').unwrap() + 1..]));
    assert!(!audit.contains(&server.token));
}

fn base64_of(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `manage-repo token create|list|revoke`, and real apt on a private repo: with the read
/// token in auth.conf.d it installs; without it, or after revoking, `apt-get update` fails.
#[test]
fn cli_tokens_and_apt_on_a_private_repo() {
    let server = Server::start(&tmp().join("tokens-apt"));
    server.cli_ok(&["create", "secret", "--private"]);
    let mut args = vec!["add", "secret"];
    let files = fixture_deb_args();
    args.extend(files.iter().map(String::as_str));
    server.cli_ok(&args);

    let out = server.cli_ok(&[
        "token",
        "create",
        "apt-reader",
        "--scope",
        "read",
        "--repo",
        "sec*",
        "--expires",
        "1d",
    ]);
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("apt-reader."), "{token}");
    let list = String::from_utf8(server.cli_ok(&["token", "list"]).stdout).unwrap();
    assert!(
        list.lines()
            .any(|l| l.starts_with("apt-reader\tread\tsec*\texpires ")),
        "{list}"
    );
    assert!(!list.contains(&token[11..]), "list shows no secret");

    let key = tmp().join("tokens-apt.asc");
    std::fs::write(&key, server.send("GET", "/repos/secret/key.asc", None).body).unwrap();
    let apt = |token: Option<&str>| {
        let mut c = Command::new("bash");
        c.arg(workspace().join("tests/clients/apt.sh"))
            .arg(server.u("/repos/secret/dist"))
            .env("APT_KEY", &key)
            .env("APT_INSTALL", "harness-app")
            .env("APT_DOWNLOAD", "");
        if let Some(t) = token {
            c.env("APT_AUTH_TOKEN", t);
        }
        c.output().unwrap()
    };
    let out = apt(Some(&token));
    assert!(
        out.status.success(),
        "apt with the read token:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = apt(None);
    assert!(!out.status.success(), "apt without a token must fail");
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));

    server.cli_ok(&["token", "revoke", "apt-reader"]);
    let out = apt(Some(&token));
    assert!(!out.status.success(), "apt with a revoked token must fail");
    let list = String::from_utf8(server.cli_ok(&["token", "list"]).stdout).unwrap();
    assert!(!list.contains("apt-reader"), "{list}");
    let out = server.cli(&["token", "revoke", "apt-reader"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("404"));
}
