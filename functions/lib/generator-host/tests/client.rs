//! The optional `client`, `digests` and `sniff` exports through the host: the deb and rpm
//! generators answer `client_config` with their files, `digests` with what their `finish`
//! lists, and are asked `claims` only about their own magics; the misbehave test generator
//! (built for the plain `generator-world`, without any of them) gets the contract's defaults.

use reposmith_contract::{ClientRepo, DigestKinds, Generator, Hint, RepoInfo};
use reposmith_generator_host::{Limits, WasmHost};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

/// Build the components this test loads (once per test binary); their directory.
fn wasm_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .args(["-p", "reposmith-gen-deb", "-p", "reposmith-gen-rpm"])
            .args(["-p", "reposmith-test-misbehave"])
            .current_dir(&root)
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("running cargo build for the generators");
        assert!(status.success(), "building the generators failed");
        target.join("wasm32-wasip2/release")
    })
}

fn load(file: &str) -> Arc<dyn Generator> {
    load_with(file, Limits::default())
}

fn load_with(file: &str, limits: Limits) -> Arc<dyn Generator> {
    let bytes = std::fs::read(wasm_dir().join(file)).unwrap();
    WasmHost::new(None, limits)
        .unwrap()
        .load_bytes(&bytes)
        .unwrap()
}

fn repo(base_url: &str) -> ClientRepo {
    ClientRepo {
        name: "demo".into(),
        title: "Demo packages".into(),
        enabled: true,
        gpgcheck: true,
        repo_gpgcheck: true,
        gpgkeys: vec!["https://repo.example/repos/demo/key.asc".into()],
        base_url: base_url.into(),
        url_args: vec![Hint {
            key: "suites".into(),
            value: "bookworm".into(),
        }],
        default_suite: "stable".into(),
        default_component: "main".into(),
        public_key:
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZx\n-----END PGP PUBLIC KEY BLOCK-----\n"
                .into(),
        ..ClientRepo::default()
    }
}

#[test]
fn deb_answers_its_sources_file() {
    let g = load("reposmith_gen_deb.wasm");
    let files = g
        .client_config(&repo("https://repo.example/repos/demo/dist"))
        .expect("the deb generator exports client")
        .unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].client, "apt");
    assert_eq!(files[0].file_name, "demo.sources");
    assert_eq!(
        String::from_utf8(files[0].data.clone()).unwrap(),
        "X-Repolib-Name: Demo packages
Types: deb
URIs: https://repo.example/repos/demo/dist
Suites: bookworm
Components: main
Enabled: yes
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mDMEZx
 -----END PGP PUBLIC KEY BLOCK-----
"
    );
}

#[test]
fn rpm_answers_dnf_yum_and_zypper() {
    let g = load("reposmith_gen_rpm.wasm");
    let files = g
        .client_config(&repo("https://repo.example/repos/demo/repodata"))
        .expect("the rpm generator exports client")
        .unwrap();
    let names: Vec<(&str, &str)> = files
        .iter()
        .map(|f| (f.client.as_str(), f.file_name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("dnf", "demo.repo"),
            ("yum", "demo-yum.repo"),
            ("zypper", "demo-zypper.repo")
        ]
    );
    let dnf = String::from_utf8(files[0].data.clone()).unwrap();
    assert!(
        dnf.starts_with("[demo]\nname=Demo packages\nbaseurl=https://repo.example/repos/demo\n"),
        "{dnf}"
    );
}

#[test]
fn a_generator_without_client_gets_the_default() {
    let g = load("reposmith_test_misbehave.wasm");
    assert!(g
        .client_config(&repo("https://repo.example/repos/demo/misbehave"))
        .is_none());
}

/// deb lists SHA256 alone unless the repo sets `release-md5`; rpm lists sha256 alone; a
/// generator without `digests` gets every digest (the host's default).
#[test]
fn digests_are_what_finish_lists() {
    let mut info = RepoInfo {
        name: "demo".into(),
        ..RepoInfo::default()
    };
    let (deb, rpm) = (
        load("reposmith_gen_deb.wasm"),
        load("reposmith_gen_rpm.wasm"),
    );
    assert_eq!(deb.digests(&info).unwrap().unwrap(), DigestKinds::SHA256);
    assert_eq!(rpm.digests(&info).unwrap().unwrap(), DigestKinds::SHA256);
    info.options.push(Hint {
        key: "release-md5".into(),
        value: "yes".into(),
    });
    let md5 = DigestKinds {
        md5: true,
        ..DigestKinds::SHA256
    };
    assert_eq!(deb.digests(&info).unwrap().unwrap(), md5);
    assert!(load("reposmith_test_misbehave.wasm")
        .digests(&info)
        .is_none());
}

/// `sniff`: the host asks `claims` only about a file holding one of the generator's magics.
/// With no fuel for `claims`, entering a generator fails: the rpm generator answers a .deb's
/// head "not claimed" without being entered, and fails on an rpm's head (it was entered);
/// misbehave, without `sniff`, is entered for any head.
#[test]
fn claims_is_asked_behind_the_magics() {
    let deb_head = b"!<arch>\ndebian-binary   1342943816  0     0     100644  4         `\n2.0\n";
    let rpm_head = [0xed, 0xab, 0xee, 0xdb, 3, 0, 0, 1];
    let starved = Limits {
        claims_fuel: 1,
        ..Limits::default()
    };
    let rpm = load_with("reposmith_gen_rpm.wasm", starved);
    assert!(!rpm.try_claims("x.deb", deb_head, &[]).unwrap());
    assert!(rpm.try_claims("x.rpm", &rpm_head, &[]).is_err());
    let misbehave = load_with("reposmith_test_misbehave.wasm", starved);
    assert!(misbehave.try_claims("misbehave-a", deb_head, &[]).is_err());

    // With fuel, the answers are the generators' own.
    let (deb, rpm) = (
        load("reposmith_gen_deb.wasm"),
        load("reposmith_gen_rpm.wasm"),
    );
    assert!(deb.claims("x.deb", deb_head, &[]));
    assert!(!deb.claims("x.deb", &rpm_head, &[]));
    assert!(rpm.claims("x.bin", &rpm_head, &[]));
    assert!(!rpm.claims("x.rpm", deb_head, &[]));
    assert!(!rpm.claims("x.rpm", &rpm_head[..3], &[]));
}
