//! `file://DIR` package store: content-addressed blobs at `DIR/blobs/ab/abcdef…`.
//! A put streams into a temp file while hashing, then renames it to its sha256: a crash
//! leaves a temp file at most, never a blob under another blob's name.
//!
//! Durability is batched: a put answers once its blob is in place, and `settle` (which the
//! core calls before any metadata write that could name the blob) makes everything put so
//! far durable with one `syncfs` of the store's file system. A publish writes tens of blobs;
//! one sync instead of two fsyncs each halves a load's time on a disk where a flush costs
//! milliseconds. After a power loss an unsettled blob may be left short or empty: no key
//! names it, and a put of the same bytes finds the size wrong and writes it again.
use crate::{blob_path, blocking, tmp_name, TMP_PREFIX};
use async_trait::async_trait;
use futures::StreamExt;
use reposmith_core::body::ByteStream;
use reposmith_core::digest::{is_sha256, sha256_hex, Digests, Hasher};
use reposmith_core::generator::{Facts, PackageReader};
use reposmith_core::model::BlobRef;
use reposmith_core::store::{PackageStore, Result};
use std::io::{Read, Seek};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Bytes per read of a blob being served.
const CHUNK: u64 = 1 << 20;

pub struct FilePackageStore {
    root: PathBuf,
    /// Puts answered so far, and how many of them the last `syncfs` covered.
    written: AtomicU64,
    synced: AtomicU64,
    /// One `syncfs` at a time: callers that queue behind one find their puts covered.
    syncing: tokio::sync::Mutex<()>,
}

impl FilePackageStore {
    /// Opens (creating) the store, and deletes what uploads cut off by a crash left in tmp/
    /// an hour or more ago (a live upload writes to its file all the time).
    pub fn open(root: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(root.join("blobs"))?;
        std::fs::create_dir_all(root.join("tmp"))?;
        sweep(&root.join("tmp"), 3600, Temp::All)?;
        Ok(FilePackageStore {
            root,
            written: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            syncing: tokio::sync::Mutex::new(()),
        })
    }

    fn path(&self, sha256: &str) -> Result<PathBuf> {
        Ok(self.root.join(blob_path(sha256)?))
    }

    /// A put has answered: the next `settle` must sync. Also when the blob was there
    /// already: another put may have placed it and not be settled yet.
    fn wrote(&self) {
        self.written.fetch_add(1, Ordering::SeqCst);
    }
}

/// Whether `dest` holds a blob of `size` bytes already (same address, so the same bytes,
/// unless a power loss cut it short before it was settled).
fn holds(dest: &Path, size: u64) -> bool {
    std::fs::metadata(dest).is_ok_and(|m| m.len() == size)
}

/// A written temp file becomes the blob at `dest` (whose directory exists): renamed into
/// place, unless a whole blob is there already (then the one there is kept).
fn place(tmp: &Path, dest: &Path, size: u64) -> std::io::Result<()> {
    if holds(dest, size) {
        return std::fs::remove_file(tmp);
    }
    std::fs::rename(tmp, dest)
}

/// The directory a blob at `dest` goes in, made if missing.
fn blob_dir(dest: &Path) -> std::io::Result<&Path> {
    let dir = dest.parent().expect("blob has a parent");
    std::fs::create_dir_all(dir)?;
    Ok(dir)
}

/// Flushes the file system holding `root`: data, inodes and directory entries alike.
fn syncfs(root: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let dir = std::fs::File::open(root)?;
    // SAFETY: syncfs takes an open descriptor and touches no memory of ours.
    if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Where temporary files are: everything in `tmp/` is one; in a blob directory, the names
/// `tmp_name` makes.
#[derive(Clone, Copy, PartialEq)]
enum Temp {
    All,
    Named,
}

/// Deletes the temporary files in `dir` not modified for `min_age` seconds; answers how many.
fn sweep(dir: &Path, min_age: u64, temp: Temp) -> std::io::Result<usize> {
    let now = std::time::SystemTime::now();
    let mut deleted = 0;
    for f in std::fs::read_dir(dir)? {
        let f = f?;
        if temp == Temp::Named && !f.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
            continue;
        }
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
            file.flush().await
        }
        .await;
        drop(file);
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e.into());
        }
        let d = hasher.finish();
        let dest = self.path(&d.sha256)?;
        let size = d.size;
        blocking(move || {
            blob_dir(&dest)?;
            place(&tmp, &dest, size)
        })
        .await?;
        self.wrote();
        Ok(d)
    }

    /// In memory already: hash once, and skip the write when the blob is there: unchanged
    /// index files, repeated analyses and manifests cost one stat. One hop to the blocking
    /// pool for all of it (each `tokio::fs` call would be a hop of its own).
    async fn put_bytes(&self, data: bytes::Bytes) -> Result<BlobRef> {
        let root = self.root.clone();
        let d = blocking(move || {
            let d = BlobRef::stored(sha256_hex(&data), data.len() as u64);
            let dest = root.join(blob_path(&d.sha256).map_err(std::io::Error::other)?);
            if holds(&dest, d.size) {
                return Ok(d);
            }
            // Written beside its place and renamed within the directory: one shared `tmp/`
            // made every put wait on that directory's lock while ext4 looked for a free
            // inode, and a rename across directories takes the file system's rename lock
            // (`add -j 8` past ~12,000 debs: twice the CPU an upload, most of it spinning).
            let tmp = blob_dir(&dest)?.join(tmp_name());
            let written = std::fs::write(&tmp, &data);
            if let Err(e) = written {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
            place(&tmp, &dest, d.size)?;
            Ok(d)
        })
        .await?;
        self.wrote();
        Ok(d)
    }

    /// One `syncfs` covers every put that answered before it started; concurrent callers
    /// share it.
    async fn settle(&self) -> Result<()> {
        let want = self.written.load(Ordering::SeqCst);
        if self.synced.load(Ordering::SeqCst) >= want {
            return Ok(());
        }
        let _one = self.syncing.lock().await;
        if self.synced.load(Ordering::SeqCst) >= want {
            return Ok(());
        }
        let upto = self.written.load(Ordering::SeqCst);
        let root = self.root.clone();
        blocking(move || syncfs(&root)).await?;
        self.synced.fetch_max(upto, Ordering::SeqCst);
        Ok(())
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

    /// A small blob whole (an analysis, a bucket), in one hop to the blocking pool: the
    /// stream takes three (open, read, end), and a render from scratch reads thousands.
    async fn get_bytes(&self, sha256: &str) -> Result<Option<bytes::Bytes>> {
        let path = self.path(sha256)?;
        blocking(move || read_whole(&path)).await
    }

    async fn get_many(&self, sha256s: &[String]) -> Result<Vec<Option<bytes::Bytes>>> {
        let paths = sha256s
            .iter()
            .map(|s| self.path(s))
            .collect::<Result<Vec<_>>>()?;
        // One hop for all: each hop to the blocking pool costs a thread wake-up or two.
        blocking(move || paths.iter().map(|p| read_whole(p)).collect()).await
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
        let root = self.root.clone();
        blocking(move || {
            let mut deleted = sweep(&root.join("tmp"), min_age, Temp::All)?;
            for dir in std::fs::read_dir(root.join("blobs"))? {
                let dir = dir?;
                if dir.file_type()?.is_dir() {
                    deleted += sweep(&dir.path(), min_age, Temp::Named)?;
                }
            }
            Ok(deleted)
        })
        .await
    }

    async fn reader(&self, facts: Facts) -> Result<Arc<dyn PackageReader>> {
        let file = std::fs::File::open(self.path(&facts.sha256)?)?;
        Ok(Arc::new(FileReader { file, facts }))
    }
}

/// A blob's bytes, or None if it is absent.
fn read_whole(path: &std::path::Path) -> std::io::Result<Option<bytes::Bytes>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b.into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
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

    /// What a power loss before `settle` may leave (a blob cut short) is written again by
    /// the next put of the same bytes, streamed or whole.
    #[tokio::test]
    async fn a_blob_cut_short_is_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = FilePackageStore::open(dir.path().to_path_buf()).unwrap();
        let data = bytes::Bytes::from_static(b"the bytes of a blob");
        let d = store.put_bytes(data.clone()).await.unwrap();
        let path = store.path(&d.sha256).unwrap();
        std::fs::write(&path, b"").unwrap();
        store.put_bytes(data.clone()).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), &data[..]);
        std::fs::write(&path, b"the by").unwrap();
        let body = reposmith_core::body::Body::Bytes(data.clone()).into_stream();
        assert_eq!(store.put(body).await.unwrap().sha256, d.sha256);
        assert_eq!(std::fs::read(&path).unwrap(), &data[..]);
    }

    /// A put leaves no temporary file behind; one left beside the blobs (a crash between
    /// write and rename) is swept by GC's `sweep_temp` once old enough, and no blob with it.
    #[tokio::test]
    async fn temporary_files_beside_blobs_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let store = FilePackageStore::open(dir.path().to_path_buf()).unwrap();
        let d = store
            .put_bytes(bytes::Bytes::from_static(b"kept"))
            .await
            .unwrap();
        let blob = store.path(&d.sha256).unwrap();
        let names = |p: &Path| -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(p)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let blobs_dir = blob.parent().unwrap();
        assert_eq!(names(blobs_dir), vec![d.sha256.clone()]);
        assert!(names(&dir.path().join("tmp")).is_empty());
        let left = blobs_dir.join(tmp_name());
        std::fs::write(&left, b"half").unwrap();
        std::fs::write(dir.path().join("tmp").join(tmp_name()), b"half").unwrap();
        assert_eq!(store.sweep_temp(3600).await.unwrap(), 0, "too young");
        assert_eq!(store.sweep_temp(0).await.unwrap(), 2);
        assert_eq!(names(blobs_dir), vec![d.sha256.clone()]);
        assert!(names(&dir.path().join("tmp")).is_empty());
        assert_eq!(store.list().await.unwrap().len(), 1);
    }

    /// One sync covers every put before it; with nothing new put, settling does nothing.
    #[tokio::test]
    async fn settle_covers_the_puts_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = FilePackageStore::open(dir.path().to_path_buf()).unwrap();
        store.settle().await.unwrap();
        assert_eq!(store.synced.load(Ordering::SeqCst), 0);
        for i in 0..3u8 {
            store.put_bytes(vec![i; 10].into()).await.unwrap();
        }
        store.settle().await.unwrap();
        assert_eq!(store.synced.load(Ordering::SeqCst), 3);
        store.settle().await.unwrap();
        assert_eq!(store.synced.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_blob_whole_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = FilePackageStore::open(dir.path().to_path_buf()).unwrap();
        let data: Vec<u8> = (0..(2 * CHUNK + 5)).map(|i| (i % 251) as u8).collect();
        let d = store.put_bytes(data.clone().into()).await.unwrap();
        let got = store.get_bytes(&d.sha256).await.unwrap().unwrap();
        assert_eq!(&got[..], &data[..]);
        assert!(store
            .get_bytes(&sha256_hex(b"absent"))
            .await
            .unwrap()
            .is_none());
        assert!(store.get_bytes("../escape").await.is_err());
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
