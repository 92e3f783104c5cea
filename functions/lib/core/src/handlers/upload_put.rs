//! `PUT /repos/{repo}/uploads/{id}`: the bytes of a large upload, streamed into the
//! package store (this server's stand-in for a presigned storage PUT).
use super::upload_start::UploadState;
use crate::app::App;
use crate::body::{Request, Response};
use crate::error::{ApiError, ApiResult};
use crate::model::keys;

pub async fn put(app: &App, repo: &str, id: &str, req: Request) -> ApiResult<Response> {
    let key = keys::upload(repo, id);
    let v = app
        .meta
        .get(&key)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no upload {id} in repo {repo}")))?;
    let mut state: UploadState = serde_json::from_slice(&v.value).map_err(anyhow::Error::from)?;
    let d = app.packages.put(req.into_body().into_stream()).await?;
    if d.size == 0 {
        return Err(ApiError::bad_request("empty body: send the package file"));
    }
    state.digests = Some(d.clone());
    let value = serde_json::to_vec(&state).map_err(anyhow::Error::from)?;
    app.meta
        .put_if(&key, value.into(), Some(v.version))
        .await?
        .map_err(|_| ApiError::conflict(format!("upload {id} changed meanwhile")))?;
    Ok(crate::json_response(
        http::StatusCode::OK,
        &serde_json::json!({ "id": id, "size": d.size, "sha256": d.sha256 }),
    ))
}
