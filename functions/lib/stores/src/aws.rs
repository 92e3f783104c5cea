//! What the S3 and DynamoDB stores share on every target: SDK errors as store errors. (The
//! native clients count their requests through an interceptor, see `open`.)
use aws_sdk_s3::error::SdkError;
use reposmith_core::store::{Result, StoreError};

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
