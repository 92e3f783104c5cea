//! Rebuild: drop all derived metadata, re-analyze every stored package with the current
//! generators (ranged reads only; batches of packages, two per core in flight), then publish a
//! new generation. The stored digests are trusted (blobs are content-addressed): no package is
//! re-read whole or re-hashed. Generator instances stay warm across packages (generator-host).
use super::analyze::{analyze_again, Again};
use super::{
    ensure_published, load_config, load_head, sign_package, to_json, update_head, Change, Kind,
};
use crate::app::App;
use crate::digest::Digests;
use crate::error::ApiResult;
use crate::model::{Analysis, PackageRecord, RepoConfig};
use futures::StreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Batches re-analyzed at once: enough to keep every core busy while others wait on the
/// store, and few enough that only that many packages are open (and their analyses held) at
/// any time, whatever the size of the repo. Where each read is a round trip (S3), as many
/// packages as reads are sent at once, so the batches waiting on their reads keep the cores
/// busy (10,000 debs on s3s-fs: 7.7 s with 64 packages open, 2.4 s with 256): a reader then
/// holds at most its first 256 KiB. Not on wasm (Spin), where a reader holds its package whole.
fn in_flight(app: &App) -> usize {
    if app.packages.reads_are_remote() && !cfg!(target_family = "wasm") {
        return crate::store::REMOTE_AT_ONCE / BATCH;
    }
    (std::thread::available_parallelism().map_or(1, |n| n.get()) * 2).max(4)
}

/// Packages whose generator calls share one hop to a blocking thread.
const BATCH: usize = 16;

#[derive(serde::Serialize, Default)]
pub struct RebuildReport {
    pub packages: usize,
    pub analyzed: usize,
    /// Packages no generator accepts any more (kept, but published by none).
    pub unclaimed: Vec<String>,
    /// Packages whose blob is missing from the package store.
    pub missing: Vec<String>,
    pub generation: u64,
    /// Time spent re-analyzing packages, and publishing (plan, assembly, finish, commit).
    pub analyze_millis: u64,
    pub publish_millis: u64,
    pub millis: u64,
}

/// What re-analyzing one package came to.
enum Outcome {
    Fresh(PackageRecord),
    /// Kept as it was, but no generator publishes it now (why).
    Unclaimed(PackageRecord, String),
    Missing,
}

pub async fn rebuild(app: &App, repo: &str) -> ApiResult<RebuildReport> {
    let started = Instant::now();
    // Its analyses, held for its render (where reads are remote) until it ends.
    let _handing = super::serve::Handing::begin(app);
    let config = load_config(app, repo).await?;
    let (head, _) = load_head(app, repo).await?;
    let mut report = RebuildReport {
        packages: head.packages.len(),
        ..Default::default()
    };
    let config = &config;
    // "Drop all metadata, republish": nothing of the last render is reused, so its chunks
    // and shelf index go now, not after the analysis, when the repo's records are held
    // twice (as they were and as they are analyzed now).
    super::publish::forget_render(app, repo);
    // Batches copied from the head as they are taken, not all at once: at 50,000 packages a
    // copy of every record is ~50 MB.
    let mut records = head.packages.values();
    let batches = std::iter::from_fn(move || {
        let batch: Vec<PackageRecord> = records.by_ref().take(BATCH).cloned().collect();
        (!batch.is_empty()).then_some(batch)
    });
    let mut outcomes = futures::stream::iter(batches)
        .map(|batch| async move { reanalyze(app, config, batch).await })
        .buffer_unordered(in_flight(app))
        .flat_map(futures::stream::iter);
    let mut fresh: BTreeMap<String, Arc<PackageRecord>> = BTreeMap::new();
    while let Some((name, outcome)) = outcomes.next().await {
        match outcome {
            Outcome::Missing => report.missing.push(name),
            Outcome::Fresh(rec) => {
                report.analyzed += 1;
                fresh.insert(name, Arc::new(rec));
            }
            Outcome::Unclaimed(rec, why) => {
                report.unclaimed.push(format!("{name}: {why}"));
                fresh.insert(name, Arc::new(unpublished(app, rec).await?));
            }
        }
    }
    drop(outcomes);
    report.missing.sort();
    report.unclaimed.sort();
    report.analyze_millis = started.elapsed().as_millis() as u64;
    let seq = update_head(app, repo, Kind::Rebuild, |h| {
        // Only records unchanged since we read them (newer uploads were analyzed fresh), and
        // only those the analysis changed: a bucket with none is not written again (256 of
        // them, a PUT each on S3).
        h.packages.replace_where(|rec| {
            fresh
                .get(&rec.filename)
                .filter(|f| f.sha256 == rec.sha256 && ***f != *rec)
                .cloned()
        });
        Ok(Change::Changed) // always a new generation: "drop all metadata, republish"
    })
    .await?;
    // The head holds them now, and the render reads them from there.
    drop((fresh, head));
    // Again: a publish that ran meanwhile rendered from the old records.
    super::publish::forget_render(app, repo);
    let published = ensure_published(app, repo, seq).await?;
    report.generation = published.generation;
    report.millis = started.elapsed().as_millis() as u64;
    report.publish_millis = report.millis - report.analyze_millis;
    Ok(report)
}

/// Analyzes a batch of stored packages again, keeping their upload times and signatures
/// (signing one that has none yet).
async fn reanalyze(
    app: &App,
    config: &RepoConfig,
    batch: Vec<PackageRecord>,
) -> Vec<(String, Outcome)> {
    let jobs: Vec<Again> = batch
        .iter()
        .map(|rec| Again {
            filename: &rec.filename,
            digests: Digests {
                size: rec.size,
                md5: rec.md5.to_string(),
                sha1: rec.sha1.to_string(),
                sha256: rec.sha256.clone(),
                sha512: rec.sha512.to_string(),
            },
            hints: &rec.hints,
            analysis: &rec.analysis,
        })
        .collect();
    let analyzed = analyze_again(app, config, &jobs).await;
    let mut out = Vec::with_capacity(batch.len());
    for (rec, r) in batch.iter().zip(analyzed) {
        out.push((
            rec.filename.clone(),
            outcome(app, &config.name, rec, r).await,
        ));
    }
    out
}

async fn outcome(
    app: &App,
    repo: &str,
    rec: &PackageRecord,
    analyzed: ApiResult<PackageRecord>,
) -> Outcome {
    let mut fresh = match analyzed {
        Ok(r) => r,
        // Only a failure asks whether the blob is there at all: a store request per package
        // saved (a HEAD on S3) when all is well.
        Err(_) if !present(app, &rec.sha256).await => return Outcome::Missing,
        Err(e) => return Outcome::Unclaimed(rec.clone(), e.detail),
    };
    fresh.uploaded = rec.uploaded;
    fresh.uploaded_by = rec.uploaded_by.clone();
    fresh.signature = match &rec.signature {
        Some(s) => Some(s.clone()),
        None => match sign_package(app, repo, &fresh).await {
            Ok(s) => s,
            Err(e) => return Outcome::Unclaimed(rec.clone(), e.detail),
        },
    };
    Outcome::Fresh(fresh)
}

async fn present(app: &App, sha256: &str) -> bool {
    app.packages.size(sha256).await.ok().flatten().is_some()
}

/// The package kept (nothing is lost), with an empty analysis: no generator publishes it.
async fn unpublished(app: &App, mut rec: PackageRecord) -> ApiResult<PackageRecord> {
    rec.entries.clear();
    let empty = to_json(&Analysis::default())?;
    rec.analysis = super::put_blob(app, empty.into()).await?.sha256;
    Ok(rec)
}
