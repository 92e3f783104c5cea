//! `GET /ui/assets/{name}`: the web interface's stylesheet and script, compiled in. The name
//! holds the content hash, so an answer is cached for a year (`immutable`).
use crate::body::{Body, Response};
use crate::error::{ApiError, ApiResult};

pub fn get(name: &str) -> ApiResult<Response> {
    let Some(a) = crate::ui::assets().iter().find(|a| a.name == name) else {
        return Err(ApiError::not_found(format!("no asset {name:?}")));
    };
    Ok(crate::ui::secure(
        http::Response::builder()
            .header(http::header::CONTENT_TYPE, a.content_type)
            .header(
                http::header::CACHE_CONTROL,
                "public, max-age=31536000, immutable",
            )
            .header(http::header::ETAG, format!("\"{}\"", a.name))
            .body(Body::from(bytes::Bytes::from_static(a.body.as_bytes())))
            .expect("valid response"),
    ))
}
