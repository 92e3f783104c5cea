//! Writing ustar members deterministically: the members generators pre-render (pacman's
//! database entries), wrap around signatures (apk, FreeBSD) and the host builds around
//! assembled parts. Fixed owner, mode and mtime, so the same input gives the same bytes.

/// The end-of-archive marker: two zero blocks.
pub const END: [u8; 1024] = [0; 1024];
/// The largest value an 11-digit octal field holds.
const MAX_OCTAL: u64 = 0o777_7777_7777;

/// A member's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
}

/// What a header says besides name, size and type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta<'a> {
    pub mode: u32,
    /// Seconds since the epoch (clamped to what the field holds).
    pub mtime: u64,
    pub user: &'a str,
    pub group: &'a str,
}

impl Meta<'static> {
    /// A regular file: mode 0644, owner root:root.
    pub fn file(mtime: u64) -> Self {
        Meta {
            mode: 0o644,
            mtime,
            user: "root",
            group: "root",
        }
    }

    /// A directory: mode 0755, owner root:root.
    pub fn dir(mtime: u64) -> Self {
        Meta {
            mode: 0o755,
            ..Meta::file(mtime)
        }
    }
}

impl<'a> Meta<'a> {
    /// The same with another group name (FreeBSD's `wheel`).
    pub fn group(self, group: &'a str) -> Meta<'a> {
        Meta { group, ..self }
    }
}

/// The 512-byte header of a member of `size` bytes. Paths over 100 bytes are split at a `/`
/// into ustar's prefix (up to 155) and name.
pub fn header(path: &str, size: u64, kind: Kind, meta: Meta) -> Result<[u8; 512], String> {
    if size > MAX_OCTAL {
        return Err(format!("tar member {path} is too large ({size} bytes)"));
    }
    if meta.user.len() > 31 || meta.group.len() > 31 {
        return Err(format!(
            "tar member {path}: owner names are at most 31 bytes"
        ));
    }
    let (prefix, name) = split(path)?;
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    put_octal(&mut h[100..108], u64::from(meta.mode));
    put_octal(&mut h[108..116], 0);
    put_octal(&mut h[116..124], 0);
    put_octal(&mut h[124..136], size);
    put_octal(&mut h[136..148], meta.mtime.min(MAX_OCTAL));
    h[156] = match kind {
        Kind::File => b'0',
        Kind::Dir => b'5',
    };
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[265..265 + meta.user.len()].copy_from_slice(meta.user.as_bytes());
    h[297..297 + meta.group.len()].copy_from_slice(meta.group.as_bytes());
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    // The checksum counts its own field as eight spaces; written as 6 octal digits, NUL, space.
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    Ok(h)
}

/// A regular file member: header, content, padding to a whole block.
pub fn file_with(path: &str, data: &[u8], meta: Meta) -> Result<Vec<u8>, String> {
    let mut out = header(path, data.len() as u64, Kind::File, meta)?.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len() + padding(data.len() as u64), 0);
    Ok(out)
}

/// A regular file member owned by root:root, mode 0644.
pub fn file(path: &str, data: &[u8], mtime: u64) -> Result<Vec<u8>, String> {
    file_with(path, data, Meta::file(mtime))
}

/// A directory member (written with a trailing `/`), root:root, mode 0755.
pub fn dir(path: &str, mtime: u64) -> Result<Vec<u8>, String> {
    let path = format!("{}/", path.trim_end_matches('/'));
    Ok(header(&path, 0, Kind::Dir, Meta::dir(mtime))?.to_vec())
}

/// How many zero bytes pad a member of `size` bytes to a whole 512-byte block.
pub fn padding(size: u64) -> usize {
    ((512 - size % 512) % 512) as usize
}

/// ustar keeps paths over 100 bytes as a prefix (up to 155) and a name, split at a `/`.
fn split(path: &str) -> Result<(&str, &str), String> {
    if path.is_empty() {
        return Err("tar member name is empty".into());
    }
    if path.len() <= 100 {
        return Ok(("", path));
    }
    let body = path.trim_end_matches('/');
    for (i, _) in body.match_indices('/') {
        let (prefix, name) = (&path[..i], &path[i + 1..]);
        if prefix.len() <= 155 && name.len() <= 100 && !name.is_empty() {
            return Ok((prefix, name));
        }
    }
    Err(format!(
        "tar member name is too long for a ustar header: {path}"
    ))
}

/// `width - 1` zero-padded octal digits and a NUL.
fn put_octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&s.as_bytes()[s.len() - digits..]);
    field[digits] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn members_read_back_with_the_tar_crate() {
        let long = format!("{}-1.0-1/desc", "x".repeat(120));
        let mut db = dir("a-1.0-1", 1_700_000_000).unwrap();
        db.extend(file("a-1.0-1/desc", b"%NAME%\na\n\n", 1_700_000_000).unwrap());
        db.extend(file(&long, b"", 5).unwrap());
        db.extend(file_with("sig", b"s", Meta::file(7).group("wheel")).unwrap());
        db.extend_from_slice(&END);
        let mut ar = tar::Archive::new(db.as_slice());
        let mut seen = Vec::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let h = e.header().clone();
            assert_eq!(h.cksum().unwrap(), {
                let mut b = *h.as_bytes();
                b[148..156].fill(b' ');
                b.iter().map(|&x| u32::from(x)).sum::<u32>()
            });
            assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
            let mut body = String::new();
            e.read_to_string(&mut body).unwrap();
            seen.push((
                String::from_utf8(e.path_bytes().into_owned()).unwrap(),
                h.mode().unwrap(),
                h.mtime().unwrap(),
                h.groupname().unwrap().unwrap().to_string(),
                body,
            ));
        }
        let root = || "root".to_string();
        assert_eq!(
            seen,
            [
                (
                    "a-1.0-1/".into(),
                    0o755,
                    1_700_000_000,
                    root(),
                    String::new()
                ),
                (
                    "a-1.0-1/desc".into(),
                    0o644,
                    1_700_000_000,
                    root(),
                    "%NAME%\na\n\n".into()
                ),
                (long, 0o644, 5, root(), String::new()),
                ("sig".into(), 0o644, 7, "wheel".into(), "s".into()),
            ]
        );
    }

    #[test]
    fn bad_names_and_sizes_are_errors() {
        assert!(file(&"y".repeat(300), b"", 0).is_err());
        assert!(header(&"n".repeat(101), 0, Kind::File, Meta::file(0)).is_err());
        assert!(header("", 0, Kind::File, Meta::file(0)).is_err());
        assert!(header("big", MAX_OCTAL + 1, Kind::File, Meta::file(0)).is_err());
        assert_eq!(padding(0), 0);
        assert_eq!(padding(1), 511);
        assert_eq!(padding(512), 0);
    }
}
