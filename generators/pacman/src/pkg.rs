//! Reading a pacman package (`.pkg.tar.zst`, `.pkg.tar.xz`, `.pkg.tar.gz`): a compressed tar
//! whose dot-files (`.PKGINFO`, `.BUILDINFO`, `.MTREE`, ...) describe it and whose other
//! members are the files it installs.
//!
//! `claims` looks at the first bytes only; `read_package` streams the archive through ranged
//! reads until it has `.PKGINFO` and the file list: from `.MTREE` when the package has one
//! (makepkg puts both first, so only the head is read), else from every tar header.

use reposmith_generator_sdk::tar::Reader as TarReader;
pub use reposmith_generator_sdk::Codec;
use reposmith_generator_sdk::{Capped, Handle, Mem, Ranged};
use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::Rc;

/// `.PKGINFO` larger than this is not a package description.
const MAX_PKGINFO: u64 = 1 << 20;
/// The file list kept for `files`: at most this many bytes of names ...
const MAX_NAMES_BYTES: usize = 64 << 20;
/// ... and this many names.
const MAX_NAMES: usize = 1 << 20;
/// xz dictionaries up to 96 MiB (xz -9e uses 64 MiB); the host allows 256 MiB in all.
const XZ_MEM_LIMIT_KB: u32 = 96 << 10;
/// A compressed `.MTREE` larger than this is not read (the tar is listed instead).
const MAX_MTREE_GZ: u64 = 16 << 20;
/// One ranged read of the package.
const CHUNK: u32 = 256 << 10;
/// Uncompressed tar bytes read to list a package without `.MTREE` (makepkg always writes
/// one): past this, it is refused rather than decompressed until the fuel runs out (a
/// decompression bomb).
const MAX_UNPACKED: u64 = 256 << 20;
/// The dot-files pacman's tools put at the top of a package.
pub const META_FILES: [&str; 5] = [".PKGINFO", ".BUILDINFO", ".MTREE", ".INSTALL", ".CHANGELOG"];

/// The file name ending a compression gets: the package's canonical file name ends so.
pub fn suffix(codec: Codec) -> &'static str {
    match codec {
        Codec::Zstd => ".pkg.tar.zst",
        Codec::Xz => ".pkg.tar.xz",
        Codec::Gzip | Codec::Plain => ".pkg.tar.gz",
    }
}

/// Is this a pacman package? A zstd, xz or gzip stream whose tar starts with one of pacman's
/// dot-files (a FreeBSD `.pkg` starts with `+COMPACT_MANIFEST` and is refused). When the first
/// compressed block does not fit in `head` (a zstd block can be 128 KiB), the decision falls
/// back to the name: `.pkg.tar.zst` etc. with the matching magic; `analyze` then checks fully.
pub fn claims(filename: &str, head: &[u8]) -> bool {
    let Some(codec) = Codec::sniff(head) else {
        return false;
    };
    // An Alpine .apk is gzip members one after another (its control tar also starts with
    // .PKGINFO); a pacman .pkg.tar.gz is one member holding the whole tar.
    if filename.ends_with(".apk") || (codec == Codec::Gzip && second_gzip_member(head)) {
        return false;
    }
    match first_member(codec, head) {
        Some(name) => META_FILES.iter().any(|m| name.as_slice() == m.as_bytes()),
        None => filename.ends_with(suffix(codec)),
    }
}

/// Whether the first gzip member ends inside `head` and another one follows it.
fn second_gzip_member(head: &[u8]) -> bool {
    let mut rest: &[u8] = head;
    let mut member = flate2::bufread::GzDecoder::new(&mut rest);
    let mut sink = [0u8; 4096];
    loop {
        match member.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(_) => return false, // the head ends inside the first member
        }
    }
    drop(member);
    rest.starts_with(&[0x1f, 0x8b])
}

/// The name of the first real tar member in the decompressed start of `head`, skipping pax
/// headers; `None` when `head` does not decompress far enough to tell.
fn first_member(codec: Codec, head: &[u8]) -> Option<Vec<u8>> {
    let name = reposmith_generator_sdk::first_tar_member(
        codec.decoder(Mem::new(head.to_vec()), XZ_MEM_LIMIT_KB),
    )?;
    Some(name.strip_prefix(b"./").unwrap_or(&name).to_vec())
}

/// What a package says about itself.
#[derive(Debug, PartialEq, Eq)]
pub struct Contents {
    pub pkginfo: Vec<u8>,
    /// How the package is compressed (its canonical file name ends accordingly).
    pub codec: Codec,
    /// Installed paths in tar order, directories with a trailing `/`.
    pub files: Vec<String>,
}

/// Streams the package through `read` and collects `.PKGINFO` and the file list.
pub fn read_package<'a, R>(read: R) -> Result<Contents, String>
where
    R: FnMut(u64, u32) -> Result<Vec<u8>, String> + 'a,
{
    let src = Rc::new(RefCell::new(Ranged::new(read, CHUNK)));
    let head = {
        let mut s = src.borrow_mut();
        s.peek(8)
            .map_err(|e| format!("reading the package failed: {e}"))?
    };
    let codec = Codec::sniff(&head)
        .ok_or_else(|| "not a pacman package: not a zstd, xz or gzip compressed tar".to_string())?;
    let decoder = Capped::new(
        codec.decoder(Handle(src.clone()), XZ_MEM_LIMIT_KB),
        MAX_UNPACKED,
        format!(
            "it decompresses to more than {MAX_UNPACKED} bytes before its file list ends \
             (refused: a package this large needs a .MTREE)"
        ),
    );
    let result = walk(Box::new(decoder), codec);
    // A failed store read shows up as an I/O error inside the decoder: name it as such.
    if let Some(e) = src.borrow_mut().failed.take() {
        return Err(format!("reading the package failed: {e}"));
    }
    result
}

fn walk(decoder: Box<dyn Read + '_>, codec: Codec) -> Result<Contents, String> {
    let bad = |e: io::Error| format!("bad package archive: {e}");
    let mut archive = TarReader::new(decoder);
    let mut out = Contents {
        pkginfo: Vec::new(),
        codec,
        files: Vec::new(),
    };
    let mut pkginfo = false;
    let mut names_bytes = 0usize;
    let mut first = true;
    let mut mtree: Option<Vec<String>> = None;
    while let Some(entry) = archive.next_member().map_err(bad)? {
        let raw = &entry.name;
        let path = raw.strip_prefix(b"./").unwrap_or(raw);
        if first {
            first = false;
            if path == b"+COMPACT_MANIFEST" || path == b"+MANIFEST" {
                return Err("not a pacman package: this is a FreeBSD pkg".into());
            }
        }
        if path == b".PKGINFO" {
            if pkginfo {
                return Err("bad package archive: .PKGINFO appears twice".into());
            }
            pkginfo = true;
            if entry.size > MAX_PKGINFO {
                return Err(format!(
                    ".PKGINFO is {} bytes, over the {MAX_PKGINFO} byte limit",
                    entry.size
                ));
            }
            out.pkginfo = archive
                .read_data(MAX_PKGINFO)
                .map_err(|e| format!("bad package archive: reading .PKGINFO: {e}"))?;
        } else if path == b".MTREE" && mtree.is_none() && entry.size <= MAX_MTREE_GZ {
            let gz = archive
                .read_data(MAX_MTREE_GZ)
                .map_err(|e| format!("bad package archive: reading .MTREE: {e}"))?;
            mtree = crate::mtree::files(&gz);
        }
        if pkginfo {
            if let Some(files) = mtree.take() {
                // The manifest lists the rest: no need to decompress the payload.
                out.files = files;
                return Ok(out);
            }
        }
        // repo-add lists `bsdtar --exclude='^.*'`: every path starting with a dot is metadata.
        if path.is_empty() || path.starts_with(b".") {
            continue;
        }
        let mut name = String::from_utf8(path.to_vec())
            .map_err(|_| "bad package archive: a file name is not UTF-8".to_string())?;
        if name.contains(['\n', '\r']) {
            return Err("bad package archive: a file name has a line break".into());
        }
        if entry.is_dir() && !name.ends_with('/') {
            name.push('/');
        }
        names_bytes += name.len() + 1;
        if names_bytes > MAX_NAMES_BYTES || out.files.len() >= MAX_NAMES {
            return Err("the package lists too many files".into());
        }
        out.files.push(name);
    }
    if !pkginfo {
        return Err("not a pacman package: no .PKGINFO in the archive".into());
    }
    // Read the compressed stream to its end, so a truncated or damaged tail is caught too.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(bad)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testpkg::{self, Codec as C};

    use reposmith_generator_sdk::testing::{damaged, reader};
    use std::io::Write;

    #[test]
    fn claims_by_content() {
        for c in [C::Zstd, C::Xz, C::Gzip] {
            let p = testpkg::sample(c);
            let head = &p[..p.len().min(4096)];
            assert!(claims("x.bin", head), "{c:?}");
            assert!(!claims("x.bin", &head[..3]), "{c:?} 3 bytes");
        }
        assert!(!claims("a.pkg.tar.zst", b"hello"));
        assert!(!claims("a.pkg.tar.zst", b""));
        assert!(!claims("a.deb", b"!<arch>\ndebian-binary   "));
    }

    /// A small package whose one file decompresses to far more than [`MAX_UNPACKED`]: refused
    /// as the package's fault once the cap is reached, not decompressed to the end.
    #[test]
    fn a_decompression_bomb_is_refused() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let head = testpkg::tar(&[(".PKGINFO", testpkg::PKGINFO.as_bytes())]);
        gz.write_all(&head[..head.len() - 1024]).unwrap(); // without the end-of-archive blocks
        let big = MAX_UNPACKED + (64 << 20);
        let mut h = tar::Header::new_ustar();
        h.set_path("usr/share/zeros").unwrap();
        h.set_size(big);
        h.set_mode(0o644);
        h.set_cksum();
        gz.write_all(h.as_bytes()).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..(big >> 20) {
            gz.write_all(&zeros).unwrap();
        }
        gz.write_all(&[0u8; 1024]).unwrap();
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < (2 << 20), "{} bytes", bomb.len());
        let err = read_package(reader(bomb)).unwrap_err();
        assert!(err.contains("decompresses to more than"), "{err}");
    }

    #[test]
    fn freebsd_pkg_is_never_claimed() {
        for c in [C::Zstd, C::Xz, C::Gzip] {
            let tar = testpkg::tar(&[
                ("+COMPACT_MANIFEST", b"{\"name\":\"x\"}".as_slice()),
                ("+MANIFEST", b"{}".as_slice()),
                ("usr/local/bin/x", b"x".as_slice()),
            ]);
            let p = testpkg::compress(c, &tar);
            assert!(!claims("x-1.0.pkg", &p[..p.len().min(4096)]), "{c:?}");
            // Even named like a pacman package.
            assert!(!claims("x-1.0-1-any.pkg.tar.zst", &p[..p.len().min(4096)]));
            let err = read_package(reader(p)).unwrap_err();
            assert!(err.contains("FreeBSD"), "{err}");
        }
    }

    #[test]
    fn big_first_block_falls_back_to_the_name() {
        // Incompressible data right after the dot-files: the first zstd block is >4 KiB.
        let noise = testpkg::noise(300 << 10);
        let tar = testpkg::tar(&[
            (".PKGINFO", testpkg::PKGINFO.as_bytes()),
            ("usr/share/noise", &noise),
        ]);
        let p = testpkg::compress(C::Zstd, &tar);
        let head = &p[..4096];
        assert!(claims("a-1-1-any.pkg.tar.zst", head));
        assert!(!claims("a-1-1-any.pkg.tar.xz", head));
    }

    #[test]
    fn reads_every_compression() {
        for c in [C::Zstd, C::Xz, C::Gzip] {
            let got = read_package(reader(testpkg::sample(c))).unwrap();
            assert_eq!(got.pkginfo, testpkg::PKGINFO.as_bytes(), "{c:?}");
            assert_eq!(
                got.files,
                [
                    "usr/",
                    "usr/bin/",
                    "usr/bin/harness",
                    "usr/share/doc/README"
                ],
                "{c:?}"
            );
        }
    }

    #[test]
    fn multi_frame_and_skippable_zstd() {
        let tar = testpkg::sample_tar();
        let (a, b) = tar.split_at(1536);
        let mut p = testpkg::compress(C::Zstd, a);
        p.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
        p.extend_from_slice(&testpkg::compress(C::Zstd, b));
        let got = read_package(reader(p)).unwrap();
        assert_eq!(got.files.len(), 4);
    }

    #[test]
    fn small_reads_are_fine() {
        let p = testpkg::sample(C::Xz);
        let got = read_package(move |off, len| {
            let start = (off as usize).min(p.len());
            let end = start.saturating_add((len as usize).min(7)).min(p.len());
            Ok(p[start..end].to_vec())
        })
        .unwrap();
        assert_eq!(got.files.len(), 4);
    }

    #[test]
    fn rejects_garbage_and_missing_pkginfo() {
        let err = read_package(reader(b"not a package".to_vec())).unwrap_err();
        assert!(err.contains("not a pacman package"), "{err}");
        let err = read_package(reader(Vec::new())).unwrap_err();
        assert!(err.contains("not a pacman package"), "{err}");
        let tar = testpkg::tar(&[("usr/bin/x", b"x".as_slice())]);
        let err = read_package(reader(testpkg::compress(C::Gzip, &tar))).unwrap_err();
        assert!(err.contains("no .PKGINFO"), "{err}");
    }

    #[test]
    fn without_mtree_the_tar_is_listed() {
        for c in [C::Zstd, C::Xz, C::Gzip] {
            let p = testpkg::compress(c, &testpkg::sample_tar_without_mtree());
            let got = read_package(reader(p)).unwrap();
            assert_eq!(
                got.files,
                [
                    "usr/",
                    "usr/bin/",
                    "usr/bin/harness",
                    "usr/share/doc/README"
                ],
                "{c:?}"
            );
        }
    }

    #[test]
    fn with_mtree_only_the_head_is_read() {
        let mut tar = testpkg::sample_tar();
        tar.truncate(tar.len() - 1024); // drop the end marker, append a big member
        let noise = testpkg::noise(4 << 20);
        tar.extend(testpkg::tar(&[("usr/share/big", &noise)]));
        let p = testpkg::compress(C::Zstd, &tar);
        let read = Rc::new(RefCell::new(0u64));
        let counter = read.clone();
        let got = read_package(move |off, len| {
            let start = (off as usize).min(p.len());
            let end = start.saturating_add(len as usize).min(p.len());
            *counter.borrow_mut() += (end - start) as u64;
            Ok(p[start..end].to_vec())
        })
        .unwrap();
        assert_eq!(got.files.len(), 4, "the manifest's list, not the tar's");
        assert!(
            *read.borrow() <= u64::from(CHUNK),
            "read {} bytes",
            read.borrow()
        );
    }

    #[test]
    fn rejects_truncation() {
        for c in [C::Zstd, C::Xz, C::Gzip] {
            let p = testpkg::compress(c, &testpkg::sample_tar_without_mtree());
            for cut in [p.len() - 1, p.len() - 5, p.len() / 2, 20] {
                let err = read_package(reader(p[..cut].to_vec()));
                assert!(err.is_err(), "{c:?} cut at {cut} of {}", p.len());
            }
        }
    }

    #[test]
    fn read_errors_are_reported() {
        let err = read_package(|_, _| Err("store unavailable".into())).unwrap_err();
        assert_eq!(err, "reading the package failed: store unavailable");
        let p = testpkg::sample(C::Gzip);
        let err = read_package(move |off, len| {
            if off > 0 {
                return Err("gone".into());
            }
            Ok(p[..(len as usize).min(100)].to_vec())
        })
        .unwrap_err();
        assert_eq!(err, "reading the package failed: gone");
    }

    /// Random damage to valid packages of every compression must give errors, not panics.
    #[test]
    fn never_panics_on_damaged_input() {
        for c in [C::Zstd, C::Xz, C::Gzip] {
            let good = testpkg::sample(c);
            for bad in damaged(&good, 600) {
                let _ = claims("a.pkg.tar.zst", &bad[..bad.len().min(4096)]);
                if let Ok(c) = read_package(reader(bad)) {
                    let _ = crate::pkginfo::PkgInfo::parse(&c.pkginfo);
                }
            }
        }
    }
}

#[cfg(test)]
mod apk_tests {
    use super::claims;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn an_apk_is_not_claimed() {
        // An apk's control stream: a tar starting with .PKGINFO, cut before its end blocks,
        // then the data stream as a second gzip member.
        let mut hdr = [0u8; 512];
        hdr[..9].copy_from_slice(b".PKGINFO\0");
        hdr[124..136].copy_from_slice(b"00000000010\0");
        hdr[156] = b'0';
        let mut control = hdr.to_vec();
        control.extend_from_slice(&[b'x'; 512]);
        let mut apk = gz(&control);
        apk.extend(gz(&[0u8; 1024]));
        assert!(!claims("zdata", &apk));
        assert!(!claims("zdata.apk", &gz(&control)));
        // The same tar as one member (a pacman .pkg.tar.gz) is claimed.
        let mut tar = control.clone();
        tar.extend_from_slice(&[0u8; 1024]);
        assert!(claims("x.pkg.tar.gz", &gz(&tar)));
    }
}
