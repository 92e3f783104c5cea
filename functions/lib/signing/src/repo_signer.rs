//! The repository signer every target hands to generators (the contract's `signer`
//! interface): the OpenPGP and RSA private keys stay here, generators only ever see
//! signatures. What differs between targets is only where a stored blob is read from
//! ([`Blobs`]): the stores from a blocking thread natively, the request's own blobs on Spin.
use crate::{PgpKey, RsaDigest, RsaKey};
use reposmith_contract::Signer;
use std::io::Read;
use std::sync::Arc;

/// Where the signer reads a stored blob (a package, an assembled index file) by sha256.
/// Called from inside a generator call, so synchronously.
pub trait Blobs: Send + Sync {
    /// The blob as a stream: a package is signed as it is read, never whole in memory.
    fn open(&self, sha256: &str) -> Result<Box<dyn Read + '_>, String>;
    /// The whole blob (index files are small).
    fn read_all(&self, sha256: &str) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        self.open(sha256)?
            .read_to_end(&mut out)
            .map_err(|e| format!("reading blob {sha256}: {e}"))?;
        Ok(out)
    }
}

impl<T: Blobs + ?Sized> Blobs for Arc<T> {
    fn open(&self, sha256: &str) -> Result<Box<dyn Read + '_>, String> {
        (**self).open(sha256)
    }
    fn read_all(&self, sha256: &str) -> Result<Vec<u8>, String> {
        (**self).read_all(sha256)
    }
}

/// The repo keys over a blob reader.
pub struct RepoSigner<B> {
    key: PgpKey,
    /// Keys being rotated out: they still clearsign (InRelease) until they retire.
    overlap: Vec<PgpKey>,
    rsa: RsaKey,
    public: String,
    blobs: B,
}

impl<B: Blobs> RepoSigner<B> {
    pub fn new(key: PgpKey, rsa: RsaKey, blobs: B) -> anyhow::Result<Self> {
        let public = key.public_key_armored()?;
        Ok(RepoSigner {
            key,
            overlap: Vec::new(),
            rsa,
            public,
            blobs,
        })
    }
}

impl<B> RepoSigner<B> {
    /// Also clearsign with these keys.
    pub fn with_overlap(mut self, keys: Vec<PgpKey>) -> Self {
        self.overlap = keys;
        self
    }
}

fn digest(sha1: bool) -> RsaDigest {
    if sha1 {
        RsaDigest::Sha1
    } else {
        RsaDigest::Sha256
    }
}

fn text(e: anyhow::Error) -> String {
    format!("{e:#}")
}

impl<B: Blobs> Signer for RepoSigner<B> {
    fn clearsign(&self, text_: &str) -> Result<String, String> {
        self.key.clearsign_many(&self.overlap, text_).map_err(text)
    }
    fn detached(&self, data: &[u8], armor: bool) -> Result<Vec<u8>, String> {
        self.key.detached(data, armor).map_err(text)
    }
    fn detached_package(&self, sha256: &str) -> Result<Vec<u8>, String> {
        let blob = self.blobs.open(sha256)?;
        self.key.detached_reader(blob, false).map_err(text)
    }
    fn public_key(&self) -> String {
        self.public.clone()
    }
    fn rsa_sign(&self, data: &[u8], sha1: bool) -> Result<Vec<u8>, String> {
        self.rsa.sign(data, digest(sha1)).map_err(text)
    }
    fn rsa_public_key(&self) -> String {
        self.rsa.public_pem().unwrap_or_default()
    }
    fn rsa_key_name(&self) -> String {
        self.rsa.name()
    }
    fn rsa_sign_blob(&self, sha256: &str, sha1: bool) -> Result<Vec<u8>, String> {
        let bytes = self.blobs.read_all(sha256)?;
        self.rsa_sign(&bytes, sha1)
    }
}
