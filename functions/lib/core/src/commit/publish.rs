//! Step 4: render every format from the committed records, store each file and the
//! manifest as immutable blobs, then move the `published` pointer with one compare-and-set.
//! `group::ensure_published` decides who publishes; this is one publish.
use super::serve::remember_manifest;
use super::{
    analysis_of, ensure_published, jitter, load_config, load_head, load_published, repo_names,
    to_json, CAS_ATTEMPTS,
};
use crate::app::App;
use crate::assemble;
use crate::error::{ApiError, ApiResult};
use crate::model::{keys, BlobRef, Head, Manifest, Published, RepoConfig, Retired};
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
        let manifest = render(app, &config, &head, generation).await?;
        let stored = app.packages.put_bytes(to_json(&manifest)?.into()).await?;
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

/// Renders every generator's tree from the head: plan, assemble natively, finish.
async fn render(
    app: &App,
    config: &RepoConfig,
    head: &Head,
    generation: u64,
) -> ApiResult<Manifest> {
    let mut analyses = Vec::with_capacity(head.packages.len());
    for rec in head.packages.values() {
        analyses.push((rec, analysis_of(app, &rec.analysis).await?));
    }
    let info = config.info(app.now(), generation);
    let mut files = BTreeMap::new();
    for g in app.generators() {
        let (gname, mount) = (g.info().name.clone(), g.info().mount.clone());
        let mut entries = Vec::new();
        for (rec, a) in &analyses {
            let package = BlobRef::stored(rec.sha256.clone(), rec.size);
            for e in a.by_generator.get(&gname).into_iter().flatten() {
                // The package file itself, at the entry's path.
                if !e.path.is_empty() {
                    files.insert(format!("{mount}/{}", e.path), package.clone());
                }
                entries.push(assemble::Filed {
                    entry: e.clone(),
                    package: package.clone(),
                    signature: rec.signature.clone(),
                });
            }
        }
        let rendered = assemble::render_generator(app, g.clone(), &info, entries).await?;
        for (path, blob) in rendered {
            files.insert(format!("{mount}/{path}"), blob);
        }
    }
    Ok(Manifest { generation, files })
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
