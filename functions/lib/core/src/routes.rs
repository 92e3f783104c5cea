//! URL → route. Paths match with or without a trailing slash; every segment is
//! percent-decoded on its own (apt sends `+` as `%2b`; a `%2F` never makes a new segment: in a
//! published tree's path it stays in its file name as `%2F`, npm's `@scope%2fname`).
use percent_encoding::percent_decode_str;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/`: what this server is.
    Root,
    /// `/repos/`
    Repos,
    /// `/repos/{repo}/`
    Repo(String),
    /// `/repos/{repo}/rebuild`
    Rebuild(String),
    /// `/repos/{repo}/packages/`
    Packages(String),
    /// `/repos/{repo}/packages/{package}`
    Package(String, String),
    /// `/repos/{repo}/key.asc`
    Key(String),
    /// `/repos/{repo}/keys/`: the repo's signing keys; POST rotates.
    Keys(String),
    /// `/repos/{repo}/keys/{fingerprint}`: DELETE ends a replaced key's overlap.
    RepoKey(String, String),
    /// `/repos/{repo}/enable`, `/repos/{repo}/disable`: serve its trees, or not.
    RepoEnable(String),
    RepoDisable(String),
    /// `/repos/{repo}/config/`: the client configuration files there are.
    Configs(String),
    /// `/repos/{repo}/config/{client or file}`
    Config(String, String),
    /// `/repos/{repo}/history`: the journal (docs/history.md).
    History(String),
    /// `/repos/{repo}/rollback`
    Rollback(String),
    /// `/repos/{repo}/transactions`
    Transactions(String),
    /// `/repos/{repo}/snapshots/`
    Snapshots(String),
    /// `/repos/{repo}/snapshots/{name}`
    Snapshot(String, String),
    /// `/repos/{repo}/uploads/`
    Uploads(String),
    /// `/repos/{repo}/uploads/{id}`
    Upload(String, String),
    /// `/repos/{repo}/{mount}/{path...}`: a generator's published tree.
    Tree(String, String),
    /// `/generators/`
    Generators,
    /// `/generators/{name}`
    Generator(String),
    /// `/generators/{name}/enable`: lift a quarantine.
    GeneratorEnable(String),
    /// `/metrics`: store call counts, Prometheus text.
    Metrics,
    /// `/openapi.json`: the REST API described (OpenAPI 3).
    OpenApi,
    /// `/tokens/`: scoped tokens (`auth`).
    Tokens,
    /// `/tokens/{name}`
    Token(String),
    /// Vieter's pacman routes, for its users to switch: `/{repo}`, `/{repo}/publish`,
    /// `/{repo}/{arch}`, `/{repo}/{arch}/{filename}`.
    VieterRepo(String),
    VieterPublish(String),
    VieterArch(String, String),
    VieterFile(String, String, String),
    /// `/ui/`: the web interface's repo list (docs/ui.md).
    UiRepos,
    /// `/ui/assets/{name}`: its stylesheet and script, named by content hash.
    UiAsset(String),
    /// `/ui/repos/{repo}`: a repo's package table (search, filters, pages).
    UiRepo(String),
    /// `/ui/repos/{repo}/packages/{package}`: one package file.
    UiPackage(String, String),
    /// `/ui/repos/{repo}/setup`: the clients' configuration, to copy.
    UiSetup(String),
    /// `/ui/repos/{repo}/history`: the journal.
    UiHistory(String),
    NotFound,
}

/// Top-level names of the main API: never Vieter repos, and refused as repo names.
pub const RESERVED: &[&str] = &[
    "repos",
    "generators",
    "metrics",
    "tokens",
    "openapi.json",
    "ui",
];

/// Decodes a path into segments; `None` if a segment is not valid UTF-8 after decoding.
pub fn segments(path: &str) -> Option<Vec<String>> {
    let trimmed = path.trim_start_matches('/');
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Some(Vec::new());
    }
    trimmed
        .split('/')
        .map(|s| {
            percent_decode_str(s)
                .decode_utf8()
                .ok()
                .map(|c| c.into_owned())
        })
        .collect()
}

pub fn route(path: &str) -> Route {
    let Some(seg) = segments(path) else {
        return Route::NotFound;
    };
    let s: Vec<&str> = seg.iter().map(String::as_str).collect();
    match s.as_slice() {
        [] => Route::Root,
        ["repos"] => Route::Repos,
        ["generators"] => Route::Generators,
        ["generators", name] => Route::Generator(name.to_string()),
        ["generators", name, "enable"] => Route::GeneratorEnable(name.to_string()),
        ["metrics"] => Route::Metrics,
        ["openapi.json"] => Route::OpenApi,
        ["tokens"] => Route::Tokens,
        ["tokens", name] => Route::Token(name.to_string()),
        ["ui"] => Route::UiRepos,
        ["ui", "assets", name] => Route::UiAsset(name.to_string()),
        ["ui", "repos", repo] => Route::UiRepo(repo.to_string()),
        ["ui", "repos", repo, "packages", pkg] => {
            Route::UiPackage(repo.to_string(), pkg.to_string())
        }
        ["ui", "repos", repo, "setup"] => Route::UiSetup(repo.to_string()),
        ["ui", "repos", repo, "history"] => Route::UiHistory(repo.to_string()),
        ["repos", repo] => Route::Repo(repo.to_string()),
        ["repos", repo, "rebuild"] => Route::Rebuild(repo.to_string()),
        ["repos", repo, "packages"] => Route::Packages(repo.to_string()),
        ["repos", repo, "packages", pkg] => Route::Package(repo.to_string(), pkg.to_string()),
        ["repos", repo, "key.asc"] => Route::Key(repo.to_string()),
        ["repos", repo, "keys"] => Route::Keys(repo.to_string()),
        ["repos", repo, "keys", fp] => Route::RepoKey(repo.to_string(), fp.to_string()),
        ["repos", repo, "enable"] => Route::RepoEnable(repo.to_string()),
        ["repos", repo, "disable"] => Route::RepoDisable(repo.to_string()),
        ["repos", repo, "config"] => Route::Configs(repo.to_string()),
        ["repos", repo, "config", name] => Route::Config(repo.to_string(), name.to_string()),
        ["repos", repo, "history"] => Route::History(repo.to_string()),
        ["repos", repo, "rollback"] => Route::Rollback(repo.to_string()),
        ["repos", repo, "transactions"] => Route::Transactions(repo.to_string()),
        ["repos", repo, "snapshots"] => Route::Snapshots(repo.to_string()),
        ["repos", repo, "snapshots", name] => Route::Snapshot(repo.to_string(), name.to_string()),
        ["repos", repo, "uploads"] => Route::Uploads(repo.to_string()),
        ["repos", repo, "uploads", id] => Route::Upload(repo.to_string(), id.to_string()),
        ["repos", repo, rest @ ..] if !rest.is_empty() => {
            // An encoded `/` stays inside its segment: it names a file whose name holds
            // `%2F` (npm asks for a scoped package's document as `@scope%2fname`), never a
            // directory. A flat apt repo asks for `BASE/./InRelease`: drop `.` segments.
            let parts: Vec<String> = rest
                .iter()
                .filter(|p| **p != ".")
                .map(|p| p.replace('/', "%2F"))
                .collect();
            if parts.iter().any(|p| p.is_empty() || p == "..") {
                return Route::NotFound;
            }
            Route::Tree(repo.to_string(), parts.join("/"))
        }
        [repo] if !RESERVED.contains(repo) => Route::VieterRepo(repo.to_string()),
        [repo, "publish"] if !RESERVED.contains(repo) => Route::VieterPublish(repo.to_string()),
        [repo, arch] if !RESERVED.contains(repo) => {
            Route::VieterArch(repo.to_string(), arch.to_string())
        }
        [repo, arch, file] if !RESERVED.contains(repo) => {
            Route::VieterFile(repo.to_string(), arch.to_string(), file.to_string())
        }
        _ => Route::NotFound,
    }
}

/// The repo segment of a `/repos/{repo}/...` path, if any (`REPO@REF` for a frozen view).
pub fn repo_segment(path: &str) -> Option<String> {
    match segments(path)?.as_slice() {
        [first, repo, ..] if first == "repos" => Some(repo.clone()),
        _ => None,
    }
}

/// Query string pairs, percent-decoded. `+` stays `+` (package versions use it).
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    let Some(q) = query else { return Vec::new() };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (dec(k), dec(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_with_and_without_slash() {
        assert_eq!(route("/repos/"), Route::Repos);
        assert_eq!(route("/repos"), Route::Repos);
        assert_eq!(route("/repos/a/"), Route::Repo("a".into()));
        assert_eq!(route("/repos/a/packages"), Route::Packages("a".into()));
        assert_eq!(
            route("/repos/a/packages/x_1%2b2_all.deb"),
            Route::Package("a".into(), "x_1+2_all.deb".into())
        );
        assert_eq!(
            route("/repos/a/dist/pool/main/x/x/x_1%2b2_all.deb"),
            Route::Tree("a".into(), "dist/pool/main/x/x/x_1+2_all.deb".into())
        );
        assert_eq!(
            route("/repos/a/dist/./InRelease"),
            Route::Tree("a".into(), "dist/InRelease".into())
        );
        assert_eq!(route("/repos/a/dist/../x"), Route::NotFound);
        // An encoded `/` never makes a directory: it stays in its segment's file name.
        assert_eq!(
            route("/repos/a/dist/a%2F..%2Fb"),
            Route::Tree("a".into(), "dist/a%2F..%2Fb".into())
        );
        assert_eq!(
            route("/repos/a/npm/@scope%2fname"),
            Route::Tree("a".into(), "npm/@scope%2Fname".into())
        );
        assert_eq!(
            route("/repos/a%2Fb/dist/x"),
            Route::Tree("a/b".into(), "dist/x".into())
        );
        assert_eq!(route("/repos/a/key.asc"), Route::Key("a".into()));
        assert_eq!(route("/repos/a/keys/"), Route::Keys("a".into()));
        assert_eq!(
            route("/repos/a/keys/AB12"),
            Route::RepoKey("a".into(), "AB12".into())
        );
        assert_eq!(route("/generators/"), Route::Generators);
        assert_eq!(route("/generators/deb"), Route::Generator("deb".into()));
        assert_eq!(
            route("/generators/deb/enable"),
            Route::GeneratorEnable("deb".into())
        );
        assert_eq!(route("/metrics"), Route::Metrics);
        assert_eq!(route("/openapi.json"), Route::OpenApi);
        assert_eq!(route("/openapi.json/publish"), Route::NotFound);
        assert_eq!(route("/a/b/c/d"), Route::NotFound);
        assert_eq!(route("/bur/publish"), Route::VieterPublish("bur".into()));
        assert_eq!(
            route("/bur/x86_64/bur.db"),
            Route::VieterFile("bur".into(), "x86_64".into(), "bur.db".into())
        );
        assert_eq!(
            route("/bur/x86_64/"),
            Route::VieterArch("bur".into(), "x86_64".into())
        );
        assert_eq!(route("/bur"), Route::VieterRepo("bur".into()));
        assert_eq!(route("/ui/"), Route::UiRepos);
        assert_eq!(route("/ui/repos/a"), Route::UiRepo("a".into()));
        assert_eq!(
            route("/ui/repos/a/packages/x_1%2b2_all.deb"),
            Route::UiPackage("a".into(), "x_1+2_all.deb".into())
        );
        assert_eq!(route("/ui/repos/a/setup"), Route::UiSetup("a".into()));
        assert_eq!(route("/ui/x"), Route::NotFound);
        assert_eq!(route("/repos/x/y/z"), Route::Tree("x".into(), "y/z".into()));
        assert_eq!(route("/repos/a/history"), Route::History("a".into()));
        assert_eq!(route("/repos/a/enable"), Route::RepoEnable("a".into()));
        assert_eq!(route("/repos/a/disable"), Route::RepoDisable("a".into()));
        assert_eq!(route("/repos/a/config/"), Route::Configs("a".into()));
        assert_eq!(
            route("/repos/a/config/dnf"),
            Route::Config("a".into(), "dnf".into())
        );
        assert_eq!(
            route("/repos/a/snapshots/s1/"),
            Route::Snapshot("a".into(), "s1".into())
        );
        assert_eq!(
            route("/repos/a@s1/deb/InRelease"),
            Route::Tree("a@s1".into(), "deb/InRelease".into())
        );
        assert_eq!(repo_segment("/repos/a@g3/packages/"), Some("a@g3".into()));
        assert_eq!(repo_segment("/generators/"), None);
    }

    #[test]
    fn query_keeps_plus() {
        assert_eq!(
            query_pairs(Some("filename=a+b.deb&hint.distribution=bookworm")),
            vec![
                ("filename".into(), "a+b.deb".into()),
                ("hint.distribution".into(), "bookworm".into())
            ]
        );
    }
}
