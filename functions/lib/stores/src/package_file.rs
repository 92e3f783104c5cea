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
use std::io::{Read, Seek};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Bytes per read of a blob being served.
const CHUNK: u64 = 1 << 20;

pub struct FilePackageStore {
    root: PathBuf,
}

impl FilePackageStore {
    /// Opens (creating) the store, and deletes what uploads cut off by a crash left in tmp/
    /// an hour or more ago (a live upload writes to its file all the time).
    pub fn open(root: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(root.join("blobs"))?;
        std::fs::create_dir_all(root.join("tmp"))?;
        sweep(&root.join("tmp"), 3600)?;
        Ok(FilePackageStore { root })
    }

    fn path(&self, sha256: &str) -> Result<PathBuf> {
        Ok(self.root.join(blob_path(sha256)?))
    }
}

/// A written and synced temp file becomes the blob at `dest`, durably: renamed into place and
/// the directory synced. If the blob is there already (same address, same bytes), the one
/// there is kept.
fn settle(tmp: &Path, dest: &Path) -> std::io::Result<()> {
    if dest.exists() {
        return std::fs::remove_file(tmp);
    }
    let dir = dest.parent().expect("blob has a parent");
    std::fs::create_dir_all(dir)?;
    std::fs::rename(tmp, dest)?;
    sync_dir(dir)
}

/// Deletes the files in `tmp` not modified for `min_age` seconds; answers how many.
fn sweep(tmp: &Path, min_age: u64) -> std::io::Result<usize> {
    let now = std::time::SystemTime::now();
    let mut deleted = 0;
    for f in std::fs::read_dir(tmp)? {
        let f = f?;
        let age = now
            .duration_since(f.metadata()?.modified()?)
            .map_or(0, |d| d.as_secs());
        if age >= min_age && std::fs::remove_file(f.path()).is_ok() {
            deleted += 1;
        }
    }
    Ok(deleted)
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
        blocking(move || settle(&tmp, &dest)).await?;
        Ok(d)
    }

    /// In memory already: hash once, and skip the write (and its fsync) when the blob is
    /// there: unchanged index files, repeated analyses and manifests cost one stat. One hop to
    /// the blocking pool for all of it (each `tokio::fs` call would be a hop of its own).
    async fn put_bytes(&self, data: bytes::Bytes) -> Result<Digests> {
        let root = self.root.clone();
        blocking(move || {
            let d = reposmith_core::digest::digests(&data);
            let dest = root.join(blob_path(&d.sha256).map_err(std::io::Error::other)?);
            if dest.exists() {
                return Ok(d);
            }
            let tmp = root.join("tmp").join(tmp_name());
            let written = (|| {
                let mut f = std::fs::File::create(&tmp)?;
                std::io::Write::write_all(&mut f, &data)?;
                f.sync_all()
            })();
            if let Err(e) = written {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
            settle(&tmp, &dest)?;
            Ok(d)
        })
        .await
    }

    /// Large reads on a blocking thread, straight into the buffer each chunk is sent from
    /// (tokio's `File` would copy every chunk once more through its own buffer).
    async fn get(&self, sha256: &str, offset: u64, len: Option<u64>) -> Result<Option<ByteStream>> {
        let path = self.path(sha256)?;
        let opened = blocking(move || match std::fs::File::open(&path) {
            Ok(mut f) => {
                f.seek(std::io::SeekFrom::Start(offset))?;
                Ok(Some(f))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await?;
        let Some(file) = opened else {
            return Ok(None);
        };
        let left = len.unwrap_or(u64::MAX);
        let chunks = futures::stream::try_unfold((file, left), |(mut file, left)| async move {
            if left == 0 {
                return Ok(None);
            }
            let want = left.min(CHUNK);
            let (file, buf) = tokio::task::spawn_blocking(move || {
                let mut buf = Vec::with_capacity(want as usize);
                (&mut file).take(want).read_to_end(&mut buf)?;
                Ok::<_, std::io::Error>((file, buf))
            })
            .await
            .map_err(std::io::Error::other)??;
            if buf.is_empty() {
                return Ok(None); // the end of the blob
            }
            let left = left - buf.len() as u64;
            Ok(Some((bytes::Bytes::from(buf), (file, left))))
        });
        Ok(Some(chunks.boxed()))
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

    async fn sweep_temp(&self, min_age: u64) -> Result<usize> {
        let tmp = self.root.join("tmp");
        blocking(move || sweep(&tmp, min_age)).await
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(store: &FilePackageStore, sha: &str, offset: u64, len: Option<u64>) -> Vec<u8> {
        let mut s = store.get(sha, offset, len).await.unwrap().unwrap();
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn a_range_of_a_blob_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let store = FilePackageStore::open(dir.path().to_path_buf()).unwrap();
        let data: Vec<u8> = (0..(3 * CHUNK + 17)).map(|i| (i % 251) as u8).collect();
        let d = store.put_bytes(data.clone().into()).await.unwrap();
        let n = data.len() as u64;
        assert_eq!(read(&store, &d.sha256, 0, None).await, data);
        let (a, len) = (CHUNK - 5, CHUNK + 10);
        assert_eq!(
            read(&store, &d.sha256, a, Some(len)).await,
            &data[a as usize..(a + len) as usize]
        );
        assert_eq!(
            read(&store, &d.sha256, n - 3, Some(100)).await,
            &data[(n - 3) as usize..]
        );
        assert!(read(&store, &d.sha256, n, None).await.is_empty());
        assert!(store.get(&"0".repeat(64), 0, None).await.unwrap().is_none());
    }
}
