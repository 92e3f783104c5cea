//! `GET /`: what this is and where to look.
use crate::app::App;
use crate::body::Response;
use crate::error::ApiResult;

pub async fn get(app: &App) -> ApiResult<Response> {
    let gens: Vec<_> = app
        .generators()
        .iter()
        .map(|g| g.info().name.clone())
        .collect();
    Ok(crate::json_response(
        http::StatusCode::OK,
        &serde_json::json!({
            "service": "reposmith",
            "version": env!("CARGO_PKG_VERSION"),
            "generators": gens,
            "repos": "/repos/",
        }),
    ))
}
