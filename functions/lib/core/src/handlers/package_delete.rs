//! `DELETE /repos/{repo}/packages/{package}`: remove the package and republish.
use crate::app::App;
use crate::body::Response;
use crate::commit::remove;
use crate::error::ApiResult;

pub async fn delete(app: &App, repo: &str, filename: &str) -> ApiResult<Response> {
    let r = remove(app, repo, filename).await?;
    super::ok_json(&serde_json::json!({ "removed": filename, "generation": r.generation }))
}
