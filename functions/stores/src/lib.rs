//! Storage backends, chosen by URL, one file each:
//! - `file://DIR`: package store (`package_file`) and metadata store (`meta_file`), the
//!   embedded default, nothing to install.
//! - `s3://BUCKET/PREFIX`: package store on S3 or any S3-compatible endpoint (`s3`).
//!   Query options: `presign=SECONDS` (lifetime of the URLs that downloads redirect to;
//!   `presign=0` streams through the server instead; default 3600), `path_style=1`
//!   (default when `AWS_ENDPOINT_URL` is set, as local emulators want).
//! - `dynamodb://TABLE`: metadata store on DynamoDB (`dynamodb`); values too large for an
//!   item spill into the package store.
//!
//! AWS settings come from the environment as for every AWS SDK: `AWS_REGION`, credentials,
//! `AWS_ENDPOINT_URL` for an emulator such as moto. `REPOSMITH_FAULTS` wraps both stores in
//! fault injectors, for tests only (`faults`).
//!
//! For wasm32-wasip2 (the Spin build) only `s3` and `dynamodb` are compiled: the caller hands
//! them SDK clients on a WASI HTTP client (no tokio, no aws-config, no files there).
mod aws;
mod dynamodb;
#[cfg(not(target_family = "wasm"))]
pub mod faults;
#[cfg(not(target_family = "wasm"))]
mod meta_file;
#[cfg(not(target_family = "wasm"))]
mod package_file;
mod s3;

pub use aws::request_counts;
pub use dynamodb::DynamoMetaStore;
#[cfg(not(target_family = "wasm"))]
pub use meta_file::FileMetaStore;
#[cfg(not(target_family = "wasm"))]
pub use package_file::FilePackageStore;
pub use s3::S3PackageStore;

#[cfg(not(target_family = "wasm"))]
use reposmith_core::store::{MetaStore, PackageStore};
#[cfg(not(target_family = "wasm"))]
use std::path::PathBuf;
#[cfg(not(target_family = "wasm"))]
use std::sync::Arc;
#[cfg(not(target_family = "wasm"))]
use std::time::Duration;

#[cfg(not(target_family = "wasm"))]
/// A parsed store URL.
enum Url {
    File(PathBuf),
    S3 {
        bucket: String,
        prefix: String,
        presign: Option<Duration>,
        path_style: bool,
    },
    Dynamo {
        table: String,
    },
}

#[cfg(not(target_family = "wasm"))]
fn parse(url: &str) -> anyhow::Result<Url> {
    if let Some(p) = url.strip_prefix("file://") {
        anyhow::ensure!(!p.is_empty(), "store URL {url:?} names no directory");
        return Ok(Url::File(PathBuf::from(p)));
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let opt = |name: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    if let Some(rest) = base.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        anyhow::ensure!(!bucket.is_empty(), "store URL {url:?} names no bucket");
        let secs: u64 = match opt("presign") {
            Some(s) => s
                .parse()
                .map_err(|_| anyhow::anyhow!("{url:?}: presign takes seconds"))?,
            None => 3600,
        };
        let path_style = match opt("path_style") {
            Some(v) => v == "1" || v == "true",
            None => std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        };
        return Ok(Url::S3 {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            presign: (secs > 0).then(|| Duration::from_secs(secs)),
            path_style,
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
        "unsupported store URL {url:?} (known: file://DIR, s3://BUCKET/PREFIX, dynamodb://TABLE)"
    )
}

#[cfg(not(target_family = "wasm"))]
async fn s3_store(
    bucket: &str,
    prefix: &str,
    presign: Option<Duration>,
    path_style: bool,
) -> S3PackageStore {
    let sdk = aws::sdk_config().await;
    let conf = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(path_style)
        .interceptor(aws::CountRequests)
        .build();
    S3PackageStore::new(aws_sdk_s3::Client::from_conf(conf), bucket, prefix, presign)
}

#[cfg(not(target_family = "wasm"))]
async fn dynamo_client() -> aws_sdk_dynamodb::Client {
    let sdk = aws::sdk_config().await;
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(aws::CountRequests)
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

#[cfg(not(target_family = "wasm"))]
/// Opens a package store and checks that it answers.
pub async fn open_package_store(url: &str) -> anyhow::Result<Arc<dyn PackageStore>> {
    let store: Arc<dyn PackageStore> = match parse(url)? {
        Url::File(p) => Arc::new(FilePackageStore::open(p)?),
        Url::S3 {
            bucket,
            prefix,
            presign,
            path_style,
        } => {
            let s = s3_store(&bucket, &prefix, presign, path_style).await;
            s.check().await?;
            Arc::new(s)
        }
        Url::Dynamo { .. } => anyhow::bail!("{url:?} is a metadata store, not a package store"),
    };
    Ok(match faults::Faults::from_env()? {
        Some(faults) => Arc::new(faults::FaultyPackages {
            inner: store,
            faults,
        }),
        None => store,
    })
}

#[cfg(not(target_family = "wasm"))]
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
        Url::S3 { .. } => anyhow::bail!("{url:?} is a package store, not a metadata store"),
    };
    Ok(match faults::Faults::from_env()? {
        Some(faults) => Arc::new(faults::FaultyMeta {
            inner: store,
            faults,
        }),
        None => store,
    })
}

#[cfg(not(target_family = "wasm"))]
/// Creates what a store URL names if it is missing (S3 bucket, DynamoDB table, directory):
/// for development setups; production creates them with the SAM template.
pub async fn create_backing(url: &str) -> anyhow::Result<()> {
    match parse(url)? {
        Url::File(p) => Ok(std::fs::create_dir_all(p)?),
        Url::S3 {
            bucket,
            prefix,
            presign,
            path_style,
        } => {
            let region = aws::sdk_config()
                .await
                .region()
                .map(|r| r.as_ref().to_string());
            s3_store(&bucket, &prefix, presign, path_style)
                .await
                .create(region.as_deref())
                .await
        }
        Url::Dynamo { table } => {
            DynamoMetaStore::create_table(&dynamo_client().await, &table).await
        }
    }
}

#[cfg(not(target_family = "wasm"))]
/// fsync a directory so a rename inside it survives a crash.
pub(crate) fn sync_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(target_family = "wasm"))]
pub(crate) fn tmp_name() -> String {
    format!(".tmp-{}", hex::encode(rand::random::<[u8; 8]>()))
}

#[cfg(all(test, not(target_family = "wasm")))]
mod tests {
    use super::*;

    #[test]
    fn parses_store_urls_and_names_the_bad_ones() {
        match parse("s3://b/some/prefix?presign=0&path_style=1").unwrap() {
            Url::S3 {
                bucket,
                prefix,
                presign,
                path_style,
            } => {
                assert_eq!((bucket.as_str(), prefix.as_str()), ("b", "some/prefix"));
                assert_eq!(presign, None);
                assert!(path_style);
            }
            _ => panic!("not s3"),
        }
        assert!(matches!(parse("dynamodb://t").unwrap(), Url::Dynamo { table } if table == "t"));
        for bad in [
            "s3://",
            "dynamodb://",
            "file://",
            "redis://x",
            "s3://b?presign=x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
