//! `DELETE /repos/{repo}/` (and Vieter's `DELETE /{repo}`): the repo, its records and its
//! published tree go; blobs are left for GC (the same bytes may live in another repo).
use crate::app::App;
use crate::body::Response;
use crate::commit::delete_repo;
use crate::error::ApiResult;

pub async fn delete(app: &App, repo: &str) -> ApiResult<Response> {
    super::ok_json(&delete_repo(app, repo).await?)
}
