//! `POST /repos/{repo}/enable`: serve the repo's trees again (the generation they had).
use crate::app::App;
use crate::body::Response;
use crate::commit::{update_properties, Properties};
use crate::error::ApiResult;

pub async fn post(app: &App, repo: &str) -> ApiResult<Response> {
    let on = Properties {
        enabled: Some(true),
        ..Default::default()
    };
    super::ok_json(&update_properties(app, repo, on).await?)
}
