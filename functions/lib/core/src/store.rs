//! Storage traits. Backends live in `reposmith-stores`, one file each (file, s3, dynamodb).
//!
//! - The package store holds immutable, content-addressed blobs (by sha256): package files,
//!   rendered index files, analysis records and manifests. Writes are idempotent.
//! - The metadata store holds a few small mutable keys per repo, each with a version, and
//!   offers compare-and-set: the whole commit protocol rests on `put_if`.
use crate::body::ByteStream;
use crate::digest::Digests;
use crate::generator::PackageReader;
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;

pub type Result<T> = anyhow::Result<T>;

#[async_trait]
pub trait PackageStore: Send + Sync {
    /// Streams bytes into the store under their sha256, computing all digests on the way.
    async fn put(&self, body: ByteStream) -> Result<Digests>;
    /// Whole bytes (small rendered files).
    async fn put_bytes(&self, data: Bytes) -> Result<Digests> {
        self.put(crate::body::Body::Bytes(data).into_stream()).await
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
    /// Size of the blob, or None if absent.
    async fn size(&self, sha256: &str) -> Result<Option<u64>>;
    async fn delete(&self, sha256: &str) -> Result<()>;
    /// Synchronous ranged reader for generators (`package.read`), over a stored blob.
    async fn reader(&self, facts: crate::generator::Facts) -> Result<Arc<dyn PackageReader>>;
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
}

/// A stored value and the version it had when read.
#[derive(Clone, Debug)]
pub struct Versioned {
    pub value: Bytes,
    pub version: u64,
}

/// Compare-and-set lost: somebody else wrote first. Re-read and retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict;

#[async_trait]
pub trait MetaStore: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Versioned>>;
    /// Writes `value` if the key is absent (`expected = None`) or still at version `expected`.
    /// Returns the new version.
    async fn put_if(
        &self,
        key: &str,
        value: Bytes,
        expected: Option<u64>,
    ) -> Result<std::result::Result<u64, Conflict>>;
    /// Deletes the key if it is still at version `expected`.
    async fn delete_if(
        &self,
        key: &str,
        expected: u64,
    ) -> Result<std::result::Result<(), Conflict>>;
    /// Keys starting with `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Several writes that succeed or fail together (DynamoDB TransactWriteItems). The
    /// default applies them in order and is atomic only per key: fine for the file store,
    /// whose callers tolerate a crash between two of them.
    async fn transact(&self, ops: Vec<Write>) -> Result<std::result::Result<(), Conflict>> {
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
