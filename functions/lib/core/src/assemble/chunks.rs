//! Incremental assembly. A bulk file is a run of segments: literal bytes, and chunks of
//! selected entries, a run of them each (`runs`: cut by content, so adding or removing a
//! package changes one chunk, and every other chunk keeps its key, its stored bytes and its
//! encodings from the generation before). Each segment is encoded apart (a gzip member, a
//! zstd frame, an xz block) and a served file is the list of those stored pieces
//! (`BlobRef::pieces`). Digests of the whole file resume from the hasher state after the
//! longest unchanged prefix of pieces, kept from the last render.
use super::codec::{crc_of, encode_segment, frame};
use super::held::Held;
use super::runs::{entries, Run};
use super::shelves::{ShelfIndex, Slot};
use super::{check_path, invalid, ustar_header};
use crate::app::App;
use crate::digest::{DigestKinds, Digests, Hasher};
use crate::error::{ApiError, ApiResult};
use crate::generator::{Assembled, BulkFile, Encoding, Part, Selection};
use crate::model::{Analysis, BlobRef, Piece};
use bytes::Bytes;
use futures::StreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Bytes kept in memory with the sha256 they are stored under.
#[derive(Clone)]
pub struct Stored {
    pub sha256: String,
    pub bytes: Held,
    pub xz_records: Vec<(u64, u64)>,
}

/// What a segment is made of, hashed (see `literal` and `chunk_key`).
type ChunkId = [u8; 32];

/// A segment: its identity bytes (packed once it is first encoded: see `held`), whether it
/// holds any entry's bytes, and its encodings.
pub struct Chunk {
    identity: crate::app::Lock<Stored>,
    /// Its identity bytes are held unpacked for a stream that is re-hashed on every render
    /// (`hot`), and are to be packed once none is.
    pack_later: std::sync::atomic::AtomicBool,
    /// CRC-32 and length of the identity bytes (a gzip trailer combines them).
    crc: (u32, u64),
    emits: bool,
    encoded: crate::app::Lock<HashMap<Encoding, Stored>>,
}

/// What a repo's renders keep for the next one: the chunks the last render used, and for
/// every file it made the hasher state after each of its pieces.
///
/// Reusing a chunk trusts that its blobs are still stored. They are: the last render's
/// generation names them, and GC keeps what a generation names until `grace` after it is
/// retired; so a cache older than half the grace period is not used (`fresh`).
#[derive(Default)]
pub struct ChunkCache {
    chunks: HashMap<ChunkId, Arc<Chunk>>,
    prefixes: HashMap<String, Vec<(String, Hasher)>>,
    /// How many renders in a row re-hashed most of each file's decoded stream (rpm's package
    /// count comes first: every render). A file is hot while its streak is not 0 (see
    /// `is_hot`): its chunks are held unpacked, since unpacking them on every render (or
    /// packing them for a render that re-hashes them) costs more than they save.
    streaks: HashMap<String, u8>,
    used: HashSet<ChunkId>,
    /// Each generator's entries by shelf (they depend on the head only, not on stored blobs).
    pub shelves: HashMap<String, ShelfIndex>,
    /// The patch history each file left (`generator/path` → see `Carried`), so an unchanged
    /// one is neither read nor stored again, and a changed one reads no patch back.
    pub(super) histories: HashMap<String, super::history::Carried>,
    /// Each generator's last plan, by its name: a generator whose inputs are unchanged, as
    /// those with no packages in this repo, is not asked again (`assemble::plan`).
    pub(super) plans: HashMap<String, super::Answered<super::Planned>>,
    /// When the last render ended (seconds since the epoch).
    rendered_at: u64,
    /// Bytes this render made that are not stored yet, by sha256 (`stage`), and their
    /// length: a publish stores them all at once with its manifest (`Unstored`), on S3 one
    /// round trip rather than one per step of the render.
    staged: HashMap<String, Bytes>,
    staged_bytes: usize,
    /// What each `finish` of this render made (slot → inputs' digest and outputs), kept for
    /// the next render (`App::finished`) once the staged outputs are stored.
    pub(super) finishing: Vec<(String, crate::app::Finished)>,
}

impl ChunkCache {
    /// The decoded bytes of a chunk this cache holds, by their sha256 (a scan: for the few
    /// pieces a patch history needs of the version before).
    pub(super) fn identity(&self, sha256: &str) -> Option<Held> {
        self.chunks.values().find_map(|c| {
            let id = c.identity.lock();
            (id.sha256 == sha256).then(|| id.bytes.clone())
        })
    }

    /// The cache, if the last render is recent enough for its blobs to be trusted. A cache
    /// that no render finished yet (one failed mid-way) dates from when it was started: what
    /// it holds is as young as that, and GC spares young blobs.
    pub fn fresh(mut self, now: u64, grace: u64) -> Self {
        if self.rendered_at == 0 {
            self.rendered_at = now;
        }
        if now.saturating_sub(self.rendered_at) < grace / 2 {
            self
        } else {
            ChunkCache {
                rendered_at: now,
                shelves: self.shelves,
                ..ChunkCache::default()
            }
        }
    }

    /// Decoded bytes held unpacked by chunks big enough to pack (what a hot file keeps).
    #[cfg(test)]
    pub(crate) fn unpacked(&self) -> usize {
        let big = self
            .chunks
            .values()
            .map(|c| c.identity.lock().bytes.clone());
        big.filter(|b| !b.is_packed() && b.len() >= super::held::PACK_FROM)
            .map(|b| b.len())
            .sum()
    }

    /// Stages bytes to be stored with the rest of the render; their sha256.
    pub(super) fn stage(&mut self, bytes: Bytes) -> String {
        let sha256 = crate::digest::sha256_hex(&bytes);
        self.stage_as(sha256.clone(), bytes);
        sha256
    }

    /// [`ChunkCache::stage`] for bytes whose sha256 is known.
    pub(super) fn stage_as(&mut self, sha256: String, bytes: Bytes) {
        if let std::collections::hash_map::Entry::Vacant(e) = self.staged.entry(sha256) {
            self.staged_bytes += bytes.len();
            e.insert(bytes);
        }
    }

    /// Staged bytes by their sha256: what this render made and may read back.
    pub(super) fn staged(&self, sha256: &str) -> Option<Bytes> {
        self.staged.get(sha256).cloned()
    }

    /// More staged than a render holds: store them before going on (a render from scratch
    /// must not hold a whole file's bytes for them).
    pub(super) fn over_staged(&self) -> bool {
        self.staged_bytes > STAGED_MAX
    }

    /// Keeps only what this render used, for the next one.
    pub fn sweep(&mut self, now: u64) {
        let used = std::mem::take(&mut self.used);
        self.chunks.retain(|k, _| used.contains(k));
        self.rendered_at = now;
    }
}

/// An assembled file: what `finish` is told, the served blob, and its pieces' bytes.
pub struct Made {
    pub assembled: Assembled,
    pub blob: BlobRef,
    pub bytes: Vec<Held>,
}

/// A bulk file's decoded bytes as stored: its digests, blob and pieces' bytes.
pub struct Open {
    pub digests: Digests,
    pub blob: BlobRef,
    pub bytes: Vec<Held>,
}

/// A bulk file laid out in every encoding it asks for, waiting for its digests
/// ([`digest_all`]), then completed ([`complete_file`]).
pub struct Draft {
    path: String,
    encodings: Vec<Encoding>,
    /// The decoded bytes first, then each encoding asked for other than identity, in order.
    streams: Vec<Pending>,
}

/// One bulk file's segments, encoded as it asks (its decoded bytes are laid out whether or
/// not it is published unencoded: `history` diffs them).
pub async fn draft_file(
    app: &App,
    cache: &mut ChunkCache,
    gname: &str,
    file: &BulkFile,
    selected: &Selected<'_>,
    kinds: DigestKinds,
) -> ApiResult<Draft> {
    check_path(&file.path).map_err(|e| invalid(gname, e))?;
    let mut encs = file.encodings.clone();
    encs.dedup();
    let mut segments = Vec::new();
    segment_parts(app, cache, gname, selected, &file.parts, &mut segments).await?;
    if segments.is_empty() {
        // An empty file is still one (empty) gzip member, zstd frame or xz stream.
        segments.push(literal(cache, Vec::new()));
    }
    let hot = is_hot(cache, &file.path, kinds);
    encode_missing(app, cache, &segments, &encs, !hot).await?;
    let (path, id) = (&file.path, Encoding::Identity);
    let mut streams = vec![lay_out(cache, path, id, &segments, hot, kinds).await?];
    for &enc in encs.iter().filter(|&&e| e != Encoding::Identity) {
        let path = format!("{}{}", file.path, enc.suffix());
        streams.push(lay_out(cache, &path, enc, &segments, false, kinds).await?);
    }
    Ok(Draft {
        path: file.path.clone(),
        encodings: encs,
        streams,
    })
}

/// Bytes left to hash below which a stream is hashed without a hop off the executor.
const HASH_HERE: usize = 64 << 10;

/// Hashes what changed in every stream of `drafts` at once, the longest first, as many at a
/// time as there are cores: a change at the start of the files (rpm's package count, a
/// package whose name sorts first) re-hashes all of them, and one stream is one thread.
pub async fn digest_all(app: &App, mut drafts: Vec<Draft>) -> ApiResult<Vec<Draft>> {
    let mut jobs: Vec<(usize, usize, Pending)> = Vec::new();
    for (i, d) in drafts.iter_mut().enumerate() {
        jobs.extend(d.streams.drain(..).enumerate().map(|(j, p)| (i, j, p)));
    }
    // A stream with little left (an unchanged file, an appended chunk) is hashed here: a hop
    // to the blocking pool costs about what hashing 64 KiB does.
    let (mut done, mut big): (Vec<_>, Vec<_>) = jobs
        .into_iter()
        .partition(|(_, _, p)| p.unhashed() <= HASH_HERE);
    done.iter_mut().for_each(|(_, _, p)| p.hash());
    big.sort_by_key(|(_, _, p)| std::cmp::Reverse(p.unhashed()));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let hashed: Vec<(usize, usize, Pending)> = futures::stream::iter(big)
        .map(|(i, j, mut p)| async move {
            app.blocking(move || {
                p.hash();
                Ok::<_, ApiError>((i, j, p))
            })
            .await
        })
        .buffer_unordered(cores)
        .collect::<Vec<ApiResult<_>>>()
        .await
        .into_iter()
        .collect::<ApiResult<_>>()?;
    done.extend(hashed);
    done.sort_by_key(|(i, j, _)| (*i, *j));
    for (i, _, p) in done {
        drafts[i].streams.push(p);
    }
    Ok(drafts)
}

/// A hashed draft as the files it publishes (one per encoding) and its decoded bytes.
pub fn complete_file(cache: &mut ChunkCache, draft: Draft) -> (Vec<Made>, Open) {
    let mut streams = draft.streams.into_iter();
    let open = complete(
        cache,
        streams.next().expect("the decoded stream is laid out"),
    );
    let mut out = Vec::new();
    for enc in draft.encodings {
        let path = format!("{}{}", draft.path, enc.suffix());
        let (d, blob, bytes) = if enc == Encoding::Identity {
            open.clone()
        } else {
            complete(cache, streams.next().expect("every encoding is laid out"))
        };
        let a = Assembled {
            path,
            encoding: enc,
            size: d.size,
            md5: d.md5,
            sha1: d.sha1,
            sha256: d.sha256,
            sha512: d.sha512,
            open_size: open.0.size,
            open_sha256: open.0.sha256.clone(),
            patch: None,
        };
        out.push(Made {
            assembled: a,
            blob,
            bytes,
        });
    }
    let (digests, blob, bytes) = open;
    (
        out,
        Open {
            digests,
            blob,
            bytes,
        },
    )
}

/// The segments of `parts`, in order; a tar member's header comes once its content's size
/// is known.
async fn segment_parts(
    app: &App,
    cache: &mut ChunkCache,
    gname: &str,
    selected: &Selected<'_>,
    parts: &[Part],
    out: &mut Vec<Arc<Chunk>>,
) -> ApiResult<()> {
    for part in parts {
        match part {
            Part::Literal(b) => out.push(literal(cache, b.clone())),
            Part::Entries(sel) => {
                let chunks = selected.get(&sel_key(sel)).ok_or_else(|| {
                    ApiError::internal(format!("{gname}: a selection was not cut"))
                })?;
                out.extend(chunks.iter().cloned());
            }
            Part::TarMember { name, mtime, parts } => {
                let mut content = Vec::new();
                Box::pin(segment_parts(
                    app,
                    cache,
                    gname,
                    selected,
                    parts,
                    &mut content,
                ))
                .await?;
                let size: u64 = content
                    .iter()
                    .map(|c| c.identity.lock().bytes.len() as u64)
                    .sum();
                let header = ustar_header(name, size, *mtime).map_err(|e| invalid(gname, e))?;
                out.push(literal(cache, header.to_vec()));
                out.extend(content);
                let pad = (512 - size % 512) % 512;
                if pad > 0 {
                    out.push(literal(cache, vec![0; pad as usize]));
                }
            }
        }
    }
    Ok(())
}

/// A literal segment (content-addressed like a chunk; also a file's frame: a gzip header or
/// trailer, an xz stream's header, index and footer).
fn literal(cache: &mut ChunkCache, bytes: Vec<u8>) -> Arc<Chunk> {
    use sha2::Digest;
    let key: ChunkId = sha2::Sha256::new()
        .chain_update(b"L\0")
        .chain_update(&bytes)
        .finalize()
        .into();
    if let Some(c) = cache.chunks.get(&key) {
        cache.used.insert(key);
        return c.clone();
    }
    let chunk = new_chunk(cache, bytes, true);
    cache.chunks.insert(key, chunk.clone());
    cache.used.insert(key);
    chunk
}

/// A new chunk, its bytes staged for `store_staged`: a render's new chunks and literals are
/// stored together (on S3 a round trip each, a dozen one after another a publish).
fn new_chunk(cache: &mut ChunkCache, mut bytes: Vec<u8>, emits: bool) -> Arc<Chunk> {
    let crc = crc_of(&bytes);
    // Kept for the repo's life: without this a grown Vec keeps up to twice its bytes.
    bytes.shrink_to_fit();
    let bytes = Bytes::from(bytes);
    let sha256 = crate::digest::sha256_hex(&bytes);
    cache.stage_as(sha256.clone(), bytes.clone());
    Arc::new(Chunk {
        identity: crate::app::Lock::new(Stored {
            sha256,
            bytes: bytes.into(),
            xz_records: Vec::new(),
        }),
        pack_later: Default::default(),
        crc,
        emits,
        encoded: Default::default(),
    })
}

/// Staged bytes above which a render stores them before it goes on (`over_staged`).
const STAGED_MAX: usize = 4 << 20;

/// Stores what `new_chunk` staged, all at once. Until every write is answered, the cache's
/// chunks may name blobs that are not stored: if a write fails, or the work beside this one
/// fails and cancels it, the cache forgets its chunks and the next render starts again.
pub async fn store_staged(app: &App, cache: &mut ChunkCache) -> ApiResult<()> {
    struct Forget<'a>(Option<&'a mut ChunkCache>);
    impl Drop for Forget<'_> {
        fn drop(&mut self) {
            if let Some(c) = self.0.take() {
                c.chunks.clear();
                c.prefixes.clear();
                c.histories.clear();
                c.finishing.clear();
            }
        }
    }
    let staged = std::mem::take(&mut cache.staged).into_values().collect();
    cache.staged_bytes = 0;
    let mut unsure = Forget(Some(cache));
    crate::commit::put_blobs(app, staged).await?;
    unsure.0 = None;
    Ok(())
}

/// A render's staged bytes, taken out of the repo's render cache (which is back in `App`
/// by then) to be stored with the manifest, and what its `finish` calls made, kept for the
/// next render once stored. Until they are, that cache names blobs that are not stored:
/// dropped unstored (a failed write, a publish that fails or is cancelled first), this
/// forgets it, and the next render starts again.
pub struct Unstored<'a> {
    app: &'a App,
    repo: String,
    blobs: Vec<Bytes>,
    finished: Vec<(String, crate::app::Finished)>,
}

impl<'a> Unstored<'a> {
    pub fn take(app: &'a App, repo: &str, cache: &mut ChunkCache) -> Self {
        cache.staged_bytes = 0;
        Unstored {
            app,
            repo: repo.to_string(),
            blobs: std::mem::take(&mut cache.staged).into_values().collect(),
            finished: std::mem::take(&mut cache.finishing),
        }
    }

    pub async fn store(mut self) -> ApiResult<()> {
        crate::commit::put_blobs(self.app, std::mem::take(&mut self.blobs)).await?;
        let finished = std::mem::take(&mut self.finished);
        self.app.finished.lock().extend(finished);
        self.repo.clear();
        Ok(())
    }
}

impl Drop for Unstored<'_> {
    fn drop(&mut self) {
        if !self.repo.is_empty() {
            self.app.chunks.lock().remove(&self.repo);
        }
    }
}

/// What a chunk's bytes are made of: the selection's fragment and separator, whether it
/// follows written entries, and its run's entries (`Run::digest`, last: fixed-size, so the
/// separator before it is unambiguous).
fn chunk_key(gname: &str, sel: &Selection, leading: bool, run: &[u8; 32]) -> ChunkId {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(format!("E\0{gname}\0{}\0{leading}\0", sel.fragment));
    h.update(&sel.separator);
    h.update(run);
    h.finalize().into()
}

/// The analyses of runs' entries, read before their turn where each read is a round trip: a
/// run's read also takes the runs right after it that lack a chunk too, up to `most` entries
/// together (S3: a rebuild's render of 10,000 debs read its 156 runs one round each).
struct ReadAhead {
    read: HashMap<usize, Vec<Arc<Analysis>>>,
    most: usize,
}

impl ReadAhead {
    fn new(app: &App) -> Self {
        let most = if app.packages.reads_are_remote() {
            crate::store::REMOTE_AT_ONCE
        } else {
            0
        };
        ReadAhead {
            read: HashMap::new(),
            most,
        }
    }

    /// Run `r`'s analyses, in order. `misses`: whether a later run (its index in `runs`)
    /// lacks a chunk as things stand (a guess: one read ahead and then not needed is dropped,
    /// one not read ahead is read in its turn). `keep`: cache those read, for the next
    /// publishes' changed runs.
    async fn analyses<'s>(
        &mut self,
        app: &App,
        runs: &[Run],
        r: usize,
        slots: impl Fn(usize) -> Vec<Slot<'s>>,
        misses: impl Fn(usize) -> bool,
        keep: bool,
    ) -> ApiResult<Vec<Arc<Analysis>>> {
        if let Some(a) = self.read.remove(&r) {
            return Ok(a);
        }
        let mut batch = vec![r];
        let mut entries = runs[r].len;
        for (q, run) in runs.iter().enumerate().skip(r + 1) {
            if entries + run.len > self.most || !misses(q) {
                break;
            }
            batch.push(q);
            entries += run.len;
        }
        let shas: Vec<String> = (batch.iter().flat_map(|&q| slots(q)))
            .map(|(k, _)| k.analysis().to_string())
            .collect();
        let mut read = crate::commit::analyses_of(app, &shas, keep)
            .await?
            .into_iter();
        for &q in &batch {
            self.read
                .insert(q, read.by_ref().take(runs[q].len).collect());
        }
        // Those read ahead for runs before this one that turned out not to need them.
        self.read.retain(|&q, _| q >= r);
        Ok(self.read.remove(&r).unwrap_or_default())
    }
}

/// The selected fragment of each entry of a run, joined by the separator, and whether any
/// entry had one.
fn fragments(
    analyses: &[Arc<Analysis>],
    gname: &str,
    sel: &Selection,
    mut leading: bool,
    run: &[Slot<'_>],
) -> ApiResult<(Vec<u8>, bool)> {
    let mut out = Vec::new();
    let mut emits = false;
    for ((k, _), analysis) in run.iter().zip(analyses) {
        let entry = analysis
            .by_generator
            .get(gname)
            .and_then(|es| es.get(k.index()))
            .ok_or_else(|| {
                ApiError::internal(format!(
                    "analysis of {} lacks {gname} entry {}",
                    k.filename(),
                    k.index()
                ))
            })?;
        let Some(f) = entry.fragments.iter().find(|f| f.name == sel.fragment) else {
            continue;
        };
        if leading {
            out.extend_from_slice(&sel.separator);
        }
        out.extend_from_slice(&f.data);
        leading = true;
        emits = true;
    }
    Ok((out, emits))
}

/// A selection as a map key: what its chunks are made of besides the entries.
type SelKey<'a> = (&'a [String], &'a str, &'a [u8]);

fn sel_key(sel: &Selection) -> SelKey<'_> {
    (&sel.shelves[..], &sel.fragment[..], &sel.separator[..])
}

/// The chunks of every selection of a plan (`select`).
pub type Selected<'a> = HashMap<SelKey<'a>, Vec<Arc<Chunk>>>;

/// The chunks of every selection of `files`, each chunk looked up by what it is made of.
/// Selections that pick the same shelves (rpm's primary, filelists and other) are merged
/// and cut once, and a run's analyses are read once for all of them: read a selection at a
/// time, a render from scratch at 10,000 rpms read 30,000 analyses through a cache that
/// held 4,096.
pub async fn select<'a>(
    app: &App,
    cache: &mut ChunkCache,
    gname: &str,
    files: &'a [BulkFile],
    shelves: &mut ShelfIndex,
    kinds: DigestKinds,
) -> ApiResult<Selected<'a>> {
    let mut groups: HashMap<&[String], Vec<&Selection>> = HashMap::new();
    // What each selection's new chunks are encoded to as they are made, and whether they
    // are then packed (no file using them is hot): see `Making`.
    let mut needs: HashMap<SelKey, (Vec<Encoding>, bool)> = HashMap::new();
    // Groups read for a file some render of this process made already: incremental, so
    // the analyses read stay cached for the next publishes. A first render (after a start
    // or a rebuild) reads every analysis once; kept, they would only push those out.
    let mut incremental: HashSet<&[String]> = HashSet::new();
    for file in files {
        let streak = streak(cache, &file.path, kinds);
        let (hot, rendered) = (streak.is_some_and(|n| n != 0), streak.is_some());
        for sel in selections(&file.parts) {
            if rendered {
                incremental.insert(&sel.shelves[..]);
            }
            let group = groups.entry(&sel.shelves[..]).or_default();
            if !group.contains(&sel) {
                group.push(sel);
            }
            let (encs, pack) = needs.entry(sel_key(sel)).or_insert((Vec::new(), true));
            let more = file.encodings.iter().filter(|&&e| e != Encoding::Identity);
            encs.extend(more.filter(|e| !encs.contains(e)).collect::<Vec<_>>());
            *pack &= !hot;
        }
    }
    let mut selected = Selected::new();
    let used: Vec<&[String]> = groups.keys().copied().collect();
    for (names, sels) in groups {
        let keep = incremental.contains(names);
        let mut leading = vec![false; sels.len()];
        let mut outs = vec![Vec::new(); sels.len()];
        let mut making = Making::new(sels.iter().map(|s| needs[&sel_key(s)].clone()));
        let (runs, picked) = shelves.runs(names);
        // A run's entries: those after the run before it, up to its last.
        let slots = |r: usize| {
            let lo = r.checked_sub(1).map(|p| &runs[p].last);
            entries(&picked, lo, Some(&runs[r].last))
        };
        let mut ahead = ReadAhead::new(app);
        for r in 0..runs.len() {
            let keys: Vec<ChunkId> = (sels.iter().zip(&leading))
                .map(|(sel, &lead)| chunk_key(gname, sel, lead, &runs[r].digest))
                .collect();
            if keys.iter().any(|k| !cache.chunks.contains_key(k)) {
                // With the runs after it that lack a chunk now (a render from scratch: all).
                let misses = |q: usize| {
                    (sels.iter().zip(&leading)).any(|(sel, &lead)| {
                        !cache
                            .chunks
                            .contains_key(&chunk_key(gname, sel, lead, &runs[q].digest))
                    })
                };
                let analyses = ahead.analyses(app, &runs, r, &slots, misses, keep).await?;
                let run = slots(r);
                for (i, key) in keys.iter().enumerate() {
                    if !cache.chunks.contains_key(key) {
                        let (bytes, emits) =
                            fragments(&analyses, gname, sels[i], leading[i], &run)?;
                        let c = new_chunk(cache, bytes, emits);
                        cache.chunks.insert(*key, c.clone());
                        making.made(app, cache, i, c).await?;
                    }
                }
                if cache.over_staged() {
                    store_staged(app, cache).await?;
                }
            }
            for (i, key) in keys.into_iter().enumerate() {
                let chunk = cache.chunks[&key].clone();
                cache.used.insert(key);
                leading[i] |= chunk.emits;
                outs[i].push(chunk);
            }
        }
        making.flush(app, cache).await?;
        selected.extend(sels.into_iter().map(sel_key).zip(outs));
    }
    shelves.keep_groups(used.into_iter());
    Ok(selected)
}

/// New chunks of a group's selections, encoded (and packed) a few MiB at a time as they are
/// made rather than all at once when their files are laid out: a render from scratch then
/// holds at most that much of them unpacked. Each selection's encodings are those of the
/// files that use it; its chunks are packed unless one of those files is hot.
struct Making {
    needs: Vec<(Vec<Encoding>, bool)>,
    made: Vec<Vec<Arc<Chunk>>>,
    bytes: usize,
}

impl Making {
    /// Decoded bytes made before they are encoded and packed.
    const BATCH: usize = 4 << 20;

    fn new(needs: impl Iterator<Item = (Vec<Encoding>, bool)>) -> Self {
        let needs: Vec<_> = needs.collect();
        let made = vec![Vec::new(); needs.len()];
        Making {
            needs,
            made,
            bytes: 0,
        }
    }

    async fn made(
        &mut self,
        app: &App,
        cache: &mut ChunkCache,
        sel: usize,
        chunk: Arc<Chunk>,
    ) -> ApiResult<()> {
        self.bytes += chunk.identity.lock().bytes.len();
        self.made[sel].push(chunk);
        if self.bytes >= Self::BATCH {
            self.flush(app, cache).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, app: &App, cache: &mut ChunkCache) -> ApiResult<()> {
        for (made, (encs, pack)) in self.made.iter_mut().zip(&self.needs) {
            encode_missing(app, cache, &std::mem::take(made), encs, *pack).await?;
        }
        self.bytes = 0;
        Ok(())
    }
}

/// Every selection among `parts`, tar members' included.
fn selections(parts: &[Part]) -> Vec<&Selection> {
    parts
        .iter()
        .flat_map(|p| match p {
            Part::Entries(sel) => vec![sel],
            Part::TarMember { parts, .. } => selections(parts),
            Part::Literal(_) => Vec::new(),
        })
        .collect()
}

/// Encodes every segment that lacks one of `encs`, in parallel off the executor, and stages
/// the encodings. With `pack`, also packs the decoded bytes of those it encodes and of those
/// a hot file left unpacked (`None` jobs): hashing reads them back only when a change comes
/// before them.
async fn encode_missing(
    app: &App,
    cache: &mut ChunkCache,
    segments: &[Arc<Chunk>],
    encs: &[Encoding],
    pack: bool,
) -> ApiResult<()> {
    use std::sync::atomic::Ordering::Relaxed;
    let mut jobs = Vec::new();
    let mut seen = HashSet::new();
    for c in segments {
        let mut lacks = false;
        for &enc in encs {
            if enc == Encoding::Identity || c.encoded.lock().contains_key(&enc) {
                continue;
            }
            lacks = true;
            if seen.insert((Arc::as_ptr(c) as usize, Some(enc))) {
                jobs.push((c.clone(), Some(enc)));
            }
        }
        if !(lacks || c.pack_later.load(Relaxed)) || c.identity.lock().bytes.is_packed() {
            continue;
        }
        if !pack {
            c.pack_later.store(true, Relaxed);
        } else if seen.insert((Arc::as_ptr(c) as usize, None)) {
            jobs.push((c.clone(), None));
        }
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    // Encoded (and hashed) a core each.
    let results: Vec<ApiResult<_>> = futures::stream::iter(jobs)
        .map(|(c, enc)| async move {
            let data = c.identity.lock().bytes.bytes();
            let Some(enc) = enc else {
                let packed = app
                    .blocking(move || Ok::<_, ApiError>(Held::pack(&data)))
                    .await?;
                c.identity.lock().bytes = packed;
                c.pack_later.store(false, Relaxed);
                return Ok(None);
            };
            let (e, sha256) = app
                .blocking(move || {
                    let mut e = encode_segment(&data, enc).map_err(ApiError::from)?;
                    // Kept for the repo's life: a grown Vec keeps up to twice its bytes.
                    e.bytes.shrink_to_fit();
                    let sha256 = crate::digest::sha256_hex(&e.bytes);
                    Ok::<_, ApiError>((e, sha256))
                })
                .await?;
            Ok(Some((c, enc, e, sha256)))
        })
        .buffer_unordered(cores)
        .collect()
        .await;
    for r in results {
        let Some((c, enc, e, sha256)) = r? else {
            continue;
        };
        // The store and the cache share one copy.
        let bytes = Bytes::from(e.bytes);
        cache.stage_as(sha256.clone(), bytes.clone());
        let stored = Stored {
            sha256,
            bytes: bytes.into(),
            xz_records: e.xz_records,
        };
        c.encoded.lock().insert(enc, stored);
    }
    Ok(())
}

/// One encoding of a file: its pieces (framed), and the last render's hasher states for the
/// longest prefix of them that did not change.
struct Pending {
    key: String,
    pieces: Vec<Stored>,
    /// For a hot file, the chunk each piece comes from: hashing leaves it unpacked.
    unpack: Vec<Option<Arc<Chunk>>>,
    /// The state after each piece hashed so far (from the last render, then [`Pending::hash`]).
    states: Vec<(String, Hasher)>,
    kinds: DigestKinds,
    digests: Option<Digests>,
}

impl Pending {
    /// Bytes left to hash.
    fn unhashed(&self) -> usize {
        let rest = &self.pieces[self.states.len()..];
        rest.iter().map(|p| p.bytes.len()).sum()
    }

    /// The digests, resumed from the state after the unchanged prefix (CPU-bound). Packed
    /// pieces are unpacked a MiB at a time, not all at once (a render from scratch hashes
    /// every file packed, one per core).
    fn hash(&mut self) {
        self.hash_by(1 << 20)
    }

    fn hash_by(&mut self, batch_size: usize) {
        let mut h = match self.states.last() {
            Some((_, h)) => h.clone(),
            None => Hasher::only(self.kinds),
        };
        let mut next = self.states.len();
        while next < self.pieces.len() {
            let (from, mut size, mut batch) = (next, 0, Vec::new());
            while next < self.pieces.len() && (batch.is_empty() || size < batch_size) {
                let b = self.pieces[next].bytes.bytes();
                if let (Some(Some(c)), true) =
                    (self.unpack.get(next), self.pieces[next].bytes.is_packed())
                {
                    c.identity.lock().bytes = Held::Plain(b.clone());
                    c.pack_later
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    self.pieces[next].bytes = Held::Plain(b.clone());
                }
                size += b.len();
                batch.push(b);
                next += 1;
            }
            let after = h.states_after(&batch);
            h = after.last().expect("a batch is not empty").clone();
            let shas = self.pieces[from..next].iter().map(|p| p.sha256.clone());
            self.states.extend(shas.zip(after));
        }
        self.digests = Some(h.finish());
    }
}

/// The key a stream's hasher states (and a decoded stream's streak) are kept under: the
/// digests asked for are part of it, since states of other ones cannot resume.
fn stream_key(path: &str, enc: Encoding, kinds: DigestKinds) -> String {
    format!("{path}\0{enc:?}\0{kinds:?}")
}

/// Whether a file's decoded stream is hot: the last render re-hashed most of it. One no
/// render hashed yet (a rebuild, a process's first render) is not: its chunks are packed as
/// they are made, so a render from scratch never holds a whole file unpacked (pacman's
/// databases at 10,000 packages: 39 MiB); a stream that then turns out hot is unpacked as
/// its next render hashes it.
fn is_hot(cache: &ChunkCache, path: &str, kinds: DigestKinds) -> bool {
    streak(cache, path, kinds).is_some_and(|n| n != 0)
}

/// A file's streak (`ChunkCache::streaks`); None if no render since the process started
/// (or the repo was rebuilt) hashed it.
fn streak(cache: &ChunkCache, path: &str, kinds: DigestKinds) -> Option<u8> {
    let key = stream_key(path, Encoding::Identity, kinds);
    cache.streaks.get(&key).copied()
}

/// One encoding of a file as its pieces, resuming from the last render's hasher states; a
/// decoded stream also counts its streak (see `ChunkCache::streaks`).
async fn lay_out(
    cache: &mut ChunkCache,
    path: &str,
    enc: Encoding,
    segments: &[Arc<Chunk>],
    hot: bool,
    kinds: DigestKinds,
) -> ApiResult<Pending> {
    let encoded = enc != Encoding::Identity;
    let mut pieces: Vec<Stored> = Vec::with_capacity(segments.len() + 2);
    for c in segments {
        let s =
            if encoded {
                c.encoded.lock().get(&enc).cloned().ok_or_else(|| {
                    ApiError::internal(format!("{path}: a segment was not encoded"))
                })?
            } else {
                c.identity.lock().clone()
            };
        pieces.push(s);
    }
    let mut unpack: Vec<Option<Arc<Chunk>>> = match hot && !encoded {
        true => segments.iter().cloned().map(Some).collect(),
        false => Vec::new(),
    };
    let records: Vec<(u64, u64)> = pieces.iter().flat_map(|p| p.xz_records.clone()).collect();
    let crcs: Vec<(u32, u64)> = segments.iter().map(|c| c.crc).collect();
    let (head, tail) = frame(enc, &records, &crcs);
    if !head.is_empty() {
        pieces.insert(0, literal(cache, head).identity.lock().clone());
        if !unpack.is_empty() {
            unpack.insert(0, None);
        }
    }
    if !tail.is_empty() {
        pieces.push(literal(cache, tail).identity.lock().clone());
    }
    let key = stream_key(path, enc, kinds);
    let prev = cache.prefixes.remove(&key).unwrap_or_default();
    let same = prev
        .iter()
        .zip(&pieces)
        .take_while(|((sha, _), p)| *sha == p.sha256)
        .count();
    if !encoded {
        let len = |ps: &[Stored]| ps.iter().map(|p| p.bytes.len()).sum::<usize>();
        let streak = cache.streaks.entry(key.clone()).or_default();
        *streak = match len(&pieces[same..]) * 2 >= len(&pieces) {
            true => streak.saturating_add(1),
            false => 0,
        };
    }
    let states: Vec<(String, Hasher)> = prev.into_iter().take(same).collect();
    Ok(Pending {
        key,
        pieces,
        unpack,
        states,
        kinds,
        digests: None,
    })
}

/// A hashed stream's digests, its served blob (composite when it has more than one piece)
/// and its pieces' bytes; its hasher states are kept for the next render.
fn complete(cache: &mut ChunkCache, p: Pending) -> (Digests, BlobRef, Vec<Held>) {
    let Pending {
        key,
        pieces,
        states,
        digests,
        ..
    } = p;
    let digests = digests.expect("a stream is hashed before it is completed");
    cache.prefixes.insert(key, states);
    let blob = if pieces.len() == 1 {
        BlobRef::stored(pieces[0].sha256.clone(), digests.size)
    } else {
        BlobRef {
            sha256: digests.sha256.clone(),
            size: digests.size,
            pieces: pieces
                .iter()
                .map(|p| Piece {
                    sha256: p.sha256.clone(),
                    size: p.bytes.len() as u64,
                })
                .collect(),
            media_type: None,
        }
    };
    (digests, blob, pieces.into_iter().map(|p| p.bytes).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_pieces_hash_as_the_bytes_they_hold() {
        let text = |i: usize| -> Bytes {
            let mut t = format!("%NAME%\npkg{i}\n").into_bytes();
            t.resize(5000 + i * 300, 0);
            t.into()
        };
        let parts: Vec<Bytes> = (0..9).map(text).collect();
        let whole = parts.concat();
        let kinds = DigestKinds::ALL;
        let pending = |states: Vec<(String, Hasher)>| Pending {
            key: String::new(),
            unpack: Vec::new(),
            pieces: parts
                .iter()
                .enumerate()
                .map(|(i, b)| Stored {
                    sha256: format!("{i}"),
                    bytes: if i % 2 == 0 {
                        Held::pack(b)
                    } else {
                        b.clone().into()
                    },
                    xz_records: Vec::new(),
                })
                .collect(),
            states,
            kinds,
            digests: None,
        };
        assert!(pending(Vec::new()).pieces[0].bytes.is_packed());
        let want = crate::digest::digests(&whole);
        // Batches of one piece, of a few, of all; then resumed after the first four.
        for batch in [1, 12_000, usize::MAX] {
            let mut p = pending(Vec::new());
            p.hash_by(batch);
            assert_eq!(
                p.digests.as_ref().unwrap(),
                &want,
                "batches of {batch} bytes"
            );
            assert_eq!(p.states.len(), parts.len());
            let mut q = pending(p.states[..4].to_vec());
            assert_eq!(
                q.unhashed(),
                parts[4..].iter().map(|b| b.len()).sum::<usize>()
            );
            q.hash_by(batch);
            assert_eq!(q.digests.unwrap(), want);
        }
        // A hot file's chunks are left unpacked by hashing, and marked to be packed later.
        let chunks: Vec<Arc<Chunk>> = pending(Vec::new())
            .pieces
            .into_iter()
            .map(|identity| {
                Arc::new(Chunk {
                    identity: crate::app::Lock::new(identity),
                    pack_later: Default::default(),
                    crc: (0, 0),
                    emits: true,
                    encoded: Default::default(),
                })
            })
            .collect();
        let mut hot = pending(Vec::new());
        hot.unpack = chunks.iter().cloned().map(Some).collect();
        hot.hash_by(12_000);
        assert_eq!(hot.digests.unwrap(), want);
        for (i, c) in chunks.iter().enumerate() {
            assert!(!c.identity.lock().bytes.is_packed());
            let later = c.pack_later.load(std::sync::atomic::Ordering::Relaxed);
            assert_eq!(later, i % 2 == 0, "piece {i} was packed: {}", i % 2 == 0);
        }
    }
}
