//! `GET /repos/`: every repo with its settings (private ones only to who may read them).
use crate::app::App;
use crate::auth::{Caller, Scope};
use crate::body::Response;
use crate::commit::list_repos;
use crate::error::ApiResult;

pub async fn get(app: &App, caller: &Caller) -> ApiResult<Response> {
    let mut repos = list_repos(app).await?;
    repos.retain(|r| !r.private || caller.may(Scope::Read, Some(&r.name)));
    super::ok_json(&serde_json::json!({ "repos": repos }))
}
