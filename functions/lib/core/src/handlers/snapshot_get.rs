//! `GET /repos/{repo}/snapshots/{name}`: one snapshot.
use crate::app::App;
use crate::body::Response;
use crate::commit::{load_config, snapshot};
use crate::error::ApiResult;

pub async fn get(app: &App, repo: &str, name: &str) -> ApiResult<Response> {
    load_config(app, repo).await?;
    super::ok_json(&snapshot(app, repo, name).await?)
}
