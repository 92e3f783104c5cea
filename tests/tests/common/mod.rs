//! Shared harness for the end-to-end tests: builds what they run (the `manage-repo` binary
//! and the generator .wasm files), starts real servers on free loopback ports, makes
//! genuine packages with the project's fixture scripts, and talks HTTP.
#![allow(dead_code)]

pub mod backends;
pub mod cut;
pub mod moto;
pub mod postgres;
pub mod redis;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// target/release, from this test binary's own path (target/release/deps/NAME).
pub fn target_release() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// Takes out of `cmd`'s environment what cargo sets for a running test (`CARGO_MANIFEST_DIR`,
/// `CARGO_PKG_*`, ...): a build script that watches one of them (ring's does) would otherwise
/// run again in a nested build, and everything above it (rustls, the AWS SDK) be rebuilt,
/// then rebuilt once more by the next build from a shell.
pub fn without_test_env(cmd: &mut Command) -> &mut Command {
    const SET_FOR_TESTS: &[&str] = &[
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "OUT_DIR",
    ];
    for (k, _) in std::env::vars_os() {
        let name = k.to_string_lossy();
        if SET_FOR_TESTS.contains(&name.as_ref())
            || name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_EXE_")
        {
            cmd.env_remove(&k);
        }
    }
    cmd
}

/// tests/build.sh: everything the tests run, built by the same two cargo commands as
/// tests/run.sh builds it (a no-op when fresh; another package selection would rebuild
/// wasmtime and the AWS SDK with other features).
fn build_all() {
    let target = target_release().parent().unwrap().to_path_buf();
    let st = without_test_env(&mut Command::new(workspace().join("tests/build.sh")))
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(workspace())
        .status()
        .expect("running tests/build.sh");
    assert!(st.success(), "tests/build.sh failed");
}

/// Builds the server binary and the generators once per test binary (cheap when fresh).
pub fn built() -> &'static Built {
    static B: OnceLock<Built> = OnceLock::new();
    B.get_or_init(|| {
        build_all();
        let target = target_release().parent().unwrap().to_path_buf();
        let wasm_dir = target.join("wasm32-wasip2/release");
        // The shipped generators only; the misbehaving one is opted into per test.
        let gens = tmp();
        for name in [
            "deb", "rpm", "pacman", "apk", "freebsd", "cargo", "npm", "go",
        ] {
            let wasm = wasm_dir.join(format!("reposmith_gen_{name}.wasm"));
            std::fs::copy(wasm, gens.join(format!("{name}.wasm"))).unwrap();
        }
        Built {
            bin: target_release().join("manage-repo"),
            generators: gens,
            misbehave: wasm_dir.join("reposmith_test_misbehave.wasm"),
            old_contract: wasm_dir.join("reposmith_test_old_contract.wasm"),
        }
    })
}

/// `manage-repo ARGS` with no server, token or data directory from the environment.
pub fn bare_cli(args: &[&str]) -> std::process::Output {
    Command::new(&built().bin)
        .args(args)
        .env_remove("REPOSMITH_URL")
        .env_remove("REPOSMITH_TOKEN")
        .env_remove("REPOSMITH_DATA")
        .output()
        .unwrap()
}

pub struct Built {
    pub bin: PathBuf,
    pub generators: PathBuf,
    pub misbehave: PathBuf,
    /// A component of another contract version (tests/generators/old-contract).
    pub old_contract: PathBuf,
}

/// Extra `serve` arguments and environment (other stores, fault injection).
#[derive(Clone, Default)]
pub struct Opts {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

pub struct Server {
    pub opts: Opts,
    pub child: Child,
    pub url: String,
    pub token: String,
    pub data: PathBuf,
    pub generators: PathBuf,
    pub log: PathBuf,
}

impl Server {
    pub fn start(data: &Path) -> Server {
        Self::start_with(data, &built().generators)
    }

    pub fn start_with(data: &Path, generators: &Path) -> Server {
        Self::start_opts(data, generators, Opts::default())
    }

    pub fn start_opts(data: &Path, generators: &Path, opts: Opts) -> Server {
        let b = built();
        std::fs::create_dir_all(data).unwrap();
        let log = data.with_extension("log");
        // Any free port, unless the caller names one (`restart_in_place`).
        let listen = match opts.args.iter().any(|a| a == "--listen") {
            true => &[][..],
            false => &["--listen", "127.0.0.1:0"][..],
        };
        let mut child = Command::new(&b.bin)
            .arg("serve")
            .args(listen)
            .arg("--data")
            .arg(data)
            .arg("--generators")
            .arg(generators)
            .args(&opts.args)
            // Index files of many pieces even in small repos (see the core's assemble).
            .env("REPOSMITH_CHUNK_MEAN", "2")
            .envs(opts.env.iter().map(|(k, v)| (k, v)))
            .env_remove("REPOSMITH_TOKEN")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start manage-repo serve");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(120);
        let url = loop {
            assert!(Instant::now() < deadline, "server did not start");
            match lines.next() {
                Some(Ok(l)) => {
                    if let Some(u) = l.strip_prefix("reposmith listening on ") {
                        break u.trim().to_string();
                    }
                }
                _ => panic!(
                    "server exited early: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ),
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let token = std::fs::read_to_string(data.join("token"))
            .unwrap()
            .trim()
            .to_string();
        Server {
            opts,
            child,
            url,
            token,
            data: data.to_path_buf(),
            generators: generators.to_path_buf(),
            log,
        }
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }

    pub fn restart(&mut self) {
        self.restart_with(&[]);
    }

    /// `restart` on the same address: clients keep their state for it (apt's lists).
    pub fn restart_in_place(&mut self) {
        let addr = self.url.trim_start_matches("http://").to_string();
        self.restart_with(&["--listen".to_string(), addr]);
    }

    /// Kill -9 and start again on the same data, with `extra` arguments this once.
    fn restart_with(&mut self, extra: &[String]) {
        self.kill9();
        let (data, gens, opts) = (
            self.data.clone(),
            self.generators.clone(),
            self.opts.clone(),
        );
        let mut this_once = opts.clone();
        this_once.args.extend_from_slice(extra);
        *self = Server::start_opts(&data, &gens, this_once);
        self.opts = opts;
    }

    pub fn u(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    pub fn get(&self, path: &str) -> Resp {
        call(ureq::get(&self.u(path)), None)
    }

    pub fn send(&self, method: &str, path: &str, body: Option<&[u8]>) -> Resp {
        let req = ureq::request(method, &self.u(path))
            .set("Authorization", &format!("Bearer {}", self.token));
        call(req, body)
    }

    pub fn create_repo(&self, repo: &str) {
        let r = self.send("POST", &format!("/repos/{repo}/"), None);
        assert_eq!(r.status, 201, "create {repo}: {}", r.text());
    }

    pub fn upload(&self, repo: &str, file: &Path) -> Resp {
        let name = file.file_name().unwrap().to_str().unwrap();
        let data = std::fs::read(file).unwrap();
        self.send(
            "POST",
            &format!(
                "/repos/{repo}/packages/?filename={}",
                name.replace('+', "%2B")
            ),
            Some(&data),
        )
    }

    fn cli_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&built().bin);
        cmd.args(["--server", &self.url, "--token", &self.token])
            .args(args)
            .envs(self.opts.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// `manage-repo` against this server.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_command(args).output().unwrap()
    }

    /// `manage-repo` against this server, which must succeed.
    pub fn cli_ok(&self, args: &[&str]) -> Output {
        run_ok(&mut self.cli_command(args))
    }

    /// The server's resident memory (VmRSS), KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// How many packages the API lists in `repo`.
    pub fn package_count(&self, repo: &str) -> usize {
        let list = self.get(&format!("/repos/{repo}/packages/")).json();
        array(&list, "packages").len()
    }

    /// Asserts that the server's log holds `needle` (a request line such as `/InRelease 200`).
    pub fn assert_logged(&self, needle: &str, what: &str) {
        let log = std::fs::read_to_string(&self.log).unwrap();
        assert!(log.contains(needle), "{what}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub struct Resp {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    /// Of an upload's answer: the generators that claimed the package (its entries' keys).
    pub fn claimed_by(&self) -> Vec<String> {
        let v = self.json();
        let entries = v["package"]["entries"].as_object().unwrap();
        entries.keys().cloned().collect()
    }
}

/// Sends `req` (with `body`, if any) and answers its status and body, whatever the status.
pub fn call(req: ureq::Request, body: Option<&[u8]>) -> Resp {
    let what = format!("{} {}", req.method(), req.url());
    let r = match body {
        Some(b) => req.send_bytes(b),
        None => req.call(),
    };
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{what}: {e}"),
    };
    let status = resp.status();
    let mut body = Vec::new();
    resp.into_reader().read_to_end(&mut body).unwrap();
    Resp { status, body }
}

/// Runs `cmd` and asserts that it succeeded (its stdout and stderr in the message).
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs a project script (tests/…, bench/…) and asserts success.
pub fn script(rel: &str, args: &[&str]) -> Output {
    run_ok(Command::new("bash").arg(workspace().join(rel)).args(args))
}

/// Runs `tests/fixtures/NAME DIR` into a fresh DIR, once per test binary.
pub fn fixture(name: &'static str) -> &'static PathBuf {
    // One cell per fixture: different fixtures build at the same time, one builds once.
    static MADE: Mutex<BTreeMap<&str, &'static OnceLock<PathBuf>>> = Mutex::new(BTreeMap::new());
    let cell: &'static OnceLock<PathBuf> = MADE
        .lock()
        .unwrap()
        .entry(name)
        .or_insert_with(|| Box::leak(Box::default()));
    cell.get_or_init(|| {
        let dir = tmp();
        script(&format!("tests/fixtures/{name}"), &[dir.to_str().unwrap()]);
        dir
    })
}

/// A fresh generators folder with the deb generator and the test generator `misbehave`.
pub fn deb_and_misbehave() -> PathBuf {
    let b = built();
    let gens = tmp();
    std::fs::copy(b.generators.join("deb.wasm"), gens.join("deb.wasm")).unwrap();
    std::fs::copy(&b.misbehave, gens.join("misbehave.wasm")).unwrap();
    gens
}

/// The three hand-made .debs (arch all; a dependent; epoch and `+`), built once.
pub fn fixture_debs() -> &'static PathBuf {
    fixture("make-debs.sh")
}

/// The file names of the three .debs of [`fixture_debs`].
pub const FIXTURE_DEBS: [&str; 3] = [
    "harness-lib_1.0-1_all.deb",
    "harness-app_1.0-1_amd64.deb",
    "harness-epoch_2.0+dfsg-1_amd64.deb",
];

/// The paths of the three [`FIXTURE_DEBS`], as `manage-repo add` arguments.
pub fn fixture_deb_args() -> Vec<String> {
    let debs = fixture_debs();
    FIXTURE_DEBS
        .iter()
        .map(|f| debs.join(f).display().to_string())
        .collect()
}

/// The signed .rpm fixtures (tests/fixtures/make-rpms.sh), built once; the public key that
/// signed them is `DIR/keys/fixture.asc`.
pub fn fixture_rpms() -> &'static PathBuf {
    fixture("make-rpms.sh")
}

/// The two makepkg packages (tests/fixtures/make-pacman.sh): harness-lib (any) and
/// harness-app (x86_64, depends harness-lib>=1.0), built once.
pub fn fixture_pacman() -> &'static PathBuf {
    fixture("make-pacman.sh")
}

/// `n` small distinct genuine .debs named PREFIX-NNNN.
pub fn many_debs(n: usize, prefix: &str) -> Vec<PathBuf> {
    let dir = tmp();
    script(
        "tests/fixtures/make-many-debs.sh",
        &[dir.to_str().unwrap(), &n.to_string(), prefix],
    );
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    v.sort();
    assert_eq!(v.len(), n, "make-many-debs.sh made {} files", v.len());
    v
}

/// The package set the query tests search: tests/fixtures/make-query-set.py's debs and
/// pacman packages (versions only the format orders right, a dependency chain with a
/// requirement nothing satisfies) and 60 rpms (`rpmq-0001`.., every even one requiring the
/// one before): 200 files, built once per test binary.
pub fn query_set() -> Vec<PathBuf> {
    static SET: OnceLock<Vec<PathBuf>> = OnceLock::new();
    SET.get_or_init(|| {
        let dir = tmp();
        let out = run_ok(
            Command::new("python3")
                .arg(workspace().join("tests/fixtures/make-query-set.py"))
                .arg(&dir),
        );
        let mut files: Vec<PathBuf> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| dir.join(l))
            .collect();
        let rpms = tmp();
        script(
            "tests/fixtures/make-many-rpms.sh",
            &[rpms.to_str().unwrap(), "60", "rpmq"],
        );
        for e in std::fs::read_dir(&rpms).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "rpm") {
                files.push(p);
            }
        }
        files.sort();
        assert_eq!(files.len(), 200, "the query set has {} files", files.len());
        files
    })
    .clone()
}

/// The array `v[key]` of a JSON answer (a listing of repos, packages, generators).
pub fn array<'a>(v: &'a serde_json::Value, key: &str) -> &'a [serde_json::Value] {
    v[key].as_array().unwrap()
}

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A fresh directory that outlives the test (servers and clients may still read it while it
/// unwinds), under this test binary's scratch root.
pub fn tmp() -> PathBuf {
    tempfile::tempdir_in(scratch()).unwrap().keep()
}

/// `$TMPDIR/reposmith-tests/PID`, this test binary's scratch root. The roots of test binaries
/// that are gone are removed when the next one starts: a suite leaves behind one binary's
/// files, where each of its ~40 binaries used to leave hundreds of MB in /tmp for good.
fn scratch() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = std::env::temp_dir().join("reposmith-tests");
        std::fs::create_dir_all(&base).unwrap();
        for d in std::fs::read_dir(&base).unwrap().flatten() {
            let gone = d
                .file_name()
                .to_str()
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
            if gone {
                let _ = std::fs::remove_dir_all(d.path());
            }
        }
        let root = base.join(std::process::id().to_string());
        std::fs::create_dir_all(&root).unwrap();
        root
    })
}

/// Parses a Packages file into stanzas of (field, value) — enough for the tests' checks.
pub fn stanzas(text: &str) -> Vec<Vec<(String, String)>> {
    text.split("\n\n")
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.lines()
                .filter(|l| !l.starts_with(' '))
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
                .collect()
        })
        .collect()
}

pub fn field<'a>(stanza: &'a [(String, String)], name: &str) -> Option<&'a str> {
    stanza
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// The `HASH SIZE NAME` lines of a deb822 multi-line field (Release's `SHA256:`, a PDiff
/// Index's `SHA256-History:`...), in order.
pub fn hashed_lines<'a>(text: &'a str, field: &str) -> Vec<(&'a str, &'a str, &'a str)> {
    let head = format!("{field}:");
    text.lines()
        .skip_while(|l| *l != head)
        .skip(1)
        .take_while(|l| l.starts_with(' '))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?, w.next()?, w.next()?))
        })
        .collect()
}

/// `path` (under `base`) is served with this sha256 and size.
fn check_served(server: &Server, base: &str, (hash, size, path): (&str, &str, &str)) -> Resp {
    let f = server.get(&format!("{base}/{path}"));
    assert_eq!(f.status, 200, "{base}/{path} listed but not served");
    assert_eq!(
        f.body.len().to_string(),
        size,
        "{path}: size differs from its listing"
    );
    assert_eq!(
        sha256_hex(&f.body),
        hash,
        "{path}: sha256 differs from its listing"
    );
    f
}

/// Every file a suite's Release lists (SHA256 section) is served with that hash and size, by
/// path and by hash; a PDiff Index among them names patches served with the hashes it says.
/// Returns how many files were checked, not counting PDiff Indexes.
pub fn check_release(server: &Server, repo: &str, suite: &str) -> usize {
    let base = format!("/repos/{repo}/dist/dists/{suite}");
    let rel = server.get(&format!("{base}/Release"));
    assert_eq!(rel.status, 200);
    let text = rel.text();
    let mut n = 0;
    for listed in hashed_lines(&text, "SHA256") {
        let (hash, _, path) = listed;
        let f = check_served(server, &base, listed);
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        let by_hash = server.get(&format!("{base}/{dir}/by-hash/SHA256/{hash}"));
        assert_eq!(by_hash.body, f.body, "{path}: by-hash differs");
        match path.strip_suffix("/Index") {
            Some(diff_dir) if diff_dir.ends_with(".diff") => {
                // Every patch the Index lists is served with the size and hash it says.
                let index = f.text();
                let patches = hashed_lines(&index, "SHA256-Download");
                assert!(!patches.is_empty(), "an Index without patches: {index}");
                let dir = format!("{base}/{diff_dir}");
                patches
                    .into_iter()
                    .for_each(|p| drop(check_served(server, &dir, p)));
            }
            _ => n += 1,
        }
    }
    n
}

/// The PDiff chain of `dir`'s Packages (`dists/SUITE/COMPONENT/binary-ARCH`): every patch
/// the Index lists, applied with apt's own `rred` to the version it starts from (fetched by
/// hash: earlier generations serve it), gives the current Packages; at least one is checked.
/// Returns the versions patched from (none when no Index is published).
pub fn check_pdiffs(server: &Server, repo: &str, dir: &str) -> Vec<String> {
    let base = format!("/repos/{repo}/dist/{dir}");
    let current = server.get(&format!("{base}/Packages")).body;
    let index = server.get(&format!("{base}/Packages.diff/Index"));
    if index.status == 404 {
        return Vec::new();
    }
    let index = index.text();
    let head = format!(
        "SHA256-Current: {} {}\n",
        sha256_hex(&current),
        current.len()
    );
    assert!(index.starts_with(&head), "{index}");
    let work = tempfile::tempdir().unwrap();
    let (o, p, n) = (
        work.path().join("old"),
        work.path().join("patch.gz"),
        work.path().join("new"),
    );
    let mut done = Vec::new();
    for (from, _, name) in hashed_lines(&index, "SHA256-History") {
        let old = server.get(&format!("{base}/by-hash/SHA256/{from}"));
        if old.status == 404 {
            continue; // its generation is past the grace period
        }
        std::fs::write(&o, &old.body).unwrap();
        std::fs::write(
            &p,
            server.get(&format!("{base}/Packages.diff/{name}.gz")).body,
        )
        .unwrap();
        run_ok(
            std::process::Command::new("/usr/lib/apt/methods/rred")
                .arg("-t")
                .args([&o, &n, &p]),
        );
        assert!(
            std::fs::read(&n).unwrap() == current,
            "{base}: patch {name} does not give the current Packages"
        );
        done.push(from.to_string());
    }
    assert!(
        !done.is_empty(),
        "no patch of {base} could be checked: {index}"
    );
    done
}

/// A throwaway armored OpenPGP public key that signs nothing of ours (clients must refuse
/// metadata when told to trust only it).
pub fn foreign_key() -> PathBuf {
    gpg_keypair("Foreign <foreign@example.invalid>").0
}

/// A new RSA signing key made by gpg: its armored public and (unprotected) secret key files.
pub fn gpg_keypair(uid: &str) -> (PathBuf, PathBuf) {
    let home = tmp();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        std::process::Command::new("gpg")
            .arg("--homedir")
            .arg(&home)
            .args([
                "--batch",
                "--quiet",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .output()
            .unwrap()
    };
    assert!(gpg(&["--quick-gen-key", uid, "rsa2048", "sign", "never"])
        .status
        .success());
    let public = gpg(&["--armor", "--export"]);
    let secret = gpg(&["--armor", "--export-secret-keys"]);
    let _ = std::process::Command::new("gpgconf")
        .arg("--homedir")
        .arg(&home)
        .args(["--kill", "all"])
        .status();
    let dir = tmp();
    let (p, s) = (dir.join("public.asc"), dir.join("secret.asc"));
    std::fs::write(&p, &public.stdout).unwrap();
    std::fs::write(&s, &secret.stdout).unwrap();
    (p, s)
}

/// Two tests that run `check(&Server)`: `$local` on the local file stores, `$moto` on S3 +
/// DynamoDB (a moto server on the wire; bucket and table `$stores`).
#[macro_export]
macro_rules! on_local_and_moto {
    ($local:ident, $moto:ident, $stores:literal, $check:ident) => {
        #[test]
        fn $local() {
            let data = $crate::common::tmp().join("data");
            $check(&$crate::common::Server::start(&data));
        }

        /// The same on S3 + DynamoDB (a moto server on the wire).
        #[test]
        fn $moto() {
            let moto = $crate::common::moto::Moto::start();
            $check(&moto.server($stores));
        }
    };
}

/// The counters of a `GET /metrics` text: `STORE.CALL` for the store calls
/// (`meta.put_if`), `SERVICE.OPERATION` for backend requests (`Redis.EVALSHA`). Every sample
/// line must parse.
pub fn metrics(text: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.rsplit_once(' ').expect("NAME{LABELS} VALUE");
        let value: u64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        let (family, labels) = name
            .strip_suffix('}')
            .and_then(|n| n.split_once('{'))
            .unwrap_or_else(|| panic!("unexpected sample {line}"));
        let keys = match family {
            "reposmith_store_calls_total" => ["store", "call"],
            "reposmith_backend_requests_total" => ["service", "operation"],
            _ => panic!("unexpected sample {line}"),
        };
        let label = |k: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{k}=\"")))
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or_else(|| panic!("no {k} in {line}"))
                .to_string()
        };
        out.insert(format!("{}.{}", label(keys[0]), label(keys[1])), value);
    }
    out
}

/// PATH with the `manage-repo` under test first.
pub fn path_with_bin() -> String {
    let bin = built().bin.parent().unwrap().display().to_string();
    format!("{bin}:{}", std::env::var("PATH").unwrap_or_default())
}

/// Runs the completion function of the generated bash script (`manage-repo completions
/// bash`) for `line`, the cursor at its end, as bash would (COMP_LINE, COMP_POINT,
/// COMP_WORDS, COMP_CWORD), with `env`; answers COMPREPLY, sorted.
pub fn bash_complete(script: &Path, env: &[(&str, &str)], line: &str) -> Vec<String> {
    let program = r#"
        source "$1"
        COMP_LINE=$2
        COMP_POINT=${#COMP_LINE}
        read -ra COMP_WORDS <<< "$COMP_LINE"
        [[ $COMP_LINE == *' ' ]] && COMP_WORDS+=("")
        COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
        COMPREPLY=()
        _manage-repo_dynamic manage-repo "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf '%s\n' "${COMPREPLY[@]}"
    "#;
    let out = Command::new("bash")
        .args(["-c", program, "bash"])
        .arg(script)
        .arg(line)
        .env("PATH", path_with_bin())
        .env_remove("REPOSMITH_URL")
        .env_remove("REPOSMITH_TOKEN")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.is_empty(),
        "{line}: {stderr}"
    );
    let mut found: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    found.sort();
    found
}

/// `harness-big_1.0-1_amd64.deb` in `dir`: `mib` MiB of incompressible bytes (uploads past
/// a size limit: Lambda's 6 MB payload cap, the web interface's upload-session threshold).
#[allow(dead_code)]
pub fn big_deb(dir: &Path, mib: u64) -> PathBuf {
    let script = r#"set -euo pipefail
D=$1/harness-big
mkdir -p "$D/DEBIAN" "$D/usr/share/harness-big"
head -c $(( $2 * 1048576 )) /dev/urandom > "$D/usr/share/harness-big/blob"
cat > "$D/DEBIAN/control" <<EOF
Package: harness-big
Version: 1.0-1
Architecture: amd64
Maintainer: Reposmith Tests <tests@example.invalid>
Installed-Size: $(( $2 * 1024 ))
Description: large test fixture
 Larger than a size limit.
EOF
dpkg-deb --root-owner-group -Znone --build "$D" "$1/harness-big_1.0-1_amd64.deb" >/dev/null
"#;
    let st = Command::new("bash")
        .args(["-c", script, "big"])
        .arg(dir)
        .arg(mib.to_string())
        .status()
        .unwrap();
    assert!(st.success());
    let p = dir.join("harness-big_1.0-1_amd64.deb");
    assert!(std::fs::metadata(&p).unwrap().len() > (mib - 1) * 1048576);
    p
}
