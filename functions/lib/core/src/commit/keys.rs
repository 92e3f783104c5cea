//! A repo's own signing keys. Each repo gets its own OpenPGP key (and RSA key, for apk and
//! FreeBSD pkg) when it is created, so two repos never share a key. The keys live sealed in
//! a keyring blob that the repo head names (`Head::keys`): changing them is a commit like an
//! upload, and the publish it triggers re-signs every format.
//!
//! Rotation (`rotate`) makes a new key (or takes an imported one) the signing key; the one it
//! replaces stays in the keyring `overlap` seconds more: both are in `key.asc` and both sign
//! InRelease, so an apt client that knows only the old key goes on working until it fetches
//! the new one. `retire` ends an overlap early. A repo made before keys were per repo has no
//! keyring and is signed by the server's key until its first rotation.
use super::serve::{keyring_of, remember_keyring};
use super::{
    ensure_published, load_config, load_head, put_blob, to_json, update_head, Change, Kind,
};
use crate::app::App;
use crate::assemble::Signing;
use crate::error::{ApiError, ApiResult};
use crate::generator::{Keyring, RepoKey, RepoRsaKey};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Two years: long enough to forget, short enough that a lost key dies.
pub const DEFAULT_KEY_LIFETIME: u64 = 2 * 365 * 24 * 3600;
/// How long a replaced key keeps signing by default.
pub const DEFAULT_OVERLAP: u64 = 30 * 24 * 3600;

/// A repo's keyring blob: the signing key first, then keys being rotated out.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RepoKeys {
    pub pgp: Vec<HeldKey>,
    pub rsa: RepoRsaKey,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct HeldKey {
    #[serde(flatten)]
    pub key: RepoKey,
    /// A replaced key: published and clearsigning until then (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
}

impl RepoKeys {
    /// The keys still in use at `now`: the signing key first.
    fn live(&self, now: u64) -> Vec<&RepoKey> {
        self.pgp
            .iter()
            .filter(|k| k.until.is_none_or(|u| u > now))
            .map(|k| &k.key)
            .collect()
    }
}

/// How a key is listed (`GET /repos/{repo}/keys`): never its secret.
#[derive(Serialize)]
pub struct KeyInfo {
    pub fingerprint: String,
    /// `signing`, `overlap` (replaced, still signing until `until`) or `server` (the
    /// server's key, for a repo without its own).
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub imported: bool,
}

#[derive(Serialize)]
pub struct KeyList {
    pub repo: String,
    pub keys: Vec<KeyInfo>,
}

/// What `POST /repos/{repo}/keys` takes (each optional).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// An unprotected armored secret key to sign with from now (else one is made).
    #[serde(default)]
    pub key: Option<String>,
    /// Seconds the replaced key keeps signing (default 30 days; 0: it goes at once).
    #[serde(default)]
    pub overlap: Option<u64>,
    /// Seconds until a made key expires (default: the server's key lifetime).
    #[serde(default)]
    pub lifetime: Option<u64>,
}

fn keyring(app: &App) -> ApiResult<&Arc<dyn Keyring>> {
    app.keyring.as_ref().ok_or_else(|| {
        ApiError::new(
            http::StatusCode::NOT_IMPLEMENTED,
            "not supported",
            "this server holds no keyring: it cannot make or open repo keys",
        )
    })
}

/// A new repo's keyring blob (its sha256), or None where this target makes no keys.
pub(super) async fn make_keyring(app: &App, repo: &str) -> ApiResult<Option<String>> {
    let Some(ring) = app.keyring.clone() else {
        return Ok(None);
    };
    let (name, lifetime) = (repo.to_string(), app.key_lifetime);
    let keys = app
        .blocking(move || -> ApiResult<RepoKeys> {
            let made = |e: String| ApiError::internal(format!("making the repo's keys: {e}"));
            Ok(RepoKeys {
                pgp: vec![HeldKey {
                    key: ring.generate(&name, lifetime).map_err(made)?,
                    until: None,
                }],
                rsa: ring.generate_rsa(&name).map_err(made)?,
            })
        })
        .await?;
    store(app, keys).await.map(Some)
}

async fn store(app: &App, keys: RepoKeys) -> ApiResult<String> {
    let d = put_blob(app, to_json(&keys)?.into()).await?;
    remember_keyring(app, &d, keys);
    Ok(d.sha256)
}

/// The signer of a publish of the head whose keyring is `keys`.
pub(crate) async fn signer_for(app: &App, keys: Option<&str>) -> ApiResult<Signing> {
    let Some(sha) = keys else {
        return Ok(Signing {
            signer: app.signer.clone(),
            id: "server".into(),
        });
    };
    let keys = keyring_of(app, sha).await?;
    let live = keys.live(app.now());
    let (current, overlap) = live
        .split_first()
        .ok_or_else(|| ApiError::internal("a repo keyring without a signing key"))?;
    let overlap: Vec<RepoKey> = overlap.iter().map(|k| (*k).clone()).collect();
    let signer = keyring(app)?
        .signer(current, &overlap, &keys.rsa)
        .map_err(|e| ApiError::internal(format!("opening the repo's keys: {e}")))?;
    let id = live
        .iter()
        .map(|k| k.fingerprint.as_str())
        .collect::<Vec<_>>();
    Ok(Signing {
        signer,
        id: format!("{} {}", id.join(" "), keys.rsa.name),
    })
}

/// The armored public keys that sign the repo now, in one block (`key.asc`): during an
/// overlap, the old and the new key.
pub async fn public_key(app: &App, repo: &str) -> ApiResult<String> {
    load_config(app, repo).await?;
    let (head, _) = load_head(app, repo).await?;
    let Some(sha) = &head.keys else {
        return Ok(app.signer.public_key());
    };
    let keys = keyring_of(app, sha).await?;
    let mut binary = Vec::new();
    for k in keys.live(app.now()) {
        binary.extend(
            base64::engine::general_purpose::STANDARD
                .decode(&k.public)
                .map_err(|e| ApiError::internal(format!("corrupt repo key: {e}")))?,
        );
    }
    Ok(armor_public(&binary))
}

/// What clients are told of a repo's keys (`client`): the armored OpenPGP key block, the
/// signing key's fingerprint (empty for a repo signed by the server's key), the RSA key's
/// name and PEM.
pub struct ClientKeys {
    pub armored: String,
    pub fingerprint: String,
    pub rsa_name: String,
    pub rsa_pem: String,
}

pub async fn client_keys(app: &App, repo: &str) -> ApiResult<ClientKeys> {
    let armored = public_key(app, repo).await?;
    let (head, _) = load_head(app, repo).await?;
    Ok(match &head.keys {
        None => ClientKeys {
            armored,
            fingerprint: String::new(),
            rsa_name: app.signer.rsa_key_name(),
            rsa_pem: app.signer.rsa_public_key(),
        },
        Some(sha) => {
            let keys = keyring_of(app, sha).await?;
            ClientKeys {
                armored,
                fingerprint: keys
                    .live(app.now())
                    .first()
                    .map(|k| k.fingerprint.clone())
                    .unwrap_or_default(),
                rsa_name: keys.rsa.name.clone(),
                rsa_pem: keys.rsa.public_pem.clone(),
            }
        }
    })
}

/// `-----BEGIN PGP PUBLIC KEY BLOCK-----` around `binary` (RFC 4880 §6: base64 in 64-column
/// lines, then the CRC-24 checksum).
fn armor_public(binary: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut crc: u32 = 0xB704CE;
    for &b in binary {
        crc ^= u32::from(b) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x1000000 != 0 {
                crc ^= 0x1864CFB;
            }
        }
    }
    let body = b64.encode(binary);
    let mut out = String::from("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    let sum = (crc & 0xFFFFFF).to_be_bytes();
    out.push('=');
    out.push_str(&b64.encode(&sum[1..]));
    out.push_str("\n-----END PGP PUBLIC KEY BLOCK-----\n");
    out
}

/// The repo's keys, newest first (`GET /repos/{repo}/keys`).
pub async fn list_keys(app: &App, repo: &str) -> ApiResult<KeyList> {
    load_config(app, repo).await?;
    let (head, _) = load_head(app, repo).await?;
    let keys = match &head.keys {
        None => vec![KeyInfo {
            fingerprint: String::new(),
            state: "server",
            created: None,
            expires: None,
            until: None,
            imported: false,
        }],
        Some(sha) => {
            let now = app.now();
            keyring_of(app, sha)
                .await?
                .pgp
                .iter()
                .filter(|k| k.until.is_none_or(|u| u > now))
                .map(|k| KeyInfo {
                    fingerprint: k.key.fingerprint.clone(),
                    state: if k.until.is_some() {
                        "overlap"
                    } else {
                        "signing"
                    },
                    created: Some(k.key.created),
                    expires: k.key.expires,
                    until: k.until,
                    imported: k.key.imported,
                })
                .collect()
        }
    };
    Ok(KeyList {
        repo: repo.to_string(),
        keys,
    })
}

/// The longest key lifetime OpenPGP can state (seconds, 32 bits).
pub const MAX_LIFETIME: u64 = u32::MAX as u64;

/// Replaces the repo's signing key (made, or `how.key` imported), keeps the old one
/// `how.overlap` seconds, and republishes.
pub async fn rotate(app: &App, repo: &str, how: Rotation) -> ApiResult<KeyList> {
    load_config(app, repo).await?;
    // OpenPGP counts a key's lifetime in 32 bits of seconds: a longer one is the client's
    // mistake, not a failure to make the key.
    if let Some(l) = how.lifetime.filter(|l| *l > MAX_LIFETIME) {
        return Err(ApiError::bad_request(format!(
            "lifetime: {l} seconds is over OpenPGP's {MAX_LIFETIME} (136 years)"
        )));
    }
    let ring = keyring(app)?.clone();
    let (name, lifetime) = (
        repo.to_string(),
        how.lifetime.or(app.key_lifetime).filter(|l| *l > 0),
    );
    let import = how.key;
    let new = app
        .blocking(move || match import {
            Some(armored) => ring
                .import(&armored)
                .map_err(|e| ApiError::bad_request(format!("key: {e}"))),
            None => ring
                .generate(&name, lifetime)
                .map_err(|e| ApiError::internal(format!("making a key: {e}"))),
        })
        .await?;
    let overlap = how.overlap.unwrap_or(DEFAULT_OVERLAP);
    change(app, repo, move |now, keys| {
        if keys
            .pgp
            .iter()
            .any(|k| k.key.fingerprint == new.fingerprint)
        {
            return Err(ApiError::conflict(format!(
                "key {} is already in repo {repo}'s keyring",
                new.fingerprint
            )));
        }
        for k in &mut keys.pgp {
            let end = now.saturating_add(overlap);
            k.until = Some(k.until.unwrap_or(end).min(end));
        }
        keys.pgp.insert(
            0,
            HeldKey {
                key: new.clone(),
                until: None,
            },
        );
        Ok(())
    })
    .await
}

/// Ends the overlap of a replaced key now (`DELETE /repos/{repo}/keys/{fingerprint}`).
pub async fn retire(app: &App, repo: &str, fingerprint: &str) -> ApiResult<KeyList> {
    load_config(app, repo).await?;
    change(app, repo, |_, keys| {
        let pos = keys
            .pgp
            .iter()
            .position(|k| k.key.fingerprint.eq_ignore_ascii_case(fingerprint))
            .ok_or_else(|| {
                ApiError::not_found(format!("no key {fingerprint} in repo {repo}'s keyring"))
            })?;
        if keys.pgp[pos].until.is_none() {
            return Err(ApiError::conflict(format!(
                "key {fingerprint} signs repo {repo}: rotate to another key first"
            )));
        }
        keys.pgp.remove(pos);
        Ok(())
    })
    .await
}

/// One change of the repo's keyring: a head commit (so the publish it makes re-signs), with
/// the keys that expired from overlap dropped.
async fn change(
    app: &App,
    repo: &str,
    edit: impl Fn(u64, &mut RepoKeys) -> ApiResult<()>,
) -> ApiResult<KeyList> {
    for _ in 0..super::CAS_ATTEMPTS {
        let (head, _) = load_head(app, repo).await?;
        let read = head.keys.clone();
        let now = app.now();
        let mut keys = match &read {
            Some(sha) => (*keyring_of(app, sha).await?).clone(),
            None => {
                // The first own keys of a repo the server's key signed: the new key alone.
                let ring = keyring(app)?.clone();
                let name = repo.to_string();
                let rsa = app
                    .blocking(move || ring.generate_rsa(&name).map_err(ApiError::internal))
                    .await?;
                RepoKeys {
                    pgp: Vec::new(),
                    rsa,
                }
            }
        };
        edit(now, &mut keys)?;
        keys.pgp.retain(|k| k.until.is_none_or(|u| u > now));
        let sha = store(app, keys).await?;
        let mut raced = false;
        let seq = update_head(app, repo, Kind::Keys, |h| {
            if h.keys != read {
                raced = true;
                return Ok(Change::Unchanged);
            }
            h.keys = Some(sha.clone());
            Ok(Change::Changed)
        })
        .await?;
        if raced {
            continue; // another key change won: apply ours to its keyring
        }
        ensure_published(app, repo, seq).await?;
        return list_keys(app, repo).await;
    }
    Err(ApiError::busy(format!(
        "repo {repo}: its keys kept changing; retry"
    )))
}

#[cfg(test)]
mod tests {
    #[test]
    fn armor_checksum_is_crc24() {
        // RFC 4880's CRC-24 of "123456789" is 0x21CF02.
        let a = super::armor_public(b"123456789");
        assert!(a.contains("\n=Ic8C\n"), "{a}");
    }

    /// A lifetime OpenPGP cannot state is a 400, not a key that failed to be made (500).
    #[test]
    fn too_long_a_lifetime_is_the_clients() {
        use crate::testkit::{answer, app, req, FakeGen};
        let (app, _, _) = app(std::sync::Arc::new(FakeGen::new()));
        assert_eq!(answer(&app, req("POST", "/repos/r/", b"")).0, 201);
        let (status, body) = answer(
            &app,
            req("POST", "/repos/r/keys/", b"{\"lifetime\": 4294967296}"),
        );
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("lifetime"), "{body}");
    }
}
