//! Store calls counted by kind, always on: `App::new` wraps both stores in counters (one
//! relaxed atomic add per call), and `GET /metrics` shows the totals. The benchmarks read them
//! before and after a batch of uploads to print store requests per upload, the figure that
//! must stay flat as a repo grows. These are the calls the core makes; what a backend sends on
//! the wire for them (S3 and DynamoDB requests, retries included) is counted by the adapter
//! and shown beside them (`App::backend_counts`).
//!
//! The metadata wrapper also orders writes: `put_if` and `transact` settle the package store
//! first (`PackageStore::settle`), so no key ever names a blob that a crash could lose, in
//! every App on every target, whoever calls.
use crate::body::ByteStream;
use crate::digest::Digests;
use crate::generator::{Facts, PackageReader};
use crate::model::BlobRef;
use crate::store::{Cas, Fresh, MetaStore, PackageStore, Result, Versioned, Write};
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The metadata store's calls, in the order `counts` lists them.
pub const META_CALLS: &[&str] = &["get", "put_if", "delete_if", "list", "transact", "spilled"];
/// The package store's calls, in the order `counts` lists them.
pub const PACKAGE_CALLS: &[&str] = &[
    "put",
    "put_bytes",
    "get",
    "get_bytes",
    "size",
    "delete",
    "reader",
    "presigned_get",
    "presigned_put",
    "adopt",
    "list",
];

/// Calls made since start, per store and call.
#[derive(Default)]
pub struct StoreCounts {
    meta: [AtomicU64; META_CALLS.len()],
    packages: [AtomicU64; PACKAGE_CALLS.len()],
}

impl StoreCounts {
    /// `(store, call, count)` for every call, in a fixed order (`meta` then `packages`).
    pub fn counts(&self) -> Vec<(&'static str, &'static str, u64)> {
        let meta = META_CALLS
            .iter()
            .zip(&self.meta)
            .map(|(c, n)| ("meta", *c, n));
        let packages = PACKAGE_CALLS
            .iter()
            .zip(&self.packages)
            .map(|(c, n)| ("packages", *c, n));
        meta.chain(packages)
            .map(|(s, c, n)| (s, c, n.load(Ordering::Relaxed)))
            .collect()
    }

    fn meta(&self, call: usize) {
        self.meta[call].fetch_add(1, Ordering::Relaxed);
    }

    fn package(&self, call: usize) {
        self.packages[call].fetch_add(1, Ordering::Relaxed);
    }
}

/// Both stores wrapped so that every call counts in `counts`.
pub fn counted(
    meta: Arc<dyn MetaStore>,
    packages: Arc<dyn PackageStore>,
    counts: Arc<StoreCounts>,
) -> (Arc<dyn MetaStore>, Arc<dyn PackageStore>) {
    (
        Arc::new(CountedMeta {
            inner: meta,
            packages: packages.clone(),
            counts: counts.clone(),
        }),
        Arc::new(CountedPackages {
            inner: packages,
            counts,
        }),
    )
}

struct CountedMeta {
    inner: Arc<dyn MetaStore>,
    /// The package store beside it (unwrapped: settling is not a counted call).
    packages: Arc<dyn PackageStore>,
    counts: Arc<StoreCounts>,
}

// Indexes into META_CALLS / PACKAGE_CALLS (a unit test checks they match the names).
const M_GET: usize = 0;
const M_PUT_IF: usize = 1;
const M_DELETE_IF: usize = 2;
const M_LIST: usize = 3;
const M_TRANSACT: usize = 4;
const M_SPILLED: usize = 5;
const P_PUT: usize = 0;
const P_PUT_BYTES: usize = 1;
const P_GET: usize = 2;
const P_GET_BYTES: usize = 3;
const P_SIZE: usize = 4;
const P_DELETE: usize = 5;
const P_READER: usize = 6;
const P_PRESIGNED_GET: usize = 7;
const P_PRESIGNED_PUT: usize = 8;
const P_ADOPT: usize = 9;
const P_LIST: usize = 10;

#[async_trait]
impl MetaStore for CountedMeta {
    fn reads_are_remote(&self) -> bool {
        self.inner.reads_are_remote()
    }
    async fn get(&self, key: &str) -> Result<Option<Versioned>> {
        self.counts.meta(M_GET);
        self.inner.get(key).await
    }
    // Forwarded, not left to the default (a whole `get`): the file store answers it with
    // an inline read of the version line, on every cached GET.
    async fn get_fresh(&self, key: &str, known: &Versioned) -> Result<Fresh> {
        self.counts.meta(M_GET);
        self.inner.get_fresh(key, known).await
    }
    async fn put_if(&self, key: &str, value: Bytes, expected: Option<u64>) -> Cas<u64> {
        self.counts.meta(M_PUT_IF);
        self.packages.settle().await?;
        self.inner.put_if(key, value, expected).await
    }
    async fn delete_if(&self, key: &str, expected: u64) -> Cas<()> {
        self.counts.meta(M_DELETE_IF);
        self.inner.delete_if(key, expected).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.counts.meta(M_LIST);
        self.inner.list(prefix).await
    }
    // One call, whatever the backend does with it (the file store's default applies the
    // writes one by one without coming back through this wrapper).
    async fn transact(&self, ops: Vec<Write>) -> Cas<()> {
        self.counts.meta(M_TRANSACT);
        self.packages.settle().await?;
        self.inner.transact(ops).await
    }
    async fn spilled(&self) -> Result<Vec<String>> {
        self.counts.meta(M_SPILLED);
        self.inner.spilled().await
    }
}

struct CountedPackages {
    inner: Arc<dyn PackageStore>,
    counts: Arc<StoreCounts>,
}

#[async_trait]
impl PackageStore for CountedPackages {
    async fn put(&self, body: ByteStream) -> Result<Digests> {
        self.counts.package(P_PUT);
        self.inner.put(body).await
    }
    async fn put_bytes(&self, data: Bytes) -> Result<BlobRef> {
        self.counts.package(P_PUT_BYTES);
        self.inner.put_bytes(data).await
    }
    async fn get(&self, sha256: &str, offset: u64, len: Option<u64>) -> Result<Option<ByteStream>> {
        self.counts.package(P_GET);
        self.inner.get(sha256, offset, len).await
    }
    async fn get_bytes(&self, sha256: &str) -> Result<Option<Bytes>> {
        self.counts.package(P_GET_BYTES);
        self.inner.get_bytes(sha256).await
    }
    async fn get_many(&self, sha256s: &[String]) -> Result<Vec<Option<Bytes>>> {
        // A request per blob on a backend that has no batch read (S3).
        for _ in sha256s {
            self.counts.package(P_GET_BYTES);
        }
        self.inner.get_many(sha256s).await
    }
    async fn size(&self, sha256: &str) -> Result<Option<u64>> {
        self.counts.package(P_SIZE);
        self.inner.size(sha256).await
    }
    async fn delete(&self, sha256: &str) -> Result<()> {
        self.counts.package(P_DELETE);
        self.inner.delete(sha256).await
    }
    async fn reader(&self, facts: Facts) -> Result<Arc<dyn PackageReader>> {
        self.counts.package(P_READER);
        self.inner.reader(facts).await
    }
    async fn presigned_get(&self, sha256: &str, filename: &str) -> Result<Option<String>> {
        self.counts.package(P_PRESIGNED_GET);
        self.inner.presigned_get(sha256, filename).await
    }
    async fn presigned_put(&self, id: &str) -> Result<Option<String>> {
        self.counts.package(P_PRESIGNED_PUT);
        self.inner.presigned_put(id).await
    }
    async fn adopt(&self, id: &str) -> Result<Option<Digests>> {
        self.counts.package(P_ADOPT);
        self.inner.adopt(id).await
    }
    async fn list(&self) -> Result<Vec<(String, u64)>> {
        self.counts.package(P_LIST);
        self.inner.list().await
    }
    fn reads_are_remote(&self) -> bool {
        self.inner.reads_are_remote()
    }
    async fn settle(&self) -> Result<()> {
        self.inner.settle().await
    }
    async fn sweep_temp(&self, min_age: u64) -> Result<usize> {
        self.inner.sweep_temp(min_age).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{MemBlobs, MemMeta};

    #[test]
    fn the_indexes_name_the_calls() {
        let m = [
            (M_GET, "get"),
            (M_PUT_IF, "put_if"),
            (M_DELETE_IF, "delete_if"),
            (M_LIST, "list"),
            (M_TRANSACT, "transact"),
            (M_SPILLED, "spilled"),
        ];
        assert!(m.iter().all(|(i, n)| META_CALLS[*i] == *n));
        let p = [
            (P_PUT, "put"),
            (P_PUT_BYTES, "put_bytes"),
            (P_GET, "get"),
            (P_GET_BYTES, "get_bytes"),
            (P_SIZE, "size"),
            (P_DELETE, "delete"),
            (P_READER, "reader"),
            (P_PRESIGNED_GET, "presigned_get"),
            (P_PRESIGNED_PUT, "presigned_put"),
            (P_ADOPT, "adopt"),
            (P_LIST, "list"),
        ];
        assert!(p.iter().all(|(i, n)| PACKAGE_CALLS[*i] == *n));
    }

    #[test]
    fn every_call_counts_once_by_kind() {
        let counts = Arc::new(StoreCounts::default());
        let (meta, packages) = counted(
            Arc::new(MemMeta::default()),
            Arc::new(MemBlobs::default()),
            counts.clone(),
        );
        futures::executor::block_on(async {
            meta.put_if("k", Bytes::from_static(b"v"), None)
                .await
                .unwrap()
                .unwrap();
            meta.get("k").await.unwrap().unwrap();
            meta.get("absent").await.unwrap();
            let d = packages
                .put_bytes(Bytes::from_static(b"blob"))
                .await
                .unwrap();
            packages.size(&d.sha256).await.unwrap();
        });
        let got: Vec<_> = counts
            .counts()
            .into_iter()
            .filter(|(_, _, n)| *n > 0)
            .collect();
        assert_eq!(
            got,
            [
                ("meta", "get", 2),
                ("meta", "put_if", 1),
                ("packages", "put_bytes", 1),
                ("packages", "size", 1),
            ]
        );
    }

    /// A key is written only after the blobs put before it are settled; when they cannot
    /// be, the write is refused and the key keeps what it had.
    #[test]
    fn a_key_is_written_after_the_blobs_settle() {
        use std::sync::atomic::Ordering::SeqCst;
        let blobs = Arc::new(MemBlobs::default());
        let (meta, packages) = counted(
            Arc::new(MemMeta::default()),
            blobs.clone(),
            Arc::new(StoreCounts::default()),
        );
        futures::executor::block_on(async {
            packages.put_bytes(Bytes::from_static(b"a")).await.unwrap();
            assert_eq!(blobs.unsettled.load(SeqCst), 1);
            meta.put_if("k", Bytes::from_static(b"v1"), None)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(blobs.unsettled.load(SeqCst), 0);
            assert_eq!(blobs.settles.load(SeqCst), 1);
            packages.put_bytes(Bytes::from_static(b"b")).await.unwrap();
            blobs.fail_settle.store(true, SeqCst);
            let v = meta.get("k").await.unwrap().unwrap();
            assert!(meta
                .put_if("k", Bytes::from_static(b"v2"), Some(v.version))
                .await
                .is_err());
            let ops = vec![Write::Put {
                key: "k".into(),
                value: Bytes::from_static(b"v3"),
                expected: Some(v.version),
            }];
            assert!(meta.transact(ops).await.is_err());
            assert_eq!(meta.get("k").await.unwrap().unwrap().value, "v1");
        });
    }

    /// A store whose `get_fresh` is its own (the file store reads a version line inline):
    /// the wrapper must hand it on, not fall back to a whole `get`.
    struct FreshOnly;

    #[async_trait]
    impl MetaStore for FreshOnly {
        async fn get(&self, _: &str) -> Result<Option<Versioned>> {
            panic!("get_fresh fell back to get")
        }
        async fn get_fresh(&self, _: &str, _: &Versioned) -> Result<Fresh> {
            Ok(Fresh::Unchanged)
        }
        async fn put_if(&self, _: &str, _: Bytes, _: Option<u64>) -> Cas<u64> {
            unreachable!()
        }
        async fn delete_if(&self, _: &str, _: u64) -> Cas<()> {
            unreachable!()
        }
        async fn list(&self, _: &str) -> Result<Vec<String>> {
            unreachable!()
        }
    }

    #[test]
    fn a_freshness_check_reaches_the_store_as_one() {
        let counts = Arc::new(StoreCounts::default());
        let (meta, _) = counted(
            Arc::new(FreshOnly),
            Arc::new(MemBlobs::default()),
            counts.clone(),
        );
        let known = Versioned {
            version: 1,
            value: Bytes::new(),
        };
        let fresh = futures::executor::block_on(meta.get_fresh("k", &known)).unwrap();
        assert!(matches!(fresh, Fresh::Unchanged));
        assert!(counts.counts().contains(&("meta", "get", 1)));
    }
}
