//! `POST /repos/{repo}/`: create a repo. Optional JSON body: description, suite,
//! component, architectures, options, and the limits `max_upload`, `quota_bytes`,
//! `quota_packages`, `generators`. The same settings again are a no-op (200).
use super::json_body;
use crate::app::App;
use crate::body::{Request, Response};
use crate::commit::{create_repo, Settings};
use crate::error::ApiResult;

pub async fn post(app: &App, repo: &str, req: Request) -> ApiResult<Response> {
    let raw: serde_json::Value = json_body(req, "repo settings").await?;
    let settings = Settings::from_json(raw)?;
    let created = create_repo(app, repo, settings).await?;
    let status = if created.new {
        http::StatusCode::CREATED
    } else {
        http::StatusCode::OK
    };
    Ok(crate::json_response(status, &created))
}
