//! The commit protocol, in one place: a file per step.
//!
//! 1. `store`: store the package bytes under their sha256 (idempotent, not atomic, need not
//!    be); `upload` does the same for a large upload in three requests;
//! 2. `analyze`: ask every claiming generator to analyze it; store the analysis as an
//!    immutable blob, and sign the package once;
//! 3. `record`: compare-and-set the repo head: the record and the head's sequence number
//!    advance together or not at all; on conflict re-read and retry (bounded, with jitter).
//!    `group` batches the records of concurrent requests into one compare-and-set;
//! 4. `publish`: render every format from the committed records, write each rendered file as
//!    an immutable blob, write the manifest, then move the `published` pointer with one
//!    compare-and-set. Concurrent publishers coalesce (`group`): whoever wins covers everyone
//!    whose records it read, and the others find their sequence number already covered;
//! 5. `serve`: a GET resolves the current generation's manifest, then the blob; retired
//!    generations stay readable for `App::grace`.
//!
//! A crash between any two steps leaves orphan blobs at most: nothing names a blob before
//! it is written, and nothing is visible before its compare-and-set; `recover` publishes a
//! head left ahead of its generation. Around the steps: `repo` (create, list, load),
//! `delete` (packages and repos) and `rebuild` (steps 2-4 again for every package).
//!
//! This file holds the public API that strings the steps together; handlers call one
//! function of it each.
mod analyze;
mod delete;
mod group;
mod head;
mod history;
pub mod journal;
mod keys;
mod lease;
mod properties;
mod publish;
mod quota;
mod read;
mod rebuild;
mod record;
mod repo;
mod serve;
mod store;
mod transaction;
mod upload;
mod view;

pub use analyze::{analyze, sign_package};
pub use delete::{delete_repo, remove, remove_where, Removed, RepoDeleted};
pub(crate) use group::commit_record;
pub use group::{ensure_published, store_whole};
pub(crate) use group::{CheckState, CommitState, JoinState, PublishState};
pub use head::{bucket_blob, load_head};
pub use history::{history, rollback, History, HistoryQuery, RolledBack};
pub use journal::{Kind, Pick};
pub(crate) use keys::signer_for;
pub use keys::{
    client_keys, list_keys, public_key, retire, rotate, ClientKeys, KeyList, RepoKeys, Rotation,
    DEFAULT_KEY_LIFETIME, DEFAULT_OVERLAP,
};
pub use lease::MAX_READ_LEASE_MS;
pub use properties::{disabled, update_properties, Properties, Updated};
pub use publish::recover;
pub(crate) use publish::Misses;
pub use read::{dates_of, resolve_served, Served};
pub use rebuild::{rebuild, RebuildReport};
pub use record::{insert_record, one_version_generators, update_head, update_head_logged, Change};
pub(crate) use repo::read_config;
pub use repo::{
    create_repo, is_private, list_repos, load_config, load_published, package, packages,
    repo_names, Created, Listing, RepoView, Settings,
};
pub use serve::{
    analyses_of, analysis_of, entry_fragment, manifest_of, open_blob, read_blob, resolve,
};
pub(crate) use serve::{Handed, Kept};
#[cfg(test)]
pub(crate) use serve::{PIECES_AHEAD, WHOLE_AHEAD};
pub(crate) use store::put_blobs;
pub use store::{put_blob, PackageBody, StoredPackage};
pub use transaction::{
    apply as apply_transaction, sources as transaction_sources, Committed, Operation, Transaction,
};
pub use upload::{commit_upload, put_upload, start_upload, Started, UploadStored};
pub use view::split as split_view;
pub use view::{
    create_snapshot, delete_snapshot, frozen, records_of, snapshot, snapshots, state, Frozen,
    Snapshot, State,
};

use crate::app::App;
use crate::digest::Digests;
use crate::error::{ApiError, ApiResult};
use crate::generator::Hint;
use crate::model::{PackageRecord, RepoConfig};
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;

/// Compare-and-set attempts before a request gives up with 503 (the client may retry).
const CAS_ATTEMPTS: u32 = 200;

/// A package added: the record, the generation that publishes it, and whether it was new
/// (false: the same bytes under the same name again, nothing changed).
#[derive(serde::Serialize)]
pub struct Added {
    pub package: PackageRecord,
    pub generation: u64,
    pub new: bool,
}

/// Steps 1-4 for a package in a request body: `POST /repos/{repo}/packages/`.
pub async fn add(
    app: &App,
    repo: &str,
    filename: Option<String>,
    hints: Vec<Hint>,
    body: PackageBody,
) -> ApiResult<Added> {
    crate::names::check_repo_name(repo)?;
    let arriving = group::Arriving::new(app, repo);
    let assumed = repo::assumed_config(app, repo).await?;
    let config = &assumed.config;
    let (body, cut) = match body {
        PackageBody::Plain(s) => {
            let (s, cut) = quota::capped(config, s);
            (PackageBody::Plain(s), cut)
        }
        PackageBody::Multipart { stream, boundary } => {
            let (stream, cut) = quota::capped(config, stream);
            (PackageBody::Multipart { stream, boundary }, cut)
        }
    };
    let stored = match store::store_package(app, repo, filename, hints, body).await {
        Ok(stored) => stored,
        Err(e) => {
            let e = cut.explain(config, e);
            // The body is gone: settings changed meanwhile are the client's to retry with.
            return Err(match e.status.is_client_error() {
                true if repo::changed_since(app, repo, &assumed).await?.is_some() => {
                    ApiError::conflict(format!(
                        "repo {repo}: its settings changed during this upload; send it again"
                    ))
                }
                _ => e,
            });
        }
    };
    add_arrived(app, repo, assumed, stored, arriving).await
}

/// Steps 2-4 for a package already in the package store: the shared tail of a direct
/// upload and of a large upload's commit.
pub async fn add_stored(
    app: &App,
    repo: &str,
    filename: &str,
    digests: &Digests,
    hints: &[Hint],
) -> ApiResult<Added> {
    let arriving = group::Arriving::new(app, repo);
    let assumed = repo::assumed_config(app, repo).await?;
    let stored = StoredPackage {
        filename: filename.to_string(),
        hints: hints.to_vec(),
        digests: digests.clone(),
        copy: None,
    };
    add_arrived(app, repo, assumed, stored, arriving).await
}

/// Steps 2-4 under the settings the request assumed. Settings it did not read are checked
/// by its commit, and before a refusal is answered: if they changed, the package is
/// analyzed again under the current ones (once: those are read, so checked).
async fn add_arrived(
    app: &App,
    repo: &str,
    mut assumed: repo::Assumed,
    stored: StoredPackage,
    mut arriving: group::Arriving<'_>,
) -> ApiResult<Added> {
    let StoredPackage {
        filename,
        hints,
        digests,
        mut copy,
    } = stored;
    loop {
        let config = &assumed.config;
        let outcome = async {
            quota::check_size(config, digests.size)?;
            // Cheap check before analysis: an identical repeat or a clash by name.
            if let Some(added) =
                already_added(app, repo, &filename, &digests.sha256, &mut arriving).await?
            {
                return Ok(Some(added));
            }
            let (record, analysis) =
                analyze::analyze_unstored(app, config, &filename, &digests, &hints, copy.take())
                    .await?;
            let unchecked = (!assumed.checked).then(|| config.clone());
            commit_analyzed(app, repo, record, analysis, &mut arriving, unchecked).await
        }
        .await;
        let now = match outcome {
            Ok(Some(added)) => return Ok(added),
            // Committed nothing: the settings changed since the request took them.
            Ok(None) => repo::config_of(app, repo).await?,
            Err(e) if e.status.is_client_error() => {
                match repo::changed_since(app, repo, &assumed).await? {
                    Some(now) => now,
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        assumed = repo::Assumed {
            config: now,
            checked: true,
        };
    }
}

/// Steps 1-4 for a package the generator names from its content (Vieter's publish: the
/// client sends no file name). The repo is created with default settings on first use; the
/// package is analyzed once, under a provisional name, with `hint` asking `generator` to
/// name it, and committed under the last segment of the entry's published path.
pub async fn add_named_by_generator(
    app: &App,
    repo: &str,
    generator: &str,
    hint: Hint,
    stream: crate::body::ByteStream,
) -> ApiResult<Added> {
    const PROVISIONAL: &str = "upload";
    let mut arriving = group::Arriving::new(app, repo);
    let config = match load_config(app, repo).await {
        Ok(c) => c,
        Err(e) if e.status == http::StatusCode::NOT_FOUND => {
            create_repo(app, repo, Settings::default()).await?.repo
        }
        Err(e) => return Err(e),
    };
    let (stream, cut) = quota::capped(&config, stream);
    let (digests, copy) =
        store::store_copied(app, repo, PROVISIONAL, std::slice::from_ref(&hint), stream)
            .await
            .map_err(|e| cut.explain(&config, e))?;
    let (mut record, analysis) =
        analyze::analyze_unstored(app, &config, PROVISIONAL, &digests, &[hint], copy).await?;
    let named = record
        .entries
        .get(generator)
        .and_then(|es| es.first())
        .and_then(|e| e.path.rsplit('/').next())
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let Some(filename) = named else {
        return Err(ApiError::unprocessable(
            &format!("not a {generator} package"),
            format!("the {generator} generator does not claim this file"),
        ));
    };
    crate::names::check_filename(&filename)?;
    // The hint asked for the name; it is not the package's.
    record.hints.clear();
    record.filename = filename;
    if let Some(added) =
        already_added(app, repo, &record.filename, &record.sha256, &mut arriving).await?
    {
        return Ok(added);
    }
    commit_analyzed(app, repo, record, analysis, &mut arriving, None)
        .await?
        .ok_or_else(|| ApiError::internal("a commit under settings read now was sent back"))
}

/// The package already under `filename`: the same bytes answer as added (not new), other
/// bytes are a conflict.
async fn already_added(
    app: &App,
    repo: &str,
    filename: &str,
    sha256: &str,
    arriving: &mut group::Arriving<'_>,
) -> ApiResult<Option<Added>> {
    // The head this process knows answers "not there" without a store read (a head read on
    // every upload was one of its requests on DynamoDB): the commit's clash rules run on the
    // current head anyway. "There" may be stale (removed meanwhile), so it is read again.
    if head::last_known_lists(app, repo, filename) == Some(false) {
        return Ok(None);
    }
    let (head, _) = load_head(app, repo).await?;
    let Some(old) = head.packages.get(filename) else {
        return Ok(None);
    };
    if old.sha256 != sha256 {
        return Err(record::exists_with_other_content(filename, &old.sha256));
    }
    arriving.leave();
    let published = ensure_published(app, repo, head.seq).await?;
    Ok(Some(Added {
        package: old.clone(),
        generation: published.generation,
        new: false,
    }))
}

/// Steps 3-4 for an analyzed record: sign the package, commit, publish.
/// `analysis`: the bytes of the analysis `record` names, not stored yet (its commit does).
/// `unchecked`: the settings it was analyzed under, when the request did not read them: the
/// commit checks them, and None answers that they changed (nothing was committed).
async fn commit_analyzed(
    app: &App,
    repo: &str,
    mut record: PackageRecord,
    analysis: bytes::Bytes,
    arriving: &mut group::Arriving<'_>,
    unchecked: Option<Arc<RepoConfig>>,
) -> ApiResult<Option<Added>> {
    record.signature = sign_package(app, repo, &record).await?;
    let committed = commit_record(app, repo, record.clone(), Some(analysis), unchecked).await;
    arriving.leave();
    let Some(group::Committed {
        seq,
        new,
        published,
    }) = committed?
    else {
        return Ok(None);
    };
    let published = match published {
        Some(p) if p.covers >= seq => p,
        _ => group::publish_committed(app, repo, seq).await?,
    };
    // Read your writes: a 2xx says the package is listed, so its format must have published.
    if let Some(why) = record.entries.keys().find_map(|g| published.faults.get(g)) {
        return Err(ApiError::unpublished(format!(
            "{why}; the package is committed (generation {}) and is listed once its \
             generator publishes again",
            published.generation
        )));
    }
    Ok(Some(Added {
        package: record,
        generation: published.generation,
        new,
    }))
}

/// Waits a random, growing while before retrying a lost compare-and-set.
async fn jitter(app: &App, attempt: u32) {
    let max_ms = (2u64 << attempt.min(6)).min(100);
    let ms = rand::thread_rng().gen_range(0..=max_ms);
    app.runtime.sleep(Duration::from_millis(ms)).await;
}

/// Serializes a value the protocol writes (a head, a manifest, an analysis, ...).
pub(crate) fn to_json(v: &impl serde::Serialize) -> ApiResult<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| ApiError::internal(format!("encoding JSON: {e}")))
}
