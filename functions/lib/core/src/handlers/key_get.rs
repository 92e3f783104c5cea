//! `GET /repos/{repo}/key.asc`: the armored OpenPGP key that signs the repo's metadata.
use crate::app::App;
use crate::body::{Body, Response};
use crate::commit::load_config;
use crate::error::ApiResult;

pub async fn get(app: &App, repo: &str) -> ApiResult<Response> {
    load_config(app, repo).await?;
    Ok(http::Response::builder()
        .header(http::header::CONTENT_TYPE, "application/pgp-keys")
        .body(Body::from(app.signer.public_key()))
        .expect("valid response"))
}
