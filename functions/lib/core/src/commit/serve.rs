//! Step 5: a GET resolves a path in the current generation's manifest (or a retired one
//! within its grace period), then serves the blob. Manifests and analyses are immutable
//! blobs, decoded once and cached.
use super::{load_config, load_head};
use crate::app::{App, Lock};
use crate::body::ByteStream;
use crate::error::{ApiError, ApiResult};
use crate::model::{Analysis, BlobRef, EntryId, Manifest};
use std::collections::HashMap;
use std::sync::Arc;

/// Decoded immutable blobs kept in memory, bounded by count and by the stored bytes they
/// were decoded from. A manifest is O(packages): keep only the few that serving needs
/// (current and recently retired generations). An analysis is O(its package's files): an
/// rpm's can be megabytes, so a count alone would not bound them.
const MANIFESTS_CACHED: Bound = Bound::count(8);
const ANALYSES_CACHED: Bound = Bound {
    count: 4096,
    bytes: 64 << 20,
};
const KEYRINGS_CACHED: Bound = Bound::count(1024);
/// Generations' package path maps (O(packages) each): the current one and one retired.
const PATHS_CACHED: Bound = Bound::count(2);

type Cache<T> = Lock<Kept<T>>;

/// The stored bytes of analyses running rebuilds hand to their renders at most: ~30,000 debs'
/// (~1.1 KB each, ~1.4 KB decoded). 50,000 debs on s3s-fs rebuilt in 33-37 s with 16 MiB,
/// 29 s with 32 (peak +35-45 MiB), 23-24 s with 64 (+76 MiB, past the reference tool's
/// whole peak): a read back is cheap on real S3, where the GETs do not share our cores.
const HANDED_BYTES: usize = 32 << 20;

/// Analyses a rebuild made, held for the render that follows it, apart from the analyses
/// cache (which a rebuild does not fill: its 4,096 would not hold a big repo's, and would stay
/// full after). Only where each read is a round trip (S3): there the render read each back,
/// a GET per package (10,000 debs on s3s-fs: ~2 s of the rebuild's ~7). Emptied when the last
/// rebuild running ends.
#[derive(Default)]
pub struct Handed {
    /// Bounded by refusing what does not fit (a cache's `remember` drops all instead).
    kept: Kept<Analysis>,
    rebuilds: usize,
}

#[cfg(test)]
impl Handed {
    pub fn is_empty(&self) -> bool {
        self.kept.len() == 0 && self.kept.bytes == 0
    }
}

/// A rebuild under way, for [`Handed`]: the analyses handed over go when the last one ends.
pub(crate) struct Handing<'a>(&'a App);

impl<'a> Handing<'a> {
    pub(crate) fn begin(app: &'a App) -> Self {
        app.handed.lock().rebuilds += 1;
        Handing(app)
    }
}

impl Drop for Handing<'_> {
    fn drop(&mut self) {
        let mut h = self.0.handed.lock();
        h.rebuilds -= 1;
        if h.rebuilds == 0 {
            *h = Handed::default();
        }
    }
}

/// Holds a rebuild's analysis (`size`: its stored bytes) for its render, if one is running,
/// reads are remote and it fits.
pub(super) fn hand_over(app: &App, sha256: &str, a: Analysis, size: usize) {
    if !app.packages.reads_are_remote() {
        return;
    }
    let mut h = app.handed.lock();
    let running = h.rebuilds > 0;
    let k = &mut h.kept;
    if running && k.bytes + size <= HANDED_BYTES && !k.map.contains_key(sha256) {
        k.map.insert(sha256.to_string(), Arc::new(a));
        k.bytes += size;
    }
}

/// Decoded blobs by sha256, and the stored bytes they were decoded from.
pub struct Kept<T> {
    map: HashMap<String, Arc<T>>,
    bytes: usize,
}

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Kept {
            map: HashMap::new(),
            bytes: 0,
        }
    }
}

#[cfg(test)]
impl<T> Kept<T> {
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

/// The most a cache keeps: entries, and stored bytes.
#[derive(Clone, Copy)]
struct Bound {
    count: usize,
    bytes: usize,
}

impl Bound {
    const fn count(count: usize) -> Bound {
        Bound {
            count,
            bytes: usize::MAX,
        }
    }
}

/// Resolves a served path (relative to `/repos/{repo}/`) in the current generation, or in a
/// retired one still within its grace period (apt by-hash, clients mid-update).
pub async fn resolve(app: &App, repo: &str, path: &str) -> ApiResult<Option<BlobRef>> {
    // The cached pointer, not a copy: a copy of its retired generations (up to 32) would
    // cost every GET an allocation each.
    let Some(view) = super::repo::served_view(app, repo).await? else {
        return Ok(None);
    };
    let p = &view.published;
    let m = manifest_of(app, &p.manifest).await?;
    if let Some(b) = find(app, repo, &p.manifest, &m, path).await? {
        return Ok(Some(b));
    }
    let now = app.now();
    for r in &p.previous {
        if now.saturating_sub(r.retired_at) >= app.grace.as_secs() {
            continue;
        }
        if let Ok(m) = manifest_of(app, &r.manifest).await {
            if let Some(b) = find(app, repo, &r.manifest, &m, path).await? {
                return Ok(Some(b));
            }
        }
    }
    Ok(None)
}

/// A path in one generation: an index file it lists, or a package file of the head it was
/// rendered from (at an entry's path under its generator's mount, or under a link).
pub(super) async fn find(
    app: &App,
    repo: &str,
    manifest: &str,
    m: &Manifest,
    path: &str,
) -> ApiResult<Option<BlobRef>> {
    if let Some(b) = m.files.get(path) {
        return Ok(Some(b.clone()));
    }
    let Some(tree) = m.trees.iter().find(|t| {
        path.strip_prefix(t.mount.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }) else {
        return Ok(None);
    };
    if path != tree.mount {
        if let Some(b) = package_paths(app, repo, manifest, m).await?.get(path) {
            return Ok(Some(b.clone()));
        }
    }
    // A directory (the router drops a trailing `/`): its index document, if the tree has one.
    let Some(name) = &tree.index else {
        return Ok(None);
    };
    Ok(m.files.get(&format!("{path}/{name}")).map(|b| {
        let mut b = b.clone();
        // Typed by the index's name, not by the directory's.
        b.media_type
            .get_or_insert_with(|| crate::content_type(name).to_string());
        b
    }))
}

/// Every package file path a generation publishes (at an entry's path under its
/// generator's mount, or under a link), in one map cached by its manifest: a download costs
/// one lookup. Built once per generation, from the head buckets it names.
async fn package_paths(
    app: &App,
    repo: &str,
    manifest: &str,
    m: &Manifest,
) -> ApiResult<Arc<HashMap<String, BlobRef>>> {
    if let Some(p) = app.paths.lock().map.get(manifest) {
        return Ok(p.clone());
    }
    let mut index = HashMap::new();
    // The head this process holds has the current buckets; older ones come from the store.
    let records = super::view::records_of(app, repo, m).await?;
    for rec in records.values() {
        let package = BlobRef::stored(rec.sha256.clone(), rec.size);
        for t in &m.trees {
            for id in rec.entries.get(&t.generator).into_iter().flatten() {
                if id.path.is_empty() {
                    continue;
                }
                index.insert(format!("{}/{}", t.mount, id.path), package.clone());
                let base = id.path.rsplit('/').next().unwrap_or_default();
                for link in t.links.iter().filter(|l| l.shelves.contains(&id.shelf)) {
                    let at = format!("{}/{}{base}", t.mount, link.prefix);
                    if let (Some(suffix), Some(sig)) = (&link.signature, &rec.signature) {
                        index.insert(format!("{at}{suffix}"), sig.clone());
                    }
                    index.insert(at, package.clone());
                }
            }
        }
    }
    let index = Arc::new(index);
    remember(&app.paths, manifest, index.clone(), 0, PATHS_CACHED);
    Ok(index)
}

/// The fragment `fragment` that `generator` made at upload for the first of the repo's
/// packages with an entry `matches` picks (Vieter's `GET /{repo}/{arch}/NAME-VERSION` serves
/// pacman's `desc.txt` this way). `None` when no entry matches.
pub async fn entry_fragment(
    app: &App,
    repo: &str,
    generator: &str,
    fragment: &str,
    matches: impl Fn(&EntryId) -> bool,
) -> ApiResult<Option<Vec<u8>>> {
    load_config(app, repo).await?;
    let (head, _) = load_head(app, repo).await?;
    let Some(rec) = head.packages.values().find(|r| {
        r.entries
            .get(generator)
            .is_some_and(|es| es.iter().any(&matches))
    }) else {
        return Ok(None);
    };
    let analysis = analysis_of(app, &rec.analysis).await?;
    let data = analysis
        .by_generator
        .get(generator)
        .into_iter()
        .flatten()
        .flat_map(|e| &e.fragments)
        .find(|f| f.name == fragment)
        .map(|f| f.data.clone());
    match data {
        Some(d) => Ok(Some(d)),
        // Analyses made before the generator emitted this fragment.
        None => Err(ApiError::internal(format!(
            "{} has no {generator} fragment {fragment}: rebuild repo {repo} (POST /repos/{repo}/rebuild)",
            rec.filename
        ))),
    }
}

/// Pieces of a file `open_blob` opens at once from a store whose reads are round trips.
pub(crate) const PIECES_AHEAD: usize = 4;
/// The same for `store_whole`, which joins a big file while the GET that wants it waits for
/// its redirect: a 50,000-package Packages.xz is hundreds of pieces, and 4 round trips at a
/// time made that GET take seconds on S3.
pub(crate) const WHOLE_AHEAD: usize = 32;

/// The bytes of a served blob from `offset`, `len` of them (or to the end): one stored blob,
/// or the pieces of a composite one, each opened when the stream reaches it (a few pieces
/// before, from S3).
pub async fn open_blob(
    app: &App,
    blob: &BlobRef,
    offset: u64,
    len: Option<u64>,
) -> ApiResult<ByteStream> {
    open_ahead(app, blob, offset, len, PIECES_AHEAD)
}

/// `open_blob`, opening up to `remote_ahead` pieces at once where reads are round trips.
fn open_ahead(
    app: &App,
    blob: &BlobRef,
    offset: u64,
    len: Option<u64>,
    remote_ahead: usize,
) -> ApiResult<ByteStream> {
    use futures::{StreamExt, TryStreamExt};
    let end = len.map_or(blob.size, |l| offset.saturating_add(l).min(blob.size));
    // Each stored blob overlapping [offset, end), with the range within it.
    let mut wanted = Vec::new();
    let mut at = 0u64;
    for p in blob.stored_blobs() {
        let (start, stop) = (at, at + p.size);
        at = stop;
        if stop <= offset || start >= end {
            continue;
        }
        let from = offset.saturating_sub(start);
        let to = end.min(stop) - start;
        wanted.push((p.sha256, from, to - from));
    }
    let store = app.packages.clone();
    // On S3 a few pieces are asked for ahead of the one being sent: each is a round trip (a
    // big repo's Packages.xz is a hundred pieces), and their bodies wait in the sockets.
    // Local files are opened one at a time (each open one is a descriptor a client holds).
    let ahead = if store.reads_are_remote() {
        remote_ahead
    } else {
        1
    };
    let stream = futures::stream::iter(wanted)
        .map(move |(sha, from, n)| {
            let store = store.clone();
            async move {
                let opened = store.get(&sha, from, Some(n)).await.map_err(|e| {
                    std::io::Error::other(format!("reading blob {sha}: {}", e.chain()))
                })?;
                opened.ok_or_else(|| std::io::Error::other(format!("blob {sha} is missing")))
            }
        })
        .buffered(ahead)
        .try_flatten();
    Ok(stream.boxed())
}

/// A composite blob stored whole under its own sha256, so storage can serve it by itself
/// (a redirect). Written once (content-addressed); later calls cost a size check. GC keeps it
/// while a generation that lists the file is served. GETs call it together
/// (`group::store_whole`).
pub(super) async fn join_whole(app: &App, blob: &BlobRef) -> ApiResult<()> {
    if app.packages.size(&blob.sha256).await? == Some(blob.size) {
        return Ok(());
    }
    let stored = app
        .packages
        .put(open_ahead(app, blob, 0, None, WHOLE_AHEAD)?)
        .await?;
    if stored.sha256 != blob.sha256 || stored.size != blob.size {
        return Err(ApiError::internal(format!(
            "the pieces of {} join to {} ({} bytes)",
            blob.sha256, stored.sha256, stored.size
        )));
    }
    Ok(())
}

/// A small served blob, whole, in memory (a file `finish` concatenates).
pub async fn read_blob(app: &App, blob: &BlobRef) -> ApiResult<bytes::Bytes> {
    use futures::StreamExt;
    let mut s = open_blob(app, blob, 0, None).await?;
    let mut buf = Vec::with_capacity(blob.size as usize);
    while let Some(c) = s.next().await {
        buf.extend_from_slice(&c.map_err(|e| ApiError::internal(e.to_string()))?);
    }
    Ok(buf.into())
}

pub async fn analysis_of(app: &App, sha256: &str) -> ApiResult<Arc<Analysis>> {
    cached_json(app, &app.analyses, sha256, "analysis", ANALYSES_CACHED).await
}

/// Several analyses, in the order asked; those not cached are read with one `get_many`, and
/// cached too if `keep`.
pub async fn analyses_of(
    app: &App,
    sha256s: &[String],
    keep: bool,
) -> ApiResult<Vec<Arc<Analysis>>> {
    let mut found: Vec<Option<Arc<Analysis>>> = {
        let (c, h) = (app.analyses.lock(), app.handed.lock());
        (sha256s.iter())
            .map(|s| c.map.get(s).or_else(|| h.kept.map.get(s)).cloned())
            .collect()
    };
    let missing: Vec<String> = (sha256s.iter().zip(&found))
        .filter(|(_, f)| f.is_none())
        .map(|(s, _)| s.clone())
        .collect();
    if !missing.is_empty() {
        let read = app.packages.get_many(&missing).await?;
        let mut read = missing.iter().zip(read);
        for slot in found.iter_mut().filter(|f| f.is_none()) {
            let (sha256, bytes) = read.next().ok_or_else(|| {
                ApiError::internal("the package store answered fewer blobs than asked")
            })?;
            let (a, size) = decode::<Analysis>(sha256, bytes, "analysis")?;
            if keep {
                remember(&app.analyses, sha256, a.clone(), size, ANALYSES_CACHED);
            }
            *slot = Some(a);
        }
    }
    Ok(found.into_iter().flatten().collect())
}

pub async fn manifest_of(app: &App, sha256: &str) -> ApiResult<Arc<Manifest>> {
    cached_json(app, &app.manifests, sha256, "manifest", MANIFESTS_CACHED).await
}

pub(super) async fn keyring_of(app: &App, sha256: &str) -> ApiResult<Arc<super::RepoKeys>> {
    cached_json(app, &app.keyrings, sha256, "repo keyring", KEYRINGS_CACHED).await
}

pub(super) fn remember_keyring(app: &App, blob: &BlobRef, k: super::RepoKeys) {
    let (sha256, size) = (&blob.sha256, blob.size as usize);
    remember(&app.keyrings, sha256, Arc::new(k), size, KEYRINGS_CACHED);
}

pub(super) fn remember_analysis(app: &App, blob: &BlobRef, a: Analysis) {
    let (sha256, size) = (&blob.sha256, blob.size as usize);
    remember(&app.analyses, sha256, Arc::new(a), size, ANALYSES_CACHED);
}

pub(super) fn remember_manifest(app: &App, blob: &BlobRef, m: Manifest) {
    let (sha256, size) = (&blob.sha256, blob.size as usize);
    remember(&app.manifests, sha256, Arc::new(m), size, MANIFESTS_CACHED);
}

/// An immutable JSON blob, decoded once and kept (bounded) in `cache`.
async fn cached_json<T: serde::de::DeserializeOwned>(
    app: &App,
    cache: &Cache<T>,
    sha256: &str,
    what: &str,
    bound: Bound,
) -> ApiResult<Arc<T>> {
    if let Some(v) = cache.lock().map.get(sha256) {
        return Ok(v.clone());
    }
    let bytes = app.packages.get_bytes(sha256).await?;
    decoded(cache, sha256, bytes, what, bound)
}

/// A JSON blob as read (None: absent), decoded and kept in `cache`.
fn decoded<T: serde::de::DeserializeOwned>(
    cache: &Cache<T>,
    sha256: &str,
    bytes: Option<bytes::Bytes>,
    what: &str,
    bound: Bound,
) -> ApiResult<Arc<T>> {
    let (v, size) = decode::<T>(sha256, bytes, what)?;
    remember(cache, sha256, v.clone(), size, bound);
    Ok(v)
}

/// A JSON blob as read (None: absent), decoded, and the size it was stored as.
fn decode<T: serde::de::DeserializeOwned>(
    sha256: &str,
    bytes: Option<bytes::Bytes>,
    what: &str,
) -> ApiResult<(Arc<T>, usize)> {
    let bytes =
        bytes.ok_or_else(|| ApiError::internal(format!("{what} blob {sha256} is missing")))?;
    let v: Arc<T> = Arc::new(
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::internal(format!("corrupt {what} {sha256}: {e}")))?,
    );
    Ok((v, bytes.len()))
}

/// Content-addressed, so never stale; bounded by dropping everything when full (a miss
/// only costs one read of the blob). `size`: the stored bytes `value` was decoded from.
fn remember<T>(cache: &Cache<T>, key: &str, value: Arc<T>, size: usize, bound: Bound) {
    let mut c = cache.lock();
    if c.map.contains_key(key) {
        return;
    }
    if c.map.len() >= bound.count || c.bytes.saturating_add(size) > bound.bytes {
        c.map.clear();
        c.bytes = 0;
    }
    c.map.insert(key.to_string(), value);
    c.bytes = c.bytes.saturating_add(size);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_is_bounded_by_bytes_as_well_as_by_count() {
        let keys = |c: &Cache<u32>| {
            let mut k: Vec<String> = c.lock().map.keys().cloned().collect();
            k.sort();
            k
        };
        let by_bytes: Cache<u32> = Lock::default();
        let bound = Bound {
            count: 10,
            bytes: 100,
        };
        for i in 0..5u32 {
            remember(&by_bytes, &i.to_string(), Arc::new(i), 40, bound);
        }
        // 40 + 40 fit, a third would pass 100: emptied before the 3rd and the 5th.
        assert_eq!(keys(&by_bytes), ["4"]);
        assert_eq!(by_bytes.lock().bytes, 40);
        // Known keys are not counted twice.
        remember(&by_bytes, "4", Arc::new(4), 40, bound);
        assert_eq!(by_bytes.lock().bytes, 40);
        let by_count: Cache<u32> = Lock::default();
        for i in 0..5u32 {
            remember(&by_count, &i.to_string(), Arc::new(i), 1, Bound::count(2));
        }
        assert_eq!(keys(&by_count), ["4"]);
    }
}
