//! Storage traits. Backends live in `reposmith-stores`, one file each (file, s3, dynamodb,
//! redis, postgres), and `tests/tests/stores.rs` holds every backend to the same contract.
//!
//! - The package store holds immutable, content-addressed blobs (by sha256): package files,
//!   rendered index files, analysis records and manifests. Writes are idempotent.
//! - The metadata store holds a few small mutable keys per repo, each with a version, and
//!   offers compare-and-set: the whole commit protocol rests on `put_if`.
//!
//! Every call fails with a [`StoreError`]. Absence is not an error (`Ok(None)`), and neither
//! is a lost compare-and-set (`Ok(Err(Conflict))`): callers decide what those mean.
use crate::body::ByteStream;
use crate::digest::Digests;
use crate::generator::{Facts, MemReader, PackageReader};
use crate::model::BlobRef;
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;

/// A cause kept under a store error (SDK errors, parse errors), with its own chain.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A key, sha256 or upload id the store cannot take, as a request gave it: the client's
    /// fault (400).
    #[error("invalid {what} {value:?}")]
    InvalidKey { what: &'static str, value: String },
    /// Something the store itself refers to is gone (a spilled value, the blob a reader was
    /// opened on): the store is inconsistent, the request is not wrong.
    #[error("{0} is missing")]
    Missing(String),
    /// Stored data that cannot be read back (a metadata item without a version, say).
    #[error("corrupt store data: {0}")]
    Corrupt(String),
    /// The backend did not answer, or not in time (connection refused, timeout): worth a
    /// retry later (503).
    #[error("{what}")]
    Unavailable {
        what: String,
        #[source]
        source: Cause,
    },
    /// The backend answered with an error (access denied, no such bucket, a bad request).
    #[error("{what}")]
    Backend {
        what: String,
        #[source]
        source: Cause,
    },
    /// A local file operation failed (`file://` stores).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl StoreError {
    pub fn invalid(what: &'static str, value: &str) -> Self {
        StoreError::InvalidKey {
            what,
            value: value.to_string(),
        }
    }

    pub fn backend(what: impl Into<String>, source: impl Into<Cause>) -> Self {
        StoreError::Backend {
            what: what.into(),
            source: source.into(),
        }
    }

    /// The message with its whole cause chain, `what: cause: cause's cause`.
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            out.push_str(": ");
            out.push_str(&c.to_string());
            cause = c.source();
        }
        out
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A compare-and-set outcome: the call failed, or it ran and won or lost.
pub type Cas<T> = Result<Result<T, Conflict>>;

/// Requests one caller keeps in flight to a store whose every request is a round trip (S3
/// takes thousands at once): blobs written together, small blobs read together, and the
/// packages a rebuild holds open.
pub const REMOTE_AT_ONCE: usize = 256;

#[async_trait]
pub trait PackageStore: Send + Sync {
    /// Streams bytes into the store under their sha256, computing all digests on the way.
    async fn put(&self, body: ByteStream) -> Result<Digests>;
    /// Whole bytes (rendered files, internal records): only what names the blob (sha256 and
    /// size) is computed; the other digests matter only to uploaded packages (`put`).
    async fn put_bytes(&self, data: Bytes) -> Result<BlobRef> {
        let d = self
            .put(crate::body::Body::Bytes(data).into_stream())
            .await?;
        Ok(BlobRef::stored(d.sha256, d.size))
    }
    /// The blob's bytes from `offset` to the end (or `len` bytes), or None if absent.
    async fn get(&self, sha256: &str, offset: u64, len: Option<u64>) -> Result<Option<ByteStream>>;
    /// Whole small blob into memory.
    async fn get_bytes(&self, sha256: &str) -> Result<Option<Bytes>> {
        use futures::StreamExt;
        let Some(mut s) = self.get(sha256, 0, None).await? else {
            return Ok(None);
        };
        let mut buf = Vec::new();
        while let Some(c) = s.next().await {
            buf.extend_from_slice(&c?);
        }
        Ok(Some(buf.into()))
    }
    /// Several whole small blobs, in the order asked (a render from scratch reads thousands
    /// of analyses: a backend answers them with as few hops as it can). Where each read is a
    /// round trip, `REMOTE_AT_ONCE` go out together.
    async fn get_many(&self, sha256s: &[String]) -> Result<Vec<Option<Bytes>>> {
        use futures::{StreamExt, TryStreamExt};
        let at_once = if self.reads_are_remote() {
            REMOTE_AT_ONCE
        } else {
            16
        };
        // By index: a closure over `&String` items makes the future not `Send`.
        futures::stream::iter(0..sha256s.len())
            .map(|i| self.get_bytes(&sha256s[i]))
            .buffered(at_once)
            .try_collect()
            .await
    }
    /// Size of the blob, or None if absent.
    async fn size(&self, sha256: &str) -> Result<Option<u64>>;
    async fn delete(&self, sha256: &str) -> Result<()>;
    /// Synchronous ranged reader for generators (`package.read`), over a stored blob.
    async fn reader(&self, facts: Facts) -> Result<Arc<dyn PackageReader>>;
    /// A URL a client may fetch the blob from directly (a 307 target), when the backend can.
    async fn presigned_get(&self, _sha256: &str, _filename: &str) -> Result<Option<String>> {
        Ok(None)
    }
    /// A URL where a client may PUT the bytes of large upload `id` straight into storage
    /// (S3 presigned PUT), when the backend can; then `adopt` takes them in.
    async fn presigned_put(&self, _id: &str) -> Result<Option<String>> {
        Ok(None)
    }
    /// Moves what was PUT for upload `id` into the blob space under its sha256, hashing on
    /// the way. None when nothing was PUT (or the backend has no staging area).
    async fn adopt(&self, _id: &str) -> Result<Option<Digests>> {
        Ok(None)
    }
    /// Every blob with its age in seconds, for garbage collection. A backend that cannot list
    /// answers an empty list, and GC then removes nothing.
    async fn list(&self) -> Result<Vec<(String, u64)>> {
        Ok(Vec::new())
    }
    /// Whether a read is a round trip over the network (S3), worth asking for a few blobs
    /// ahead of the one being sent; a local read is not, and each open one holds a file.
    fn reads_are_remote(&self) -> bool {
        false
    }
    /// Makes every blob this store has answered a put for durable (a crash or power loss
    /// keeps it). Called before any metadata write that could name such a blob (see
    /// `counting`), so a put may answer before its bytes reach the disk and one sync covers
    /// a whole publish. A backend whose puts are durable when they answer has nothing to do.
    async fn settle(&self) -> Result<()> {
        Ok(())
    }
    /// Deletes what uploads broken off by a crash left half-written (not written to for
    /// `min_age` seconds); answers how many. A backend without such leftovers answers 0.
    async fn sweep_temp(&self, _min_age: u64) -> Result<usize> {
        Ok(0)
    }
}

/// A stored value and the version it had when read.
#[derive(Clone, Debug)]
pub struct Versioned {
    pub value: Bytes,
    pub version: u64,
}

/// What [`MetaStore::get_fresh`] found.
#[derive(Debug)]
pub enum Fresh {
    /// The key holds what the caller knows.
    Unchanged,
    /// The key holds something else now (or nothing).
    Changed(Option<Versioned>),
}

impl Fresh {
    /// What a read that found `now` tells a cache holding `known`: version and bytes compared
    /// (a version alone may repeat after a delete).
    pub fn of(now: Option<Versioned>, known: &Versioned) -> Fresh {
        match now {
            Some(v) if v.version == known.version && v.value == known.value => Fresh::Unchanged,
            now => Fresh::Changed(now),
        }
    }
}

/// Compare-and-set lost: somebody else wrote first. Re-read and retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict;

#[async_trait]
pub trait MetaStore: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Versioned>>;
    /// Writes `value` if the key is absent (`expected = None`) or still at version `expected`.
    /// Returns the new version.
    async fn put_if(&self, key: &str, value: Bytes, expected: Option<u64>) -> Cas<u64>;
    /// Deletes the key if it is still at version `expected`. A key already gone counts as
    /// deleted: a network store cannot tell its own retried delete from another deleter's.
    async fn delete_if(&self, key: &str, expected: u64) -> Cas<()>;
    /// `get` for a read cache that holds `known` (an earlier answer for `key`): `Unchanged`
    /// when the key still holds it, else what `get` answers now. One read of the key: the
    /// freshness check of every cached GET. The default compares version and bytes (a
    /// version alone may repeat after a delete); a store whose versions never repeat may
    /// compare those only, and skip reading the value.
    async fn get_fresh(&self, key: &str, known: &Versioned) -> Result<Fresh> {
        Ok(Fresh::of(self.get(key).await?, known))
    }
    /// Whether a read is a round trip over the network (DynamoDB, Redis, PostgreSQL): then
    /// concurrent GETs of a repo share their freshness checks (`group::check_together`);
    /// a local check (an `fstat`) costs less than sharing it.
    fn reads_are_remote(&self) -> bool {
        false
    }
    /// Keys starting with `prefix`, sorted. The prefix names at least the keys' first
    /// segment (`repo/`, `upload/r/`): DynamoDB lists one partition.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Several writes that succeed or fail together (DynamoDB TransactWriteItems, a Redis
    /// script, an SQL transaction, the file store's intent file). The default applies them in
    /// order and is atomic per key only: for test doubles; every shipped store overrides it.
    async fn transact(&self, ops: Vec<Write>) -> Cas<()> {
        for op in ops {
            let done = match op {
                Write::Put {
                    key,
                    value,
                    expected,
                } => self.put_if(&key, value, expected).await?.map(|_| ()),
                Write::Delete { key, expected } => self.delete_if(&key, expected).await?,
            };
            if done.is_err() {
                return Ok(Err(Conflict));
            }
        }
        Ok(Ok(()))
    }
    /// Blobs in the package store that hold values too large for this backend's items:
    /// garbage collection must keep them.
    async fn spilled(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
}

/// One write of a [`MetaStore::transact`].
#[derive(Clone, Debug)]
pub enum Write {
    Put {
        key: String,
        value: Bytes,
        expected: Option<u64>,
    },
    Delete {
        key: String,
        expected: u64,
    },
}

/// A reader over the whole blob, read into memory once: for backends that cannot block on a
/// ranged read from inside a generator call (wasm32-wasip2, Spin).
pub async fn whole_reader(
    store: &dyn PackageStore,
    facts: Facts,
) -> Result<Arc<dyn PackageReader>> {
    let data = store
        .get_bytes(&facts.sha256)
        .await?
        .ok_or_else(|| StoreError::Missing(format!("blob {}", facts.sha256)))?;
    Ok(Arc::new(MemReader { facts, data }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;

    #[test]
    fn client_faults_are_4xx_and_causes_reach_the_detail() {
        let bad: ApiError = StoreError::invalid("upload id", "../x").into();
        assert_eq!(bad.status, 400);
        assert_eq!(bad.detail, r#"invalid upload id "../x""#);
        let gone: ApiError = StoreError::Unavailable {
            what: "GET s3://b/k".into(),
            source: "dispatch failure".into(),
        }
        .into();
        assert_eq!(
            (gone.status.as_u16(), gone.detail.as_str()),
            (503, "GET s3://b/k: dispatch failure")
        );
        let broken: ApiError = StoreError::Corrupt("item without a version".into()).into();
        assert_eq!(broken.status, 500);
    }
}
