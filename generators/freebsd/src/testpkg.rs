//! Genuine FreeBSD packages for the tests, laid out as `pkg create` makes them
//! (`libpkg/pkg_create.c`: `+COMPACT_MANIFEST`, `+MANIFEST`, then the files under the prefix).

use crate::reposmith::generator::types::{Facts, RepoInfo};

pub use reposmith_generator_sdk::testing::{compress, reader};
pub use reposmith_generator_sdk::Codec;

pub const ALL: [Codec; 4] = [Codec::Zstd, Codec::Xz, Codec::Gzip, Codec::Plain];

/// A tar of `(path, content)`.
pub fn tar(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in members {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        // pkg stores installed files by absolute path, which `set_path` refuses: write the
        // name field directly.
        assert!(path.len() <= 100);
        h.as_mut_bytes()[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// The compact manifest of a package, as `pkg create` writes it (compact JSON).
pub fn compact_manifest(name: &str, version: &str, abi: &str) -> String {
    format!(
        concat!(
            "{{\"name\":\"{n}\",\"origin\":\"sysutils/{n}\",\"version\":\"{v}\",",
            "\"comment\":\"A harness package\",\"maintainer\":\"ports@example.org\",",
            "\"www\":\"https://example.org/{n}\",\"abi\":\"{a}\",\"arch\":\"{arch}\",",
            "\"prefix\":\"/usr/local\",\"flatsize\":6,\"licenselogic\":\"single\",",
            "\"licenses\":[\"BSD2CLAUSE\"],\"desc\":\"Harness package {n}.\\nSecond line.\",",
            "\"deps\":{{\"libfoo\":{{\"origin\":\"devel/libfoo\",\"version\":\"1.2\"}}}},",
            "\"categories\":[\"sysutils\"],\"shlibs_required\":[\"libc.so.7\"],",
            "\"options\":{{\"DOCS\":\"on\"}},\"annotations\":{{\"FreeBSD_version\":\"1400097\"}}}}"
        ),
        n = name,
        v = version,
        a = abi,
        arch = abi.to_lowercase().replace("amd64", "x86:64"),
    )
}

/// The full manifest: the compact one plus files, directories and scripts.
pub fn full_manifest(name: &str, version: &str, abi: &str) -> String {
    let c = compact_manifest(name, version, abi);
    format!(
        "{},\"files\":{{\"/usr/local/bin/{name}\":\"1$abc\"}},\"directories\":{{}},\
         \"scripts\":{{\"post-install\":\"echo hi\"}}}}",
        &c[..c.len() - 1]
    )
}

/// The uncompressed tar of a package.
pub fn package_tar(name: &str, version: &str, abi: &str) -> Vec<u8> {
    let bin = format!("/usr/local/bin/{name}");
    tar(&[
        (
            "+COMPACT_MANIFEST",
            compact_manifest(name, version, abi).as_bytes(),
        ),
        ("+MANIFEST", full_manifest(name, version, abi).as_bytes()),
        (&bin, b"hello\n"),
    ])
}

pub fn package(c: Codec, name: &str, version: &str, abi: &str) -> Vec<u8> {
    compress(c, &package_tar(name, version, abi))
}

pub fn sample(c: Codec) -> Vec<u8> {
    package(c, "hello", "2.10_1", "FreeBSD:14:amd64")
}

/// A pacman-style package: `.PKGINFO` first.
pub fn pacman(c: Codec) -> Vec<u8> {
    compress(
        c,
        &tar(&[
            (".PKGINFO", b"pkgname = x\npkgver = 1-1\n".as_slice()),
            (".BUILDINFO", b"format = 2\n".as_slice()),
            ("usr/bin/x", b"x".as_slice()),
        ]),
    )
}

pub fn facts(filename: &str, data: &[u8]) -> Facts {
    use sha2::Digest;
    Facts {
        filename: filename.into(),
        size: data.len() as u64,
        md5: String::new(),
        sha1: String::new(),
        sha256: hex::encode(sha2::Sha256::digest(data)),
        sha512: String::new(),
    }
}

pub fn repo(name: &str) -> RepoInfo {
    reposmith_generator_sdk::testing::repo(name, &["amd64"])
}
