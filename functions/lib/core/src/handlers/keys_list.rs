//! `GET /repos/{repo}/keys/`: the repo's signing keys (fingerprints, dates, state; never a
//! secret).
use crate::app::App;
use crate::body::Response;
use crate::commit::list_keys;
use crate::error::ApiResult;

pub async fn get(app: &App, repo: &str) -> ApiResult<Response> {
    super::ok_json(&list_keys(app, repo).await?)
}
