//! What the S3 and DynamoDB stores share on every target: readable errors, and the count of
//! the requests sent (`request_counts`, for logs and benchmarks; the native clients count
//! through an interceptor, see `open`).
use aws_smithy_types::error::display::DisplayErrorContext;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// An SDK error with its whole cause chain ("dispatch failure" alone says nothing).
pub fn describe<E: std::error::Error>(e: E, what: &str) -> anyhow::Error {
    anyhow::anyhow!("{what}: {}", DisplayErrorContext(&e))
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
