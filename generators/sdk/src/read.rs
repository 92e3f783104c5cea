//! Reading a stored package: [`Ranged`], a stream over the host's `package.read` with a
//! buffer (shareable between decoders through [`Handle`]); [`Cached`], random access with a
//! window cache (archive headers); and [`Mem`], an in-memory source for `claims`' head.
use std::cell::RefCell;
use std::io::{self, BufRead, Read};
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

/// The host's `package.read` over a package held in memory: fewer bytes at the end, none
/// past it (fuzzing feeds generators this way).
pub fn mem_read(bytes: &[u8]) -> impl FnMut(u64, u32) -> Result<Vec<u8>, String> + '_ {
    move |off, len| {
        let start = usize::try_from(off).map_or(bytes.len(), |o| o.min(bytes.len()));
        let end = start.saturating_add(len as usize).min(bytes.len());
        Ok(bytes[start..end].to_vec())
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

    /// The offset of the next byte the stream gives.
    pub fn position(&self) -> u64 {
        self.offset - (self.buf.len() - self.pos) as u64
    }

    /// Up to `len` bytes at `offset`, one ranged read beside the stream (it does not move).
    pub fn read_at(&mut self, offset: u64, len: u32) -> Result<Vec<u8>, String> {
        let got = (self.read)(offset, len)?;
        if got.len() > len as usize {
            return Err("the store returned more bytes than asked".into());
        }
        Ok(got)
    }
}

impl Read for Ranged<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.fill_buf()?.len().min(buf.len());
        buf[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Decoders that read exactly their own stream (flate2's `bufread`) stop where it ends.
impl BufRead for Ranged<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.fill()?;
        Ok(&self.buf[self.pos..])
    }
    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }
}

/// A shared handle on the `Ranged` source (zstd frames hand it from decoder to decoder).
#[derive(Clone)]
pub struct Handle<'a>(pub Rc<RefCell<Ranged<'a>>>);

impl Read for Handle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.borrow_mut().read(buf)
    }
}

impl Source for Handle<'_> {
    fn at_end(&mut self) -> io::Result<bool> {
        let mut s = self.0.borrow_mut();
        s.fill()?;
        Ok(s.pos >= s.buf.len())
    }
}

/// A decompressed stream that fails with `message` once more than `max` bytes came through
/// (a decompression bomb is refused, not decompressed to the end).
pub struct Capped<R> {
    inner: R,
    left: u64,
    message: String,
}

impl<R: Read> Capped<R> {
    pub fn new(inner: R, max: u64, message: impl Into<String>) -> Self {
        Capped {
            inner,
            left: max,
            message: message.into(),
        }
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One byte past the cap tells a stream that ends exactly there from a longer one.
        let want = buf
            .len()
            .min(self.left.saturating_add(1).min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            return Err(io::Error::other(self.message.clone()));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Random access to a package through `read(offset, len)`, for archives read by offsets (ar,
/// zip): a read that fits in `window` bytes fetches the whole window there, so headers next
/// to each other cost one ranged read; larger reads go through in chunks, uncached. A store
/// error comes back as "reading the package failed: ...".
pub struct Cached<R> {
    read: R,
    window: u32,
    buf_off: u64,
    buf: Vec<u8>,
    /// The cached window runs to the end of the file.
    buf_at_eof: bool,
}

/// The largest single read `Cached` asks for (the contract's `read` takes a u32; hosts should
/// not have to buffer more).
const MAX_ASK: u64 = 1 << 20;

impl<R: FnMut(u64, u32) -> Result<Vec<u8>, String>> Cached<R> {
    pub fn new(read: R, window: u32) -> Self {
        Cached {
            read,
            window,
            buf_off: 0,
            buf: Vec::new(),
            buf_at_eof: false,
        }
    }

    /// Up to `len` bytes from `off`, in chunks; short only at the end of the file. `len` is
    /// the caller's to bound: the buffer grows with what arrives, not with `len`.
    fn fetch(&mut self, off: u64, len: u64) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(len.min(MAX_ASK) as usize);
        while (out.len() as u64) < len {
            let ask = (len - out.len() as u64).min(MAX_ASK) as u32;
            let at = off.saturating_add(out.len() as u64);
            let got =
                (self.read)(at, ask).map_err(|e| format!("reading the package failed: {e}"))?;
            let n = got.len().min(ask as usize);
            out.extend_from_slice(&got[..n]);
            // The contract returns fewer bytes only at the end of the file.
            if n < ask as usize {
                break;
            }
        }
        Ok(out)
    }

    /// Bytes `[off, off+len)`, fewer if the file ends first.
    pub fn bytes(&mut self, off: u64, len: u64) -> Result<Vec<u8>, String> {
        let end = off.saturating_add(len);
        let buf_end = self.buf_off + self.buf.len() as u64;
        let cached = off >= self.buf_off && off <= buf_end && (end <= buf_end || self.buf_at_eof);
        if !cached {
            if len > u64::from(self.window) {
                return self.fetch(off, len);
            }
            self.buf = self.fetch(off, self.window.into())?;
            self.buf_off = off;
            self.buf_at_eof = self.buf.len() < self.window as usize;
        }
        let buf_end = self.buf_off + self.buf.len() as u64;
        let start = (off - self.buf_off) as usize;
        let stop = (end.min(buf_end) - self.buf_off) as usize;
        Ok(self.buf[start..stop].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_reads_one_window_for_neighbours() {
        let data: Vec<u8> = (0..=255).cycle().take(10_000).collect();
        let calls = std::cell::Cell::new(0);
        let mut c = Cached::new(
            |off, len| {
                calls.set(calls.get() + 1);
                mem_read(&data)(off, len)
            },
            4096,
        );
        assert_eq!(c.bytes(0, 8).unwrap(), &data[..8]);
        assert_eq!(c.bytes(8, 60).unwrap(), &data[8..68]);
        assert_eq!(calls.get(), 1);
        assert_eq!(c.bytes(5000, 6000).unwrap(), &data[5000..]);
        assert_eq!(c.bytes(9990, 100).unwrap(), &data[9990..]);
        assert_eq!(c.bytes(20_000, 10).unwrap(), b"");
        let err = Cached::new(|_, _| Err("down".into()), 16).bytes(0, 1);
        assert_eq!(err.unwrap_err(), "reading the package failed: down");
    }

    #[test]
    fn capped_allows_up_to_the_cap() {
        let mut out = Vec::new();
        Capped::new(&[7u8; 100][..], 100, "too big")
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), 100);
        let err = Capped::new(&[7u8; 101][..], 100, "too big").read_to_end(&mut out);
        assert_eq!(err.unwrap_err().to_string(), "too big");
    }

    #[test]
    fn ranged_is_a_bufread_that_knows_its_position() {
        let data: Vec<u8> = (0..100).collect();
        let mut r = Ranged::new(mem_read(&data), 7);
        let mut four = [0u8; 4];
        r.read_exact(&mut four).unwrap();
        assert_eq!((four, r.position()), ([0, 1, 2, 3], 4));
        assert_eq!(r.fill_buf().unwrap(), &[4, 5, 6]);
        r.consume(2);
        assert_eq!(r.position(), 6);
        assert_eq!(r.read_at(50, 3).unwrap(), [50, 51, 52]);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!((rest.len(), r.position()), (94, 100));
    }
}
