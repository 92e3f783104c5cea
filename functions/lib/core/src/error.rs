//! The core's one error type, and the one place it becomes HTTP: a status and
//! `{"error": "...", "detail": "..."}`. A client's fault is a 4xx; only our own (a store, a
//! generator that misbehaves, a panic) is a 5xx.
use crate::body::Response;
use crate::generator::GenError;
use crate::store::StoreError;
use http::StatusCode;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{} {}: {}", .status.as_u16(), .error, .detail)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub detail: String,
    /// Seconds for a `Retry-After` header (a 429).
    pub retry_after: Option<u64>,
    /// More fields for the JSON body (a refused transaction's `items`).
    pub extra: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.to_string(),
            detail: detail.into(),
            retry_after: None,
            extra: None,
        }
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad request", detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not found", detail)
    }
    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed", detail)
    }
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }
    pub fn unprocessable(error: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, error, detail)
    }
    /// Too many conflicting compare-and-sets in a row: the client may simply retry.
    pub fn busy(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", detail)
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error", detail)
    }
    /// A client over its rate limit: retry in `seconds`.
    pub fn too_many(detail: impl Into<String>, seconds: u64) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "too many requests", detail);
        e.retry_after = Some(seconds);
        e
    }
    /// A body (or one multipart part) over its limit.
    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too large", detail)
    }
    /// A generator faulted (trap, fuel, memory, a bad answer) or is quarantined: ours, 5xx.
    pub fn generator_failed(name: &str, detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            GENERATOR_FAILED,
            format!("generator {name}: {detail}"),
        )
    }
    /// A package committed whose format could not be published (its generator faulted).
    pub fn unpublished(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, GENERATOR_FAILED, detail)
    }
    /// Did a generator, rather than a store or this host, cause this error?
    pub fn is_generator_fault(&self) -> bool {
        self.error == GENERATOR_FAILED
    }

    pub fn into_response(self) -> Response {
        let mut body = serde_json::json!({"error": self.error, "detail": self.detail});
        if let (Some(serde_json::Value::Object(extra)), Some(obj)) =
            (self.extra, body.as_object_mut())
        {
            obj.extend(extra);
        }
        let mut resp = crate::json_response(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                // Basic for apt's auth.conf and dnf's username/password (token as password).
                http::HeaderValue::from_static("Bearer, Basic realm=\"reposmith\""),
            );
        }
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(s));
        }
        resp
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::internal(format!("{e:#}"))
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        ApiError::internal(e.to_string())
    }
}

/// A store fault: a malformed key (client-given, e.g. an upload id) is the client's; an
/// unreachable store is worth a retry; the rest are ours.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidKey { .. } => ApiError::bad_request(e.to_string()),
            StoreError::Unavailable { .. } => ApiError::new(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "store unavailable",
                e.chain(),
            ),
            _ => ApiError::internal(e.chain()),
        }
    }
}

impl ApiError {
    /// A generator call's failure: a package it rejects is the client's (422); a generator
    /// that fails at its own work is ours.
    pub fn from_generator(name: &str, e: GenError) -> Self {
        match e {
            GenError::Rejected(m) => {
                ApiError::unprocessable("malformed package", format!("{name}: {m}"))
            }
            GenError::Failed(m) => ApiError::generator_failed(name, m),
        }
    }

    /// A generator call at publish (plan, finish): no package of the client's is at stake,
    /// so whatever the generator says, the fault is ours.
    pub fn from_publishing_generator(name: &str, e: GenError) -> Self {
        ApiError::generator_failed(name, e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The `error` of a generator's fault.
const GENERATOR_FAILED: &str = "generator failed";

/// A blocking job (a generator call) panicked: that request fails with a 500, the server and
/// every other repo go on (see `App::blocking`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("a blocking job panicked: {0}")]
pub struct Panicked(pub String);

impl From<Panicked> for ApiError {
    fn from(p: Panicked) -> Self {
        ApiError::internal(p.to_string())
    }
}

impl From<Panicked> for GenError {
    fn from(p: Panicked) -> Self {
        GenError::Failed(p.to_string())
    }
}
