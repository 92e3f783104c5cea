//! `file://DIR` package store: content-addressed blobs at `DIR/blobs/ab/abcdef…`.
//! A put streams into a temp file while hashing, fsyncs it, then renames it to its sha256:
//! a crash leaves a temp file at most, never a blob with the wrong bytes.
use crate::{blob_path, blocking, sync_dir, tmp_name};
use async_trait::async_trait;
use futures::StreamExt;
use reposmith_core::body::ByteStream;
use reposmith_core::digest::{is_sha256, Digests, Hasher};
use reposmith_core::generator::{Facts, PackageReader};
use reposmith_core::store::{PackageStore, Result};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

pub struct FilePackageStore {
    root: PathBuf,
}

impl FilePackageStore {
    pub fn open(root: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(root.join("blobs"))?;
        std::fs::create_dir_all(root.join("tmp"))?;
        Ok(FilePackageStore { root })
    }

    fn path(&self, sha256: &str) -> Result<PathBuf> {
        Ok(self.root.join(blob_path(sha256)?))
    }
}

#[async_trait]
impl PackageStore for FilePackageStore {
    async fn put(&self, mut body: ByteStream) -> Result<Digests> {
        let tmp = self.root.join("tmp").join(tmp_name());
        let mut file = tokio::fs::File::create(&tmp).await?;
        let mut hasher = Hasher::default();
        let written: std::io::Result<()> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                hasher.update(&chunk);
                file.write_all(&chunk).await?;
            }
            file.flush().await?;
            file.sync_all().await
        }
        .await;
        drop(file);
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e.into());
        }
        let d = hasher.finish();
        let dest = self.path(&d.sha256)?;
        if tokio::fs::try_exists(&dest).await? {
            // Same address, same bytes: keep the one already there.
            tokio::fs::remove_file(&tmp).await?;
        } else {
            let dir = dest.parent().expect("blob has a parent").to_path_buf();
            tokio::fs::create_dir_all(&dir).await?;
            tokio::fs::rename(&tmp, &dest).await?;
            blocking(move || sync_dir(&dir)).await?;
        }
        Ok(d)
    }

    /// In memory already: hash first, and skip the write (and its fsync) when the blob is
    /// there: unchanged index files, repeated analyses and manifests cost one stat.
    async fn put_bytes(&self, data: bytes::Bytes) -> Result<Digests> {
        let d = reposmith_core::digest::digests(&data);
        if tokio::fs::try_exists(self.path(&d.sha256)?).await? {
            return Ok(d);
        }
        self.put(reposmith_core::Body::Bytes(data).into_stream())
            .await
    }

    async fn get(&self, sha256: &str, offset: u64, len: Option<u64>) -> Result<Option<ByteStream>> {
        let path = self.path(sha256)?;
        let mut f = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        f.seek(std::io::SeekFrom::Start(offset)).await?;
        let reader = f.take(len.unwrap_or(u64::MAX));
        Ok(Some(
            tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024).boxed(),
        ))
    }

    async fn size(&self, sha256: &str) -> Result<Option<u64>> {
        match tokio::fs::metadata(self.path(sha256)?).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, sha256: &str) -> Result<()> {
        match tokio::fs::remove_file(self.path(sha256)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn list(&self) -> Result<Vec<(String, u64)>> {
        let root = self.root.join("blobs");
        blocking(move || {
            let now = std::time::SystemTime::now();
            let mut out = Vec::new();
            for dir in std::fs::read_dir(&root)? {
                let dir = dir?;
                if !dir.file_type()?.is_dir() {
                    continue;
                }
                for f in std::fs::read_dir(dir.path())? {
                    let f = f?;
                    let name = f.file_name().to_string_lossy().into_owned();
                    if !is_sha256(&name) {
                        continue;
                    }
                    let modified = f.metadata()?.modified()?;
                    let age = now
                        .duration_since(modified)
                        .map(|d| d.as_secs())
                        .unwrap_or(0);
                    out.push((name, age));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn reader(&self, facts: Facts) -> Result<Arc<dyn PackageReader>> {
        let file = std::fs::File::open(self.path(&facts.sha256)?)?;
        Ok(Arc::new(FileReader { file, facts }))
    }
}

/// Positional reads on an open blob; `pread` needs no shared cursor, so it is `Sync`.
struct FileReader {
    file: std::fs::File,
    facts: Facts,
}

impl PackageReader for FileReader {
    fn facts(&self) -> &Facts {
        &self.facts
    }

    fn read(&self, offset: u64, len: u32) -> std::result::Result<Vec<u8>, String> {
        let end = self.facts.size.min(offset.saturating_add(len as u64));
        if offset >= end {
            return Ok(Vec::new());
        }
        let mut buf = vec![0u8; (end - offset) as usize];
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(|e| format!("read {}+{}: {e}", offset, buf.len()))?;
        Ok(buf)
    }
}
