//! In-memory stores, a fake generator and a signer for the core's unit tests. The real
//! backends and real generators are exercised by the end-to-end tests in `tests/`.
use crate::app::{App, Runtime};
use crate::body::{Body, ByteStream};
use crate::digest::{digests, Digests};
use crate::generator::*;
use crate::store::{Cas, Conflict, Fresh, MetaStore, PackageStore, Result, Versioned};
use async_trait::async_trait;
use bytes::Bytes;
use futures::channel::oneshot;
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
pub struct MemMeta {
    pub(crate) map: Mutex<BTreeMap<String, Versioned>>,
    /// Reads count as round trips (`reads_are_remote`), as on DynamoDB.
    pub(crate) remote: AtomicBool,
    /// `get_fresh` calls so far.
    pub(crate) fresh_calls: AtomicUsize,
    /// The next `get_fresh` reads, then waits for this before it answers (a slow reply).
    pub(crate) hold: Mutex<Option<oneshot::Receiver<()>>>,
    /// The next `get` of a key here answers this earlier value, once: a read sent beside
    /// another, served before a write that the other saw.
    pub(crate) stale: Mutex<BTreeMap<String, Versioned>>,
}

#[async_trait]
impl MetaStore for MemMeta {
    async fn get(&self, key: &str) -> Result<Option<Versioned>> {
        if let Some(v) = self.stale.lock().unwrap().remove(key) {
            return Ok(Some(v));
        }
        Ok(self.map.lock().unwrap().get(key).cloned())
    }
    fn reads_are_remote(&self) -> bool {
        self.remote.load(Ordering::SeqCst)
    }
    async fn get_fresh(&self, key: &str, known: &Versioned) -> Result<Fresh> {
        self.fresh_calls.fetch_add(1, Ordering::SeqCst);
        let now = self.get(key).await?;
        let hold = self.hold.lock().unwrap().take();
        if let Some(hold) = hold {
            let _ = hold.await;
        }
        Ok(Fresh::of(now, known))
    }
    async fn put_if(&self, key: &str, value: Bytes, expected: Option<u64>) -> Cas<u64> {
        let mut m = self.map.lock().unwrap();
        let cur = m.get(key).map(|v| v.version);
        if cur != expected {
            return Ok(Err(Conflict));
        }
        let version = cur.map_or(1, |v| v + 1);
        m.insert(key.to_string(), Versioned { value, version });
        Ok(Ok(version))
    }
    async fn delete_if(&self, key: &str, expected: u64) -> Cas<()> {
        let mut m = self.map.lock().unwrap();
        if m.get(key).map(|v| v.version) != Some(expected) {
            return Ok(Err(Conflict));
        }
        m.remove(key);
        Ok(Ok(()))
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(self
            .map
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
}

impl MemMeta {
    /// Holds the next `get_fresh`'s answer (read already) until the sender is used.
    pub fn hold_next_fresh(&self) -> oneshot::Sender<()> {
        let (tx, rx) = oneshot::channel();
        *self.hold.lock().unwrap() = Some(rx);
        tx
    }
}

#[derive(Default)]
pub struct MemBlobs {
    pub blobs: Mutex<HashMap<String, Bytes>>,
    /// Hand out `mem://SHA256` download URLs, as S3 does presigned ones.
    pub presign: std::sync::atomic::AtomicBool,
    /// Puts not yet settled, settles done, and whether a settle fails (a disk that
    /// cannot sync): what the tests of write ordering look at.
    pub unsettled: std::sync::atomic::AtomicU64,
    pub settles: std::sync::atomic::AtomicU64,
    pub fail_settle: std::sync::atomic::AtomicBool,
    /// Bytes whose put fails (a lost write of one blob).
    pub fail_put_of: Mutex<Option<Vec<u8>>>,
    /// Every put, as a round trip on S3: its rounds are the writes one after another.
    pub puts: Hops,
    /// Reads count as round trips (`reads_are_remote`), as on S3, and then each get is one.
    pub remote_reads: std::sync::atomic::AtomicBool,
    pub gets: Hops,
}

/// Requests of one kind on a test store, each a round trip: it yields once, as a request
/// would. Counted: the rounds (requests that began with none under way) and the most under
/// way at once.
#[derive(Default)]
pub struct Hops {
    under_way: std::sync::atomic::AtomicU64,
    pub rounds: std::sync::atomic::AtomicU64,
    pub most: std::sync::atomic::AtomicU64,
}

impl Hops {
    async fn hop(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.under_way.fetch_add(1, SeqCst) + 1;
        if now == 1 {
            self.rounds.fetch_add(1, SeqCst);
        }
        self.most.fetch_max(now, SeqCst);
        YieldOnce(false).await;
        self.under_way.fetch_sub(1, SeqCst);
    }
}

/// Pending once (waking itself at once), then ready: a request's hop off the executor.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            return std::task::Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

#[async_trait]
impl PackageStore for MemBlobs {
    async fn put(&self, mut body: ByteStream) -> Result<Digests> {
        self.puts.hop().await;
        let mut buf = Vec::new();
        while let Some(c) = body.next().await {
            buf.extend_from_slice(&c?);
        }
        if self.fail_put_of.lock().unwrap().as_deref() == Some(&buf[..]) {
            return Err(crate::store::StoreError::backend("put", "a lost write"));
        }
        let d = digests(&buf);
        self.unsettled
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.blobs
            .lock()
            .unwrap()
            .insert(d.sha256.clone(), buf.into());
        Ok(d)
    }
    async fn get(
        &self,
        sha256: &str,
        offset: u64,
        _len: Option<u64>,
    ) -> Result<Option<ByteStream>> {
        if self.remote_reads.load(Ordering::SeqCst) {
            self.gets.hop().await;
        }
        let b = self.blobs.lock().unwrap().get(sha256).cloned();
        Ok(b.map(|b| Body::Bytes(b.slice(offset as usize..)).into_stream()))
    }
    async fn size(&self, sha256: &str) -> Result<Option<u64>> {
        Ok(self
            .blobs
            .lock()
            .unwrap()
            .get(sha256)
            .map(|b| b.len() as u64))
    }
    async fn delete(&self, sha256: &str) -> Result<()> {
        self.blobs.lock().unwrap().remove(sha256);
        Ok(())
    }
    async fn settle(&self) -> Result<()> {
        use std::sync::atomic::Ordering::SeqCst;
        if self.fail_settle.load(SeqCst) {
            return Err(crate::store::StoreError::backend(
                "settle",
                "the disk cannot sync",
            ));
        }
        self.unsettled.store(0, SeqCst);
        self.settles.fetch_add(1, SeqCst);
        Ok(())
    }
    async fn list(&self) -> Result<Vec<(String, u64)>> {
        Ok(self
            .blobs
            .lock()
            .unwrap()
            .keys()
            .map(|k| (k.clone(), 0))
            .collect())
    }
    fn reads_are_remote(&self) -> bool {
        self.remote_reads.load(Ordering::SeqCst)
    }
    async fn presigned_get(&self, sha256: &str, _filename: &str) -> Result<Option<String>> {
        Ok(self
            .presign
            .load(Ordering::Relaxed)
            .then(|| format!("mem://{sha256}")))
    }
    async fn reader(&self, facts: Facts) -> Result<Arc<dyn PackageReader>> {
        let b = self
            .blobs
            .lock()
            .unwrap()
            .get(&facts.sha256)
            .cloned()
            .unwrap_or_default();
        Ok(Arc::new(crate::generator::MemReader { facts, data: b }))
    }
}

/// Claims files starting with "PKG "; one entry per file; one index listing them all.
pub struct FakeGen {
    info: Info,
    pub plans: AtomicUsize,
    pub finishes: AtomicUsize,
    /// Also publishes typed files, directory indexes and its `base-url` (`served`).
    extras: bool,
}

impl FakeGen {
    pub fn new() -> Self {
        Self::with(false, true)
    }

    /// Like pacman: one version per name, an upload replaces the same name.
    pub fn one_version() -> Self {
        Self::with(true, true)
    }

    /// Like deb: publishes no package signatures, so the host makes none.
    pub fn unsigned() -> Self {
        Self::with(false, false)
    }

    /// Like npm: an index typed `text/x-fake`, `index.html` documents for its directories
    /// (`/`, `sub/`, the latter typed `application/xhtml+xml`) and a file `base` holding
    /// the `base-url` it was given.
    pub fn served() -> Self {
        let mut g = Self::with(false, true);
        g.info.index_name = Some("index.html".into());
        g.extras = true;
        g
    }

    fn with(one_version_per_name: bool, signed_packages: bool) -> Self {
        FakeGen {
            info: Info {
                name: "fake".into(),
                mount: "fake".into(),
                extensions: vec![".fake".into()],
                description: "test".into(),
                contract: "0.2.0".into(),
                one_version_per_name,
                signed_packages,
                index_name: None,
            },
            plans: AtomicUsize::new(0),
            finishes: AtomicUsize::new(0),
            extras: false,
        }
    }
}

impl Generator for FakeGen {
    fn info(&self) -> &Info {
        &self.info
    }
    fn claims(&self, _f: &str, head: &[u8], _h: &[Hint]) -> bool {
        head.starts_with(b"PKG ")
    }
    fn analyze(
        &self,
        pkg: Arc<dyn PackageReader>,
        _h: &[Hint],
    ) -> std::result::Result<Vec<Entry>, GenError> {
        let file = pkg.facts().filename.clone();
        if file == "panic" {
            panic!("the fake generator panics on a file named panic");
        }
        // "PKG NAME ..." names the package NAME; the entry's index line is the file name.
        let head = String::from_utf8_lossy(&pkg.read(0, 64).unwrap_or_default()).into_owned();
        let pkg_name = head.split_whitespace().nth(1).unwrap_or(&file).to_string();
        let name = file;
        Ok(vec![Entry {
            name: pkg_name,
            version: "1".into(),
            arch: "any".into(),
            path: format!("pool/{name}"),
            shelf: "s".into(),
            fragments: vec![Fragment {
                name: "idx".into(),
                data: format!("{name}\n").into_bytes(),
            }],
        }])
    }
    fn plan(&self, _r: &RepoInfo, _s: &[ShelfSummary]) -> std::result::Result<Plan, GenError> {
        self.plans.fetch_add(1, Ordering::SeqCst);
        Ok(Plan {
            files: vec![BulkFile {
                path: "index".into(),
                parts: vec![Part::Entries(Selection {
                    shelves: vec!["s".into()],
                    fragment: "idx".into(),
                    separator: vec![],
                })],
                encodings: vec![Encoding::Identity, Encoding::Gzip],
                history: None,
                media_type: self.extras.then(|| "text/x-fake".into()),
            }],
            links: vec![Link {
                shelves: vec!["s".into()],
                prefix: "linked/".into(),
                signature: Some(".sig".into()),
            }],
        })
    }
    fn finish(
        &self,
        r: &RepoInfo,
        _s: &[ShelfSummary],
        files: &[Assembled],
        signer: Arc<dyn Signer>,
    ) -> std::result::Result<Vec<Output>, GenError> {
        self.finishes.fetch_add(1, Ordering::SeqCst);
        let list: String = files
            .iter()
            .map(|f| format!("{} {}\n", f.sha256, f.path))
            .collect();
        let bytes = |path: &str, b: &[u8], media_type: Option<&str>| Output {
            path: path.into(),
            content: Content::Bytes(b.to_vec()),
            media_type: media_type.map(Into::into),
        };
        let extras = match self.extras {
            false => vec![],
            true => vec![
                bytes("index.html", b"<p>root</p>", None),
                bytes(
                    "sub/index.html",
                    b"<p>sub</p>",
                    Some("application/xhtml+xml"),
                ),
                bytes("base", r.base_url.as_bytes(), None),
            ],
        };
        Ok(extras
            .into_iter()
            .chain(vec![
                Output {
                    path: "Release".into(),
                    content: Content::Bytes(signer.clearsign(&list).unwrap().into_bytes()),
                    media_type: None,
                },
                Output {
                    path: "alias".into(),
                    content: Content::SameAs("index".into()),
                    media_type: None,
                },
                Output {
                    path: "joined".into(),
                    content: Content::Concat(
                        vec![
                            Piece::Bytes(b"head\n".to_vec()),
                            Piece::File("index".into()),
                        ],
                        Encoding::Identity,
                    ),
                    media_type: None,
                },
            ])
            .collect())
    }
}

pub struct FakeSigner;

impl Signer for FakeSigner {
    fn clearsign(&self, text: &str) -> std::result::Result<String, String> {
        Ok(format!("SIGNED\n{text}"))
    }
    fn detached(&self, _d: &[u8], _a: bool) -> std::result::Result<Vec<u8>, String> {
        Ok(b"sig".to_vec())
    }
    fn detached_package(&self, _s: &str) -> std::result::Result<Vec<u8>, String> {
        Ok(b"sig".to_vec())
    }
    fn public_key(&self) -> String {
        "KEY".into()
    }
    fn rsa_sign(&self, _d: &[u8], _sha1: bool) -> std::result::Result<Vec<u8>, String> {
        Ok(b"rsa".to_vec())
    }
    fn rsa_public_key(&self) -> String {
        "RSA KEY".into()
    }
    fn rsa_key_name(&self) -> String {
        "fake".into()
    }
    fn rsa_sign_blob(&self, _s: &str, _sha1: bool) -> std::result::Result<Vec<u8>, String> {
        Ok(b"rsa".to_vec())
    }
}

/// Runs "blocking" work on a plain thread; sleeps with a thread too (no executor needed).
pub struct ThreadRuntime;

impl Runtime for ThreadRuntime {
    fn spawn_blocking(&self, f: Box<dyn FnOnce() + Send>) {
        std::thread::spawn(f);
    }
    fn sleep(&self, d: Duration) -> futures::future::BoxFuture<'static, ()> {
        let (tx, rx) = futures::channel::oneshot::channel::<()>();
        std::thread::spawn(move || {
            std::thread::sleep(d);
            let _ = tx.send(());
        });
        Box::pin(async move {
            let _ = rx.await;
        })
    }
    fn now(&self) -> u64 {
        1_800_000_000
    }
}

/// Like `app`, with earlier generations kept for `grace` only.
pub fn app_with_grace(
    gen: Arc<FakeGen>,
    grace: Duration,
) -> (Arc<App>, Arc<MemMeta>, Arc<MemBlobs>) {
    let (app, meta, blobs) = app(gen);
    let mut app = Arc::try_unwrap(app).ok().expect("fresh app");
    app.grace = grace;
    (Arc::new(app), meta, blobs)
}

pub fn app(gen: Arc<FakeGen>) -> (Arc<App>, Arc<MemMeta>, Arc<MemBlobs>) {
    let meta = Arc::new(MemMeta::default());
    let blobs = Arc::new(MemBlobs::default());
    let app = process(&meta, &blobs, gen);
    (Arc::new(app), meta, blobs)
}

/// A process on these stores with generator `gen` (the test app's token `t`): another one
/// beside `app`'s, as servers share a deployment's stores.
pub fn process(meta: &Arc<MemMeta>, blobs: &Arc<MemBlobs>, gen: Arc<FakeGen>) -> App {
    App::new(
        meta.clone(),
        blobs.clone(),
        vec![gen],
        Arc::new(FakeSigner),
        "t".into(),
        Arc::new(ThreadRuntime),
    )
}

/// A request with the test app's admin token (`t`).
pub fn req(method: &str, path: &str, body: &[u8]) -> crate::Request {
    http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", "Bearer t")
        .body(crate::Body::from(body.to_vec()))
        .unwrap()
}

/// `req` answered in place: its status and its body as text.
pub fn answer(app: &App, req: crate::Request) -> (u16, String) {
    futures::executor::block_on(async {
        let r = crate::handle(app, req).await;
        let status = r.status().as_u16();
        let body = r.into_body().collect(1 << 20).await.unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    })
}
