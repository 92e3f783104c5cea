//! What the Redis and PostgreSQL metadata stores share: values too large for the backend go
//! to the package store, a call whose connection failed is tried again, and freshness is
//! read from the version alone (both take versions from one counter, so none repeats).
use bytes::Bytes;
use reposmith_core::store::{Fresh, MetaStore, PackageStore, Result, StoreError, Versioned};
use std::sync::Arc;
use std::time::Duration;

/// Attempts of a call whose connection failed (each waits a little longer).
const ATTEMPTS: u32 = 3;

/// How a value is kept: in the backend, or as a blob in the package store.
pub(crate) enum Held {
    Inline(Vec<u8>),
    Spilled(String),
}

/// Where the Redis and PostgreSQL stores put values over `over` bytes: `store`, the package
/// store (GC keeps what `MetaStore::spilled` names).
pub struct Spill {
    pub over: usize,
    pub store: Arc<dyn PackageStore>,
}

impl Spill {
    /// How to keep `value`; a spilled one is written first, so that nothing names a blob
    /// that is not there.
    pub(crate) async fn hold(&self, value: Bytes) -> Result<Held> {
        if value.len() > self.over {
            Ok(Held::Spilled(self.store.put_bytes(value).await?.sha256))
        } else {
            Ok(Held::Inline(value.to_vec()))
        }
    }

    /// The value of `key` from what the backend held: the bytes, or the spilled blob's sha256.
    pub(crate) async fn value(
        &self,
        key: &str,
        inline: Option<Vec<u8>>,
        spilled: Option<String>,
    ) -> Result<Bytes> {
        match (inline, spilled) {
            (Some(d), _) => Ok(Bytes::from(d)),
            (None, Some(sha)) => self
                .store
                .get_bytes(&sha)
                .await?
                .ok_or_else(|| StoreError::Missing(format!("{key}: spilled value {sha}"))),
            (None, None) => Err(StoreError::Corrupt(format!(
                "{key}: stored without a value"
            ))),
        }
    }
}

/// Runs `call` until it answers, or fails other than by an unreachable backend, at most
/// `ATTEMPTS` times; counts each attempt as `SERVICE.VERB` (the first word of `what`). Only
/// for calls that are idempotent or recognise their own earlier success.
pub(crate) async fn retrying<T, F, Fut>(service: &str, what: &str, mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let verb = what.split(' ').next().unwrap_or(what);
    let mut attempt = 0;
    loop {
        crate::count(format!("{service}.{verb}"));
        match call().await {
            Err(e @ StoreError::Unavailable { .. }) if attempt + 1 < ATTEMPTS => {
                drop(e);
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            done => return done,
        }
    }
}

/// `get_fresh` from the key's version now (None: absent), reading the value only if it moved.
pub(crate) async fn fresh_by_version<S: MetaStore + ?Sized>(
    store: &S,
    key: &str,
    known: &Versioned,
    now: Option<u64>,
) -> Result<Fresh> {
    match now {
        Some(v) if v == known.version => Ok(Fresh::Unchanged),
        None => Ok(Fresh::Changed(None)),
        Some(_) => Ok(Fresh::Changed(store.get(key).await?)),
    }
}
