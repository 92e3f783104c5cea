//! `DELETE /repos/{repo}/snapshots/{name}`: the snapshot goes; GC may then take what only it
//! kept.
use crate::app::App;
use crate::body::Response;
use crate::commit::delete_snapshot;
use crate::error::ApiResult;

pub async fn delete(app: &App, repo: &str, name: &str) -> ApiResult<Response> {
    let snap = delete_snapshot(app, repo, name).await?;
    super::ok_json(&serde_json::json!({ "deleted": snap.name }))
}
