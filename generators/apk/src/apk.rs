//! Reading an Alpine package (apk v2): concatenated gzip streams, each a tar segment.
//!
//! 1. optional signature stream: a tar segment (no end-of-archive blocks) whose one member is
//!    `.SIGN.RSA.<key>.rsa.pub` / `.SIGN.RSA256.<key>.rsa.pub` (abuild-sign);
//! 2. control stream: a tar segment (no end-of-archive blocks, `abuild-tar --cut`) holding
//!    `.PKGINFO` and the install scripts; its compressed bytes' SHA-1 is the package identity
//!    (`C:Q1...` in APKINDEX);
//! 3. data stream: a tar of the installed files; its compressed bytes' SHA-256 is `.PKGINFO`'s
//!    `datahash`.
//!
//! Streams are split by decoding one gzip member at a time over a buffered reader of ranged
//! reads and noting where each member's trailer ends (flate2's `bufread::GzDecoder` consumes
//! exactly its member).

use std::io::{self, BufRead, Read};

use flate2::bufread::GzDecoder;
use reposmith_generator_sdk::{tar, Ranged};
use sha1::Digest;

/// One ranged read of the package.
const CHUNK: u32 = 64 << 10;
/// A signature or control stream larger than this (compressed or not) is not one.
const MAX_META: u64 = 8 << 20;
/// `datahash` is checked (the data stream hashed) up to this size; above it only the start of
/// the data stream is checked. SHA-256 inside wasm costs ~60 fuel a byte: with the host's 5e9
/// fuel a 64 MB data stream passed and a 100 MB one ran out (measured), so 32 MiB leaves room.
/// A host-side range digest would lift this (README, "Limits").
pub const MAX_HASHED_DATA: u64 = 32 << 20;

/// What `analyze` needs from a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    /// The signature member's name (`.SIGN.RSA.key.rsa.pub`), if the package is signed.
    pub signature: Option<String>,
    /// `Q1` + base64(SHA-1 of the control stream's compressed bytes).
    pub q1: String,
    pub pkginfo: Vec<u8>,
    /// Byte range of the data stream.
    pub data_start: u64,
}

/// One decoded gzip member: where it starts and ends, and its decoded bytes.
struct Member {
    start: u64,
    end: u64,
    data: Vec<u8>,
}

fn member(src: &mut Ranged<'_>, what: &str) -> Result<Member, String> {
    let start = src.position();
    let head = src
        .fill_buf()
        .map_err(|e| format!("cannot read the {what} stream: {e}"))?;
    if head.is_empty() {
        return Err(format!("not an apk package: the {what} stream is missing"));
    }
    if head.len() >= 2 && !head.starts_with(&[0x1f, 0x8b]) {
        return Err(format!(
            "not an apk package: the {what} stream at byte {start} is not gzip"
        ));
    }
    let mut data = Vec::new();
    let mut dec = GzDecoder::new(&mut *src).take(MAX_META + 1);
    dec.read_to_end(&mut data)
        .map_err(|e| format!("the {what} stream is corrupt or truncated: {e}"))?;
    if data.len() as u64 > MAX_META {
        return Err(format!("the {what} stream is larger than {MAX_META} bytes"));
    }
    let end = src.position();
    if end - start > MAX_META {
        return Err(format!("the {what} stream is larger than {MAX_META} bytes"));
    }
    Ok(Member { start, end, data })
}

/// The members of a tar segment (end-of-archive blocks optional, as apk writes them).
pub fn tar_members(seg: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut ar = tar::Reader::new(seg);
    while let Some(e) = ar.next_member().map_err(|e| format!("bad tar: {e}"))? {
        let name = String::from_utf8_lossy(&e.name).into_owned();
        let body = ar
            .read_data(MAX_META)
            .map_err(|err| format!("bad tar member {name}: {err}"))?;
        out.push((name.trim_start_matches("./").to_string(), body));
    }
    Ok(out)
}

fn is_signature(name: &str) -> bool {
    name.starts_with(".SIGN.")
}

/// Reads the signature (if any) and control streams, checks the data stream.
pub fn read_package<R>(read: R, size: u64) -> Result<Contents, String>
where
    R: FnMut(u64, u32) -> Result<Vec<u8>, String>,
{
    let mut src = Ranged::new(read, CHUNK);
    let first = member(&mut src, "first")?;
    let first_members = tar_members(&first.data).map_err(|e| format!("first stream: {e}"))?;
    let (signature, control) = match first_members.first() {
        Some((name, _)) if is_signature(name) => {
            if first_members.len() != 1 {
                return Err("the signature stream holds more than the signature".into());
            }
            let control = member(&mut src, "control")?;
            (Some(name.clone()), control)
        }
        Some(_) => (None, first),
        None => return Err("not an apk package: the first stream holds no tar member".into()),
    };
    let members = if signature.is_some() {
        tar_members(&control.data).map_err(|e| format!("control stream: {e}"))?
    } else {
        first_members
    };
    let pkginfo = members
        .into_iter()
        .find(|(n, _)| n == ".PKGINFO")
        .map(|(_, b)| b)
        .ok_or("not an apk package: the control stream has no .PKGINFO")?;
    if ends_with_end_of_archive(&control.data) {
        // abuild cuts the end blocks so that apk reads control and data as one tar; with them
        // apk would stop before the data. A complete tar here is e.g. a pacman .pkg.tar.gz.
        return Err(
            "not an apk package: the control stream is a complete tar (end-of-archive blocks), \
             as in a single-stream .tar.gz"
                .into(),
        );
    }
    // The control stream's compressed bytes, again, for their SHA-1.
    let mut sha = sha1::Sha1::new();
    let mut at = control.start;
    while at < control.end {
        let want = (control.end - at).min(u64::from(CHUNK)) as u32;
        let chunk = src.read_at(at, want)?;
        if chunk.is_empty() {
            return Err("the package changed while being read".into());
        }
        sha.update(&chunk);
        at += chunk.len() as u64;
    }
    let q1 = format!("Q1{}", base64(&sha.finalize()));

    let data_start = control.end;
    if data_start >= size {
        return Err("truncated apk package: the data stream is missing".into());
    }
    let head = src.read_at(data_start, 10)?;
    if !head.starts_with(&[0x1f, 0x8b, 0x08]) {
        return Err("not an apk package: the data stream is not gzip".into());
    }
    Ok(Contents {
        signature,
        q1,
        pkginfo,
        data_start,
    })
}

/// SHA-256 (hex) of the data stream, for `datahash`: the whole data stream's compressed bytes.
pub fn data_hash<R>(mut read: R, start: u64, size: u64) -> Result<String, String>
where
    R: FnMut(u64, u32) -> Result<Vec<u8>, String>,
{
    let mut sha = sha2::Sha256::new();
    let mut at = start;
    while at < size {
        let want = (size - at).min(256 << 10) as u32;
        let chunk = read(at, want)?;
        if chunk.is_empty() {
            return Err("truncated apk package: the data stream ends early".into());
        }
        sha.update(&chunk);
        at += chunk.len() as u64;
    }
    Ok(hex::encode(sha.finalize()))
}

fn ends_with_end_of_archive(tar: &[u8]) -> bool {
    tar.len() >= 1024 && tar[tar.len() - 1024..].iter().all(|&b| b == 0)
}

/// Standard base64 with padding (what apk prints after `Q1`).
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Is this an apk v2 package? Decided by content from the first bytes:
/// a gzip stream whose tar starts with `.SIGN.` (a signed apk: nothing else uses that name), or
/// with `.PKGINFO` *and* the gzip member ends without tar end-of-archive blocks and is followed
/// by another gzip member (an unsigned apk's control segment; a pacman `.pkg.tar.gz` is one
/// gzip stream holding a complete tar). When `head` is too short to see the member's end, an
/// `.apk` name decides; `analyze` then checks the structure fully.
pub fn claims(filename: &str, head: &[u8]) -> bool {
    if !head.starts_with(&[0x1f, 0x8b, 0x08]) {
        return false;
    }
    let mut cur = io::Cursor::new(head);
    let mut data = Vec::new();
    let complete = {
        let mut dec = GzDecoder::new(&mut cur).take(1 << 20);
        let r = dec.read_to_end(&mut data);
        r.is_ok()
    };
    let Some(first) = first_member_name(&data) else {
        // A gzip stream cut short before its first tar header: a truncated upload named
        // `.apk` is still ours, so that `analyze` can say what is wrong.
        return !complete && filename.ends_with(".apk");
    };
    if is_signature(&first) {
        return true;
    }
    if first != ".PKGINFO" {
        return false;
    }
    if !complete {
        return filename.ends_with(".apk");
    }
    let pos = cur.position() as usize;
    let rest = &head[pos..];
    !ends_with_end_of_archive(&data) && (rest.starts_with(&[0x1f, 0x8b]) || rest.len() < 2)
}

/// The first real member name of a (possibly partial) tar, extension headers applied.
fn first_member_name(tar: &[u8]) -> Option<String> {
    let m = tar::Reader::new(tar).next_member().ok()??;
    let name = String::from_utf8_lossy(&m.name);
    Some(name.strip_prefix("./").unwrap_or(&name).to_string())
}
