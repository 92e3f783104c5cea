//! `GET /repos/{repo}/` and `GET /repos/{repo}/packages/`: the repo's packages.
use crate::app::App;
use crate::body::Response;
use crate::commit::packages;
use crate::error::ApiResult;

pub async fn get(app: &App, repo: &str) -> ApiResult<Response> {
    super::ok_json(&packages(app, repo).await?)
}
