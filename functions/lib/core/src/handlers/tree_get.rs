//! `GET/HEAD /repos/{repo}/{mount}/...`: a generator's published tree (apt `dist/`,
//! `repodata/`, `pacman/`, ...), resolved through the current generation's manifest, with
//! conditional and range requests (`crate::respond`).
use crate::app::App;
use crate::body::Response;
use crate::commit::resolve_served;
use crate::error::ApiResult;

pub async fn get(
    app: &App,
    repo: &str,
    path: &str,
    headers: &http::HeaderMap,
    head_only: bool,
) -> ApiResult<Response> {
    let served = resolve_served(app, repo, path).await?;
    crate::blob_response(app, &served.blob, path, headers, served.dates, head_only).await
}
