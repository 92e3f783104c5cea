//! `GET /openapi.json`: the REST API described as an OpenAPI 3 document, kept in
//! `src/openapi.json` and checked against `routes` and the dispatcher by the tests in
//! `crate::openapi`.
use crate::body::{Body, Response};
use crate::error::ApiResult;

pub fn get() -> ApiResult<Response> {
    Ok(http::Response::builder()
        .status(http::StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(bytes::Bytes::from_static(
            crate::openapi::DOCUMENT.as_bytes(),
        )))
        .expect("valid response"))
}
