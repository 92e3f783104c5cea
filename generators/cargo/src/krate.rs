//! Reading a `.crate`: what `cargo package` writes, a gzip stream holding a tar whose every
//! member is under one directory `NAME-VERSION/`, with `NAME-VERSION/Cargo.toml` the manifest
//! cargo normalized for the registry (cargo `src/cargo/ops/cargo_package.rs`; the client
//! refuses a member outside that directory when it unpacks, `sources/registry/mod.rs`
//! `unpack_package`).
//!
//! `claims` looks at the name and the first bytes; `read_crate` streams the archive through
//! ranged reads, keeps the manifest and, for crates up to `MAX_VERIFIED`, reads to the end of
//! the gzip stream so a truncated or damaged upload is refused (cargo would fail to unpack it
//! after checking its sha256 against the index).

use reposmith_generator_sdk::tar::{self, Reader as TarReader};
use reposmith_generator_sdk::{Codec, Mem};
use std::io::{self, Read};

/// A normalized `Cargo.toml` larger than this is not a manifest (the largest on crates.io,
/// feature lists of binding crates, are a few hundred KiB).
pub const MAX_MANIFEST: u64 = 4 << 20;
/// Crates up to this size are decompressed to the end (crates.io takes 10 MB); larger ones up
/// to their manifest only (the host's fuel would not cover a large payload).
pub const MAX_VERIFIED: u64 = 16 << 20;
/// What the tar may unpack to before it is refused as a decompression bomb (crates.io's own
/// limit on the unpacked size is 512 MB; this is what `analyze` can afford to inflate).
pub const MAX_UNPACKED: u64 = 256 << 20;
/// One ranged read of the package.
const CHUNK: u32 = 256 << 10;

/// Is this a `.crate`? By name and content: `NAME.crate`, gzip, and, when the head
/// decompresses far enough to show it, a first tar member under a `NAME-VERSION/` directory
/// (so a pacman `.pkg.tar.gz` or an apk renamed `.crate` is not taken). Never panics.
pub fn claims(filename: &str, head: &[u8]) -> bool {
    if !filename.ends_with(".crate") || Codec::sniff(head) != Some(Codec::Gzip) {
        return false;
    }
    let first =
        reposmith_generator_sdk::first_tar_member(Codec::Gzip.decoder(Mem::new(head.to_vec()), 0));
    match first {
        Some(name) => top_dir(tar::clean(&name)).is_some_and(|d| d.contains(&b'-')),
        None => true,
    }
}

/// The directory a member path is under (`leaf-0.1.0` of `leaf-0.1.0/src/lib.rs`).
fn top_dir(path: &[u8]) -> Option<&[u8]> {
    let slash = path.iter().position(|&b| b == b'/')?;
    (slash > 0).then(|| &path[..slash])
}

/// What a `.crate` holds that the index needs.
#[derive(Debug, PartialEq, Eq)]
pub struct Contents {
    /// The directory every member is under: `NAME-VERSION`.
    pub dir: String,
    /// `DIR/Cargo.toml`.
    pub manifest: Vec<u8>,
}

/// Streams the `.crate` of `size` bytes through `read` and returns its manifest.
pub fn read_crate<R>(read: R, size: u64) -> Result<Contents, String>
where
    R: FnMut(u64, u32) -> Result<Vec<u8>, String>,
{
    reposmith_generator_sdk::gunzip(read, CHUNK, MAX_UNPACKED, "the crate", |d| {
        walk(d, size <= MAX_VERIFIED)
    })
}

fn shown(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(100)]).into_owned()
}

fn walk(decoder: impl Read, to_end: bool) -> Result<Contents, String> {
    let bad = |e: io::Error| format!("bad .crate archive (corrupt or truncated): {e}");
    let mut archive = TarReader::new(decoder);
    let mut dir: Option<Vec<u8>> = None;
    let mut manifest: Option<Vec<u8>> = None;
    while let Some(member) = archive.next_member().map_err(bad)? {
        let path = member.path().to_vec();
        let Some(top) = top_dir(&path) else {
            return Err(format!(
                "bad .crate: member {:?} is not under a NAME-VERSION/ directory",
                shown(&path)
            ));
        };
        match &dir {
            None => dir = Some(top.to_vec()),
            Some(d) if d.as_slice() != top => {
                return Err(format!(
                    "bad .crate: member {:?} is not under {}/ like the first one",
                    shown(&path),
                    shown(d)
                ))
            }
            Some(_) => {}
        }
        if &path[top.len()..] != b"/Cargo.toml" {
            continue;
        }
        if !member.is_file() {
            return Err(format!("bad .crate: {} is not a file", shown(&path)));
        }
        if manifest.is_some() {
            return Err(format!("bad .crate: {} appears twice", shown(&path)));
        }
        if member.size > MAX_MANIFEST {
            return Err(format!(
                "Cargo.toml is {} bytes, over the {MAX_MANIFEST} byte limit",
                member.size
            ));
        }
        manifest = Some(archive.read_data(MAX_MANIFEST).map_err(bad)?);
        if !to_end {
            break;
        }
    }
    let (Some(dir), Some(manifest)) = (dir, manifest) else {
        return Err("not a .crate: no NAME-VERSION/Cargo.toml in it".into());
    };
    if to_end {
        // The gzip stream to its end (its CRC and length): a damaged tail is caught too.
        let mut rest = archive.into_inner();
        io::copy(&mut rest, &mut io::sink()).map_err(bad)?;
    }
    let dir =
        String::from_utf8(dir).map_err(|_| "bad .crate: a directory name that is not UTF-8")?;
    Ok(Contents { dir, manifest })
}
