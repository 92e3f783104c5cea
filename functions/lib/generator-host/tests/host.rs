//! The host against a real component: `tests/generators/misbehave`, built on first use.

use reposmith_contract::{
    Assembled, Content, Encoding, Facts, GenError, Generator, PackageReader, Part, RepoInfo,
    ShelfSummary, Signer,
};
use reposmith_generator_host::{Limits, WasmHost};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

/// Build the misbehave component (once per test binary) and return its bytes.
fn misbehave_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| {
        let root = workspace_root();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let how = "cargo build --release --target wasm32-wasip2 -p reposmith-test-misbehave";
        let status = Command::new(cargo)
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .args(["-p", "reposmith-test-misbehave"])
            .current_dir(&root)
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .unwrap_or_else(|e| panic!("running `{how}`: {e}"));
        assert!(
            status.success(),
            "`{how}` failed (is the wasm32-wasip2 target installed?)"
        );
        let path = target.join("wasm32-wasip2/release/reposmith_test_misbehave.wasm");
        std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (build it with `{how}`)", path.display()))
    })
}

/// One generator shared by the tests, with the default limits.
fn generator() -> Arc<dyn Generator> {
    static GEN: OnceLock<Arc<dyn Generator>> = OnceLock::new();
    GEN.get_or_init(|| {
        let host = WasmHost::new(None, Limits::default()).unwrap();
        host.load_bytes(misbehave_wasm()).unwrap()
    })
    .clone()
}

struct Pkg {
    facts: Facts,
    data: Vec<u8>,
    reads: Mutex<Vec<(u64, u32)>>,
}

impl Pkg {
    fn new(filename: &str) -> Arc<Pkg> {
        let data = b"0123456789abcdefghijklmnopqrstuvwxyz".to_vec();
        Arc::new(Pkg {
            facts: Facts {
                filename: filename.into(),
                size: data.len() as u64,
                sha256: "00".repeat(32),
                ..Facts::default()
            },
            data,
            reads: Mutex::new(Vec::new()),
        })
    }
}

impl PackageReader for Pkg {
    fn facts(&self) -> &Facts {
        &self.facts
    }
    fn read(&self, offset: u64, len: u32) -> Result<Vec<u8>, String> {
        self.reads.lock().unwrap().push((offset, len));
        let start = (offset as usize).min(self.data.len());
        let end = (start + len as usize).min(self.data.len());
        Ok(self.data[start..end].to_vec())
    }
}

#[derive(Default)]
struct FakeSigner {
    signed: Mutex<Vec<Vec<u8>>>,
}

impl Signer for FakeSigner {
    fn clearsign(&self, text: &str) -> Result<String, String> {
        Ok(format!("SIGNED\n{text}"))
    }
    fn detached(&self, data: &[u8], armor: bool) -> Result<Vec<u8>, String> {
        self.signed.lock().unwrap().push(data.to_vec());
        Ok(format!("SIG armor={armor} len={}", data.len()).into_bytes())
    }
    fn detached_package(&self, sha256: &str) -> Result<Vec<u8>, String> {
        Ok(sha256.as_bytes().to_vec())
    }
    fn public_key(&self) -> String {
        "KEY".into()
    }
    fn rsa_sign(&self, data: &[u8], sha1: bool) -> Result<Vec<u8>, String> {
        Ok(format!("RSA sha1={sha1} len={}", data.len()).into_bytes())
    }
    fn rsa_public_key(&self) -> String {
        "RSA KEY".into()
    }
    fn rsa_key_name(&self) -> String {
        "fake".into()
    }
    fn rsa_sign_blob(&self, sha256: &str, sha1: bool) -> Result<Vec<u8>, String> {
        Ok(format!("RSA sha1={sha1} blob={sha256}").into_bytes())
    }
}

fn analyze_ok(g: &dyn Generator, filename: &str) {
    let pkg = Pkg::new(filename);
    let entries = g.analyze(pkg.clone(), &[]).expect("normal analyze");
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e.name, filename.split('.').next().unwrap());
    assert_eq!((e.version.as_str(), e.arch.as_str()), ("1", "any"));
    assert_eq!((e.path.as_str(), e.shelf.as_str()), (filename, "s"));
    assert_eq!(e.fragments.len(), 1);
    assert_eq!(e.fragments[0].name, "idx");
    assert_eq!(e.fragments[0].data, format!("{filename}\n").into_bytes());
    assert_eq!(*pkg.reads.lock().unwrap(), vec![(0, 16)]);
}

fn expect_failed(r: Result<Vec<reposmith_contract::Entry>, GenError>) -> String {
    match r {
        Err(GenError::Failed(m)) => m,
        other => panic!("expected GenError::Failed, got {other:?}"),
    }
}

/// Analyzing `pkg` fails with GenError::Failed (its message is the answer), and the same
/// instance then analyzes a normal package as before.
fn failed_then_ok(g: &dyn Generator, pkg: Arc<dyn PackageReader>) -> String {
    let m = expect_failed(g.analyze(pkg, &[]));
    analyze_ok(g, "misbehave-afterwards.pkg");
    m
}

#[test]
fn info_and_claims() {
    let g = generator();
    let info = g.info();
    assert_eq!(
        (
            info.name.as_str(),
            info.mount.as_str(),
            info.contract.as_str()
        ),
        ("misbehave", "misbehave", "0.2.0")
    );
    assert!(g.claims("misbehave-a.pkg", b"head", &[]));
    assert!(!g.claims("other.pkg", b"head", &[]));
    // A 1 MiB head is cut to the contract's 4 KiB, not refused.
    assert!(g.claims("misbehave-big", &vec![0u8; 1 << 20], &[]));
}

#[test]
fn analyze_normal() {
    analyze_ok(&*generator(), "misbehave-ok.pkg");
}

/// A guest fault while analyzing `filename` is contained: a failure naming the generator that
/// `says` what happened (a guest panic's message is kept), and the instance keeps working.
fn guest_fault_is_contained(filename: &str, says: &str) {
    let g = generator();
    let m = failed_then_ok(&*g, Pkg::new(filename));
    println!("{filename}: {m}");
    assert!(m.starts_with("generator misbehave: analyze: "), "{m}");
    assert!(m.contains(says), "{m}");
}

#[test]
fn trap_is_contained() {
    guest_fault_is_contained("misbehave-trap.pkg", "trap on purpose");
}

#[test]
fn stack_overflow_is_contained() {
    guest_fault_is_contained("misbehave-recurse.pkg", "call stack exhausted");
}

#[test]
fn concurrent_calls() {
    let g = generator();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let g = g.clone();
            std::thread::spawn(move || {
                for j in 0..20 {
                    analyze_ok(&*g, &format!("misbehave-t{i}-{j}.pkg"));
                    if j % 10 == 0 {
                        let r = g.analyze(Pkg::new("misbehave-trap.pkg"), &[]);
                        assert!(matches!(r, Err(GenError::Failed(_))));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

fn repo_hint(repo: &str) -> Vec<reposmith_contract::Hint> {
    vec![reposmith_contract::Hint {
        key: "repo.name".into(),
        value: repo.into(),
    }]
}

/// The version `misbehave-count` answers: how many calls its instance has served.
fn count(g: &dyn Generator, repo: &str) -> String {
    let e = g.analyze(Pkg::new("misbehave-count.pkg"), &repo_hint(repo));
    e.expect("count").remove(0).version
}

#[test]
fn instances_stay_warm_per_repo_and_a_failure_drops_them() {
    // A generator of its own: the shared one's idle instances belong to the other tests.
    let g = WasmHost::new(None, Limits::default())
        .unwrap()
        .load_bytes(misbehave_wasm())
        .unwrap();
    // Within a repo the instance is reused (the guest's global counts on)...
    assert_eq!(count(&*g, "a"), "1");
    assert!(g.claims("misbehave-x", b"", &repo_hint("a")));
    assert_eq!(count(&*g, "a"), "2");
    // ...but another repo never gets it: what a guest keeps cannot reach another repo.
    assert_eq!(count(&*g, "b"), "1");
    assert_eq!(count(&*g, "a"), "3");
    // A trap drops the instance: the next call starts afresh.
    let r = g.analyze(Pkg::new("misbehave-trap.pkg"), &repo_hint("a"));
    assert!(matches!(r, Err(GenError::Failed(_))), "{r:?}");
    assert_eq!(count(&*g, "a"), "1");
    // A call that fails in a reused instance gets a fresh one: the answer is a fresh
    // instance's, whatever earlier calls left behind.
    let e = g.analyze(Pkg::new("misbehave-freshonly.pkg"), &repo_hint("a"));
    assert_eq!(e.expect("retried in a fresh instance")[0].version, "1");
    // The signer of a finish does not stay with the instance.
    let signer: Arc<dyn Signer> = Arc::new(FakeSigner::default());
    let repo = RepoInfo {
        name: "a".into(),
        ..RepoInfo::default()
    };
    let files = [Assembled {
        path: "index".into(),
        encoding: Encoding::Identity,
        size: 0,
        md5: String::new(),
        sha1: String::new(),
        sha256: String::new(),
        sha512: String::new(),
        open_size: 0,
        open_sha256: String::new(),
        patch: None,
    }];
    g.finish(&repo, &[], &files, signer).unwrap();
    let r = g.analyze(Pkg::new("misbehave-sign.pkg"), &repo_hint("a"));
    assert!(
        matches!(&r, Err(GenError::Rejected(m)) if m.starts_with("signer not available")),
        "{r:?}"
    );
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let g = generator();
    let t = Instant::now();
    let m = failed_then_ok(&*g, Pkg::new("misbehave-loop.pkg"));
    println!("loop: {m} (after {:?})", t.elapsed());
    assert_eq!(
        m,
        format!(
            "generator misbehave: analyze: all fuel consumed (limit {})",
            Limits::default().fuel
        )
    );
}

#[test]
fn unbounded_allocation_hits_the_memory_limit() {
    let limits = Limits {
        memory_bytes: 64 << 20,
        ..Limits::default()
    };
    let host = WasmHost::new(None, limits).unwrap();
    let g = host.load_bytes(misbehave_wasm()).unwrap();
    let t = Instant::now();
    let m = failed_then_ok(&*g, Pkg::new("misbehave-alloc.pkg"));
    println!("alloc: {m} (after {:?})", t.elapsed());
    assert!(
        m.starts_with("generator misbehave: analyze: memory limit exceeded (limit 67108864 bytes)"),
        "{m}"
    );

    // Same with the default limits (256 MiB), on the shared generator.
    let g = generator();
    let m = failed_then_ok(&*g, Pkg::new("misbehave-alloc.pkg"));
    assert!(
        m.contains("memory limit exceeded (limit 268435456 bytes)"),
        "{m}"
    );
}

#[test]
fn reject_is_rejected() {
    let r = generator().analyze(Pkg::new("misbehave-reject.pkg"), &[]);
    assert_eq!(r, Err(GenError::Rejected("rejected on purpose".into())));
}

#[test]
fn signer_only_during_finish() {
    let r = generator().analyze(Pkg::new("misbehave-sign.pkg"), &[]);
    match r {
        Err(GenError::Rejected(m)) => assert!(m.starts_with("signer not available"), "{m}"),
        other => panic!("expected a rejection from the signer, got {other:?}"),
    }
}

#[test]
fn host_panic_is_contained() {
    struct Panicky(Facts);
    impl PackageReader for Panicky {
        fn facts(&self) -> &Facts {
            &self.0
        }
        fn read(&self, _: u64, _: u32) -> Result<Vec<u8>, String> {
            panic!("reader bug (expected in this test)")
        }
    }
    let pkg = Arc::new(Panicky(Facts {
        filename: "misbehave-ok.pkg".into(),
        ..Facts::default()
    }));
    let g = generator();
    let m = failed_then_ok(&*g, pkg);
    assert!(m.contains("host panicked"), "{m}");
}

#[test]
fn plan_and_finish() {
    let g = generator();
    let repo = RepoInfo {
        name: "r".into(),
        now: 1_700_000_000,
        generation: 3,
        ..RepoInfo::default()
    };
    let shelves = vec![ShelfSummary {
        shelf: "s".into(),
        entries: 2,
    }];
    let plan = g.plan(&repo, &shelves).unwrap();
    assert_eq!(
        plan.links,
        vec![reposmith_contract::Link {
            shelves: vec!["s".into()],
            prefix: "linked/".into(),
            signature: Some(".sig".into()),
        }]
    );
    let plan = plan.files;
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0].path, "index");
    assert_eq!(plan[0].encodings, vec![Encoding::Identity, Encoding::Gzip]);
    match &plan[0].parts[..] {
        [Part::Entries(sel)] => {
            assert_eq!(sel.shelves, vec!["s".to_string()]);
            assert_eq!(sel.fragment, "idx");
            assert!(sel.separator.is_empty());
        }
        other => panic!("unexpected parts {other:?}"),
    }

    let sha = "ab".repeat(32);
    let files = vec![Assembled {
        path: "index".into(),
        encoding: Encoding::Identity,
        size: 10,
        md5: String::new(),
        sha1: String::new(),
        sha256: sha.clone(),
        sha512: String::new(),
        open_size: 10,
        open_sha256: sha.clone(),
        patch: None,
    }];
    let signer = Arc::new(FakeSigner::default());
    let out = g.finish(&repo, &shelves, &files, signer.clone()).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].path, "index.sig");
    assert_eq!(
        out[0].content,
        Content::Bytes(b"SIG armor=true len=64".to_vec())
    );
    assert_eq!(out[1].path, "alias");
    assert_eq!(out[1].content, Content::SameAs("index".into()));
    assert_eq!(*signer.signed.lock().unwrap(), vec![sha.into_bytes()]);

    // finish without files: the generator's own error.
    let r = g.finish(&repo, &shelves, &[], signer);
    assert_eq!(r, Err(GenError::Rejected("no assembled files".into())));
}

#[test]
fn bad_binaries_are_refused_clearly() {
    let host = WasmHost::new(None, Limits::default()).unwrap();
    let err = |b: &[u8]| format!("{:#}", host.load_bytes(b).err().expect("must fail"));

    let m = err(b"definitely not wasm");
    assert!(m.contains("not a WebAssembly component"), "{m}");

    // The smallest core module.
    let m = err(b"\0asm\x01\0\0\0");
    assert!(m.contains("core WebAssembly module"), "{m}");
    assert!(m.contains("wasm32-wasip2"), "{m}");

    // The smallest component: valid, but exports nothing.
    let m = err(b"\0asm\x0d\0\x01\0");
    assert!(
        m.contains("does not export reposmith:generator/generator@0.2.0 (it exports: nothing)"),
        "{m}"
    );

    // A component header over garbage.
    let m = err(b"\0asm\x0d\0\x01\0\xff\xff\xff");
    assert!(m.starts_with("invalid component:"), "{m}");

    // A truncated generator.
    let wasm = misbehave_wasm();
    let m = err(&wasm[..wasm.len() / 2]);
    assert!(m.starts_with("invalid component:"), "{m}");
    println!("truncated: {m}");
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "reposmith-generator-host-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn load_dir_names_the_bad_file() {
    let dir = temp_dir("dir");
    std::fs::write(dir.join("a-misbehave.wasm"), misbehave_wasm()).unwrap();
    std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
    let host = WasmHost::new(None, Limits::default()).unwrap();
    let gens = host.load_dir(&dir).unwrap();
    assert_eq!(gens.len(), 1);
    assert_eq!(gens[0].info().name, "misbehave");

    std::fs::write(dir.join("b-broken.wasm"), b"nope").unwrap();
    let m = format!("{:#}", host.load_dir(&dir).err().unwrap());
    assert!(
        m.contains("b-broken.wasm") && m.contains("not a WebAssembly"),
        "{m}"
    );

    std::fs::remove_file(dir.join("b-broken.wasm")).unwrap();
    std::fs::write(dir.join("c-again.wasm"), misbehave_wasm()).unwrap();
    let m = format!("{:#}", host.load_dir(&dir).err().unwrap());
    assert!(m.contains("clash"), "{m}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn aot_cache_and_timings() {
    let wasm = misbehave_wasm();
    let dir = temp_dir("cache");

    let t = Instant::now();
    let host = WasmHost::new(Some(dir.clone()), Limits::default()).unwrap();
    let g = host.load_bytes(wasm).unwrap();
    let compile = t.elapsed();
    let cached: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    assert!(cached[0].ends_with(".cwasm"), "{cached:?}");
    drop(g);

    // A new host (as after a restart) finds the artifact.
    let t = Instant::now();
    let host2 = WasmHost::new(Some(dir.clone()), Limits::default()).unwrap();
    let g = host2.load_bytes(wasm).unwrap();
    let cached_load = t.elapsed();
    analyze_ok(&*g, "misbehave-cached.pkg");

    // A corrupt artifact is recompiled, not trusted.
    let artifact = dir.join(&cached[0]);
    std::fs::write(&artifact, b"corrupt").unwrap();
    let g = WasmHost::new(Some(dir.clone()), Limits::default())
        .unwrap()
        .load_bytes(wasm)
        .unwrap();
    analyze_ok(&*g, "misbehave-recompiled.pkg");
    assert!(std::fs::metadata(&artifact).unwrap().len() > 1000);

    let per_call = |f: &dyn Fn()| {
        f(); // warm
        let n = 50;
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        t.elapsed() / n
    };
    let claims = per_call(&|| assert!(g.claims("misbehave-x", b"", &[])));
    let analyze = per_call(&|| analyze_ok(&*g, "misbehave-x.pkg"));
    let repo = RepoInfo::default();
    let plan = per_call(&|| assert_eq!(g.plan(&repo, &[]).unwrap().files.len(), 1));

    println!(
        "misbehave.wasm {} KiB: compile+check {:?}, cached load+check {:?}; per call: claims {:?}, analyze {:?}, plan {:?}",
        wasm.len() / 1024,
        compile,
        cached_load,
        claims,
        analyze,
        plan
    );
    assert!(claims < Duration::from_secs(1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn host_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone>() {}
    check::<WasmHost>();
}
