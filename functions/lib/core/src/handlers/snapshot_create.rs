//! `POST /repos/{repo}/snapshots/{name}`: freezes the current generation under `name`
//! (served read-only at `/repos/{repo}@{name}/`).
use crate::app::App;
use crate::body::Response;
use crate::commit::create_snapshot;
use crate::error::ApiResult;

pub async fn post(app: &App, repo: &str, name: &str) -> ApiResult<Response> {
    let snap = create_snapshot(app, repo, name).await?;
    Ok(crate::json_response(http::StatusCode::CREATED, &snap))
}
