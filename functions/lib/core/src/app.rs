//! The application state every handler receives: stores, generators, signer, token.
use crate::commit::{CheckState, CommitState, JoinState, PublishState};
use crate::counting::StoreCounts;
use crate::error::Panicked;
use crate::generator::{Generator, Signer};
use crate::model::{Analysis, Manifest};
use crate::store::{MetaStore, PackageStore};
use futures::future::BoxFuture;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

/// What the core needs from the executor it runs on (tokio locally and on Lambda, Spin's
/// own executor there): a place for CPU-bound generator calls, sleeping, and the clock.
pub trait Runtime: Send + Sync {
    fn spawn_blocking(&self, f: Box<dyn FnOnce() + Send>);
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()>;
    /// Seconds since the Unix epoch.
    fn now(&self) -> u64;
}

pub use crate::registry::GeneratorLoader;

pub struct App {
    pub meta: Arc<dyn MetaStore>,
    pub packages: Arc<dyn PackageStore>,
    pub generators: RwLock<Vec<Arc<dyn Generator>>>,
    pub signer: Arc<dyn Signer>,
    /// Admin token for write methods.
    pub token: String,
    pub runtime: Arc<dyn Runtime>,
    pub loader: Option<Arc<dyn GeneratorLoader>>,
    /// How long earlier generations stay readable after they are replaced.
    pub grace: Duration,
    /// Calls into `meta` and `packages` (which `new` wraps in counters), for `GET /metrics`.
    pub store_counts: Arc<StoreCounts>,
    /// What the backends sent on the wire (`S3.GET`, `DynamoDB.PutItem`, ...), when the
    /// adapter counts it; shown by `GET /metrics` beside `store_counts`.
    pub backend_counts: Option<fn() -> BTreeMap<String, u64>>,
    /// Immutable blobs decoded once (content-addressed, so never stale).
    pub(crate) analyses: Lock<crate::commit::Kept<Analysis>>,
    pub(crate) manifests: Lock<crate::commit::Kept<Manifest>>,
    /// Analyses a rebuild made, held for its render (`commit::Handed`).
    pub(crate) handed: Lock<crate::commit::Handed>,
    /// Per repo: the publish under way in this process and who waits for it.
    pub(crate) publishers: Lock<HashMap<String, PublishState>>,
    /// Per repo: the freshness check of its published pointer under way, and the GETs
    /// waiting for the next one (on remote metadata stores: `group::check_together`).
    pub(crate) checks: Lock<HashMap<String, CheckState>>,
    /// Per composite file (its sha256): the join for a redirect under way, and the GETs
    /// waiting for it (`group::store_whole`).
    pub(crate) joins: Lock<HashMap<String, JoinState>>,
    /// Per repo: uploads received here and not yet committed (`group::Arriving`).
    pub(crate) arriving: Lock<HashMap<String, usize>>,
    /// Per repo: the group commit under way in this process and the records queued for it.
    pub(crate) committers: Lock<HashMap<String, CommitState>>,
    /// Per repo and generator: what its last `finish` was given (a digest) and made.
    pub(crate) finished: Lock<HashMap<String, Finished>>,
    /// Per repo: the head this process read or wrote last, and its stored root.
    pub(crate) heads: Lock<HashMap<String, (bytes::Bytes, crate::model::Head)>>,
    /// Per repo: how its publishes from known state have been missing (`commit::publish`).
    pub(crate) misses: Lock<HashMap<String, crate::commit::Misses>>,
    /// Per repo: what its last render assembled, for the next one to reuse.
    pub(crate) chunks: Lock<HashMap<String, crate::assemble::ChunkCache>>,
    /// Every package file path of a generation, by its manifest (see `commit::serve`).
    pub(crate) paths: Lock<crate::commit::Kept<HashMap<String, crate::model::BlobRef>>>,
    /// Per repo: its published pointer as last read, decoded, and its config; checked
    /// against the store once per request (`commit::load_published`), never served stale.
    pub(crate) views: Lock<HashMap<String, Arc<crate::commit::RepoView>>>,
    /// How long a GET may answer from a pointer a freshness check read, without one of its
    /// own, where a check is a round trip; every write then waits as long (`commit::lease`).
    /// Zero (the default): every GET checks.
    pub read_lease: Duration,
    /// Per repo: until when its view in `views` (that version) is leased.
    pub(crate) leases: Lock<HashMap<String, (std::time::Instant, u64)>>,
    /// Small served blobs, whole (content-addressed, so never stale), by sha256.
    pub(crate) blobs: Lock<crate::respond::BlobCache>,
    /// Per generator: its faults and quarantine (`health`).
    pub(crate) health: Lock<HashMap<String, crate::health::Health>>,
    /// What a request may send (`limits`).
    pub limits: crate::limits::Limits,
    /// Per-client rate limits (`throttle`), and the clients' buckets.
    pub rates: crate::throttle::Rates,
    pub(crate) buckets: Lock<crate::throttle::Buckets>,
    /// Where the audit log goes (one JSON line per write), if anywhere.
    pub audit: Option<crate::audit::AuditSink>,
    /// Makes and opens each repo's own keys (`commit::keys`); None where nothing signs
    /// (Lambda's read function): repos are then signed by `signer`, the server's key.
    pub keyring: Option<Arc<dyn crate::generator::Keyring>>,
    /// How long a repo key made here is valid (its OpenPGP expiry); None: no expiry.
    pub key_lifetime: Option<u64>,
    /// Repo keyrings by the sha256 of their blob (immutable, so never stale).
    pub(crate) keyrings: Lock<crate::commit::Kept<crate::commit::RepoKeys>>,
    /// History segments by sha256 (`commit::journal`; immutable): each commit reads its tail.
    pub(crate) segments: Lock<HashMap<String, bytes::Bytes>>,
}

/// What a generator's `finish` made: the (path, blob) pairs, kept with its inputs.
pub(crate) type Finished = crate::assemble::Answered<Vec<(String, crate::model::BlobRef)>>;

/// A mutex that a panic does not poison. App's maps are caches and queues that are whole
/// between any two statements, so a request that panicked must not lock out every repo.
#[derive(Default)]
pub(crate) struct Lock<T>(Mutex<T>);

impl<T> Lock<T> {
    pub fn new(value: T) -> Self {
        Lock(Mutex::new(value))
    }

    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl App {
    pub fn new(
        meta: Arc<dyn MetaStore>,
        packages: Arc<dyn PackageStore>,
        generators: Vec<Arc<dyn Generator>>,
        signer: Arc<dyn Signer>,
        token: String,
        runtime: Arc<dyn Runtime>,
    ) -> Self {
        let store_counts = Arc::new(StoreCounts::default());
        let (meta, packages) = crate::counting::counted(meta, packages, store_counts.clone());
        App {
            meta,
            packages,
            generators: RwLock::new(generators),
            signer,
            token,
            runtime,
            loader: None,
            grace: Duration::from_secs(3600),
            store_counts,
            backend_counts: None,
            analyses: Lock::default(),
            manifests: Lock::default(),
            handed: Lock::default(),
            publishers: Lock::default(),
            checks: Lock::default(),
            joins: Lock::default(),
            arriving: Lock::default(),
            committers: Lock::default(),
            finished: Lock::default(),
            heads: Lock::default(),
            misses: Lock::default(),
            chunks: Lock::default(),
            paths: Lock::default(),
            views: Lock::default(),
            read_lease: Duration::ZERO,
            leases: Lock::default(),
            blobs: Lock::default(),
            health: Lock::default(),
            limits: crate::limits::Limits::default(),
            rates: crate::throttle::Rates::default(),
            buckets: Lock::default(),
            audit: None,
            keyring: None,
            key_lifetime: Some(crate::commit::DEFAULT_KEY_LIFETIME),
            keyrings: Lock::default(),
            segments: Lock::default(),
        }
    }

    pub fn generators(&self) -> Vec<Arc<dyn Generator>> {
        self.generators
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The generators asked to claim a package: all but the quarantined ones.
    pub fn active_generators(&self) -> Vec<Arc<dyn Generator>> {
        let mut gens = self.generators();
        gens.retain(|g| !crate::health::is_quarantined(self, &g.info().name));
        gens
    }

    /// Runs CPU-bound work (a generator call) off the async executor. A panic in `f` fails
    /// this call only, as `E::from(Panicked)` (a 500 for an `ApiError`), instead of
    /// panicking the caller.
    pub async fn blocking<U, E>(
        &self,
        f: impl FnOnce() -> Result<U, E> + Send + 'static,
    ) -> Result<U, E>
    where
        U: Send + 'static,
        E: From<Panicked> + Send + 'static,
    {
        let (tx, rx) = futures::channel::oneshot::channel();
        self.runtime.spawn_blocking(Box::new(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                .unwrap_or_else(|p| Err(Panicked(panic_message(p.as_ref())).into()));
            let _ = tx.send(outcome);
        }));
        rx.await
            .unwrap_or_else(|_| Err(Panicked("the job was dropped".into()).into()))
    }

    pub fn now(&self) -> u64 {
        self.runtime.now()
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

#[cfg(test)]
mod tests {
    use crate::error::ApiError;
    use crate::testkit::{app, FakeGen};
    use std::sync::Arc;

    #[test]
    fn a_panicking_blocking_job_is_a_500_and_poisons_nothing() {
        let (app, _, _) = app(Arc::new(FakeGen::new()));
        futures::executor::block_on(async {
            let app2 = app.clone();
            let r: Result<(), ApiError> = app
                .blocking(move || {
                    // Panic while holding one of App's locks.
                    let _held = app2.publishers.lock();
                    panic!("boom");
                })
                .await;
            let e = r.unwrap_err();
            assert_eq!(e.status, 500);
            assert!(e.detail.contains("boom"), "{e}");
            // The lock is usable afterwards, and so is the app.
            assert!(app.publishers.lock().is_empty());
            let ok: Result<u8, ApiError> = app.blocking(|| Ok(7)).await;
            assert_eq!(ok.unwrap(), 7);
        });
    }
}
