//! Test helpers: builds `.deb` files in memory (ar by hand, tar with the `tar` crate), and
//! with the real `dpkg-deb` where it is installed.

use crate::reposmith::generator::types::{Assembled, Encoding};
use reposmith_generator_sdk::Codec;
use std::path::PathBuf;
use std::process::Command;

#[derive(Clone, Copy, Debug)]
pub enum Compression {
    None,
    Gzip,
    Xz,
    Zstd,
}

impl Compression {
    pub fn member(self) -> &'static str {
        match self {
            Compression::None => "control.tar",
            Compression::Gzip => "control.tar.gz",
            Compression::Xz => "control.tar.xz",
            Compression::Zstd => "control.tar.zst",
        }
    }

    pub fn compress(self, data: &[u8]) -> Vec<u8> {
        let codec = match self {
            Compression::None => Codec::Plain,
            Compression::Gzip => Codec::Gzip,
            Compression::Xz => Codec::Xz,
            Compression::Zstd => Codec::Zstd,
        };
        reposmith_generator_sdk::testing::compress(codec, data)
    }
}

/// A 60-byte ar member header (common format, as dpkg-deb writes it).
pub fn ar_header(name: &str, size: u64) -> Vec<u8> {
    let h = format!(
        "{name:<16}{:<12}{:<6}{:<6}{:<8}{size:<10}`\n",
        0, 0, 0, 100644
    );
    assert_eq!(h.len(), 60, "{h:?}");
    h.into_bytes()
}

pub struct Ar(Vec<u8>);

impl Ar {
    pub fn new() -> Self {
        Ar(b"!<arch>\n".to_vec())
    }

    pub fn member(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.0.extend(ar_header(name, data.len() as u64));
        self.0.extend_from_slice(data);
        if data.len() % 2 == 1 {
            self.0.push(b'\n');
        }
        self
    }

    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }
}

pub fn append(tar: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, path, data).unwrap();
}

/// A control tarball the way dpkg-deb lays it out.
pub fn control_tar(control: &str) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_size(0);
    dir.set_mode(0o755);
    dir.set_cksum();
    tar.append_data(&mut dir, "./", &[][..]).unwrap();
    append(&mut tar, "./control", control.as_bytes());
    append(
        &mut tar,
        "./md5sums",
        b"d41d8cd98f00b204e9800998ecf8427e  usr/share/doc/x\n",
    );
    tar.into_inner().unwrap()
}

pub fn deb(control: &str, c: Compression) -> Vec<u8> {
    deb_with_data(control, c, b"")
}

pub fn deb_with_data(control: &str, c: Compression, data: &[u8]) -> Vec<u8> {
    let mut data_tar = tar::Builder::new(Vec::new());
    append(&mut data_tar, "./usr/share/doc/x", data);
    Ar::new()
        .member("debian-binary", b"2.0\n")
        .member(c.member(), &c.compress(&control_tar(control)))
        .member("data.tar", &data_tar.into_inner().unwrap())
        .finish()
}

/// Builds a package with the real dpkg-deb (`-Z` picks the compressor); `None` when dpkg-deb
/// is not installed.
pub fn dpkg_deb(control: &str, compressor: Option<&str>) -> Option<Vec<u8>> {
    if Command::new("dpkg-deb").arg("--version").output().is_err() {
        eprintln!("dpkg-deb not installed: skipping the real-package check");
        return None;
    }
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir: PathBuf =
        std::env::temp_dir().join(format!("reposmith-gen-deb-{}-{n}", std::process::id()));
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(root.join("usr/share/doc/hello")).unwrap();
    std::fs::write(root.join("DEBIAN/control"), control).unwrap();
    std::fs::write(root.join("usr/share/doc/hello/README"), "hello\n").unwrap();
    let out = dir.join("out.deb");
    let mut cmd = Command::new("dpkg-deb");
    cmd.arg("--root-owner-group");
    if let Some(z) = compressor {
        cmd.arg(format!("-Z{z}"));
    }
    let status = cmd
        .arg("--build")
        .arg(&root)
        .arg(&out)
        .output()
        .expect("running dpkg-deb");
    assert!(
        status.status.success(),
        "dpkg-deb failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let bytes = std::fs::read(&out).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    Some(bytes)
}

/// An assembled file as the host would describe it, every digest made of `seed` (the
/// encoding follows the path's suffix; decoded: 4096 bytes, sha256 all `f`).
pub fn assembled(path: &str, size: u64, seed: char) -> Assembled {
    Assembled {
        path: path.into(),
        encoding: if path.ends_with(".xz") {
            Encoding::Xz
        } else if path.ends_with(".gz") {
            Encoding::Gzip
        } else {
            Encoding::Identity
        },
        size,
        md5: seed.to_string().repeat(32),
        sha1: seed.to_string().repeat(40),
        sha256: seed.to_string().repeat(64),
        sha512: seed.to_string().repeat(128),
        open_size: 4096,
        open_sha256: "f".repeat(64),
        patch: None,
    }
}
