//! What one request may send: a body of at most `max_upload` bytes (refused with 413 from its
//! `Content-Length` before a byte is read, or as soon as a streamed body passes it), and
//! multipart parts other than the file of at most `max_field` bytes. A body that breaks off
//! (the client went away) is the client's fault: 400, never 500.
use crate::body::{Body, ByteStream, Request};
use crate::error::{ApiError, ApiResult};
use futures::StreamExt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes in one request body (a package upload is the largest).
    pub max_upload: u64,
    /// Bytes in one multipart part other than the file (`hints`, `filename`).
    pub max_field: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_upload: 2 << 30,
            max_field: 64 << 10,
        }
    }
}

/// How a request's body ended, when it ended badly.
#[derive(Default)]
pub struct Watch(AtomicU8);

const OVER: u8 = 1;
const BROKEN: u8 = 2;

impl Watch {
    /// A handler's error, told as the client's fault when the body caused it (a store or an
    /// upload that failed because the stream did is not a 500).
    pub fn explain(&self, e: ApiError, limits: &Limits) -> ApiError {
        match self.0.load(Ordering::Relaxed) {
            OVER => over(limits.max_upload),
            BROKEN if e.status.is_server_error() => {
                ApiError::bad_request(format!("the request body broke off: {}", e.detail))
            }
            _ => e,
        }
    }
}

fn over(max: u64) -> ApiError {
    ApiError::too_large(format!(
        "request body larger than {max} bytes (the server's --max-upload)"
    ))
}

/// Checks the declared size, and has the body count itself as it streams.
pub fn watch(req: Request, limits: &Limits) -> ApiResult<(Request, Arc<Watch>)> {
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_upload) {
        return Err(over(limits.max_upload));
    }
    let w = Arc::new(Watch::default());
    let (parts, body) = req.into_parts();
    let body = match body {
        Body::Bytes(b) if b.len() as u64 > limits.max_upload => {
            return Err(over(limits.max_upload))
        }
        Body::Stream(s) => Body::Stream(counted(s, limits.max_upload, w.clone())),
        other => other,
    };
    Ok((http::Request::from_parts(parts, body), w))
}

fn counted(stream: ByteStream, max: u64, w: Arc<Watch>) -> ByteStream {
    let mut seen = 0u64;
    stream
        .map(move |r| match r {
            Ok(b) => {
                seen += b.len() as u64;
                if seen > max {
                    w.0.store(OVER, Ordering::Relaxed);
                    return Err(std::io::Error::other(format!(
                        "request body larger than {max} bytes"
                    )));
                }
                Ok(b)
            }
            Err(e) => {
                w.0.store(BROKEN, Ordering::Relaxed);
                Err(e)
            }
        })
        .boxed()
}

/// A small multipart part, read whole but never past `max` bytes.
pub async fn small_field(mut field: multer::Field<'_>, max: usize) -> ApiResult<String> {
    let name = field.name().unwrap_or("").to_string();
    let mut buf = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| ApiError::bad_request(format!("multipart body: {e}")))?
    {
        if buf.len() + chunk.len() > max {
            return Err(ApiError::too_large(format!(
                "multipart part {name:?} is larger than {max} bytes"
            )));
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf)
        .map_err(|_| ApiError::bad_request(format!("multipart part {name:?} is not UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streamed(chunks: Vec<std::io::Result<bytes::Bytes>>, len: Option<u64>) -> Request {
        let mut b = http::Request::builder().method("POST").uri("/x");
        if let Some(n) = len {
            b = b.header(http::header::CONTENT_LENGTH, n);
        }
        b.body(Body::Stream(futures::stream::iter(chunks).boxed()))
            .unwrap()
    }

    fn limits(max_upload: u64) -> Limits {
        Limits {
            max_upload,
            max_field: 4,
        }
    }

    #[test]
    fn a_declared_size_over_the_limit_is_refused_before_reading() {
        let Err(e) = watch(streamed(vec![], Some(11)), &limits(10)) else {
            panic!("an 11-byte body passed a 10-byte limit");
        };
        assert_eq!(e.status, 413);
        assert!(watch(streamed(vec![], Some(10)), &limits(10)).is_ok());
    }

    #[test]
    fn a_stream_over_the_limit_fails_and_is_told_as_413() {
        let six = || Ok(bytes::Bytes::from_static(b"123456"));
        let chunks = vec![six(), six()];
        let Ok((req, w)) = watch(streamed(chunks, None), &limits(10)) else {
            panic!("refused before reading");
        };
        let got: Vec<_> =
            futures::executor::block_on(req.into_body().into_stream().collect::<Vec<_>>());
        assert!(got[0].is_ok() && got[1].is_err());
        let e = w.explain(ApiError::internal("store: write failed"), &limits(10));
        assert_eq!(e.status, 413, "{e}");
        // However a parser took the cut-off body, the answer is the size.
        let e = w.explain(
            ApiError::bad_request("multipart: stream error"),
            &limits(10),
        );
        assert_eq!(e.status, 413, "{e}");
    }

    #[test]
    fn a_broken_body_is_the_clients_fault() {
        let chunks = vec![
            Ok(bytes::Bytes::from_static(b"12")),
            Err(std::io::Error::other("connection reset")),
        ];
        let Ok((req, w)) = watch(streamed(chunks, None), &limits(10)) else {
            panic!("refused before reading");
        };
        futures::executor::block_on(req.into_body().into_stream().collect::<Vec<_>>());
        let e = w.explain(ApiError::internal("connection reset"), &limits(10));
        assert_eq!(e.status, 400, "{e}");
        // A handler's own 4xx is kept as it is.
        let e = w.explain(ApiError::not_found("x"), &limits(10));
        assert_eq!(e.status, 404);
    }
}
