//! `POST /generators/{name}/enable` (admin): lifts the quarantine of a generator that faulted
//! too often in a row (see `health`). Its format publishes again with the next write to each
//! repo.
use crate::app::App;
use crate::body::Response;
use crate::error::{ApiError, ApiResult};
use crate::health;

pub async fn post(app: &App, name: &str) -> ApiResult<Response> {
    if !app.generators().iter().any(|g| g.info().name == name) {
        return Err(ApiError::not_found(format!("no generator {name}")));
    }
    let was = health::enable(app, name);
    Ok(crate::json_response(
        http::StatusCode::OK,
        &serde_json::json!({ "generator": name, "was_quarantined": was, "health": health::of(app, name) }),
    ))
}
