//! What the S3 and DynamoDB stores share: the SDK configuration from the environment
//! (region, credentials, `AWS_ENDPOINT_URL`), retries with backoff on throttling and
//! transient errors, timeouts so an unreachable endpoint fails instead of hanging, readable
//! errors, and a count of the requests sent (`request_counts`, for logs and benchmarks).
#[cfg(not(target_family = "wasm"))]
use aws_config::meta::region::RegionProviderChain;
#[cfg(not(target_family = "wasm"))]
use aws_config::retry::RetryConfig;
#[cfg(not(target_family = "wasm"))]
use aws_config::timeout::TimeoutConfig;
#[cfg(not(target_family = "wasm"))]
use aws_config::{BehaviorVersion, SdkConfig};
#[cfg(not(target_family = "wasm"))]
use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
#[cfg(not(target_family = "wasm"))]
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_types::error::display::DisplayErrorContext;
use std::collections::BTreeMap;
use std::sync::Mutex;
#[cfg(not(target_family = "wasm"))]
use std::time::Duration;

#[cfg(not(target_family = "wasm"))]
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(RegionProviderChain::default_provider().or_else("us-east-1"))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(5)
                .with_initial_backoff(Duration::from_millis(50)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .read_timeout(Duration::from_secs(30))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        )
        .load()
        .await
}

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

#[cfg(not(target_family = "wasm"))]
/// Counts every attempt that goes on the wire.
#[derive(Debug)]
pub(crate) struct CountRequests;

#[cfg(not(target_family = "wasm"))]
impl Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        let req = ctx.request();
        let label = match req.headers().get("x-amz-target") {
            Some(t) => format!("DynamoDB.{}", t.rsplit('.').next().unwrap_or(t)),
            None => format!("S3.{}", req.method()),
        };
        *COUNTS.lock().unwrap().entry(label).or_default() += 1;
        Ok(())
    }
}
