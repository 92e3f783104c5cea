//! reposmith-native: the native pieces every host target shares (the local server and the
//! Lambda functions): the tokio [`Runtime`] and the stores as the repo signer's blob reader
//! ([`StoreBlobs`], for `reposmith_signing::RepoSigner`, which keeps the private keys in the
//! host so that generators only ever see signatures).
use reposmith_core::generator::{Facts, PackageReader, Signer};
use reposmith_core::store::{MetaStore, PackageStore};
use reposmith_core::{App, Runtime};
use reposmith_signing::{Blobs, PgpKey, RepoSigner, RsaKey, SealedKeyring};
use std::sync::Arc;
use std::time::Duration;

/// The core's executor seam on tokio.
pub struct TokioRuntime;

impl Runtime for TokioRuntime {
    fn spawn_blocking(&self, f: Box<dyn FnOnce() + Send>) {
        tokio::task::spawn_blocking(f);
    }
    fn sleep(&self, d: Duration) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(d))
    }
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// A native target's app on tokio, without generators yet (start-up installs them through
/// `reposmith_core::registry`).
pub fn app(
    meta: Arc<dyn MetaStore>,
    packages: Arc<dyn PackageStore>,
    signer: Arc<dyn Signer>,
    token: String,
) -> App {
    App::new(
        meta,
        packages,
        Vec::new(),
        signer,
        token,
        Arc::new(TokioRuntime),
    )
}

/// The repo signer of a native target.
pub type PgpSigner = RepoSigner<StoreBlobs>;

/// The repo signer over the package store. Must be called inside a tokio runtime: package
/// signatures read the store from the blocking threads generator calls run on.
pub fn pgp_signer(
    key: PgpKey,
    rsa: RsaKey,
    packages: Arc<dyn PackageStore>,
) -> anyhow::Result<PgpSigner> {
    RepoSigner::new(
        key,
        rsa,
        StoreBlobs {
            packages,
            handle: tokio::runtime::Handle::current(),
        },
    )
}

/// Each repo's own keys, sealed under the server's key `server`, signing over the package
/// store (same runtime requirement as [`pgp_signer`]).
pub fn keyring(
    server: &PgpKey,
    packages: Arc<dyn PackageStore>,
) -> anyhow::Result<SealedKeyring<StoreBlobs>> {
    SealedKeyring::new(
        server,
        Arc::new(StoreBlobs {
            packages,
            handle: tokio::runtime::Handle::current(),
        }),
    )
}

/// The package store as the signer reads it: from a blocking thread (a generator call or an
/// upload's signing step), so it is safe to block on the store.
pub struct StoreBlobs {
    packages: Arc<dyn PackageStore>,
    handle: tokio::runtime::Handle,
}

impl Blobs for StoreBlobs {
    /// The blob streams through the hasher by ranged reads, never whole in memory.
    fn open(&self, sha256: &str) -> Result<Box<dyn std::io::Read + '_>, String> {
        let size = self
            .handle
            .block_on(self.packages.size(sha256))
            .map_err(|e| format!("{e:#}"))?
            .ok_or_else(|| format!("no stored blob {sha256}"))?;
        let facts = Facts {
            sha256: sha256.to_string(),
            size,
            ..Default::default()
        };
        let reader = self
            .handle
            .block_on(self.packages.reader(facts))
            .map_err(|e| format!("{e:#}"))?;
        Ok(Box::new(BlobRead { reader, offset: 0 }))
    }

    /// Index files are small: read whole, in one request.
    fn read_all(&self, sha256: &str) -> Result<Vec<u8>, String> {
        let bytes = self
            .handle
            .block_on(self.packages.get_bytes(sha256))
            .map_err(|e| format!("{e:#}"))?
            .ok_or_else(|| format!("no stored blob {sha256}"))?;
        Ok(bytes.to_vec())
    }
}

/// A stored blob as `std::io::Read`, by ranged reads.
pub struct BlobRead {
    pub reader: Arc<dyn PackageReader>,
    pub offset: u64,
}

impl std::io::Read for BlobRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let len = buf.len().min(1 << 20) as u32;
        let chunk = self
            .reader
            .read(self.offset, len)
            .map_err(std::io::Error::other)?;
        buf[..chunk.len()].copy_from_slice(&chunk);
        self.offset += chunk.len() as u64;
        Ok(chunk.len())
    }
}
