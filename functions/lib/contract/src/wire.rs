//! What crosses a Spin generator slot (`reposmith:spin/slot`, wit/spin/spin.wit): the
//! contract's records, postcard-encoded, plus the call records and the signing requests of the
//! slot protocol (a `client` call is a `ClientRepo`, its answer a `Vec<ClientFile>`, or empty
//! for the default). The adapter (in the wrapped generator), the services component and the
//! handler all use this module, so every end agrees by construction.
use crate::{bytes_serde, Assembled, Facts, Hint, RepoInfo, ShelfSummary};
use serde::{Deserialize, Serialize};

pub use serde_bytes::ByteBuf;

pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    postcard::to_stdvec(v).expect("postcard encoding of plain records does not fail")
}

pub fn decode<'a, T: Deserialize<'a>>(b: &'a [u8]) -> Result<T, String> {
    postcard::from_bytes(b).map_err(|e| format!("slot message: {e}"))
}

/// One call of the generator's `signer` import. `detached-package` and `rsa-sign-blob` name
/// a stored blob by sha256: the handler reads it, the bytes never cross the slot.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SignRequest {
    Clearsign(String),
    Detached(#[serde(with = "bytes_serde")] Vec<u8>, bool),
    DetachedPackage(String),
    PublicKey,
    /// data, sha1 (else sha256)
    RsaSign(#[serde(with = "bytes_serde")] Vec<u8>, bool),
    RsaPublicKey,
    RsaKeyName,
    /// blob sha256, sha1 (else sha256)
    RsaSignBlob(String, bool),
    VouchIndex(#[serde(with = "bytes_serde")] Vec<u8>),
}

/// A request and its answer: bytes (UTF-8 for the string-valued calls) or the signer's error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    pub request: SignRequest,
    pub answer: Result<ByteBuf, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimsCall {
    pub filename: String,
    #[serde(with = "bytes_serde")]
    pub head: Vec<u8>,
    pub hints: Vec<Hint>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyzeCall {
    pub facts: Facts,
    /// The whole package (see the README: Spin hands the bytes over; no ranged reads back).
    #[serde(with = "bytes_serde")]
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

/// `inspect` through a slot: one call, its answer as `InspectReply` of the same variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InspectCall {
    CompareVersions(Vec<String>),
    Describe(Vec<Vec<crate::Fragment>>),
}

/// An empty answer to a non-empty call: the generator does not export `inspect` (the
/// services component's stand-in answers so), the handler uses its defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InspectReply {
    CompareVersions(Vec<u32>),
    Describe(Vec<crate::Details>),
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
    use crate::{Content, Encoding, Entry, Fragment, Output, Piece};

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
            // Optional fields too: postcard is positional, none may be skipped.
            files: vec![crate::Assembled {
                path: "P.diff/T-2-F-1.gz".into(),
                encoding: Encoding::Gzip,
                size: 1,
                md5: "m".into(),
                sha1: "s".into(),
                sha256: "x".into(),
                sha512: "y".into(),
                open_size: 2,
                open_sha256: "z".into(),
                patch: Some(crate::PatchOf {
                    file: "P".into(),
                    from_size: 3,
                    from_sha256: "w".into(),
                }),
            }],
            known: vec![
                Signed {
                    request: SignRequest::Detached(b"Release".to_vec(), true),
                    answer: Ok(ByteBuf::from(b"sig".to_vec())),
                },
                Signed {
                    request: SignRequest::VouchIndex(b"Index".to_vec()),
                    answer: Ok(ByteBuf::new()),
                },
            ],
        };
        let mut call = call;
        let mut plain = call.files[0].clone();
        plain.patch = None;
        call.files.push(plain);
        let back: FinishCall = decode(&encode(&call)).unwrap();
        assert_eq!(back, call);
        let reply = Reply {
            value: vec![Output {
                path: "dists/stable/InRelease".into(),
                content: Content::Concat(
                    vec![Piece::Bytes(vec![1]), Piece::File("x".into())],
                    Encoding::Gzip,
                ),
                media_type: Some("text/plain".into()),
            }],
            missing: vec![SignRequest::RsaSignBlob("ab".into(), true)],
        };
        let back: Reply<Vec<Output>> = decode(&encode(&reply)).unwrap();
        assert_eq!(back, reply);
        let plan = crate::Plan {
            files: vec![crate::BulkFile {
                path: "P".into(),
                parts: vec![],
                encodings: vec![Encoding::Xz],
                history: Some(crate::History {
                    keep: 14,
                    dir: "P.diff/".into(),
                    encodings: vec![Encoding::Gzip],
                }),
                media_type: None,
            }],
            links: vec![],
        };
        let mut plan = plan;
        let mut plain = plan.files[0].clone();
        plain.history = None;
        plan.files.push(plain);
        assert_eq!(decode::<crate::Plan>(&encode(&plan)).unwrap(), plan);
        assert!(decode::<FinishCall>(b"\xff").is_err());
    }

    /// `inspect` calls and answers cross the slot whole, unversioned dependencies too.
    #[test]
    fn inspect_round_trip() {
        let call = InspectCall::Describe(vec![vec![Fragment {
            name: "Packages".into(),
            data: b"Package: a\n".to_vec(),
        }]]);
        assert_eq!(decode::<InspectCall>(&encode(&call)).unwrap(), call);
        let dep = |n: &str, o: &str, v: &str| crate::Dependency {
            name: n.into(),
            op: o.into(),
            version: v.into(),
        };
        let reply = InspectReply::Describe(vec![crate::Details {
            summary: "s".into(),
            depends: vec![vec![dep("a", "", ""), dep("b", ">=", "1")]],
            provides: vec![dep("c", "", "")],
            fields: vec![("Package".into(), "a".into())],
        }]);
        assert_eq!(decode::<InspectReply>(&encode(&reply)).unwrap(), reply);
        let ranks = InspectReply::CompareVersions(vec![2, 0, 1]);
        assert_eq!(decode::<InspectReply>(&encode(&ranks)).unwrap(), ranks);
    }

    /// `client` calls (a `ClientRepo`) and answers (`Vec<ClientFile>`) cross the slot whole.
    #[test]
    fn client_round_trip() {
        let repo = crate::ClientRepo {
            name: "demo".into(),
            enabled: true,
            mirrors: vec!["https://m/repos/demo/dist".into()],
            url_args: vec![Hint {
                key: "suites".into(),
                value: "bookworm".into(),
            }],
            ..Default::default()
        };
        assert_eq!(decode::<crate::ClientRepo>(&encode(&repo)).unwrap(), repo);
        let files = vec![crate::ClientFile {
            client: "apt".into(),
            file_name: "demo.sources".into(),
            data: b"Types: deb\n".to_vec(),
        }];
        assert_eq!(
            decode::<Vec<crate::ClientFile>>(&encode(&files)).unwrap(),
            files
        );
    }

    /// Fragments cross the slot as raw bytes (postcard), not as base64 text.
    #[test]
    fn bytes_are_raw_on_the_wire() {
        let e = Entry {
            name: "n".into(),
            version: "1".into(),
            arch: "a".into(),
            path: String::new(),
            shelf: "s".into(),
            fragments: vec![Fragment {
                name: "f".into(),
                data: vec![0xff; 64],
            }],
        };
        let b = encode(&e);
        assert!(b.len() < 64 + 16, "{} bytes", b.len());
        assert_eq!(decode::<Entry>(&b).unwrap(), e);
    }
}
