//! Removing packages (one head change, then a publish) and deleting a repo. Blobs stay for
//! GC: another repo may hold the same bytes.
use super::{ensure_published, load_config, load_head, load_published, update_head, Change, Kind};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::model::{keys, PackageRecord};

/// Packages removed, and the generation without them.
#[derive(serde::Serialize)]
pub struct Removed {
    pub removed: Vec<String>,
    pub generation: u64,
}

/// Removes one package by file name and republishes.
pub async fn remove(app: &App, repo: &str, filename: &str) -> ApiResult<Removed> {
    remove_where(
        app,
        repo,
        &format!("package {filename:?} in repo {repo}"),
        |r| r.filename == filename,
    )
    .await
}

/// Removes every package `matches` picks, in one commit, then republishes; 404 naming
/// `what` when it picks none.
pub async fn remove_where(
    app: &App,
    repo: &str,
    what: &str,
    matches: impl Fn(&PackageRecord) -> bool,
) -> ApiResult<Removed> {
    load_config(app, repo).await?;
    let mut removed = Vec::new();
    let seq = update_head(app, repo, Kind::Remove, |h| {
        removed = h
            .packages
            .values()
            .filter(|r| matches(r))
            .map(|r| r.filename.clone())
            .collect();
        if removed.is_empty() {
            return Err(ApiError::not_found(format!("no {what}")));
        }
        for f in &removed {
            h.packages.remove(f);
        }
        Ok(Change::Changed)
    })
    .await?;
    let published = ensure_published(app, repo, seq).await?;
    Ok(Removed {
        removed,
        generation: published.generation,
    })
}

/// A repo deleted, and how many packages it held.
#[derive(serde::Serialize)]
pub struct RepoDeleted {
    pub deleted: String,
    pub packages: usize,
}

/// The repo, its records and its published tree go.
pub async fn delete_repo(app: &App, repo: &str) -> ApiResult<RepoDeleted> {
    load_config(app, repo).await?;
    let (head, _) = load_head(app, repo).await?;
    // The lease its pointer allows (or ours, if a publish replaced it meanwhile): waited out
    // once it is gone.
    let leased = (load_published(app, repo).await?)
        .map_or(0, |(p, _)| p.lease_ms)
        .max(super::lease::offered(app));
    // All keys in one transaction where the store has them (config first otherwise: from
    // then on the repo is gone for every request). A concurrent write makes us re-read.
    let main = vec![keys::config(repo), keys::head(repo), keys::published(repo)];
    super::view::delete_keys(app, main).await?;
    super::lease::wait_out(app, repo, leased).await;
    // Then its snapshots (unreachable already: every read of one loads the config first).
    for key in super::view::snapshot_keys(app, repo).await? {
        super::view::delete_keys(app, vec![key]).await?;
    }
    super::repo::forget_view(app, repo);
    Ok(RepoDeleted {
        deleted: repo.to_string(),
        packages: head.packages.len(),
    })
}
