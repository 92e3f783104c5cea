//! `POST /repos/{repo}/uploads/{id}`: analyze and commit a large upload's stored bytes,
//! exactly as a direct upload would.
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
    let state: UploadState = serde_json::from_slice(&v.value).map_err(anyhow::Error::from)?;
    let d = state.digests.ok_or_else(|| {
        ApiError::conflict(format!("upload {id} has no bytes yet: PUT them first"))
    })?;
    let resp = super::package_add::respond(app, repo, &state.filename, &d, &state.hints).await?;
    let _ = app.meta.delete_if(&key, v.version).await?;
    Ok(resp)
}
