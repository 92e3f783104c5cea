//! A repo's own keys (the contract's `Keyring`): made here, stored sealed in the repo's
//! keyring blob, and opened into a [`RepoSigner`] when a publish signs. The sealing key is
//! derived from the server's own secret key, which only writing targets hold: the stores
//! alone (Lambda's read function, a leaked table) never give a repo's secret key away.
use crate::{Blobs, PgpKey, RepoSigner, RsaKey};
use anyhow::Context;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use reposmith_contract::{Keyring, RepoKey, RepoRsaKey, Signer};
use sha2::Digest as _;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Opened signers kept: a publish opens its repo's keys once, not per signature.
const OPENED: usize = 256;

pub struct SealedKeyring<B> {
    cipher: ChaCha20Poly1305,
    blobs: Arc<B>,
    opened: Mutex<HashMap<String, Arc<RepoSigner<Arc<B>>>>>,
}

impl<B: Blobs + 'static> SealedKeyring<B> {
    /// The keyring sealed under `server` (the server's own signing key).
    pub fn new(server: &PgpKey, blobs: Arc<B>) -> anyhow::Result<Self> {
        let mut h = sha2::Sha256::new();
        h.update(b"reposmith repo keys v1\0");
        h.update(server.secret_bytes()?);
        Ok(SealedKeyring {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&h.finalize())),
            blobs,
            opened: Mutex::new(HashMap::new()),
        })
    }

    fn seal(&self, secret: &str) -> anyhow::Result<String> {
        let nonce: [u8; 12] = rand::random();
        let mut out = nonce.to_vec();
        out.extend(
            self.cipher
                .encrypt(Nonce::from_slice(&nonce), secret.as_bytes())
                .map_err(|_| anyhow::anyhow!("sealing a key"))?,
        );
        Ok(hex::encode(out))
    }

    fn open(&self, sealed: &str) -> anyhow::Result<String> {
        let raw = hex::decode(sealed).context("a sealed key is not hex")?;
        anyhow::ensure!(raw.len() > 12, "a sealed key is too short");
        let (nonce, body) = raw.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| anyhow::anyhow!("a repo key does not open with this server's key"))?;
        Ok(String::from_utf8(plain)?)
    }

    fn stored(&self, key: &PgpKey, imported: bool) -> anyhow::Result<RepoKey> {
        Ok(RepoKey {
            fingerprint: key.fingerprint(),
            public: base64::engine::general_purpose::STANDARD.encode(key.public_key_bytes()?),
            sealed: self.seal(&key.to_armored_secret()?)?,
            created: key.created(),
            expires: key.expires(),
            imported,
        })
    }

    fn open_signer(
        &self,
        current: &RepoKey,
        overlap: &[RepoKey],
        rsa: &RepoRsaKey,
    ) -> anyhow::Result<RepoSigner<Arc<B>>> {
        let pgp = |k: &RepoKey| PgpKey::from_armored_secret(&self.open(&k.sealed)?);
        let more = overlap
            .iter()
            .map(pgp)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let rsa = RsaKey::from_pem(&self.open(&rsa.sealed)?)?;
        Ok(RepoSigner::new(pgp(current)?, rsa, self.blobs.clone())?.with_overlap(more))
    }
}

fn text(e: anyhow::Error) -> String {
    format!("{e:#}")
}

impl<B: Blobs + 'static> Keyring for SealedKeyring<B> {
    fn generate(&self, repo: &str, lifetime: Option<u64>) -> Result<RepoKey, String> {
        let uid = format!("reposmith repo {repo} <reposmith@localhost>");
        PgpKey::generate_ed25519(&uid, lifetime)
            .and_then(|k| self.stored(&k, false))
            .map_err(text)
    }

    fn generate_rsa(&self, _repo: &str) -> Result<RepoRsaKey, String> {
        (|| {
            let key = RsaKey::generate(2048)?;
            Ok(RepoRsaKey {
                name: key.name(),
                public_pem: key.public_pem()?,
                sealed: self.seal(&key.to_pem()?)?,
            })
        })()
        .map_err(text)
    }

    fn import(&self, armored: &str) -> Result<RepoKey, String> {
        PgpKey::from_armored_secret(armored)
            .and_then(|k| self.stored(&k, true))
            .map_err(text)
    }

    fn signer(
        &self,
        current: &RepoKey,
        overlap: &[RepoKey],
        rsa: &RepoRsaKey,
    ) -> Result<Arc<dyn Signer>, String> {
        let id = std::iter::once(current)
            .chain(overlap)
            .map(|k| k.fingerprint.as_str())
            .chain([rsa.name.as_str()])
            .collect::<Vec<_>>()
            .join(" ");
        if let Some(s) = self
            .opened
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
        {
            return Ok(s.clone());
        }
        let signer = Arc::new(self.open_signer(current, overlap, rsa).map_err(text)?);
        let mut opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        if opened.len() >= OPENED {
            opened.clear();
        }
        opened.insert(id, signer.clone());
        Ok(signer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoBlobs;
    impl Blobs for NoBlobs {
        fn open(&self, sha256: &str) -> Result<Box<dyn std::io::Read + '_>, String> {
            Err(format!("no blob {sha256}"))
        }
    }

    fn keyring() -> SealedKeyring<NoBlobs> {
        let server = PgpKey::generate_ed25519("server", None).unwrap();
        SealedKeyring::new(&server, Arc::new(NoBlobs)).unwrap()
    }

    #[test]
    fn keys_are_sealed_and_open_only_with_the_same_server_key() {
        let ring = keyring();
        let k = ring.generate("a", Some(3600)).unwrap();
        assert!(!k.sealed.contains("PRIVATE"), "the secret is stored sealed");
        assert_eq!(k.expires, Some(k.created + 3600));
        let rsa = ring.generate_rsa("a").unwrap();
        let s = ring.signer(&k, &[], &rsa).unwrap();
        assert!(s
            .clearsign("Origin: a\n")
            .unwrap()
            .contains("BEGIN PGP SIGNATURE"));
        // Another server's keyring cannot open them.
        let other = keyring();
        assert!(other.signer(&k, &[], &rsa).is_err());
        // Two repos, two keys.
        assert_ne!(ring.generate("b", None).unwrap().fingerprint, k.fingerprint);
    }
}
