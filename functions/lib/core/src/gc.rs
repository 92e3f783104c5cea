//! Garbage collection of the package store: a blob that no repo references any more (a
//! superseded index, a retired manifest past its grace period, a removed package) and that is
//! older than `min_age` is deleted. The age threshold keeps blobs that an upload or a publish
//! in flight has written but not committed yet, so GC is safe beside a running server.
//!
//! What a repo references: its head (records, keyring, journal), the current generation and
//! those retired within the grace period, every generation its retention keeps
//! (`journal::Retention`), and its snapshots; for each such generation the manifest, its
//! files' pieces, patch histories, record buckets and every package, analysis and package
//! signature they name (a rollback renders from them again).
use crate::app::App;
use crate::commit::journal::{Entry, Generations, Walk};
use crate::commit::{load_config, load_head, load_published, manifest_of, repo_names, snapshots};
use crate::error::ApiResult;
use std::collections::HashSet;

#[derive(serde::Serialize, Default, Debug)]
pub struct GcReport {
    pub blobs: usize,
    pub referenced: usize,
    pub deleted: usize,
    pub bytes_freed: u64,
    /// Half-written uploads a crash left behind.
    pub temp_deleted: usize,
    /// Generations on record that retention no longer keeps (their blobs may go now).
    pub generations_dropped: usize,
    /// Snapshots kept.
    pub snapshots: usize,
}

/// Marks every blob a repo references, then deletes the others older than `min_age` seconds.
pub async fn collect(app: &App, min_age: u64) -> ApiResult<GcReport> {
    let mut live: HashSet<String> = HashSet::new();
    let mut report = GcReport::default();
    for repo in repo_names(app).await? {
        let config = load_config(app, &repo).await?;
        let (head, _) = load_head(app, &repo).await?;
        live.extend(head.packages.roots().unwrap_or_default().into_values());
        live.extend(head.packages.part_blobs().map(str::to_string));
        live.extend(head.keys.clone());
        for rec in head.packages.values() {
            live.insert(rec.sha256.clone());
            live.insert(rec.analysis.clone());
            if let Some(s) = &rec.signature {
                live.insert(s.sha256.clone());
            }
        }
        let Some((p, _)) = load_published(app, &repo).await? else {
            continue;
        };
        // Retired generations count while they are still served (see `commit::resolve`).
        let now = app.now();
        let mut manifests: Vec<String> = std::iter::once(p.manifest.clone())
            .chain(
                p.previous
                    .iter()
                    .filter(|r| now.saturating_sub(r.retired_at) < app.grace.as_secs())
                    .map(|r| r.manifest.clone()),
            )
            .collect();
        // The generations retention keeps, and the log segments naming them.
        let mut gens = Generations::new(app, &config, &p);
        let mut oldest_kept = p.published_at;
        while let Some((g, kept)) = gens.next(app).await? {
            if !kept {
                report.generations_dropped += 1;
                break;
            }
            oldest_kept = g.published_at;
            manifests.push(g.manifest);
        }
        live.extend(gens.segments().iter().cloned());
        while gens.next(app).await?.is_some() {
            report.generations_dropped += 1;
        }
        // The journal back to the oldest generation kept.
        let mut journal: Walk<Entry> = Walk::new(head.journal.as_deref());
        while let Some(e) = journal.next(app).await? {
            if e.at < oldest_kept {
                break;
            }
        }
        live.extend(journal.segments.iter().cloned());
        for s in snapshots(app, &repo).await? {
            report.snapshots += 1;
            manifests.push(s.manifest);
        }
        let mut seen = HashSet::new();
        for m in manifests {
            if seen.insert(m.clone()) {
                mark_generation(app, &m, &mut live, &mut seen).await?;
            }
        }
    }
    // Large uploads whose bytes are stored but not yet committed.
    for key in app.meta.list("upload/").await? {
        if let Some(v) = app.meta.get(&key).await? {
            if let Ok(state) = serde_json::from_slice::<serde_json::Value>(&v.value) {
                if let Some(sha) = state["digests"]["sha256"].as_str() {
                    live.insert(sha.to_string());
                }
            }
        }
    }
    // Generators a deployment keeps in the stores (Lambda: each .wasm and its compiled
    // artifacts, listed under `generators/`): every sha256 named in those values.
    for key in app.meta.list("generators/").await? {
        if let Some(v) = app.meta.get(&key).await? {
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&v.value) {
                named_blobs(&value, &mut live);
            }
        }
    }
    // Metadata values too large for the metadata store's items live in the blob space.
    live.extend(app.meta.spilled().await?);
    let blobs = app.packages.list().await?;
    report.blobs = blobs.len();
    report.referenced = live.len();
    report.temp_deleted = app.packages.sweep_temp(min_age).await?;
    for (sha, age) in blobs {
        if age < min_age || live.contains(&sha) {
            continue;
        }
        let size = app.packages.size(&sha).await?.unwrap_or(0);
        app.packages.delete(&sha).await?;
        report.deleted += 1;
        report.bytes_freed += size;
    }
    Ok(report)
}

/// Marks what a generation's manifest names; `seen` spares the buckets generations share.
async fn mark_generation(
    app: &App,
    manifest_sha: &str,
    live: &mut HashSet<String>,
    seen: &mut HashSet<String>,
) -> ApiResult<()> {
    live.insert(manifest_sha.to_string());
    let manifest = manifest_of(app, manifest_sha).await?;
    // A generation's head buckets: its package files are served from them, and a rollback
    // renders from their analyses.
    for sha in manifest.records.values() {
        live.insert(sha.clone());
        if !seen.insert(sha.clone()) {
            continue;
        }
        let bucket = crate::commit::bucket_blob(app, sha, None).await?;
        live.extend(bucket.part_blobs().map(str::to_string));
        for rec in bucket.values() {
            live.insert(rec.sha256.clone());
            live.insert(rec.analysis.clone());
            live.extend(rec.signature.iter().map(|s| s.sha256.clone()));
        }
    }
    // Patch histories: the current version's pieces and every patch they name.
    for h in manifest.histories.values() {
        live.insert(h.clone());
        if !seen.insert(h.clone()) {
            continue;
        }
        let raw = app.packages.get_bytes(h).await?.unwrap_or_default();
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&raw) {
            named_blobs(&v, live);
        }
    }
    for blob in manifest.files.values() {
        // A composite's own address too: a copy stored whole for redirects.
        live.insert(blob.sha256.clone());
        live.extend(blob.stored_blobs().into_iter().map(|p| p.sha256));
    }
    Ok(())
}

/// Every string in `v` that is a sha256.
fn named_blobs(v: &serde_json::Value, live: &mut HashSet<String>) {
    match v {
        serde_json::Value::String(s) if crate::digest::is_sha256(s) => {
            live.insert(s.clone());
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| named_blobs(x, live)),
        serde_json::Value::Object(o) => o.values().for_each(|x| named_blobs(x, live)),
        _ => {}
    }
}
