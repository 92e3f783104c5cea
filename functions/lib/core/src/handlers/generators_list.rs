//! `GET /generators/`: the loaded generators, each with its health in this process (faults,
//! quarantine: see `health`), and the files the loader refused (a local server's folders).
use crate::app::App;
use crate::body::Response;
use crate::error::ApiResult;
use crate::health;

pub async fn get(app: &App) -> ApiResult<Response> {
    let gens: Vec<_> = app
        .generators()
        .iter()
        .map(|g| {
            let mut v = serde_json::to_value(g.info()).unwrap_or_default();
            v["health"] = serde_json::to_value(health::of(app, &g.info().name)).unwrap_or_default();
            v
        })
        .collect();
    let refused = app.loader.as_ref().map(|l| l.refused()).unwrap_or_default();
    Ok(crate::json_response(
        http::StatusCode::OK,
        &serde_json::json!({ "generators": gens, "refused": refused }),
    ))
}
