//! An incremental publish (index files assembled from pieces kept from earlier generations)
//! yields exactly what a full render yields, after any sequence of adds, removes and
//! replaces; and real apt reads the result. The servers of these tests cut index files into
//! chunks of ~2 entries (`REPOSMITH_CHUNK_MEAN`), so every file has many pieces. After every
//! step, each PDiff patch the Index lists turns the version it starts from (fetched by hash
//! from the generation that published it) into the current Packages when apt's own `rred`
//! applies it, and the last step's version is among them.
mod common;
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

/// A small deterministic generator (no dependency): xorshift64*.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const BINARY: &str = "dists/stable/main/binary-amd64";

/// The Packages files (every encoding) and Release without its Date line.
fn published(server: &Server, repo: &str) -> BTreeMap<String, Vec<u8>> {
    let base = format!("/repos/{repo}/dist");
    let mut out = BTreeMap::new();
    for name in ["Packages", "Packages.gz", "Packages.xz"] {
        let r = server.get(&format!("{base}/{BINARY}/{name}"));
        assert_eq!(r.status, 200, "{name}");
        out.insert(name.to_string(), r.body);
    }
    let release = server.get(&format!("{base}/dists/stable/Release")).text();
    let dateless: String = release
        .lines()
        .filter(|l| !l.starts_with("Date:"))
        .map(|l| format!("{l}\n"))
        .collect();
    out.insert("Release".into(), dateless.into_bytes());
    out
}

fn decoded(files: &BTreeMap<String, Vec<u8>>) -> (Vec<u8>, Vec<u8>) {
    let mut gz = Vec::new();
    flate2::read::MultiGzDecoder::new(&files["Packages.gz"][..])
        .read_to_end(&mut gz)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Packages.xz");
    std::fs::write(&path, &files["Packages.xz"]).unwrap();
    let xz = run_ok(std::process::Command::new("xz").arg("-dc").arg(&path)).stdout;
    // One stream (apt reads no further), however many blocks.
    let list = run_ok(
        std::process::Command::new("xz")
            .args(["--robot", "-l"])
            .arg(&path),
    );
    let totals = String::from_utf8_lossy(&list.stdout);
    assert!(totals.contains("\ntotals\t1\t"), "{totals}");
    (gz, xz)
}

#[test]
fn incremental_publish_equals_a_full_rebuild_after_any_changes() {
    let seed: u64 = std::env::var("REPOSMITH_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0013);
    eprintln!("seed {seed} (REPOSMITH_TEST_SEED replays it)");
    let mut rng = Rng(seed | 1);
    let debs = many_debs(30, "inc");
    let server = Server::start(&tmp().join("incremental"));
    server.create_repo("r");
    let mut present: BTreeSet<usize> = BTreeSet::new();
    let name = |i: usize| debs[i].file_name().unwrap().to_str().unwrap().to_string();
    let mut last = String::new();
    for step in 0..24 {
        let absent: Vec<usize> = (0..debs.len()).filter(|i| !present.contains(i)).collect();
        match rng.below(3) {
            // Add one to three packages at once (one group commit, or several).
            0 | 1 if !absent.is_empty() => {
                let n = 1 + rng.below(3).min(absent.len() - 1);
                let picks: BTreeSet<usize> =
                    (0..n).map(|_| absent[rng.below(absent.len())]).collect();
                std::thread::scope(|s| {
                    for &i in &picks {
                        let (server, deb) = (&server, &debs[i]);
                        s.spawn(move || assert_eq!(server.upload("r", deb).status, 201));
                    }
                });
                present.extend(picks);
            }
            // Replace: one package out, another in, concurrently.
            2 if !present.is_empty() && !absent.is_empty() => {
                let out = *present.iter().nth(rng.below(present.len())).unwrap();
                let inn = absent[rng.below(absent.len())];
                std::thread::scope(|s| {
                    let server = &server;
                    let gone = name(out);
                    s.spawn(move || {
                        let r = server.send("DELETE", &format!("/repos/r/packages/{gone}"), None);
                        assert_eq!(r.status, 200);
                    });
                    s.spawn(|| assert_eq!(server.upload("r", &debs[inn]).status, 201));
                });
                present.remove(&out);
                present.insert(inn);
            }
            // Remove one.
            _ if !present.is_empty() => {
                let out = *present.iter().nth(rng.below(present.len())).unwrap();
                let r = server.send("DELETE", &format!("/repos/r/packages/{}", name(out)), None);
                assert_eq!(r.status, 200);
                present.remove(&out);
            }
            _ => continue,
        }
        // What is served matches what Release says, and lists exactly the packages present.
        check_release(&server, "r", "stable");
        let inc = published(&server, "r");
        let listed = String::from_utf8_lossy(&inc["Packages"])
            .matches("\nPackage: ")
            .count()
            + usize::from(inc["Packages"].starts_with(b"Package: "));
        assert_eq!(listed, present.len(), "step {step}");
        let (gz, xz) = decoded(&inc);
        assert_eq!(gz, inc["Packages"], "step {step}: Packages.gz");
        assert_eq!(xz, inc["Packages"], "step {step}: Packages.xz");
        let now = sha256_hex(&inc["Packages"]);
        let patched = check_pdiffs(&server, "r", BINARY);
        if !last.is_empty() && last != now {
            assert!(
                patched.contains(&last),
                "step {step}: no patch from the last version"
            );
        }
        last = now;
        if step % 6 == 5 {
            // A rebuild renders everything afresh: the same bytes, every encoding.
            assert_eq!(server.send("POST", "/repos/r/rebuild", None).status, 200);
            let full = published(&server, "r");
            for (path, bytes) in &inc {
                assert!(
                    full[path] == *bytes,
                    "step {step}: {path} differs after a full render"
                );
            }
        }
    }
    // Real apt reads the many-piece files and installs from them.
    let key = tmp().join("incremental-key.asc");
    std::fs::write(&key, server.get("/repos/r/key.asc").body).unwrap();
    // Odd-numbered packages (inc-0001, inc-0003, ...) depend on nothing.
    if !present.iter().any(|i| i % 2 == 0) {
        assert_eq!(server.upload("r", &debs[0]).status, 201);
        present.insert(0);
    }
    let first = name(*present.iter().find(|i| *i % 2 == 0).unwrap());
    let pkg = first.split('_').next().unwrap().to_string();
    let out = std::process::Command::new("bash")
        .arg(workspace().join("tests/clients/apt.sh"))
        .arg(server.u("/repos/r/dist"))
        .env("APT_KEY", &key)
        .env("APT_INSTALL", &pkg)
        .env("APT_EXPECT_FILES", format!("/usr/share/{pkg}/VERSION"))
        .env("APT_DOWNLOAD", "")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "apt failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
