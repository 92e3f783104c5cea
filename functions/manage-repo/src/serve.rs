//! The local server: hyper in front of the core's `handle`. The adapter only converts
//! request and response types; every decision is the core's.
use crate::setup::TokenSource;
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, BodyStream, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use reposmith_core::{App, Body};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_rustls::rustls;

type HyperBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// What the server holds open at once, whoever the clients are.
pub struct Limits {
    /// Connections served at once.
    pub connections: usize,
    /// For a request's headers to arrive (an idle keep-alive connection waits as long).
    pub header_timeout: Duration,
    /// For each piece of a request body to arrive (a stalled upload is cut off).
    pub body_timeout: Duration,
    /// What one request may send (the core refuses more with 413).
    pub request: reposmith_core::limits::Limits,
    /// Per-client rate limits (the core answers 429).
    pub rates: reposmith_core::throttle::Rates,
    /// How long a GET may answer from the pointer a check read (`App::read_lease`).
    pub read_lease: Duration,
}

/// Where the server listens, and with `--tls-cert` how it terminates TLS.
pub struct Listen {
    pub addr: SocketAddr,
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// `--tls-cert` and `--tls-key`: a PEM certificate chain and its private key (PKCS#8, PKCS#1
/// or SEC1). Offers HTTP/2 and HTTP/1.1 by ALPN.
pub fn tls_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    use anyhow::Context;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading certificates from {}", cert.display()))?;
    anyhow::ensure!(!chain.is_empty(), "no certificate in {}", cert.display());
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading a private key from {}", key.display()))?;
    // Ring explicitly: rustls has two providers compiled in here, so none is the default.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate and the key do not go together")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Raises the open-file limit to its hard limit (idle clients each hold a descriptor) and
/// answers how many connections that leaves room for: all but a reserve for the stores'
/// files, at most 10,000.
pub fn default_connections() -> usize {
    const RESERVE: u64 = 64;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    let soft = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            lim.rlim_max
        } else {
            lim.rlim_cur
        }
    };
    soft.saturating_sub(RESERVE).clamp(16, 10_000) as usize
}

pub async fn run(
    Listen { addr: listen, tls }: Listen,
    data: PathBuf,
    generators: Option<PathBuf>,
    token: Option<String>,
    stores: crate::setup::StoreUrls,
    limits: Limits,
    gc_every: Option<Duration>,
) -> anyhow::Result<()> {
    let per_request = (limits.request, limits.rates, limits.read_lease);
    let setup = crate::setup::open(&data, generators, token, &stores, per_request).await?;
    let app = setup.app;
    recover(&app).await;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    if let Some(every) = gc_every {
        tokio::spawn(collect_every(app.clone(), every));
    }
    let addr = listener.local_addr()?;
    let names: Vec<String> = app
        .generators()
        .iter()
        .map(|g| g.info().name.clone())
        .collect();
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("reposmith listening on {scheme}://{addr}");
    println!("data: {}", data.display());
    let (packages_url, meta_url) = stores.resolve(&data);
    println!("stores: {packages_url} {meta_url}");
    println!(
        "generators: {}",
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    );
    let dirs: Vec<String> = setup
        .generator_dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    // Changes there are picked up without a restart (`folders`).
    println!("generator folders: {}", dirs.join(", "));
    if let Some(every) = gc_every {
        println!("gc: every {} s", every.as_secs());
    }
    if !limits.read_lease.is_zero() {
        let on = if app.meta.reads_are_remote() {
            "every write waits it out"
        } else {
            "off: this metadata store's reads are local"
        };
        println!("read lease: {} ms ({on})", limits.read_lease.as_millis());
    }
    match setup.token {
        TokenSource::New => println!("token: {}", app.token),
        TokenSource::Stored => println!("token: in {}", data.join("token").display()),
        TokenSource::Given => println!("token: as given (--token / REPOSMITH_TOKEN)"),
    }
    println!(
        "apt: curl -o /etc/apt/keyrings/REPO.asc {scheme}://{addr}/repos/REPO/key.asc; \
         echo 'deb [signed-by=/etc/apt/keyrings/REPO.asc] {scheme}://{addr}/repos/REPO/dist stable main' > /etc/apt/sources.list.d/REPO.list"
    );
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.connections));
    loop {
        // At the cap, stop accepting: further clients wait in the kernel's backlog.
        let slot = slots.clone().acquire_owned().await.expect("never closed");
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            // Out of file descriptors, a connection reset before accept: the server stays
            // up, and tries again once others have had a moment to close.
            Err(e) => {
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let app = app.clone();
        // Answers are whole writes already: don't let Nagle hold a small one back.
        let _ = stream.set_nodelay(true);
        let (header_timeout, body_timeout) = (limits.header_timeout, limits.body_timeout);
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let svc = hyper::service::service_fn(move |req| {
                        serve_one(app.clone(), peer, body_timeout, req)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(header_timeout)
                        .serve_connection(io, svc)
                        .await;
                }
                Some(tls) => {
                    // A client that never finishes its handshake is dropped like one that
                    // never sends its headers.
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(header_timeout, tls.accept(stream)).await
                    else {
                        return;
                    };
                    serve_tls(app, peer, stream, header_timeout, body_timeout).await;
                }
            }
            drop(slot);
        });
    }
}

/// One TLS connection: HTTP/2 when the client asks for it, HTTP/1.1 otherwise. HTTP/2 has
/// no header timeout, so a connection with no request in flight for `idle` is shut down
/// (HTTP/1.1 also gets its header timeout).
async fn serve_tls(
    app: Arc<App>,
    peer: SocketAddr,
    stream: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    idle: Duration,
    body_timeout: Duration,
) {
    let activity = Arc::new(Activity::new());
    let svc = {
        let activity = activity.clone();
        hyper::service::service_fn(move |req| {
            let busy = activity.start();
            let app = app.clone();
            async move {
                let resp = serve_one(app, peer, body_timeout, req).await?;
                // Busy until the answer's body is sent (a long download is not idle).
                Ok::<_, std::convert::Infallible>(resp.map(|inner| Guarded { inner, _busy: busy }))
            }
        })
    };
    let mut builder =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(idle);
    builder.http2().timer(hyper_util::rt::TokioTimer::new());
    let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = activity.idle_for(idle) => conn.as_mut().graceful_shutdown(),
    }
    // HTTP/2's shutdown waits for the client to answer a PING: a silent one is dropped
    // once idle again.
    activity.touch();
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = activity.idle_for(idle) => {}
    }
}

/// A response body that keeps its connection busy until it is sent or dropped.
struct Guarded {
    inner: HyperBody,
    _busy: Busy,
}

impl hyper::body::Body for Guarded {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Requests in flight on a connection, and when the last one began or ended.
struct Activity {
    since: Instant,
    in_flight: AtomicUsize,
    last_ms: AtomicU64,
}

struct Busy(Arc<Activity>);

impl Activity {
    fn new() -> Self {
        Activity {
            since: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
        }
    }
    fn touch(&self) {
        let ms = self.since.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }
    fn start(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.touch();
        Busy(self.clone())
    }
    /// Resolves once no request has been in flight for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let last = self.since + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let quiet = last.elapsed();
            if quiet >= idle && self.in_flight.load(Ordering::Relaxed) == 0 {
                return;
            }
            tokio::time::sleep(idle.saturating_sub(quiet).max(Duration::from_millis(100))).await;
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `--gc-every`: `manage-repo gc` inside the server, first one period after the start (a
/// restart loop does not collect each time). A failure is logged; the next round tries again.
async fn collect_every(app: Arc<App>, every: Duration) {
    let mut rounds = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    // A slow collection is not followed by a burst of catch-up rounds.
    rounds.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        rounds.tick().await;
        match reposmith_core::gc::collect(&app, crate::GC_MIN_AGE).await {
            Ok(r) => eprintln!("{}", crate::client::gc_line(&r)),
            Err(e) => eprintln!("gc: {e}"),
        }
    }
}

/// A crash may have left a commit unpublished: publish it before serving. A store that
/// fails meanwhile (shared S3/DynamoDB hiccups) is retried; if it keeps failing, the server
/// starts anyway: the next publish of that repo covers the commit too.
async fn recover(app: &App) {
    for attempt in 0..5 {
        match reposmith_core::commit::recover(app).await {
            Ok(repos) => {
                if !repos.is_empty() {
                    eprintln!("recovered unpublished commits in: {}", repos.join(", "));
                }
                return;
            }
            Err(e) => {
                eprintln!("recovery attempt {}: {e}", attempt + 1);
                tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
            }
        }
    }
    eprintln!("recovery gave up for now: the next publish of each repo covers it");
}

/// A body stream that fails when no bytes arrive for `timeout` (a client trickling an upload
/// holds a connection, a temp file and a task; the core answers 400 and deletes what came).
fn stalls_end(
    frames: impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    timeout: Duration,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures::stream::unfold(Some(Box::pin(frames)), move |frames| async move {
        let mut frames = frames?;
        match tokio::time::timeout(timeout, frames.next()).await {
            Ok(Some(item)) => Some((item, Some(frames))),
            Ok(None) => None,
            Err(_) => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no body bytes for {} s", timeout.as_secs()),
                )),
                None,
            )),
        }
    })
}

async fn serve_one(
    app: Arc<App>,
    peer: SocketAddr,
    body_timeout: Duration,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<HyperBody>, std::convert::Infallible> {
    let started = Instant::now();
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let (mut parts, incoming) = req.into_parts();
    // Rate limits are per client address (no proxy header is trusted).
    parts
        .extensions
        .insert(reposmith_core::throttle::ClientAddr(peer.ip()));
    let frames = BodyStream::new(incoming).filter_map(|f| async move {
        match f {
            Ok(frame) => frame.into_data().ok().map(Ok),
            Err(e) => Some(Err(std::io::Error::other(e))),
        }
    });
    let stream = stalls_end(frames, body_timeout).fuse().boxed();
    let before = reposmith_stores::request_counts();
    let resp =
        reposmith_core::handle(&app, http::Request::from_parts(parts, Body::Stream(stream))).await;
    // One write per line (stderr is unbuffered: `eprintln!` writes each piece).
    let line = format!(
        "{method} {path} {} {}ms{}\n",
        resp.status().as_u16(),
        started.elapsed().as_millis(),
        store_requests(&before)
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
    let (parts, body) = resp.into_parts();
    let body: HyperBody = match body {
        Body::Empty => Empty::new().map_err(|e| match e {}).boxed_unsync(),
        Body::Bytes(b) => Full::new(b).map_err(|e| match e {}).boxed_unsync(),
        Body::Stream(s) => UnsyncBoxBody::new(StreamBody::new(s.map(|r| r.map(Frame::data)))),
    };
    Ok(hyper::Response::from_parts(parts, body))
}

/// S3 and DynamoDB requests sent while a request ran, as ` [DynamoDB.GetItem=3 S3.PUT=2]`:
/// exact when requests do not overlap (the benchmarks), a hint otherwise.
fn store_requests(before: &std::collections::BTreeMap<String, u64>) -> String {
    let diff: Vec<String> = reposmith_stores::request_counts()
        .into_iter()
        .filter_map(|(k, v)| {
            let d = v - before.get(&k).copied().unwrap_or(0);
            (d > 0).then(|| format!("{k}={d}"))
        })
        .collect();
    if diff.is_empty() {
        String::new()
    } else {
        format!(" [{}]", diff.join(" "))
    }
}
