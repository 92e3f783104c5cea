//! Who is calling and what they may do.
//!
//! The admin token (`--token`, `REPOSMITH_TOKEN`, the Lambda/Spin secret) is the bootstrap:
//! every scope on every repo. Scoped tokens are made with `POST /tokens/` (by an admin): each
//! has a name, scopes, an optional list of repo globs and an optional expiry. A token is
//! `NAME.SECRET` with a 256-bit random secret; the metadata store keeps only the secret's
//! sha256 (`token/NAME`), so a leaked store leaks no token, and revoking is deleting that key.
//! Every target reads the same store, so tokens work the same locally, on Lambda and on Spin.
//!
//! Scopes: `read` (the trees, packages, key and listing of private repos), `upload` (add
//! packages), `delete` (delete packages), `admin` (everything: create, delete and rebuild repos;
//! generators and tokens need an admin token that is not limited to some repos).
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::routes::Route;
use base64::Engine;
use http::{HeaderMap, Method};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Read,
    Upload,
    Delete,
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Upload => "upload",
            Scope::Delete => "delete",
            Scope::Admin => "admin",
        }
    }
}

/// A scoped token as stored (`token/NAME`): never its secret, only the secret's sha256.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenRecord {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub sha256: String,
    pub scopes: BTreeSet<Scope>,
    /// Repo names or globs (`*`, `?`); empty: every repo.
    #[serde(default)]
    pub repos: Vec<String>,
    pub created: u64,
    /// Seconds since the epoch; none: it does not expire.
    #[serde(default)]
    pub expires: Option<u64>,
}

pub fn key(name: &str) -> String {
    format!("token/{name}")
}

pub const PREFIX: &str = "token/";

/// The sha256 of the admin token, for deployments whose readers do not hold it.
pub const ADMIN: &str = "auth/admin";

/// Records the admin token's hash (`ADMIN`) where it is missing or different.
pub async fn record_admin(app: &App) -> ApiResult<()> {
    let want = hash_secret(&app.token);
    let now = app.meta.get(ADMIN).await?;
    if now.as_ref().is_some_and(|v| v.value == want.as_bytes()) {
        return Ok(());
    }
    // A lost race is another writer recording the same token.
    let _ = app
        .meta
        .put_if(ADMIN, want.into_bytes().into(), now.map(|v| v.version))
        .await?;
    Ok(())
}

/// The caller of one request.
#[derive(Clone, Debug)]
pub enum Caller {
    Anonymous,
    /// The bootstrap admin token.
    Admin,
    Token(TokenRecord),
}

impl Caller {
    /// The name the audit log records.
    pub fn name(&self) -> Option<&str> {
        match self {
            Caller::Anonymous => None,
            Caller::Admin => Some("admin"),
            Caller::Token(t) => Some(&t.name),
        }
    }

    /// May this caller do what `scope` covers, on `repo` (`None`: not about one repo, which
    /// a token limited to some repos may not do)?
    pub fn may(&self, scope: Scope, repo: Option<&str>) -> bool {
        match self {
            Caller::Anonymous => false,
            Caller::Admin => true,
            Caller::Token(t) => {
                (t.scopes.contains(&scope) || t.scopes.contains(&Scope::Admin))
                    && match repo {
                        None => t.repos.is_empty(),
                        Some(r) => t.repos.is_empty() || t.repos.iter().any(|g| glob(g, r)),
                    }
            }
        }
    }
}

/// What a request needs, by route and method.
#[derive(Debug, PartialEq, Eq)]
pub enum Need {
    /// Anyone.
    Nothing,
    /// Anyone; a credential, if given, must be valid (the repo list shows private repos to
    /// who may read them).
    Optional,
    /// Anyone if the repo is public, else the `read` scope on it.
    Read(String),
    /// A scope, on a repo or on the whole server.
    Scope(Scope, Option<String>),
    /// Any valid token (a write to no route: 401 before 404).
    Known,
}

pub fn need(route: &Route, method: &Method) -> Need {
    use Route as R;
    let repo = |r: &String| Some(r.clone());
    let read = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    match route {
        R::Repos | R::UiRepos if read => Need::Optional,
        R::Root | R::Generators | R::Metrics | R::OpenApi | R::UiAsset(_) if read => Need::Nothing,
        R::Repo(r)
        | R::Packages(r)
        | R::Package(r, _)
        | R::Key(r)
        | R::Keys(r)
        | R::Tree(r, _)
        | R::History(r)
        | R::Snapshots(r)
        | R::Snapshot(r, _)
        | R::Configs(r)
        | R::Config(r, _)
        | R::UiRepo(r)
        | R::UiPackage(r, _)
        | R::UiSetup(r)
        | R::UiHistory(r)
            if read =>
        {
            // A frozen view (`REPO@REF`) is read as its repo.
            Need::Read(crate::commit::split_view(r).0.to_string())
        }
        R::VieterFile(r, _, _) if read => Need::Read(r.clone()),
        R::Tokens | R::Token(_) if read => Need::Scope(Scope::Admin, None),
        _ if read => Need::Nothing,
        R::Repo(r)
        | R::Rebuild(r)
        | R::VieterRepo(r)
        | R::Keys(r)
        | R::RepoKey(r, _)
        | R::Rollback(r)
        | R::RepoEnable(r)
        | R::RepoDisable(r)
        | R::Snapshot(r, _) => Need::Scope(Scope::Admin, repo(r)),
        R::Packages(r)
        | R::Uploads(r)
        | R::Upload(r, _)
        | R::VieterPublish(r)
        | R::Transactions(r) => Need::Scope(Scope::Upload, repo(r)),
        R::Package(r, _) | R::VieterArch(r, _) | R::VieterFile(r, _, _) => {
            Need::Scope(Scope::Delete, repo(r))
        }
        R::Generators | R::Generator(_) | R::GeneratorEnable(_) | R::Tokens | R::Token(_) => {
            Need::Scope(Scope::Admin, None)
        }
        _ => Need::Known,
    }
}

/// The credential a request carries: `Authorization: Bearer T`, `X-Api-Key: T` (Vieter
/// clients), or HTTP basic auth with the token as the password (apt's auth.conf, dnf's
/// username/password), or as the user name when the password is empty.
pub fn credential(h: &HeaderMap) -> Option<String> {
    let auth = h
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(a) = auth {
        let (kind, rest) = a.split_once(' ').unwrap_or((a, ""));
        if kind.eq_ignore_ascii_case("bearer") {
            return Some(rest.trim().to_string());
        }
        if kind.eq_ignore_ascii_case("basic") {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()?;
            let pair = String::from_utf8(raw).ok()?;
            let (user, password) = pair.split_once(':').unwrap_or((&pair, ""));
            let t = if password.is_empty() { user } else { password };
            return Some(t.to_string());
        }
    }
    h.get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
}

/// Who is calling: anonymous without a credential; 401 for a wrong, revoked or expired one.
pub async fn identify(app: &App, given: Option<String>) -> ApiResult<Caller> {
    let Some(given) = given else {
        return Ok(Caller::Anonymous);
    };
    if constant_time_eq(given.as_bytes(), app.token.as_bytes()) {
        return Ok(Caller::Admin);
    }
    let wrong = || ApiError::unauthorized("wrong token");
    let Some((name, secret)) = given.split_once('.') else {
        // A deployment whose reads run apart from the admin token (Lambda's read function)
        // knows it by the hash the writer recorded (`record_admin`).
        return match app.meta.get(ADMIN).await? {
            Some(v) if constant_time_eq(hash_secret(&given).as_bytes(), &v.value) => {
                Ok(Caller::Admin)
            }
            _ => Err(wrong()),
        };
    };
    if !is_token_name(name) {
        return Err(wrong());
    }
    let Some(v) = app.meta.get(&key(name)).await? else {
        return Err(ApiError::unauthorized(format!(
            "token {name:?} does not exist (revoked?)"
        )));
    };
    let record: TokenRecord = serde_json::from_slice(&v.value)
        .map_err(|e| ApiError::internal(format!("corrupt token record {name}: {e}")))?;
    if !constant_time_eq(
        hex::encode(Sha256::digest(secret)).as_bytes(),
        record.sha256.as_bytes(),
    ) {
        return Err(wrong());
    }
    if let Some(at) = record.expires.filter(|at| *at <= app.now()) {
        return Err(ApiError::unauthorized(format!(
            "token {name:?} expired at {at} (seconds since the epoch)"
        )));
    }
    Ok(Caller::Token(record))
}

/// Checks `caller` against `need`: 401 without a credential, 403 with one that lacks it.
pub fn check(caller: &Caller, need: &Need) -> ApiResult<()> {
    let (scope, repo) = match need {
        Need::Nothing | Need::Optional => return Ok(()),
        Need::Known if !matches!(caller, Caller::Anonymous) => return Ok(()),
        Need::Known => (Scope::Upload, None),
        Need::Read(r) => (Scope::Read, Some(r.as_str())),
        Need::Scope(s, r) => (*s, r.as_deref()),
    };
    if caller.may(scope, repo) {
        return Ok(());
    }
    let what = match repo {
        Some(r) => format!("the {} scope on repo {r}", scope.as_str()),
        None => format!("the {} scope on every repo", scope.as_str()),
    };
    match caller {
        Caller::Anonymous => Err(ApiError::unauthorized(format!(
            "this needs a token with {what}: Authorization: Bearer TOKEN (or X-Api-Key, or basic auth with the token as password)"
        ))),
        _ => Err(ApiError::forbidden(format!(
            "token {:?} lacks {what}",
            caller.name().unwrap_or_default()
        ))),
    }
}

/// What `POST /tokens/` takes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub scopes: BTreeSet<Scope>,
    #[serde(default)]
    pub repos: Vec<String>,
    /// Seconds from now; or `expires_at`, seconds since the epoch.
    #[serde(default)]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub expires_at: Option<u64>,
}

/// A token made: the only time its secret is shown.
#[derive(Serialize)]
pub struct Made {
    pub token: String,
    #[serde(flatten)]
    pub record: TokenRecord,
}

/// Makes a scoped token. A name taken is a conflict (revoke it first).
pub async fn create_token(app: &App, new: NewToken) -> ApiResult<Made> {
    if !is_token_name(&new.name) {
        return Err(ApiError::unprocessable(
            "invalid token",
            format!(
                "name {:?}: use 1-64 of [A-Za-z0-9_-], starting with a letter or digit",
                new.name
            ),
        ));
    }
    if new.scopes.is_empty() {
        return Err(ApiError::unprocessable(
            "invalid token",
            "scopes: give at least one of read, upload, delete, admin",
        ));
    }
    if let Some(g) = new.repos.iter().find(|g| !is_repo_glob(g)) {
        return Err(ApiError::unprocessable(
            "invalid token",
            format!("repos: {g:?} is not a repo name or glob ([A-Za-z0-9._+-], * and ?)"),
        ));
    }
    let now = app.now();
    let expires = match (new.expires_in, new.expires_at) {
        (Some(_), Some(_)) => {
            return Err(ApiError::unprocessable(
                "invalid token",
                "give expires_in or expires_at, not both",
            ))
        }
        (Some(secs), None) => Some(now.saturating_add(secs)),
        (None, at) => at,
    };
    if expires.is_some_and(|at| at <= now) {
        return Err(ApiError::unprocessable(
            "invalid token",
            "expires: that is not in the future",
        ));
    }
    let secret = new_secret();
    let record = TokenRecord {
        name: new.name.clone(),
        sha256: hash_secret(&secret),
        scopes: new.scopes,
        repos: new.repos,
        created: now,
        expires,
    };
    let value = serde_json::to_vec(&record).map_err(|e| ApiError::internal(e.to_string()))?;
    if app
        .meta
        .put_if(&key(&new.name), value.into(), None)
        .await?
        .is_err()
    {
        return Err(ApiError::conflict(format!(
            "a token named {:?} exists: revoke it first",
            new.name
        )));
    }
    Ok(Made {
        token: format!("{}.{secret}", new.name),
        record: TokenRecord {
            sha256: String::new(),
            ..record
        },
    })
}

/// Every scoped token, without the hashes of their secrets.
pub async fn list_tokens(app: &App) -> ApiResult<Vec<TokenRecord>> {
    let mut out = Vec::new();
    for k in app.meta.list(PREFIX).await? {
        if let Some(v) = app.meta.get(&k).await? {
            if let Ok(mut t) = serde_json::from_slice::<TokenRecord>(&v.value) {
                t.sha256.clear();
                out.push(t);
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Revokes a token: its record is deleted, so its next request is a 401.
pub async fn revoke_token(app: &App, name: &str) -> ApiResult<()> {
    let missing = || ApiError::not_found(format!("no token named {name:?}"));
    if !is_token_name(name) {
        return Err(missing());
    }
    loop {
        let Some(v) = app.meta.get(&key(name)).await? else {
            return Err(missing());
        };
        if app.meta.delete_if(&key(name), v.version).await?.is_ok() {
            return Ok(());
        }
    }
}

/// Token names: short, plain, and without `.` (which ends the name in `NAME.SECRET`).
pub fn is_token_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A repo glob: repo-name characters plus `*` (any run) and `?` (one character).
pub fn is_repo_glob(g: &str) -> bool {
    (1..=64).contains(&g.len())
        && g.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-*?".contains(&b))
}

/// Shell-style match of `*` and `?` (no classes: repo names are plain).
pub fn glob(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            // Let the last `*` take one more character and try again from there.
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

/// A new token's secret: 256 random bits, hex.
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret))
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(scopes: &[Scope], repos: &[&str]) -> Caller {
        Caller::Token(TokenRecord {
            name: "t".into(),
            sha256: String::new(),
            scopes: scopes.iter().copied().collect(),
            repos: repos.iter().map(|r| r.to_string()).collect(),
            created: 0,
            expires: None,
        })
    }

    #[test]
    fn globs() {
        assert!(glob("team-*", "team-a"));
        assert!(glob("team-*", "team-"));
        assert!(!glob("team-*", "teams"));
        assert!(glob("*-prod", "web-prod"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        assert!(glob("r?", "r1"));
        assert!(!glob("r?", "r12"));
        assert!(glob("*", "anything"));
        assert!(glob("web", "web"));
        assert!(!glob("web", "web2"));
    }

    #[test]
    fn scopes_and_repos() {
        let up = token(&[Scope::Upload], &["team-*"]);
        assert!(up.may(Scope::Upload, Some("team-a")));
        assert!(!up.may(Scope::Upload, Some("other")));
        assert!(!up.may(Scope::Delete, Some("team-a")));
        assert!(!up.may(Scope::Read, Some("team-a")));
        let admin = token(&[Scope::Admin], &["team-*"]);
        assert!(admin.may(Scope::Delete, Some("team-a")));
        assert!(!admin.may(Scope::Admin, None), "limited to some repos");
        assert!(token(&[Scope::Admin], &[]).may(Scope::Admin, None));
        assert!(!Caller::Anonymous.may(Scope::Read, Some("x")));
        assert!(Caller::Admin.may(Scope::Admin, None));
    }

    #[test]
    fn credentials() {
        let mut h = HeaderMap::new();
        assert_eq!(credential(&h), None);
        h.insert("authorization", "Bearer abc".parse().unwrap());
        assert_eq!(credential(&h).as_deref(), Some("abc"));
        // apt's auth.conf: login x, password TOKEN
        let basic = base64::engine::general_purpose::STANDARD.encode("x:n.s");
        h.insert("authorization", format!("Basic {basic}").parse().unwrap());
        assert_eq!(credential(&h).as_deref(), Some("n.s"));
        let basic = base64::engine::general_purpose::STANDARD.encode("n.s:");
        h.insert("authorization", format!("Basic {basic}").parse().unwrap());
        assert_eq!(credential(&h).as_deref(), Some("n.s"));
        let mut h = HeaderMap::new();
        h.insert("x-api-key", "k".parse().unwrap());
        assert_eq!(credential(&h).as_deref(), Some("k"));
    }

    #[test]
    fn needs() {
        let get = Method::GET;
        let post = Method::POST;
        assert_eq!(need(&Route::Repos, &get), Need::Optional);
        assert_eq!(need(&Route::Metrics, &get), Need::Nothing);
        assert_eq!(
            need(&Route::Tree("r".into(), "x".into()), &get),
            Need::Read("r".into())
        );
        assert_eq!(
            need(&Route::Packages("r".into()), &post),
            Need::Scope(Scope::Upload, Some("r".into()))
        );
        assert_eq!(
            need(&Route::Generators, &post),
            Need::Scope(Scope::Admin, None)
        );
        assert_eq!(need(&Route::NotFound, &post), Need::Known);
    }
}
