//! The compressions packages come in, told apart by their magic bytes, and a streaming
//! decoder for each (pure Rust: they build for wasm32-wasip2).
use crate::read::Source;
use crate::zstd::ZstdFrames;
use std::io::Read;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Zstd,
    Xz,
    Gzip,
    /// Not compressed.
    Plain,
}

/// The magic bytes each compression's stream starts with.
pub const COMPRESSED: [(Codec, &[u8]); 3] = [
    (Codec::Zstd, &[0x28, 0xb5, 0x2f, 0xfd]),
    (Codec::Xz, &[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]),
    (Codec::Gzip, &[0x1f, 0x8b]),
];

/// Where an uncompressed ustar archive says so.
pub const USTAR: (usize, &[u8]) = (257, b"ustar");

impl Codec {
    /// zstd, xz or gzip, by the stream's first bytes.
    pub fn sniff(head: &[u8]) -> Option<Codec> {
        COMPRESSED
            .iter()
            .find(|(_, magic)| head.starts_with(magic))
            .map(|(codec, _)| *codec)
    }

    /// As `sniff`, or `Plain` for an uncompressed ustar archive.
    pub fn sniff_tar(head: &[u8]) -> Option<Codec> {
        let (at, ustar) = USTAR;
        let end = at + ustar.len();
        // The byte after `ustar` (its NUL or space) must be there too.
        Codec::sniff(head)
            .or_else(|| (head.len() > end && &head[at..end] == ustar).then_some(Codec::Plain))
    }

    /// A decompressing reader over `src`: gzip members and zstd frames one after another are
    /// read as one stream; xz may use up to `xz_mem_limit_kb` KiB of dictionary.
    pub fn decoder<'a, S: Source + 'a>(self, src: S, xz_mem_limit_kb: u32) -> Box<dyn Read + 'a> {
        match self {
            Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(src)),
            Codec::Xz => Box::new(lzma_rust2::XzReader::new_mem_limit(
                src,
                true,
                xz_mem_limit_kb,
            )),
            Codec::Zstd => Box::new(ZstdFrames::new(src)),
            Codec::Plain => Box::new(src),
        }
    }
}

/// A gzip-compressed package (`.crate`, an npm `.tgz`) streamed through ranged reads,
/// `chunk` bytes at a time: `walk` reads it decompressed, at most `max_unpacked` bytes. `what`
/// names it in errors ("the crate"). A failed store read is reported as such, not as the
/// corrupt stream the decoder saw.
pub fn gunzip<'a, T>(
    read: impl FnMut(u64, u32) -> Result<Vec<u8>, String> + 'a,
    chunk: u32,
    max_unpacked: u64,
    what: &str,
    walk: impl FnOnce(crate::Capped<Box<dyn Read + 'a>>) -> Result<T, String>,
) -> Result<T, String> {
    use crate::{Capped, Handle, Ranged};
    use std::cell::RefCell;
    use std::rc::Rc;
    let src = Rc::new(RefCell::new(Ranged::new(read, chunk)));
    let head = src
        .borrow_mut()
        .peek(2)
        .map_err(|e| format!("reading {what} failed: {e}"))?;
    if Codec::sniff(&head) != Some(Codec::Gzip) {
        return Err(format!("{what} is not a gzip stream"));
    }
    let decoder = Capped::new(
        Codec::Gzip.decoder(Handle(src.clone()), 0),
        max_unpacked,
        format!("{what} unpacks to more than {max_unpacked} bytes"),
    );
    let result = walk(decoder);
    if let Some(e) = src.borrow_mut().failed.take() {
        return Err(format!("reading {what} failed: {e}"));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::Codec;

    #[test]
    fn sniffs_by_magic() {
        assert_eq!(
            Codec::sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Some(Codec::Zstd)
        );
        assert_eq!(Codec::sniff(b"\xfd7zXZ\0"), Some(Codec::Xz));
        assert_eq!(Codec::sniff(b"\x1f\x8b\x08"), Some(Codec::Gzip));
        assert_eq!(Codec::sniff(b"\x1f"), None);
        let mut tar = [0u8; 512];
        tar[257..263].copy_from_slice(b"ustar\0");
        assert_eq!(Codec::sniff(&tar), None);
        assert_eq!(Codec::sniff_tar(&tar), Some(Codec::Plain));
    }
}
