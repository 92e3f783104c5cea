//! Native only: store URLs, the SDK configuration from the environment (region,
//! credentials, `AWS_ENDPOINT_URL`), retries with backoff on throttling and transient errors,
//! timeouts so an unreachable endpoint fails instead of hanging, and opening a store by URL
//! (checked at once, wrapped in fault injectors when `REPOSMITH_FAULTS` is set).
#[cfg(feature = "faults")]
use crate::faults::Faults;
use crate::network::Spill;
use crate::{
    DynamoMetaStore, FileMetaStore, FilePackageStore, PgMetaStore, RedisMetaStore, S3PackageStore,
};
use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use reposmith_core::store::{MetaStore, PackageStore};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A parsed store URL.
enum Url {
    File(PathBuf),
    S3(S3Url),
    Dynamo {
        table: String,
    },
    /// `redis://HOST:PORT/DB?prefix=P&spill=BYTES`: `url` without our options.
    Redis {
        url: String,
        prefix: String,
        spill: usize,
    },
    /// `postgres://USER@HOST/DB?table=T&spill=BYTES`: `url` without our options.
    Postgres {
        url: String,
        table: String,
        spill: usize,
    },
}

/// Values over this many bytes go to the package store, unless `spill=BYTES` says otherwise.
const SPILL: usize = 256 * 1024;

/// `url` without the query options named in `ours`, and the values of those given.
fn split_options<const N: usize>(url: &str, ours: [&str; N]) -> (String, [Option<String>; N]) {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut found = [const { None }; N];
    let mut rest = Vec::new();
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        match ours.iter().position(|o| *o == k) {
            Some(i) => found[i] = Some(v.to_string()),
            None => rest.push(kv),
        }
    }
    let url = match rest.is_empty() {
        true => base.to_string(),
        false => format!("{base}?{}", rest.join("&")),
    };
    (url, found)
}

/// `s3://BUCKET/PREFIX?presign=SECONDS&path_style=1`
struct S3Url {
    bucket: String,
    prefix: String,
    presign: Option<Duration>,
    path_style: bool,
}

fn parse(url: &str) -> anyhow::Result<Url> {
    if let Some(p) = url.strip_prefix("file://") {
        anyhow::ensure!(!p.is_empty(), "store URL {url:?} names no directory");
        return Ok(Url::File(PathBuf::from(p)));
    }
    let base = url.split_once('?').map_or(url, |(base, _)| base);
    if let Some(rest) = base.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        anyhow::ensure!(!bucket.is_empty(), "store URL {url:?} names no bucket");
        let (_, [presign, path_style]) = split_options(url, ["presign", "path_style"]);
        let secs: u64 = match presign {
            Some(s) => s
                .parse()
                .map_err(|_| anyhow::anyhow!("{url:?}: presign takes seconds"))?,
            None => 3600,
        };
        let path_style = match path_style {
            Some(v) => v == "1" || v == "true",
            None => std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        };
        return Ok(Url::S3(S3Url {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            presign: (secs > 0).then(|| Duration::from_secs(secs)),
            path_style,
        }));
    }
    if ["redis://", "rediss://", "postgres://", "postgresql://"]
        .iter()
        .any(|p| base.starts_with(p))
    {
        let redis = base.starts_with("redis");
        let name = if redis { "prefix" } else { "table" };
        let (rest, [named, spill]) = split_options(url, [name, "spill"]);
        let spill = match spill {
            Some(n) => n
                .parse()
                .map_err(|_| anyhow::anyhow!("{url:?}: spill takes a number of bytes"))?,
            None => SPILL,
        };
        return Ok(if redis {
            let prefix = named.unwrap_or_else(|| "reposmith:".into());
            Url::Redis {
                url: rest,
                prefix,
                spill,
            }
        } else {
            let table = named.unwrap_or_else(|| "reposmith_meta".into());
            Url::Postgres {
                url: rest,
                table,
                spill,
            }
        });
    }
    if let Some(table) = base.strip_prefix("dynamodb://") {
        let table = table.trim_end_matches('/');
        anyhow::ensure!(!table.is_empty(), "store URL {url:?} names no table");
        return Ok(Url::Dynamo {
            table: table.to_string(),
        });
    }
    anyhow::bail!(
        "unsupported store URL {url:?} (known: file://DIR, s3://BUCKET/PREFIX, dynamodb://TABLE, \
         redis://HOST:PORT/DB, postgres://USER@HOST/DB)"
    )
}

async fn s3_store(url: &S3Url) -> S3PackageStore {
    let sdk = sdk_config().await;
    let conf = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(url.path_style)
        .interceptor(CountRequests)
        .build();
    let client = aws_sdk_s3::Client::from_conf(conf);
    S3PackageStore::new(client, &url.bucket, &url.prefix, url.presign)
}

async fn dynamo_client() -> aws_sdk_dynamodb::Client {
    let sdk = sdk_config().await;
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(CountRequests)
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

/// Opens a package store and checks that it answers.
pub async fn open_package_store(url: &str) -> anyhow::Result<Arc<dyn PackageStore>> {
    let store: Arc<dyn PackageStore> = match parse(url)? {
        Url::File(p) => Arc::new(FilePackageStore::open(p)?),
        Url::S3(s3) => {
            let s = s3_store(&s3).await;
            s.check().await?;
            Arc::new(s)
        }
        Url::Dynamo { .. } | Url::Redis { .. } | Url::Postgres { .. } => {
            anyhow::bail!("{url:?} is a metadata store, not a package store")
        }
    };
    with_faults(store, Faults::packages)
}

/// Opens a metadata store and checks that it answers. `packages` takes values too large
/// for the backend's items.
pub async fn open_meta_store(
    url: &str,
    packages: Arc<dyn PackageStore>,
) -> anyhow::Result<Arc<dyn MetaStore>> {
    let store: Arc<dyn MetaStore> = match parse(url)? {
        Url::File(p) => Arc::new(FileMetaStore::open(p)?),
        Url::Dynamo { table } => {
            let s = DynamoMetaStore::new(dynamo_client().await, &table, packages);
            s.check().await?;
            Arc::new(s)
        }
        Url::Redis { url, prefix, spill } => {
            let spill = Spill {
                over: spill,
                store: packages,
            };
            Arc::new(RedisMetaStore::open(&url, &prefix, spill).await?)
        }
        Url::Postgres { url, table, spill } => {
            let spill = Spill {
                over: spill,
                store: packages,
            };
            Arc::new(PgMetaStore::open(&url, &table, spill).await?)
        }
        Url::S3(_) => anyhow::bail!("{url:?} is a package store, not a metadata store"),
    };
    with_faults(store, Faults::meta)
}

/// The store, wrapped by `wrap` in fault injectors when `REPOSMITH_FAULTS` asks for them.
fn with_faults<S: ?Sized>(
    store: Arc<S>,
    wrap: fn(Faults, Arc<S>) -> Arc<S>,
) -> anyhow::Result<Arc<S>> {
    Ok(match Faults::from_env()? {
        Some(faults) => wrap(faults, store),
        None => store,
    })
}

/// Creates what a store URL names if it is missing (S3 bucket, DynamoDB table, directory,
/// PostgreSQL table, which it also migrates): for development setups; production creates
/// the AWS ones with the SAM template. Redis needs nothing made.
pub async fn create_backing(url: &str) -> anyhow::Result<()> {
    match parse(url)? {
        Url::File(p) => Ok(std::fs::create_dir_all(p)?),
        Url::S3(s3) => {
            let region = sdk_config().await.region().map(|r| r.as_ref().to_string());
            Ok(s3_store(&s3).await.create(region.as_deref()).await?)
        }
        Url::Dynamo { table } => {
            Ok(DynamoMetaStore::create_table(&dynamo_client().await, &table).await?)
        }
        Url::Postgres { url, table, .. } => Ok(PgMetaStore::init(&url, &table).await?),
        Url::Redis { .. } => Ok(()),
    }
}

/// The fault rules, if `REPOSMITH_FAULTS` is set and not blank.
pub(crate) fn faults_spec() -> Option<String> {
    std::env::var("REPOSMITH_FAULTS")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// A build without the `faults` feature has no injector: it refuses `REPOSMITH_FAULTS`
/// rather than run without the faults a test asked for.
#[cfg(not(feature = "faults"))]
enum Faults {}

/// What a build without the injector does with the fault rules asked for: refuses them. Built
/// into both kinds of builds so that its test runs where the tests enable the injector.
#[cfg_attr(feature = "faults", allow(dead_code))]
fn no_injector(spec: Option<String>) -> anyhow::Result<()> {
    anyhow::ensure!(
        spec.is_none(),
        "REPOSMITH_FAULTS is set, but this build has no fault injector \
         (build with `--features faults`; tests only)"
    );
    Ok(())
}

#[cfg(not(feature = "faults"))]
impl Faults {
    fn from_env() -> anyhow::Result<Option<Faults>> {
        no_injector(faults_spec())?;
        Ok(None)
    }
    fn packages(self, _: Arc<dyn PackageStore>) -> Arc<dyn PackageStore> {
        match self {}
    }
    fn meta(self, _: Arc<dyn MetaStore>) -> Arc<dyn MetaStore> {
        match self {}
    }
}

pub(crate) async fn sdk_config() -> SdkConfig {
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

/// Counts every attempt that goes on the wire.
#[derive(Debug)]
pub(crate) struct CountRequests;

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
        crate::count(label);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_without_the_injector_refuses_reposmith_faults() {
        let err = no_injector(Some("meta.put_if=error@1".into()))
            .expect_err("refused")
            .to_string();
        assert!(err.contains("--features faults"), "{err}");
        assert!(no_injector(None).is_ok());
    }

    #[test]
    fn parses_store_urls_and_names_the_bad_ones() {
        match parse("s3://b/some/prefix?presign=0&path_style=1").unwrap() {
            Url::S3(s3) => {
                assert_eq!(
                    (s3.bucket.as_str(), s3.prefix.as_str()),
                    ("b", "some/prefix")
                );
                assert_eq!(s3.presign, None);
                assert!(s3.path_style);
            }
            _ => panic!("not s3"),
        }
        assert!(matches!(parse("dynamodb://t").unwrap(), Url::Dynamo { table } if table == "t"));
        match parse("redis://127.0.0.1:6379/2?prefix=rs:&spill=1000").unwrap() {
            Url::Redis { url, prefix, spill } => {
                assert_eq!(
                    (url.as_str(), prefix.as_str(), spill),
                    ("redis://127.0.0.1:6379/2", "rs:", 1000)
                );
            }
            _ => panic!("not redis"),
        }
        match parse("postgres://u@h/db?connect_timeout=2&table=meta").unwrap() {
            Url::Postgres { url, table, spill } => {
                assert_eq!(url, "postgres://u@h/db?connect_timeout=2");
                assert_eq!((table.as_str(), spill), ("meta", SPILL));
            }
            _ => panic!("not postgres"),
        }
        for bad in [
            "s3://",
            "dynamodb://",
            "file://",
            "mysql://x",
            "s3://b?presign=x",
            "redis://x?spill=lots",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
