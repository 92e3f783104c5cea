//! Step 3: the repo head (every package record and a sequence number) moves by
//! read-modify-compare-and-set, retried on conflict; `insert_record` holds the clash rules.
use super::journal::{self, Entry, Kind};
use super::{jitter, load_config, load_head, CAS_ATTEMPTS};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::model::{keys, EntryId, Head, PackageRecord, Published};
use futures::channel::oneshot;
use futures::future::BoxFuture;

/// What a head change did.
pub enum Change {
    /// Nothing to write (an idempotent repeat).
    Unchanged,
    Changed,
}

/// Read-modify-compare-and-set of the repo head, retried on conflict.
/// `f` sees the current head and either edits it (Changed), leaves it (Unchanged) or refuses.
/// Returns the head's sequence number after the change (or as found when unchanged).
pub async fn update_head(
    app: &App,
    repo: &str,
    kind: Kind,
    f: impl FnMut(&mut Head) -> ApiResult<Change>,
) -> ApiResult<u64> {
    Ok(update_head_logged(app, repo, kind, f).await?.0)
}

/// [`update_head`], answering also the journal entry the change made (None: unchanged).
/// The entry's segment is written before the head names it, and the head moves with it.
pub async fn update_head_logged(
    app: &App,
    repo: &str,
    kind: Kind,
    f: impl FnMut(&mut Head) -> ApiResult<Change>,
) -> ApiResult<(u64, Option<Entry>)> {
    let (seq, entry, _) = update_head_storing(app, repo, kind, Vec::new(), None, None, f).await?;
    Ok((seq, entry))
}

/// Work run beside a commit's writes, from the head they write (its buckets named, not yet
/// stored): a publish of it (`group::publish_beside`). The receiver says whether the
/// compare-and-set took that head (false, or dropped: it did not).
pub(super) type Beside<'a> =
    Box<dyn FnOnce(Head, oneshot::Receiver<bool>) -> BoxFuture<'a, Option<Published>> + Send + 'a>;

/// [`update_head_logged`], storing `blobs` (what the change's records name and nothing
/// stored yet) with the changed buckets, before the head names them. `first`: the head as
/// the caller read it just now, for the first attempt (read beside another read). `beside`
/// runs with the first attempt's writes and compare-and-set; what it answers comes back
/// third (None when it did not run).
pub(super) async fn update_head_storing(
    app: &App,
    repo: &str,
    kind: Kind,
    mut blobs: Vec<bytes::Bytes>,
    mut first: Option<(Head, Option<u64>)>,
    mut beside: Option<Beside<'_>>,
    mut f: impl FnMut(&mut Head) -> ApiResult<Change>,
) -> ApiResult<(u64, Option<Entry>, Option<Published>)> {
    let key = keys::head(repo);
    for attempt in 0..CAS_ATTEMPTS {
        let (mut head, version) = match first.take() {
            Some(read) => read,
            None => load_head(app, repo).await?,
        };
        if version.is_none() {
            // The head is created with the repo; if a crash came between the two, the
            // config alone still makes the repo (the head starts empty).
            load_config(app, repo).await?;
        }
        let before = head.packages.clone();
        match f(&mut head)? {
            Change::Unchanged => return Ok((head.seq, None, None)),
            Change::Changed => {}
        }
        head.seq += 1;
        let entry = journal::entry(app, kind.clone(), head.seq, &before, &head.packages);
        let changed = super::head::seal_changed(&mut head)?;
        let (took, beside) = match beside.take() {
            Some(b) => {
                let (tx, rx) = oneshot::channel();
                (Some(tx), Some(b(head.clone(), rx)))
            }
            None => (None, None),
        };
        let writes = async {
            // The entry's segment, the changed buckets and `blobs` (once) at once (on S3 a
            // round trip each).
            let last = head.journal.clone();
            let (segment, _, _) = futures::try_join!(
                journal::append(app, last.as_deref(), entry.clone()),
                super::put_blobs(app, changed),
                super::put_blobs(app, std::mem::take(&mut blobs)),
            )?;
            head.journal = Some(segment);
            let root = bytes::Bytes::from(super::head::root(&head)?);
            let won = app.meta.put_if(&key, root.clone(), version).await?.is_ok();
            if won {
                super::head::remember(app, repo, root, &head);
            }
            // Dropped unsent on an error: the work beside sees that as a loss.
            if let Some(tx) = took {
                let _ = tx.send(won);
            }
            Ok::<bool, ApiError>(won)
        };
        let (won, published) = match beside {
            Some(b) => futures::join!(writes, b),
            None => (writes.await, None),
        };
        if won? {
            return Ok((head.seq, Some(entry), published));
        }
        jitter(app, attempt).await;
    }
    Err(ApiError::busy(format!(
        "repo {repo}: gave up after {CAS_ATTEMPTS} conflicting commits; retry"
    )))
}

pub(super) fn exists_with_other_content(filename: &str, sha256: &str) -> ApiError {
    ApiError::conflict(format!(
        "{filename} already exists with other content (sha256 {sha256}); delete it first"
    ))
}

/// The clash rules: a file name is one package; a published path and an
/// (generator, shelf, name, version, arch) identity belong to one file at a time.
/// `one_version` names the generators whose clients take one version per name.
pub fn insert_record(
    head: &mut Head,
    rec: &PackageRecord,
    one_version: &[String],
) -> ApiResult<Change> {
    if let Some(old) = head.packages.get(&rec.filename) {
        if old.sha256 == rec.sha256 {
            return Ok(Change::Unchanged);
        }
        return Err(exists_with_other_content(&rec.filename, &old.sha256));
    }
    // Only records sharing a path or a (generator, shelf, name) can clash or be replaced.
    let near = head.packages.sharing(&crate::records::clash_keys(rec));
    let replaced = replaced_by(&near, rec, one_version);
    for other in &near {
        if !replaced.contains(&other.filename) {
            refuse_clash(rec, other)?;
        }
    }
    for f in &replaced {
        head.packages.remove(f);
    }
    head.packages.insert(rec.filename.clone(), rec.clone());
    Ok(Change::Changed)
}

/// The files `rec` would replace in `head` (see `replaced_by`).
pub(super) fn replaced(head: &Head, rec: &PackageRecord, one_version: &[String]) -> Vec<String> {
    if one_version.is_empty() {
        return Vec::new();
    }
    let near = head.packages.sharing(&crate::records::clash_keys(rec));
    replaced_by(&near, rec, one_version)
}

/// For generators whose clients take one version per name, the upload replaces the packages
/// holding the same name on the same shelf (repo-add's behaviour).
fn replaced_by(
    near: &[&PackageRecord],
    rec: &PackageRecord,
    one_version: &[String],
) -> Vec<String> {
    near.iter()
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
        .collect()
}

/// A conflict if `rec` publishes a path `other` publishes, or the same identity.
fn refuse_clash(rec: &PackageRecord, other: &PackageRecord) -> ApiResult<()> {
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
                if same_identity(id, o) {
                    return Err(ApiError::conflict(format!(
                        "{}: {} {} ({}) is already in {} as {}",
                        rec.filename, id.name, id.version, id.arch, id.shelf, other.filename
                    )));
                }
            }
        }
    }
    Ok(())
}

fn same_identity(a: &EntryId, b: &EntryId) -> bool {
    a.shelf == b.shelf && a.name == b.name && a.version == b.version && a.arch == b.arch
}

/// Names of the loaded generators that keep one version per name.
pub fn one_version_generators(app: &App) -> Vec<String> {
    app.generators()
        .iter()
        .filter(|g| g.info().one_version_per_name)
        .map(|g| g.info().name.clone())
        .collect()
}
