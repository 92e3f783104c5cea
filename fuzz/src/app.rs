//! An `App` in memory for the targets that go through `reposmith_core::handle`: stores in
//! maps, a generator that claims files starting with `PKG `, a signer that signs nothing,
//! and blocking work run inline (no threads: one input, one deterministic run).
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use reposmith_core::digest::{digests, Digests};
use reposmith_core::generator::*;
use reposmith_core::model::{keys, RepoConfig};
use reposmith_core::store::{Cas, Conflict, MetaStore, PackageStore, Result, Versioned};
use reposmith_core::{App, Body, ByteStream, Request, Runtime};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub const TOKEN: &str = "fuzz-token";
/// The repo every target's App has.
const REPO: &str = "r";

#[derive(Default)]
struct MemMeta(Mutex<BTreeMap<String, Versioned>>);

#[async_trait]
impl MetaStore for MemMeta {
    async fn get(&self, key: &str) -> Result<Option<Versioned>> {
        Ok(self.0.lock().unwrap().get(key).cloned())
    }
    async fn put_if(&self, key: &str, value: Bytes, expected: Option<u64>) -> Cas<u64> {
        let mut m = self.0.lock().unwrap();
        let cur = m.get(key).map(|v| v.version);
        if cur != expected {
            return Ok(Err(Conflict));
        }
        let version = cur.map_or(1, |v| v + 1);
        m.insert(key.to_string(), Versioned { value, version });
        Ok(Ok(version))
    }
    async fn delete_if(&self, key: &str, expected: u64) -> Cas<()> {
        let mut m = self.0.lock().unwrap();
        if m.get(key).map(|v| v.version) != Some(expected) {
            return Ok(Err(Conflict));
        }
        m.remove(key);
        Ok(Ok(()))
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let m = self.0.lock().unwrap();
        Ok(m.keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
}

#[derive(Default)]
struct MemBlobs(Mutex<HashMap<String, Bytes>>);

#[async_trait]
impl PackageStore for MemBlobs {
    async fn put(&self, mut body: ByteStream) -> Result<Digests> {
        let mut buf = Vec::new();
        while let Some(c) = body.next().await {
            buf.extend_from_slice(&c?);
        }
        let d = digests(&buf);
        self.0.lock().unwrap().insert(d.sha256.clone(), buf.into());
        Ok(d)
    }
    async fn get(&self, sha256: &str, offset: u64, len: Option<u64>) -> Result<Option<ByteStream>> {
        let b = self.0.lock().unwrap().get(sha256).cloned();
        Ok(b.map(|b| {
            let start = usize::try_from(offset).unwrap_or(usize::MAX).min(b.len());
            let end = len.map_or(b.len(), |n| {
                start
                    .saturating_add(usize::try_from(n).unwrap_or(usize::MAX))
                    .min(b.len())
            });
            Body::Bytes(b.slice(start..end)).into_stream()
        }))
    }
    async fn size(&self, sha256: &str) -> Result<Option<u64>> {
        Ok(self.0.lock().unwrap().get(sha256).map(|b| b.len() as u64))
    }
    async fn delete(&self, sha256: &str) -> Result<()> {
        self.0.lock().unwrap().remove(sha256);
        Ok(())
    }
    async fn reader(&self, facts: Facts) -> Result<Arc<dyn PackageReader>> {
        let data = self
            .0
            .lock()
            .unwrap()
            .get(&facts.sha256)
            .cloned()
            .unwrap_or_default();
        Ok(Arc::new(MemReader { facts, data }))
    }
}

/// Claims files starting with `PKG `; `PKG NAME` is one entry NAME, listed in one index.
struct FakeGen(Info);

impl Generator for FakeGen {
    fn info(&self) -> &Info {
        &self.0
    }
    fn claims(&self, _f: &str, head: &[u8], _h: &[Hint]) -> bool {
        head.starts_with(b"PKG ")
    }
    fn analyze(&self, pkg: Arc<dyn PackageReader>, _h: &[Hint]) -> Result<Vec<Entry>, GenError> {
        let head = pkg.read(0, 64).map_err(GenError::Failed)?;
        let head = String::from_utf8_lossy(&head);
        let name = head.split_whitespace().nth(1).unwrap_or("x").to_string();
        let file = pkg.facts().filename.clone();
        Ok(vec![Entry {
            name,
            version: "1".into(),
            arch: "any".into(),
            path: format!("pool/{file}"),
            shelf: "s".into(),
            fragments: vec![Fragment {
                name: "idx".into(),
                data: format!("{file}\n").into_bytes(),
            }],
        }])
    }
    fn plan(&self, _r: &RepoInfo, _s: &[ShelfSummary]) -> Result<Plan, GenError> {
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
                media_type: None,
            }],
            links: vec![],
        })
    }
    fn finish(
        &self,
        _r: &RepoInfo,
        _s: &[ShelfSummary],
        files: &[Assembled],
        signer: Arc<dyn Signer>,
    ) -> Result<Vec<Output>, GenError> {
        let list: String = files
            .iter()
            .map(|f| format!("{} {}\n", f.sha256, f.path))
            .collect();
        let signed = signer.clearsign(&list).map_err(GenError::Failed)?;
        Ok(vec![Output {
            path: "Release".into(),
            content: Content::Bytes(signed.into_bytes()),
            media_type: None,
        }])
    }
}

struct NoSigner;

impl Signer for NoSigner {
    fn clearsign(&self, text: &str) -> Result<String, String> {
        Ok(format!("SIGNED\n{text}"))
    }
    fn detached(&self, _d: &[u8], _a: bool) -> Result<Vec<u8>, String> {
        Ok(b"sig".to_vec())
    }
    fn detached_package(&self, _s: &str) -> Result<Vec<u8>, String> {
        Ok(b"sig".to_vec())
    }
    fn public_key(&self) -> String {
        "KEY".into()
    }
    fn rsa_sign(&self, _d: &[u8], _sha1: bool) -> Result<Vec<u8>, String> {
        Ok(b"rsa".to_vec())
    }
    fn rsa_public_key(&self) -> String {
        "RSA KEY".into()
    }
    fn rsa_key_name(&self) -> String {
        "fuzz".into()
    }
    fn rsa_sign_blob(&self, _s: &str, _sha1: bool) -> Result<Vec<u8>, String> {
        Ok(b"rsa".to_vec())
    }
}

/// Blocking jobs run where they are spawned; sleeps (retry back-offs) end at once.
struct Inline;

impl Runtime for Inline {
    fn spawn_blocking(&self, f: Box<dyn FnOnce() + Send>) {
        f();
    }
    fn sleep(&self, _d: Duration) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(async {})
    }
    fn now(&self) -> u64 {
        1_800_000_000
    }
}

/// A fresh App whose repo `r` exists and has published nothing.
pub fn empty() -> App {
    let gen = FakeGen(Info {
        name: "fake".into(),
        mount: "fake".into(),
        extensions: vec![".fake".into()],
        description: "fuzz".into(),
        contract: "0.2.0".into(),
        one_version_per_name: false,
        signed_packages: false,
        index_name: None,
    });
    let meta = MemMeta::default();
    let config = RepoConfig {
        name: REPO.into(),
        default_suite: "stable".into(),
        default_component: "main".into(),
        ..RepoConfig::default()
    };
    meta.0.lock().unwrap().insert(
        keys::config(REPO),
        Versioned {
            value: serde_json::to_vec(&config)
                .expect("a config encodes")
                .into(),
            version: 1,
        },
    );
    App::new(
        Arc::new(meta),
        Arc::new(MemBlobs::default()),
        vec![Arc::new(gen)],
        Arc::new(NoSigner),
        TOKEN.into(),
        Arc::new(Inline),
    )
}

/// One App for every run of a read-only target: repo `r` with package `a.fake` published.
pub fn published() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let app = empty();
        let req = http::Request::builder()
            .method("POST")
            .uri("/repos/r/packages/?filename=a.fake")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::from(b"PKG a\n".to_vec()))
            .expect("a valid request");
        let status = send(&app, req).0;
        assert_eq!(status, 201, "the fuzz App's package was not published");
        app
    })
}

/// Runs a request to its end (the body read whole) and answers its status and body.
fn send(app: &App, req: Request) -> (u16, Vec<u8>) {
    futures::executor::block_on(async {
        let resp = reposmith_core::handle(app, req).await;
        let status = resp.status().as_u16();
        let mut body = resp.into_body().into_stream();
        let mut out = Vec::new();
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(c) => out.extend_from_slice(&c),
                Err(_) => break,
            }
        }
        (status, out)
    })
}

/// A request the client caused: never a 5xx (a client's fault is a 4xx; see ARCHITECTURE.md),
/// but 501 for what this App does not do (it has no generator loader).
pub fn run(app: &App, req: Request) {
    let what = format!("{} {}", req.method(), req.uri());
    let (status, body) = send(app, req);
    assert!(
        status < 500 || status == 501,
        "{what} answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
}

const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "GET",
];

/// A request from fuzz input: the first byte picks the method (and whether the admin token is
/// sent, bit 3), then lines: the request target, `Name: value` headers up to a blank line,
/// and the body. None when `http` refuses the target or a header.
pub fn request(data: &[u8]) -> Option<Request> {
    let (first, rest) = data.split_first()?;
    let text = String::from_utf8_lossy(rest);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.split('\n');
    let target = lines.next().unwrap_or("/");
    let target = if target.starts_with('/') {
        target.to_string()
    } else {
        format!("/{target}")
    };
    let mut b = http::Request::builder()
        .method(METHODS[usize::from(first & 7)])
        .uri(target);
    if first & 8 != 0 {
        b = b.header("authorization", format!("Bearer {TOKEN}"));
    }
    for line in lines {
        let (k, v) = line.split_once(':')?;
        b = b.header(k.trim(), v.trim());
    }
    b.body(Body::from(body.to_string())).ok()
}

/// Every record the stores hold, decoded from `data`; one that decodes must encode and decode
/// back to itself.
pub fn decode_all(data: &[u8]) {
    use reposmith_core::model::*;
    use reposmith_core::records::{clash_keys, Bucket};
    if let Ok(b) = serde_json::from_slice::<Bucket>(data) {
        for rec in b.values() {
            let _ = clash_keys(rec);
        }
        let again: Bucket = serde_json::from_slice(&serde_json::to_vec(&b).unwrap())
            .expect("a bucket decodes what it encodes");
        assert!(
            b.values().eq(again.values()),
            "a bucket changed on a round trip"
        );
    }
    if let Ok(h) = serde_json::from_slice::<StoredHead>(data) {
        let again: StoredHead = serde_json::from_slice(&serde_json::to_vec(&h).unwrap())
            .expect("a head decodes what it encodes");
        assert_eq!(h.buckets, again.buckets);
        assert_eq!(h.packages, again.packages);
        assert_eq!(h.keys, again.keys);
    }
    let _ = serde_json::from_slice::<reposmith_core::commit::RepoKeys>(data);
    let _ = serde_json::from_slice::<Published>(data);
    let _ = serde_json::from_slice::<Manifest>(data);
    let _ = serde_json::from_slice::<RepoConfig>(data);
    let _ = serde_json::from_slice::<Analysis>(data);
}

/// A fresh App with one stored record replaced by `data` (`which` picks it), then the requests
/// that read that record. A corrupt record may be a 500; nothing may panic.
pub fn stored(which: u8, data: &[u8]) {
    let app = empty();
    let id = "0123456789abcdef0123456789abcdef";
    let key = match which % 5 {
        0 => keys::upload(REPO, id),
        1 => keys::head(REPO),
        2 => {
            // A head bucket: the blob `data`, named by a head.
            let d = futures::executor::block_on(app.packages.put_bytes(Bytes::from(data.to_vec())))
                .expect("memory stores do not fail");
            let head = format!(r#"{{"seq":1,"buckets":{{"00":"{}"}}}}"#, d.sha256);
            set(&app, &keys::head(REPO), head.as_bytes());
            keys::config(REPO)
        }
        3 => keys::published(REPO),
        _ => keys::config(REPO),
    };
    if which % 5 != 2 {
        set(&app, &key, data);
    }
    let token = format!("Bearer {TOKEN}");
    let reqs = [
        ("POST", format!("/repos/r/uploads/{id}"), ""),
        ("PUT", format!("/repos/r/uploads/{id}"), "PKG b\n"),
        ("GET", "/repos/r/".to_string(), ""),
        ("GET", "/repos/r/fake/index".to_string(), ""),
        ("GET", "/repos/r/packages/a.fake".to_string(), ""),
        (
            "POST",
            "/repos/r/packages/?filename=c.fake".to_string(),
            "PKG c\n",
        ),
    ];
    for (method, uri, body) in reqs {
        let req = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", &token)
            .body(Body::from(body.to_string()))
            .expect("a valid request");
        let _ = send(&app, req);
    }
}

/// Overwrites a metadata key, whatever it held.
fn set(app: &App, key: &str, data: &[u8]) {
    futures::executor::block_on(async {
        let cur = app.meta.get(key).await.expect("memory stores do not fail");
        let _ = app
            .meta
            .put_if(key, Bytes::from(data.to_vec()), cur.map(|v| v.version))
            .await;
    });
}
