//! `.MTREE`: the gzip'd mtree manifest makepkg writes from the same file list as the package's
//! tar, and puts before the payload (`.BUILDINFO`, `.MTREE`, `.PKGINFO`, then the files). The
//! file list comes from it, so analyzing a package reads its first kilobytes instead of
//! decompressing the whole payload (a 150 MB package costs more than the host's fuel limit).
//! Only the full-path form bsdtar writes (`./usr/bin/x type=... `) is understood; anything else
//! answers `None` and the caller lists the tar itself.

use std::io::Read;

/// Decompressed `.MTREE` larger than this is not used (the tar is listed instead).
const MAX_MTREE: u64 = 64 << 20;

/// The installed paths an `.MTREE` lists, in its order, directories with a trailing `/`,
/// the package's dot-files left out; `None` if it is not a manifest this understands.
pub fn files(gz: &[u8]) -> Option<Vec<String>> {
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(gz)
        .take(MAX_MTREE + 1)
        .read_to_end(&mut text)
        .ok()?;
    if text.len() as u64 > MAX_MTREE {
        return None;
    }
    let text = String::from_utf8(text).ok()?;
    if !text.starts_with("#mtree") {
        return None;
    }
    let mut default_type: Option<String> = None;
    let mut out = Vec::new();
    // A line ending in a backslash continues on the next.
    let joined = text.replace("\\\n", " ");
    for line in joined.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let first = words.next()?;
        match first {
            "/set" => {
                for w in words {
                    if let Some(t) = w.strip_prefix("type=") {
                        default_type = Some(t.to_string());
                    }
                }
                continue;
            }
            "/unset" => {
                if words.any(|w| w == "type" || w == "all") {
                    default_type = None;
                }
                continue;
            }
            "." => continue,
            _ => {}
        }
        // Relative (classic, nested) mtree entries are not what makepkg writes.
        let path = unescape(first.strip_prefix("./")?)?;
        let kind = words
            .rev()
            .find_map(|w| w.strip_prefix("type="))
            .map(str::to_string)
            .or_else(|| default_type.clone())?;
        if path.is_empty() || path.starts_with('.') {
            continue;
        }
        if path.contains(['\n', '\r']) {
            return None;
        }
        out.push(if kind == "dir" {
            format!("{path}/")
        } else {
            path
        });
    }
    Some(out)
}

/// mtree escapes: `\ooo` (three octal digits) is a byte; a backslash before anything else
/// stands for that character.
fn unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        if let Some(d) = oct {
            let v =
                u32::from(d[0] - b'0') * 64 + u32::from(d[1] - b'0') * 8 + u32::from(d[2] - b'0');
            out.push(u8::try_from(v).ok()?);
            i += 4;
        } else {
            out.push(*b.get(i + 1)?);
            i += 2;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    pub fn gz(text: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn lists_files_like_bsdtar() {
        let m = "#mtree\n/set type=file uid=0 gid=0 mode=644\n\
                 ./.BUILDINFO time=1.0 size=6\n./.PKGINFO time=1.0 size=3\n\
                 . time=1.0 mode=755 type=dir\n\
                 ./usr time=1.0 mode=755 type=dir\n./usr/bin time=1.0 mode=755 type=dir\n\
                 ./usr/bin/a\\040b time=1.0 mode=755 size=3\n./usr/bin/l type=link link=a\n\
                 ./usr/\\303\\274\\075 time=1.0 \\\n size=0\n";
        assert_eq!(
            files(&gz(m)).unwrap(),
            ["usr/", "usr/bin/", "usr/bin/a b", "usr/bin/l", "usr/ü="]
        );
    }

    #[test]
    fn anything_else_is_none() {
        assert_eq!(files(b"not gzip"), None);
        assert_eq!(files(&gz("no header\n./a type=file\n")), None);
        assert_eq!(files(&gz("#mtree\nusr type=dir\n")), None);
        assert_eq!(files(&gz("#mtree\n./a size=1\n")), None, "no type");
        assert_eq!(files(&gz("#mtree\n./a\\012b type=file\n")), None, "newline");
        assert_eq!(
            files(&gz("#mtree\n./a\\ type=file\n")),
            None,
            "dangling escape"
        );
    }
}
