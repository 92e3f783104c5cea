//! `POST /repos/{repo}/uploads/{id}`: analyze and commit a large upload's stored bytes,
//! exactly as a direct upload would. Bytes that went to a presigned storage URL are adopted
//! into the blob space (hashed on the way) first.
use super::upload_start::UploadState;
use crate::app::App;
use crate::body::Response;
use crate::error::{ApiError, ApiResult};
use crate::model::keys;

pub async fn post(app: &App, repo: &str, id: &str) -> ApiResult<Response> {
    let key = keys::upload(repo, id);
    let v = app
        .meta
        .get(&key)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no upload {id} in repo {repo}")))?;
    let mut state: UploadState = serde_json::from_slice(&v.value).map_err(anyhow::Error::from)?;
    let mut version = v.version;
    let d = match state.digests.clone() {
        Some(d) => d,
        // Bytes PUT straight into storage (presigned URL): take them into the blob space,
        // and note their digests so that a retried commit (after a 422, say) finds them.
        None => {
            let d = match app.packages.adopt(id).await? {
                Some(d) if d.size > 0 => d,
                Some(_) => return Err(ApiError::bad_request("empty upload: PUT the package file")),
                None => {
                    return Err(ApiError::conflict(format!(
                        "upload {id} has no bytes yet: PUT them first"
                    )))
                }
            };
            state.digests = Some(d.clone());
            let value = serde_json::to_vec(&state).map_err(anyhow::Error::from)?;
            version = app
                .meta
                .put_if(&key, value.into(), Some(version))
                .await?
                .map_err(|_| ApiError::conflict(format!("upload {id} changed meanwhile")))?;
            d
        }
    };
    let resp = super::package_add::respond(app, repo, &state.filename, &d, &state.hints).await?;
    let _ = app.meta.delete_if(&key, version).await?;
    Ok(resp)
}
