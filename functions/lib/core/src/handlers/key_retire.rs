//! `DELETE /repos/{repo}/keys/{fingerprint}`: a replaced key stops signing and leaves
//! `key.asc` now, before its overlap ends.
use crate::app::App;
use crate::body::Response;
use crate::commit::retire;
use crate::error::ApiResult;

pub async fn delete(app: &App, repo: &str, fingerprint: &str) -> ApiResult<Response> {
    super::ok_json(&retire(app, repo, fingerprint).await?)
}
