//! The four digests formats ask for, computed in one pass while bytes stream by.
use md5::Md5;
pub use reposmith_contract::DigestKinds;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// A running hash of bytes: sha256 always, md5, sha1 and sha512 when asked for (an index
/// file's are only those its generator lists: see `DigestKinds`).
#[derive(Clone)]
pub struct Hasher {
    md5: Option<Md5>,
    sha1: Option<Sha1>,
    sha256: Sha256,
    sha512: Option<Sha512>,
    size: u64,
}

/// All four: what a package's facts carry.
impl Default for Hasher {
    fn default() -> Self {
        Hasher::only(DigestKinds::ALL)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Digests {
    pub size: u64,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
}

impl Hasher {
    /// sha256 and the digests `kinds` names; the others finish as empty strings.
    pub fn only(kinds: DigestKinds) -> Self {
        Hasher {
            md5: kinds.md5.then(Md5::new),
            sha1: kinds.sha1.then(Sha1::new),
            sha256: Sha256::new(),
            sha512: kinds.sha512.then(Sha512::new),
            size: 0,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        feed(&mut self.md5, data);
        feed(&mut self.sha1, data);
        self.sha256.update(data);
        feed(&mut self.sha512, data);
        self.size += data.len() as u64;
    }

    /// The states after each of `parts` in turn. A change early in a big file re-hashes
    /// everything after it, so a long run is split over two threads when there is work for
    /// both: md5 and sha1 on one, sha256 and sha512 on the other (about even work).
    pub fn states_after<T: AsRef<[u8]> + Sync>(self, parts: &[T]) -> Vec<Hasher> {
        let Hasher {
            md5,
            sha1,
            sha256,
            sha512,
            mut size,
        } = self;
        let total: usize = parts.iter().map(|p| p.as_ref().len()).sum();
        let split = total >= PARALLEL_FROM && (md5.is_some() || sha1.is_some());
        let (left, right) = if split {
            both(
                || pair_states(md5, sha1, parts),
                || pair_states(Some(sha256), sha512, parts),
            )
        } else {
            (
                pair_states(md5, sha1, parts),
                pair_states(Some(sha256), sha512, parts),
            )
        };
        left.into_iter()
            .zip(right)
            .zip(parts)
            .map(|(((md5, sha1), (sha256, sha512)), p)| {
                size += p.as_ref().len() as u64;
                Hasher {
                    md5,
                    sha1,
                    sha256: sha256.expect("sha256 always runs"),
                    sha512,
                    size,
                }
            })
            .collect()
    }

    pub fn finish(self) -> Digests {
        Digests {
            size: self.size,
            md5: self
                .md5
                .map(|d| hex::encode(d.finalize()))
                .unwrap_or_default(),
            sha1: self
                .sha1
                .map(|d| hex::encode(d.finalize()))
                .unwrap_or_default(),
            sha256: hex::encode(self.sha256.finalize()),
            sha512: self
                .sha512
                .map(|d| hex::encode(d.finalize()))
                .unwrap_or_default(),
        }
    }
}

/// Bytes below which a second thread costs more than it saves.
const PARALLEL_FROM: usize = 1 << 20;

fn feed<D: Digest>(d: &mut Option<D>, data: &[u8]) {
    if let Some(d) = d {
        d.update(data);
    }
}

/// Two digests (each if asked for) run over `parts`, with their states after each part.
type Pair<A, B> = (Option<A>, Option<B>);
fn pair_states<A: Digest + Clone, B: Digest + Clone, T: AsRef<[u8]>>(
    mut a: Option<A>,
    mut b: Option<B>,
    parts: &[T],
) -> Vec<Pair<A, B>> {
    parts
        .iter()
        .map(|p| {
            feed(&mut a, p.as_ref());
            feed(&mut b, p.as_ref());
            (a.clone(), b.clone())
        })
        .collect()
}

/// Runs two jobs at once where threads exist (not on wasm, where Spin runs the core).
fn both<A: Send, B: Send>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    #[cfg(not(target_family = "wasm"))]
    {
        std::thread::scope(|s| {
            let a = s.spawn(a);
            let b = b();
            (a.join().unwrap_or_else(|e| std::panic::resume_unwind(e)), b)
        })
    }
    #[cfg(target_family = "wasm")]
    {
        (a(), b())
    }
}

pub fn digests(data: &[u8]) -> Digests {
    let mut h = Hasher::default();
    h.update(data);
    h.finish()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A sha256 as this project writes it: 64 lower-case hex digits (guards store paths).
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both paths (one thread below `PARALLEL_FROM`, two above) give the states one running
    /// hasher passes through.
    #[test]
    fn states_after_each_part_match_one_running_hasher() {
        for part_len in [1000, PARALLEL_FROM / 3 + 7] {
            let parts: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; part_len]).collect();
            let start = {
                let mut h = Hasher::default();
                h.update(b"prefix");
                h
            };
            let got = start.clone().states_after(&parts);
            let mut h = start;
            for (p, state) in parts.iter().zip(got) {
                h.update(p);
                assert_eq!(state.finish(), h.clone().finish(), "parts of {part_len}");
            }
        }
    }

    /// A hasher asked for fewer digests leaves the others empty and agrees on the rest.
    #[test]
    fn only_the_digests_asked_for() {
        let parts = vec![vec![7u8; PARALLEL_FROM]; 2];
        let all = Hasher::default()
            .states_after(&parts)
            .pop()
            .unwrap()
            .finish();
        for kinds in [
            DigestKinds::SHA256,
            DigestKinds {
                md5: true,
                ..DigestKinds::SHA256
            },
        ] {
            let d = Hasher::only(kinds)
                .states_after(&parts)
                .pop()
                .unwrap()
                .finish();
            assert_eq!((d.size, &d.sha256), (all.size, &all.sha256));
            assert_eq!(
                d.md5,
                if kinds.md5 {
                    all.md5.clone()
                } else {
                    String::new()
                }
            );
            assert!(d.sha1.is_empty() && d.sha512.is_empty());
        }
    }
}
