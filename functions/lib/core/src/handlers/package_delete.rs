//! `DELETE /repos/{repo}/packages/{package}`: remove the package and republish.
use crate::app::App;
use crate::body::Response;
use crate::commit::remove;
use crate::error::ApiResult;

pub async fn delete(app: &App, repo: &str, filename: &str) -> ApiResult<Response> {
    let (rec, published) = remove(app, repo, filename).await?;
    Ok(crate::json_response(
        http::StatusCode::OK,
        &serde_json::json!({ "removed": rec.filename, "generation": published.generation }),
    ))
}
