//! The application state every handler receives: stores, generators, signer, token.
use crate::generator::{Generator, Signer};
use crate::model::{Analysis, Manifest};
use crate::store::{MetaStore, PackageStore};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
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
    /// Immutable blobs decoded once (content-addressed, so never stale).
    pub(crate) analyses: Mutex<HashMap<String, Arc<Analysis>>>,
    pub(crate) manifests: Mutex<HashMap<String, Arc<Manifest>>>,
    /// Per repo: the publish under way in this process and who waits for it.
    pub(crate) publishers: Mutex<HashMap<String, PublishState>>,
    /// Per repo: the group commit under way in this process and the records queued for it.
    pub(crate) committers: Mutex<HashMap<String, CommitState>>,
    /// Per repo and generator: what its last `finish` was given (a digest) and made.
    pub(crate) finished: Mutex<HashMap<String, Finished>>,
}

/// A digest of a generator's `finish` inputs, and the (path, blob) pairs it made.
pub(crate) type Finished = (String, Vec<(String, crate::model::BlobRef)>);

/// What a queued request is told: its answer, or that it leads the next round.
pub(crate) enum Turn<T> {
    Done(T),
    Lead,
}

pub(crate) type Reply<T> = futures::channel::oneshot::Sender<Turn<T>>;
type PublishResult = crate::error::ApiResult<crate::model::Published>;
/// (head sequence after the commit, whether the record was new)
pub(crate) type CommitResult = crate::error::ApiResult<(u64, bool)>;

#[derive(Default)]
pub(crate) struct PublishState {
    pub running: bool,
    /// (head sequence to cover, where to send the answer)
    pub waiters: Vec<(u64, Reply<PublishResult>)>,
}

#[derive(Default)]
pub(crate) struct CommitState {
    pub running: bool,
    pub queue: Vec<(crate::model::PackageRecord, Reply<CommitResult>)>,
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
        App {
            meta,
            packages,
            generators: RwLock::new(generators),
            signer,
            token,
            runtime,
            loader: None,
            grace: Duration::from_secs(3600),
            analyses: Mutex::new(HashMap::new()),
            manifests: Mutex::new(HashMap::new()),
            publishers: Mutex::new(HashMap::new()),
            committers: Mutex::new(HashMap::new()),
            finished: Mutex::new(HashMap::new()),
        }
    }

    pub fn generators(&self) -> Vec<Arc<dyn Generator>> {
        self.generators.read().unwrap().clone()
    }

    /// Runs CPU-bound work (a generator call) off the async executor.
    pub async fn blocking<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = futures::channel::oneshot::channel();
        self.runtime.spawn_blocking(Box::new(move || {
            let _ = tx.send(f());
        }));
        rx.await.expect("blocking task dropped")
    }

    pub fn now(&self) -> u64 {
        self.runtime.now()
    }
}
