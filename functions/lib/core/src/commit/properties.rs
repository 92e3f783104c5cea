//! A repo's properties (`PUT /repos/{repo}/`, `POST /repos/{repo}/enable|disable`): what
//! its clients are told (`config`), and whether its trees are served.
//!
//! A change is three steps, each safe to crash after:
//! 1. the config, with `revision` + 1, by compare-and-set;
//! 2. the head moves (a `settings` journal entry naming the properties changed);
//! 3. a publish, whose pointer carries the revision (`Published::config_revision`), so every
//!    reader's cached settings turn over with it (`repo::published_view`).
//!
//! A crash after 1 leaves the config ahead of the pointer: the same request again (or any
//! later publish, which reads the config after the head) finishes the job. Turning a repo
//! off or on while its pointer is settled publishes nothing new: only the pointer's
//! `disabled` changes, so enabling serves the very generation that was disabled.
use super::journal::Kind;
use super::repo::{forget_view, named_fields, no_repo, read_config};
use super::{ensure_published, jitter, load_published, to_json, update_head, Change};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::model::{keys, On, Published, RepoConfig};
use crate::names::{check_setting, is_repo_name};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// What a `PUT /repos/{repo}/` may set; every field optional, unknown fields refused.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct Properties {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub gpgcheck: Option<bool>,
    #[serde(default)]
    pub repo_gpgcheck: Option<bool>,
    #[serde(default)]
    pub gpgkey: Option<Vec<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present")]
    pub baseurl: Option<Option<String>>,
    #[serde(default)]
    pub mirrors: Option<Vec<String>>,
    #[serde(default)]
    pub url_args: Option<BTreeMap<String, String>>,
    #[serde(default, alias = "default_suite", alias = "distribution")]
    pub suite: Option<String>,
    #[serde(default, alias = "default_component")]
    pub component: Option<String>,
    #[serde(default)]
    pub architectures: Option<Vec<String>>,
}

/// A field given as `null` is `Some(None)`, one left out `None`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

const MAX_TEXT: usize = 256;
const MAX_URL: usize = 2048;
const MAX_URLS: usize = 32;
const URL_ARGS: [&str; 3] = ["suites", "components", "query"];

fn refused(field: &str, detail: impl std::fmt::Display) -> ApiError {
    let mut e =
        ApiError::unprocessable("bad repo properties", format!("field {field:?}: {detail}"));
    e.extra = Some(serde_json::json!({ "field": field }));
    e
}

impl Properties {
    /// Properties from a request's JSON object: an unknown field or a wrong type is a 422
    /// naming the field.
    pub fn from_json(v: serde_json::Value) -> ApiResult<Properties> {
        if !v.is_object() {
            return Err(ApiError::unprocessable(
                "bad repo properties",
                "the body must be a JSON object of properties",
            ));
        }
        let p: Properties = named_fields(&v).map_err(|(field, e)| match field {
            Some(f) => refused(&f, e),
            None => ApiError::unprocessable("bad repo properties", e),
        })?;
        p.check()?;
        Ok(p)
    }

    /// Values go into clients' config files line by line: no control character may pass
    /// (a newline in a title would add a line to a `.repo` file).
    fn check(&self) -> ApiResult<()> {
        for (field, v) in [("title", &self.title), ("description", &self.description)] {
            if let Some(v) = v {
                if v.chars().count() > MAX_TEXT || v.chars().any(char::is_control) {
                    return Err(refused(
                        field,
                        format!("at most {MAX_TEXT} characters, no control characters"),
                    ));
                }
            }
        }
        if let Some(Some(u)) = &self.baseurl {
            check_url("baseurl", u, false)?;
        }
        for (field, urls, file) in [
            ("mirrors", &self.mirrors, false),
            ("gpgkey", &self.gpgkey, true),
        ] {
            let Some(urls) = urls else { continue };
            if urls.len() > MAX_URLS {
                return Err(refused(field, format!("at most {MAX_URLS} URLs")));
            }
            for u in urls {
                check_url(field, u, file)?;
            }
        }
        if let Some(args) = &self.url_args {
            for (k, v) in args {
                match k.as_str() {
                    "suites" | "components" => {
                        if v.split(' ').any(|n| check_setting(k, n).is_err()) {
                            return Err(refused(
                                "url_args",
                                format!("{k}: names separated by single spaces"),
                            ));
                        }
                    }
                    "query" => {
                        let ok = |b: u8| b.is_ascii_alphanumeric() || b"._~=&%+-".contains(&b);
                        if v.is_empty() || v.len() > MAX_TEXT || !v.bytes().all(ok) {
                            return Err(refused(
                                "url_args",
                                "query: a URL query (letters, digits, ._~=&%+-)",
                            ));
                        }
                    }
                    _ => {
                        return Err(refused(
                            "url_args",
                            format!("unknown key {k:?}: one of {}", URL_ARGS.join(", ")),
                        ))
                    }
                }
            }
        }
        for (field, v) in [("suite", &self.suite), ("component", &self.component)] {
            if let Some(v) = v {
                check_setting(field, v).map_err(|e| refused(field, e.detail))?;
            }
        }
        for a in self.architectures.iter().flatten() {
            check_setting("architecture", a).map_err(|e| refused("architectures", e.detail))?;
        }
        Ok(())
    }

    /// `config` with these properties; the names of those that changed.
    fn apply(&self, config: &mut RepoConfig) -> Vec<&'static str> {
        let mut changed = Vec::new();
        fn set<T: PartialEq + Clone>(
            changed: &mut Vec<&'static str>,
            name: &'static str,
            to: &Option<T>,
            field: &mut T,
        ) {
            if let Some(v) = to {
                if v != field {
                    *field = v.clone();
                    changed.push(name);
                }
            }
        }
        let c = &mut changed;
        set(c, "title", &self.title, &mut config.title);
        set(c, "description", &self.description, &mut config.description);
        set(c, "enabled", &self.enabled.map(On), &mut config.enabled);
        set(c, "gpgcheck", &self.gpgcheck, &mut config.gpgcheck);
        set(
            c,
            "repo_gpgcheck",
            &self.repo_gpgcheck.map(On),
            &mut config.repo_gpgcheck,
        );
        set(c, "gpgkey", &self.gpgkey, &mut config.gpgkey);
        let baseurl = self
            .baseurl
            .as_ref()
            .map(|u| u.as_ref().map(|u| u.trim_end_matches('/').to_string()));
        set(c, "baseurl", &baseurl, &mut config.baseurl);
        let mirrors = self.mirrors.as_ref().map(|m| {
            m.iter()
                .map(|u| u.trim_end_matches('/').to_string())
                .collect()
        });
        set(c, "mirrors", &mirrors, &mut config.mirrors);
        set(c, "url_args", &self.url_args, &mut config.url_args);
        set(c, "suite", &self.suite, &mut config.default_suite);
        set(
            c,
            "component",
            &self.component,
            &mut config.default_component,
        );
        set(
            c,
            "architectures",
            &self.architectures,
            &mut config.architectures,
        );
        changed
    }
}

fn check_url(field: &str, u: &str, file_ok: bool) -> ApiResult<()> {
    let scheme_ok = u.starts_with("http://")
        || u.starts_with("https://")
        || (file_ok && u.starts_with("file:///"));
    let host = u.split_once("://").map_or("", |(_, rest)| rest);
    if !scheme_ok
        || host.is_empty()
        || u.len() > MAX_URL
        || u.chars()
            .any(|c| c.is_control() || c.is_whitespace() || "\"'<>\\`".contains(c))
    {
        let schemes = if file_ok {
            "http://, https:// or file:///"
        } else {
            "http:// or https://"
        };
        return Err(refused(
            field,
            format!("{u:?} is not a URL ({schemes}, no spaces or quotes)"),
        ));
    }
    Ok(())
}

/// What a property change answers.
#[derive(serde::Serialize)]
pub struct Updated {
    pub repo: RepoConfig,
    /// The generation now served (the same one when only `enabled` changed).
    pub generation: u64,
    /// The properties that changed (empty: nothing did, nothing was published).
    pub changed: Vec<&'static str>,
}

/// Properties that change what analysis made of the packages (the hints `analyze` gets):
/// changing one re-analyzes the repo (`rebuild`).
const ANALYZED: [&str; 3] = ["suite", "component", "architectures"];

/// Applies `props` to `repo` (see the module's steps).
pub async fn update_properties(app: &App, repo: &str, props: Properties) -> ApiResult<Updated> {
    // A name no repo can have never reaches the store's keys (the file store refused it
    // with a 400 that PUT, enable and disable do not document).
    if !is_repo_name(repo) {
        return Err(no_repo(repo));
    }
    let key = keys::config(repo);
    // Step 1: the config.
    let (config, changed, settled) = {
        let mut attempt = 0;
        loop {
            let Some(raw) = app.meta.get(&key).await? else {
                return Err(ApiError::not_found(format!("no repo named {repo:?}")));
            };
            let mut config: RepoConfig = serde_json::from_slice(&raw.value)
                .map_err(|e| ApiError::internal(format!("corrupt config of repo {repo}: {e}")))?;
            let published = load_published(app, repo).await?.map(|(p, _)| p);
            let settled = published
                .as_ref()
                .is_some_and(|p| p.config_revision == config.revision);
            let changed = props.apply(&mut config);
            if changed.is_empty() {
                break (config, changed, settled);
            }
            config.revision += 1;
            match app
                .meta
                .put_if(&key, to_json(&config)?.into(), Some(raw.version))
                .await?
            {
                Ok(_) => break (config, changed, settled),
                Err(_) if attempt + 1 < super::CAS_ATTEMPTS => {
                    jitter(app, attempt).await;
                    attempt += 1;
                }
                Err(_) => {
                    return Err(ApiError::busy(format!(
                        "repo {repo}: its settings changed meanwhile; retry"
                    )))
                }
            }
        }
    };
    forget_view(app, repo);
    if changed.is_empty() && settled {
        let generation = load_published(app, repo)
            .await?
            .map_or(0, |(p, _)| p.generation);
        return Ok(Updated {
            repo: config,
            generation,
            changed,
        });
    }
    let published = if settled && changed == ["enabled"] {
        switch(app, repo, &config).await?
    } else {
        // Steps 2 and 3.
        let names = changed.iter().map(|s| s.to_string()).collect();
        let seq = update_head(app, repo, Kind::Settings(names), |h| {
            h.config_revision = h.config_revision.max(config.revision);
            Ok(Change::Changed)
        })
        .await?;
        if changed.iter().any(|c| ANALYZED.contains(c)) {
            super::rebuild(app, repo).await?;
        }
        ensure_published(app, repo, seq).await?
    };
    forget_view(app, repo);
    Ok(Updated {
        repo: read_config(app, repo).await?,
        generation: published.generation,
        changed,
    })
}

/// Sets the pointer's `disabled` (and revision) as `config` says, keeping its generation.
async fn switch(app: &App, repo: &str, config: &RepoConfig) -> ApiResult<Published> {
    for attempt in 0..super::CAS_ATTEMPTS {
        let Some((mut p, version)) = load_published(app, repo).await? else {
            return Err(ApiError::not_found(format!("no repo named {repo:?}")));
        };
        if p.config_revision >= config.revision {
            return Ok(p); // a publish since carried this revision
        }
        p.disabled = !config.enabled.0;
        p.config_revision = config.revision;
        let leased = std::mem::replace(&mut p.lease_ms, super::lease::offered(app));
        match app
            .meta
            .put_if(&keys::published(repo), to_json(&p)?.into(), Some(version))
            .await?
        {
            Ok(_) => {
                super::lease::wait_out(app, repo, leased).await;
                return Ok(p);
            }
            Err(_) => jitter(app, attempt).await,
        }
    }
    Err(ApiError::busy(format!(
        "repo {repo}: could not switch it after {} attempts; retry",
        super::CAS_ATTEMPTS
    )))
}

/// The 404 a disabled repo's trees answer.
pub fn disabled(repo: &str) -> ApiError {
    ApiError::new(
        http::StatusCode::NOT_FOUND,
        "repo disabled",
        format!("repo {repo} is disabled: its trees are not served (POST /repos/{repo}/enable)"),
    )
}
