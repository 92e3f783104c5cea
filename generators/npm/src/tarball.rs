//! Reading an npm tarball: what `npm pack` writes, a gzip stream holding a tar whose members
//! are under one directory (`package/`), with `package/package.json` the manifest
//! (<https://docs.npmjs.com/cli/commands/npm-pack>; the client strips that first directory
//! when it unpacks, whatever its name).
//!
//! `claims` looks at the name and the first bytes; `package_json` streams the archive through
//! ranged reads, keeps the manifest and, for tarballs up to `MAX_VERIFIED`, reads to the end of
//! the gzip stream so a truncated upload is refused (npm would fail its integrity check).

use reposmith_generator_sdk::tar::{self, Reader as TarReader};
use reposmith_generator_sdk::{Codec, Mem};
use std::io::{self, Read};

/// A package.json larger than this is not a manifest.
pub const MAX_MANIFEST: u64 = 1 << 20;
/// Tarballs up to this size are decompressed to the end; larger ones up to their manifest.
pub const MAX_VERIFIED: u64 = 16 << 20;
/// What the tar may unpack to before it is refused as a decompression bomb.
pub const MAX_UNPACKED: u64 = 256 << 20;
/// One ranged read of the package.
const CHUNK: u32 = 256 << 10;

/// Is this an npm tarball? `NAME.tgz`, gzip, and, when the head decompresses far enough to
/// show it, a first member under a directory (a `.tgz` of loose files is not one). Never
/// panics.
pub fn claims(filename: &str, head: &[u8]) -> bool {
    if !filename.ends_with(".tgz") || Codec::sniff(head) != Some(Codec::Gzip) {
        return false;
    }
    let first =
        reposmith_generator_sdk::first_tar_member(Codec::Gzip.decoder(Mem::new(head.to_vec()), 0));
    match first {
        Some(name) => top_dir(tar::clean(&name)).is_some(),
        None => true,
    }
}

/// The directory a member path is under (`package` of `package/index.js`).
fn top_dir(path: &[u8]) -> Option<&[u8]> {
    let slash = path.iter().position(|&b| b == b'/')?;
    (slash > 0).then(|| &path[..slash])
}

/// Streams the tarball of `size` bytes through `read` and returns its `package.json`.
pub fn package_json<R>(read: R, size: u64) -> Result<Vec<u8>, String>
where
    R: FnMut(u64, u32) -> Result<Vec<u8>, String>,
{
    reposmith_generator_sdk::gunzip(read, CHUNK, MAX_UNPACKED, "the tarball", |d| {
        walk(d, size <= MAX_VERIFIED)
    })
}

fn walk(decoder: impl Read, to_end: bool) -> Result<Vec<u8>, String> {
    let bad = |e: io::Error| format!("bad npm tarball (corrupt or truncated): {e}");
    let mut archive = TarReader::new(decoder);
    let mut manifest = None;
    while let Some(member) = archive.next_member().map_err(bad)? {
        let path = member.path().to_vec();
        // `package/package.json` only: a nested package.json is some dependency's fixture.
        let Some(top) = top_dir(&path) else { continue };
        if &path[top.len()..] != b"/package.json" || !member.is_file() {
            continue;
        }
        if manifest.is_some() {
            return Err("bad npm tarball: two package.json at its top".into());
        }
        if member.size > MAX_MANIFEST {
            return Err(format!(
                "package.json is {} bytes, over the {MAX_MANIFEST} byte limit",
                member.size
            ));
        }
        manifest = Some(archive.read_data(MAX_MANIFEST).map_err(bad)?);
        if !to_end {
            break;
        }
    }
    let manifest = manifest.ok_or("not an npm tarball: no package/package.json in it")?;
    if to_end {
        // The gzip stream to its end (its CRC and length): a damaged tail is caught too.
        let mut rest = archive.into_inner();
        io::copy(&mut rest, &mut io::sink()).map_err(bad)?;
    }
    Ok(manifest)
}
