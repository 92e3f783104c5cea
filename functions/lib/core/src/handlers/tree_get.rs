//! `GET/HEAD /repos/{repo}/{mount}/...`: a generator's published tree (apt `dist/`,
//! `repodata/`, `pacman/`, ...), resolved through the current generation's manifest.
use crate::app::App;
use crate::body::Response;
use crate::commit::{load_config, resolve};
use crate::error::{ApiError, ApiResult};

pub async fn get(app: &App, repo: &str, path: &str, head_only: bool) -> ApiResult<Response> {
    load_config(app, repo).await?;
    let blob = resolve(app, repo, path)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{path} is not published in repo {repo}")))?;
    crate::blob_response(app, &blob.sha256, blob.size, path, head_only).await
}
