//! Reading a zip's central directory by ranged reads (the end of the file, then the
//! directory: never the members' data), zip64 included, and one member's data when asked
//! (stored or deflated, its CRC-32 checked). Bounded: the directory and a member are read only
//! up to the caps the caller gives, whatever the archive claims.
use crate::read::Cached;
use std::io::Read;

const EOCD: u32 = 0x0605_4b50;
const EOCD64: u32 = 0x0606_4b50;
const EOCD64_LOCATOR: u32 = 0x0706_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const LOCAL: u32 = 0x0403_4b50;
/// The end record (22 bytes) and the longest comment after it.
const TAIL: u64 = 22 + 0xffff;

/// How a member is compressed.
pub const STORED: u16 = 0;
pub const DEFLATED: u16 = 8;

/// One central directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The name as stored (UTF-8 when the archive says so; other bytes replaced).
    pub name: String,
    /// [`STORED`], [`DEFLATED`] or another method.
    pub method: u16,
    pub flags: u16,
    pub crc32: u32,
    pub compressed_size: u64,
    pub size: u64,
    /// Where the member's local header starts.
    pub header_offset: u64,
}

impl Entry {
    pub fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }

    /// Encrypted members cannot be read.
    pub fn is_encrypted(&self) -> bool {
        self.flags & 1 != 0
    }
}

/// What the reader accepts.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Entries in the directory.
    pub max_entries: u64,
    /// Bytes of the directory.
    pub max_directory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 1 << 16,
            max_directory: 16 << 20,
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// A zip archive of `size` bytes read through `read(offset, len)`.
pub struct Archive<R> {
    src: Cached<R>,
    pub entries: Vec<Entry>,
}

impl<R: FnMut(u64, u32) -> Result<Vec<u8>, String>> Archive<R> {
    /// Reads the end records and the central directory.
    pub fn new(read: R, size: u64, limits: Limits) -> Result<Self, String> {
        let mut src = Cached::new(read, 64 << 10);
        let start = size.saturating_sub(TAIL);
        let tail = src.bytes(start, size - start)?;
        if (tail.len() as u64) < size - start {
            return Err("not a zip archive: the file is shorter than its size".into());
        }
        let at = (0..tail.len().saturating_sub(21))
            .rev()
            .find(|&i| {
                u32_at(&tail, i) == EOCD
                    && i + 22 + usize::from(u16_at(&tail, i + 20)) <= tail.len()
            })
            .ok_or("not a zip archive: no end of central directory record")?;
        let end = &tail[at..];
        let eocd_at = start + at as u64;
        let mut count = u64::from(u16_at(end, 10));
        let mut dir_size = u64::from(u32_at(end, 12));
        let mut dir_at = u64::from(u32_at(end, 16));
        if u16_at(end, 4) != 0 || u16_at(end, 6) != 0 {
            return Err("unsupported zip: spans several disks".into());
        }
        if count == 0xffff || dir_size == 0xffff_ffff || dir_at == 0xffff_ffff {
            // zip64: a locator right before the end record points at the zip64 end record.
            let loc = src.bytes(eocd_at.checked_sub(20).ok_or("bad zip64 locator")?, 20)?;
            if loc.len() < 20 || u32_at(&loc, 0) != EOCD64_LOCATOR {
                return Err("bad zip: a zip64 archive without its zip64 locator".into());
            }
            let rec = src.bytes(u64_at(&loc, 8), 56)?;
            if rec.len() < 56 || u32_at(&rec, 0) != EOCD64 {
                return Err("bad zip: no zip64 end of central directory record".into());
            }
            (count, dir_size, dir_at) = (u64_at(&rec, 32), u64_at(&rec, 40), u64_at(&rec, 48));
        }
        if count > limits.max_entries {
            return Err(format!(
                "the zip lists {count} entries, over the {} limit",
                limits.max_entries
            ));
        }
        if dir_size > limits.max_directory {
            return Err(format!(
                "the zip's central directory is {dir_size} bytes, over the {} byte limit",
                limits.max_directory
            ));
        }
        if dir_at.checked_add(dir_size).is_none_or(|e| e > eocd_at) {
            return Err("bad zip: the central directory is not before its end record".into());
        }
        let dir = src.bytes(dir_at, dir_size)?;
        let entries = directory(&dir, count)?;
        Ok(Archive { src, entries })
    }

    /// The first entry named `name`.
    pub fn find(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// A member's data, decompressed, if it is at most `max` bytes (stored or deflated only).
    pub fn read(&mut self, e: &Entry, max: u64) -> Result<Vec<u8>, String> {
        if e.is_encrypted() {
            return Err(format!("zip member {} is encrypted", e.name));
        }
        if e.size > max || (e.method == STORED && e.compressed_size > max) {
            return Err(format!(
                "zip member {} is {} bytes, over the {max} byte limit",
                e.name, e.size
            ));
        }
        let local = self.src.bytes(e.header_offset, 30)?;
        if local.len() < 30 || u32_at(&local, 0) != LOCAL {
            return Err(format!("bad zip: no local header for {}", e.name));
        }
        let data_at =
            e.header_offset + 30 + u64::from(u16_at(&local, 26)) + u64::from(u16_at(&local, 28));
        // Deflate cannot grow data by more than about 0.1%: a bigger claim is a lie.
        if e.compressed_size > max.saturating_add(max / 8).saturating_add(1024) {
            return Err(format!("bad zip: member {} claims too many bytes", e.name));
        }
        let packed = self.src.bytes(data_at, e.compressed_size)?;
        if (packed.len() as u64) < e.compressed_size {
            return Err(format!("truncated zip: member {} is cut short", e.name));
        }
        let data = match e.method {
            STORED => packed,
            DEFLATED => {
                let mut out = Vec::new();
                flate2::read::DeflateDecoder::new(packed.as_slice())
                    .take(max + 1)
                    .read_to_end(&mut out)
                    .map_err(|err| format!("bad zip member {}: {err}", e.name))?;
                out
            }
            m => return Err(format!("zip member {}: unsupported method {m}", e.name)),
        };
        if data.len() as u64 != e.size {
            return Err(format!(
                "bad zip member {}: {} bytes where the directory says {}",
                e.name,
                data.len(),
                e.size
            ));
        }
        // The directory's CRC-32 is what unzip tools check: a damaged member is caught here.
        let mut crc = flate2::Crc::new();
        crc.update(&data);
        if crc.sum() != e.crc32 {
            return Err(format!(
                "bad zip member {}: its CRC-32 does not match the directory",
                e.name
            ));
        }
        Ok(data)
    }
}

/// The central directory's `count` entries.
fn directory(mut dir: &[u8], count: u64) -> Result<Vec<Entry>, String> {
    let short = || "bad zip: the central directory is cut short".to_string();
    let mut out = Vec::with_capacity(count.min(4096) as usize);
    for _ in 0..count {
        if dir.len() < 46 || u32_at(dir, 0) != CENTRAL {
            return Err(short());
        }
        let (name_len, extra_len, comment_len) = (
            usize::from(u16_at(dir, 28)),
            usize::from(u16_at(dir, 30)),
            usize::from(u16_at(dir, 32)),
        );
        let total = 46 + name_len + extra_len + comment_len;
        if dir.len() < total {
            return Err(short());
        }
        let mut e = Entry {
            name: String::from_utf8_lossy(&dir[46..46 + name_len]).into_owned(),
            flags: u16_at(dir, 8),
            method: u16_at(dir, 10),
            crc32: u32_at(dir, 16),
            compressed_size: u64::from(u32_at(dir, 20)),
            size: u64::from(u32_at(dir, 24)),
            header_offset: u64::from(u32_at(dir, 42)),
        };
        zip64_extra(&mut e, &dir[46 + name_len..46 + name_len + extra_len])?;
        out.push(e);
        dir = &dir[total..];
    }
    Ok(out)
}

/// The zip64 extra field (id 1) holds, in order, the sizes and offset whose 32-bit fields
/// are all ones.
fn zip64_extra(e: &mut Entry, mut extra: &[u8]) -> Result<(), String> {
    while extra.len() >= 4 {
        let (id, len) = (u16_at(extra, 0), usize::from(u16_at(extra, 2)));
        let body = extra.get(4..4 + len).ok_or("bad zip: a cut extra field")?;
        if id == 1 {
            let mut vals = body.chunks_exact(8).map(|c| u64_at(c, 0));
            for field in [&mut e.size, &mut e.compressed_size, &mut e.header_offset] {
                if *field == 0xffff_ffff {
                    *field = vals.next().ok_or("bad zip: a short zip64 extra field")?;
                }
            }
        }
        extra = &extra[4 + len..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::mem_read;
    use std::io::Write;

    /// A zip with a stored and a deflated member, and a comment, as zip(1) lays it out.
    fn sample() -> Vec<u8> {
        let members: [(&str, &[u8], u16); 3] = [
            ("METADATA", b"Name: demo\nVersion: 1.0\n", STORED),
            ("demo/__init__.py", &[b'x'; 3000], DEFLATED),
            ("demo/", b"", STORED),
        ];
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data, method) in members {
            let packed = if method == DEFLATED {
                let mut d = flate2::write::DeflateEncoder::new(Vec::new(), Default::default());
                d.write_all(data).unwrap();
                d.finish().unwrap()
            } else {
                data.to_vec()
            };
            let mut crc = flate2::Crc::new();
            crc.update(data);
            let crc = crc.sum();
            let offset = out.len() as u32;
            out.extend(LOCAL.to_le_bytes());
            out.extend([20, 0, 0, 0]);
            out.extend(method.to_le_bytes());
            out.extend([0; 4]);
            out.extend(crc.to_le_bytes());
            out.extend((packed.len() as u32).to_le_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((name.len() as u16).to_le_bytes());
            out.extend(0u16.to_le_bytes());
            out.extend(name.as_bytes());
            out.extend(&packed);
            central.extend(CENTRAL.to_le_bytes());
            central.extend([20, 3, 20, 0, 0, 0]);
            central.extend(method.to_le_bytes());
            central.extend([0; 4]);
            central.extend(crc.to_le_bytes());
            central.extend((packed.len() as u32).to_le_bytes());
            central.extend((data.len() as u32).to_le_bytes());
            central.extend((name.len() as u16).to_le_bytes());
            central.extend([0; 12]);
            central.extend(offset.to_le_bytes());
            central.extend(name.as_bytes());
        }
        let dir_at = out.len() as u32;
        out.extend(&central);
        out.extend(EOCD.to_le_bytes());
        out.extend([0; 4]);
        out.extend(3u16.to_le_bytes());
        out.extend(3u16.to_le_bytes());
        out.extend((central.len() as u32).to_le_bytes());
        out.extend(dir_at.to_le_bytes());
        out.extend(5u16.to_le_bytes());
        out.extend(b"hello");
        out
    }

    type Read<'a> = Box<dyn FnMut(u64, u32) -> Result<Vec<u8>, String> + 'a>;

    fn open(zip: &[u8]) -> Result<Archive<Read<'_>>, String> {
        Archive::new(Box::new(mem_read(zip)), zip.len() as u64, Limits::default())
    }

    #[test]
    fn lists_and_reads_members() {
        let zip = sample();
        let mut a = open(&zip).unwrap();
        let names: Vec<_> = a
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.size))
            .collect();
        assert_eq!(
            names,
            [("METADATA", 24), ("demo/__init__.py", 3000), ("demo/", 0)]
        );
        assert!(a.entries[2].is_dir());
        let e = a.find("METADATA").unwrap().clone();
        assert_eq!(a.read(&e, 100).unwrap(), b"Name: demo\nVersion: 1.0\n");
        let e = a.entries[1].clone();
        assert_eq!(e.method, DEFLATED);
        assert!(e.compressed_size < 100);
        assert_eq!(a.read(&e, 3000).unwrap(), vec![b'x'; 3000]);
        assert!(a
            .read(&e, 2999)
            .unwrap_err()
            .contains("over the 2999 byte limit"));
    }

    #[test]
    fn a_damaged_member_fails_its_crc() {
        let mut zip = sample();
        // The stored METADATA's data starts after its 30-byte header and 8-byte name.
        zip[30 + 8] ^= 1;
        let mut a = open(&zip).unwrap();
        let e = a.find("METADATA").unwrap().clone();
        let err = a.read(&e, 100).unwrap_err();
        assert!(err.contains("CRC-32 does not match"), "{err}");
    }

    /// Data descriptors (flag bit 3, sizes only in the directory) and UTF-8 names, as Go's
    /// archive/zip writes them.
    #[cfg(feature = "testing")]
    #[test]
    fn reads_what_streaming_writers_write() {
        let big = vec![b'x'; 5000];
        let zip = crate::testing::zip(&[
            ("m@v1.0.0/go.mod", b"module m\n"),
            ("m@v1.0.0/d/", b""),
            ("m@v1.0.0/d/\u{fc}.go", &big),
        ]);
        let mut a = open(&zip).unwrap();
        let names: Vec<_> = a.entries.iter().map(|e| e.name.clone()).collect();
        assert_eq!(
            names,
            ["m@v1.0.0/go.mod", "m@v1.0.0/d/", "m@v1.0.0/d/\u{fc}.go"]
        );
        assert!(a.entries.iter().all(|e| e.flags & 8 != 0));
        let e = a.entries[0].clone();
        assert_eq!(a.read(&e, 100).unwrap(), b"module m\n");
        let e = a.entries[2].clone();
        assert_eq!((e.method, a.read(&e, 5000).unwrap()), (DEFLATED, big));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        let err = open(b"not a zip at all, no end record here").err().unwrap();
        assert!(err.contains("no end of central directory"), "{err}");
        let zip = sample();
        let limits = Limits {
            max_entries: 2,
            ..Limits::default()
        };
        let err = Archive::new(mem_read(&zip), zip.len() as u64, limits)
            .err()
            .unwrap();
        assert!(err.contains("3 entries, over the 2 limit"), "{err}");
        // Truncated at the front: the directory offset points past the data left.
        let cut = &zip[100..];
        assert!(open(cut).is_err());
        // A size larger than the file.
        assert!(Archive::new(mem_read(&zip), zip.len() as u64 + 10, Limits::default()).is_err());
        // Damage anywhere: errors, never panics.
        for i in 0..zip.len() {
            let mut bad = zip.clone();
            bad[i] ^= 0x5a;
            if let Ok(mut a) = open(&bad) {
                for e in a.entries.clone() {
                    let _ = a.read(&e, 1 << 16);
                }
            };
        }
    }

    #[test]
    fn zip64_sizes_come_from_the_extra_field() {
        let mut e = Entry {
            name: "big".into(),
            method: STORED,
            flags: 0,
            crc32: 0,
            compressed_size: 0xffff_ffff,
            size: 0xffff_ffff,
            header_offset: 7,
        };
        let mut extra = vec![1, 0, 16, 0];
        extra.extend(5_000_000_000u64.to_le_bytes());
        extra.extend(4_000_000_000u64.to_le_bytes());
        zip64_extra(&mut e, &extra).unwrap();
        assert_eq!(
            (e.size, e.compressed_size, e.header_offset),
            (5_000_000_000, 4_000_000_000, 7)
        );
        assert!(zip64_extra(&mut e.clone(), &[1, 0, 16, 0, 1]).is_err());
    }
}
