//! `file://DIR` metadata store: one file per key under `DIR/`, holding `v{version}\n` and
//! the value. Compare-and-set takes an exclusive `flock` on the key's lock file (shared by
//! every process on this machine), checks the version, writes a temp file, fsyncs and
//! renames it over the key: readers see the old value or the new one, never half. A
//! transaction locks all its keys and goes through an intent file, so a crash applies all of
//! it or none (`write_intent`).
use crate::{blocking, sync_dir, tmp_name};
use async_trait::async_trait;
use bytes::Bytes;
use reposmith_core::store::{
    Cas, Conflict, Fresh, MetaStore, Result, StoreError, Versioned, Write,
};
use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

pub struct FileMetaStore {
    root: PathBuf,
    /// Keys the freshness check read (the published pointers every GET checks), held open
    /// with the version read through that handle. A key changes only by a new file renamed
    /// over it or by an unlink, either of which drops the held file's link count to 0, in
    /// any process: while it is linked it is the key's current value, and one `fstat` (no
    /// path walk, no open, no read) says so.
    held: RwLock<HashMap<String, (std::fs::File, u64)>>,
}

/// Open files `held` keeps at most (one per repo read recently).
const HELD: usize = 64;

impl FileMetaStore {
    pub fn open(root: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&root)?;
        recover(&root)?;
        Ok(FileMetaStore {
            root,
            held: RwLock::default(),
        })
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
    match std::fs::read(path) {
        Ok(data) => parse(&data, path).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// A key's file: the `v{version}` line, then the value.
fn parse(data: &[u8], path: &Path) -> std::io::Result<Versioned> {
    let nl = data.iter().position(|&b| b == b'\n');
    let version = nl
        .and_then(|i| std::str::from_utf8(&data[..i]).ok())
        .and_then(|s| s.strip_prefix('v'))
        .and_then(|s| s.parse().ok());
    match (nl, version) {
        (Some(i), Some(version)) => Ok(Versioned {
            value: Bytes::copy_from_slice(&data[i + 1..]),
            version,
        }),
        _ => Err(std::io::Error::other(format!(
            "corrupt metadata file {}",
            path.display()
        ))),
    }
}

/// The key's exclusive lock, held until the file is dropped (blocking; call from a blocking
/// thread). The kernel drops it when the process dies.
fn lock(path: &Path) -> std::io::Result<std::fs::File> {
    let dir = path.parent().expect("key has a parent");
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().expect("key has a name").to_string_lossy();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(format!(".{name}.lock")))?;
    lock.lock()?;
    Ok(lock)
}

/// Runs `f` holding the key's exclusive lock.
fn locked<T>(path: &Path, f: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    let _lock = lock(path)?;
    f()
}

/// Every key's lock, taken in path order so two transactions never wait on each other.
fn lock_all(paths: &[PathBuf]) -> std::io::Result<Vec<std::fs::File>> {
    let mut sorted: Vec<&PathBuf> = paths.iter().collect();
    sorted.sort();
    sorted.dedup();
    sorted.into_iter().map(|p| lock(p)).collect()
}

/// One write of a transaction, decided: the version it gets (None: delete).
struct Step {
    path: PathBuf,
    version: Option<u64>,
    value: Bytes,
}

/// A transaction is first written whole to an intent file (`.txn-*` in the root), then
/// applied key by key, then the intent is removed. A crash in between leaves the intent,
/// which the next `open` applies again under the same locks: all writes land, or none.
fn write_intent(root: &Path, steps: &[Step]) -> std::io::Result<PathBuf> {
    let mut out = Vec::new();
    for st in steps {
        let key = st
            .path
            .strip_prefix(root)
            .expect("under the root")
            .to_string_lossy();
        out.extend((key.len() as u32).to_le_bytes());
        out.extend(key.as_bytes());
        out.extend(st.version.map_or(0, |v| v).to_le_bytes());
        out.extend((st.value.len() as u64).to_le_bytes());
        out.extend(&st.value[..]);
    }
    let path = root.join(format!(".txn-{}", crate::token()));
    let tmp = root.join(tmp_name());
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&out)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    sync_dir(root)?;
    Ok(path)
}

fn read_intent(root: &Path, path: &Path) -> std::io::Result<Vec<Step>> {
    let data = std::fs::read(path)?;
    let bad = || std::io::Error::other(format!("corrupt transaction intent {}", path.display()));
    let mut steps = Vec::new();
    let mut rest = &data[..];
    let mut take = |n: usize| -> std::io::Result<&[u8]> {
        if rest.len() < n {
            return Err(bad());
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let u64_of = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
    while let Ok(n) = take(4) {
        let n = u32::from_le_bytes(n.try_into().expect("4 bytes")) as usize;
        let key = String::from_utf8(take(n)?.to_vec()).map_err(|_| bad())?;
        let version = u64_of(take(8)?);
        let len = u64_of(take(8)?) as usize;
        let value = Bytes::copy_from_slice(take(len)?);
        steps.push(Step {
            path: root.join(key),
            version: (version > 0).then_some(version),
            value,
        });
    }
    Ok(steps)
}

fn apply(steps: &[Step]) -> std::io::Result<()> {
    for st in steps {
        match st.version {
            Some(v) => write_atomic(&st.path, v, &st.value)?,
            None => match std::fs::remove_file(&st.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => sync_dir(st.path.parent().expect("key has a parent"))?,
            },
        }
    }
    Ok(())
}

/// Applies the intents a crash left behind, each under its keys' locks; one whose owner is
/// still at work is gone by the time its locks are ours.
fn recover(root: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(root)? {
        let path = e?.path();
        let is_intent = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(".txn-"));
        if !is_intent {
            continue;
        }
        let steps = match read_intent(root, &path) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let paths: Vec<PathBuf> = steps.iter().map(|s| s.path.clone()).collect();
        let _locks = lock_all(&paths)?;
        if path.exists() {
            apply(&steps)?;
            std::fs::remove_file(&path)?;
            sync_dir(root)?;
        }
    }
    Ok(())
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

    /// Versions never repeat here (`first_version`), so a version equal to the known one
    /// means the key did not change. This runs on every cached GET: a held file still linked
    /// answers with one `fstat` (`held`); otherwise the file is opened and read through one
    /// handle, which is then held. Inline, not on the blocking pool: a page-cached file
    /// costs less than the hop.
    async fn get_fresh(&self, key: &str, known: &Versioned) -> Result<Fresh> {
        let path = self.path(key)?;
        if let Some((file, version)) = self.held.read().unwrap().get(key) {
            if *version == known.version && file.metadata()?.nlink() > 0 {
                return Ok(Fresh::Unchanged);
            }
        }
        let mut file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.held.write().unwrap().remove(key);
                return Ok(Fresh::Changed(None));
            }
            Err(e) => return Err(e.into()),
        };
        let mut data = Vec::new();
        file.read_to_end(&mut data)?;
        let now = parse(&data, &path)?;
        let mut held = self.held.write().unwrap();
        if held.len() >= HELD && !held.contains_key(key) {
            // Any one goes: a repo read again is opened again.
            let evict = held.keys().next().cloned();
            evict.map(|k| held.remove(&k));
        }
        held.insert(key.to_string(), (file, now.version));
        Ok(if now.version == known.version {
            Fresh::Unchanged
        } else {
            Fresh::Changed(Some(now))
        })
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
                match read(&path)?.map(|v| v.version) {
                    None => return Ok(Ok(())), // gone already
                    Some(v) if v != expected => return Ok(Err(Conflict)),
                    Some(_) => {}
                }
                std::fs::remove_file(&path)?;
                sync_dir(path.parent().expect("key has a parent"))?;
                Ok(Ok(()))
            })
        })
        .await
    }

    /// Every key's lock (in order), every condition checked, then an intent file and the
    /// writes (see `write_intent`): atomic for readers of the whole set only after the last
    /// rename, but all or nothing across a crash.
    async fn transact(&self, ops: Vec<Write>) -> Cas<()> {
        let mut paths = Vec::with_capacity(ops.len());
        for op in &ops {
            paths.push(self.path(match op {
                Write::Put { key, .. } | Write::Delete { key, .. } => key,
            })?);
        }
        let root = self.root.clone();
        blocking(move || {
            let _locks = lock_all(&paths)?;
            let mut steps = Vec::with_capacity(ops.len());
            for (op, path) in ops.into_iter().zip(paths) {
                let current = read(&path)?.map(|v| v.version);
                let (want, version, value) = match op {
                    Write::Put {
                        value, expected, ..
                    } => {
                        let next = current.map_or_else(first_version, |v| v + 1);
                        (expected, Some(next), value)
                    }
                    Write::Delete { expected, .. } => (Some(expected), None, Bytes::new()),
                };
                if current != want {
                    return Ok(Err(Conflict));
                }
                steps.push(Step {
                    path,
                    version,
                    value,
                });
            }
            let intent = write_intent(&root, &steps)?;
            apply(&steps)?;
            std::fs::remove_file(&intent)?;
            sync_dir(&root)?;
            Ok(Ok(()))
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

    /// The held handle answers "unchanged" only while it is the key's file: a write or a
    /// delete by another store on the same directory (another process) is seen at once,
    /// and so is a key deleted and written again.
    #[tokio::test]
    async fn a_held_key_sees_every_change_made_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let (reader, writer) = (
            FileMetaStore::open(dir.path().to_path_buf()).unwrap(),
            FileMetaStore::open(dir.path().to_path_buf()).unwrap(),
        );
        let fresh = |v: &Versioned| {
            let (reader, v) = (&reader, v.clone());
            async move { reader.get_fresh("r/p", &v).await.unwrap() }
        };
        writer
            .put_if("r/p", "a".into(), None)
            .await
            .unwrap()
            .unwrap();
        let a = reader.get("r/p").await.unwrap().unwrap();
        assert!(matches!(fresh(&a).await, Fresh::Unchanged)); // opens and holds
        assert!(matches!(fresh(&a).await, Fresh::Unchanged)); // the held handle
        let vb = writer
            .put_if("r/p", "b".into(), Some(a.version))
            .await
            .unwrap()
            .unwrap();
        let Fresh::Changed(Some(b)) = fresh(&a).await else {
            panic!("a write elsewhere went unseen")
        };
        assert_eq!((&b.value[..], b.version), (&b"b"[..], vb));
        assert!(matches!(fresh(&b).await, Fresh::Unchanged));
        writer.delete_if("r/p", vb).await.unwrap().unwrap();
        assert!(matches!(fresh(&b).await, Fresh::Changed(None)));
        let vc = writer
            .put_if("r/p", "c".into(), None)
            .await
            .unwrap()
            .unwrap();
        let Fresh::Changed(Some(c)) = fresh(&b).await else {
            panic!("a key written again went unseen")
        };
        assert_eq!((&c.value[..], c.version), (&b"c"[..], vc));
        assert_eq!(reader.held.read().unwrap().len(), 1);
    }

    /// A crash after the intent was written and one of its two writes applied: the next open
    /// applies the rest, and the intent is gone.
    #[tokio::test]
    async fn an_interrupted_transaction_is_completed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let store = FileMetaStore::open(root.clone()).unwrap();
        let va = store
            .put_if("r/a", "a0".into(), None)
            .await
            .unwrap()
            .unwrap();
        let vb = store
            .put_if("r/b", "b0".into(), None)
            .await
            .unwrap()
            .unwrap();
        let steps = vec![
            Step {
                path: root.join("r/a"),
                version: Some(va + 1),
                value: "a1".into(),
            },
            Step {
                path: root.join("r/b"),
                version: None,
                value: Bytes::new(),
            },
        ];
        let intent = write_intent(&root, &steps).unwrap();
        apply(&steps[..1]).unwrap(); // the crash comes here
        assert_eq!(&store.get("r/a").await.unwrap().unwrap().value[..], b"a1");
        assert_eq!(store.get("r/b").await.unwrap().unwrap().version, vb);
        let again = FileMetaStore::open(root.clone()).unwrap();
        assert!(
            again.get("r/b").await.unwrap().is_none(),
            "the rest applied"
        );
        assert_eq!(again.get("r/a").await.unwrap().unwrap().version, va + 1);
        assert!(!intent.exists());
        assert_eq!(again.list("r/").await.unwrap(), vec!["r/a".to_string()]);
    }
}
