//! Interoperability: everything `PgpKey` signs must verify with GnuPG's `gpgv`, the verifier
//! apt uses. RSA key generation is slow, so each key is generated once per test binary.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::OnceLock,
    time::Instant,
};

use reposmith_signing::PgpKey;

fn key() -> &'static PgpKey {
    static KEY: OnceLock<PgpKey> = OnceLock::new();
    KEY.get_or_init(|| timed_generate("reposmith test <test@example.invalid>"))
}

fn other_key() -> &'static PgpKey {
    static KEY: OnceLock<PgpKey> = OnceLock::new();
    KEY.get_or_init(|| timed_generate("someone else <other@example.invalid>"))
}

fn timed_generate(uid: &str) -> PgpKey {
    let start = Instant::now();
    let key = PgpKey::generate(uid).expect("generate key");
    eprintln!("RSA-3072 keygen took {:?}", start.elapsed());
    key
}

/// A scratch dir holding `key`'s binary public keyring, used as gpgv's keyring and homedir.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new(key: &PgpKey) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("keyring.gpg"),
            key.public_key_bytes().unwrap(),
        )
        .unwrap();
        Scratch { dir }
    }

    fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, data).unwrap();
        path
    }

    /// Run gpgv against the keyring with these file arguments.
    fn gpgv(&self, args: &[&Path]) -> Output {
        let home = self.dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let out = Command::new("gpgv")
            .arg("--homedir")
            .arg(&home)
            .arg("--keyring")
            .arg(self.dir.path().join("keyring.gpg"))
            .args(args)
            .output()
            .expect("run gpgv");
        eprintln!("gpgv: {}", String::from_utf8_lossy(&out.stderr));
        out
    }
}

const RELEASE: &str = "Origin: reposmith \n\
Label: reposmith\t\n\
Suite: stable\n\
Codename: bookworm   \n\
Date: Sat, 01 Jun 2024 00:00:00 UTC\n\
Architectures: amd64 arm64\n\
Components: main\n\
Description: test repo  \t \n\
SHA256:\n \
 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef      1234 main/binary-amd64/Packages \n \
 fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210       567 main/binary-amd64/Packages.gz\n";

/// What the signed text must be after trimming: no trailing whitespace, LF line ends.
fn trimmed(text: &str) -> String {
    text.replace("\r\n", "\n")
        .split('\n')
        .map(|l| l.trim_end_matches([' ', '\t']))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn clearsign_verifies_with_gpgv() {
    let key = key();
    let cases = [
        RELEASE.to_string(),
        // CRLF input, a dash-escaped line, a line that looks like armor, no final newline.
        "Origin: x  \r\n-leading dash\r\n-----BEGIN PGP SIGNATURE-----\r\nlast line \t".to_string(),
        // Trailing blank lines and a whitespace-only line.
        "a\n   \n\n".to_string(),
    ];
    for text in cases {
        let scratch = Scratch::new(key);
        let start = Instant::now();
        let signed = key.clearsign(&text).unwrap();
        eprintln!("clearsign took {:?}", start.elapsed());
        assert!(signed.starts_with("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"));
        let inrelease = scratch.write("InRelease", signed.as_bytes());
        let data_out = scratch.dir.path().join("signed-text");
        let out = scratch.gpgv(&[Path::new("--output"), &data_out, &inrelease]);
        assert!(out.status.success(), "gpgv rejected InRelease:\n{signed}");
        // What gpgv considers signed is exactly the trimmed input (gpg writes every line,
        // including the last, with a newline: the final line break is not part of the text).
        let extracted = std::fs::read_to_string(&data_out).unwrap();
        assert_eq!(extracted, trimmed(&text) + "\n", "signed text differs");
        // The same, read straight from the cleartext body: dash-unescaped, minus the line break
        // that precedes the signature block.
        let body = signed.split_once("\n\n").unwrap().1;
        let body = body
            .split_once("\n-----BEGIN PGP SIGNATURE-----")
            .unwrap()
            .0;
        let unescaped: Vec<_> = body
            .split('\n')
            .map(|l| l.strip_prefix("- ").unwrap_or(l))
            .collect();
        assert_eq!(unescaped.join("\n"), trimmed(&text));
    }
}

#[test]
fn clearsign_tampered_fails() {
    let key = key();
    let scratch = Scratch::new(key);
    let signed = key.clearsign(RELEASE).unwrap();
    let tampered = signed.replace("Suite: stable", "Suite: stablE");
    let inrelease = scratch.write("InRelease", tampered.as_bytes());
    assert!(!scratch.gpgv(&[&inrelease]).status.success());
}

#[test]
fn detached_signatures_verify_with_gpgv() {
    let key = key();
    let mut binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    binary.extend_from_slice(b"\xff\xfe\x00 not utf-8 \x80\r\n");
    let payloads: [(&str, Vec<u8>); 4] = [
        ("binary", binary),
        ("crlf", b"line one  \r\nline two\r\n\r\n".to_vec()),
        ("lf-trailing-ws", b"<repomd>  \n\t</repomd> \n".to_vec()),
        ("empty", Vec::new()),
    ];
    for (name, data) in payloads {
        let scratch = Scratch::new(key);
        let data_path = scratch.write(name, &data);
        for armor in [true, false] {
            let start = Instant::now();
            let sig = key.detached(&data, armor).unwrap();
            eprintln!(
                "detached {name} armor={armor} ({} bytes) took {:?}",
                data.len(),
                start.elapsed()
            );
            if armor {
                assert!(sig.starts_with(b"-----BEGIN PGP SIGNATURE-----"));
            } else {
                // A binary OpenPGP signature packet (new or old format tag 2).
                assert!(sig[0] == 0xc2 || sig[0] & 0xfc == 0x88, "{:#x}", sig[0]);
            }
            let sig_path = scratch.write(&format!("{name}.sig{armor}"), &sig);
            let out = scratch.gpgv(&[&sig_path, &data_path]);
            assert!(out.status.success(), "gpgv rejected {name} armor={armor}");
        }
        // Binary mode: changing the data, even only its line endings, breaks the signature.
        if !data.is_empty() {
            let sig = key.detached(&data, false).unwrap();
            let sig_path = scratch.write("changed.sig", &sig);
            let mut changed = data.clone();
            changed.push(b'\n');
            let changed_path = scratch.write("changed", &changed);
            assert!(!scratch.gpgv(&[&sig_path, &changed_path]).status.success());
        }
    }
}

#[test]
fn detached_reader_streams_large_input() {
    let key = key();
    let scratch = Scratch::new(key);
    // 64 MiB of pseudo-random bytes, produced lazily by the reader.
    let len: u64 = 64 << 20;
    let make = || std::io::Read::take(XorShift(0x9e37_79b9_7f4a_7c15), len);
    let mut file = Vec::new();
    std::io::Read::read_to_end(&mut make(), &mut file).unwrap();
    let data_path = scratch.write("big.pkg.tar.zst", &file);
    drop(file);
    for armor in [false, true] {
        let start = Instant::now();
        let sig = key.detached_reader(make(), armor).unwrap();
        eprintln!("detached_reader 64 MiB took {:?}", start.elapsed());
        let sig_path = scratch.write("big.sig", &sig);
        assert!(scratch.gpgv(&[&sig_path, &data_path]).status.success());
    }
}

#[test]
fn signature_from_other_key_fails() {
    let scratch = Scratch::new(key());
    let data = b"Packages content\n";
    let data_path = scratch.write("data", data);
    for armor in [true, false] {
        let sig = other_key().detached(data, armor).unwrap();
        let sig_path = scratch.write("other.sig", &sig);
        assert!(!scratch.gpgv(&[&sig_path, &data_path]).status.success());
    }
    let inrelease = scratch.write(
        "InRelease",
        other_key().clearsign(RELEASE).unwrap().as_bytes(),
    );
    assert!(!scratch.gpgv(&[&inrelease]).status.success());
    assert_ne!(key().fingerprint(), other_key().fingerprint());
}

#[test]
fn armored_secret_round_trips() {
    let key = key();
    let armored = key.to_armored_secret().unwrap();
    assert!(armored.starts_with("-----BEGIN PGP PRIVATE KEY BLOCK-----"));
    let loaded = PgpKey::from_armored_secret(&armored).unwrap();
    assert_eq!(loaded.fingerprint(), key.fingerprint());
    assert_eq!(
        loaded.public_key_bytes().unwrap(),
        key.public_key_bytes().unwrap()
    );

    // The reloaded key signs verifiably against the original public key.
    let scratch = Scratch::new(key);
    let data = b"repomd";
    let data_path = scratch.write("repomd.xml", data);
    let sig_path = scratch.write("repomd.xml.asc", &loaded.detached(data, true).unwrap());
    assert!(scratch.gpgv(&[&sig_path, &data_path]).status.success());
    let inrelease = scratch.write("InRelease", loaded.clearsign(RELEASE).unwrap().as_bytes());
    assert!(scratch.gpgv(&[&inrelease]).status.success());

    assert!(PgpKey::from_armored_secret(&key.public_key_armored().unwrap()).is_err());
    assert!(PgpKey::from_armored_secret("not a key").is_err());
}

#[test]
fn fingerprint_is_upper_hex_and_matches_gpg() {
    let key = key();
    let fpr = key.fingerprint();
    assert_eq!(fpr.len(), 40, "v4 fingerprint is 20 bytes");
    assert!(fpr
        .chars()
        .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)));
    let Some(listing) = gpg(
        &["--with-colons", "--show-keys"],
        key.public_key_bytes().unwrap(),
    ) else {
        return;
    };
    let listing = String::from_utf8(listing).unwrap();
    assert!(
        listing.lines().any(|l| l == format!("fpr:::::::::{fpr}:")),
        "{listing}"
    );
}

#[test]
fn dearmored_public_key_equals_bytes() {
    let key = key();
    let armored = key.public_key_armored().unwrap();
    assert!(armored.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"));
    let Some(dearmored) = gpg(&["--dearmor"], armored.into_bytes()) else {
        return;
    };
    assert_eq!(dearmored, key.public_key_bytes().unwrap());
}

#[test]
fn shared_across_threads() {
    let key = std::sync::Arc::new(key().clone());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let key = key.clone();
            std::thread::spawn(move || key.detached(format!("data {i}").as_bytes(), false))
        })
        .collect();
    for h in handles {
        assert!(!h.join().unwrap().unwrap().is_empty());
    }
}

/// An endless reader of pseudo-random bytes.
struct XorShift(u64);

impl std::io::Read for XorShift {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        for b in buf.iter_mut() {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = self.0 as u8;
        }
        Ok(buf.len())
    }
}

/// Run `gpg` with a throwaway homedir, feeding `input` on stdin; `None` if gpg is not installed.
fn gpg(args: &[&str], input: Vec<u8>) -> Option<Vec<u8>> {
    use std::io::Write as _;
    let home = tempfile::tempdir().unwrap();
    let mut child = match Command::new("gpg")
        .arg("--homedir")
        .arg(home.path())
        .args(["--batch", "--no-tty"])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("gpg not installed: skipping");
            return None;
        }
        Err(e) => panic!("spawning gpg: {e}"),
    };
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "gpg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(out.stdout)
}
