//! `file://DIR` metadata store: one file per key under `DIR/`, holding `v{version}\n` and
//! the value. Compare-and-set takes an exclusive `flock` on the key's lock file (shared by
//! every process on this machine), checks the version, writes a temp file, fsyncs and
//! renames it over the key: readers see the old value or the new one, never half.
use crate::{blocking, sync_dir, tmp_name};
use async_trait::async_trait;
use bytes::Bytes;
use reposmith_core::store::{Cas, Conflict, Fresh, MetaStore, Result, StoreError, Versioned};
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct FileMetaStore {
    root: PathBuf,
}

impl FileMetaStore {
    pub fn open(root: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&root)?;
        Ok(FileMetaStore { root })
    }

    /// A key names a file under the root: no empty, dot or dot-dot segments (locks and temp
    /// files start with a dot).
    fn path(&self, key: &str) -> Result<PathBuf> {
        let fits = |seg: &str| !seg.is_empty() && !seg.starts_with('.');
        if key.is_empty() || !key.split('/').all(fits) {
            return Err(StoreError::invalid("metadata key", key));
        }
        Ok(self.root.join(key))
    }
}

fn read(path: &Path) -> std::io::Result<Option<Versioned>> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let nl = data.iter().position(|&b| b == b'\n');
    let version = nl
        .and_then(|i| std::str::from_utf8(&data[..i]).ok())
        .and_then(|s| s.strip_prefix('v'))
        .and_then(|s| s.parse().ok());
    match (nl, version) {
        (Some(i), Some(version)) => Ok(Some(Versioned {
            value: Bytes::copy_from_slice(&data[i + 1..]),
            version,
        })),
        _ => Err(std::io::Error::other(format!(
            "corrupt metadata file {}",
            path.display()
        ))),
    }
}

/// The version line of a key's file alone (None if absent).
fn read_version(path: &Path) -> std::io::Result<Option<u64>> {
    use std::io::Read;
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    // `v` and at most 20 digits, then the newline.
    let mut buf = [0u8; 24];
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
        if buf[..n].contains(&b'\n') {
            break;
        }
    }
    let line = buf[..n].split(|&b| b == b'\n').next().unwrap_or_default();
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.strip_prefix('v'))
        .and_then(|s| s.parse().ok())
        .map(Some)
        .ok_or_else(|| std::io::Error::other(format!("corrupt metadata file {}", path.display())))
}

/// Runs `f` holding the key's exclusive lock (blocking; call from a blocking thread).
fn locked<T>(path: &Path, f: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    let dir = path.parent().expect("key has a parent");
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().expect("key has a name").to_string_lossy();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(format!(".{name}.lock")))?;
    lock.lock()?;
    let r = f();
    let _ = lock.unlock();
    r
}

fn write_atomic(path: &Path, version: u64, value: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("key has a parent");
    let tmp = dir.join(tmp_name());
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(format!("v{version}\n").as_bytes())?;
    f.write_all(value)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    sync_dir(dir)
}

/// A new key's first version: the clock in nanoseconds, so a key deleted and created again
/// never repeats a version an old writer may still expect.
fn first_version() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

#[async_trait]
impl MetaStore for FileMetaStore {
    async fn get(&self, key: &str) -> Result<Option<Versioned>> {
        let path = self.path(key)?;
        blocking(move || read(&path)).await
    }

    /// Versions never repeat here (`first_version`), so the version line alone says whether
    /// the key changed. Read inline: a few bytes of a page-cached file cost less than a hop
    /// to the blocking pool, and this runs on every cached GET.
    async fn get_fresh(&self, key: &str, known: &Versioned) -> Result<Fresh> {
        let path = self.path(key)?;
        match read_version(&path)? {
            Some(v) if v == known.version => Ok(Fresh::Unchanged),
            None => Ok(Fresh::Changed(None)),
            Some(_) => Ok(Fresh::Changed(read(&path)?)),
        }
    }

    async fn put_if(&self, key: &str, value: Bytes, expected: Option<u64>) -> Cas<u64> {
        let path = self.path(key)?;
        blocking(move || {
            locked(&path, || {
                let current = read(&path)?.map(|v| v.version);
                if current != expected {
                    return Ok(Err(Conflict));
                }
                let next = match current {
                    Some(v) => v + 1,
                    None => first_version(),
                };
                write_atomic(&path, next, &value)?;
                Ok(Ok(next))
            })
        })
        .await
    }

    async fn delete_if(&self, key: &str, expected: u64) -> Cas<()> {
        let path = self.path(key)?;
        blocking(move || {
            locked(&path, || {
                if read(&path)?.map(|v| v.version) != Some(expected) {
                    return Ok(Err(Conflict));
                }
                std::fs::remove_file(&path)?;
                sync_dir(path.parent().expect("key has a parent"))?;
                Ok(Ok(()))
            })
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        blocking(move || {
            let mut out = Vec::new();
            walk(&root, &root, &mut out)?;
            out.retain(|k| k.starts_with(&prefix));
            out.sort();
            Ok(out)
        })
        .await
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for e in entries {
        let e = e?;
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue; // locks and temp files
        }
        let p = e.path();
        if e.file_type()?.is_dir() {
            walk(root, &p, out)?;
        } else if let Ok(rel) = p.strip_prefix(root) {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn compare_and_set_admits_one_writer_per_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(FileMetaStore::open(dir.path().to_path_buf()).unwrap());
        let v1 = store
            .put_if("k/a", "0".into(), None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store.put_if("k/a", "x".into(), None).await.unwrap(),
            Err(Conflict)
        );
        // 32 tasks increment a counter by CAS; every increment must land exactly once.
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let cur = s.get("k/a").await.unwrap().unwrap();
                    let n: u64 = std::str::from_utf8(&cur.value).unwrap().parse().unwrap();
                    let next = Bytes::from((n + 1).to_string());
                    if s.put_if("k/a", next, Some(cur.version))
                        .await
                        .unwrap()
                        .is_ok()
                    {
                        break;
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let end = store.get("k/a").await.unwrap().unwrap();
        assert_eq!(&end.value[..], b"32");
        assert_eq!(end.version, v1 + 32);
        assert_eq!(store.list("k/").await.unwrap(), vec!["k/a".to_string()]);
        assert_eq!(store.delete_if("k/a", v1).await.unwrap(), Err(Conflict));
        store.delete_if("k/a", end.version).await.unwrap().unwrap();
        assert!(store.get("k/a").await.unwrap().is_none());
        for bad in ["../x", "a//b", "", "k/.lock"] {
            let r = store.put_if(bad, "".into(), None).await;
            assert!(matches!(r, Err(StoreError::InvalidKey { .. })), "{bad}");
        }
    }
}
