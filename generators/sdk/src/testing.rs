//! Helpers for generators' unit tests (feature `testing`): compressing test packages, a
//! `read(offset, len)` over bytes, and damaged copies of a good package for fuzzing.
use crate::Codec;
use std::io::Write;

/// `data` compressed with `codec`, as the real tools write it.
pub fn compress(codec: Codec, data: &[u8]) -> Vec<u8> {
    match codec {
        Codec::Gzip => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(data).unwrap();
            gz.finish().unwrap()
        }
        Codec::Xz => {
            let mut xz =
                lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6))
                    .unwrap();
            xz.write_all(data).unwrap();
            xz.finish().unwrap()
        }
        Codec::Zstd => {
            ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
        }
        Codec::Plain => data.to_vec(),
    }
}

/// The host's `package.read` over `bytes`: fewer bytes at the end, none past it.
pub fn reader(bytes: Vec<u8>) -> impl FnMut(u64, u32) -> Result<Vec<u8>, String> {
    move |off, len| {
        let start = (off as usize).min(bytes.len());
        let end = start.saturating_add(len as usize).min(bytes.len());
        Ok(bytes[start..end].to_vec())
    }
}

/// `rounds` damaged copies of `good` (every third one truncated, the others with a few bytes
/// changed), from a fixed seed so a failure repeats. `REPOSMITH_FUZZ_ROUNDS` overrides
/// `rounds` for a longer soak.
pub fn damaged(good: &[u8], rounds: u32) -> impl Iterator<Item = Vec<u8>> + '_ {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let rounds: u32 = std::env::var("REPOSMITH_FUZZ_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(rounds);
    (0..rounds).map(move |round| {
        let mut bad = good.to_vec();
        match round % 3 {
            0 => bad.truncate(next() as usize % good.len()),
            _ => {
                for _ in 0..1 + next() % 4 {
                    let i = next() as usize % bad.len();
                    bad[i] = next() as u8;
                }
            }
        }
        bad
    })
}

/// A repository as `plan` and `finish` see it: `name`, `architectures`, no options,
/// published at 1 700 000 000 as generation 1.
#[cfg(feature = "bindings")]
pub fn repo(name: &str, architectures: &[&str]) -> crate::reposmith::generator::types::RepoInfo {
    crate::reposmith::generator::types::RepoInfo {
        name: name.into(),
        description: String::new(),
        default_suite: "stable".into(),
        default_component: "main".into(),
        architectures: architectures.iter().map(|a| a.to_string()).collect(),
        options: Vec::new(),
        now: 1_700_000_000,
        generation: 1,
        base_url: format!("http://localhost/repos/{name}/mount"),
    }
}
