//! Streaming readers shared by the generators that unpack compressed tarballs (pacman,
//! FreeBSD pkg): ranged reads from the host's `package.read`, an in-memory source for
//! `claims`, and zstd across several frames (ruzstd's decoder reads exactly one).
use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{FrameDecoder, StreamingDecoder};
use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::Rc;

/// A byte source that can tell whether anything is left (for zstd's frame loop).
pub trait Source: Read + Clone {
    fn at_end(&mut self) -> io::Result<bool>;
}

/// `head` for `claims`, in memory (cloned handles share the position).
#[derive(Clone)]
pub struct Mem(pub Rc<RefCell<io::Cursor<Vec<u8>>>>);

impl Mem {
    pub fn new(bytes: Vec<u8>) -> Self {
        Mem(Rc::new(RefCell::new(io::Cursor::new(bytes))))
    }
}

impl Read for Mem {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.borrow_mut().read(buf)
    }
}

impl Source for Mem {
    fn at_end(&mut self) -> io::Result<bool> {
        let c = self.0.borrow();
        Ok(c.position() >= c.get_ref().len() as u64)
    }
}

/// The package in the store, read in chunks of `CHUNK` bytes.
pub struct Ranged<'a> {
    read: Box<dyn FnMut(u64, u32) -> Result<Vec<u8>, String> + 'a>,
    offset: u64,
    buf: Vec<u8>,
    pos: usize,
    chunk: u32,
    /// The store's own error, when a read failed (the decoder only sees an I/O error).
    pub failed: Option<String>,
}

impl<'a> Ranged<'a> {
    /// Reads through `read(offset, len)`, `chunk` bytes at a time.
    pub fn new(read: impl FnMut(u64, u32) -> Result<Vec<u8>, String> + 'a, chunk: u32) -> Self {
        Ranged {
            read: Box::new(read),
            offset: 0,
            buf: Vec::new(),
            pos: 0,
            chunk,
            failed: None,
        }
    }

    /// One ranged read at the current offset.
    fn fetch(&mut self) -> io::Result<Vec<u8>> {
        let got = match (self.read)(self.offset, self.chunk) {
            Ok(b) if b.len() > self.chunk as usize => {
                Err("the store returned more bytes than asked".to_string())
            }
            other => other,
        };
        match got {
            Ok(b) => {
                self.offset += b.len() as u64;
                Ok(b)
            }
            Err(e) => {
                self.failed = Some(e.clone());
                Err(io::Error::other(e))
            }
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.pos >= self.buf.len() {
            self.buf = self.fetch()?;
            self.pos = 0;
        }
        Ok(())
    }

    /// Up to `n` bytes ahead, without consuming them (short reads are joined).
    pub fn peek(&mut self, n: usize) -> io::Result<Vec<u8>> {
        self.buf.drain(..self.pos);
        self.pos = 0;
        while self.buf.len() < n {
            let more = self.fetch()?;
            if more.is_empty() {
                break;
            }
            self.buf.extend_from_slice(&more);
        }
        Ok(self.buf[..n.min(self.buf.len())].to_vec())
    }
}

/// A shared handle on the `Ranged` source (zstd frames hand it from decoder to decoder).
#[derive(Clone)]
pub struct Handle<'a>(pub Rc<RefCell<Ranged<'a>>>);

impl Read for Handle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut s = self.0.borrow_mut();
        s.fill()?;
        let n = (s.buf.len() - s.pos).min(buf.len());
        buf[..n].copy_from_slice(&s.buf[s.pos..s.pos + n]);
        s.pos += n;
        Ok(n)
    }
}

impl Source for Handle<'_> {
    fn at_end(&mut self) -> io::Result<bool> {
        let mut s = self.0.borrow_mut();
        s.fill()?;
        Ok(s.pos >= s.buf.len())
    }
}

/// A zstd stream of one or more frames (ruzstd's decoder reads exactly one), skippable
/// frames skipped.
pub struct ZstdFrames<S: Source> {
    src: S,
    frame: Option<StreamingDecoder<S, FrameDecoder>>,
}

impl<S: Source> ZstdFrames<S> {
    pub fn new(src: S) -> Self {
        ZstdFrames { src, frame: None }
    }
}

impl<S: Source> Read for ZstdFrames<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(frame) = &mut self.frame {
                let n = frame.read(buf)?;
                if n > 0 {
                    return Ok(n);
                }
                self.frame = None;
            }
            if self.src.at_end()? {
                return Ok(0);
            }
            match StreamingDecoder::new(self.src.clone()) {
                Ok(frame) => self.frame = Some(frame),
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                    length,
                    ..
                })) => {
                    let n = io::copy(
                        &mut (&mut self.src).take(u64::from(length)),
                        &mut io::sink(),
                    )?;
                    if n < u64::from(length) {
                        return Err(io::Error::other("zstd: skippable frame cut short"));
                    }
                }
                Err(e) => return Err(io::Error::other(format!("zstd: {e}"))),
            }
        }
    }
}

/// The name of the first real tar member (pax headers skipped) in what `dec` yields before it
/// ends or fails: `claims` decodes only the first bytes of a package. `None` when that is too
/// short to tell.
pub fn first_tar_member(mut dec: impl Read) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    // Decode until an error (the head ends mid-stream) or enough for a few headers.
    while out.len() < 64 << 10 {
        match dec.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    let mut at = 0usize;
    loop {
        let h = out.get(at..at + 512)?;
        let (kind, size) = (h[156], octal(&h[124..136])?);
        if matches!(kind, b'x' | b'g') {
            at = at
                .checked_add(512)?
                .checked_add(usize::try_from(size.div_ceil(512) * 512).ok()?)?;
            continue;
        }
        let name = &h[..100];
        return Some(name[..name.iter().position(|&b| b == 0).unwrap_or(100)].to_vec());
    }
}

/// A tar numeric field (octal, NUL- or space-padded).
pub fn octal(field: &[u8]) -> Option<u64> {
    let s: Vec<u8> = field
        .iter()
        .copied()
        .take_while(|&b| b != 0)
        .filter(|&b| b != b' ')
        .collect();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(&s).ok()?, 8).ok()
}
