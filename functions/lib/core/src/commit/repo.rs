//! A repo's keys in the metadata store (`config`, `head`, `published`): creating a repo,
//! reading them, and listing repos.
use super::{ensure_published, to_json};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::model::{keys, PackageRecord, Published, RepoConfig, StoredHead};
use crate::names::{check_repo_name, check_setting, is_repo_name};
use crate::store::{Fresh, Versioned, Write};
use std::collections::BTreeMap;
use std::sync::Arc;

pub async fn load_config(app: &App, repo: &str) -> ApiResult<RepoConfig> {
    Ok((*config_of(app, repo).await?).clone())
}

/// The repo's settings, or 404. Cached with its published pointer: settings change only by
/// deleting the repo (which removes the pointer) or by a property change, which then moves
/// the pointer with the new `config_revision` (`commit::properties`); so the pointer's
/// freshness check (one read) covers them. A repo without a pointer (being created, or
/// deleted) is read from the store.
pub(crate) async fn config_of(app: &App, repo: &str) -> ApiResult<Arc<RepoConfig>> {
    // A name no repo can have (`..`, a decoded `%2F`) never reaches the store's keys.
    if !is_repo_name(repo) {
        return Err(no_repo(repo));
    }
    let view = published_view(app, repo).await?;
    if let Some(c) = view.as_ref().and_then(|v| v.config.clone()) {
        return Ok(c);
    }
    let config = Arc::new(read_config(app, repo).await?);
    if let Some(view) = view {
        let mut views = app.views.lock();
        if views.get(repo).is_some_and(|v| Arc::ptr_eq(v, &view)) {
            let with = RepoView {
                config: Some(config.clone()),
                ..(*view).clone()
            };
            views.insert(repo.to_string(), Arc::new(with));
        }
    }
    Ok(config)
}

/// An upload's repo settings, and whether this request read them from the store
/// (`checked`) or took this process's last known ones.
#[derive(Clone)]
pub(crate) struct Assumed {
    pub config: Arc<RepoConfig>,
    pub checked: bool,
}

/// The repo's settings for an upload: this process's last known ones, without a store read
/// (its commit checks them once for its whole batch: `group::apply_batch`; a read here was a
/// GetItem on every upload), else read now.
pub(crate) async fn assumed_config(app: &App, repo: &str) -> ApiResult<Assumed> {
    if !is_repo_name(repo) {
        return Err(no_repo(repo));
    }
    Ok(match known_config(app, repo) {
        Some(config) => Assumed {
            config,
            checked: false,
        },
        None => Assumed {
            config: config_of(app, repo).await?,
            checked: true,
        },
    })
}

/// A refusal under settings this request did not read (`Assumed::checked`) may come from
/// settings changed since: the current ones, when they differ (None: the refusal stands).
pub(crate) async fn changed_since(
    app: &App,
    repo: &str,
    assumed: &Assumed,
) -> ApiResult<Option<Arc<RepoConfig>>> {
    if assumed.checked {
        return Ok(None);
    }
    let now = config_of(app, repo).await?;
    Ok((*now != *assumed.config).then_some(now))
}

/// Whether reads of `repo` need the `read` scope, by the settings this request's read of the
/// repo left in the view (no store read then). A repo that is not there is not private: its
/// handler answered 404 as for anyone.
pub async fn is_private(app: &App, repo: &str) -> ApiResult<bool> {
    if !is_repo_name(repo) {
        return Ok(false);
    }
    match settled_config(app, repo).await {
        Ok(c) => Ok(c.private),
        Err(e) if e.status == http::StatusCode::NOT_FOUND => Ok(false),
        Err(e) => Err(e),
    }
}

/// The repo's settings as this request already read them (`config_of` caches them with the
/// pointer), without another store read: a commit checks its quotas with them.
pub(crate) async fn settled_config(app: &App, repo: &str) -> ApiResult<Arc<RepoConfig>> {
    match known_config(app, repo) {
        Some(c) => Ok(c),
        None => config_of(app, repo).await,
    }
}

/// The settings the read cache holds for `repo`, without a store read.
fn known_config(app: &App, repo: &str) -> Option<Arc<RepoConfig>> {
    app.views.lock().get(repo).and_then(|v| v.config.clone())
}

/// The repo's settings as stored now (no cache).
pub(crate) async fn read_config(app: &App, repo: &str) -> ApiResult<RepoConfig> {
    match app.meta.get(&keys::config(repo)).await? {
        Some(v) => Ok(serde_json::from_slice(&v.value)
            .map_err(|e| ApiError::internal(format!("corrupt config of repo {repo}: {e}")))?),
        None => Err(no_repo(repo)),
    }
}

pub(super) fn no_repo(repo: &str) -> ApiError {
    ApiError::not_found(format!("no repo named {repo:?}"))
}

pub async fn load_published(app: &App, repo: &str) -> ApiResult<Option<(Published, u64)>> {
    Ok(published_view(app, repo)
        .await?
        .map(|v| ((*v.published).clone(), v.raw.version)))
}

/// What the read cache holds for a repo (`App::views`): the published pointer as stored,
/// decoded, and the repo's settings once read.
#[derive(Clone)]
pub struct RepoView {
    pub(crate) raw: Versioned,
    pub(crate) published: Arc<Published>,
    pub(crate) config: Option<Arc<RepoConfig>>,
}

/// [`published_view`] for a GET of the repo's tree: where the read is a round trip,
/// concurrent GETs share it (`group::check_together`). Not for writes: in a load an upload's
/// latency is its rate, and waiting for a check under way cost `add -j 8` 15% with 20 ms a
/// request.
pub(crate) async fn served_view(app: &App, repo: &str) -> ApiResult<Option<Arc<RepoView>>> {
    if app.meta.reads_are_remote() {
        if let Some(view) = super::lease::leased(app, repo) {
            return Ok(Some(view));
        }
        super::group::check_together(app, repo).await
    } else {
        published_view(app, repo).await
    }
}

/// The repo's published pointer, current as of this call: one read of the store, which says
/// "unchanged" when the cache holds the current version (then nothing is decoded). So a read
/// after any write that returned sees it, in this process or another one.
pub(crate) async fn published_view(app: &App, repo: &str) -> ApiResult<Option<Arc<RepoView>>> {
    let key = keys::published(repo);
    let known = app.views.lock().get(repo).cloned();
    let now = match &known {
        Some(view) => match app.meta.get_fresh(&key, &view.raw).await? {
            Fresh::Unchanged => return Ok(known),
            Fresh::Changed(now) => now,
        },
        None => app.meta.get(&key).await?,
    };
    let Some(raw) = now else {
        app.views.lock().remove(repo);
        return Ok(None);
    };
    let published: Published = decode(&raw, "published")?;
    // The settings carry over to the next generation of the same repo (the new pointer
    // retires the one we knew); a repo deleted and created again starts a new chain.
    let config = known
        .filter(|k| {
            published.config_revision == k.published.config_revision
                && published.previous.first().is_some_and(|r| {
                    r.generation == k.published.generation && r.manifest == k.published.manifest
                })
        })
        .and_then(|k| k.config.clone());
    let view = Arc::new(RepoView {
        raw,
        published: Arc::new(published),
        config,
    });
    app.views.lock().insert(repo.to_string(), view.clone());
    Ok(Some(view))
}

/// Keeps the pointer this process has just written (at `raw`) as the repo's view, with the
/// settings it was rendered under: the next publish starts from it without a read
/// (`publish`), and a GET still checks that it is current (or holds a lease on it only once
/// it has).
pub(crate) fn remember_written(
    app: &App,
    repo: &str,
    raw: Versioned,
    published: &Published,
    config: Arc<RepoConfig>,
) {
    let view = RepoView {
        raw,
        published: Arc::new(published.clone()),
        config: Some(config),
    };
    app.views.lock().insert(repo.to_string(), Arc::new(view));
}

/// The view `published_view` left for `repo` during this request, without reading again
/// (or a fresh one if it is gone meanwhile).
pub(crate) async fn last_view(app: &App, repo: &str) -> ApiResult<Option<Arc<RepoView>>> {
    if let Some(v) = app.views.lock().get(repo).cloned() {
        return Ok(Some(v));
    }
    published_view(app, repo).await
}

/// Forgets what the read cache holds for a repo (it was created or deleted here).
pub(crate) fn forget_view(app: &App, repo: &str) {
    app.views.lock().remove(repo);
}

fn decode<T: serde::de::DeserializeOwned>(v: &Versioned, what: &str) -> ApiResult<T> {
    serde_json::from_slice(&v.value).map_err(|e| ApiError::internal(format!("corrupt {what}: {e}")))
}

/// The name of every repo (one with a config), sorted.
pub async fn repo_names(app: &App) -> ApiResult<Vec<String>> {
    Ok(app
        .meta
        .list(keys::REPO_PREFIX)
        .await?
        .iter()
        .filter_map(|key| {
            key.strip_prefix(keys::REPO_PREFIX)
                .and_then(|k| k.strip_suffix("/config"))
                .map(str::to_string)
        })
        .collect())
}

/// Every repo's settings (`GET /repos/`).
pub async fn list_repos(app: &App) -> ApiResult<Vec<RepoConfig>> {
    let mut repos = Vec::new();
    for name in repo_names(app).await? {
        if let Ok(c) = load_config(app, &name).await {
            repos.push(c);
        }
    }
    Ok(repos)
}

/// A repo's settings, its published generation and its packages (`GET /repos/{repo}/`).
#[derive(serde::Serialize)]
pub struct Listing {
    pub repo: RepoConfig,
    pub generation: Option<u64>,
    /// Generators whose format this generation could not publish (served as before), and why.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub faults: std::collections::BTreeMap<String, String>,
    pub packages: Vec<PackageRecord>,
}

/// The listing of a repo, or of a frozen view of one (`REPO@REF`, see `view`).
pub async fn packages(app: &App, repo: &str) -> ApiResult<Listing> {
    let s = super::view::state(app, repo).await?;
    Ok(Listing {
        repo: s.config,
        generation: s.generation,
        faults: s.faults,
        packages: s.records.sorted().into_iter().cloned().collect(),
    })
}

/// One package's record (live or in a frozen view), or 404.
pub async fn package(app: &App, repo: &str, filename: &str) -> ApiResult<PackageRecord> {
    super::view::state(app, repo)
        .await?
        .records
        .get(filename)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("no package {filename:?} in repo {repo}")))
}

/// A new repo's settings as the client gives them (each optional).
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Per-repo limits and generators (see `quota`).
    #[serde(default)]
    pub max_upload: Option<u64>,
    #[serde(default)]
    pub quota_bytes: Option<u64>,
    #[serde(default)]
    pub quota_packages: Option<u64>,
    #[serde(default)]
    pub generators: Option<Vec<String>>,
    #[serde(default)]
    pub description: String,
    #[serde(default, alias = "default_suite", alias = "distribution")]
    pub suite: Option<String>,
    #[serde(default, alias = "default_component")]
    pub component: Option<String>,
    #[serde(default)]
    pub architectures: Vec<String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Reads need a token with the `read` scope (see `auth`).
    #[serde(default)]
    pub private: bool,
    /// Retention (`journal::Retention`).
    #[serde(default)]
    pub keep_generations: Option<u64>,
    #[serde(default)]
    pub keep_days: Option<u64>,
}

impl Settings {
    /// Settings from a request's JSON (null: the defaults). serde names an unknown field
    /// but not an ill-typed one, so the field that fails alone is found and named.
    pub fn from_json(v: serde_json::Value) -> ApiResult<Settings> {
        if v.is_null() {
            return Ok(Settings::default());
        }
        named_fields::<Settings>(&v).map_err(|(field, e)| match field {
            Some(field) => ApiError::bad_request(format!("repo settings: field {field:?}: {e}")),
            None => ApiError::bad_request(format!("repo settings: {e}")),
        })
    }
}

/// A JSON object as `T`, or the error with the field that fails alone: serde names an
/// unknown field but not an ill-typed one.
pub(crate) fn named_fields<T: serde::de::DeserializeOwned>(
    v: &serde_json::Value,
) -> Result<T, (Option<String>, String)> {
    serde_json::from_value::<T>(v.clone()).map_err(|e| {
        let alone = |(k, x): &(&String, &serde_json::Value)| {
            let one = serde_json::Map::from_iter([((*k).clone(), (*x).clone())]);
            serde_json::from_value::<T>(one.into()).is_err()
        };
        let field = v
            .as_object()
            .and_then(|m| m.iter().find(alone))
            .map(|(k, _)| k.clone());
        (field, e.to_string())
    })
}

/// A repo created (`new`), or found with the same settings.
#[derive(serde::Serialize)]
pub struct Created {
    pub repo: RepoConfig,
    pub generation: u64,
    #[serde(skip)]
    pub new: bool,
}

/// Creates a repo: its config and an empty head, then its first (empty) generation. The
/// same settings again are a no-op; other settings are a conflict.
pub async fn create_repo(app: &App, repo: &str, settings: Settings) -> ApiResult<Created> {
    check_repo_name(repo)?;
    let config = RepoConfig {
        name: repo.to_string(),
        max_upload: settings.max_upload,
        quota_bytes: settings.quota_bytes,
        quota_packages: settings.quota_packages,
        generators: settings.generators,
        description: settings.description.replace(['\n', '\r'], " "),
        default_suite: settings.suite.unwrap_or_else(|| "stable".into()),
        default_component: settings.component.unwrap_or_else(|| "main".into()),
        architectures: settings.architectures,
        options: settings.options,
        created: app.now(),
        private: settings.private,
        keep_generations: settings.keep_generations,
        keep_days: settings.keep_days,
        ..RepoConfig::default()
    };
    if config.keep_generations == Some(0) {
        return Err(ApiError::bad_request(
            "repo settings: field \"keep_generations\": must be at least 1 (the current generation)",
        ));
    }
    let loaded: Vec<String> = app
        .generators()
        .iter()
        .map(|g| g.info().name.clone())
        .collect();
    super::quota::check_settings(&config, &loaded)?;
    check_setting("suite", &config.default_suite)?;
    check_setting("component", &config.default_component)?;
    for a in &config.architectures {
        check_setting("architecture", a)?;
    }
    // The repo's own keys, in its first head (made before: RSA takes a moment; a losing
    // create leaves only an unnamed blob for GC).
    let keys = super::keys::make_keyring(app, repo).await?;
    let head = to_json(&StoredHead {
        keys,
        ..StoredHead::default()
    })?;
    // Config and an empty head together (one transaction where the store has them).
    let ops = vec![
        Write::Put {
            key: keys::config(repo),
            value: to_json(&config)?.into(),
            expected: None,
        },
        Write::Put {
            key: keys::head(repo),
            value: head.clone().into(),
            expected: None,
        },
    ];
    let new = match app.meta.transact(ops).await? {
        Ok(()) => true,
        Err(_) => {
            let existing = load_config(app, repo).await?;
            if !same_settings(&existing, &config) {
                return Err(ApiError::conflict(format!(
                    "repo {repo} already exists with other settings"
                )));
            }
            // A store without transactions may have stopped between the two writes.
            let _ = app
                .meta
                .put_if(&keys::head(repo), head.into(), None)
                .await?;
            false
        }
    };
    forget_view(app, repo);
    let published = ensure_published(app, repo, 0).await?;
    Ok(Created {
        repo: load_config(app, repo).await?,
        generation: published.generation,
        new,
    })
}

fn same_settings(a: &RepoConfig, b: &RepoConfig) -> bool {
    (a.max_upload, a.quota_bytes, a.quota_packages)
        == (b.max_upload, b.quota_bytes, b.quota_packages)
        && a.generators == b.generators
        && a.description == b.description
        && a.default_suite == b.default_suite
        && a.default_component == b.default_component
        && a.architectures == b.architectures
        && a.options == b.options
        && a.private == b.private
}
