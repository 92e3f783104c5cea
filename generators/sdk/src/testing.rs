//! Helpers for generators' unit tests (feature `testing`): compressing test packages, zips, a
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

/// A zip of `(name, data)` members laid out as Go's `archive/zip` writes them (what
/// `golang.org/x/mod/zip` makes module zips with, and most streaming writers): deflated, the
/// CRC and sizes in a data descriptor after each member (flag bit 3) and in the central
/// directory. A name ending in `/` is a directory (stored, empty).
pub fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (name, data) in members {
        let dir = name.ends_with('/');
        let (method, packed): (u16, Vec<u8>) = if dir {
            (0, Vec::new())
        } else {
            let mut d = flate2::write::DeflateEncoder::new(Vec::new(), Default::default());
            d.write_all(data).unwrap();
            (8, d.finish().unwrap())
        };
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let flags: u16 = 0x8 | if name.is_ascii() { 0 } else { 0x800 };
        let offset = out.len() as u32;
        let fixed = |b: &mut Vec<u8>, crc: u32, csize: u32, size: u32| {
            b.extend(20u16.to_le_bytes()); // version needed
            b.extend(flags.to_le_bytes());
            b.extend(method.to_le_bytes());
            b.extend([0; 4]); // DOS time and date: Go's x/mod/zip leaves them zero
            b.extend(crc.to_le_bytes());
            b.extend(csize.to_le_bytes());
            b.extend(size.to_le_bytes());
            b.extend((name.len() as u16).to_le_bytes());
            b.extend(0u16.to_le_bytes()); // extra
        };
        out.extend(0x0403_4b50u32.to_le_bytes());
        fixed(&mut out, 0, 0, 0);
        out.extend(name.as_bytes());
        out.extend(&packed);
        out.extend(0x0807_4b50u32.to_le_bytes());
        out.extend(crc.sum().to_le_bytes());
        out.extend((packed.len() as u32).to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        central.extend(0x0201_4b50u32.to_le_bytes());
        central.extend((0x0300u16 | 20).to_le_bytes()); // made by: unix, 2.0
        fixed(
            &mut central,
            crc.sum(),
            packed.len() as u32,
            data.len() as u32,
        );
        central.extend([0; 6]); // comment length, disk, internal attributes
        central.extend((if dir { 0o40755u32 } else { 0o100644 } << 16).to_le_bytes());
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let dir_at = out.len() as u32;
    out.extend(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0; 4]);
    out.extend((members.len() as u16).to_le_bytes());
    out.extend((members.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(dir_at.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}
