//! The four digests every format asks for, computed in one pass while bytes stream by.
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

#[derive(Default, Clone)]
pub struct Hasher {
    md5: Md5,
    sha1: Sha1,
    sha256: Sha256,
    sha512: Sha512,
    size: u64,
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
    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        self.sha1.update(data);
        self.sha256.update(data);
        self.sha512.update(data);
        self.size += data.len() as u64;
    }

    /// The states after each of `parts` in turn. A change early in a big file re-hashes
    /// everything after it, so a long run is split over two threads: md5 and sha1 on one,
    /// sha256 and sha512 on the other (about even work).
    pub fn states_after<T: AsRef<[u8]> + Sync>(self, parts: &[T]) -> Vec<Hasher> {
        let Hasher {
            md5,
            sha1,
            sha256,
            sha512,
            mut size,
        } = self;
        let total: usize = parts.iter().map(|p| p.as_ref().len()).sum();
        let (left, right) = if total >= PARALLEL_FROM {
            both(
                || pair_states(md5, sha1, parts),
                || pair_states(sha256, sha512, parts),
            )
        } else {
            (
                pair_states(md5, sha1, parts),
                pair_states(sha256, sha512, parts),
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
                    sha256,
                    sha512,
                    size,
                }
            })
            .collect()
    }

    pub fn finish(self) -> Digests {
        Digests {
            size: self.size,
            md5: hex::encode(self.md5.finalize()),
            sha1: hex::encode(self.sha1.finalize()),
            sha256: hex::encode(self.sha256.finalize()),
            sha512: hex::encode(self.sha512.finalize()),
        }
    }
}

/// Bytes below which a second thread costs more than it saves.
const PARALLEL_FROM: usize = 1 << 20;

/// Two digests run over `parts`, with their states after each part.
fn pair_states<A: Digest + Clone, B: Digest + Clone, T: AsRef<[u8]>>(
    mut a: A,
    mut b: B,
    parts: &[T],
) -> Vec<(A, B)> {
    parts
        .iter()
        .map(|p| {
            a.update(p.as_ref());
            b.update(p.as_ref());
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
}
