//! The rpm file format up to the payload: the 96-byte lead, the signature header (padded to
//! 8 bytes) and the main header. The payload is never read: everything the metadata needs is
//! in the headers, and the header byte range comes from their sizes.
//!
//! A header is an 16-byte intro (magic `8e ad e8 01`, 4 reserved bytes, the index entry count
//! and the data size, big-endian), the index (16 bytes per entry: tag, type, offset, count)
//! and the data store. Every value is checked against the data store's bounds before use, so
//! no input can make the parser panic or read past what it fetched.

pub const LEAD_SIZE: u64 = 96;
pub const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
pub const HEADER_MAGIC: [u8; 4] = [0x8e, 0xad, 0xe8, 0x01];
/// rpm's own limits (hdrchkTags, hdrchkData): at most 0xffff tags and 256 MiB of data.
/// The signature header is small in practice; 16 MiB is generous.
const MAX_TAGS: u32 = 0xffff;
const MAX_SIG_DATA: u32 = 16 << 20;
const MAX_MAIN_DATA: u32 = 256 << 20;
/// The host hands out at most this much per read; larger ranges are read in pieces.
const READ_CHUNK: u32 = 8 << 20;

// Data types of header values.
pub const T_NULL: u32 = 0;
pub const T_CHAR: u32 = 1;
pub const T_INT8: u32 = 2;
pub const T_INT16: u32 = 3;
pub const T_INT32: u32 = 4;
pub const T_INT64: u32 = 5;
pub const T_STRING: u32 = 6;
pub const T_BIN: u32 = 7;
pub const T_STRING_ARRAY: u32 = 8;
pub const T_I18NSTRING: u32 = 9;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct IndexEntry {
    tag: u32,
    kind: u32,
    offset: u32,
    count: u32,
}

/// One parsed header: its index and data store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// "signature header" or "main header", for messages.
    what: &'static str,
    index: Vec<IndexEntry>,
    data: Vec<u8>,
}

/// What the metadata needs from one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rpm {
    /// Lead type: 0 binary, 1 source.
    pub lead_type: u16,
    pub signature: Header,
    pub main: Header,
    /// Byte range of the main header in the file (yum's `rpm:header-range`).
    pub header_start: u64,
    pub header_end: u64,
}

/// Does `head` (the first bytes of a file) start like an rpm? Decided by the lead magic.
pub fn claims(head: &[u8]) -> bool {
    head.starts_with(&LEAD_MAGIC)
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Exactly `len` bytes at `offset`, or an error naming what was being read.
fn read_exact<R>(read: &mut R, offset: u64, len: u64, what: &str) -> Result<Vec<u8>, String>
where
    R: FnMut(u64, u32) -> Result<Vec<u8>, String>,
{
    let mut out = Vec::with_capacity(len.min(1 << 20) as usize);
    while (out.len() as u64) < len {
        let want = (len - out.len() as u64).min(READ_CHUNK as u64) as u32;
        let at = offset + out.len() as u64;
        let got = read(at, want).map_err(|e| format!("reading the {what}: {e}"))?;
        if got.is_empty() {
            return Err(format!(
                "truncated rpm: the file ends inside the {what} (at byte {at}, {} of {len} bytes from offset {offset} read)",
                out.len()
            ));
        }
        let take = got.len().min((len - out.len() as u64) as usize);
        out.extend_from_slice(&got[..take]);
    }
    Ok(out)
}

/// Reads the lead and both headers. `size` is the file's size (for the size checks).
pub fn read_rpm<R>(mut read: R, size: u64) -> Result<Rpm, String>
where
    R: FnMut(u64, u32) -> Result<Vec<u8>, String>,
{
    let lead = read_exact(&mut read, 0, LEAD_SIZE, "lead")?;
    if lead[..4] != LEAD_MAGIC {
        return Err(
            "not an rpm: the file does not start with the rpm lead magic ed ab ee db".into(),
        );
    }
    let major = lead[4];
    if !(3..=4).contains(&major) {
        return Err(format!(
            "unsupported rpm lead version {major}.{} (rpm reads 3.x and 4.x)",
            lead[5]
        ));
    }
    let lead_type = be16(&lead, 6);
    if lead_type > 1 {
        return Err(format!(
            "malformed rpm lead: type {lead_type} (0 binary or 1 source)"
        ));
    }
    let sig_type = be16(&lead, 78);
    if sig_type != 5 {
        return Err(format!(
            "unsupported rpm signature type {sig_type} in the lead (only header signatures, type 5, exist since rpm 3)"
        ));
    }

    let (signature, sig_len) = read_header(&mut read, LEAD_SIZE, "signature header", MAX_SIG_DATA)?;
    // The signature header is padded to a multiple of 8 bytes.
    let header_start = LEAD_SIZE + sig_len + (8 - sig_len % 8) % 8;
    let (main, main_len) = read_header(&mut read, header_start, "main header", MAX_MAIN_DATA)?;
    let header_end = header_start + main_len;
    if header_end > size {
        return Err(format!(
            "truncated rpm: the main header ends at byte {header_end}, the file has {size}"
        ));
    }

    // The signature header records the size of the main header plus the payload: a
    // truncated or padded file is caught here without reading the payload.
    let recorded = match signature.number(TAG_SIG_LONGSIZE)? {
        Some(n) => Some(n),
        None => signature.number(TAG_SIG_SIZE)?,
    };
    if let Some(n) = recorded {
        let actual = size - header_start;
        if n != actual {
            return Err(format!(
                "rpm size mismatch: the signature header says the main header and payload take {n} bytes, the file has {actual} after the signature header{}",
                if n > actual { " (truncated?)" } else { "" }
            ));
        }
    }
    Ok(Rpm {
        lead_type,
        signature,
        main,
        header_start,
        header_end,
    })
}

/// Signature header tags used here.
pub const TAG_SIG_SIZE: u32 = 1000;
pub const TAG_SIG_PAYLOADSIZE: u32 = 1007;
pub const TAG_SIG_LONGSIZE: u32 = 270;
pub const TAG_SIG_LONGARCHIVESIZE: u32 = 271;

/// Reads one header at `offset`; returns it and its length in the file (intro included).
fn read_header<R>(
    read: &mut R,
    offset: u64,
    what: &'static str,
    max_data: u32,
) -> Result<(Header, u64), String>
where
    R: FnMut(u64, u32) -> Result<Vec<u8>, String>,
{
    let intro = read_exact(read, offset, 16, what)?;
    if intro[..4] != HEADER_MAGIC {
        return Err(format!(
            "malformed rpm: no {what} magic (8e ad e8 01) at byte {offset}"
        ));
    }
    let il = be32(&intro, 8);
    let dl = be32(&intro, 12);
    if il == 0 || il > MAX_TAGS {
        return Err(format!(
            "malformed rpm: the {what} has {il} index entries (1 to {MAX_TAGS} allowed)"
        ));
    }
    if dl > max_data {
        return Err(format!(
            "malformed rpm: the {what} declares {dl} bytes of data (at most {max_data} allowed)"
        ));
    }
    let body_len = 16 * il as u64 + dl as u64;
    let body = read_exact(read, offset + 16, body_len, what)?;
    let header = Header::parse(what, il, &body)?;
    Ok((header, 16 + body_len))
}

impl Header {
    /// Parses an index of `il` entries followed by the data store, as found after the intro.
    pub fn parse(what: &'static str, il: u32, body: &[u8]) -> Result<Header, String> {
        let index_len = 16 * il as usize;
        if body.len() < index_len {
            return Err(format!("malformed rpm: the {what} index is truncated"));
        }
        let data = body[index_len..].to_vec();
        let mut index = Vec::with_capacity(il as usize);
        for i in 0..il as usize {
            let at = i * 16;
            let e = IndexEntry {
                tag: be32(body, at),
                kind: be32(body, at + 4),
                offset: be32(body, at + 8),
                count: be32(body, at + 12),
            };
            if e.kind > T_I18NSTRING {
                return Err(format!(
                    "malformed rpm: tag {} in the {what} has unknown data type {}",
                    e.tag, e.kind
                ));
            }
            if e.offset as i32 <= -1 || e.offset as usize > data.len() {
                return Err(format!(
                    "malformed rpm: tag {} in the {what} points outside its data (offset {}, {} bytes of data)",
                    e.tag, e.offset as i32, data.len()
                ));
            }
            if e.kind != T_NULL && e.count == 0 {
                return Err(format!(
                    "malformed rpm: tag {} in the {what} has no values",
                    e.tag
                ));
            }
            if let Some(width) = width(e.kind) {
                let end = e.offset as u64 + e.count as u64 * width;
                if end > data.len() as u64 {
                    return Err(format!(
                        "malformed rpm: tag {} in the {what} overruns its data ({} values of {width} bytes at offset {}, {} bytes of data)",
                        e.tag,
                        e.count,
                        e.offset,
                        data.len()
                    ));
                }
            }
            index.push(e);
        }
        Ok(Header { what, index, data })
    }

    fn entry(&self, tag: u32) -> Option<&IndexEntry> {
        self.index.iter().find(|e| e.tag == tag)
    }

    /// All values of an integer tag (CHAR, INT8/16/32/64), widened to u64.
    pub fn numbers(&self, tag: u32) -> Result<Option<Vec<u64>>, String> {
        let Some(e) = self.entry(tag) else {
            return Ok(None);
        };
        // NULL has no width, so its count (any u32) is not bounded by the data: not a number.
        let Some(w) = width(e.kind).filter(|_| e.kind != T_BIN && e.kind != T_NULL) else {
            return Err(format!(
                "malformed rpm: tag {tag} in the {} should be a number, it has type {}",
                self.what, e.kind
            ));
        };
        let start = e.offset as usize;
        let mut out = Vec::with_capacity(e.count as usize);
        for i in 0..e.count as usize {
            let at = start + i * w as usize;
            // Bounds were checked in parse; `get` keeps this panic-free regardless.
            let b = self
                .data
                .get(at..at + w as usize)
                .ok_or_else(|| format!("malformed rpm: tag {tag} overruns the {}", self.what))?;
            out.push(b.iter().fold(0u64, |acc, x| (acc << 8) | *x as u64));
        }
        Ok(Some(out))
    }

    /// The first value of an integer tag.
    pub fn number(&self, tag: u32) -> Result<Option<u64>, String> {
        Ok(self.numbers(tag)?.and_then(|v| v.first().copied()))
    }

    /// All strings of a STRING, STRING_ARRAY or I18NSTRING tag, as raw bytes.
    pub fn byte_strings(&self, tag: u32) -> Result<Option<Vec<&[u8]>>, String> {
        let Some(e) = self.entry(tag) else {
            return Ok(None);
        };
        let count = match e.kind {
            T_STRING => 1,
            T_STRING_ARRAY | T_I18NSTRING => e.count as usize,
            k => {
                return Err(format!(
                    "malformed rpm: tag {tag} in the {} should be a string, it has type {k}",
                    self.what
                ))
            }
        };
        // A count larger than the data could hold is malformed (each string takes >= 1 byte).
        if count > self.data.len() {
            return Err(format!(
                "malformed rpm: tag {tag} in the {} claims {count} strings in {} bytes",
                self.what,
                self.data.len()
            ));
        }
        let mut out = Vec::with_capacity(count);
        let mut at = e.offset as usize;
        for _ in 0..count {
            let rest = self.data.get(at..).unwrap_or(&[]);
            let Some(nul) = rest.iter().position(|b| *b == 0) else {
                return Err(format!(
                    "malformed rpm: a string of tag {tag} in the {} is not terminated",
                    self.what
                ));
            };
            out.push(&rest[..nul]);
            at += nul + 1;
        }
        Ok(Some(out))
    }

    /// All strings of a tag as text (invalid UTF-8 is read as Latin-1, as createrepo_c does).
    pub fn strings(&self, tag: u32) -> Result<Option<Vec<String>>, String> {
        Ok(self
            .byte_strings(tag)?
            .map(|v| v.into_iter().map(text).collect()))
    }

    /// The first string of a tag (the C locale's for I18NSTRING).
    pub fn string(&self, tag: u32) -> Result<Option<String>, String> {
        Ok(self.strings(tag)?.and_then(|v| v.into_iter().next()))
    }
}

/// Bytes per value of a fixed-width type; None for strings.
fn width(kind: u32) -> Option<u64> {
    match kind {
        T_NULL => Some(0),
        T_CHAR | T_INT8 | T_BIN => Some(1),
        T_INT16 => Some(2),
        T_INT32 => Some(4),
        T_INT64 => Some(8),
        _ => None,
    }
}

/// Header strings are UTF-8 in any rpm of this century; older ones may be Latin-1.
pub fn text(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => b.iter().map(|&c| c as char).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testrpm::{reader, Builder, Value};

    fn sample() -> Vec<u8> {
        Builder::new()
            .tag(1000, Value::Str("hello"))
            .tag(1003, Value::I32(vec![2]))
            .tag(1117, Value::Strs(vec!["a", "b"]))
            .tag(1004, Value::I18n(vec!["Summary", "Zusammenfassung"]))
            .tag(1030, Value::I16(vec![0o40755, 0o100644]))
            .tag(5009, Value::I64(vec![1 << 40]))
            .build()
    }

    #[test]
    fn reads_a_built_rpm() {
        let bytes = sample();
        let rpm = read_rpm(reader(&bytes), bytes.len() as u64).unwrap();
        assert_eq!(rpm.lead_type, 0);
        assert_eq!(rpm.header_start % 8, 0);
        assert!(rpm.header_end <= bytes.len() as u64);
        let h = &rpm.main;
        assert_eq!(h.string(1000).unwrap().as_deref(), Some("hello"));
        assert_eq!(h.number(1003).unwrap(), Some(2));
        assert_eq!(
            h.strings(1117).unwrap().unwrap(),
            vec!["a".to_string(), "b".to_string()]
        );
        assert_eq!(h.string(1004).unwrap().as_deref(), Some("Summary"));
        assert_eq!(h.numbers(1030).unwrap().unwrap(), vec![0o40755, 0o100644]);
        assert_eq!(h.number(5009).unwrap(), Some(1 << 40));
        assert_eq!(h.number(9999).unwrap(), None);
        // Type confusion is an error, not garbage.
        assert!(h.number(1000).unwrap_err().contains("should be a number"));
        assert!(h.string(1003).unwrap_err().contains("should be a string"));
    }

    #[test]
    fn header_range_follows_padding() {
        for sig_pad in 1..9 {
            let bytes = Builder::new()
                .sig_tag(999, Value::Bin(vec![7; sig_pad]))
                .tag(1000, Value::Str("x"))
                .build();
            let rpm = read_rpm(reader(&bytes), bytes.len() as u64).unwrap();
            let sig_len = 16 + 16 * 2 + sig_pad as u64 + 4; // 2 entries: SIZE + the padding tag
            assert_eq!(rpm.header_start, 96 + sig_len + (8 - sig_len % 8) % 8);
            assert_eq!(&bytes[rpm.header_start as usize..][..4], &HEADER_MAGIC);
        }
    }

    #[test]
    fn source_lead() {
        let b = Builder::new().source().tag(1000, Value::Str("x")).build();
        assert_eq!(read_rpm(reader(&b), b.len() as u64).unwrap().lead_type, 1);
    }

    #[test]
    fn latin1_strings_are_converted() {
        let b = Builder::new()
            .tag(1004, Value::RawStr(b"caf\xe9".to_vec()))
            .build();
        let rpm = read_rpm(reader(&b), b.len() as u64).unwrap();
        assert_eq!(rpm.main.string(1004).unwrap().as_deref(), Some("café"));
        assert_eq!(text(b"caf\xe9"), "café");
        assert_eq!(text("café".as_bytes()), "café");
    }

    #[test]
    fn rejects_what_is_not_an_rpm() {
        let err = read_rpm(reader(b"hello world"), 11).unwrap_err();
        assert!(err.contains("truncated") && err.contains("lead"), "{err}");
        let mut b = sample();
        b[0] = 0;
        let n = b.len() as u64;
        assert!(read_rpm(reader(&b), n).unwrap_err().contains("lead magic"));
        let mut b = sample();
        b[4] = 9;
        assert!(read_rpm(reader(&b), n)
            .unwrap_err()
            .contains("lead version 9"));
        let mut b = sample();
        b[79] = 1;
        assert!(read_rpm(reader(&b), n)
            .unwrap_err()
            .contains("signature type"));
        let mut b = sample();
        b[96] = 0;
        assert!(read_rpm(reader(&b), n)
            .unwrap_err()
            .contains("no signature header magic"));
    }

    #[test]
    fn rejects_bad_index_entries() {
        let good = sample();
        let rpm = read_rpm(reader(&good), good.len() as u64).unwrap();
        let hs = rpm.header_start as usize;
        let n = good.len() as u64;
        // First index entry of the main header: type, offset, count.
        let entry = hs + 16;
        let patch = |at: usize, v: u32| {
            let mut b = good.clone();
            b[at..at + 4].copy_from_slice(&v.to_be_bytes());
            read_rpm(reader(&b), n).unwrap_err()
        };
        assert!(patch(entry + 4, 42).contains("unknown data type 42"));
        assert!(patch(entry + 8, 1 << 30).contains("points outside its data"));
        assert!(patch(entry + 8, u32::MAX).contains("points outside its data"));
        // Index entry counts and data sizes out of range.
        assert!(patch(hs + 8, 0).contains("0 index entries"));
        assert!(patch(hs + 8, 0x10000).contains("index entries"));
        assert!(patch(hs + 12, u32::MAX).contains("declares"));
        // An INT32 tag whose count runs past the data.
        let b = Builder::new().tag(1003, Value::I32(vec![1])).build();
        let rpm = read_rpm(reader(&b), b.len() as u64).unwrap();
        let at = rpm.header_start as usize + 16 + 12;
        let mut bad = b.clone();
        bad[at..at + 4].copy_from_slice(&1000u32.to_be_bytes());
        let err = read_rpm(reader(&bad), b.len() as u64).unwrap_err();
        assert!(err.contains("overruns its data"), "{err}");
    }

    /// Found by fuzz/ (target rpm, fuzz/regressions/rpm/): a number tag typed NULL with a
    /// count of 3 billion asked for a 24 GB vector.
    #[test]
    fn a_null_typed_number_tag_is_an_error_not_an_allocation() {
        let b = Builder::new().tag(1003, Value::I32(vec![1])).build();
        let rpm = read_rpm(reader(&b), b.len() as u64).unwrap();
        let entry = rpm.header_start as usize + 16;
        let mut bad = b.clone();
        bad[entry + 4..entry + 8].copy_from_slice(&T_NULL.to_be_bytes());
        bad[entry + 12..entry + 16].copy_from_slice(&u32::MAX.to_be_bytes());
        let rpm = read_rpm(reader(&bad), b.len() as u64).unwrap();
        let err = rpm.main.number(1003).unwrap_err();
        assert!(err.contains("should be a number, it has type 0"), "{err}");
    }

    #[test]
    fn unterminated_strings_are_errors() {
        let b = Builder::new().tag(1000, Value::Str("abc")).build();
        let rpm = read_rpm(reader(&b), b.len() as u64).unwrap();
        // Overwrite the string's terminator (the last byte of the main header data).
        let mut bad = b.clone();
        bad[rpm.header_end as usize - 1] = b'x';
        let rpm = read_rpm(reader(&bad), bad.len() as u64).unwrap();
        assert!(rpm
            .main
            .string(1000)
            .unwrap_err()
            .contains("not terminated"));
    }

    #[test]
    fn size_mismatch_and_truncation() {
        let b = sample();
        let n = b.len();
        let mut longer = b.clone();
        longer.extend_from_slice(b"junk");
        let err = read_rpm(reader(&longer), longer.len() as u64).unwrap_err();
        assert!(err.contains("size mismatch"), "{err}");
        let rpm = read_rpm(reader(&b), n as u64).unwrap();
        let cut = &b[..rpm.header_end as usize - 3];
        let err = read_rpm(reader(cut), cut.len() as u64).unwrap_err();
        assert!(
            err.contains("truncated") && err.contains("main header"),
            "{err}"
        );
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error_never_a_panic() {
        let b = sample();
        for len in 0..b.len() {
            let cut = &b[..len];
            assert!(read_rpm(reader(cut), len as u64).is_err(), "cut at {len}");
        }
        // Flip every byte of the lead and headers in turn: no panic, whatever happens.
        let rpm = read_rpm(reader(&b), b.len() as u64).unwrap();
        for at in 0..rpm.header_end as usize {
            for x in [0x00u8, 0xff, 0x80, 0x01] {
                let mut bad = b.clone();
                bad[at] ^= x;
                if let Ok(r) = read_rpm(reader(&bad), bad.len() as u64) {
                    for tag in [1000, 1003, 1004, 1117, 1030, 5009] {
                        let _ = r.main.strings(tag);
                        let _ = r.main.numbers(tag);
                    }
                    let _ = crate::package::Package::from_rpm(&r);
                }
            }
        }
    }

    #[test]
    fn read_errors_are_passed_on() {
        let err = read_rpm(|_, _| Err("disk on fire".to_string()), 1000).unwrap_err();
        assert_eq!(err, "reading the lead: disk on fire");
    }
}
