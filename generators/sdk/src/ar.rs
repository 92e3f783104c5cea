//! Reading `ar` archives (what a `.deb` is) by ranged reads: member headers one after another,
//! a member's bytes only when asked. Names in the common form (`name`, space padded), GNU's
//! (`name/`, long names as `/OFFSET` into the `//` member) and BSD's (`#1/LEN`, the name
//! before the data).
use crate::read::Cached;
use std::fmt;

pub const MAGIC: &[u8; 8] = b"!<arch>\n";
pub const HEADER_LEN: u64 = 60;
/// A long name (GNU table entry, BSD `#1/LEN`) may take this many bytes.
const MAX_NAME: u64 = 4096;
/// GNU's long-name table may take this many bytes.
const MAX_TABLE: u64 = 1 << 20;

/// What went wrong, for the format to word (a `.deb` says "not a .deb").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The store's read failed ("reading the package failed: ...").
    Read(String),
    /// No `!<arch>\n` at the start.
    NoMagic,
    /// The member header at `offset` is cut short by the end of the file at `end`.
    ShortHeader { offset: u64, end: u64 },
    /// The member header at `offset` is not one.
    BadHeader { offset: u64 },
    /// A member's size field is not a number.
    BadSize { name: String },
    /// A member claims `size` bytes, but the file ends at `end`.
    Truncated { name: String, size: u64, end: u64 },
    /// A member is larger than the reader was told to accept.
    TooLarge { name: String, size: u64, max: u64 },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read(e) => write!(f, "{e}"),
            Error::NoMagic => write!(f, "not an ar archive: no \"!<arch>\" signature"),
            Error::ShortHeader { offset, end } => write!(
                f,
                "truncated ar archive: member header at offset {offset} is cut short, file ends at {end}"
            ),
            Error::BadHeader { offset } => write!(f, "bad ar member header at offset {offset}"),
            Error::BadSize { name } => write!(f, "bad size field in the header of ar member {name:?}"),
            Error::Truncated { name, size, end } => write!(
                f,
                "truncated ar archive: member {name} claims {size} bytes, file ends at {end}"
            ),
            Error::TooLarge { name, size, max } => {
                write!(f, "ar member {name} claims {size} bytes, over the {max} byte limit")
            }
        }
    }
}

/// One member: its name and where its data is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    /// Offset of the member's data (after its header, and a BSD long name).
    pub offset: u64,
    pub size: u64,
}

/// An ar member name as a 16-byte header field has it: space padding and GNU's trailing `/`
/// taken off (the symbol tables `/` and `/SYM64/` keep theirs).
pub fn short_name(raw: &[u8]) -> &[u8] {
    let end = raw.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    let name = &raw[..end];
    if name == b"/" || name == b"//" || name == b"/SYM64/" {
        return name;
    }
    name.strip_suffix(b"/").unwrap_or(name)
}

/// The members of an ar archive, in order.
pub struct Reader<R> {
    src: Cached<R>,
    next: u64,
    /// GNU's long-name table (the `//` member), once seen.
    table: Vec<u8>,
}

impl<R: FnMut(u64, u32) -> Result<Vec<u8>, String>> Reader<R> {
    /// Checks the signature. Headers are read `window` bytes at a time: a window that covers
    /// the first members makes a small `.deb` one ranged read.
    pub fn new(read: R, window: u32) -> Result<Self, Error> {
        let mut src = Cached::new(read, window);
        if src.bytes(0, 8).map_err(Error::Read)? != MAGIC {
            return Err(Error::NoMagic);
        }
        Ok(Reader {
            src,
            next: 8,
            table: Vec::new(),
        })
    }

    /// The next member; `None` at the end of the archive. The `//` table is read, not given.
    pub fn next_member(&mut self) -> Result<Option<Member>, Error> {
        loop {
            let Some(m) = self.header()? else {
                return Ok(None);
            };
            if m.name != "//" {
                return Ok(Some(m));
            }
            self.table = self.read(&m, MAX_TABLE)?;
        }
    }

    /// Up to `len` bytes of a member's data from its start (a member is read in part).
    pub fn head(&mut self, m: &Member, len: u64) -> Result<Vec<u8>, Error> {
        let want = len.min(m.size);
        let got = self.src.bytes(m.offset, want).map_err(Error::Read)?;
        if (got.len() as u64) < want {
            return Err(truncated(m, got.len() as u64));
        }
        Ok(got)
    }

    /// A member's whole data, if it is at most `max` bytes.
    pub fn read(&mut self, m: &Member, max: u64) -> Result<Vec<u8>, Error> {
        if m.size > max {
            return Err(Error::TooLarge {
                name: m.name.clone(),
                size: m.size,
                max,
            });
        }
        self.head(m, m.size)
    }

    fn header(&mut self) -> Result<Option<Member>, Error> {
        let off = self.next;
        let hdr = self.src.bytes(off, HEADER_LEN).map_err(Error::Read)?;
        if hdr.is_empty() {
            return Ok(None);
        }
        if (hdr.len() as u64) < HEADER_LEN {
            return Err(Error::ShortHeader {
                offset: off,
                end: off + hdr.len() as u64,
            });
        }
        if &hdr[58..60] != b"`\n" {
            return Err(Error::BadHeader { offset: off });
        }
        let raw = short_name(&hdr[..16]);
        let mut name = String::from_utf8_lossy(raw).into_owned();
        let mut size =
            decimal(&hdr[48..58]).ok_or_else(|| Error::BadSize { name: name.clone() })?;
        let mut data = off + HEADER_LEN;
        self.next = data
            .checked_add(size + (size & 1))
            .ok_or(Error::BadHeader { offset: off })?;
        if let Some(len) = raw.strip_prefix(b"#1/").and_then(decimal) {
            // BSD: the name is the first `len` bytes of the data.
            if len > size || len > MAX_NAME {
                return Err(Error::BadHeader { offset: off });
            }
            let m = Member {
                name,
                offset: data,
                size: len,
            };
            let bytes = self.head(&m, len)?;
            let bytes = bytes.split(|&b| b == 0).next().unwrap_or_default();
            name = String::from_utf8_lossy(bytes).into_owned();
            (data, size) = (data + len, size - len);
        } else if let Some(at) = raw.strip_prefix(b"/").and_then(decimal) {
            // GNU: `/OFFSET` into the `//` table, each name ending in "/\n".
            let rest = usize::try_from(at)
                .ok()
                .and_then(|at| self.table.get(at..))
                .ok_or(Error::BadHeader { offset: off })?;
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let long = &rest[..end];
            name = String::from_utf8_lossy(long.strip_suffix(b"/").unwrap_or(long)).into_owned();
        }
        Ok(Some(Member {
            name,
            offset: data,
            size,
        }))
    }
}

fn truncated(m: &Member, got: u64) -> Error {
    Error::Truncated {
        name: m.name.clone(),
        size: m.size,
        end: m.offset + got,
    }
}

/// An ar decimal field: ASCII digits, space padded; at most 10 digits, so no overflow.
fn decimal(field: &[u8]) -> Option<u64> {
    let end = field.iter().rposition(|&b| b != b' ')? + 1;
    let digits = &field[..end];
    if digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::mem_read;

    fn header(name: &str, size: usize) -> Vec<u8> {
        format!(
            "{name:<16}{:<12}{:<6}{:<6}{:<8}{size:<10}`\n",
            0, 0, 0, "100644"
        )
        .into_bytes()
    }

    fn member(out: &mut Vec<u8>, name: &str, data: &[u8]) {
        out.extend(header(name, data.len()));
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
    }

    fn members(ar: &[u8]) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let mut r = Reader::new(mem_read(ar), 64)?;
        let mut out = Vec::new();
        while let Some(m) = r.next_member()? {
            let data = r.read(&m, 1 << 20)?;
            out.push((m.name, data));
        }
        Ok(out)
    }

    #[test]
    fn common_gnu_and_bsd_names() {
        let mut ar = MAGIC.to_vec();
        member(&mut ar, "debian-binary", b"2.0\n");
        member(&mut ar, "control.tar.xz/", b"odd");
        member(
            &mut ar,
            "//",
            b"a-very-long-member-name.o/\nsecond-long-name.o/\n",
        );
        member(&mut ar, "/27", b"gnu");
        let mut bsd = b"bsd-long-name.txt\0\0\0".to_vec();
        bsd.extend_from_slice(b"data");
        member(&mut ar, "#1/20", &bsd);
        let got = members(&ar).unwrap();
        let names: Vec<_> = got
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        assert_eq!(
            names,
            [
                ("debian-binary", &b"2.0\n"[..]),
                ("control.tar.xz", b"odd"),
                ("second-long-name.o", b"gnu"),
                ("bsd-long-name.txt", b"data"),
            ]
        );
        assert_eq!(short_name(b"debian-binary/  "), b"debian-binary");
        assert_eq!(short_name(b"/               "), b"/");
    }

    #[test]
    fn errors() {
        assert_eq!(members(b"PK\x03\x04").unwrap_err(), Error::NoMagic);
        assert_eq!(members(b"").unwrap_err(), Error::NoMagic);
        assert_eq!(members(MAGIC).unwrap(), []);
        let mut ar = MAGIC.to_vec();
        member(&mut ar, "a", b"1234");
        let cut = ar.len() - 2;
        assert_eq!(
            members(&ar[..cut]).unwrap_err(),
            Error::Truncated {
                name: "a".into(),
                size: 4,
                end: cut as u64
            }
        );
        assert_eq!(
            members(&ar[..30]).unwrap_err(),
            Error::ShortHeader { offset: 8, end: 30 }
        );
        let mut bad = ar.clone();
        bad[8 + 58] = b'x';
        assert_eq!(members(&bad).unwrap_err(), Error::BadHeader { offset: 8 });
        let mut bad = ar.clone();
        bad[8 + 48] = b'x';
        assert!(matches!(members(&bad).unwrap_err(), Error::BadSize { .. }));
        // A size no file has: refused by the cap, nothing allocated.
        let mut huge = MAGIC.to_vec();
        huge.extend(header("big", 9_999_999_999));
        let mut r = Reader::new(mem_read(&huge), 64).unwrap();
        let m = r.next_member().unwrap().unwrap();
        assert!(matches!(r.read(&m, 1 << 20), Err(Error::TooLarge { .. })));
        // A GNU name pointing outside the table, a BSD name longer than its member.
        let mut ar = MAGIC.to_vec();
        member(&mut ar, "/99", b"x");
        assert_eq!(members(&ar).unwrap_err(), Error::BadHeader { offset: 8 });
        let mut ar = MAGIC.to_vec();
        member(&mut ar, "#1/9", b"x");
        assert_eq!(members(&ar).unwrap_err(), Error::BadHeader { offset: 8 });
    }
}
