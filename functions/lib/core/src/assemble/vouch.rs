//! The signer a generator's `finish` gets: it signs only what the host can vouch for, so a
//! generator (a plugin anyone with the admin token can install) cannot get the repo key's
//! signature over text of its choosing. Accepted, against the files the host assembled for
//! this generator in this generation:
//! - a stored blob by sha256 (`detached-package`, `rsa-sign-blob`): an assembled file;
//! - bytes (`detached`, `rsa-sign`): exactly an assembled file's bytes;
//! - `rsa-sign` of 64 hex characters: an assembled file's sha256 (FreeBSD pkg signs the hex);
//! - text (`clearsign`, `detached`): at most [`MAX_TEXT`] bytes, naming at least one assembled
//!   file by digest, and every run of 32 or more hex digits in it is the md5, sha1, sha256 or
//!   sha512 of an assembled file (Release, repomd.xml): a signed index can list nothing the
//!   host did not make;
//! - an index (`vouch_index`: apt's `Packages.diff/Index`) under the text rule, where the
//!   earlier versions that patches apply to count as known too: its digests join the known
//!   ones, so the Release that lists it can be signed.
//!
//! Anything else is refused, and a refusal fails that generator's publish even if the
//! generator swallows the error (`refusals`): it is a fault like a trap.
use super::held::{concat, Held};
use crate::generator::Signer;
use sha2::Digest as _;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Signed text is an index of indexes (Release, repomd.xml): small.
pub const MAX_TEXT: usize = 1 << 20;

pub struct Vouching {
    inner: Arc<dyn Signer>,
    /// Assembled files whose bytes are at hand, by sha256 (signed from memory): those stored
    /// only as pieces, and those of one piece the render staged and has not stored yet.
    wholes: HashMap<String, Vec<Held>>,
    /// sha256 of every assembled file's stored bytes.
    blobs: HashSet<String>,
    /// Every digest of every assembled file (md5, sha1, sha256, sha512, open sha256), lower case,
    /// and of every index vouched for (it grows during `finish`).
    digests: Mutex<HashSet<String>>,
    /// The earlier versions patches apply to: an index may name them.
    origins: HashSet<String>,
    refused: Mutex<Vec<String>>,
}

impl Vouching {
    pub fn new(
        inner: Arc<dyn Signer>,
        wholes: HashMap<String, Vec<Held>>,
        assembled: &[crate::generator::Assembled],
    ) -> Self {
        let blobs = assembled
            .iter()
            .map(|a| a.sha256.to_ascii_lowercase())
            .collect();
        let digests = assembled
            .iter()
            .flat_map(|a| [&a.md5, &a.sha1, &a.sha256, &a.sha512, &a.open_sha256])
            .map(|d| d.to_ascii_lowercase())
            .collect();
        let origins = assembled
            .iter()
            .filter_map(|a| a.patch.as_ref())
            .map(|p| p.from_sha256.to_ascii_lowercase())
            .collect();
        Vouching {
            inner,
            wholes,
            blobs,
            digests: Mutex::new(digests),
            origins,
            refused: Mutex::new(Vec::new()),
        }
    }

    /// What was refused in this call (empty: every request was vouched for).
    pub fn refusals(&self) -> Vec<String> {
        self.refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn refuse(&self, what: &str) -> String {
        let why = format!("refused to sign {what}: the host did not assemble it in this publish");
        self.refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(why.clone());
        why
    }

    fn whole(&self, sha256: &str) -> Option<Vec<u8>> {
        self.wholes.get(sha256).map(|ps| concat(ps))
    }

    fn is_blob(&self, sha256: &str) -> bool {
        self.blobs.contains(&sha256.to_ascii_lowercase())
    }

    fn is_assembled_bytes(&self, data: &[u8]) -> bool {
        self.blobs
            .contains(&hex::encode(sha2::Sha256::digest(data)))
    }

    fn is_digest(&self, d: &str) -> bool {
        self.digests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(d)
    }

    /// An index of assembled files: small, and every digest in it is a real one (with
    /// `origins`, also an earlier version a patch applies to).
    fn names_only_known(&self, text: &[u8], origins: bool) -> bool {
        if text.len() > MAX_TEXT {
            return false;
        }
        let mut named = 0;
        for run in text.split(|b| !b.is_ascii_hexdigit()) {
            if run.len() < 32 {
                continue;
            }
            let run = String::from_utf8_lossy(run).to_ascii_lowercase();
            let known = self.is_digest(&run) || (origins && self.origins.contains(&run));
            if !known {
                return false;
            }
            named += 1;
        }
        named > 0
    }

    fn is_vouched_text(&self, text: &[u8]) -> bool {
        self.names_only_known(text, false)
    }
}

impl Signer for Vouching {
    fn clearsign(&self, text: &str) -> Result<String, String> {
        if !self.is_vouched_text(text.as_bytes()) {
            return Err(self.refuse("text that lists no assembled file by its digest"));
        }
        self.inner.clearsign(text)
    }
    fn detached(&self, data: &[u8], armor: bool) -> Result<Vec<u8>, String> {
        if !self.is_assembled_bytes(data) && !self.is_vouched_text(data) {
            return Err(self.refuse("bytes that are neither an assembled file nor its index"));
        }
        self.inner.detached(data, armor)
    }
    fn detached_package(&self, sha256: &str) -> Result<Vec<u8>, String> {
        if !self.is_blob(sha256) {
            return Err(self.refuse(&format!("blob {sha256}")));
        }
        match self.whole(sha256) {
            Some(data) => self.inner.detached(&data, false),
            None => self.inner.detached_package(sha256),
        }
    }
    fn public_key(&self) -> String {
        self.inner.public_key()
    }
    fn rsa_sign(&self, data: &[u8], sha1: bool) -> Result<Vec<u8>, String> {
        let a_sha256 =
            data.len() == 64 && self.is_digest(&String::from_utf8_lossy(data).to_ascii_lowercase());
        if !a_sha256 && !self.is_assembled_bytes(data) {
            return Err(self.refuse("bytes that are neither an assembled file nor its sha256"));
        }
        self.inner.rsa_sign(data, sha1)
    }
    fn rsa_public_key(&self) -> String {
        self.inner.rsa_public_key()
    }
    fn rsa_key_name(&self) -> String {
        self.inner.rsa_key_name()
    }
    fn rsa_sign_blob(&self, sha256: &str, sha1: bool) -> Result<Vec<u8>, String> {
        if !self.is_blob(sha256) {
            return Err(self.refuse(&format!("blob {sha256}")));
        }
        match self.whole(sha256) {
            Some(data) => self.inner.rsa_sign(&data, sha1),
            None => self.inner.rsa_sign_blob(sha256, sha1),
        }
    }
    fn vouch_index(&self, text: &[u8]) -> Result<(), String> {
        if !self.names_only_known(text, true) {
            return Err(self.refuse("an index that names files the host did not make"));
        }
        let digests = crate::digest::digests(text);
        self.digests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend([digests.md5, digests.sha1, digests.sha256, digests.sha512]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{Assembled, Encoding};

    struct Echo;
    impl Signer for Echo {
        fn clearsign(&self, text: &str) -> Result<String, String> {
            Ok(format!("SIGNED {text}"))
        }
        fn detached(&self, _: &[u8], _: bool) -> Result<Vec<u8>, String> {
            Ok(b"sig".to_vec())
        }
        fn detached_package(&self, _: &str) -> Result<Vec<u8>, String> {
            Ok(b"sig".to_vec())
        }
        fn public_key(&self) -> String {
            String::new()
        }
        fn rsa_sign(&self, _: &[u8], _: bool) -> Result<Vec<u8>, String> {
            Ok(b"rsa".to_vec())
        }
        fn rsa_public_key(&self) -> String {
            String::new()
        }
        fn rsa_key_name(&self) -> String {
            String::new()
        }
        fn rsa_sign_blob(&self, _: &str, _: bool) -> Result<Vec<u8>, String> {
            Ok(b"rsa".to_vec())
        }
    }

    fn hexd<D: sha2::Digest>(b: &[u8]) -> String {
        hex::encode(D::digest(b))
    }

    fn signer() -> (Vouching, Assembled) {
        let bytes = b"Package: hello\n";
        let a = Assembled {
            path: "dists/stable/main/binary-amd64/Packages".into(),
            encoding: Encoding::Identity,
            size: bytes.len() as u64,
            md5: hexd::<md5::Md5>(bytes),
            sha1: hexd::<sha1::Sha1>(bytes),
            sha256: hexd::<sha2::Sha256>(bytes),
            sha512: hexd::<sha2::Sha512>(bytes),
            open_size: bytes.len() as u64,
            open_sha256: hexd::<sha2::Sha256>(bytes),
            patch: None,
        };
        let v = Vouching::new(Arc::new(Echo), HashMap::new(), std::slice::from_ref(&a));
        (v, a)
    }

    #[test]
    fn signs_only_what_the_host_assembled() {
        let (v, a) = signer();
        let release = format!(
            "Origin: r\nMD5Sum:\n {} 15 main/binary-amd64/Packages\nSHA256:\n {} 15 main/binary-amd64/Packages\n",
            a.md5, a.sha256
        );
        assert!(v.clearsign(&release).is_ok());
        assert!(v.detached(release.as_bytes(), true).is_ok());
        assert!(v.detached(b"Package: hello\n", false).is_ok());
        assert!(v.detached_package(&a.sha256).is_ok());
        assert!(v.rsa_sign_blob(&a.sha256, false).is_ok());
        assert!(v.rsa_sign(a.sha256.as_bytes(), false).is_ok());
        assert!(v.refusals().is_empty());

        // Free text, a forged digest next to a real one, a blob the host did not assemble,
        // arbitrary bytes for RSA, oversized text.
        let forged = format!("{release} {} 15 evil/Packages\n", "ab".repeat(32));
        let other = "cd".repeat(32);
        let big = format!("{release}{}", "x".repeat(MAX_TEXT));
        assert!(v.clearsign("Hello, I am the repo owner").is_err());
        assert!(v.clearsign(&forged).is_err());
        assert!(v.detached(b"anything", true).is_err());
        assert!(v.detached(forged.as_bytes(), true).is_err());
        assert!(v.detached_package(&other).is_err());
        assert!(v.rsa_sign_blob(&other, true).is_err());
        assert!(v.rsa_sign(b"anything", false).is_err());
        assert!(v.rsa_sign(other.as_bytes(), false).is_err());
        assert!(v.clearsign(&big).is_err());
        assert_eq!(v.refusals().len(), 9);
    }

    #[test]
    fn an_index_of_assembled_files_can_be_listed_once_vouched_for() {
        let (v, a) = signer();
        let index = format!("SHA256-Current: {} 15\n", a.sha256);
        let release = |i: &str| {
            format!(
                "SHA256:\n {} 15 Packages\n {} 9 Packages.diff/Index\n",
                a.sha256,
                hexd::<sha2::Sha256>(i.as_bytes())
            )
        };
        assert!(
            v.clearsign(&release(&index)).is_err(),
            "not yet vouched for"
        );
        assert!(v.vouch_index(index.as_bytes()).is_ok());
        assert!(v.clearsign(&release(&index)).is_ok());
        // An index naming a file the host did not make is refused.
        assert!(v
            .vouch_index(format!("{} x", "ab".repeat(32)).as_bytes())
            .is_err());
        assert_eq!(v.refusals().len(), 2);
    }
}
