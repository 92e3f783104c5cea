//! Reading a `.deb`: the `ar` archive around it and the control tarball inside.
//!
//! Everything goes through a `read(offset, len)` callback, so on a remote store only the
//! ar headers and the control member are fetched (usually one ranged GET), never data.tar.

use std::io;

use reposmith_generator_sdk::ar::{self, Member};
use reposmith_generator_sdk::tar::Reader as TarReader;
use reposmith_generator_sdk::{Capped, Codec, Mem};

/// The first read: covers the magic, the debian-binary member and, for a typical package,
/// the whole control member, so analyze costs one ranged read.
const WINDOW: u64 = 4096;
/// A control member is a few KiB in practice; never fetch or inflate more than this.
pub const MAX_CONTROL_MEMBER: u64 = 64 << 20;
/// Cap on the decompressed control tarball (guards against compression bombs).
const MAX_CONTROL_TAR: u64 = 64 << 20;
/// Cap on the control file itself: it becomes a stanza in every Packages file.
const MAX_CONTROL_FILE: u64 = 8 << 20;
/// Members scanned for control.tar before giving up (dpkg wants it second).
const MAX_MEMBERS: usize = 16;
/// The xz decoder's dictionary memory limit, in KiB.
const XZ_MEM_LIMIT_KB: u32 = 256 << 10;

/// Content sniffing for `claims`: an ar archive whose first member is `debian-binary`.
pub fn claims(head: &[u8]) -> bool {
    head.len() >= ar::MAGIC.len() + 16
        && head.starts_with(ar::MAGIC)
        && ar::short_name(&head[8..24]) == b"debian-binary"
}

/// The control file of a package, and which member it came from.
#[derive(Debug)]
pub struct ControlFile {
    /// Which compression the package used; only tests look at it today.
    #[allow(dead_code)]
    pub member: String,
    pub data: Vec<u8>,
}

/// The ar reader's errors in a .deb's words.
fn deb_error(e: ar::Error) -> String {
    match e {
        ar::Error::Read(e) => e,
        ar::Error::NoMagic => "not a .deb: no ar archive signature \"!<arch>\"".into(),
        ar::Error::ShortHeader { offset, end } => format!(
            "truncated .deb: ar member header at offset {offset} is cut short, file ends at {end}"
        ),
        ar::Error::Truncated { name, size, end } => {
            format!("truncated .deb: member {name} claims {size} bytes, file ends at {end}")
        }
        ar::Error::TooLarge { name, size, max } => format!(
            "control member {name} claims {size} bytes, over the {} MiB limit",
            max >> 20
        ),
        other => format!("not a .deb: {other}"),
    }
}

/// Finds the control member of a `.deb` and returns its `control` file.
pub fn read_control<R>(read: R) -> Result<ControlFile, String>
where
    R: FnMut(u64, u32) -> Result<Vec<u8>, String>,
{
    let mut ar = ar::Reader::new(read, WINDOW as u32).map_err(deb_error)?;
    let first = ar
        .next_member()
        .map_err(deb_error)?
        .ok_or("not a .deb: missing debian-binary member")?;
    if first.name != "debian-binary" {
        return Err(format!(
            "not a .deb: missing debian-binary member (first member is {:?})",
            first.name
        ));
    }
    let version = ar.head(&first, 16).map_err(deb_error)?;
    if !version.starts_with(b"2.") {
        let shown = String::from_utf8_lossy(&version);
        return Err(format!(
            "unsupported .deb format version {:?} (expected 2.x)",
            shown.trim_end()
        ));
    }

    let mut control: Option<Member> = None;
    for _ in 0..MAX_MEMBERS {
        let Some(m) = ar.next_member().map_err(deb_error)? else {
            break;
        };
        if m.name.starts_with("control.tar") {
            control = Some(m);
            break;
        }
        if m.name.starts_with("data.tar") {
            return Err(format!(
                "not a .deb: missing control.tar member (found {} first)",
                m.name
            ));
        }
        // Other members (dpkg reserves names starting with "_") are skipped.
    }
    let m = control.ok_or("not a .deb: missing control.tar member")?;

    if !matches!(
        m.name.as_str(),
        "control.tar" | "control.tar.gz" | "control.tar.xz" | "control.tar.zst"
    ) {
        return Err(format!(
            "unsupported control member {} (expected control.tar, .gz, .xz or .zst)",
            m.name
        ));
    }
    let packed = ar.read(&m, MAX_CONTROL_MEMBER).map_err(deb_error)?;
    let data = control_from_tar(&m.name, &packed)?;
    Ok(ControlFile {
        member: m.name,
        data,
    })
}

/// Decompresses the control tarball (streaming) and pulls `./control` out of it.
fn control_from_tar(member: &str, packed: &[u8]) -> Result<Vec<u8>, String> {
    let codec = match member {
        "control.tar.gz" => Codec::Gzip,
        "control.tar.xz" => Codec::Xz,
        "control.tar.zst" => Codec::Zstd,
        _ => Codec::Plain,
    };
    let decoder = codec.decoder(Mem::new(packed.to_vec()), XZ_MEM_LIMIT_KB);
    let limited = Capped::new(
        decoder,
        MAX_CONTROL_TAR,
        format!(
            "decompressed size is over the {} MiB limit",
            MAX_CONTROL_TAR >> 20
        ),
    );
    let bad = |e: io::Error| format!("bad control tarball {member}: {e}");

    let mut archive = TarReader::new(limited);
    while let Some(entry) = archive.next_member().map_err(bad)? {
        if !matches!(entry.name.as_slice(), b"./control" | b"control") {
            continue;
        }
        if !entry.is_file() {
            return Err(format!("control file in {member} is not a regular file"));
        }
        if entry.size > MAX_CONTROL_FILE {
            return Err(format!(
                "control file in {member} is {} bytes, over the {} MiB limit",
                entry.size,
                MAX_CONTROL_FILE >> 20
            ));
        }
        return archive
            .read_data(MAX_CONTROL_FILE)
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => {
                    format!("bad control tarball {member}: control file is cut short")
                }
                _ => bad(e),
            });
    }
    Err(format!("not a .deb: no control file in {member}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdeb::{self, Compression};

    fn reader(bytes: &[u8]) -> impl FnMut(u64, u32) -> Result<Vec<u8>, String> {
        reposmith_generator_sdk::testing::reader(bytes.to_vec())
    }

    const CONTROL: &str = "Package: hello\nVersion: 2.10-3\nArchitecture: amd64\nDescription: hi\n";

    #[test]
    fn claims_by_content() {
        let deb = testdeb::deb(CONTROL, Compression::Gzip);
        assert!(claims(&deb));
        assert!(claims(&deb[..24]));
        assert!(!claims(&deb[..20]));
        assert!(!claims(b""));
        assert!(!claims(b"!<arch>\nfoo.o/          "));
        assert!(!claims(b"\x1f\x8b\x08\x00 not an ar archive at all"));
        // GNU ar spells it with a trailing slash.
        assert!(claims(b"!<arch>\ndebian-binary/  1 0 0 100644 4 `\n"));
    }

    #[test]
    fn reads_every_compression() {
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Xz,
            Compression::Zstd,
        ] {
            let deb = testdeb::deb(CONTROL, c);
            let got = read_control(reader(&deb)).unwrap_or_else(|e| panic!("{c:?}: {e}"));
            assert_eq!(got.member, c.member());
            assert_eq!(got.data, CONTROL.as_bytes(), "{c:?}");
        }
    }

    #[test]
    fn multi_frame_zstd() {
        let tar = testdeb::control_tar(CONTROL);
        let (a, b) = tar.split_at(700);
        let mut packed =
            ruzstd::encoding::compress_to_vec(a, ruzstd::encoding::CompressionLevel::Fastest);
        // A skippable frame in between, as some tools write.
        packed.extend_from_slice(&0x184D2A50u32.to_le_bytes());
        packed.extend_from_slice(&3u32.to_le_bytes());
        packed.extend_from_slice(b"xyz");
        packed.extend(ruzstd::encoding::compress_to_vec(
            b,
            ruzstd::encoding::CompressionLevel::Fastest,
        ));
        let got = control_from_tar("control.tar.zst", &packed).unwrap();
        assert_eq!(got, CONTROL.as_bytes());
    }

    #[test]
    fn reads_only_the_head() {
        // A package with a big data member: analyze must not fetch it.
        let deb = testdeb::deb_with_data(CONTROL, Compression::Xz, &vec![7u8; 300_000]);
        let mut calls = 0;
        let mut fetched = 0u64;
        let got = read_control(|off, len| {
            calls += 1;
            fetched += u64::from(len);
            reader(&deb)(off, len)
        })
        .unwrap();
        assert_eq!(got.data, CONTROL.as_bytes());
        assert_eq!(calls, 1, "one ranged read covers a small control member");
        assert!(fetched <= WINDOW);
    }

    #[test]
    fn rejects_garbage() {
        let err = read_control(reader(b"")).unwrap_err();
        assert!(err.contains("not a .deb"), "{err}");
        let err = read_control(reader(b"PK\x03\x04 a zip file, not a deb")).unwrap_err();
        assert!(err.contains("not a .deb"), "{err}");
        let err = read_control(reader(b"!<arch>\n")).unwrap_err();
        assert_eq!(err, "not a .deb: missing debian-binary member");
        let mut ar = testdeb::Ar::new();
        ar.member("foo.o", b"x");
        let err = read_control(reader(&ar.finish())).unwrap_err();
        assert!(err.contains("missing debian-binary member"), "{err}");
    }

    #[test]
    fn rejects_missing_members() {
        let mut ar = testdeb::Ar::new();
        ar.member("debian-binary", b"2.0\n");
        let err = read_control(reader(&ar.finish())).unwrap_err();
        assert_eq!(err, "not a .deb: missing control.tar member");

        let mut ar = testdeb::Ar::new();
        ar.member("debian-binary", b"2.0\n");
        ar.member("data.tar.xz", b"whatever");
        let err = read_control(reader(&ar.finish())).unwrap_err();
        assert!(
            err.contains("missing control.tar member (found data.tar.xz first)"),
            "{err}"
        );

        let mut ar = testdeb::Ar::new();
        ar.member("debian-binary", b"3.0\n");
        let err = read_control(reader(&ar.finish())).unwrap_err();
        assert!(
            err.contains("unsupported .deb format version \"3.0\""),
            "{err}"
        );

        let mut ar = testdeb::Ar::new();
        ar.member("debian-binary", b"2.0\n");
        ar.member("control.tar.bz2", b"BZh");
        let err = read_control(reader(&ar.finish())).unwrap_err();
        assert!(
            err.contains("unsupported control member control.tar.bz2"),
            "{err}"
        );

        // A control tarball without a control file.
        let mut tar = tar::Builder::new(Vec::new());
        testdeb::append(&mut tar, "./md5sums", b"");
        let mut ar = testdeb::Ar::new();
        ar.member("debian-binary", b"2.0\n");
        ar.member("control.tar", &tar.into_inner().unwrap());
        let err = read_control(reader(&ar.finish())).unwrap_err();
        assert_eq!(err, "not a .deb: no control file in control.tar");

        // Not a tarball at all.
        let mut ar = testdeb::Ar::new();
        ar.member("debian-binary", b"2.0\n");
        ar.member("control.tar.gz", b"not gzip");
        let err = read_control(reader(&ar.finish())).unwrap_err();
        assert!(
            err.starts_with("bad control tarball control.tar.gz"),
            "{err}"
        );
    }

    #[test]
    fn rejects_truncation() {
        let deb = testdeb::deb(CONTROL, Compression::Xz);
        // magic 8, debian-binary header 60 + data 4, control.tar.xz header 60: cut 10 bytes in.
        let cut = 8 + 60 + 4 + 60 + 10;
        let err = read_control(reader(&deb[..cut])).unwrap_err();
        assert!(
            err.starts_with("truncated .deb: member control.tar.xz claims ")
                && err.ends_with(&format!("file ends at {cut}")),
            "{err}"
        );
        // Cut inside the second header.
        let err = read_control(reader(&deb[..8 + 60 + 4 + 30])).unwrap_err();
        assert!(
            err.starts_with("truncated .deb: ar member header at offset 72"),
            "{err}"
        );
    }

    #[test]
    fn rejects_huge_sizes() {
        let mut deb = b"!<arch>\n".to_vec();
        deb.extend(testdeb::ar_header("debian-binary", 4));
        deb.extend(b"2.0\n");
        deb.extend(testdeb::ar_header("control.tar.xz", 9_999_999_999));
        deb.extend(b"tiny");
        let err = read_control(reader(&deb)).unwrap_err();
        assert!(err.contains("over the 64 MiB limit"), "{err}");
        // A member that claims 64 MiB but the file is short: one error, no huge allocation.
        let mut deb = b"!<arch>\n".to_vec();
        deb.extend(testdeb::ar_header("debian-binary", 4));
        deb.extend(b"2.0\n");
        deb.extend(testdeb::ar_header("control.tar.xz", 64 << 20));
        deb.extend(b"tiny");
        let err = read_control(reader(&deb)).unwrap_err();
        assert_eq!(
            err,
            format!(
                "truncated .deb: member control.tar.xz claims {} bytes, file ends at 136",
                64 << 20
            )
        );
    }

    #[test]
    fn read_errors_are_reported() {
        let err = read_control(|_, _| Err("store unavailable".into())).unwrap_err();
        assert_eq!(err, "reading the package failed: store unavailable");
    }

    /// Random damage to valid packages of every compression must give errors, not panics.
    #[test]
    fn never_panics_on_damaged_input() {
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Xz,
            Compression::Zstd,
        ] {
            let good = testdeb::deb(CONTROL, c);
            // REPOSMITH_FUZZ_ROUNDS=100000 for a longer soak.
            for bad in reposmith_generator_sdk::testing::damaged(&good, 1500) {
                let _ = read_control(reader(&bad));
            }
        }
    }
}
