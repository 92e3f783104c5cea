//! `PUT /repos/{repo}/`: set any subset of the repo's properties (title, description,
//! enabled, gpgcheck, repo_gpgcheck, gpgkey, baseurl, mirrors, url_args, suite, component,
//! architectures). An unknown field or a wrong type is a 422 naming it, and changes nothing.
use super::json_body;
use crate::app::App;
use crate::body::{Request, Response};
use crate::commit::{update_properties, Properties};
use crate::error::ApiResult;

pub async fn put(app: &App, repo: &str, req: Request) -> ApiResult<Response> {
    let raw: serde_json::Value = json_body(req, "repo properties").await?;
    let props = Properties::from_json(raw)?;
    super::ok_json(&update_properties(app, repo, props).await?)
}
