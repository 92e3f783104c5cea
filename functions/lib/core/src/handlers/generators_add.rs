//! `POST /generators/` (admin): the body is a generator .wasm. It is checked against the
//! contract and compiled by the target's loader, installed (`registry`: the same name is
//! replaced, another name on a taken mount is refused), kept by the loader only then, and
//! live for the next request.
use crate::app::App;
use crate::body::{Request, Response};
use crate::error::{ApiError, ApiResult};
use crate::registry;

const MAX_WASM: usize = 64 << 20;

pub async fn post(app: &App, req: Request) -> ApiResult<Response> {
    let loader = registry::loader(app)?;
    let wasm = req
        .into_body()
        .collect(MAX_WASM)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if wasm.is_empty() {
        return Err(ApiError::bad_request("empty body: send a generator .wasm"));
    }
    let invalid = |e: anyhow::Error| ApiError::unprocessable("invalid generator", format!("{e:#}"));
    let (l, w) = (loader.clone(), wasm.clone());
    let g = app.blocking(move || l.load(&w)).await.map_err(invalid)?;
    // A refused generator is never persisted: check, keep, then install.
    registry::check(app, g.info())?;
    let kept = g.clone();
    app.blocking(move || loader.keep(&kept, &wasm))
        .await
        .map_err(|e| invalid(e.context("storing the generator (it was valid)")))?;
    let info = registry::install(app, g)?;
    Ok(crate::json_response(
        http::StatusCode::CREATED,
        &serde_json::json!({ "generator": info }),
    ))
}
