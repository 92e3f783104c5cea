//! `POST /repos/{repo}/disable`: stop serving the repo's trees (404 with a JSON body saying
//! so); its data, API and client files (`enabled=0`) stay.
use crate::app::App;
use crate::body::Response;
use crate::commit::{update_properties, Properties};
use crate::error::ApiResult;

pub async fn post(app: &App, repo: &str) -> ApiResult<Response> {
    let off = Properties {
        enabled: Some(false),
        ..Default::default()
    };
    super::ok_json(&update_properties(app, repo, off).await?)
}
