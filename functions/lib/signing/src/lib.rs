//! Pure-Rust OpenPGP signing of repository metadata.
//!
//! One [`PgpKey`] produces every signature format the repository formats need:
//!
//! * apt `InRelease` — [`PgpKey::clearsign`] (cleartext signature framework);
//! * apt `Release.gpg`, dnf `repomd.xml.asc` — [`PgpKey::detached`] with `armor = true`;
//! * pacman `*.sig` — [`PgpKey::detached`] / [`PgpKey::detached_reader`] with `armor = false`.
//!
//! Keys are v4 RSA-3072 with SHA-256 signatures: v6 / Ed25519 (RFC 9580) keys are rejected by
//! the gpgv of Debian 12 and other still-supported distributions, so RSA is the portable choice.
//! Built on rPGP without default features, so it also compiles for `wasm32-wasip2`.
//!
//! [`RepoSigner`] is the contract's `signer` over these keys, shared by every target.

mod keyring;
mod repo_signer;
mod rsa_key;
pub use keyring::SealedKeyring;
pub use repo_signer::{Blobs, RepoSigner};
pub use rsa_key::{RsaDigest, RsaKey};

use std::io::Read;

use anyhow::{bail, Context};
use pgp::{
    composed::{
        ArmorOptions, CleartextSignedMessage, Deserializable, DetachedSignature, KeyType,
        SecretKeyParamsBuilder, SignedSecretKey,
    },
    crypto::hash::HashAlgorithm,
    packet::{PacketTrait, SignatureConfig, SignatureType, Subpacket, SubpacketData},
    ser::Serialize,
    types::{Duration, KeyDetails, Password, Timestamp},
};

/// Hash used for every data signature (the RSA key's default for cleartext ones is SHA-256 too).
const HASH: HashAlgorithm = HashAlgorithm::Sha256;

/// An OpenPGP signing key: a transferable secret key whose primary key signs.
///
/// The secret material is never passphrase-protected: the server must sign unattended, and the
/// key is protected by where it is stored instead.
#[derive(Clone)]
pub struct PgpKey {
    key: SignedSecretKey,
}

impl std::fmt::Debug for PgpKey {
    // Never print secret material, even in debug logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgpKey")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl PgpKey {
    /// New RSA-3072 signing key (no passphrase) with this user id.
    ///
    /// Slow: RSA prime generation takes from a fraction of a second up to several seconds in a
    /// release build (much longer in an unoptimized one).
    pub fn generate(user_id: &str) -> anyhow::Result<Self> {
        Self::make(KeyType::Rsa(3072), user_id)
    }

    /// New v4 Ed25519 signing key (instant to make, unlike RSA) that expires `lifetime`
    /// seconds after now (None: never). gpgv (GnuPG 2.2+), apt, dnf, zypper and pacman take
    /// v4 EdDSA keys; a repo's own keys are these, the server's default key stays RSA.
    pub fn generate_ed25519(user_id: &str, lifetime: Option<u64>) -> anyhow::Result<Self> {
        let mut key = Self::make(KeyType::Ed25519Legacy, user_id)?;
        if let Some(secs) = lifetime {
            key.expire_after(secs)?;
        }
        Ok(key)
    }

    fn make(key_type: KeyType, user_id: &str) -> anyhow::Result<Self> {
        let what = format!("generating a {key_type:?} OpenPGP key");
        let params = SecretKeyParamsBuilder::default()
            .key_type(key_type)
            // The primary key itself signs, so no subkeys are needed.
            .can_certify(true)
            .can_sign(true)
            .primary_user_id(user_id.to_string())
            .preferred_hash_algorithms(
                [HashAlgorithm::Sha256, HashAlgorithm::Sha512]
                    .into_iter()
                    .collect(),
            )
            .build()
            .context("building OpenPGP key parameters")?;
        let key = params.generate(rand::thread_rng()).context(what)?;
        Ok(Self { key })
    }

    /// Makes the key expire `secs` after its creation: the primary user id's self-signature
    /// is made again with a key expiration time, which clients honor.
    fn expire_after(&mut self, secs: u64) -> anyhow::Result<()> {
        let secs = u32::try_from(secs).context("a key lifetime must be under 136 years")?;
        let primary = &self.key.primary_key;
        let public = primary.public_key();
        for user in &mut self.key.details.users {
            let Some(old) = user.signatures.first().and_then(|s| s.config()).cloned() else {
                continue;
            };
            let mut config = SignatureConfig::from_key(
                rand::thread_rng(),
                primary,
                SignatureType::CertPositive,
            )?;
            config.hashed_subpackets = old
                .hashed_subpackets
                .iter()
                .filter(|p| {
                    !matches!(
                        p.data,
                        SubpacketData::KeyExpirationTime(_)
                            | SubpacketData::SignatureCreationTime(_)
                    )
                })
                .cloned()
                .collect();
            config.hashed_subpackets.push(Subpacket::regular(
                SubpacketData::SignatureCreationTime(Timestamp::now()),
            )?);
            config
                .hashed_subpackets
                .push(Subpacket::regular(SubpacketData::KeyExpirationTime(
                    Duration::from_secs(secs),
                ))?);
            config.unhashed_subpackets = old.unhashed_subpackets.clone();
            let sig = config.sign_certification(
                primary,
                &public,
                &Password::empty(),
                user.id.tag(),
                &user.id,
            )?;
            user.signatures = vec![sig];
        }
        Ok(())
    }

    /// When the key was made (Unix seconds).
    pub fn created(&self) -> u64 {
        self.key
            .primary_key
            .public_key()
            .created_at()
            .as_secs()
            .into()
    }

    /// When the key expires (Unix seconds), by its self-signatures; None: never.
    pub fn expires(&self) -> Option<u64> {
        self.key
            .details
            .users
            .iter()
            .flat_map(|u| u.signatures.iter())
            .filter_map(|s| s.key_expiration_time())
            .map(|d| self.created() + u64::from(d.as_secs()))
            .max()
    }

    /// The whole secret key, binary: what a sealing key is derived from.
    pub fn secret_bytes(&self) -> anyhow::Result<Vec<u8>> {
        Ok(self.key.to_bytes()?)
    }

    /// Load an ASCII-armored transferable secret key (`gpg --export-secret-keys --armor`).
    ///
    /// The key must not be passphrase-protected and its primary key must be allowed to sign.
    pub fn from_armored_secret(armored: &str) -> anyhow::Result<Self> {
        let (key, _headers) =
            SignedSecretKey::from_string(armored).context("parsing armored OpenPGP secret key")?;
        key.verify_bindings()
            .context("OpenPGP secret key has invalid self-signatures")?;
        if key.primary_key.secret_params().is_encrypted() {
            bail!("OpenPGP secret key is passphrase-protected; export it without a passphrase");
        }
        // Key flags live on the self-signatures. Only refuse when flags are present and lack
        // "sign": keys from before key flags existed carry none and sign fine.
        let self_sigs = key
            .details
            .users
            .iter()
            .flat_map(|u| u.signatures.iter())
            .chain(key.details.direct_signatures.iter());
        let (mut any_flags, mut can_sign) = (false, false);
        for sig in self_sigs {
            let flags = sig.key_flags();
            any_flags |= flags.certify()
                || flags.sign()
                || flags.encrypt_comms()
                || flags.encrypt_storage()
                || flags.authentication();
            can_sign |= flags.sign();
        }
        if any_flags && !can_sign {
            bail!(
                "OpenPGP primary key {} is not signing-capable (signing subkeys are not supported)",
                fingerprint_hex(&key)
            );
        }
        Ok(Self { key })
    }

    /// The transferable secret key, ASCII-armored (importable with `gpg --import`).
    pub fn to_armored_secret(&self) -> anyhow::Result<String> {
        Ok(self.key.to_armored_string(ArmorOptions::default())?)
    }

    /// The transferable public key, ASCII-armored: what clients import to trust the repository.
    pub fn public_key_armored(&self) -> anyhow::Result<String> {
        Ok(self
            .key
            .to_public_key()
            .to_armored_string(ArmorOptions::default())?)
    }

    /// The transferable public key in binary form (equal to `gpg --dearmor` of the armored one),
    /// usable directly as an apt `signed-by` keyring or `gpgv --keyring`.
    pub fn public_key_bytes(&self) -> anyhow::Result<Vec<u8>> {
        Ok(self.key.to_public_key().to_bytes()?)
    }

    /// The primary key's fingerprint, upper-case hex without spaces.
    pub fn fingerprint(&self) -> String {
        fingerprint_hex(&self.key)
    }

    /// Cleartext-signed text (InRelease). Lines' trailing whitespace trimmed first; the output's
    /// signed text is exactly the trimmed input.
    ///
    /// Line endings are normalized to LF. Trimming is needed because GnuPG and apt strip
    /// trailing spaces/tabs before hashing while rPGP hashes them, which would give BADSIG.
    pub fn clearsign(&self, text: &str) -> anyhow::Result<String> {
        let text = normalize_cleartext(text);
        let msg =
            CleartextSignedMessage::sign(rand::thread_rng(), &text, &*self.key, &Password::empty())
                .context("creating cleartext signature")?;
        Ok(msg.to_armored_string(ArmorOptions::default())?)
    }

    /// Cleartext-signed text with one signature per key (`keys` first, then `more`): during a
    /// key rotation InRelease carries the old and the new key's signatures.
    pub fn clearsign_many(&self, more: &[PgpKey], text: &str) -> anyhow::Result<String> {
        if more.is_empty() {
            return self.clearsign(text);
        }
        let text = normalize_cleartext(text);
        let msg = CleartextSignedMessage::new_many(&text, |normalized| {
            std::iter::once(self)
                .chain(more)
                .map(|k| {
                    let key = &*k.key;
                    let mut config =
                        SignatureConfig::from_key(rand::thread_rng(), key, SignatureType::Text)?;
                    config.hashed_subpackets = vec![
                        Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::now()))?,
                        Subpacket::regular(SubpacketData::IssuerFingerprint(key.fingerprint()))?,
                    ];
                    config.unhashed_subpackets = vec![Subpacket::regular(
                        SubpacketData::IssuerKeyId(key.legacy_key_id()),
                    )?];
                    config.sign(key, &Password::empty(), normalized.as_bytes())
                })
                .collect()
        })
        .context("creating cleartext signatures")?;
        Ok(msg.to_armored_string(ArmorOptions::default())?)
    }

    /// Detached signature over exact bytes (binary mode), armored or binary.
    pub fn detached(&self, data: &[u8], armor: bool) -> anyhow::Result<Vec<u8>> {
        self.detached_reader(data, armor)
    }

    /// Same, streaming from a reader (large packages are never held in memory whole).
    pub fn detached_reader(&self, data: impl Read, armor: bool) -> anyhow::Result<Vec<u8>> {
        // Binary mode: the exact bytes are hashed, no line-ending canonicalization.
        let sig = DetachedSignature::sign_binary_data(
            rand::thread_rng(),
            &*self.key,
            &Password::empty(),
            HASH,
            data,
        )
        .context("creating detached signature")?;
        Ok(if armor {
            sig.to_armored_bytes(ArmorOptions::default())?
        } else {
            sig.to_bytes()?
        })
    }
}

fn fingerprint_hex(key: &SignedSecretKey) -> String {
    key.fingerprint()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// Make `text` hash the same under rPGP and GnuPG: every line break (CRLF, lone CR) becomes LF
/// and trailing spaces/tabs are removed from every line. rPGP treats a lone CR as a line break
/// while GnuPG does not, so it is turned into LF to keep both readings identical.
fn normalize_cleartext(text: &str) -> String {
    let unified = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(unified.len());
    for line in unified.split_inclusive('\n') {
        let (body, eol) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        out.push_str(body.trim_end_matches([' ', '\t']));
        out.push_str(eol);
    }
    out
}

// `PgpKey` is shared across threads behind an `Arc`.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PgpKey>();
};

#[cfg(test)]
mod tests {
    use super::normalize_cleartext;

    #[test]
    fn normalization_trims_and_unifies_line_ends() {
        assert_eq!(normalize_cleartext("a  \r\nb\t\n c \n"), "a\nb\n c\n");
        assert_eq!(normalize_cleartext("x\ry \t"), "x\ny");
        assert_eq!(normalize_cleartext("\n\n"), "\n\n");
        assert_eq!(normalize_cleartext(""), "");
    }
}
