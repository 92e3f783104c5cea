//! Step 1 for a large upload (Lambda caps request bodies at 6 MB), in three requests:
//! start (an id, and where to PUT the bytes), the bytes (here, or straight into storage by a
//! presigned URL), commit (steps 2-4, exactly as a direct upload). The upload's state is a
//! metadata key until it commits.
use super::store::{non_empty, store_bytes};
use super::{add_stored, load_config, to_json, Added};
use crate::app::App;
use crate::body::ByteStream;
use crate::digest::Digests;
use crate::error::{ApiError, ApiResult};
use crate::generator::Hint;
use crate::model::keys;
use crate::names::{check_filename, check_repo_name, check_upload_id, is_repo_name};
use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Default)]
struct UploadState {
    filename: String,
    hints: Vec<Hint>,
    created: u64,
    /// Set once the bytes are stored.
    digests: Option<Digests>,
}

/// Where the client sends the bytes, and where it commits them.
#[derive(Serialize)]
pub struct Started {
    pub id: String,
    pub method: &'static str,
    /// A presigned storage URL where the store has one (`presigned`: send it without the
    /// token), else this server's own `PUT` on the commit URL.
    pub url: String,
    pub presigned: bool,
    pub commit: String,
}

pub async fn start_upload(
    app: &App,
    repo: &str,
    filename: String,
    hints: Vec<Hint>,
) -> ApiResult<Started> {
    check_repo_name(repo)?;
    load_config(app, repo).await?;
    check_filename(&filename)?;
    let id = hex::encode(rand::thread_rng().gen::<[u8; 16]>());
    let state = UploadState {
        filename,
        hints,
        created: app.now(),
        digests: None,
    };
    app.meta
        .put_if(&keys::upload(repo, &id), to_json(&state)?.into(), None)
        .await?
        .map_err(|_| ApiError::internal("upload id collision"))?;
    let commit = format!("/repos/{repo}/uploads/{id}");
    // Straight into storage where it hands out URLs (S3: no size cap, no bytes through the
    // function); else through this server's own `PUT` on the commit URL.
    let (url, presigned) = match app.packages.presigned_put(&id).await? {
        Some(u) => (u, true),
        None => (commit.clone(), false),
    };
    Ok(Started {
        id,
        method: "PUT",
        url,
        presigned,
        commit,
    })
}

/// The bytes of a large upload, as stored.
#[derive(Serialize)]
pub struct UploadStored {
    pub id: String,
    pub size: u64,
    pub sha256: String,
}

/// Streams a large upload's bytes into the package store (this server's stand-in for a
/// presigned storage PUT).
pub async fn put_upload(
    app: &App,
    repo: &str,
    id: &str,
    body: ByteStream,
) -> ApiResult<UploadStored> {
    let (mut state, version) = load_upload(app, repo, id).await?;
    let d = store_bytes(app, repo, &state.filename, &state.hints, body).await?;
    state.digests = Some(d.clone());
    save_upload(app, repo, id, &state, version).await?;
    Ok(UploadStored {
        id: id.to_string(),
        size: d.size,
        sha256: d.sha256,
    })
}

/// Analyzes, commits and publishes a large upload's stored bytes; then the upload is gone.
/// Bytes that went to a presigned storage URL are adopted into the blob space (hashed on the
/// way) first, and their digests noted so that a retried commit (after a 422, say) finds them.
pub async fn commit_upload(app: &App, repo: &str, id: &str) -> ApiResult<Added> {
    let up = stored_upload(app, repo, id).await?;
    let added = add_stored(app, repo, &up.filename, &up.digests, &up.hints).await?;
    let _ = app
        .meta
        .delete_if(&keys::upload(repo, id), up.version)
        .await?;
    Ok(added)
}

/// A large upload whose bytes are stored, ready to commit.
pub(super) struct StoredUpload {
    pub filename: String,
    pub hints: Vec<Hint>,
    pub digests: Digests,
    /// The version of its state key, to delete it once committed.
    pub version: u64,
}

/// The stored bytes of upload `id` (adopted from a presigned PUT first if need be).
pub(super) async fn stored_upload(app: &App, repo: &str, id: &str) -> ApiResult<StoredUpload> {
    let (mut state, mut version) = load_upload(app, repo, id).await?;
    let d = match state.digests.clone() {
        Some(d) => d,
        None => {
            let d = match app.packages.adopt(id).await? {
                Some(d) => non_empty(d)
                    .map_err(|_| ApiError::bad_request("empty upload: PUT the package file"))?,
                None => {
                    return Err(ApiError::conflict(format!(
                        "upload {id} has no bytes yet: PUT them first"
                    )))
                }
            };
            state.digests = Some(d.clone());
            version = save_upload(app, repo, id, &state, version).await?;
            d
        }
    };
    Ok(StoredUpload {
        filename: state.filename,
        hints: state.hints,
        digests: d,
        version,
    })
}

/// Drops a committed upload's state.
pub(super) async fn forget_upload(app: &App, repo: &str, id: &str) -> ApiResult<()> {
    let (_, version) = load_upload(app, repo, id).await?;
    let _ = app.meta.delete_if(&keys::upload(repo, id), version).await?;
    Ok(())
}

async fn load_upload(app: &App, repo: &str, id: &str) -> ApiResult<(UploadState, u64)> {
    check_upload_id(id)?;
    let missing = || ApiError::not_found(format!("no upload {id} in repo {repo}"));
    if !is_repo_name(repo) {
        return Err(missing());
    }
    let v = app
        .meta
        .get(&keys::upload(repo, id))
        .await?
        .ok_or_else(missing)?;
    let state = serde_json::from_slice(&v.value)
        .map_err(|e| ApiError::internal(format!("corrupt upload {id}: {e}")))?;
    Ok((state, v.version))
}

/// Compare-and-set of the upload's state; returns its new version.
async fn save_upload(
    app: &App,
    repo: &str,
    id: &str,
    state: &UploadState,
    version: u64,
) -> ApiResult<u64> {
    app.meta
        .put_if(
            &keys::upload(repo, id),
            to_json(state)?.into(),
            Some(version),
        )
        .await?
        .map_err(|_| ApiError::conflict(format!("upload {id} changed meanwhile")))
}
