//! reposmith-native: the native pieces every host target shares (the local server and the
//! Lambda functions): the tokio [`Runtime`] and the repo [`PgpSigner`], which keeps the
//! OpenPGP and RSA private keys in the host so that generators only ever see signatures.
use reposmith_core::generator::{Facts, PackageReader, Signer};
use reposmith_core::store::PackageStore;
use reposmith_core::Runtime;
use reposmith_signing::{PgpKey, RsaDigest, RsaKey};
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

/// The repo signing keys in the host; generators only ever see signatures.
pub struct PgpSigner {
    key: PgpKey,
    rsa: RsaKey,
    public: String,
    packages: Arc<dyn PackageStore>,
    handle: tokio::runtime::Handle,
}

impl PgpSigner {
    /// Must be called inside a tokio runtime: package signatures read the store from the
    /// blocking threads generator calls run on.
    pub fn new(key: PgpKey, rsa: RsaKey, packages: Arc<dyn PackageStore>) -> anyhow::Result<Self> {
        let public = key.public_key_armored()?;
        Ok(PgpSigner {
            key,
            rsa,
            public,
            packages,
            handle: tokio::runtime::Handle::current(),
        })
    }
}

impl Signer for PgpSigner {
    fn clearsign(&self, text: &str) -> Result<String, String> {
        self.key.clearsign(text).map_err(|e| format!("{e:#}"))
    }
    fn detached(&self, data: &[u8], armor: bool) -> Result<Vec<u8>, String> {
        self.key.detached(data, armor).map_err(|e| format!("{e:#}"))
    }
    fn detached_package(&self, sha256: &str) -> Result<Vec<u8>, String> {
        // Called from a blocking thread (a generator call or an upload's signing step): safe
        // to block on the store. The blob streams through the hasher, never whole in memory.
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
        self.key
            .detached_reader(BlobRead { reader, offset: 0 }, false)
            .map_err(|e| format!("{e:#}"))
    }
    fn public_key(&self) -> String {
        self.public.clone()
    }
    fn rsa_sign(&self, data: &[u8], sha1: bool) -> Result<Vec<u8>, String> {
        let d = if sha1 {
            RsaDigest::Sha1
        } else {
            RsaDigest::Sha256
        };
        self.rsa.sign(data, d).map_err(|e| format!("{e:#}"))
    }
    fn rsa_public_key(&self) -> String {
        self.rsa.public_pem().unwrap_or_default()
    }
    fn rsa_key_name(&self) -> String {
        self.rsa.name()
    }
    fn rsa_sign_blob(&self, sha256: &str, sha1: bool) -> Result<Vec<u8>, String> {
        // Index files are small: read whole, from a blocking thread like every signer call.
        let bytes = self
            .handle
            .block_on(self.packages.get_bytes(sha256))
            .map_err(|e| format!("{e:#}"))?
            .ok_or_else(|| format!("no stored blob {sha256}"))?;
        self.rsa_sign(&bytes, sha1)
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
