//! What crosses a Spin generator slot (`reposmith:spin/slot`, wit/spin/spin.wit): the records
//! of `reposmith:generator/types` as plain serde types, postcard-encoded. The adapter (in the
//! wrapped generator) and the handler both use this crate, so both ends agree by construction.
use serde::{Deserialize, Serialize};

pub use serde_bytes::ByteBuf;

pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    postcard::to_stdvec(v).expect("postcard encoding of plain records does not fail")
}

pub fn decode<'a, T: Deserialize<'a>>(b: &'a [u8]) -> Result<T, String> {
    postcard::from_bytes(b).map_err(|e| format!("slot message: {e}"))
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hint {
    pub key: String,
    pub value: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    pub filename: String,
    pub size: u64,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    pub name: String,
    pub mount: String,
    pub extensions: Vec<String>,
    pub description: String,
    pub contract: String,
    pub one_version_per_name: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fragment {
    pub name: String,
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub version: String,
    pub arch: String,
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
    #[serde(with = "serde_bytes")]
    pub separator: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Encoding {
    Identity,
    Gzip,
    Xz,
    Zstd,
}

/// `part` and `leaf` of the WIT in one type: a tar member's parts are never tar members.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Part {
    Literal(#[serde(with = "serde_bytes")] Vec<u8>),
    Entries(Selection),
    TarMember {
        name: String,
        mtime: u64,
        parts: Vec<Part>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkFile {
    pub path: String,
    pub parts: Vec<Part>,
    pub encodings: Vec<Encoding>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub shelves: Vec<String>,
    pub prefix: String,
    pub signature: Option<String>,
}

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
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Piece {
    Bytes(#[serde(with = "serde_bytes")] Vec<u8>),
    File(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Content {
    Bytes(#[serde(with = "serde_bytes")] Vec<u8>),
    SameAs(String),
    Concat(Vec<Piece>, Encoding),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    pub path: String,
    pub content: Content,
}

/// One call of the generator's `signer` import. `detached-package` and `rsa-sign-blob` name
/// a stored blob by sha256: the handler reads it, the bytes never cross the slot.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SignRequest {
    Clearsign(String),
    Detached(#[serde(with = "serde_bytes")] Vec<u8>, bool),
    DetachedPackage(String),
    PublicKey,
    /// data, sha1 (else sha256)
    RsaSign(#[serde(with = "serde_bytes")] Vec<u8>, bool),
    RsaPublicKey,
    RsaKeyName,
    /// blob sha256, sha1 (else sha256)
    RsaSignBlob(String, bool),
}

/// A request and its answer: bytes (UTF-8 for the string-valued calls) or the signer's error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    pub request: SignRequest,
    pub answer: Result<serde_bytes::ByteBuf, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimsCall {
    pub filename: String,
    #[serde(with = "serde_bytes")]
    pub head: Vec<u8>,
    pub hints: Vec<Hint>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyzeCall {
    pub facts: Facts,
    /// The whole package (see the README: Spin hands the bytes over; no ranged reads back).
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    pub hints: Vec<Hint>,
    pub known: Vec<Signed>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanCall {
    pub repo: RepoInfo,
    pub shelves: Vec<ShelfSummary>,
    pub known: Vec<Signed>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishCall {
    pub repo: RepoInfo,
    pub shelves: Vec<ShelfSummary>,
    pub files: Vec<Assembled>,
    pub known: Vec<Signed>,
}

/// A slot call's answer, and the signatures it asked for that were not known (placeholders
/// were used: the handler signs them and calls again).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply<T> {
    pub value: T,
    pub missing: Vec<SignRequest>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let call = FinishCall {
            repo: RepoInfo {
                name: "r".into(),
                ..Default::default()
            },
            shelves: vec![ShelfSummary {
                shelf: "stable/main/amd64".into(),
                entries: 3,
            }],
            files: vec![],
            known: vec![Signed {
                request: SignRequest::Detached(b"Release".to_vec(), true),
                answer: Ok(serde_bytes::ByteBuf::from(b"sig".to_vec())),
            }],
        };
        let back: FinishCall = decode(&encode(&call)).unwrap();
        assert_eq!(back, call);
        let reply = Reply {
            value: vec![Output {
                path: "dists/stable/InRelease".into(),
                content: Content::Concat(
                    vec![Piece::Bytes(vec![1]), Piece::File("x".into())],
                    Encoding::Gzip,
                ),
            }],
            missing: vec![SignRequest::RsaSignBlob("ab".into(), true)],
        };
        let back: Reply<Vec<Output>> = decode(&encode(&reply)).unwrap();
        assert_eq!(back, reply);
        assert!(decode::<FinishCall>(b"\xff").is_err());
    }
}
