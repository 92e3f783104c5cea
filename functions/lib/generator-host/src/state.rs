//! Per-call store data: the empty WASI context, the resource table, the limiter and the
//! host side of the generator's imports (`package`, `signer`).

use crate::bindings::{reposmith::generator::signer, wit};
use bytes::Bytes;
use reposmith_contract::{PackageReader, Signer};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime::ResourceLimiter;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Largest `package.read` answered in one call; a bigger `len` gets fewer bytes, which the
/// contract allows ("up to `len` bytes").
pub const MAX_READ: u32 = 16 << 20;
/// How much of the guest's stderr is kept (the tail: a panic message comes last).
const STDERR_KEEP: usize = 4096;

/// The `package` resource: a stored package the guest may read ranges of.
pub struct PackageHandle {
    reader: Arc<dyn PackageReader>,
    /// Bytes left to read in this call: a guest rereading in a loop stops here instead of
    /// keeping the store busy (fuel does not count host-side copying).
    budget: u64,
}

impl PackageHandle {
    pub fn new(reader: Arc<dyn PackageReader>) -> Self {
        // Twice the file plus slack: enough for any sane parser, bounded for a buggy one.
        let budget = reader
            .facts()
            .size
            .saturating_mul(2)
            .saturating_add(64 << 20);
        PackageHandle { reader, budget }
    }
}

pub struct HostState {
    wasi: WasiCtx,
    pub table: ResourceTable,
    pub limiter: Limiter,
    /// Only set during `finish`.
    pub signer: Option<Arc<dyn Signer>>,
    pub stderr: StderrTail,
}

impl HostState {
    pub fn new(memory_bytes: usize, signer: Option<Arc<dyn Signer>>) -> Self {
        let stderr = StderrTail::default();
        // Grants nothing: no preopens, env, args or network (builder defaults); stdin closed,
        // stdout discarded, stderr captured for error messages; clocks frozen at the epoch
        // because generators must not depend on time (the contract passes `now`).
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter {
                memory_bytes,
                memory_size: 0,
                exceeded: None,
            },
            signer,
            stderr,
        }
    }
}

impl HostState {
    /// Ready for the next call in this store: its signer, no limit hit yet, no stderr kept.
    pub fn reset(&mut self, signer: Option<Arc<dyn Signer>>) {
        self.signer = signer;
        self.limiter.exceeded = None;
        self.stderr.clear();
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Memory limiter that traps on the first growth past the limit (rather than letting
/// `memory.grow` return -1, which Rust guests turn into an opaque abort) and remembers it
/// so the error names the cause.
pub struct Limiter {
    pub memory_bytes: usize,
    /// The linear memory's size after its last growth.
    pub memory_size: usize,
    /// The size asked for when the limit was hit.
    pub exceeded: Option<usize>,
}

const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.exceeded = Some(desired);
            wasmtime::bail!(
                "memory limit exceeded (wanted {desired} bytes, limit {})",
                self.memory_bytes
            );
        }
        self.memory_size = self.memory_size.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

struct FrozenClock;

impl wasmtime_wasi::HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// The guest's stderr: accepts everything (a full pipe must not make `eprintln!` panic) and
/// keeps the last few KiB for the failure message.
#[derive(Clone, Default)]
pub struct StderrTail(Arc<Mutex<Vec<u8>>>);

impl StderrTail {
    fn push(&self, bytes: &[u8]) {
        let Ok(mut buf) = self.0.lock() else { return };
        let bytes = &bytes[bytes.len().saturating_sub(STDERR_KEEP)..];
        buf.extend_from_slice(bytes);
        if buf.len() > 2 * STDERR_KEEP {
            let cut = buf.len() - STDERR_KEEP;
            buf.drain(..cut);
        }
    }

    fn clear(&self) {
        if let Ok(mut buf) = self.0.lock() {
            buf.clear();
        }
    }

    /// The kept tail as one trimmed line-joined string ("" if the guest wrote nothing).
    pub fn text(&self) -> String {
        let Ok(buf) = self.0.lock() else {
            return String::new();
        };
        let tail = &buf[buf.len().saturating_sub(STDERR_KEEP)..];
        let text = String::from_utf8_lossy(tail);
        text.split('\n')
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

impl IsTerminal for StderrTail {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for StderrTail {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for StderrTail {
    async fn ready(&mut self) {}
}

impl OutputStream for StderrTail {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for StderrTail {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

// ---- imports of the generator world ----

impl wit::Host for HostState {}

impl wit::HostPackage for HostState {
    fn facts(&mut self, pkg: Resource<PackageHandle>) -> wit::Facts {
        match self.table.get(&pkg) {
            Ok(h) => h.reader.facts().clone().into(),
            // Unreachable for a well-typed borrow; an empty answer beats a host panic.
            Err(_) => wit::Facts {
                filename: String::new(),
                size: 0,
                md5: String::new(),
                sha1: String::new(),
                sha256: String::new(),
                sha512: String::new(),
            },
        }
    }

    fn read(
        &mut self,
        pkg: Resource<PackageHandle>,
        offset: u64,
        len: u32,
    ) -> Result<Vec<u8>, String> {
        let h = self
            .table
            .get_mut(&pkg)
            .map_err(|e| format!("bad package handle: {e}"))?;
        let len = len.min(MAX_READ);
        if u64::from(len) > h.budget {
            return Err(
                "read budget of this call exhausted (a generator should read only the \
                        parts of the package it needs)"
                    .into(),
            );
        }
        let mut data = h.reader.read(offset, len)?;
        data.truncate(len as usize); // a reader must not hand the guest more than it asked for
        h.budget -= data.len() as u64;
        Ok(data)
    }

    fn drop(&mut self, pkg: Resource<PackageHandle>) -> wasmtime::Result<()> {
        // The host owns the handle (the guest only borrows it); deleting twice is harmless.
        let _ = self.table.delete(pkg);
        Ok(())
    }
}

const NO_SIGNER: &str = "signer not available in this call (only during finish)";

impl signer::Host for HostState {
    fn clearsign(&mut self, text: String) -> Result<String, String> {
        self.signer.as_ref().ok_or(NO_SIGNER)?.clearsign(&text)
    }

    fn detached(&mut self, data: Vec<u8>, armor: bool) -> Result<Vec<u8>, String> {
        self.signer
            .as_ref()
            .ok_or(NO_SIGNER)?
            .detached(&data, armor)
    }

    fn detached_package(&mut self, sha256: String) -> Result<Vec<u8>, String> {
        self.signer
            .as_ref()
            .ok_or(NO_SIGNER)?
            .detached_package(&sha256)
    }

    fn public_key(&mut self) -> String {
        // No error channel in the WIT: outside finish the key is simply empty.
        self.signer
            .as_ref()
            .map(|s| s.public_key())
            .unwrap_or_default()
    }

    fn rsa_sign(&mut self, data: Vec<u8>, digest: signer::RsaDigest) -> Result<Vec<u8>, String> {
        let sha1 = matches!(digest, signer::RsaDigest::Sha1);
        self.signer.as_ref().ok_or(NO_SIGNER)?.rsa_sign(&data, sha1)
    }

    fn rsa_public_key(&mut self) -> String {
        self.signer
            .as_ref()
            .map(|s| s.rsa_public_key())
            .unwrap_or_default()
    }

    fn rsa_sign_blob(
        &mut self,
        sha256: String,
        digest: signer::RsaDigest,
    ) -> Result<Vec<u8>, String> {
        let sha1 = matches!(digest, signer::RsaDigest::Sha1);
        self.signer
            .as_ref()
            .ok_or(NO_SIGNER)?
            .rsa_sign_blob(&sha256, sha1)
    }

    fn rsa_key_name(&mut self) -> String {
        self.signer
            .as_ref()
            .map(|s| s.rsa_key_name())
            .unwrap_or_default()
    }

    fn vouch_index(&mut self, text: Vec<u8>) -> Result<(), String> {
        self.signer.as_ref().ok_or(NO_SIGNER)?.vouch_index(&text)
    }
}
