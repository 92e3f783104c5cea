//! The commit protocol (DESIGN.md), in one place:
//!
//! 1. store the package bytes under their sha256 (idempotent, not atomic, need not be);
//! 2. ask every claiming generator to analyze it; store the analysis as an immutable blob;
//! 3. compare-and-set the repo head: the record and the head's sequence number advance
//!    together or not at all; on conflict re-read and retry (bounded, with jitter);
//! 4. publish: render every format from the committed records, write each rendered file as
//!    an immutable blob, write the manifest, then move the `published` pointer with one
//!    compare-and-set. Concurrent publishers coalesce: whoever wins covers everyone whose
//!    records it read, and the others find their sequence number already covered;
//! 5. serve: a GET resolves the current generation's manifest, then the blob; retired
//!    generations stay readable for `App::grace`.
//!
//! A crash between any two steps leaves orphan blobs at most: nothing names a blob before
//! it is written, and nothing is visible before its compare-and-set.
use crate::app::{App, Reply, Turn};
use crate::assemble;
use crate::digest::Digests;
use crate::error::{ApiError, ApiResult};
use crate::generator::{Facts, GenError, Generator, Hint};
use crate::model::{
    keys, Analysis, BlobRef, EntryId, Head, Manifest, PackageRecord, Published, RepoConfig, Retired,
};
use crate::store::Versioned;
use bytes::Bytes;
use rand::Rng;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const CAS_ATTEMPTS: u32 = 200;
/// Decoded immutable blobs kept in memory. A manifest is O(packages): keep only the few
/// that serving needs (current and recently retired generations).
const MANIFESTS_CACHED: usize = 8;
const ANALYSES_CACHED: usize = 200_000;

/// Content-addressed, so never stale; bounded by dropping everything when full (a miss
/// only costs one read of the blob).
fn remember<T>(
    cache: &std::sync::Mutex<std::collections::HashMap<String, Arc<T>>>,
    key: &str,
    value: Arc<T>,
    cap: usize,
) {
    let mut c = cache.lock().unwrap();
    if c.len() >= cap && !c.contains_key(key) {
        c.clear();
    }
    c.insert(key.to_string(), value);
}
/// First bytes handed to `claims`.
const HEAD_BYTES: u64 = 4096;

pub async fn load_config(app: &App, repo: &str) -> ApiResult<RepoConfig> {
    match app.meta.get(&keys::config(repo)).await? {
        Some(v) => Ok(serde_json::from_slice(&v.value)
            .map_err(|e| ApiError::internal(format!("corrupt config of repo {repo}: {e}")))?),
        None => Err(ApiError::not_found(format!("no repo named {repo:?}"))),
    }
}

pub async fn load_head(app: &App, repo: &str) -> ApiResult<(Head, Option<u64>)> {
    match app.meta.get(&keys::head(repo)).await? {
        Some(v) => Ok((decode(&v, "head")?, Some(v.version))),
        None => Ok((Head::default(), None)),
    }
}

pub async fn load_published(app: &App, repo: &str) -> ApiResult<Option<(Published, u64)>> {
    match app.meta.get(&keys::published(repo)).await? {
        Some(v) => Ok(Some((decode(&v, "published")?, v.version))),
        None => Ok(None),
    }
}

fn decode<T: serde::de::DeserializeOwned>(v: &Versioned, what: &str) -> ApiResult<T> {
    serde_json::from_slice(&v.value).map_err(|e| ApiError::internal(format!("corrupt {what}: {e}")))
}

async fn jitter(app: &App, attempt: u32) {
    let max_ms = (2u64 << attempt.min(6)).min(100);
    let ms = rand::thread_rng().gen_range(0..=max_ms);
    app.runtime.sleep(Duration::from_millis(ms)).await;
}

/// Step 2: claim and analyze a stored package. Returns the record to commit.
pub async fn analyze(
    app: &App,
    config: &RepoConfig,
    filename: &str,
    digests: &Digests,
    hints: &[Hint],
) -> ApiResult<PackageRecord> {
    let facts = Facts {
        filename: filename.to_string(),
        size: digests.size,
        md5: digests.md5.clone(),
        sha1: digests.sha1.clone(),
        sha256: digests.sha256.clone(),
        sha512: digests.sha512.clone(),
    };
    let reader = app.packages.reader(facts).await?;
    let gens = app.generators();
    let user_hints = hints_without_reserved(hints);
    let mut hints = hints.to_vec();
    // Repo defaults travel as reserved hints: analyze has no other view of the repo.
    for (k, v) in [
        ("repo.name", &config.name),
        ("repo.default-suite", &config.default_suite),
        ("repo.default-component", &config.default_component),
    ] {
        if !v.is_empty() {
            hints.push(Hint {
                key: k.into(),
                value: v.clone(),
            });
        }
    }
    let fname = filename.to_string();
    let result: Result<Analysis, ApiError> = app
        .blocking(move || {
            let head = reader
                .read(0, HEAD_BYTES as u32)
                .map_err(|e| ApiError::internal(format!("reading package: {e}")))?;
            let claiming: Vec<&Arc<dyn Generator>> = gens
                .iter()
                .filter(|g| g.claims(&fname, &head, &hints))
                .collect();
            if claiming.is_empty() {
                let known: Vec<String> = gens
                    .iter()
                    .map(|g| format!("{} ({})", g.info().name, g.info().extensions.join(", ")))
                    .collect();
                return Err(ApiError::unprocessable(
                    "unknown package format",
                    format!(
                        "no generator claims {fname:?}; known formats: {}",
                        if known.is_empty() {
                            "none loaded".to_string()
                        } else {
                            known.join("; ")
                        }
                    ),
                ));
            }
            let mut analysis = Analysis::default();
            for g in claiming {
                let name = g.info().name.clone();
                match g.analyze(reader.clone(), &hints) {
                    Ok(entries) => {
                        analysis.by_generator.insert(name, entries);
                    }
                    Err(GenError::Rejected(m)) => {
                        return Err(ApiError::unprocessable(
                            "malformed package",
                            format!("{name}: {m}"),
                        ))
                    }
                    Err(GenError::Failed(m)) => {
                        return Err(ApiError::internal(format!("generator {name} failed: {m}")))
                    }
                }
            }
            Ok(analysis)
        })
        .await;
    let analysis = result?;
    let blob = serde_json::to_vec(&analysis).map_err(anyhow::Error::from)?;
    let stored = app.packages.put_bytes(Bytes::from(blob)).await?;
    let entries = analysis
        .by_generator
        .iter()
        .map(|(g, es)| (g.clone(), es.iter().map(EntryId::from).collect()))
        .collect();
    remember(
        &app.analyses,
        &stored.sha256,
        Arc::new(analysis),
        ANALYSES_CACHED,
    );
    Ok(PackageRecord {
        filename: filename.to_string(),
        size: digests.size,
        md5: digests.md5.clone(),
        sha1: digests.sha1.clone(),
        sha256: digests.sha256.clone(),
        sha512: digests.sha512.clone(),
        hints: user_hints,
        uploaded: app.now(),
        entries,
        analysis: stored.sha256,
        signature: None,
    })
}

/// The package's detached OpenPGP signature, made once when it is added (so that no publish
/// reads a package file) and kept by rebuilds: it depends only on the bytes and the key.
pub async fn sign_package(app: &App, sha256: &str) -> ApiResult<BlobRef> {
    let (signer, sha) = (app.signer.clone(), sha256.to_string());
    let sig = app
        .blocking(move || signer.detached_package(&sha))
        .await
        .map_err(|e| ApiError::internal(format!("signing the package: {e}")))?;
    let d = app.packages.put_bytes(Bytes::from(sig)).await?;
    Ok(BlobRef {
        sha256: d.sha256,
        size: d.size,
    })
}

fn hints_without_reserved(h: &[Hint]) -> Vec<Hint> {
    h.iter()
        .filter(|h| !h.key.starts_with("repo."))
        .cloned()
        .collect()
}

/// What a head change did.
pub enum Change {
    /// Nothing to write (an idempotent repeat); carries the current sequence number.
    Unchanged,
    Changed,
}

/// Step 3: read-modify-compare-and-set of the repo head, retried on conflict.
/// `f` sees the current head and either edits it (Changed), leaves it (Unchanged) or refuses.
/// Returns the head's sequence number after the change (or as found when unchanged).
pub async fn update_head(
    app: &App,
    repo: &str,
    mut f: impl FnMut(&mut Head) -> ApiResult<Change>,
) -> ApiResult<u64> {
    let key = keys::head(repo);
    for attempt in 0..CAS_ATTEMPTS {
        let (mut head, version) = load_head(app, repo).await?;
        if version.is_none() {
            // The head is created with the repo; if a crash came between the two, the
            // config alone still makes the repo (the head starts empty).
            load_config(app, repo).await?;
        }
        match f(&mut head)? {
            Change::Unchanged => return Ok(head.seq),
            Change::Changed => {}
        }
        head.seq += 1;
        let value = serde_json::to_vec(&head).map_err(anyhow::Error::from)?;
        match app.meta.put_if(&key, value.into(), version).await? {
            Ok(_) => return Ok(head.seq),
            Err(_) => jitter(app, attempt).await,
        }
    }
    Err(ApiError::new(
        http::StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        format!("repo {repo}: gave up after {CAS_ATTEMPTS} conflicting commits; retry"),
    ))
}

/// The clash rules of step 3: a file name is one package; a published path and an
/// (generator, shelf, name, version, arch) identity belong to one file at a time.
pub fn insert_record(
    head: &mut Head,
    rec: &PackageRecord,
    one_version: &[String],
) -> ApiResult<Change> {
    if let Some(old) = head.packages.get(&rec.filename) {
        if old.sha256 == rec.sha256 {
            return Ok(Change::Unchanged);
        }
        return Err(ApiError::conflict(format!(
            "{} already exists with other content (sha256 {}); delete it first",
            rec.filename, old.sha256
        )));
    }
    // Generators whose clients take one version per name: the upload replaces the packages
    // holding the same name on the same shelf (repo-add's behaviour).
    let replaced: Vec<String> = head
        .packages
        .values()
        .filter(|other| {
            rec.entries.iter().any(|(gen, ids)| {
                one_version.contains(gen)
                    && other.entries.get(gen).is_some_and(|os| {
                        ids.iter()
                            .any(|id| os.iter().any(|o| o.shelf == id.shelf && o.name == id.name))
                    })
            })
        })
        .map(|other| other.filename.clone())
        .collect();
    for other in head.packages.values() {
        if replaced.contains(&other.filename) {
            continue;
        }
        for (gen, ids) in &rec.entries {
            let Some(others) = other.entries.get(gen) else {
                continue;
            };
            for id in ids {
                for o in others {
                    if !id.path.is_empty() && id.path == o.path && other.sha256 != rec.sha256 {
                        return Err(ApiError::conflict(format!(
                            "{}: path {} is already published by {}",
                            rec.filename, id.path, other.filename
                        )));
                    }
                    if id.shelf == o.shelf
                        && id.name == o.name
                        && id.version == o.version
                        && id.arch == o.arch
                    {
                        return Err(ApiError::conflict(format!(
                            "{}: {} {} ({}) is already in {} as {}",
                            rec.filename, id.name, id.version, id.arch, id.shelf, other.filename
                        )));
                    }
                }
            }
        }
    }
    for f in &replaced {
        head.packages.remove(f);
    }
    head.packages.insert(rec.filename.clone(), rec.clone());
    Ok(Change::Changed)
}

/// Names of the loaded generators that keep one version per name.
pub fn one_version_generators(app: &App) -> Vec<String> {
    app.generators()
        .iter()
        .filter(|g| g.info().one_version_per_name)
        .map(|g| g.info().name.clone())
        .collect()
}

/// Step 4: make sure the published generation covers head sequence `seq`.
///
/// In one process, publishes of a repo coalesce: whoever finds no publish running becomes
/// the leader and renders; everyone who commits meanwhile queues, and the next render (which
/// reads a head holding their commits) answers them all at once. Across processes, the
/// compare-and-set on the `published` pointer decides, and a loser re-reads what won.
pub async fn ensure_published(app: &App, repo: &str, seq: u64) -> ApiResult<Published> {
    loop {
        if let Some((p, _)) = load_published(app, repo).await? {
            if p.covers >= seq {
                return Ok(p);
            }
        }
        let rx = {
            let mut states = app.publishers.lock().unwrap();
            let st = states.entry(repo.to_string()).or_default();
            if st.running {
                let (tx, rx) = futures::channel::oneshot::channel();
                st.waiters.push((seq, tx));
                Some(rx)
            } else {
                st.running = true;
                None
            }
        };
        match rx {
            None => return lead_publish(app, repo, seq).await,
            Some(rx) => match rx.await {
                Ok(Turn::Done(r)) => return r,
                Ok(Turn::Lead) => return lead_publish(app, repo, seq).await,
                // The leader was dropped (its client went away): start over, maybe leading.
                Err(_) => continue,
            },
        }
    }
}

/// Hands a round back if its leader is dropped mid-way: the waiters see their channels
/// close and start over.
struct Leadership<'a> {
    flag: &'a (dyn Fn() + Sync),
    done: bool,
}

impl Drop for Leadership<'_> {
    fn drop(&mut self) {
        if !self.done {
            (self.flag)();
        }
    }
}

/// Publishes until the leader is covered, answering every waiter its render covers; then
/// hands the next round to a waiter that is still uncovered, so no request leads forever.
async fn lead_publish(app: &App, repo: &str, seq: u64) -> ApiResult<Published> {
    let abandon = || {
        if let Some(st) = app.publishers.lock().unwrap().get_mut(repo) {
            st.running = false;
            st.waiters.clear();
        }
    };
    let mut guard = Leadership {
        flag: &abandon,
        done: false,
    };
    loop {
        let result = publish_once(app, repo).await;
        let mut states = app.publishers.lock().unwrap();
        let st = states.entry(repo.to_string()).or_default();
        let mut pending = Vec::new();
        for (s, tx) in std::mem::take(&mut st.waiters) {
            match &result {
                Ok(p) if p.covers < s => pending.push((s, tx)),
                r => {
                    let _ = tx.send(Turn::Done(r.clone()));
                }
            }
        }
        let covered = !matches!(&result, Ok(p) if p.covers < seq);
        if covered {
            guard.done = true;
            hand_over(&mut st.running, &mut pending);
            st.waiters = pending;
            return result;
        }
        st.waiters = pending;
    }
}

/// Passes leadership to the first waiter (dropping any whose request is gone), or ends the
/// round when nobody waits.
fn hand_over<T, U>(running: &mut bool, waiting: &mut Vec<(T, Reply<U>)>) {
    while !waiting.is_empty() {
        let (item, tx) = waiting.remove(0);
        if tx.send(Turn::Lead).is_ok() {
            return;
        }
        drop(item);
    }
    *running = false;
}

/// Step 3 for a new record, as a group commit: whoever finds no commit running leads and
/// applies every record queued meanwhile in one compare-and-set of the head; the others get
/// their answer from it. Returns the head sequence number after the commit and whether the
/// record was new (false: the same file again).
pub async fn commit_record(app: &App, repo: &str, record: PackageRecord) -> ApiResult<(u64, bool)> {
    let (tx, rx) = futures::channel::oneshot::channel();
    let lead = {
        let mut states = app.committers.lock().unwrap();
        let st = states.entry(repo.to_string()).or_default();
        st.queue.push((record.clone(), tx));
        !std::mem::replace(&mut st.running, true)
    };
    if !lead {
        match rx.await {
            Ok(Turn::Done(r)) => return r,
            Ok(Turn::Lead) => {
                // hand_over took our entry off the queue to tell us: put the record back.
                let (tx, _) = futures::channel::oneshot::channel();
                let mut states = app.committers.lock().unwrap();
                let st = states.entry(repo.to_string()).or_default();
                st.queue.insert(0, (record.clone(), tx));
            }
            Err(_) => return Box::pin(commit_record(app, repo, record)).await,
        }
    } else {
        drop(rx);
    }
    let abandon = || {
        if let Some(st) = app.committers.lock().unwrap().get_mut(repo) {
            st.running = false;
            st.queue.clear();
        }
    };
    let mut guard = Leadership {
        flag: &abandon,
        done: false,
    };
    // The batch: everything queued so far (this request's record among them).
    let batch = std::mem::take(
        &mut app
            .committers
            .lock()
            .unwrap()
            .entry(repo.to_string())
            .or_default()
            .queue,
    );
    let one_version = one_version_generators(app);
    let mut outcomes: Vec<ApiResult<bool>> = Vec::new();
    let seq = update_head(app, repo, |h| {
        outcomes = batch
            .iter()
            .map(|(rec, _)| {
                insert_record(h, rec, &one_version).map(|c| matches!(c, Change::Changed))
            })
            .collect();
        Ok(if outcomes.iter().any(|o| matches!(o, Ok(true))) {
            Change::Changed
        } else {
            Change::Unchanged
        })
    })
    .await;
    let mut mine = None;
    for (i, (rec, tx)) in batch.into_iter().enumerate() {
        let answer = match (&seq, outcomes.get(i)) {
            (Err(e), _) => Err(e.clone()),
            (Ok(s), Some(Ok(new))) => Ok((*s, *new)),
            (Ok(_), Some(Err(e))) => Err(e.clone()),
            (Ok(_), None) => Err(ApiError::internal("commit outcome missing")),
        };
        if rec.filename == record.filename && rec.sha256 == record.sha256 && mine.is_none() {
            mine = Some(answer.clone());
        }
        let _ = tx.send(Turn::Done(answer));
    }
    let mut states = app.committers.lock().unwrap();
    let st = states.entry(repo.to_string()).or_default();
    guard.done = true;
    hand_over(&mut st.running, &mut st.queue);
    mine.unwrap_or_else(|| Err(ApiError::internal("own record missing from its batch")))
}

/// One render and one compare-and-set of the `published` pointer (retried on conflict).
async fn publish_once(app: &App, repo: &str) -> ApiResult<Published> {
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
        let manifest_blob = serde_json::to_vec(&manifest).map_err(anyhow::Error::from)?;
        let stored = app.packages.put_bytes(manifest_blob.into()).await?;
        remember(
            &app.manifests,
            &stored.sha256,
            Arc::new(manifest),
            MANIFESTS_CACHED,
        );
        let now = app.now();
        let mut previous = Vec::new();
        if let Some(p) = &prev {
            previous.push(Retired {
                generation: p.generation,
                manifest: p.manifest.clone(),
                retired_at: now,
            });
            previous.extend(
                p.previous
                    .iter()
                    .filter(|r| now.saturating_sub(r.retired_at) < app.grace.as_secs())
                    .take(31)
                    .cloned(),
            );
        }
        let next = Published {
            generation,
            covers: head.seq,
            manifest: stored.sha256,
            published_at: now,
            previous,
        };
        let value = serde_json::to_vec(&next).map_err(anyhow::Error::from)?;
        match app
            .meta
            .put_if(&keys::published(repo), value.into(), prev_version)
            .await?
        {
            Ok(_) => return Ok(next),
            Err(_) => jitter(app, attempt).await,
        }
    }
    Err(ApiError::new(
        http::StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        format!("repo {repo}: could not publish after {CAS_ATTEMPTS} attempts; retry"),
    ))
}

pub async fn analysis_of(app: &App, sha256: &str) -> ApiResult<Arc<Analysis>> {
    cached_json(app, &app.analyses, sha256, "analysis", ANALYSES_CACHED).await
}

pub async fn manifest_of(app: &App, sha256: &str) -> ApiResult<Arc<Manifest>> {
    cached_json(app, &app.manifests, sha256, "manifest", MANIFESTS_CACHED).await
}

/// An immutable JSON blob, decoded once and kept (bounded) in `cache`.
async fn cached_json<T: serde::de::DeserializeOwned>(
    app: &App,
    cache: &std::sync::Mutex<std::collections::HashMap<String, Arc<T>>>,
    sha256: &str,
    what: &str,
    cap: usize,
) -> ApiResult<Arc<T>> {
    if let Some(v) = cache.lock().unwrap().get(sha256) {
        return Ok(v.clone());
    }
    let bytes = app
        .packages
        .get_bytes(sha256)
        .await?
        .ok_or_else(|| ApiError::internal(format!("{what} blob {sha256} is missing")))?;
    let v: Arc<T> = Arc::new(
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::internal(format!("corrupt {what} {sha256}: {e}")))?,
    );
    remember(cache, sha256, v.clone(), cap);
    Ok(v)
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
        analyses.push((rec.clone(), analysis_of(app, &rec.analysis).await?));
    }
    let info = config.info(app.now(), generation);
    let mut files = BTreeMap::new();
    for g in app.generators() {
        let gname = g.info().name.clone();
        let mount = g.info().mount.clone();
        let mut entries = Vec::new();
        for (rec, a) in &analyses {
            if let Some(es) = a.by_generator.get(&gname) {
                let package = BlobRef {
                    sha256: rec.sha256.clone(),
                    size: rec.size,
                };
                for e in es {
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
        }
        let rendered = assemble::render_generator(app, g.clone(), &info, entries).await?;
        for (path, blob) in rendered {
            files.insert(format!("{mount}/{path}"), blob);
        }
    }
    Ok(Manifest { generation, files })
}

/// Resolves a served path (relative to `/repos/{repo}/`) in the current generation, or in a
/// retired one still within its grace period (apt by-hash, clients mid-update).
pub async fn resolve(app: &App, repo: &str, path: &str) -> ApiResult<Option<BlobRef>> {
    let Some((p, _)) = load_published(app, repo).await? else {
        return Ok(None);
    };
    let m = manifest_of(app, &p.manifest).await?;
    if let Some(b) = m.files.get(path) {
        return Ok(Some(b.clone()));
    }
    let now = app.now();
    for r in &p.previous {
        if now.saturating_sub(r.retired_at) >= app.grace.as_secs() {
            continue;
        }
        if let Ok(m) = manifest_of(app, &r.manifest).await {
            if let Some(b) = m.files.get(path) {
                return Ok(Some(b.clone()));
            }
        }
    }
    Ok(None)
}

/// Steps 2–4 for a package already in the package store: the shared tail of a direct
/// upload and of a large upload's commit. Returns the record, the published generation,
/// and whether it was new (false: the same bytes again, nothing changed).
pub async fn add_stored(
    app: &App,
    repo: &str,
    filename: &str,
    digests: &Digests,
    hints: &[Hint],
) -> ApiResult<(PackageRecord, Published, bool)> {
    let config = load_config(app, repo).await?;
    // Cheap checks before analysis: an identical repeat or a clash by name.
    let (head, _) = load_head(app, repo).await?;
    if let Some(old) = head.packages.get(filename) {
        if old.sha256 != digests.sha256 {
            return Err(ApiError::conflict(format!(
                "{filename} already exists with other content (sha256 {}); delete it first",
                old.sha256
            )));
        }
        let published = ensure_published(app, repo, head.seq).await?;
        return Ok((old.clone(), published, false));
    }
    let mut record = analyze(app, &config, filename, digests, hints).await?;
    record.signature = Some(sign_package(app, &digests.sha256).await?);
    let (seq, new) = commit_record(app, repo, record.clone()).await?;
    let published = ensure_published(app, repo, seq).await?;
    Ok((record, published, new))
}

/// Removes a package's record and republishes. The blob stays for GC (another repo may
/// hold the same bytes).
pub async fn remove(
    app: &App,
    repo: &str,
    filename: &str,
) -> ApiResult<(PackageRecord, Published)> {
    load_config(app, repo).await?;
    let mut removed = None;
    let seq = update_head(app, repo, |h| match h.packages.remove(filename) {
        Some(r) => {
            removed = Some(r);
            Ok(Change::Changed)
        }
        None => Err(ApiError::not_found(format!(
            "no package {filename:?} in repo {repo}"
        ))),
    })
    .await?;
    let published = ensure_published(app, repo, seq).await?;
    Ok((removed.expect("set when changed"), published))
}

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

/// Drops all derived metadata: re-analyzes every stored package with the current
/// generators (ranged reads only), then publishes a new generation.
pub async fn rebuild(app: &App, repo: &str) -> ApiResult<RebuildReport> {
    use futures::StreamExt;
    let started = std::time::Instant::now();
    let config = load_config(app, repo).await?;
    let (head, _) = load_head(app, repo).await?;
    let mut report = RebuildReport {
        packages: head.packages.len(),
        ..Default::default()
    };
    let results: Vec<(String, ApiResult<PackageRecord>, bool)> =
        futures::stream::iter(head.packages.values().cloned())
            .map(|rec| {
                let config = &config;
                async move {
                    let present = app
                        .packages
                        .size(&rec.sha256)
                        .await
                        .ok()
                        .flatten()
                        .is_some();
                    if !present {
                        return (rec.filename.clone(), Ok(rec), false);
                    }
                    let d = Digests {
                        size: rec.size,
                        md5: rec.md5.clone(),
                        sha1: rec.sha1.clone(),
                        sha256: rec.sha256.clone(),
                        sha512: rec.sha512.clone(),
                    };
                    let mut r = analyze(app, config, &rec.filename, &d, &rec.hints).await;
                    if let Ok(n) = &mut r {
                        n.uploaded = rec.uploaded;
                        n.signature = match &rec.signature {
                            Some(s) => Some(s.clone()),
                            None => match sign_package(app, &rec.sha256).await {
                                Ok(s) => Some(s),
                                Err(e) => return (rec.filename.clone(), Err(e), true),
                            },
                        };
                    }
                    (rec.filename.clone(), r, true)
                }
            })
            .buffer_unordered(4)
            .collect()
            .await;
    let mut fresh: BTreeMap<String, PackageRecord> = BTreeMap::new();
    for (name, r, present) in results {
        if !present {
            report.missing.push(name);
            continue;
        }
        match r {
            Ok(rec) => {
                report.analyzed += 1;
                fresh.insert(name, rec);
            }
            Err(e) => {
                // Keep the package (nothing is lost); no generator publishes it now.
                report.unclaimed.push(format!("{name}: {}", e.detail));
                if let Some(old) = head.packages.get(&name) {
                    let mut r = old.clone();
                    r.entries.clear();
                    let empty =
                        serde_json::to_vec(&Analysis::default()).map_err(anyhow::Error::from)?;
                    r.analysis = app.packages.put_bytes(empty.into()).await?.sha256;
                    fresh.insert(name, r);
                }
            }
        }
    }
    report.missing.sort();
    report.unclaimed.sort();
    report.analyze_millis = started.elapsed().as_millis() as u64;
    let seq = update_head(app, repo, |h| {
        for (name, rec) in h.packages.iter_mut() {
            // Only records unchanged since we read them; newer uploads were analyzed fresh.
            if let Some(f) = fresh.get(name) {
                if f.sha256 == rec.sha256 {
                    *rec = f.clone();
                }
            }
        }
        Ok(Change::Changed) // always a new generation: "drop all metadata, republish"
    })
    .await?;
    let published = ensure_published(app, repo, seq).await?;
    report.generation = published.generation;
    report.millis = started.elapsed().as_millis() as u64;
    report.publish_millis = report.millis - report.analyze_millis;
    Ok(report)
}

/// After a crash between step 3 and step 4, a head can be ahead of its published
/// generation: publish every such repo. Returns the repos it published.
pub async fn recover(app: &App) -> ApiResult<Vec<String>> {
    let mut done = Vec::new();
    for key in app.meta.list(keys::REPO_PREFIX).await? {
        let Some(repo) = key
            .strip_prefix(keys::REPO_PREFIX)
            .and_then(|k| k.strip_suffix("/config"))
        else {
            continue;
        };
        let (head, _) = load_head(app, repo).await?;
        let covers = load_published(app, repo).await?.map(|(p, _)| p.covers);
        if covers.is_none_or(|c| c < head.seq) {
            ensure_published(app, repo, head.seq).await?;
            done.push(repo.to_string());
        }
    }
    Ok(done)
}
