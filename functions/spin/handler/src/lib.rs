//! reposmith on Fermyon Spin: the HTTP handler component. Like the local server and the
//! Lambda functions it only converts types and calls `reposmith_core::handle`:
//! - spin-sdk 5.2 `#[http_component]` (WASI 0.2 `wasi:http/incoming-handler`);
//! - metadata in DynamoDB and packages in S3, the same table and bucket layout as the Lambda
//!   target (`reposmith-stores`), over Spin's outbound HTTP: the AWS SDK on aws-smithy-wasm's
//!   WASI HTTP client, SigV4-signed by the SDK, on the `wstd` executor;
//! - generators through the `generator-N` slot imports that spin.toml fills (`slots`);
//! - keys, token, bucket, table and region from Spin variables.
mod cache;
mod slots;

use aws_smithy_wasm::wasi::{WasiHttpClientBuilder, WasiSleep};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::StreamExt;
use reposmith_core::{registry, App, Body, Runtime};
use reposmith_signing::{PgpKey, RepoSigner, RsaKey, SealedKeyring};
use reposmith_stores::{DynamoMetaStore, S3PackageStore};
use spin_sdk::http_component;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

#[http_component]
fn handle(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    // One executor for the whole request: the AWS SDK's WASI HTTP client runs on wstd.
    wstd::runtime::block_on(serve(req))
}

async fn serve(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    let app = match app() {
        Ok(app) => app,
        Err(e) => {
            return error(format!("{e:#}"));
        }
    };
    let (mut parts, body) = req.into_parts();
    // Spin sets `spin-client-addr` (IP:port) itself: per-client rate limits and the audit log.
    let client = parts
        .headers
        .get("spin-client-addr")
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
        .map(|a| reposmith_core::throttle::ClientAddr(a.ip()));
    if let Some(c) = client {
        parts.extensions.insert(c);
    }
    let resp = reposmith_core::handle(
        &app,
        http::Request::from_parts(parts, Body::Bytes(Bytes::from(body))),
    )
    .await;
    let (parts, body) = resp.into_parts();
    let bytes = match body {
        Body::Empty => Vec::new(),
        Body::Bytes(b) => b.to_vec(),
        Body::Stream(mut s) => {
            let mut out = Vec::new();
            while let Some(c) = s.next().await {
                match c {
                    Ok(c) => out.extend_from_slice(&c),
                    Err(e) => return error(format!("reading the response body: {e}")),
                }
            }
            out
        }
    };
    http::Response::from_parts(parts, bytes)
}

fn error(detail: String) -> http::Response<Vec<u8>> {
    let body = format!(
        "{{\"error\": \"reposmith on Spin is misconfigured\", \"detail\": {:?}}}\n",
        detail
    );
    http::Response::builder()
        .status(500)
        .header("content-type", "application/json")
        .body(body.into_bytes())
        .expect("valid response")
}

/// A Spin variable, trimmed (keys read from files end with a newline, which the PEM parser
/// refuses, as the local server's setup does).
fn var(name: &str) -> anyhow::Result<String> {
    spin_sdk::variables::get(name)
        .map(|v| v.trim().to_string())
        .map_err(|e| anyhow::anyhow!("Spin variable {name}: {e}"))
}

fn opt_var(name: &str) -> String {
    var(name).unwrap_or_default()
}

/// Everything per request: a Spin instance serves one request.
fn app() -> anyhow::Result<App> {
    let region = var("region")?;
    let endpoint = opt_var("aws_endpoint_url");
    let session = Some(opt_var("aws_session_token")).filter(|s| !s.is_empty());
    let creds = aws_credential_types::Credentials::from_keys(
        var("aws_access_key_id")?,
        var("aws_secret_access_key")?,
        session,
    );
    let http = WasiHttpClientBuilder::new().build();

    let mut s3 = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(region.clone()))
        .credentials_provider(creds.clone())
        .http_client(http.clone())
        .sleep_impl(WasiSleep)
        .force_path_style(!endpoint.is_empty());
    let mut ddb = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new(region))
        .credentials_provider(creds)
        .http_client(http)
        .sleep_impl(WasiSleep);
    if !endpoint.is_empty() {
        s3 = s3.endpoint_url(&endpoint);
        ddb = ddb.endpoint_url(&endpoint);
    }
    let packages = Arc::new(cache::Cached::new(Arc::new(S3PackageStore::new(
        aws_sdk_s3::Client::from_conf(s3.build()),
        &var("bucket")?,
        &opt_var("prefix"),
        Some(Duration::from_secs(3600)),
    ))));
    let meta = Arc::new(DynamoMetaStore::new(
        aws_sdk_dynamodb::Client::from_conf(ddb.build()),
        &var("table")?,
        packages.clone(),
    ));

    let server = PgpKey::from_armored_secret(&var("signing_key")?)?;
    let keyring = Arc::new(SealedKeyring::new(&server, packages.clone())?);
    let signer = Arc::new(RepoSigner::new(
        server,
        RsaKey::from_pem(&var("rsa_key")?)?,
        packages.clone(),
    )?);
    let generators = slots::load().map_err(anyhow::Error::msg)?;
    let mut app = App::new(
        meta,
        packages,
        Vec::new(),
        signer,
        var("token")?,
        Arc::new(WasiRuntime),
    );
    app.keyring = Some(keyring);
    // One JSON line per write on stdout, apart from Spin's own log on stderr.
    app.audit = Some(Arc::new(|line: &str| println!("{line}")));
    for g in generators {
        let name = g.info().name.clone();
        registry::install(&app, g)
            .map_err(|e| anyhow::anyhow!("generator {name}: {}", e.detail))?;
    }
    Ok(app)
}

/// One thread, one executor: "blocking" work runs in place; sleeping is wstd's timer.
struct WasiRuntime;

impl Runtime for WasiRuntime {
    fn spawn_blocking(&self, f: Box<dyn FnOnce() + Send>) {
        f()
    }
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        let wait = wstd::task::sleep(wstd::time::Duration::from(d));
        Box::pin(SingleThreaded(Box::pin(async move {
            wait.await;
        })))
    }
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// wasm32-wasip2 components run on one thread: a future that is not `Send` (wstd's timer)
/// can be handed where `Send` is asked for.
struct SingleThreaded<F>(Pin<Box<F>>);

// SAFETY: the component has exactly one thread; nothing is ever sent to another.
unsafe impl<F> Send for SingleThreaded<F> {}

impl<F: Future> Future for SingleThreaded<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.0.as_mut().poll(cx)
    }
}
