//! Keys made by GnuPG (what an operator imports with `gpg --export-secret-keys --armor`) load,
//! and the ones that cannot sign unattended are refused with an error. Skipped without `gpg`.

use std::{
    path::Path,
    process::{Command, Stdio},
};

use reposmith_signing::PgpKey;

/// A throwaway GnuPG home; its gpg-agent is stopped on drop so no process outlives the test.
struct GpgHome(tempfile::TempDir);

impl GpgHome {
    fn new() -> Option<Self> {
        if Command::new("gpg").arg("--version").output().is_err() {
            eprintln!("gpg not installed: skipping");
            return None;
        }
        Some(GpgHome(tempfile::tempdir().unwrap()))
    }

    fn gpg(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(self.0.path())
            .args(["--batch", "--no-tty", "--pinentry-mode", "loopback"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run gpg");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "gpg {args:?}: {stderr}");
        out.stdout
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    /// `gpg --quick-gen-key UID ALGO USAGE never`, protected by `passphrase` ("" for none).
    fn generate(&self, passphrase: &str, uid: &str, algo: &str, usage: &str) {
        let args = [
            "--passphrase",
            passphrase,
            "--quick-gen-key",
            uid,
            algo,
            usage,
            "never",
        ];
        self.gpg(&args);
    }

    /// The armored secret keys, as an operator exports them.
    fn export_secret(&self, passphrase: &str) -> String {
        let armored = self.gpg(&[
            "--passphrase",
            passphrase,
            "--armor",
            "--export-secret-keys",
        ]);
        String::from_utf8(armored).unwrap()
    }
}

/// Loading a fresh rsa2048 GnuPG key (`usage`, protected by `passphrase`) must fail: the
/// error's text, and its full chain for the assert message. None: gpg is not installed.
fn refusal(passphrase: &str, uid: &str, usage: &str) -> Option<(String, String)> {
    let home = GpgHome::new()?;
    home.generate(passphrase, uid, "rsa2048", usage);
    let err = PgpKey::from_armored_secret(&home.export_secret(passphrase)).unwrap_err();
    Some((err.to_string(), format!("{err:#}")))
}

impl Drop for GpgHome {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.0.path())
            .args(["--kill", "gpg-agent"])
            .status();
    }
}

#[test]
fn gpg_generated_signing_key_loads_and_signs() {
    let Some(home) = GpgHome::new() else { return };
    home.generate("", "Imported <imp@example.invalid>", "rsa3072", "sign");
    let key = PgpKey::from_armored_secret(&home.export_secret("")).unwrap();

    // Same fingerprint as GnuPG reports.
    let listing = String::from_utf8(home.gpg(&["--with-colons", "--list-keys"])).unwrap();
    assert!(listing.contains(&format!("fpr:::::::::{}:", key.fingerprint())));

    // Signatures verify against GnuPG's own export of the public key.
    let keyring = home.path().join("pub.gpg");
    std::fs::write(&keyring, home.gpg(&["--export"])).unwrap();
    assert_eq!(
        std::fs::read(&keyring).unwrap(),
        key.public_key_bytes().unwrap()
    );
    let data = home.path().join("data");
    std::fs::write(&data, b"\x00\x01binary\r\n").unwrap();
    let sig = home.path().join("data.sig");
    std::fs::write(&sig, key.detached(b"\x00\x01binary\r\n", false).unwrap()).unwrap();
    let inrelease = home.path().join("InRelease");
    std::fs::write(&inrelease, key.clearsign("Suite: stable  \n").unwrap()).unwrap();
    for args in [vec![&sig, &data], vec![&inrelease]] {
        let status = Command::new("gpgv")
            .arg("--homedir")
            .arg(home.path())
            .arg("--keyring")
            .arg(&keyring)
            .args(args)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

#[test]
fn passphrase_protected_key_is_refused() {
    let Some((err, chain)) = refusal("secret", "Locked <locked@example.invalid>", "sign") else {
        return;
    };
    assert!(err.contains("passphrase"), "{chain}");
}

#[test]
fn certify_only_primary_is_refused() {
    let Some((err, chain)) = refusal("", "Cert only <cert@example.invalid>", "cert") else {
        return;
    };
    assert!(err.contains("not signing-capable"), "{chain}");
}
