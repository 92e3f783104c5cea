//! A repo's package set, live or frozen: `REPO` is the head, `REPO@NAME` a snapshot and
//! `REPO@gN` generation N while retention keeps it (docs/history.md). Every read of a repo
//! (its listing, a package, a published file) goes through here, so a frozen view serves
//! exactly what that generation served. Snapshots are kept under `snapshot/REPO/NAME`.
use super::journal::{self, Pick};
use super::serve::manifest_of;
use super::{bucket_blob, load_config, load_head, load_published, to_json};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::model::{keys, Manifest, RepoConfig};
use crate::records::{Records, BUCKETS};
use crate::store::Write;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// `REPO@REF` → (`REPO`, Some(`REF`)).
pub fn split(repo: &str) -> (&str, Option<&str>) {
    match repo.split_once('@') {
        Some((r, at)) => (r, Some(at)),
        None => (repo, None),
    }
}

/// A generation frozen in time: its number, manifest and publish date.
#[derive(Clone, Debug)]
pub struct Frozen {
    pub generation: u64,
    pub manifest: String,
    pub published_at: u64,
}

/// The generation `at` names in `repo` (a snapshot, or `gN`): 404 when there is none.
pub async fn frozen(app: &App, repo: &str, at: &str) -> ApiResult<Frozen> {
    let config = load_config(app, repo).await?;
    if let Some(n) = at.strip_prefix('g').and_then(|d| d.parse::<u64>().ok()) {
        let (published, _) = load_published(app, repo)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("repo {repo} has not published yet")))?;
        let g = journal::find(app, repo, &config, &published, Pick::Number(n)).await?;
        return Ok(Frozen {
            generation: g.generation,
            manifest: g.manifest,
            published_at: g.published_at,
        });
    }
    let s = snapshot(app, repo, at).await?;
    Ok(Frozen {
        generation: s.generation,
        manifest: s.manifest,
        published_at: s.published_at,
    })
}

/// A repo's package set and what describes it.
pub struct State {
    pub config: RepoConfig,
    pub records: Records,
    pub generation: Option<u64>,
    pub faults: BTreeMap<String, String>,
}

/// The live head of `repo`, or the frozen set of `repo@ref`.
pub async fn state(app: &App, repo: &str) -> ApiResult<State> {
    let (base, at) = split(repo);
    let config = load_config(app, base).await?;
    let Some(at) = at else {
        let (head, _) = load_head(app, base).await?;
        let published = load_published(app, base).await?.map(|(p, _)| p);
        return Ok(State {
            config,
            records: head.packages,
            generation: published.as_ref().map(|p| p.generation),
            faults: published.map(|p| p.faults).unwrap_or_default(),
        });
    };
    let f = frozen(app, base, at).await?;
    let m = manifest_of(app, &f.manifest).await?;
    Ok(State {
        config,
        records: records_of(app, base, &m).await?,
        generation: Some(f.generation),
        faults: BTreeMap::new(),
    })
}

/// The package records a generation of `repo` was rendered from (its manifest names their
/// buckets); the buckets it shares with the head this process holds are not read again.
pub async fn records_of(app: &App, repo: &str, m: &Manifest) -> ApiResult<Records> {
    let mut records = Records::default();
    for (b, sha) in &m.records {
        let b = usize::from_str_radix(b, 16)
            .ok()
            .filter(|b| *b < BUCKETS)
            .ok_or_else(|| ApiError::internal(format!("corrupt manifest: bucket {b:?}")))?;
        let held = app
            .heads
            .lock()
            .get(repo)
            .map(|(_, h)| h.packages.bucket(b))
            .map(|(recs, s)| (recs.clone(), s.map(|s| &**s) == Some(sha.as_str())));
        let recs = match held {
            Some((r, true)) => r,
            other => bucket_blob(app, sha, other.as_ref().map(|(r, _)| &**r)).await?,
        };
        records.set_bucket(b, recs, Some(Arc::from(sha.as_str())));
    }
    Ok(records)
}

/// A generation frozen under a name: kept until deleted, whatever the retention.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Snapshot {
    pub repo: String,
    pub name: String,
    pub generation: u64,
    pub manifest: String,
    pub published_at: u64,
    pub created: u64,
    pub packages: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// Freezes the repo's current generation as `name`; 409 if the name is taken.
pub async fn create_snapshot(app: &App, repo: &str, name: &str) -> ApiResult<Snapshot> {
    crate::names::check_snapshot_name(name)?;
    load_config(app, repo).await?;
    let (p, _) = load_published(app, repo)
        .await?
        .ok_or_else(|| ApiError::conflict(format!("repo {repo} has not published yet")))?;
    let m = manifest_of(app, &p.manifest).await?;
    let snap = Snapshot {
        repo: repo.to_string(),
        name: name.to_string(),
        generation: p.generation,
        manifest: p.manifest,
        published_at: p.published_at,
        created: app.now(),
        packages: records_of(app, repo, &m).await?.len(),
        created_by: crate::actor::current(),
    };
    app.meta
        .put_if(&keys::snapshot(repo, name), to_json(&snap)?.into(), None)
        .await?
        .map_err(|_| {
            ApiError::conflict(format!(
                "repo {repo} already has a snapshot {name:?}; snapshots are immutable \
                 (delete it first)"
            ))
        })?;
    Ok(snap)
}

pub async fn snapshot(app: &App, repo: &str, name: &str) -> ApiResult<Snapshot> {
    let missing = || ApiError::not_found(format!("repo {repo} has no snapshot {name:?}"));
    if crate::names::check_snapshot_name(name).is_err() {
        return Err(missing());
    }
    let v = app
        .meta
        .get(&keys::snapshot(repo, name))
        .await?
        .ok_or_else(missing)?;
    serde_json::from_slice(&v.value)
        .map_err(|e| ApiError::internal(format!("corrupt snapshot {repo}@{name}: {e}")))
}

/// Every snapshot of `repo`, by name.
pub async fn snapshots(app: &App, repo: &str) -> ApiResult<Vec<Snapshot>> {
    load_config(app, repo).await?;
    let mut out = Vec::new();
    for key in app.meta.list(&keys::snapshots(repo)).await? {
        if let Some(name) = key.strip_prefix(&keys::snapshots(repo)) {
            // A key of a deleted meanwhile snapshot is skipped.
            match snapshot(app, repo, name).await {
                Ok(s) => out.push(s),
                Err(e) if e.status == http::StatusCode::NOT_FOUND => {}
                Err(e) => return Err(e),
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

pub async fn delete_snapshot(app: &App, repo: &str, name: &str) -> ApiResult<Snapshot> {
    load_config(app, repo).await?;
    let snap = snapshot(app, repo, name).await?;
    delete_keys(app, vec![keys::snapshot(repo, name)]).await?;
    Ok(snap)
}

/// The snapshots of a repo being deleted.
pub(super) async fn snapshot_keys(app: &App, repo: &str) -> ApiResult<Vec<String>> {
    Ok(app.meta.list(&keys::snapshots(repo)).await?)
}

/// Deletes keys as they are (a concurrent change of one makes us re-read it).
pub(super) async fn delete_keys(app: &App, keys: Vec<String>) -> ApiResult<()> {
    loop {
        let mut ops = Vec::new();
        for key in &keys {
            if let Some(v) = app.meta.get(key).await? {
                ops.push(Write::Delete {
                    key: key.clone(),
                    expected: v.version,
                });
            }
        }
        if ops.is_empty() || app.meta.transact(ops).await?.is_ok() {
            return Ok(());
        }
    }
}
