//! The head in the stores: a small root under the `head` key and one blob per bucket of
//! records (see `records`). Reading fetches only the buckets that changed since the head this
//! process last saw; writing stores only the buckets a change touched, then moves the root
//! with one compare-and-set (in `record::update_head`).
use super::to_json;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::model::{keys, Head, StoredHead};
use crate::records::{Bucket, Stored, BUCKETS, PARTS};
use std::sync::Arc;

/// The repo head and the version of the `head` key it was read at (None: no head yet).
pub async fn load_head(app: &App, repo: &str) -> ApiResult<(Head, Option<u64>)> {
    let Some(v) = app.meta.get(&keys::head(repo)).await? else {
        return Ok((Head::default(), None));
    };
    // Keyed by the root's bytes, not its version: a repo deleted and made again restarts
    // its versions, and another process may have done it.
    if let Some((root, head)) = app.heads.lock().get(repo) {
        if *root == v.value {
            return Ok((head.clone(), Some(v.version)));
        }
    }
    let stored: StoredHead = serde_json::from_slice(&v.value)
        .map_err(|e| ApiError::internal(format!("corrupt head of repo {repo}: {e}")))?;
    let known = app.heads.lock().get(repo).map(|(_, h)| h.clone());
    let head = decode(app, stored, known.as_ref()).await?;
    remember(app, repo, v.value, &head);
    Ok((head, Some(v.version)))
}

/// Builds a head from its stored root, reusing the buckets `known` already holds.
async fn decode(app: &App, stored: StoredHead, known: Option<&Head>) -> ApiResult<Head> {
    let mut head = Head {
        seq: stored.seq,
        keys: stored.keys,
        journal: stored.journal,
        config_revision: stored.config_revision,
        ..Head::default()
    };
    // A head from before buckets: its records go into bucket blobs now (writing blobs
    // changes nothing visible), so that a generation rendered from it can name them.
    let inline = !stored.packages.is_empty();
    for (name, rec) in stored.packages {
        head.packages.insert(name, rec);
    }
    if inline {
        store_changed(app, &mut head).await?;
    }
    for (b, sha) in &stored.buckets {
        let b = usize::from_str_radix(b, 16)
            .ok()
            .filter(|b| *b < BUCKETS)
            .ok_or_else(|| ApiError::internal(format!("corrupt head: bucket {b:?}")))?;
        let reused = known.and_then(|k| match k.packages.bucket(b) {
            (records, Some(s)) if **s == **sha => Some(records.clone()),
            _ => None,
        });
        let records = match reused {
            Some(r) => r,
            None => bucket_blob(app, sha, known.map(|k| &**k.packages.bucket(b).0)).await?,
        };
        head.packages
            .set_bucket(b, records, Some(Arc::from(sha.as_str())));
    }
    Ok(head)
}

/// A bucket's records from its blob: a JSON map of them, or the list of its parts' blobs
/// (a JSON array: see `records::SPLIT_FROM`), read at once except those `known` (an earlier
/// version of the bucket) holds already: another process's commit changed one or two.
pub async fn bucket_blob(app: &App, sha: &str, known: Option<&Bucket>) -> ApiResult<Arc<Bucket>> {
    let corrupt = |e: String| ApiError::internal(format!("corrupt head bucket {sha}: {e}"));
    let bytes = app
        .packages
        .get_bytes(sha)
        .await?
        .ok_or_else(|| ApiError::internal(format!("head bucket {sha} is missing")))?;
    if bytes.first() != Some(&b'[') {
        let bucket: Bucket = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        return Ok(Arc::new(bucket));
    }
    let list: Vec<String> = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if list.len() != PARTS || !list.iter().all(|s| crate::digest::is_sha256(s)) {
        return Err(corrupt(format!("{} parts, not {PARTS}", list.len())));
    }
    let mut known = known.map(Bucket::stored_parts).unwrap_or_default();
    let held: Vec<Option<Bucket>> = (0..PARTS)
        .map(|p| match known.get_mut(p).and_then(Option::take) {
            Some((sha, part)) if *sha == *list[p] => Some(part),
            _ => None,
        })
        .collect();
    let missing: Vec<String> = (0..PARTS)
        .filter(|&p| held[p].is_none())
        .map(|p| list[p].clone())
        .collect();
    let mut got = app.packages.get_many(&missing).await?.into_iter();
    let mut parts = Vec::with_capacity(PARTS);
    for (part, held) in list.into_iter().zip(held) {
        let records = match held {
            Some(records) => records,
            None => {
                let bytes = got.next().flatten();
                let bytes = bytes.ok_or_else(|| corrupt(format!("part {part} is missing")))?;
                serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?
            }
        };
        parts.push((Arc::from(part), records));
    }
    Ok(Arc::new(Bucket::joined(parts)))
}

/// The root to write for `head`, once `store_changed` stored its changed buckets.
pub(super) fn root(head: &Head) -> ApiResult<Vec<u8>> {
    let buckets = head
        .packages
        .roots()
        .ok_or_else(|| ApiError::internal("a head bucket was left unstored"))?;
    to_json(&StoredHead {
        seq: head.seq,
        buckets,
        keys: head.keys.clone(),
        journal: head.journal.clone(),
        config_revision: head.config_revision,
        packages: Default::default(),
    })
}

/// Writes each changed bucket's blob (a head's root may then name it), and the parts of a
/// split bucket that changed, all at once: a batch of uploads changes a bucket each, and on S3
/// each is a round trip.
pub(super) async fn store_changed(app: &App, head: &mut Head) -> ApiResult<()> {
    let blobs = seal_changed(head)?;
    super::put_blobs(app, blobs).await?;
    Ok(())
}

/// Names each changed bucket (and part) by its blob's sha256, as storing it would, and
/// returns the blobs to store before a root names them: the head is whole (a render can
/// start from it) while they are on their way.
pub(super) fn seal_changed(head: &mut Head) -> ApiResult<Vec<bytes::Bytes>> {
    let mut blobs = Vec::new();
    for b in 0..BUCKETS {
        let (records, sha) = head.packages.bucket(b);
        if sha.is_some() || records.is_empty() {
            continue;
        }
        let stored = records
            .to_store()
            .map_err(|e| ApiError::internal(format!("encoding JSON: {e}")))?;
        let (own, parts) = match stored {
            Stored::Whole(bytes) => (bytes, Vec::new()),
            Stored::Split { parts, list } => {
                let mut shas = Vec::with_capacity(parts.len());
                for (sha, bytes) in parts {
                    blobs.extend(bytes.map(bytes::Bytes::from));
                    shas.push(sha);
                }
                (list, shas)
            }
        };
        let sha = Arc::from(crate::digest::sha256_hex(&own).as_str());
        head.packages.stored(b, sha, parts);
        blobs.push(bytes::Bytes::from(own));
    }
    Ok(blobs)
}

/// Whether the head this process read or wrote last lists `filename`, without asking the
/// store (None: it knows no head of the repo). It may be behind.
pub(super) fn last_known_lists(app: &App, repo: &str, filename: &str) -> Option<bool> {
    let heads = app.heads.lock();
    heads
        .get(repo)
        .map(|(_, h)| h.packages.get(filename).is_some())
}

/// Keeps the head this process read or wrote last (its buckets are shared, not copied).
pub(super) fn remember(app: &App, repo: &str, root: bytes::Bytes, head: &Head) {
    app.heads
        .lock()
        .insert(repo.to_string(), (root, head.clone()));
}
