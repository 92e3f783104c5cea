//! `GET/HEAD /repos/{repo}/{mount}/...`: a generator's published tree (apt `dist/`,
//! `repodata/`, `pacman/`, ...), resolved through the current generation's manifest.
use crate::app::App;
use crate::body::Response;
use crate::commit::resolve_in;
use crate::error::ApiResult;

pub async fn get(app: &App, repo: &str, path: &str, head_only: bool) -> ApiResult<Response> {
    let blob = resolve_in(app, repo, path).await?;
    crate::blob_response(app, &blob, path, head_only).await
}
