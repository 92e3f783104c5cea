//! ustar members built in `finish`, where the sizes are known: the same header layout as the
//! host's (`functions/lib/core/src/assemble.rs` `ustar_header`), owner root, mode 0644. libarchive
//! (pkg's reader) accepts it as any ustar.

/// The 512-byte ustar header of a regular file.
pub fn header(name: &str, size: u64, mtime: u64) -> Result<[u8; 512], String> {
    if name.is_empty() || name.len() > 100 {
        return Err(format!("tar member name {name:?} must be 1-100 bytes"));
    }
    if size > 0o77777777777 {
        return Err(format!(
            "tar member {name} is too large for ustar ({size} bytes)"
        ));
    }
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    let mut field =
        |at: usize, len: usize, v: &str| h[at..at + v.len().min(len)].copy_from_slice(v.as_bytes());
    field(100, 8, "0000644\0");
    field(108, 8, "0000000\0");
    field(116, 8, "0000000\0");
    field(124, 12, &format!("{size:011o}\0"));
    field(136, 12, &format!("{:011o}\0", mtime.min(0o77777777777)));
    field(148, 8, "        ");
    field(156, 1, "0");
    field(257, 6, "ustar\0");
    field(263, 2, "00");
    field(265, 32, "root");
    field(297, 32, "wheel");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    Ok(h)
}

/// Zero bytes that pad a member of `size` bytes to a whole 512-byte block.
pub fn padding(size: u64) -> Vec<u8> {
    vec![0u8; ((512 - size % 512) % 512) as usize]
}

/// The end of an archive: two zero blocks.
pub const END: [u8; 1024] = [0u8; 1024];

/// A complete member: header, data, padding.
pub fn member(name: &str, data: &[u8], mtime: u64) -> Result<Vec<u8>, String> {
    let mut out = header(name, data.len() as u64, mtime)?.to_vec();
    out.extend_from_slice(data);
    out.extend(padding(data.len() as u64));
    Ok(out)
}
