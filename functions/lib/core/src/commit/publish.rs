//! Step 4: render every format from the committed records, store each file and the
//! manifest as immutable blobs, then move the `published` pointer with one compare-and-set.
//! `group::ensure_published` decides who publishes; this is one publish.
use super::serve::remember_manifest;
use super::{
    ensure_published, jitter, load_config, load_head, load_published, repo_names, to_json,
    CAS_ATTEMPTS,
};
use crate::app::App;
use crate::assemble;
use crate::error::{ApiError, ApiResult};
use crate::model::{keys, Head, Manifest, Published, RepoConfig, Retired, Tree};
use std::collections::BTreeMap;

/// Retired generations a `published` pointer keeps at most (each within the grace period).
const RETIRED_KEPT: usize = 32;

/// One render and one compare-and-set of the `published` pointer (retried on conflict).
pub(super) async fn publish_once(app: &App, repo: &str) -> ApiResult<Published> {
    for attempt in 0..CAS_ATTEMPTS {
        let current = load_published(app, repo).await?;
        let config = load_config(app, repo).await?;
        let (head, _) = load_head(app, repo).await?;
        if let Some((p, _)) = &current {
            if p.covers >= head.seq {
                return Ok(p.clone()); // another process already covered this head
            }
        }
        let (prev, prev_version) = match current {
            Some((p, v)) => (Some(p), Some(v)),
            None => (None, None),
        };
        let generation = prev.as_ref().map_or(1, |p| p.generation + 1);
        let manifest = render(app, repo, &config, &head, generation).await?;
        let stored = super::put_blob(app, to_json(&manifest)?.into()).await?;
        remember_manifest(app, &stored.sha256, manifest);
        let now = app.now();
        let next = Published {
            generation,
            covers: head.seq,
            manifest: stored.sha256,
            published_at: now,
            previous: prev.map(|p| retire(app, p, now)).unwrap_or_default(),
        };
        match app
            .meta
            .put_if(&keys::published(repo), to_json(&next)?.into(), prev_version)
            .await?
        {
            Ok(_) => return Ok(next),
            Err(_) => jitter(app, attempt).await,
        }
    }
    Err(ApiError::busy(format!(
        "repo {repo}: could not publish after {CAS_ATTEMPTS} attempts; retry"
    )))
}

/// The generations a new one keeps serving: the one it replaces, and those of its retired
/// ones still within the grace period.
fn retire(app: &App, prev: Published, now: u64) -> Vec<Retired> {
    let mut kept = vec![Retired {
        generation: prev.generation,
        manifest: prev.manifest,
        retired_at: now,
    }];
    kept.extend(
        prev.previous
            .into_iter()
            .filter(|r| now.saturating_sub(r.retired_at) < app.grace.as_secs())
            .take(RETIRED_KEPT - 1),
    );
    kept
}

/// Renders every generator's tree from the head: plan, assemble natively (reusing what the
/// repo's last render made, see `assemble`), finish.
async fn render(
    app: &App,
    repo: &str,
    config: &RepoConfig,
    head: &Head,
    generation: u64,
) -> ApiResult<Manifest> {
    let info = config.info(app.now(), generation);
    // One publisher per repo runs in a process (see `group`): it owns the repo's cache.
    let mut cache = app
        .chunks
        .lock()
        .remove(repo)
        .unwrap_or_default()
        .fresh(app.now(), app.grace.as_secs());
    let mut files = BTreeMap::new();
    let mut trees = Vec::new();
    let mut outcome = Ok(());
    for g in app.generators() {
        let (gname, mount) = (g.info().name.clone(), g.info().mount.clone());
        match assemble::render_generator(app, &mut cache, g, &info, head).await {
            Ok(r) => {
                for (path, blob) in r.files {
                    files.insert(format!("{mount}/{path}"), blob);
                }
                trees.push(Tree {
                    generator: gname,
                    mount,
                    links: r.links,
                });
            }
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    if outcome.is_ok() {
        cache.sweep(app.now());
    }
    app.chunks.lock().insert(repo.to_string(), cache);
    outcome?;
    let records = head
        .packages
        .roots()
        .ok_or_else(|| ApiError::internal("publishing a head that is not stored"))?;
    Ok(Manifest {
        generation,
        files,
        records,
        trees,
    })
}

/// Forgets the chunks of the repo's last render: the next publish assembles and encodes
/// everything again (rebuild). `finish` is still skipped when what it lists is unchanged.
pub(super) fn forget_render(app: &App, repo: &str) {
    app.chunks.lock().remove(repo);
}

/// After a crash between step 3 and step 4, a head can be ahead of its published
/// generation: publish every such repo. Returns the repos it published.
pub async fn recover(app: &App) -> ApiResult<Vec<String>> {
    let mut done = Vec::new();
    for repo in repo_names(app).await? {
        let (head, _) = load_head(app, &repo).await?;
        let covers = load_published(app, &repo).await?.map(|(p, _)| p.covers);
        if covers.is_none_or(|c| c < head.seq) {
            ensure_published(app, &repo, head.seq).await?;
            done.push(repo);
        }
    }
    Ok(done)
}
