//! `GET /repos/`: every repo with its settings.
use crate::app::App;
use crate::body::Response;
use crate::commit::load_config;
use crate::error::ApiResult;
use crate::model::keys;

pub async fn get(app: &App) -> ApiResult<Response> {
    let mut repos = Vec::new();
    for key in app.meta.list(keys::REPO_PREFIX).await? {
        let Some(name) = key
            .strip_prefix(keys::REPO_PREFIX)
            .and_then(|k| k.strip_suffix("/config"))
        else {
            continue;
        };
        if let Ok(c) = load_config(app, name).await {
            repos.push(c);
        }
    }
    Ok(crate::json_response(
        http::StatusCode::OK,
        &serde_json::json!({ "repos": repos }),
    ))
}
