//! `POST /generators/` (admin): the body is a generator .wasm. It is checked against the
//! contract, compiled and kept by the target's loader, and live for the next request. A
//! generator with the same name is replaced; another name on a taken mount is refused.
use crate::app::App;
use crate::body::{Request, Response};
use crate::error::{ApiError, ApiResult};

const MAX_WASM: usize = 64 << 20;

pub async fn post(app: &App, req: Request) -> ApiResult<Response> {
    let loader = app.loader.clone().ok_or_else(|| {
        ApiError::new(
            http::StatusCode::NOT_IMPLEMENTED,
            "not supported",
            "this deployment loads generators at start only",
        )
    })?;
    let wasm = req
        .into_body()
        .collect(MAX_WASM)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if wasm.is_empty() {
        return Err(ApiError::bad_request("empty body: send a generator .wasm"));
    }
    let g = app
        .blocking(move || loader.load(&wasm))
        .await
        .map_err(|e| ApiError::unprocessable("invalid generator", format!("{e:#}")))?;
    let info = g.info().clone();
    {
        let mut gens = app.generators.write().unwrap();
        if let Some(other) = gens
            .iter()
            .find(|o| o.info().mount == info.mount && o.info().name != info.name)
        {
            return Err(ApiError::conflict(format!(
                "mount {} is taken by generator {}",
                info.mount,
                other.info().name
            )));
        }
        gens.retain(|o| o.info().name != info.name);
        gens.push(g);
    }
    Ok(crate::json_response(
        http::StatusCode::CREATED,
        &serde_json::json!({ "generator": info }),
    ))
}
