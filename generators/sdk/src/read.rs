//! Reading a stored package: ranged reads from the host's `package.read` with a buffer, and an
//! in-memory source for `claims`' head; both shareable between decoders.
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
