//! The host's `signer` import as a trait. Format code signs through `&dyn Signer`; a
//! generator passes [`HostSigner`] (the import itself), unit tests pass a key of their own.
//! Every method has a default that refuses, so a test signer implements only what its format
//! uses; `HostSigner` implements them all.

/// What an RSA signature hashes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsaDigest {
    Sha1,
    Sha256,
}

fn refused(what: &str) -> String {
    format!("this signer does not {what}")
}

pub trait Signer {
    /// OpenPGP cleartext signature of `text` (apt's InRelease).
    fn clearsign(&self, _text: &str) -> Result<String, String> {
        Err(refused("clearsign"))
    }
    /// OpenPGP detached signature of `data`; ASCII-armored if `armor`.
    fn detached(&self, _data: &[u8], _armor: bool) -> Result<Vec<u8>, String> {
        Err(refused("make detached signatures"))
    }
    /// Detached binary OpenPGP signature of a stored blob, by its sha256.
    fn detached_package(&self, _sha256: &str) -> Result<Vec<u8>, String> {
        Err(refused("sign stored blobs"))
    }
    /// The repository's armored OpenPGP public key.
    fn public_key(&self) -> String {
        String::new()
    }
    /// RSA PKCS#1 v1.5 signature of `data`.
    fn rsa_sign(&self, _data: &[u8], _digest: RsaDigest) -> Result<Vec<u8>, String> {
        Err(refused("make RSA signatures"))
    }
    /// `rsa_sign` over a stored blob, by its sha256.
    fn rsa_sign_blob(&self, _sha256: &str, _digest: RsaDigest) -> Result<Vec<u8>, String> {
        Err(refused("make RSA signatures of stored blobs"))
    }
    /// The RSA public key, SubjectPublicKeyInfo PEM.
    fn rsa_public_key(&self) -> String {
        String::new()
    }
    /// A short stable name for the RSA key.
    fn rsa_key_name(&self) -> String {
        String::new()
    }
    /// Declares an index this `finish` outputs (apt's `Packages.diff/Index`), so that signed
    /// text may name its digests.
    fn vouch_index(&self, _text: &[u8]) -> Result<(), String> {
        Err(refused("vouch for indexes"))
    }
}

/// The host's `signer` import: private keys stay in the host.
#[cfg(feature = "bindings")]
pub struct HostSigner;

#[cfg(feature = "bindings")]
impl Signer for HostSigner {
    fn clearsign(&self, text: &str) -> Result<String, String> {
        host::clearsign(text)
    }
    fn detached(&self, data: &[u8], armor: bool) -> Result<Vec<u8>, String> {
        host::detached(data, armor)
    }
    fn detached_package(&self, sha256: &str) -> Result<Vec<u8>, String> {
        host::detached_package(sha256)
    }
    fn public_key(&self) -> String {
        host::public_key()
    }
    fn rsa_sign(&self, data: &[u8], digest: RsaDigest) -> Result<Vec<u8>, String> {
        host::rsa_sign(data, wit_digest(digest))
    }
    fn rsa_sign_blob(&self, sha256: &str, digest: RsaDigest) -> Result<Vec<u8>, String> {
        host::rsa_sign_blob(sha256, wit_digest(digest))
    }
    fn rsa_public_key(&self) -> String {
        host::rsa_public_key()
    }
    fn rsa_key_name(&self) -> String {
        host::rsa_key_name()
    }
    fn vouch_index(&self, text: &[u8]) -> Result<(), String> {
        host::vouch_index(text)
    }
}

#[cfg(feature = "bindings")]
use crate::reposmith::generator::signer as host;

#[cfg(feature = "bindings")]
fn wit_digest(d: RsaDigest) -> host::RsaDigest {
    match d {
        RsaDigest::Sha1 => host::RsaDigest::Sha1,
        RsaDigest::Sha256 => host::RsaDigest::Sha256,
    }
}
