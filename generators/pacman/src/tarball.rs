//! Tar members for the pacman databases: a database is a plain ustar archive of
//! `NAME-VERSION/desc` (and `NAME-VERSION/files`) members, so each package's members are
//! rendered once here and the host concatenates them, adding the 1024-byte end marker.
//! Deterministic: fixed mtime (the package's build date), owner root, modes 0644/0755.

/// The end-of-archive marker: two zero blocks.
pub const END: [u8; 1024] = [0; 1024];
/// The largest value an 11-digit octal field holds.
const MAX_OCTAL: u64 = 0o777_7777_7777;

/// A directory member `name` (written with a trailing `/`).
pub fn dir(name: &str, mtime: u64) -> Result<Vec<u8>, String> {
    header(
        &format!("{}/", name.trim_end_matches('/')),
        0,
        0o755,
        b'5',
        mtime,
    )
}

/// A regular file member with its content, padded to a 512-byte block.
pub fn file(name: &str, data: &[u8], mtime: u64) -> Result<Vec<u8>, String> {
    let mut out = header(name, data.len() as u64, 0o644, b'0', mtime)?;
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    Ok(out)
}

fn header(path: &str, size: u64, mode: u32, kind: u8, mtime: u64) -> Result<Vec<u8>, String> {
    if size > MAX_OCTAL {
        return Err(format!("database member {path} is too large"));
    }
    let (prefix, name) = split(path)?;
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    put_octal(&mut h[100..108], u64::from(mode));
    put_octal(&mut h[108..116], 0);
    put_octal(&mut h[116..124], 0);
    put_octal(&mut h[124..136], size);
    put_octal(&mut h[136..148], mtime.min(MAX_OCTAL));
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[265..269].copy_from_slice(b"root");
    h[297..301].copy_from_slice(b"root");
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    // The checksum counts its own field as eight spaces; written as 6 octal digits, NUL, space.
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    Ok(h)
}

/// ustar keeps paths over 100 bytes as a prefix (up to 155) and a name, split at a `/`.
fn split(path: &str) -> Result<(&str, &str), String> {
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
        "database member name is too long for a tar header: {path}"
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
                body,
            ));
        }
        assert_eq!(
            seen,
            [
                ("a-1.0-1/".into(), 0o755, 1_700_000_000, String::new()),
                (
                    "a-1.0-1/desc".into(),
                    0o644,
                    1_700_000_000,
                    "%NAME%\na\n\n".into()
                ),
                (long, 0o644, 5, String::new()),
            ]
        );
    }

    #[test]
    fn too_long_names_are_errors() {
        assert!(file(&"y".repeat(300), b"", 0).is_err());
    }
}
