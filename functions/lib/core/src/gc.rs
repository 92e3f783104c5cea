//! Garbage collection of the package store: a blob that no repo references any more (a
//! superseded index, a retired manifest past its grace period, a removed package) and that is
//! older than `min_age` is deleted. The age threshold keeps blobs that an upload or a publish
//! in flight has written but not committed yet, so GC is safe beside a running server.
use crate::app::App;
use crate::commit::{load_head, load_published, manifest_of, repo_names};
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
    /// Generations past their repo's retention that this run let go.
    pub generations_dropped: usize,
    /// Snapshots found (each keeps its generation whatever the retention).
    pub snapshots: usize,
}

/// Marks every blob a repo references, then deletes the others older than `min_age` seconds.
pub async fn collect(app: &App, min_age: u64) -> ApiResult<GcReport> {
    let mut live: HashSet<String> = HashSet::new();
    for repo in repo_names(app).await? {
        let (head, _) = load_head(app, &repo).await?;
        live.extend(head.packages.roots().unwrap_or_default().into_values());
        live.extend(head.keys.clone());
        for rec in head.packages.values() {
            live.insert(rec.sha256.clone());
            live.insert(rec.analysis.clone());
            if let Some(s) = &rec.signature {
                live.insert(s.sha256.clone());
            }
        }
        if let Some((p, _)) = load_published(app, &repo).await? {
            // Retired generations count while they are still served (see `commit::resolve`).
            let now = app.now();
            let manifests = std::iter::once(p.manifest.clone()).chain(
                p.previous
                    .iter()
                    .filter(|r| now.saturating_sub(r.retired_at) < app.grace.as_secs())
                    .map(|r| r.manifest.clone()),
            );
            for m in manifests {
                live.insert(m.clone());
                let manifest = manifest_of(app, &m).await?;
                // A generation's head buckets: its package files are served from them.
                for sha in manifest.records.values() {
                    live.insert(sha.clone());
                    for rec in crate::commit::bucket_blob(app, sha).await?.values() {
                        live.insert(rec.sha256.clone());
                        live.extend(rec.signature.iter().map(|s| s.sha256.clone()));
                    }
                }
                // Patch histories: the current version's pieces and every patch they name.
                for h in manifest.histories.values() {
                    live.insert(h.clone());
                    let raw = app.packages.get_bytes(h).await?.unwrap_or_default();
                    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&raw) {
                        named_blobs(&v, &mut live);
                    }
                }
                for blob in manifest.files.values() {
                    // A composite's own address too: a copy stored whole for redirects.
                    live.insert(blob.sha256.clone());
                    live.extend(blob.stored_blobs().into_iter().map(|p| p.sha256));
                }
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
    let mut report = GcReport {
        blobs: blobs.len(),
        referenced: live.len(),
        temp_deleted: app.packages.sweep_temp(min_age).await?,
        ..Default::default()
    };
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
