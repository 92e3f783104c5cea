//! `GET /repos/{repo}/snapshots/`: the repo's snapshots, by name.
use crate::app::App;
use crate::body::Response;
use crate::commit::snapshots;
use crate::error::ApiResult;

pub async fn get(app: &App, repo: &str) -> ApiResult<Response> {
    super::ok_json(&serde_json::json!({ "snapshots": snapshots(app, repo).await? }))
}
