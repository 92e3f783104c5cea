//! The blobs this request touched, kept in memory. A Spin instance lives for one request,
//! and everything in it runs on one `wstd` executor that cannot be re-entered: the
//! synchronous signer (`detached-package`, `rsa-sign-blob`, called from inside a generator
//! call) cannot await the S3 store. It signs blobs this request stored or read instead: the
//! package just uploaded, the index files just assembled — exactly the ones it is asked for.
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use reposmith_core::body::ByteStream;
use reposmith_core::digest::Digests;
use reposmith_core::generator::{Facts, PackageReader};
use reposmith_core::model::BlobRef;
use reposmith_core::store::{PackageStore, Result};
use reposmith_signing::Blobs;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Blobs larger than this are not kept (nothing asks to sign one that big here).
const KEEP: usize = 256 << 20;

pub struct Cached {
    inner: Arc<dyn PackageStore>,
    blobs: Mutex<HashMap<String, Bytes>>,
}

impl Cached {
    pub fn new(inner: Arc<dyn PackageStore>) -> Self {
        Cached {
            inner,
            blobs: Mutex::new(HashMap::new()),
        }
    }

    fn keep(&self, sha256: &str, data: Bytes) {
        if data.len() <= KEEP {
            self.blobs.lock().unwrap().insert(sha256.to_string(), data);
        }
    }

    pub fn held(&self, sha256: &str) -> Option<Bytes> {
        self.blobs.lock().unwrap().get(sha256).cloned()
    }
}

#[async_trait]
impl PackageStore for Cached {
    async fn put(&self, body: ByteStream) -> Result<Digests> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let tee = seen.clone();
        let body = body
            .inspect(move |c| {
                if let Ok(c) = c {
                    let mut t = tee.lock().unwrap();
                    if t.len() <= KEEP {
                        t.extend_from_slice(c);
                    }
                }
            })
            .boxed();
        let d = self.inner.put(body).await?;
        let data = std::mem::take(&mut *seen.lock().unwrap());
        if data.len() as u64 == d.size {
            self.keep(&d.sha256, data.into());
        }
        Ok(d)
    }

    async fn put_bytes(&self, data: Bytes) -> Result<BlobRef> {
        let d = self.inner.put_bytes(data.clone()).await?;
        self.keep(&d.sha256, data);
        Ok(d)
    }

    async fn get(&self, sha256: &str, offset: u64, len: Option<u64>) -> Result<Option<ByteStream>> {
        if let Some(b) = self.held(sha256) {
            let start = (offset as usize).min(b.len());
            let end = len.map_or(b.len(), |l| start.saturating_add(l as usize).min(b.len()));
            let part = b.slice(start..end);
            return Ok(Some(futures::stream::once(async move { Ok(part) }).boxed()));
        }
        self.inner.get(sha256, offset, len).await
    }

    async fn get_bytes(&self, sha256: &str) -> Result<Option<Bytes>> {
        if let Some(b) = self.held(sha256) {
            return Ok(Some(b));
        }
        let got = self.inner.get_bytes(sha256).await?;
        if let Some(b) = &got {
            self.keep(sha256, b.clone());
        }
        Ok(got)
    }

    async fn size(&self, sha256: &str) -> Result<Option<u64>> {
        if let Some(b) = self.held(sha256) {
            return Ok(Some(b.len() as u64));
        }
        self.inner.size(sha256).await
    }

    async fn delete(&self, sha256: &str) -> Result<()> {
        self.blobs.lock().unwrap().remove(sha256);
        self.inner.delete(sha256).await
    }

    /// The whole package, read once (and kept for signing it).
    async fn reader(&self, facts: Facts) -> Result<Arc<dyn PackageReader>> {
        reposmith_core::store::whole_reader(self, facts).await
    }

    async fn presigned_get(&self, sha256: &str, filename: &str) -> Result<Option<String>> {
        self.inner.presigned_get(sha256, filename).await
    }

    async fn presigned_put(&self, id: &str) -> Result<Option<String>> {
        self.inner.presigned_put(id).await
    }

    async fn adopt(&self, id: &str) -> Result<Option<Digests>> {
        self.inner.adopt(id).await
    }

    fn reads_are_remote(&self) -> bool {
        self.inner.reads_are_remote()
    }
    async fn settle(&self) -> Result<()> {
        self.inner.settle().await
    }
    async fn list(&self) -> Result<Vec<(String, u64)>> {
        self.inner.list().await
    }
}

/// The repo signer's blobs on Spin: only those this request stored or read (see above).
impl Blobs for Cached {
    fn open(&self, sha256: &str) -> std::result::Result<Box<dyn std::io::Read + '_>, String> {
        let b = self.held(sha256).ok_or_else(|| {
            format!("blob {sha256} was not stored or read in this request (Spin build)")
        })?;
        Ok(Box::new(std::io::Cursor::new(b)))
    }
}
