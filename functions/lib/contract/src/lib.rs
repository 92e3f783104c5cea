//! reposmith's generator contract (`wit/generator.wit`) as plain Rust, defined once.
//!
//! The records are serde types: the core stores analyses (entries and their fragments) as
//! JSON, the Spin build sends calls across a slot as postcard (`wire`, a cargo feature).
//! [`Generator`], [`Signer`] and [`PackageReader`] are the contract's three interfaces as the
//! host sees them; the wasmtime host and the Spin slots implement [`Generator`], each target
//! its own [`Signer`] and [`PackageReader`]. [`wit_conversions!`] writes the conversions
//! between these types and a bindgen's (wasmtime's or wit-bindgen's) once for both.
//!
//! No I/O and no runtime here: this crate builds for every target, wasm32-wasip2 included.
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub mod bytes_serde;
mod convert;
#[cfg(feature = "wire")]
pub mod wire;

/// A key/value pair (upload hints, repo options).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hint {
    pub key: String,
    pub value: String,
}

/// Digests and size computed by the host while storing a package.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    pub filename: String,
    pub size: u64,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
}

/// Ranged access to a stored package (`package.read` in the WIT). Synchronous on purpose:
/// a generator call is a synchronous, CPU-bound call run off the async executor.
pub trait PackageReader: Send + Sync {
    fn facts(&self) -> &Facts;
    /// Up to `len` bytes from `offset` (fewer at the end, none past it).
    fn read(&self, offset: u64, len: u32) -> Result<Vec<u8>, String>;
}

/// A package already in memory (tests, and targets that fetch a blob whole).
pub struct MemReader {
    pub facts: Facts,
    pub data: bytes::Bytes,
}

impl PackageReader for MemReader {
    fn facts(&self) -> &Facts {
        &self.facts
    }
    fn read(&self, offset: u64, len: u32) -> Result<Vec<u8>, String> {
        Ok(range(&self.data, offset, len).to_vec())
    }
}

/// `package.read` over bytes in memory: up to `len` bytes from `offset`, fewer at the end,
/// none past it.
pub fn range(data: &[u8], offset: u64, len: u32) -> &[u8] {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(data.len());
    let end = start.saturating_add(len as usize).min(data.len());
    &data[start..end]
}

/// A named piece of an index file, rendered at upload. `data` is base64 in JSON (stored
/// analyses), raw bytes in binary formats (the Spin wire).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fragment {
    pub name: String,
    #[serde(with = "bytes_serde")]
    pub data: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// Published path of the package file, relative to the generator's mount ("" = none).
    pub path: String,
    pub shelf: String,
    pub fragments: Vec<Fragment>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoInfo {
    pub name: String,
    pub description: String,
    pub default_suite: String,
    pub default_component: String,
    pub architectures: Vec<String>,
    pub options: Vec<Hint>,
    pub now: u64,
    pub generation: u64,
    /// The absolute URL the generator's mount is served at, no trailing `/` (see the WIT).
    #[serde(default)]
    pub base_url: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShelfSummary {
    pub shelf: String,
    pub entries: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    pub shelves: Vec<String>,
    pub fragment: String,
    #[serde(with = "bytes_serde")]
    pub separator: Vec<u8>,
}

/// `part` and `leaf` of the WIT in one type: a tar member's parts are never tar members.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Part {
    Literal(#[serde(with = "bytes_serde")] Vec<u8>),
    Entries(Selection),
    /// A ustar member built around the assembled `parts` (Literal/Entries only).
    TarMember {
        name: String,
        mtime: u64,
        parts: Vec<Part>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Encoding {
    Identity,
    Gzip,
    Xz,
    Zstd,
}

impl Encoding {
    /// File name suffix the host appends for this encoding.
    pub fn suffix(self) -> &'static str {
        match self {
            Encoding::Identity => "",
            Encoding::Gzip => ".gz",
            Encoding::Xz => ".xz",
            Encoding::Zstd => ".zst",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkFile {
    pub path: String,
    pub parts: Vec<Part>,
    pub encodings: Vec<Encoding>,
    /// Patches from earlier versions (see `history` in the WIT).
    // Always written: the Spin wire format is positional (no field may be skipped).
    #[serde(default)]
    pub history: Option<History>,
    /// The identity file's `Content-Type`; none: by extension.
    #[serde(default)]
    pub media_type: Option<String>,
}

/// `history` in the WIT: keep patches from the last `keep` versions, published under `dir`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub keep: u32,
    pub dir: String,
    pub encodings: Vec<Encoding>,
}

/// `patch-of` in the WIT: a published patch turns this earlier version of `file` into the
/// current one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchOf {
    pub file: String,
    pub from_size: u64,
    pub from_sha256: String,
}

/// Package files served again under `prefix` (see `link` in the WIT).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub shelves: Vec<String>,
    pub prefix: String,
    pub signature: Option<String>,
}

/// `publish-plan` in the WIT.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub files: Vec<BulkFile>,
    pub links: Vec<Link>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assembled {
    pub path: String,
    pub encoding: Encoding,
    pub size: u64,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
    pub open_size: u64,
    pub open_sha256: String,
    #[serde(default)]
    pub patch: Option<PatchOf>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Content {
    Bytes(#[serde(with = "bytes_serde")] Vec<u8>),
    SameAs(String),
    /// Pieces (bytes, or a path published earlier in this tree) joined, then encoded.
    Concat(Vec<Piece>, Encoding),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Piece {
    Bytes(#[serde(with = "bytes_serde")] Vec<u8>),
    File(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    pub path: String,
    pub content: Content,
    /// Its `Content-Type`; none: by extension.
    #[serde(default)]
    pub media_type: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    pub name: String,
    pub mount: String,
    pub extensions: Vec<String>,
    pub description: String,
    pub contract: String,
    /// An upload replaces entries of the same name on its shelves (see the WIT).
    #[serde(default)]
    pub one_version_per_name: bool,
    /// The host signs each package it claims at upload (see the WIT).
    #[serde(default)]
    pub signed_packages: bool,
    /// The file a directory request serves (see the WIT); none: directories answer 404.
    #[serde(default)]
    pub index_name: Option<String>,
}

/// Why a generator call failed: the package is bad (the generator said so: 422), or the
/// generator itself misbehaved (trap, fuel or memory exhausted: 500, the server keeps going).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GenError {
    Rejected(String),
    Failed(String),
}

impl std::fmt::Display for GenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GenError::Rejected(m) => write!(f, "{m}"),
            GenError::Failed(m) => write!(f, "generator failed: {m}"),
        }
    }
}

impl std::error::Error for GenError {}

/// The host's signing service, handed to generators as the `signer` import.
pub trait Signer: Send + Sync {
    fn clearsign(&self, text: &str) -> Result<String, String>;
    fn detached(&self, data: &[u8], armor: bool) -> Result<Vec<u8>, String>;
    /// Detached binary signature of a stored package by sha256 (the host reads the file).
    fn detached_package(&self, sha256: &str) -> Result<Vec<u8>, String>;
    fn public_key(&self) -> String;
    /// RSA PKCS#1 v1.5 over `data` hashed with SHA-256 (`sha1 = false`) or SHA-1.
    fn rsa_sign(&self, data: &[u8], sha1: bool) -> Result<Vec<u8>, String>;
    /// SubjectPublicKeyInfo PEM of the RSA key.
    fn rsa_public_key(&self) -> String;
    fn rsa_key_name(&self) -> String;
    /// `rsa_sign` over a stored blob by sha256 (the host reads it).
    fn rsa_sign_blob(&self, sha256: &str, sha1: bool) -> Result<Vec<u8>, String>;
    /// `vouch-index`: only the host's vouching signer (in `finish`) accepts indexes.
    fn vouch_index(&self, _text: &[u8]) -> Result<(), String> {
        Err("no index can be vouched for outside finish".into())
    }
}

/// One OpenPGP key of a repo as the host stores it: the public key in the clear, the secret
/// sealed by the server (only a writing target can open it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoKey {
    pub fingerprint: String,
    /// The transferable public key, binary, base64.
    pub public: String,
    /// The armored secret key, sealed (hex).
    pub sealed: String,
    /// Unix seconds.
    pub created: u64,
    /// When the key itself expires (its self-signature says so to clients); None: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    /// Brought by the user (`key import`) rather than made here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub imported: bool,
}

/// A repo's RSA key (apk, FreeBSD pkg), sealed likewise.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoRsaKey {
    pub name: String,
    pub public_pem: String,
    pub sealed: String,
}

/// The host's key maker and opener: makes, imports and seals a repo's keys, and opens them
/// into a [`Signer`]. Held only by targets that write (never by Lambda's read function).
pub trait Keyring: Send + Sync {
    /// A new OpenPGP signing key named after `repo`, expiring `lifetime` seconds after now.
    fn generate(&self, repo: &str, lifetime: Option<u64>) -> Result<RepoKey, String>;
    /// A new RSA key for `repo`.
    fn generate_rsa(&self, repo: &str) -> Result<RepoRsaKey, String>;
    /// An unprotected armored secret key the user brings.
    fn import(&self, armored: &str) -> Result<RepoKey, String>;
    /// A signer that signs with `current`, and clearsigns with `current` and every `overlap`
    /// key (apt takes any good signature: clients that know only an old key go on working).
    fn signer(
        &self,
        current: &RepoKey,
        overlap: &[RepoKey],
        rsa: &RepoRsaKey,
    ) -> Result<Arc<dyn Signer>, String>;
}

/// `inspect.dependency`: a requirement or provision; `op`/`version` empty when unversioned.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    pub name: String,
    pub op: String,
    pub version: String,
}

impl std::fmt::Display for Dependency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.op.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{} {} {}", self.name, self.op, self.version)
        }
    }
}

/// `inspect.details`: what an entry says of itself (summary, dependencies, every field).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Details {
    pub summary: String,
    pub depends: Vec<Vec<Dependency>>,
    pub provides: Vec<Dependency>,
    pub fields: Vec<(String, String)>,
}

/// `client.client-repo`: what a generator's `client-config` needs to tell each client of its
/// format how to use a repo. URLs are absolute and end without `/`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRepo {
    pub name: String,
    pub title: String,
    pub description: String,
    pub enabled: bool,
    /// Verify package signatures.
    pub gpgcheck: bool,
    /// Verify the repository metadata's signature.
    pub repo_gpgcheck: bool,
    /// Keys clients should trust: the served OpenPGP key's URL first, then the repo's own list.
    pub gpgkeys: Vec<String>,
    /// Where this generator's tree is served (`https://host/repos/NAME/dist`).
    pub base_url: String,
    /// The same tree on each mirror (`https://mirror/repos/NAME/dist`).
    pub mirrors: Vec<String>,
    /// The repo's `url_args` (`suites`, `components` for apt; `query` for yum and zypper).
    pub url_args: Vec<Hint>,
    pub default_suite: String,
    pub default_component: String,
    pub architectures: Vec<String>,
    /// The repo's armored OpenPGP public key (for clients that embed it: apt's `Signed-By`).
    pub public_key: String,
    /// The RSA key's short name and PEM (apk's `/etc/apk/keys/`, FreeBSD pkg's `pubkey`).
    pub rsa_key_name: String,
    pub rsa_public_key: String,
}

/// `client.client-file`: one file a client reads, as the user would save it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientFile {
    /// `apt`, `dnf`, `yum`, `zypper`, `pacman`, `apk`, `pkg`: the client it is for. A client's
    /// first file is its main one (`GET /repos/{repo}/config/{client}`).
    pub client: String,
    /// A plain file name, unique within the repo's files (`NAME.sources`, `NAME.repo`).
    pub file_name: String,
    #[serde(with = "bytes_serde")]
    pub data: Vec<u8>,
}

/// `digests.wanted`: which of md5, sha1 and sha512 a generator's `finish` reads of the
/// assembled files (sha256 is always given). The others are left empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DigestKinds {
    pub md5: bool,
    pub sha1: bool,
    pub sha512: bool,
}

impl DigestKinds {
    /// What a generator without `digests` gets: every digest, as contract 0.2.0 promised.
    pub const ALL: DigestKinds = DigestKinds {
        md5: true,
        sha1: true,
        sha512: true,
    };
    /// sha256 alone.
    pub const SHA256: DigestKinds = DigestKinds {
        md5: false,
        sha1: false,
        sha512: false,
    };
}

/// A loaded generator. Every call is synchronous and sandboxed; run it off the async executor.
pub trait Generator: Send + Sync {
    fn info(&self) -> &Info;
    /// Never fails: a generator that traps here simply does not claim the file.
    fn claims(&self, filename: &str, head: &[u8], hints: &[Hint]) -> bool;
    /// [`claims`](Self::claims), with the fault when the generator failed to answer (the
    /// host counts it); a host that cannot tell answers as `claims`.
    fn try_claims(&self, filename: &str, head: &[u8], hints: &[Hint]) -> Result<bool, GenError> {
        Ok(self.claims(filename, head, hints))
    }
    fn analyze(&self, pkg: Arc<dyn PackageReader>, hints: &[Hint]) -> Result<Vec<Entry>, GenError>;
    fn plan(&self, repo: &RepoInfo, shelves: &[ShelfSummary]) -> Result<Plan, GenError>;
    fn finish(
        &self,
        repo: &RepoInfo,
        shelves: &[ShelfSummary],
        files: &[Assembled],
        signer: Arc<dyn Signer>,
    ) -> Result<Vec<Output>, GenError>;
    /// `inspect.compare-versions` for versions of `repo`'s packages: each version's rank.
    /// `None`: the generator does not export `inspect` (or answered the wrong number of
    /// ranks); the caller uses its default.
    fn compare_versions(
        &self,
        _repo: &str,
        _versions: &[String],
    ) -> Option<Result<Vec<u32>, GenError>> {
        None
    }
    /// `inspect.describe`: details per entry of `repo` (its fragments). `None` as above.
    fn describe(
        &self,
        _repo: &str,
        _entries: &[Vec<Fragment>],
    ) -> Option<Result<Vec<Details>, GenError>> {
        None
    }
    /// `client.client-config`: the files that tell each client of the format how to use
    /// `repo`. `None`: the generator does not export `client`; the host uses its default.
    fn client_config(&self, _repo: &ClientRepo) -> Option<Result<Vec<ClientFile>, GenError>> {
        None
    }
    /// `digests.wanted` for `repo`. `None`: the generator does not export `digests`; the
    /// host computes all of them ([`DigestKinds::ALL`]).
    fn digests(&self, _repo: &RepoInfo) -> Option<Result<DigestKinds, GenError>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Analyses stored before this crate existed hold fragment data as base64 in JSON.
    #[test]
    fn stored_entries_still_decode() {
        let stored = r#"{"name":"hello","version":"1","arch":"amd64","path":"pool/h.deb","shelf":"s","fragments":[{"name":"Packages","data":"UGFja2FnZTogaGVsbG8K"}]}"#;
        let e: Entry = serde_json::from_str(stored).unwrap();
        assert_eq!(e.fragments[0].data, b"Package: hello\n");
        assert_eq!(serde_json::to_string(&e).unwrap(), stored);
        let info: Info = serde_json::from_str(
            r#"{"name":"deb","mount":"dist","extensions":[],"description":"","contract":"0.1.0"}"#,
        )
        .unwrap();
        assert!(!info.one_version_per_name);
    }
}
