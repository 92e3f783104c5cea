//! `GET /generators/`: the loaded generators.
use crate::app::App;
use crate::body::Response;
use crate::error::ApiResult;

pub async fn get(app: &App) -> ApiResult<Response> {
    let infos: Vec<_> = app.generators().iter().map(|g| g.info().clone()).collect();
    Ok(crate::json_response(
        http::StatusCode::OK,
        &serde_json::json!({ "generators": infos }),
    ))
}
