//! A GET of a published file, around `resolve`: the repo's settings and the generation's
//! dates come from the read cache that `resolve`'s one freshness check just brought up to
//! date (`repo::served_view`), so a cached GET reads the metadata store once (or shares that
//! read with the GETs beside it, where it is a round trip).
use super::repo::{config_of, last_view};
use super::resolve;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::model::{BlobRef, Published};
use crate::names::is_repo_name;
use crate::respond::Dates;

/// A published file and its dates.
pub struct Served {
    pub blob: BlobRef,
    pub dates: Dates,
}

/// `resolve` for a GET of a repo's tree: 404 when the repo or the path is not there.
pub async fn resolve_served(app: &App, repo: &str, path: &str) -> ApiResult<Served> {
    if let (base, Some(at)) = super::view::split(repo) {
        return resolve_frozen(app, base, at, path).await;
    }
    if !is_repo_name(repo) {
        return Err(ApiError::not_found(format!("no repo named {repo:?}")));
    }
    let found = resolve(app, repo, path).await?;
    let view = last_view(app, repo).await?;
    if view.as_ref().is_some_and(|v| v.published.disabled) {
        return Err(super::disabled(repo));
    }
    if view.as_ref().is_none_or(|v| v.config.is_none()) {
        config_of(app, repo).await?; // 404 for no repo; then cached
    }
    let blob = found
        .ok_or_else(|| ApiError::not_found(format!("{path} is not published in repo {repo}")))?;
    let dates = view
        .map(|v| dates_of(&v.published, app.grace.as_secs()))
        .unwrap_or_default();
    Ok(Served { blob, dates })
}

/// A GET in a frozen view (`REPO@REF`): that generation's files, dated when it was published.
async fn resolve_frozen(app: &App, repo: &str, at: &str, path: &str) -> ApiResult<Served> {
    if !is_repo_name(repo) {
        return Err(ApiError::not_found(format!("no repo named {repo:?}")));
    }
    // A disabled repo's views are off too.
    if super::repo::served_view(app, repo)
        .await?
        .is_some_and(|v| v.published.disabled)
    {
        return Err(super::disabled(repo));
    }
    let f = super::view::frozen(app, repo, at).await?;
    let m = super::manifest_of(app, &f.manifest).await?;
    let blob = super::serve::find(app, repo, &f.manifest, &m, path)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{path} is not published in {repo}@{at}")))?;
    Ok(Served {
        blob,
        dates: Dates {
            last_modified: Some(f.published_at),
            exact: true,
        },
    })
}

/// A generation's files are last modified when it was published. That second names its
/// bytes only when no earlier generation was published in the same second: the one it
/// retired was published when the one before that was retired (kept in `previous` for
/// `grace` seconds: when it is gone, that was longer ago). Unknown for the repo's first
/// generation, so not exact then.
pub fn dates_of(p: &Published, grace: u64) -> Dates {
    let exact = match p.previous.as_slice() {
        [] => true,
        [last, before, ..] if before.generation + 1 == last.generation => {
            before.retired_at < p.published_at
        }
        [last, ..] => last.generation > 1 && grace > 0,
    };
    Dates {
        last_modified: Some(p.published_at),
        exact,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Retired;

    fn retired(generation: u64, retired_at: u64) -> Retired {
        Retired {
            generation,
            manifest: String::new(),
            retired_at,
        }
    }

    #[test]
    fn a_date_is_exact_when_no_other_generation_shares_its_second() {
        let p = |previous| Published {
            generation: 5,
            covers: 5,
            manifest: String::new(),
            published_at: 100,
            previous,
            ..Default::default()
        };
        let exact = |previous| dates_of(&p(previous), 3600).exact;
        assert!(exact(vec![]));
        // Generation 4 was published at 90 (when 3 was retired).
        assert!(exact(vec![retired(4, 100), retired(3, 90)]));
        // Generation 4 was published in the same second as 5.
        assert!(!exact(vec![retired(4, 100), retired(3, 100)]));
        // 3 left `previous` after the grace period: 4 is older than that.
        assert!(exact(vec![retired(4, 100)]));
        // 1 is the repo's first generation: when it was published is not kept.
        assert!(!exact(vec![retired(1, 100)]));
        assert!(!dates_of(&p(vec![retired(4, 100)]), 0).exact);
        assert_eq!(dates_of(&p(vec![]), 3600).last_modified, Some(100));
    }
}
