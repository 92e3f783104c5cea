//! `GET /`: what this is and where to look; a browser (`Accept: text/html`) is sent to the
//! web interface (`/ui/`).
use crate::app::App;
use crate::body::{Body, Response};
use crate::error::ApiResult;

pub async fn get(app: &App, headers: &http::HeaderMap) -> ApiResult<Response> {
    if crate::ui::wants_html(headers) {
        // Relative: behind a proxy's path prefix, the interface is under the same prefix.
        return Ok(crate::ui::secure(
            http::Response::builder()
                .status(http::StatusCode::SEE_OTHER)
                .header(http::header::LOCATION, "ui/")
                .header(http::header::VARY, "accept")
                .body(Body::Empty)
                .expect("valid response"),
        ));
    }
    let gens: Vec<_> = app
        .generators()
        .iter()
        .map(|g| g.info().name.clone())
        .collect();
    let mut resp = crate::json_response(
        http::StatusCode::OK,
        &serde_json::json!({
            "service": "reposmith",
            "version": env!("CARGO_PKG_VERSION"),
            "generators": gens,
            "repos": "/repos/",
            "ui": "/ui/",
        }),
    );
    resp.headers_mut()
        .insert(http::header::VARY, http::HeaderValue::from_static("accept"));
    Ok(resp)
}
