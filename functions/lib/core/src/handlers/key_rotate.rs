//! `POST /repos/{repo}/keys/`: a new signing key for the repo (made, or `{"key": ARMORED}`
//! imported); the replaced one keeps signing `{"overlap": SECONDS}` (default 30 days).
use crate::app::App;
use crate::body::{Request, Response};
use crate::commit::{rotate, Rotation};
use crate::error::ApiResult;

pub async fn post(app: &App, repo: &str, req: Request) -> ApiResult<Response> {
    let how: Rotation = super::json_body(req, "key rotation").await?;
    super::ok_json(&rotate(app, repo, how).await?)
}
