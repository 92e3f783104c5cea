//! `GET /repos/{repo}/config/`: the client configuration files the repo's generators make,
//! with their URLs, and the signing key's URL and fingerprint (what `manage-repo host add`
//! checks a downloaded key against).
use crate::app::App;
use crate::body::{Request, Response};
use crate::client::{files, listing, request_base};
use crate::error::ApiResult;

pub async fn get(app: &App, repo: &str, req: Request) -> ApiResult<Response> {
    let (parts, _) = req.into_parts();
    let base = request_base(&parts, repo);
    let made = files(app, repo, &base).await?;
    super::ok_json(&listing(repo, &made, &format!("{base}/config")))
}
