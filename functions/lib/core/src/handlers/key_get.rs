//! `GET /repos/{repo}/key.asc`: the armored OpenPGP key that signs the repo's metadata.
use crate::app::App;
use crate::body::{Body, Response};
use crate::commit::public_key;
use crate::error::ApiResult;

pub async fn get(app: &App, repo: &str) -> ApiResult<Response> {
    Ok(http::Response::builder()
        .header(http::header::CONTENT_TYPE, "application/pgp-keys")
        .body(Body::from(public_key(app, repo).await?))
        .expect("valid response"))
}
