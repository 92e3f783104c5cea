//! Reading a FreeBSD package (`.pkg`): a tar, compressed with zstd, xz or gzip (or not at
//! all), whose first members are `+COMPACT_MANIFEST` and `+MANIFEST` (pkg `libpkg/packing.c`,
//! `libpkg/pkg_create.c` `pkg_create_archive()`: the manifests are packed before the files).
//!
//! `claims` looks at the first bytes only; `read_package` streams the archive through ranged
//! reads until it has the manifests and, for packages up to `MAX_VERIFIED`, reads the rest of
//! the compressed stream too, so a truncated or damaged package is refused at upload.

use reposmith_generator_sdk::tar::{self, Reader as TarReader};
use reposmith_generator_sdk::{Codec, Handle, Mem, Ranged};
use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::Rc;

/// A manifest larger than this is not a package description.
pub const MAX_MANIFEST: u64 = 4 << 20;
/// Packages up to this size are decompressed to the end (truncation is caught); larger ones
/// only up to their manifests (the host's fuel would not cover a large payload).
pub const MAX_VERIFIED: u64 = 16 << 20;
/// xz dictionaries up to 96 MiB; the host allows 256 MiB in all.
const XZ_MEM_LIMIT_KB: u32 = 96 << 10;
/// One ranged read of the package.
const CHUNK: u32 = 256 << 10;
/// The members pkg writes first.
pub const COMPACT: &str = "+COMPACT_MANIFEST";
pub const FULL: &str = "+MANIFEST";
/// What a pacman package starts with: never ours.
const PACMAN: [&str; 3] = [".PKGINFO", ".BUILDINFO", ".MTREE"];

/// Is this a FreeBSD package? A tar (compressed or not) whose first member is
/// `+COMPACT_MANIFEST` or `+MANIFEST`. When `head` does not decompress far enough to tell,
/// the name decides: `NAME.pkg` (never `.pkg.tar.*`, pacman's) with a known magic; `analyze`
/// then checks fully. Never panics.
pub fn claims(filename: &str, head: &[u8]) -> bool {
    let Some(codec) = Codec::sniff_tar(head) else {
        return false;
    };
    match first_member(codec, head) {
        Some(name) => is_manifest(&name),
        None => filename.ends_with(".pkg"),
    }
}

fn is_manifest(name: &[u8]) -> bool {
    name == COMPACT.as_bytes() || name == FULL.as_bytes()
}

/// The name of the first real tar member in the decompressed start of `head`, skipping pax
/// headers; `None` when `head` does not decompress far enough to tell.
fn first_member(codec: Codec, head: &[u8]) -> Option<Vec<u8>> {
    let name = reposmith_generator_sdk::first_tar_member(
        codec.decoder(Mem::new(head.to_vec()), XZ_MEM_LIMIT_KB),
    )?;
    Some(tar::clean(&name).to_vec())
}

/// The manifests a package carries.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Manifests {
    pub compact: Option<Vec<u8>>,
    pub full: Option<Vec<u8>>,
}

/// Streams the package through `read` and collects its manifests.
pub fn read_package<'a, R>(read: R, size: u64) -> Result<Manifests, String>
where
    R: FnMut(u64, u32) -> Result<Vec<u8>, String> + 'a,
{
    let src = Rc::new(RefCell::new(Ranged::new(read, CHUNK)));
    let head = {
        let mut s = src.borrow_mut();
        s.peek(512)
            .map_err(|e| format!("reading the package failed: {e}"))?
    };
    let codec = Codec::sniff_tar(&head).ok_or_else(|| {
        "not a FreeBSD package: not a tar, nor a zstd, xz or gzip compressed one".to_string()
    })?;
    let result = walk(
        codec.decoder(Handle(src.clone()), XZ_MEM_LIMIT_KB),
        size <= MAX_VERIFIED,
    );
    if let Some(e) = src.borrow_mut().failed.take() {
        return Err(format!("reading the package failed: {e}"));
    }
    result
}

fn walk(decoder: Box<dyn Read + '_>, to_end: bool) -> Result<Manifests, String> {
    let bad = |e: io::Error| format!("bad package archive (corrupt or truncated): {e}");
    let mut archive = TarReader::new(decoder);
    let mut out = Manifests::default();
    let mut first = true;
    while let Some(entry) = archive.next_member().map_err(bad)? {
        let path = entry.path().to_vec();
        if first {
            first = false;
            if PACMAN.iter().any(|p| path == p.as_bytes()) {
                return Err("not a FreeBSD package: this is a pacman package".into());
            }
            if !is_manifest(&path) {
                return Err(format!(
                    "not a FreeBSD package: the first member is {:?}, not +COMPACT_MANIFEST \
                     or +MANIFEST",
                    String::from_utf8_lossy(&path[..path.len().min(100)])
                ));
            }
        }
        let slot = if path == COMPACT.as_bytes() {
            &mut out.compact
        } else if path == FULL.as_bytes() {
            &mut out.full
        } else {
            // The manifests come first: the rest is payload.
            if !to_end {
                return Ok(out);
            }
            continue;
        };
        if slot.is_some() {
            return Err(format!(
                "bad package archive: {} appears twice",
                String::from_utf8_lossy(&path)
            ));
        }
        if entry.size > MAX_MANIFEST {
            return Err(format!(
                "{} is {} bytes, over the {MAX_MANIFEST} byte limit",
                String::from_utf8_lossy(&path),
                entry.size
            ));
        }
        *slot = Some(archive.read_data(MAX_MANIFEST).map_err(bad)?);
    }
    if out.compact.is_none() && out.full.is_none() {
        return Err("not a FreeBSD package: no +COMPACT_MANIFEST or +MANIFEST".into());
    }
    // Read the compressed stream to its end, so a damaged tail is caught too.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(bad)?;
    Ok(out)
}
