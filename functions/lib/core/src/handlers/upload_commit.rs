//! `POST /repos/{repo}/uploads/{id}`: analyze and commit a large upload's stored bytes,
//! exactly as a direct upload would (201 new, 200 the same bytes again).
use crate::app::App;
use crate::body::Response;
use crate::commit::commit_upload;
use crate::error::ApiResult;

pub async fn post(app: &App, repo: &str, id: &str) -> ApiResult<Response> {
    Ok(super::added_response(commit_upload(app, repo, id).await?))
}
