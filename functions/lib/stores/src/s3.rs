//! `s3://BUCKET/PREFIX` package store on aws-sdk-s3 (any S3-compatible endpoint).
//!
//! Layout under the prefix:
//! - `blobs/ab/abcdef…`: content-addressed blobs (packages, rendered indexes, analyses,
//!   manifests, spilled metadata values), keyed by sha256 like the file store.
//! - `staging/put-…`: multipart uploads in progress; copied to their blob key once the
//!   sha256 is known, then deleted.
//! - `uploads/{id}`: what a client PUT through a presigned URL (large uploads), until
//!   `adopt` moves it into `blobs/`.
//!
//! A blob key is only ever written whole with the bytes its name promises (a single PUT of a
//! buffered body, or a server-side copy of a completed upload), so a crash leaves staging
//! leftovers at most, never a wrong blob. Staging is swept by a bucket lifecycle rule.
use crate::aws::OrStoreError;
use crate::{blob_path, token};
use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream as S3Stream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use reposmith_core::body::ByteStream;
use reposmith_core::digest::{is_sha256, sha256_hex, Digests, Hasher};
use reposmith_core::generator::{Facts, PackageReader};
use reposmith_core::model::BlobRef;
use reposmith_core::store::{PackageStore, Result, StoreError};
use std::sync::Arc;
#[cfg(not(target_family = "wasm"))]
use std::sync::Mutex;
use std::time::Duration;

/// Multipart part size: bodies up to this go up in one PUT (most packages).
const PART: usize = 8 << 20;
/// Up to this size `put_bytes` PUTs without asking whether the blob exists.
const SMALL: usize = 64 << 10;
/// Ranged reads for generators fetch aligned windows of this size and keep a few.
#[cfg(not(target_family = "wasm"))]
const WINDOW: u64 = 1 << 20;
/// A reader asks for a package's first bytes as soon as it is made, so the readers of a
/// batch (a rebuild's, or concurrent uploads') wait on one round trip together, not one each
/// in turn on the analysing thread. Every format's metadata sits at the start; this is enough
/// for nearly all packages, and little enough that a rebuild's 256 readers at once hold 64 MiB
/// at most.
#[cfg(not(target_family = "wasm"))]
const FIRST: u64 = 256 << 10;

#[derive(Clone)]
pub struct S3PackageStore {
    client: Client,
    bucket: String,
    prefix: String,
    /// Lifetime of presigned URLs; None turns redirects off (downloads stream through).
    presign: Option<Duration>,
}

/// A request `$op` on multipart upload `$id` of object `$key`: a part, completing, aborting.
macro_rules! on_upload {
    ($self:ident, $op:ident, $key:expr, $id:expr) => {
        $self
            .client
            .$op()
            .bucket(&$self.bucket)
            .key($key)
            .upload_id($id)
    };
}

impl S3PackageStore {
    /// `prefix` is used as given ("" or ending in '/').
    pub fn new(client: Client, bucket: &str, prefix: &str, presign: Option<Duration>) -> Self {
        let prefix = match prefix.trim_matches('/') {
            "" => String::new(),
            p => format!("{p}/"),
        };
        S3PackageStore {
            client,
            bucket: bucket.to_string(),
            prefix,
            presign,
        }
    }

    fn blob_key(&self, sha256: &str) -> Result<String> {
        Ok(format!("{}{}", self.prefix, blob_path(sha256)?))
    }

    /// Upload ids come from request paths: anything but letters, digits and '-' is refused.
    fn upload_key(&self, id: &str) -> Result<String> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(StoreError::invalid("upload id", id));
        }
        Ok(format!("{}uploads/{id}", self.prefix))
    }

    /// Checks the bucket answers (a clear error at start instead of at the first upload).
    pub async fn check(&self) -> Result<()> {
        let what = format!("S3 bucket {:?}", self.bucket);
        let head = self.client.head_bucket().bucket(&self.bucket);
        head.send().await.map(drop).or_store_error(what)
    }

    /// Creates the bucket (development setups); an existing one of ours is fine.
    pub async fn create(&self, region: Option<&str>) -> Result<()> {
        let mut req = self.client.create_bucket().bucket(&self.bucket);
        if let Some(r) = region.filter(|r| *r != "us-east-1") {
            req = req.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(r.into())
                    .build(),
            );
        }
        match req.send().await {
            Err(e)
                if !e
                    .as_service_error()
                    .is_some_and(|s| s.is_bucket_already_owned_by_you()) =>
            {
                Err(e).or_store_error(format!("creating S3 bucket {:?}", self.bucket))
            }
            _ => Ok(()),
        }
    }

    async fn exists(&self, key: &str) -> Result<Option<u64>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => Ok(Some(o.content_length().unwrap_or(0).max(0) as u64)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(e).or_store_error(format!("HEAD s3://{}/{key}", self.bucket)),
        }
    }

    async fn put_object(&self, key: &str, data: Bytes) -> Result<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(S3Stream::from(data))
            .send()
            .await
            .or_store_error(format!("PUT s3://{}/{key}", self.bucket))?;
        Ok(())
    }

    /// Server-side copy of a finished staging object to its blob key, then the staging
    /// object goes.
    async fn promote(&self, from: &str, sha256: &str) -> Result<()> {
        let dest = self.blob_key(sha256)?;
        if self.exists(&dest).await?.is_none() {
            self.client
                .copy_object()
                .bucket(&self.bucket)
                .copy_source(format!("{}/{from}", self.bucket))
                .key(&dest)
                .send()
                .await
                .or_store_error(format!("COPY to s3://{}/{dest}", self.bucket))?;
        }
        self.delete_key(from).await
    }

    async fn delete_key(&self, key: &str) -> Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .or_store_error(format!("DELETE s3://{}/{key}", self.bucket))?;
        Ok(())
    }

    /// Bytes `[offset, offset+len)` of an object (fewer at its end), or None if absent.
    async fn get_range(
        &self,
        key: &str,
        offset: u64,
        len: Option<u64>,
    ) -> Result<Option<S3Stream>> {
        let range = match len {
            Some(0) => return Ok(Some(S3Stream::from_static(b""))),
            Some(n) => format!("bytes={offset}-{}", offset + n - 1),
            None => format!("bytes={offset}-"),
        };
        let mut req = self.client.get_object().bucket(&self.bucket).key(key);
        if offset > 0 || len.is_some() {
            req = req.range(range);
        }
        match req.send().await {
            Ok(o) => Ok(Some(o.body)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            // Range past the end of an existing object: nothing to read.
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 416) => {
                Ok(Some(S3Stream::from_static(b"")))
            }
            Err(e) => Err(e).or_store_error(format!("GET s3://{}/{key}", self.bucket)),
        }
    }

    /// Streams `body` into staging as a multipart upload (first part already buffered).
    async fn put_multipart(
        &self,
        first: Bytes,
        mut body: ByteStream,
        hasher: &mut Hasher,
    ) -> Result<String> {
        let staging = format!("{}staging/put-{}", self.prefix, token());
        let up = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(&staging)
            .send()
            .await
            .or_store_error("starting a multipart upload")?;
        let id = up.upload_id().unwrap_or_default().to_string();
        let result: Result<()> = async {
            let mut parts = Vec::new();
            let mut next = Some(first);
            while let Some(chunk) = next.take() {
                let n = parts.len() as i32 + 1;
                let out = on_upload!(self, upload_part, &staging, &id)
                    .part_number(n)
                    .body(S3Stream::from(chunk))
                    .send()
                    .await
                    .or_store_error("uploading a part")?;
                parts.push(
                    CompletedPart::builder()
                        .part_number(n)
                        .set_e_tag(out.e_tag().map(str::to_string))
                        .build(),
                );
                let mut buf = BytesMut::new();
                fill(&mut body, hasher, &mut buf).await?;
                next = (!buf.is_empty()).then(|| buf.freeze());
            }
            on_upload!(self, complete_multipart_upload, &staging, &id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .or_store_error("completing a multipart upload")?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            let abort = on_upload!(self, abort_multipart_upload, &staging, &id);
            let _ = abort.send().await;
            return Err(e);
        }
        Ok(staging)
    }
}

/// Reads `body` into `buf`, hashing, until `buf` holds a part; true when the body ended.
async fn fill(
    body: &mut ByteStream,
    hasher: &mut Hasher,
    buf: &mut BytesMut,
) -> std::io::Result<bool> {
    while buf.len() < PART {
        match body.next().await {
            Some(c) => {
                let c = c?;
                hasher.update(&c);
                buf.extend_from_slice(&c);
            }
            None => return Ok(true),
        }
    }
    Ok(false)
}

/// A whole object body into memory; a body that breaks off is an unavailable backend.
async fn collect(s: S3Stream) -> Result<Bytes> {
    match s.collect().await {
        Ok(data) => Ok(data.into_bytes()),
        Err(e) => Err(StoreError::Unavailable {
            what: "reading an S3 object".into(),
            source: e.into(),
        }),
    }
}

fn presigning(ttl: Duration) -> Result<PresigningConfig> {
    PresigningConfig::expires_in(ttl).map_err(|e| StoreError::backend("presigning", e))
}

fn into_stream(s: S3Stream) -> ByteStream {
    futures::stream::unfold(s, |mut s| async move {
        s.next()
            .await
            .map(|r| (r.map_err(std::io::Error::other), s))
    })
    .boxed()
}

#[async_trait]
impl PackageStore for S3PackageStore {
    fn reads_are_remote(&self) -> bool {
        true
    }

    async fn put(&self, mut body: ByteStream) -> Result<Digests> {
        let mut hasher = Hasher::default();
        let mut buf = BytesMut::new();
        if fill(&mut body, &mut hasher, &mut buf).await? {
            // Fits in one part: one PUT straight to its blob key.
            let d = hasher.finish();
            self.put_object(&self.blob_key(&d.sha256)?, buf.freeze())
                .await?;
            return Ok(d);
        }
        let staging = self.put_multipart(buf.freeze(), body, &mut hasher).await?;
        let d = hasher.finish();
        self.promote(&staging, &d.sha256).await?;
        Ok(d)
    }

    /// Small blobs go up in one PUT whether or not they exist (same key, same bytes): one
    /// request either way. Larger unchanged ones (big indexes) cost one HEAD, not a PUT.
    async fn put_bytes(&self, data: Bytes) -> Result<BlobRef> {
        let d = BlobRef::stored(sha256_hex(&data), data.len() as u64);
        let key = self.blob_key(&d.sha256)?;
        if data.len() <= SMALL {
            self.put_object(&key, data).await?;
        } else if self.exists(&key).await?.is_none() {
            if data.len() <= PART {
                self.put_object(&key, data).await?;
            } else {
                self.put(reposmith_core::Body::Bytes(data).into_stream())
                    .await?;
            }
        }
        Ok(d)
    }

    async fn get(&self, sha256: &str, offset: u64, len: Option<u64>) -> Result<Option<ByteStream>> {
        Ok(self
            .get_range(&self.blob_key(sha256)?, offset, len)
            .await?
            .map(into_stream))
    }

    async fn get_bytes(&self, sha256: &str) -> Result<Option<Bytes>> {
        match self.get_range(&self.blob_key(sha256)?, 0, None).await? {
            None => Ok(None),
            Some(s) => Ok(Some(collect(s).await?)),
        }
    }

    async fn size(&self, sha256: &str) -> Result<Option<u64>> {
        self.exists(&self.blob_key(sha256)?).await
    }

    async fn delete(&self, sha256: &str) -> Result<()> {
        self.delete_key(&self.blob_key(sha256)?).await
    }

    #[cfg(not(target_family = "wasm"))]
    async fn reader(&self, facts: Facts) -> Result<Arc<dyn PackageReader>> {
        let key = self.blob_key(&facts.sha256)?;
        let (store, k, len) = (self.clone(), key.clone(), FIRST.min(facts.size));
        let first = tokio::spawn(async move { store.window_at(&k, 0, len).await });
        Ok(Arc::new(S3Reader {
            key,
            store: self.clone(),
            facts,
            handle: tokio::runtime::Handle::current(),
            first: Mutex::new(First::Asked(first)),
            windows: Mutex::new(Vec::new()),
        }))
    }

    /// wasm32-wasip2 (Spin): no blocking thread to run ranged reads from, so a generator
    /// gets the whole blob, read once.
    #[cfg(target_family = "wasm")]
    async fn reader(&self, facts: Facts) -> Result<Arc<dyn PackageReader>> {
        reposmith_core::store::whole_reader(self, facts).await
    }

    async fn presigned_get(&self, sha256: &str, filename: &str) -> Result<Option<String>> {
        let Some(ttl) = self.presign else {
            return Ok(None);
        };
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.blob_key(sha256)?)
            .response_content_disposition(format!(
                "attachment; filename=\"{}\"",
                filename.replace(['"', '\\'], "_")
            ))
            .presigned(presigning(ttl)?)
            .await
            .or_store_error("presigning a GET")?;
        Ok(Some(req.uri().to_string()))
    }

    async fn presigned_put(&self, id: &str) -> Result<Option<String>> {
        // Uploads need a URL even when download redirects are off.
        let ttl = self.presign.unwrap_or(Duration::from_secs(3600));
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.upload_key(id)?)
            .presigned(presigning(ttl)?)
            .await
            .or_store_error("presigning a PUT")?;
        Ok(Some(req.uri().to_string()))
    }

    async fn adopt(&self, id: &str) -> Result<Option<Digests>> {
        let key = self.upload_key(id)?;
        let Some(s) = self.get_range(&key, 0, None).await? else {
            return Ok(None);
        };
        let mut hasher = Hasher::default();
        let mut s = into_stream(s);
        while let Some(c) = s.next().await {
            hasher.update(&c?);
        }
        let d = hasher.finish();
        if d.size == 0 {
            self.delete_key(&key).await?;
            return Ok(Some(d));
        }
        self.promote(&key, &d.sha256).await?;
        Ok(Some(d))
    }

    async fn list(&self) -> Result<Vec<(String, u64)>> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(format!("{}blobs/", self.prefix))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.or_store_error("listing blobs")?;
            for o in page.contents() {
                let Some(sha) = o.key().and_then(|k| k.rsplit('/').next()) else {
                    continue;
                };
                if is_sha256(sha) {
                    let modified = o.last_modified().map(|t| t.secs()).unwrap_or(now);
                    out.push((sha.to_string(), now.saturating_sub(modified).max(0) as u64));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(not(target_family = "wasm"))]
/// Ranged reads of a stored package for a generator call (which runs on a blocking thread,
/// so blocking on the runtime here is safe). Aligned windows keep small sequential reads
/// (headers, then members) to one request per MiB.
struct S3Reader {
    store: S3PackageStore,
    key: String,
    facts: Facts,
    handle: tokio::runtime::Handle,
    /// The package's first `FIRST` bytes, asked for when the reader was made.
    first: Mutex<First>,
    windows: Mutex<Vec<(u64, Bytes)>>,
}

#[cfg(not(target_family = "wasm"))]
enum First {
    Asked(tokio::task::JoinHandle<Result<Bytes>>),
    Got(Bytes),
    /// The GET failed (told to the read that waited for it): later reads use the windows.
    Failed,
}

#[cfg(not(target_family = "wasm"))]
impl Drop for S3Reader {
    /// A reader dropped unread (its batch failed) does not leave its GET running.
    fn drop(&mut self) {
        if let First::Asked(h) = &*self.first.lock().unwrap_or_else(|p| p.into_inner()) {
            h.abort();
        }
    }
}

#[cfg(not(target_family = "wasm"))]
impl S3PackageStore {
    /// `len` bytes of object `key` from `offset`, whole in memory.
    async fn window_at(&self, key: &str, offset: u64, len: u64) -> Result<Bytes> {
        match self.get_range(key, offset, Some(len)).await? {
            Some(s) => collect(s).await,
            None => Err(StoreError::Missing(format!("blob {key}"))),
        }
    }
}

#[cfg(not(target_family = "wasm"))]
impl S3Reader {
    /// The first bytes, waiting for the GET asked for when the reader was made; None once
    /// that GET failed (a finished task cannot be asked again).
    fn first(&self) -> Option<std::result::Result<Bytes, String>> {
        let mut first = self.first.lock().unwrap_or_else(|p| p.into_inner());
        if let First::Asked(h) = &mut *first {
            let got = match self.handle.block_on(h) {
                Ok(r) => r.map_err(|e| e.chain()),
                Err(e) => Err(format!("reading the start of {}: {e}", self.key)),
            };
            *first = match &got {
                Ok(b) => First::Got(b.clone()),
                Err(_) => First::Failed,
            };
            return Some(got);
        }
        match &*first {
            First::Got(b) => Some(Ok(b.clone())),
            _ => None,
        }
    }

    fn window(&self, index: u64) -> std::result::Result<Bytes, String> {
        if let Some((_, w)) = self
            .windows
            .lock()
            .unwrap()
            .iter()
            .find(|(i, _)| *i == index)
        {
            return Ok(w.clone());
        }
        let offset = index * WINDOW;
        let len = WINDOW.min(self.facts.size.saturating_sub(offset));
        let data = self
            .handle
            .block_on(self.store.window_at(&self.key, offset, len))
            .map_err(|e| e.chain())?;
        let mut w = self.windows.lock().unwrap();
        if w.len() >= 4 {
            w.remove(0);
        }
        w.push((index, data.clone()));
        Ok(data)
    }
}

#[cfg(not(target_family = "wasm"))]
impl PackageReader for S3Reader {
    fn facts(&self) -> &Facts {
        &self.facts
    }

    fn read(&self, offset: u64, len: u32) -> std::result::Result<Vec<u8>, String> {
        let end = self.facts.size.min(offset.saturating_add(len as u64));
        if end <= FIRST.min(self.facts.size) {
            if let Some(first) = self.first() {
                let (first, stop) = (first?, end as usize);
                if first.len() < stop {
                    let at = first.len();
                    return Err(format!("short read at {at} of {}", self.facts.sha256));
                }
                return Ok(first[(offset as usize).min(stop)..stop].to_vec());
            }
        }
        let mut out = Vec::with_capacity(end.saturating_sub(offset) as usize);
        let mut pos = offset;
        while pos < end {
            let w = self.window(pos / WINDOW)?;
            let start = (pos % WINDOW) as usize;
            let take = ((end - pos) as usize).min(w.len().saturating_sub(start));
            if take == 0 {
                return Err(format!("short read at {pos} of {}", self.facts.sha256));
            }
            out.extend_from_slice(&w[start..start + take]);
            pos += take as u64;
        }
        Ok(out)
    }
}
