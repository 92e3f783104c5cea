//! Reading tar streams: just enough for `claims` to name the first member.
use std::io::Read;

/// The name of the first real tar member (pax headers skipped) in what `dec` yields before it
/// ends or fails: `claims` decodes only the first bytes of a package. `None` when that is too
/// short to tell.
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
    let mut at = 0usize;
    loop {
        let h = out.get(at..at + 512)?;
        let (kind, size) = (h[156], octal(&h[124..136])?);
        if matches!(kind, b'x' | b'g') {
            at = at
                .checked_add(512)?
                .checked_add(usize::try_from(size.div_ceil(512) * 512).ok()?)?;
            continue;
        }
        let name = &h[..100];
        return Some(name[..name.iter().position(|&b| b == 0).unwrap_or(100)].to_vec());
    }
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
