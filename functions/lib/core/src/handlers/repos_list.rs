//! `GET /repos/`: every repo with its settings.
use crate::app::App;
use crate::body::Response;
use crate::commit::list_repos;
use crate::error::ApiResult;

pub async fn get(app: &App) -> ApiResult<Response> {
    super::ok_json(&serde_json::json!({ "repos": list_repos(app).await? }))
}
