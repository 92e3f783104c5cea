//! ustar members for APKINDEX.tar.gz, written deterministically (owner root, mode 0644, the
//! given mtime). apk-tools reads them with its own tar parser (`src/tar.c`), which takes
//! plain ustar headers.

/// The end-of-archive marker: two zero blocks.
pub const END: [u8; 1024] = [0; 1024];
const MAX_OCTAL: u64 = 0o777_7777_7777;

/// A regular file member with its content, padded to a 512-byte block.
pub fn file(name: &str, data: &[u8], mtime: u64) -> Result<Vec<u8>, String> {
    let mut out = header(name, data.len() as u64, mtime)?;
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    Ok(out)
}

/// The header of a regular file member of `size` bytes.
pub fn header(name: &str, size: u64, mtime: u64) -> Result<Vec<u8>, String> {
    if name.is_empty() || name.len() > 100 {
        return Err(format!(
            "tar member name {name:?} does not fit a ustar header"
        ));
    }
    if size > MAX_OCTAL {
        return Err(format!("tar member {name} is too large"));
    }
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    put_octal(&mut h[100..108], 0o644);
    put_octal(&mut h[108..116], 0);
    put_octal(&mut h[116..124], 0);
    put_octal(&mut h[124..136], size);
    put_octal(&mut h[136..148], mtime.min(MAX_OCTAL));
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[265..269].copy_from_slice(b"root");
    h[297..301].copy_from_slice(b"root");
    // The checksum counts its own field as eight spaces; written as 6 octal digits, NUL, space.
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    Ok(h)
}

fn put_octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&s.as_bytes()[s.len() - digits..]);
    field[digits] = 0;
}
