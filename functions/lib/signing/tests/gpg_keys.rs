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
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
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
    home.gpg(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        "Imported <imp@example.invalid>",
        "rsa3072",
        "sign",
        "never",
    ]);
    let armored = home.gpg(&["--passphrase", "", "--armor", "--export-secret-keys"]);
    let key = PgpKey::from_armored_secret(std::str::from_utf8(&armored).unwrap()).unwrap();

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
    let Some(home) = GpgHome::new() else { return };
    home.gpg(&[
        "--passphrase",
        "secret",
        "--quick-gen-key",
        "Locked <locked@example.invalid>",
        "rsa2048",
        "sign",
        "never",
    ]);
    let armored = home.gpg(&["--passphrase", "secret", "--armor", "--export-secret-keys"]);
    let err = PgpKey::from_armored_secret(std::str::from_utf8(&armored).unwrap()).unwrap_err();
    assert!(err.to_string().contains("passphrase"), "{err:#}");
}

#[test]
fn certify_only_primary_is_refused() {
    let Some(home) = GpgHome::new() else { return };
    home.gpg(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        "Cert only <cert@example.invalid>",
        "rsa2048",
        "cert",
        "never",
    ]);
    let armored = home.gpg(&["--passphrase", "", "--armor", "--export-secret-keys"]);
    let err = PgpKey::from_armored_secret(std::str::from_utf8(&armored).unwrap()).unwrap_err();
    assert!(err.to_string().contains("not signing-capable"), "{err:#}");
}
