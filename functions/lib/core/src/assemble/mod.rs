//! Publish, host side: a generator's plan is assembled here natively from the stored
//! fragments (no per-package data crosses into wasm), encoded, hashed and stored, reusing the
//! chunks of the last render (`chunks`); then the generator's `finish` renders the files that
//! list them. Package files are not listed here: the manifest names the head they come from.
mod chunks;
mod codec;
mod held;
mod history;
mod patch;
mod runs;
mod shelves;
mod vouch;

pub use chunks::ChunkCache;
pub use codec::encode;

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::generator::{
    Content, DigestKinds, GenError, Generator, Link, Piece, Plan, RepoInfo, ShelfSummary,
};
use crate::model::{BlobRef, Head};
use chunks::{complete_file, digest_all, draft_file, select};
pub use chunks::{store_staged, Unstored};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};

/// The generator asked for something impossible (a bad path, an unknown file).
fn invalid(name: &str, detail: String) -> ApiError {
    ApiError::from_publishing_generator(name, GenError::Failed(detail))
}

/// Generators write paths under their mount; refuse anything that could escape it.
pub fn check_path(p: &str) -> Result<(), String> {
    if p.is_empty()
        || p.starts_with('/')
        || p.split('/').any(|s| s.is_empty() || s == "." || s == "..")
        || p.chars().any(|c| c.is_control() || c == '\\')
    {
        return Err(format!("invalid published path {p:?}"));
    }
    Ok(())
}

/// A generator's media type goes into a response header: one `type/subtype` with optional
/// parameters, printable ASCII, short.
pub fn check_media_type(m: &Option<String>) -> Result<(), String> {
    let Some(m) = m else { return Ok(()) };
    let essence = m.split(';').next().unwrap_or("").trim();
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let ok = m.len() <= 200
        && m.bytes().all(|b| (0x20..0x7f).contains(&b))
        && essence
            .split_once('/')
            .is_some_and(|(t, s)| token(t) && token(s));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid media type {m:?}"))
    }
}

/// A ustar header for a regular file: mode 0644, root:root, checksum filled in (the
/// generators' writer, so host-built and generator-built members match).
pub fn ustar_header(name: &str, size: u64, mtime: u64) -> Result<[u8; 512], String> {
    use reposmith_generator_sdk::ustar;
    ustar::header(name, size, ustar::Kind::File, ustar::Meta::file(mtime))
}

/// One generator's tree: its index files (path under the mount → blob), the links its
/// plan asked for (package files served again under other directories), and the patch
/// history of each file that asked for one (path under the mount → history blob).
pub struct Rendered {
    pub files: Vec<(String, BlobRef)>,
    pub links: Vec<Link>,
    pub histories: BTreeMap<String, String>,
}

/// What the last generation kept for this generator's next render: its files' patch
/// histories (path under the mount → history blob).
pub type Before = BTreeMap<String, String>;

/// Renders one generator's tree from the head: plan, assemble (incrementally), `finish`.
pub async fn render_generator(
    app: &App,
    cache: &mut ChunkCache,
    g: Arc<dyn Generator>,
    info: &RepoInfo,
    head: &Head,
    signing: &Signing,
    before: &Before,
) -> ApiResult<Rendered> {
    let gname = g.info().name.clone();
    // Out of the cache while it is borrowed alongside the chunks; back in below.
    let mut shelves = cache.shelves.remove(&gname).unwrap_or_default();
    shelves.update(&gname, head);
    let made = render_shelves(app, cache, &mut shelves, g, info, signing, before).await;
    cache.shelves.insert(gname, shelves);
    made
}

async fn render_shelves(
    app: &App,
    cache: &mut ChunkCache,
    shelves: &mut shelves::ShelfIndex,
    g: Arc<dyn Generator>,
    info: &RepoInfo,
    signing: &Signing,
    before: &Before,
) -> ApiResult<Rendered> {
    let gname = g.info().name.clone();
    let summaries = summarize(shelves);
    let (plan, kinds) = plan(app, cache, &g, info, &summaries).await?;
    for link in &plan.links {
        // What a link adds is prefix + a file name: the prefix must stay under the mount.
        check_path(&format!("{}x", link.prefix)).map_err(|e| invalid(&gname, e))?;
    }
    let mut files = BTreeMap::new();
    let mut assembled = Vec::new();
    let mut wholes: HashMap<String, Vec<held::Held>> = HashMap::new();
    let mut histories = BTreeMap::new();
    let selected = select(app, cache, &gname, &plan.files, shelves, kinds).await?;
    let mut drafts = Vec::with_capacity(plan.files.len());
    for file in &plan.files {
        check_media_type(&file.media_type).map_err(|e| invalid(&gname, e))?;
        drafts.push(draft_file(app, cache, &gname, file, &selected, kinds).await?);
    }

    // Every file's digests at once: rpm's primary, filelists and other each on a core.
    // What the render staged waits for the publish's one wave of writes, unless it is big.
    let drafts = if cache.over_staged() {
        futures::try_join!(digest_all(app, drafts), chunks::store_staged(app, cache))?.0
    } else {
        digest_all(app, drafts).await?
    };
    for (file, draft) in plan.files.iter().zip(drafts) {
        let (mut made, open) = complete_file(cache, draft);
        // The media type is the identity file's; encoded copies go by their suffix.
        for m in made.iter_mut().filter(|m| m.assembled.path == file.path) {
            m.blob.media_type = file.media_type.clone();
        }
        if let Some(req) = &file.history {
            let key = format!("{gname}/{}", file.path);
            let prev = before.get(&file.path);
            let (sha, h) =
                history::carry(app, cache, key, req, prev, &open, info.generation).await?;
            made.extend(history::publish(&gname, &file.path, req, &h)?);
            histories.insert(file.path.clone(), sha);
        }
        for made in made {
            files.insert(made.assembled.path.clone(), made.blob.clone());
            if !made.blob.pieces.is_empty() {
                wholes.insert(made.blob.sha256.clone(), made.bytes);
            }
            assembled.push(made.assembled);
        }
    }
    let given = (summaries, assembled);
    let files = finish(app, cache, g, info, signing, given, files, wholes).await?;
    Ok(Rendered {
        files,
        links: plan.links.clone(),
        histories,
    })
}

/// The generator's plan and the digests it asks for: those it answered last time while its
/// inputs but the date and the generation are the same (no plan reads those: they date
/// `finish`'s files), so a format with no packages in the repo (7 of a deb repo's 8) is not
/// called on each publish.
async fn plan(
    app: &App,
    cache: &mut ChunkCache,
    g: &Arc<dyn Generator>,
    info: &RepoInfo,
    summaries: &[ShelfSummary],
) -> ApiResult<(Arc<Plan>, DigestKinds)> {
    let gname = g.info().name.clone();
    let key = plan_key(info, summaries);
    if let Some(planned) = cache.plans.get(&gname).and_then(|a| a.of(g, &key)) {
        return Ok(planned.clone());
    }
    let (g2, info2, sum2) = (g.clone(), info.clone(), summaries.to_vec());
    let (plan, kinds) = app
        .blocking(move || {
            let plan = g2.plan(&info2, &sum2)?;
            let kinds = g2.digests(&info2).unwrap_or(Ok(DigestKinds::ALL))?;
            Ok((Arc::new(plan), kinds))
        })
        .await
        .map_err(|e| ApiError::from_publishing_generator(&gname, e))?;
    let answered = Answered::new(g, key, (plan.clone(), kinds));
    cache.plans.insert(gname, answered);
    Ok((plan, kinds))
}

/// A plan and the digest kinds its generator asked for.
type Planned = (Arc<Plan>, DigestKinds);

/// What a generator answered, kept with the digest of what it was given. A weak reference
/// to the generator keeps its allocation (not the compiled component), so a generator
/// installed since cannot take its address and is asked again.
pub(crate) struct Answered<T> {
    generator: Weak<dyn Generator>,
    key: String,
    value: T,
}

impl<T> Answered<T> {
    fn new(generator: &Arc<dyn Generator>, key: String, value: T) -> Self {
        Answered {
            generator: Arc::downgrade(generator),
            key,
            value,
        }
    }

    /// The answer, if `g` gave it for inputs of this digest.
    fn of(&self, g: &Arc<dyn Generator>, key: &str) -> Option<&T> {
        let same = std::ptr::addr_eq(self.generator.as_ptr(), Arc::as_ptr(g));
        (same && self.key == key).then_some(&self.value)
    }
}

fn summarize(shelves: &shelves::ShelfIndex) -> Vec<ShelfSummary> {
    let mut summaries: Vec<ShelfSummary> = shelves
        .shelves()
        .iter()
        .map(|(s, v)| ShelfSummary {
            shelf: s.to_string(),
            entries: v.len() as u32,
        })
        .collect();
    summaries.sort_by(|a, b| a.shelf.cmp(&b.shelf));
    summaries
}

/// The keys a publish signs with (the repo's own, or the server's), and which they are.
pub struct Signing {
    pub signer: Arc<dyn crate::generator::Signer>,
    /// Names the keys: a finish made with other keys is not reused.
    pub id: String,
}

/// The generator's `finish` over the assembled files, its outputs stored next to `files`.
/// Same generator, same shelves, same assembled files as last time: its finish would only
/// differ by the date, so what it made then is kept (no re-signing of unchanged formats).
#[allow(clippy::too_many_arguments)]
async fn finish(
    app: &App,
    cache: &mut ChunkCache,
    g: Arc<dyn Generator>,
    info: &RepoInfo,
    signing: &Signing,
    // What the generator's finish is given: the shelves and the assembled files.
    (summaries, assembled): (Vec<ShelfSummary>, Vec<crate::generator::Assembled>),
    mut files: BTreeMap<String, BlobRef>,
    wholes: HashMap<String, Vec<held::Held>>,
) -> ApiResult<Vec<(String, BlobRef)>> {
    let gname = g.info().name.clone();
    let cache_key = finish_key(info, &signing.id, &summaries, &assembled);
    let slot = format!("{}/{gname}", info.name);
    if let Some(made) = app
        .finished
        .lock()
        .get(&slot)
        .and_then(|a| a.of(&g, &cache_key))
    {
        files.extend(made.iter().cloned());
        return Ok(files.into_iter().collect());
    }
    let before: std::collections::BTreeSet<String> = files.keys().cloned().collect();
    // An assembled file of one piece is a blob this render staged and has not stored: the
    // signer reads it from there, as it reads a file of many pieces from memory.
    let mut signable = wholes.clone();
    for a in &assembled {
        if let (false, Some(b)) = (signable.contains_key(&a.sha256), cache.staged(&a.sha256)) {
            signable.insert(a.sha256.clone(), vec![b.into()]);
        }
    }
    let vouching = Arc::new(vouch::Vouching::new(
        signing.signer.clone(),
        signable,
        &assembled,
    ));
    let signer: Arc<dyn crate::generator::Signer> = vouching.clone();
    let (g2, info2) = (g.clone(), info.clone());
    let outputs = app
        .blocking(move || g2.finish(&info2, &summaries, &assembled, signer))
        .await
        .map_err(|e| ApiError::from_publishing_generator(&gname, e))?;
    // A refused signing request is a fault even when the generator went on without it.
    let refused = vouching.refusals();
    if !refused.is_empty() {
        return Err(invalid(&gname, refused.join("; ")));
    }
    // The outputs' bytes by sha256, staged below with the render's other writes.
    let mut writes = HashMap::new();
    for o in outputs {
        check_path(&o.path).map_err(|e| invalid(&gname, e))?;
        check_media_type(&o.media_type).map_err(|e| invalid(&gname, e))?;
        let mut blob = output_blob(
            app,
            &gname,
            &o.path,
            o.content,
            (&files, &wholes, cache),
            &mut writes,
        )
        .await?;
        // A same-as copy is served by its own path's type unless the output names one.
        blob.media_type = o.media_type;
        files.insert(o.path, blob);
    }
    for (sha256, data) in writes {
        cache.stage_as(sha256, data);
    }
    let made: Vec<(String, BlobRef)> = files
        .iter()
        .filter(|(p, _)| !before.contains(*p))
        .map(|(p, b)| (p.clone(), b.clone()))
        .collect();
    // Kept for the next render once its outputs are stored (`Unstored`): until then they
    // may never be.
    cache
        .finishing
        .push((slot, Answered::new(&g, cache_key, made)));
    Ok(files.into_iter().collect())
}

/// One `finish` output as a blob: its bytes, a file published earlier in the tree, or
/// pieces of both joined and encoded. New bytes go to `writes` (by sha256) to be stored.
/// A file it joins is read from the bytes at hand (its pieces, the render's staged writes)
/// before the store.
async fn output_blob(
    app: &App,
    gname: &str,
    path: &str,
    content: Content,
    (files, wholes, cache): (
        &BTreeMap<String, BlobRef>,
        &HashMap<String, Vec<held::Held>>,
        &ChunkCache,
    ),
    writes: &mut HashMap<String, bytes::Bytes>,
) -> ApiResult<BlobRef> {
    fn write(writes: &mut HashMap<String, bytes::Bytes>, data: bytes::Bytes) -> BlobRef {
        let blob = BlobRef::stored(crate::digest::sha256_hex(&data), data.len() as u64);
        writes.insert(blob.sha256.clone(), data);
        blob
    }
    let known = |p: &str, verb: &str| {
        files
            .get(p)
            .cloned()
            .ok_or_else(|| invalid(gname, format!("{path} {verb} unknown path {p}")))
    };
    match content {
        Content::Bytes(b) => Ok(write(writes, b.into())),
        Content::SameAs(p) => known(&p, "is same-as"),
        Content::Concat(pieces, enc) => {
            let mut joined = Vec::new();
            for piece in pieces {
                match piece {
                    Piece::Bytes(b) => joined.extend_from_slice(&b),
                    Piece::File(p) => {
                        let blob = known(&p, "concatenates")?;
                        let at_hand = writes
                            .get(&blob.sha256)
                            .cloned()
                            .or_else(|| cache.staged(&blob.sha256));
                        match (wholes.get(&blob.sha256), at_hand) {
                            (Some(ps), _) => joined.extend_from_slice(&held::concat(ps)),
                            (None, Some(b)) => joined.extend_from_slice(&b),
                            (None, None) => joined
                                .extend_from_slice(&crate::commit::read_blob(app, &blob).await?),
                        }
                    }
                }
            }
            let data = app
                .blocking(move || encode(&joined, enc).map_err(ApiError::from))
                .await?;
            Ok(write(writes, data.into()))
        }
    }
}

/// Everything `finish` depends on but the clock and the generator (which `Answered` holds):
/// the repo's settings, the signing keys, the shelves and the assembled files' digests.
fn finish_key(
    info: &RepoInfo,
    keys: &str,
    summaries: &[ShelfSummary],
    assembled: &[crate::generator::Assembled],
) -> String {
    let mut text = inputs(info, keys, summaries);
    for a in assembled {
        text.push_str(&format!("{} {}\n", a.path, a.sha256));
    }
    crate::digest::sha256_hex(text.as_bytes())
}

/// What `plan` is given but the date and the generation: equal keys, equal plans.
fn plan_key(info: &RepoInfo, summaries: &[ShelfSummary]) -> String {
    let text = inputs(info, "plan", summaries);
    crate::digest::sha256_hex(text.as_bytes())
}

/// The repo's settings and its shelves, as text (`what` tells keys apart; the generator is
/// held by `Answered`). The URL too: cargo's `config.json` names it, so a new `baseurl`
/// alone is finished again.
fn inputs(info: &RepoInfo, what: &str, shelves: &[ShelfSummary]) -> String {
    let mut text = format!(
        "{what}|{}|{}|{}|{}|{:?}|{:?}|{}\n",
        info.name,
        info.description,
        info.default_suite,
        info.default_component,
        info.architectures,
        info.options,
        info.base_url
    );
    for s in shelves {
        text.push_str(&format!("{} {}\n", s.shelf, s.entries));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_paths_cannot_escape_the_mount() {
        for bad in ["", "/abs", "a/../b", "a//b", "./a", "a\\b", "a\nb"] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
        assert!(check_path("dists/stable/main/binary-amd64/Packages.xz").is_ok());
        assert!(ustar_header(&"n".repeat(101), 0, 0).is_err());
    }
}
