//! The repository's RSA key, for formats that sign with plain RSA (PKCS#1 v1.5): Alpine's
//! APKINDEX (`.SIGN.RSA.<name>.rsa.pub`, SHA-1 or SHA-256) and FreeBSD pkg's
//! `signature_type: pubkey`. Verifiable with `openssl dgst -sha256 -verify pub.pem`.
//! Note RUSTSEC-2023-0071 (timing side channel in `rsa` 0.9): this key signs only what the
//! host publishes, never attacker-chosen data on request.
use anyhow::Context;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha2::Digest as _;

/// Which digest the signature covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsaDigest {
    Sha1,
    Sha256,
}

#[derive(Clone)]
pub struct RsaKey {
    key: RsaPrivateKey,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaKey({})", self.name())
    }
}

impl RsaKey {
    /// A new key (3072 bits unless told otherwise).
    pub fn generate(bits: usize) -> anyhow::Result<Self> {
        let key =
            RsaPrivateKey::new(&mut rand::thread_rng(), bits).context("RSA key generation")?;
        Ok(RsaKey { key })
    }

    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        Ok(RsaKey {
            key: RsaPrivateKey::from_pkcs8_pem(pem).context("reading an RSA PKCS#8 PEM key")?,
        })
    }

    pub fn to_pem(&self) -> anyhow::Result<String> {
        Ok(self.key.to_pkcs8_pem(LineEnding::LF)?.to_string())
    }

    /// SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`), as apk and pkg read it.
    pub fn public_pem(&self) -> anyhow::Result<String> {
        Ok(self.key.to_public_key().to_public_key_pem(LineEnding::LF)?)
    }

    /// A stable short name for the key (the first 8 bytes of the SHA-256 of its public DER,
    /// hex): apk names its key files after it.
    pub fn name(&self) -> String {
        let der = self
            .key
            .to_public_key()
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default();
        hex8(&sha2::Sha256::digest(der))
    }

    /// PKCS#1 v1.5 signature of `data` hashed with `digest`.
    pub fn sign(&self, data: &[u8], digest: RsaDigest) -> anyhow::Result<Vec<u8>> {
        let sig = match digest {
            RsaDigest::Sha1 => self
                .key
                .sign(Pkcs1v15Sign::new::<sha1::Sha1>(), &sha1::Sha1::digest(data)),
            RsaDigest::Sha256 => self.key.sign(
                Pkcs1v15Sign::new::<sha2::Sha256>(),
                &sha2::Sha256::digest(data),
            ),
        };
        sig.context("RSA signing")
    }
}

fn hex8(d: &[u8]) -> String {
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_with_openssl() {
        let key = RsaKey::generate(2048).unwrap();
        let again = RsaKey::from_pem(&key.to_pem().unwrap()).unwrap();
        assert_eq!(again.name(), key.name());
        if std::process::Command::new("openssl")
            .arg("version")
            .output()
            .is_err()
        {
            eprintln!("openssl missing: skipping the openssl check");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let pubf = dir.path().join("pub.pem");
        std::fs::write(&pubf, key.public_pem().unwrap()).unwrap();
        let data = b"APKINDEX or packagesite contents\n".repeat(100);
        let dataf = dir.path().join("data");
        std::fs::write(&dataf, &data).unwrap();
        for (digest, flag) in [(RsaDigest::Sha1, "-sha1"), (RsaDigest::Sha256, "-sha256")] {
            let sigf = dir.path().join("sig");
            std::fs::write(&sigf, again.sign(&data, digest).unwrap()).unwrap();
            let verify = |f: &std::path::Path| {
                std::process::Command::new("openssl")
                    .args(["dgst", flag, "-verify"])
                    .arg(&pubf)
                    .arg("-signature")
                    .arg(&sigf)
                    .arg(f)
                    .output()
                    .unwrap()
                    .status
                    .success()
            };
            assert!(verify(&dataf), "{flag} signature must verify");
            let other = dir.path().join("other");
            std::fs::write(&other, b"tampered").unwrap();
            assert!(
                !verify(&other),
                "{flag} signature must not verify other data"
            );
        }
    }
}
