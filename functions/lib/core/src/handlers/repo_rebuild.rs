//! `TRACE /repos/{repo}/` and `POST /repos/{repo}/rebuild`: re-analyze every stored
//! package with the current generators and publish a new generation.
use crate::app::App;
use crate::body::Response;
use crate::commit::rebuild as rebuild_repo;
use crate::error::ApiResult;

pub async fn rebuild(app: &App, repo: &str) -> ApiResult<Response> {
    super::ok_json(&rebuild_repo(app, repo).await?)
}
