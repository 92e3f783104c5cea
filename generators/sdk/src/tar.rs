//! Reading tar streams (ustar, GNU and pax): member names (GNU `L`/`K` long names, pax
//! `path`/`linkpath`/`size`), kinds and sizes, the data of the members a caller wants and
//! nothing of the others. Bounded: long names and pax headers are read only up to a cap,
//! never to the size a header claims (the `tar` crate reads them whole).
use std::io::{self, Read};

/// What a long name (GNU `L`/`K` member) may take.
pub const MAX_NAME: u64 = 64 << 10;
/// What a pax extended header may take.
pub const MAX_PAX: u64 = 1 << 20;

/// A member's header, its extensions applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The path as stored (`./usr/bin/x`, `usr/`), without trailing NULs.
    pub name: Vec<u8>,
    /// A link's target (empty for other members).
    pub link: Vec<u8>,
    /// The type flag: `b'0'` (or 0) a file, `b'5'` a directory, `b'2'` a symlink, ...
    pub kind: u8,
    /// The size of its data in the stream.
    pub size: u64,
    pub mode: u32,
    pub mtime: u64,
}

impl Member {
    /// A regular file.
    pub fn is_file(&self) -> bool {
        matches!(self.kind, b'0' | 0)
    }

    pub fn is_dir(&self) -> bool {
        self.kind == b'5'
    }

    /// `name` without leading `./` and `/`.
    pub fn path(&self) -> &[u8] {
        clean(&self.name)
    }
}

/// A member name without leading `./` and `/`.
pub fn clean(name: &[u8]) -> &[u8] {
    let mut n = name;
    while let Some(rest) = n.strip_prefix(b"./").or_else(|| n.strip_prefix(b"/")) {
        n = rest;
    }
    n
}

/// The members of a tar stream, one after another: `next_member` skips whatever of the
/// previous member's data was not read. The end is an all-zero block or the stream ending
/// at a block boundary (apk's tar segments have no end blocks).
pub struct Reader<R> {
    inner: R,
    /// Data of the current member not read yet, and the padding after it.
    left: u64,
    pad: u64,
    done: bool,
}

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

impl<R: Read> Reader<R> {
    pub fn new(inner: R) -> Self {
        Reader {
            inner,
            left: 0,
            pad: 0,
            done: false,
        }
    }

    /// The next member (`None` at the end of the archive).
    pub fn next_member(&mut self) -> io::Result<Option<Member>> {
        let (mut long_name, mut long_link, mut pax) = (None, None, Pax::default());
        loop {
            if self.done {
                return Ok(None);
            }
            self.skip_rest()?;
            let Some(h) = self.header()? else {
                self.done = true;
                return Ok(None);
            };
            let kind = h[156];
            let size = number(&h[124..136]).ok_or_else(|| bad("tar: bad size field"))?;
            self.left = size;
            self.pad = padding(size);
            match kind {
                b'L' | b'K' => {
                    let mut data = self.read_data(MAX_NAME)?;
                    while data.last() == Some(&0) {
                        data.pop();
                    }
                    if kind == b'L' {
                        long_name = Some(data);
                    } else {
                        long_link = Some(data);
                    }
                }
                b'x' => pax = Pax::parse(&self.read_data(MAX_PAX)?)?,
                // Global pax headers set defaults nobody here needs.
                b'g' => {}
                _ => {
                    if let Some(s) = pax.size {
                        self.left = s;
                        self.pad = padding(s);
                    }
                    let name = pax.path.or(long_name).unwrap_or_else(|| header_name(&h));
                    let link = pax
                        .linkpath
                        .or(long_link)
                        .unwrap_or_else(|| cut(&h[157..257]));
                    return Ok(Some(Member {
                        name,
                        link,
                        kind,
                        size: self.left,
                        mode: number(&h[100..108]).unwrap_or(0) as u32,
                        mtime: number(&h[136..148]).unwrap_or(0),
                    }));
                }
            }
        }
    }

    /// The rest of the current member's data, as a reader.
    pub fn data(&mut self) -> impl Read + '_ {
        Data { r: self }
    }

    /// The current member's data, all of it: an error when it is over `max` bytes or cut short.
    pub fn read_data(&mut self, max: u64) -> io::Result<Vec<u8>> {
        if self.left > max {
            return Err(bad(format!(
                "tar: a member of {} bytes, over the {max} byte limit",
                self.left
            )));
        }
        let want = self.left;
        let mut out = Vec::with_capacity(want.min(64 << 10) as usize);
        self.data().read_to_end(&mut out)?;
        if (out.len() as u64) < want {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "tar: a member's data is cut short",
            ));
        }
        Ok(out)
    }

    /// The stream after the last member read (the end blocks, if not reached, included).
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn skip_rest(&mut self) -> io::Result<()> {
        let n = self.left + self.pad;
        let skipped = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        (self.left, self.pad) = (0, 0);
        if skipped < n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "tar: the archive ends inside a member",
            ));
        }
        Ok(())
    }

    /// The next 512-byte header; `None` at an all-zero block or the stream's end.
    fn header(&mut self) -> io::Result<Option<[u8; 512]>> {
        let mut h = [0u8; 512];
        let mut got = 0;
        while got < 512 {
            match self.inner.read(&mut h[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if got == 0 || h.iter().all(|&b| b == 0) {
            return Ok(None);
        }
        if got < 512 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "tar: the archive ends inside a header",
            ));
        }
        if !checksum_ok(&h) {
            return Err(bad("tar: header checksum mismatch"));
        }
        Ok(Some(h))
    }
}

struct Data<'a, R> {
    r: &'a mut Reader<R>,
}

impl<R: Read> Read for Data<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.r.left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        // Cut short, `left` stays: the next `next_member` fails rather than read on.
        let n = self.r.inner.read(&mut buf[..want])?;
        self.r.left -= n as u64;
        Ok(n)
    }
}

/// What a pax extended header says that matters here.
#[derive(Default)]
struct Pax {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<u64>,
}

impl Pax {
    /// Records `LEN key=value\n`, LEN counting the whole record.
    fn parse(mut data: &[u8]) -> io::Result<Pax> {
        let mut pax = Pax::default();
        while !data.is_empty() && data[0] != 0 {
            let sp = data
                .iter()
                .position(|&b| b == b' ')
                .ok_or_else(|| bad("tar: bad pax record"))?;
            let len: usize = std::str::from_utf8(&data[..sp])
                .ok()
                .and_then(|s| s.parse().ok())
                .filter(|&l| l > sp + 1 && l <= data.len())
                .ok_or_else(|| bad("tar: bad pax record length"))?;
            let record = &data[sp + 1..len];
            let record = record.strip_suffix(b"\n").unwrap_or(record);
            if let Some(eq) = record.iter().position(|&b| b == b'=') {
                let (key, value) = (&record[..eq], &record[eq + 1..]);
                match key {
                    b"path" => pax.path = Some(value.to_vec()),
                    b"linkpath" => pax.linkpath = Some(value.to_vec()),
                    b"size" => {
                        pax.size = Some(
                            std::str::from_utf8(value)
                                .ok()
                                .and_then(|s| s.parse().ok())
                                .ok_or_else(|| bad("tar: bad pax size"))?,
                        )
                    }
                    _ => {}
                }
            }
            data = &data[len..];
        }
        Ok(pax)
    }
}

fn padding(size: u64) -> u64 {
    (512 - size % 512) % 512
}

/// A NUL-terminated field.
fn cut(field: &[u8]) -> Vec<u8> {
    field[..field.iter().position(|&b| b == 0).unwrap_or(field.len())].to_vec()
}

/// The name field, with the POSIX ustar prefix (GNU headers use that space for other things).
fn header_name(h: &[u8; 512]) -> Vec<u8> {
    let name = cut(&h[..100]);
    let prefix = cut(&h[345..500]);
    if &h[257..263] != b"ustar\0" || prefix.is_empty() {
        return name;
    }
    let mut out = prefix;
    out.push(b'/');
    out.extend_from_slice(&name);
    out
}

/// The header's checksum: the sum of its bytes with the checksum field as spaces (some old
/// tars summed signed bytes).
fn checksum_ok(h: &[u8; 512]) -> bool {
    let Some(want) = octal(&h[148..156]) else {
        return false;
    };
    let field = |i: usize| if (148..156).contains(&i) { b' ' } else { h[i] };
    let unsigned: u64 = (0..512).map(|i| u64::from(field(i))).sum();
    let signed: i64 = (0..512).map(|i| i64::from(field(i) as i8)).sum();
    want == unsigned || i64::try_from(want) == Ok(signed)
}

/// A numeric field: octal, or GNU base-256 (high bit set) for large values.
fn number(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        let mut n = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            n = n.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(n);
    }
    octal(field)
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

/// The name of the first real tar member (extension headers applied) in what `dec` yields
/// before it ends or fails: `claims` decodes only the first bytes of a package. `None` when
/// that is too short to tell.
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
    Reader::new(out.as_slice())
        .next_member()
        .ok()
        .flatten()
        .map(|m| m.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gnu(path: &str, data: &[u8]) -> tar::Builder<Vec<u8>> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, path, data).unwrap();
        b
    }

    fn names(tar: &[u8]) -> io::Result<Vec<(String, u64)>> {
        let mut r = Reader::new(tar);
        let mut out = Vec::new();
        while let Some(m) = r.next_member()? {
            out.push((String::from_utf8_lossy(&m.name).into_owned(), m.size));
        }
        Ok(out)
    }

    #[test]
    fn ustar_gnu_long_names_and_pax() {
        let long = format!("usr/share/{}/file", "d".repeat(150));
        let mut b = gnu(&long, b"hello");
        // A directory, a symlink with a long target.
        let mut d = tar::Header::new_ustar();
        d.set_entry_type(tar::EntryType::Directory);
        d.set_size(0);
        b.append_data(&mut d, "usr/", &[][..]).unwrap();
        let target = "t".repeat(120);
        let mut l = tar::Header::new_gnu();
        l.set_entry_type(tar::EntryType::Symlink);
        l.set_size(0);
        b.append_link(&mut l, "usr/link", &target).unwrap();
        // A pax header naming the next member.
        let pax_path = format!("{}/pax", "p".repeat(200));
        b.append_pax_extensions([("path", pax_path.as_bytes())])
            .unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_size(3);
        b.append_data(&mut h, "short", &b"abc"[..]).unwrap();
        let tar = b.into_inner().unwrap();

        let mut r = Reader::new(tar.as_slice());
        let m = r.next_member().unwrap().unwrap();
        assert_eq!(
            (m.name.as_slice(), m.size, m.is_file()),
            (long.as_bytes(), 5, true)
        );
        assert_eq!(r.read_data(5).unwrap(), b"hello");
        let m = r.next_member().unwrap().unwrap();
        assert_eq!((m.path(), m.is_dir()), (&b"usr/"[..], true));
        let m = r.next_member().unwrap().unwrap();
        assert_eq!((m.kind, m.link.as_slice()), (b'2', target.as_bytes()));
        let m = r.next_member().unwrap().unwrap();
        assert_eq!(m.name, pax_path.as_bytes());
        // Data left unread is skipped.
        assert!(r.next_member().unwrap().is_none());
        assert!(r.next_member().unwrap().is_none());
    }

    #[test]
    fn ustar_prefix_and_segments_without_end_blocks() {
        let mut h = [0u8; 512];
        h[..4].copy_from_slice(b"file");
        h[124..135].copy_from_slice(b"00000000002");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[345..348].copy_from_slice(b"dir");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        let mut seg = h.to_vec();
        seg.extend_from_slice(b"hi");
        seg.resize(1024, 0);
        assert_eq!(names(&seg).unwrap(), [("dir/file".to_string(), 2)]);
        // Cut inside the header or the data: an error, not an end.
        assert!(names(&seg[..300]).is_err());
        let mut r = Reader::new(&seg[..513]);
        r.next_member().unwrap();
        assert!(r.read_data(10).is_err());
        assert!(names(&seg[..513]).is_err());
    }

    #[test]
    fn bounded() {
        // A long name claiming more than the cap is refused, not read.
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::GNULongName);
        h.set_size(MAX_NAME + 1);
        h.set_cksum();
        let mut tar = h.as_bytes().to_vec();
        tar.extend_from_slice(&[b'a'; 1024]);
        let err = names(&tar).unwrap_err();
        assert!(err.to_string().contains("over the"), "{err}");
        // read_data's own cap.
        let tar = gnu("big", &[1u8; 2000]).into_inner().unwrap();
        let mut r = Reader::new(tar.as_slice());
        r.next_member().unwrap();
        assert!(r.read_data(1999).is_err());
        // A damaged header is an error.
        let mut tar = gnu("x", b"x").into_inner().unwrap();
        tar[10] ^= 1;
        assert!(names(&tar).unwrap_err().to_string().contains("checksum"));
    }

    #[test]
    fn base_256_sizes() {
        assert_eq!(number(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]), Some(256));
        assert_eq!(number(b"0000012\0"), Some(10));
        assert_eq!(number(&[0xff; 12]), None);
    }

    #[test]
    fn first_member_of_a_head() {
        let tar = gnu(&format!("{}/x", "n".repeat(120)), b"x")
            .into_inner()
            .unwrap();
        assert_eq!(
            first_tar_member(&tar[..1536]).unwrap(),
            format!("{}/x", "n".repeat(120)).as_bytes()
        );
        assert_eq!(first_tar_member(&tar[..100]), None);
    }

    #[test]
    fn never_panics_on_damage() {
        let mut b = gnu(&"l".repeat(200), b"data");
        b.append_pax_extensions([("path", &b"pax"[..])]).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_size(1);
        b.append_data(&mut h, "y", &b"y"[..]).unwrap();
        let good = b.into_inner().unwrap();
        let mut seed = 7u32;
        for round in 0..3000 {
            let mut bad = good.clone();
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let i = seed as usize % bad.len();
            if round % 3 == 0 {
                bad.truncate(i);
            } else {
                bad[i] = (seed >> 16) as u8;
            }
            let _ = names(&bad);
        }
    }
}
