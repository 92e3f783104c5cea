//! What the S3 and DynamoDB stores share on every target: SDK errors as store errors, and the
//! count of the requests sent (`request_counts`, for logs and benchmarks; the native clients
//! count through an interceptor, see `open`).
use aws_sdk_s3::error::SdkError;
use reposmith_core::store::{Result, StoreError};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// SDK results as store results, saying what was asked.
pub(crate) trait OrStoreError<T> {
    fn or_store_error(self, what: impl Into<String>) -> Result<T>;
}

/// No answer (timeout, connection refused, a broken response) is `Unavailable`; an answer
/// with an error is `Backend`. The SDK error stays as the cause, with its own chain
/// ("dispatch failure" alone says nothing).
impl<T, E, R> OrStoreError<T> for std::result::Result<T, SdkError<E, R>>
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn or_store_error(self, what: impl Into<String>) -> Result<T> {
        self.map_err(|e| {
            let what = what.into();
            match e {
                SdkError::TimeoutError(_)
                | SdkError::DispatchFailure(_)
                | SdkError::ResponseError(_) => StoreError::Unavailable {
                    what,
                    source: e.into(),
                },
                _ => StoreError::backend(what, e),
            }
        })
    }
}

static COUNTS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

/// Requests sent since start, by service and operation (`DynamoDB.PutItem`, `S3.GET`),
/// retries included.
pub fn request_counts() -> BTreeMap<String, u64> {
    COUNTS.lock().unwrap().clone()
}

#[cfg_attr(target_family = "wasm", allow(dead_code))]
pub(crate) fn count(label: String) {
    *COUNTS.lock().unwrap().entry(label).or_default() += 1;
}
