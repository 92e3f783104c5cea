//! Storage backends, chosen by URL, one file each:
//! - `file://DIR`: package store (`package_file`) and metadata store (`meta_file`), the
//!   embedded default, nothing to install.
//! - `s3://BUCKET/PREFIX`: package store on S3 or any S3-compatible endpoint (`s3`).
//!   Query options: `presign=SECONDS` (lifetime of the URLs that downloads redirect to;
//!   `presign=0` streams through the server instead; default 3600), `path_style=1`
//!   (default when `AWS_ENDPOINT_URL` is set, as local emulators want).
//! - `dynamodb://TABLE`: metadata store on DynamoDB (`dynamodb`); values too large for an
//!   item spill into the package store.
//! - `redis://HOST:PORT/DB?prefix=P&spill=BYTES`: metadata store on Redis (`redis`): Lua
//!   scripts for compare-and-set and transactions.
//! - `postgres://USER@HOST/DB?table=T&spill=BYTES`: metadata store on PostgreSQL
//!   (`postgres`): one table, made and migrated by `manage-repo init-stores`.
//!
//! AWS settings come from the environment as for every AWS SDK: `AWS_REGION`, credentials,
//! `AWS_ENDPOINT_URL` for an emulator such as moto. `REPOSMITH_FAULTS` wraps both stores in
//! fault injectors (`faults`), in builds with the `faults` feature only (tests); other builds
//! refuse to start with it set.
//!
//! For wasm32-wasip2 (the Spin build) only `s3` and `dynamodb` are compiled: the caller hands
//! them SDK clients on a WASI HTTP client (no tokio, no aws-config, no files there).
mod aws;
mod dynamodb;
#[cfg(all(feature = "faults", not(target_family = "wasm")))]
mod faults;
#[cfg(not(target_family = "wasm"))]
mod meta_file;
#[cfg(not(target_family = "wasm"))]
mod network;
#[cfg(not(target_family = "wasm"))]
mod open;
#[cfg(not(target_family = "wasm"))]
mod package_file;
#[cfg(not(target_family = "wasm"))]
mod postgres;
#[cfg(not(target_family = "wasm"))]
mod redis;
mod s3;

pub use counts::request_counts;
pub use dynamodb::DynamoMetaStore;
#[cfg(not(target_family = "wasm"))]
pub use meta_file::FileMetaStore;
#[cfg(not(target_family = "wasm"))]
pub use network::Spill;
#[cfg(not(target_family = "wasm"))]
pub use open::{create_backing, open_meta_store, open_package_store};
#[cfg(not(target_family = "wasm"))]
pub use package_file::FilePackageStore;
#[cfg(not(target_family = "wasm"))]
pub use postgres::PgMetaStore;
#[cfg(not(target_family = "wasm"))]
pub use redis::RedisMetaStore;
pub use s3::S3PackageStore;

#[cfg(not(target_family = "wasm"))]
pub(crate) use counts::count;
use reposmith_core::store::{Result, StoreError};

mod counts {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    static COUNTS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

    /// Requests sent since start, by backend and operation (`DynamoDB.PutItem`, `S3.GET`,
    /// `Redis.EVALSHA`, `Postgres.UPSERT`), retries included.
    pub fn request_counts() -> BTreeMap<String, u64> {
        COUNTS.lock().unwrap().clone()
    }

    #[cfg_attr(target_family = "wasm", allow(dead_code))]
    pub(crate) fn count(label: String) {
        *COUNTS.lock().unwrap().entry(label).or_default() += 1;
    }
}

/// Where a blob lives under a store's root: `blobs/ab/abcdef…`. A sha256 that is not one is
/// the caller's fault (it comes from a request).
pub(crate) fn blob_path(sha256: &str) -> Result<String> {
    if !reposmith_core::digest::is_sha256(sha256) {
        return Err(StoreError::invalid("sha256", sha256));
    }
    Ok(format!("blobs/{}/{sha256}", &sha256[..2]))
}

/// Runs blocking file work on tokio's blocking threads (a panic there is an I/O error).
#[cfg(not(target_family = "wasm"))]
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T> {
    let done = tokio::task::spawn_blocking(f).await;
    Ok(done.map_err(std::io::Error::other)??)
}

#[cfg(not(target_family = "wasm"))]
/// fsync a directory so a rename inside it survives a crash.
pub(crate) fn sync_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// How a temporary file's name starts (what GC's sweep looks for).
#[cfg(not(target_family = "wasm"))]
pub(crate) const TMP_PREFIX: &str = ".tmp-";

#[cfg(not(target_family = "wasm"))]
pub(crate) fn tmp_name() -> String {
    format!("{TMP_PREFIX}{}", hex::encode(rand::random::<[u8; 8]>()))
}

/// A random name part: staging objects, write tokens.
pub(crate) fn token() -> String {
    hex::encode(rand::random::<[u8; 12]>())
}
