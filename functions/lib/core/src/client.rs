//! Client configuration (`GET /repos/{repo}/config/`, `GET /repos/{repo}/config/{name}`):
//! the files that tell apt, dnf, zypper, pacman, apk and pkg how to use a repo. Each
//! generator's optional `client-config` export renders its format's files (format knowledge
//! stays in generators); one that lacks it gets the host's default, a text file naming its
//! tree and key. URLs use the repo's `baseurl` when set, else the URL the request came in on
//! (`X-Forwarded-Proto` and `X-Forwarded-Host` behind a proxy).
use crate::app::App;
use crate::commit::{client_keys, load_config};
use crate::error::{ApiError, ApiResult};
use crate::generator::{ClientFile, ClientRepo, Hint};
use crate::health;
use serde::Serialize;
use std::collections::BTreeMap;

/// One file as the listing names it.
#[derive(Serialize)]
pub struct Listed {
    pub client: String,
    pub generator: String,
    pub file: String,
    pub url: String,
    /// The client's main file (`GET /repos/{repo}/config/{client}`).
    pub main: bool,
}

#[derive(Serialize)]
pub struct KeyRef {
    pub url: String,
    /// The signing key's fingerprint, to check a downloaded key against (empty: the repo is
    /// signed by the server's key).
    pub fingerprint: String,
}

#[derive(Serialize)]
pub struct Listing {
    pub repo: String,
    pub enabled: bool,
    pub base_url: String,
    pub key: KeyRef,
    pub configs: Vec<Listed>,
    /// Generators whose `client-config` failed (their files are left out), and why.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub faults: BTreeMap<String, String>,
}

/// Every file of every generator the repo uses, with the generator that made it.
pub struct Files {
    pub base_url: String,
    pub fingerprint: String,
    pub files: Vec<(String, ClientFile)>,
    pub faults: BTreeMap<String, String>,
    pub enabled: bool,
}

/// Renders the repo's client files for clients reaching it at `request_base`
/// (`http://host/repos/NAME`).
pub async fn files(app: &App, repo: &str, request_base: &str) -> ApiResult<Files> {
    let config = load_config(app, repo).await?;
    let keys = client_keys(app, repo).await?;
    let base = config
        .baseurl
        .clone()
        .unwrap_or_else(|| request_base.to_string());
    let key_url = format!("{base}/key.asc");
    let mut out = Files {
        base_url: base.clone(),
        fingerprint: keys.fingerprint.clone(),
        files: Vec::new(),
        faults: BTreeMap::new(),
        enabled: config.enabled.0,
    };
    for g in app
        .generators()
        .into_iter()
        .filter(|g| config.allows(&g.info().name))
    {
        let (name, mount) = (g.info().name.clone(), g.info().mount.clone());
        let info = ClientRepo {
            name: repo.to_string(),
            title: config.title.clone(),
            description: config.description.clone(),
            enabled: config.enabled.0,
            gpgcheck: config.gpgcheck,
            repo_gpgcheck: config.repo_gpgcheck.0,
            gpgkeys: std::iter::once(key_url.clone())
                .chain(config.gpgkey.iter().cloned())
                .collect(),
            base_url: format!("{base}/{mount}"),
            mirrors: config
                .mirrors
                .iter()
                .map(|m| format!("{m}/{mount}"))
                .collect(),
            url_args: config
                .url_args
                .iter()
                .map(|(k, v)| Hint {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
            default_suite: config.default_suite.clone(),
            default_component: config.default_component.clone(),
            architectures: config.architectures.clone(),
            public_key: keys.armored.clone(),
            rsa_key_name: keys.rsa_name.clone(),
            rsa_public_key: keys.rsa_pem.clone(),
        };
        let made = if health::is_quarantined(app, &name) {
            Some(Err("quarantined (not asked)".to_string()))
        } else {
            let (g, info) = (g.clone(), info.clone());
            app.blocking(move || Ok::<_, ApiError>(g.client_config(&info)))
                .await?
                .map(|r| r.map_err(|e| e.to_string()))
        };
        let made = match made {
            None => Ok(vec![default_file(&info, &name, &key_url)]),
            Some(r) => r.and_then(|fs| checked(fs, &out.files)),
        };
        match made {
            Ok(fs) => out.files.extend(fs.into_iter().map(|f| (name.clone(), f))),
            Err(e) => {
                out.faults.insert(name, e);
            }
        }
    }
    Ok(out)
}

/// A generator's files, if every name is plain and new: they become URL segments and file
/// names on users' machines.
fn checked(fs: Vec<ClientFile>, known: &[(String, ClientFile)]) -> Result<Vec<ClientFile>, String> {
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && !s.starts_with('.')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._+-~".contains(&b))
    };
    for (n, f) in fs.iter().enumerate() {
        if !plain(&f.client) || !plain(&f.file_name) {
            return Err(format!(
                "client-config: {:?} for {:?} is not a plain file name",
                f.file_name, f.client
            ));
        }
        let taken = known.iter().map(|(_, k)| k).chain(&fs[..n]).any(|k| {
            k.file_name == f.file_name || k.file_name == f.client || k.client == f.file_name
        });
        if taken {
            return Err(format!(
                "client-config: file {:?} is named twice in the repo's files",
                f.file_name
            ));
        }
    }
    Ok(fs)
}

/// What a generator without `client-config` gets: where its tree and key are.
fn default_file(repo: &ClientRepo, generator: &str, key_url: &str) -> ClientFile {
    ClientFile {
        client: generator.to_string(),
        file_name: format!("{}-{generator}.txt", repo.name),
        data: format!(
            "# {}: the {generator} tree (its generator gives no client configuration)\n\
             url: {}\nkey: {key_url}\nenabled: {}\n",
            repo.name,
            repo.base_url,
            if repo.enabled { "yes" } else { "no" }
        )
        .into_bytes(),
    }
}

/// The listing of `files`, with URLs under `config_url` (`.../repos/NAME/config`).
pub fn listing(repo: &str, f: &Files, config_url: &str) -> Listing {
    let mut seen = std::collections::HashSet::new();
    Listing {
        repo: repo.to_string(),
        enabled: f.enabled,
        base_url: f.base_url.clone(),
        key: KeyRef {
            url: format!("{}/key.asc", f.base_url),
            fingerprint: f.fingerprint.clone(),
        },
        configs: f
            .files
            .iter()
            .map(|(g, c)| Listed {
                client: c.client.clone(),
                generator: g.clone(),
                file: c.file_name.clone(),
                url: format!("{config_url}/{}", c.file_name),
                main: seen.insert(c.client.clone()),
            })
            .collect(),
        faults: f.faults.clone(),
    }
}

/// The file `name` names: a client (its main file) or a file name.
pub fn find<'a>(f: &'a Files, name: &str) -> Option<&'a ClientFile> {
    let files = || f.files.iter().map(|(_, c)| c);
    files()
        .find(|c| c.client == name)
        .or_else(|| files().find(|c| c.file_name == name))
}

/// `scheme://host/PREFIX/repos/NAME` as the client reached it: `X-Forwarded-Proto` and
/// `X-Forwarded-Host` when a proxy set them, else the request's own.
pub fn request_base(req: &http::request::Parts, repo: &str) -> String {
    format!("{}/repos/{repo}", request_origin(&req.uri, &req.headers))
}

/// `scheme://host/PREFIX` as the client reached the server (see [`request_base`]).
pub fn request_origin(uri: &http::Uri, headers: &http::HeaderMap) -> String {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let safe = |v: &str| {
        v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
    };
    let scheme = header("x-forwarded-proto")
        .filter(|p| p == "http" || p == "https")
        .or_else(|| uri.scheme_str().map(str::to_string))
        .unwrap_or_else(|| "http".into());
    let host = header("x-forwarded-host")
        .or_else(|| header("host"))
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .filter(|h| safe(h))
        .unwrap_or_else(|| "localhost".into());
    // Whatever the proxy put before `/repos/` (an API stage, a path prefix) stays; the web
    // interface's pages (`/ui/repos/...`) name the same URLs as the API.
    let path = uri.path();
    let prefix = path
        .find("/ui/repos/")
        .or_else(|| path.find("/repos/"))
        .map_or("", |i| &path[..i])
        .trim_end_matches('/');
    let prefix = if prefix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b))
    {
        prefix
    } else {
        ""
    };
    format!("{scheme}://{host}{prefix}")
}
