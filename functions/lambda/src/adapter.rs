//! `lambda_http` request/response ⇄ the core's `http` types. Nothing else happens here.
use lambda_http::Body as LBody;
use reposmith_core::{Body, Request, Response};

/// Lambda answers at most 6 MB of JSON, and binary bodies travel base64-encoded in it: keep
/// raw bodies under this (the core redirects large package files to presigned S3 URLs).
pub const MAX_RESPONSE: usize = 4_400_000;

pub fn to_core(req: lambda_http::Request) -> Request {
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;
    // API Gateway's view of the caller, for per-client rate limits and the audit log.
    let client = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => c.http.source_ip.as_deref(),
        _ => None,
    }
    .and_then(|ip| ip.parse().ok())
    .map(reposmith_core::throttle::ClientAddr);
    let (mut parts, body) = req.into_parts();
    if let Some(c) = client {
        parts.extensions.insert(c);
    }
    let body = match body {
        LBody::Empty => Body::Empty,
        LBody::Text(s) => Body::Bytes(s.into()),
        LBody::Binary(b) => Body::Bytes(b.into()),
        // `Body` is non-exhaustive upstream: nothing else exists today.
        #[allow(unreachable_patterns)]
        _ => Body::Empty,
    };
    http::Request::from_parts(parts, body)
}

fn is_text(parts: &http::response::Parts) -> bool {
    parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json") || c.starts_with("text/"))
}

pub async fn from_core(resp: Response) -> http::Response<LBody> {
    let (parts, body) = resp.into_parts();
    let bytes = match body.collect(MAX_RESPONSE).await {
        Ok(b) => b,
        Err(e) => return error(502, "response too large for Lambda", &e.to_string()),
    };
    let body = if bytes.is_empty() {
        LBody::Empty
    } else if is_text(&parts) {
        match String::from_utf8(bytes.to_vec()) {
            Ok(s) => LBody::Text(s),
            Err(e) => LBody::Binary(e.into_bytes()),
        }
    } else {
        LBody::Binary(bytes.to_vec())
    };
    http::Response::from_parts(parts, body)
}

pub fn error(status: u16, error: &str, detail: &str) -> http::Response<LBody> {
    let v = serde_json::json!({ "error": error, "detail": detail });
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(LBody::Text(v.to_string()))
        .expect("valid response")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(ctype: &str, body: Body) -> Response {
        http::Response::builder()
            .header(http::header::CONTENT_TYPE, ctype)
            .body(body)
            .unwrap()
    }

    #[tokio::test]
    async fn bodies_keep_their_bytes() {
        // Binary index files must travel base64-encoded (Body::Binary), JSON as text.
        let gz = vec![0x1f, 0x8b, 0, 0xff, 0xfe];
        let r = from_core(resp("application/gzip", Body::from(gz.clone()))).await;
        assert!(matches!(r.body(), LBody::Binary(b) if *b == gz));
        let r = from_core(resp(
            "application/json",
            Body::from("{\"a\":1}".to_string()),
        ))
        .await;
        assert!(matches!(r.body(), LBody::Text(t) if t == "{\"a\":1}"));
        let r = from_core(resp("text/plain", Body::from(vec![0xff, 0xfe]))).await;
        assert!(
            matches!(r.body(), LBody::Binary(_)),
            "non-UTF-8 text stays bytes"
        );
        let r = from_core(resp("application/octet-stream", Body::Empty)).await;
        assert!(matches!(r.body(), LBody::Empty));
        // Past Lambda's response cap: a clear error instead of a failed invocation.
        let big = vec![0u8; MAX_RESPONSE + 1];
        let r = from_core(resp("application/octet-stream", Body::from(big))).await;
        assert_eq!(r.status(), 502);

        let req = http::Request::builder()
            .method("POST")
            .uri("/repos/r/packages/?filename=a%2Bb.deb")
            .body(LBody::Binary(gz.clone()))
            .unwrap();
        let core = to_core(req);
        assert_eq!(core.uri().query(), Some("filename=a%2Bb.deb"));
        let got = core.into_body().collect(1 << 20).await.unwrap();
        assert_eq!(&got[..], &gz[..]);
    }
}
