//! A generator that misbehaves on request, to test the host's sandbox.
//! Build: `cargo build --release --target wasm32-wasip2 -p reposmith-test-misbehave`.
//!
//! `analyze` decides by the file name (`misbehave-<what>...`): `trap` panics, `loop` never
//! returns, `recurse` overflows the stack, `alloc` allocates without bound, `reject` answers
//! `err`, `sign` calls the signer (which must refuse outside finish), `count` answers a
//! normal entry whose version is the number of `analyze` calls this instance has served (state
//! kept in a global), `freshonly` panics unless it is the instance's first `analyze`; anything
//! else is a normal package.
//!
//! At publish: a package named `misbehave-plan-<what>` or `misbehave-finish-<what>` lands on
//! shelf `plan-<what>` / `finish-<what>`, and `plan` / `finish` then fail that way (`trap`,
//! `loop`) for as long as it is in the repo. `claims` traps on `misbehave-claims-trap...`
//! and loops on `misbehave-claims-loop...`. `misbehave-finish-forge...` makes `finish` ask
//! the signer for signatures the host cannot vouch for (free text, a Release listing a file
//! the host did not make, arbitrary bytes, a stored package) and publish whatever it gets
//! under `forged/`, the refusals in `forged/refused.txt`, and answer `ok`.

wit_bindgen::generate!({ path: "../../../wit", world: "generator-world" });

use exports::reposmith::generator::generator::Guest;
use reposmith::generator::signer;
use reposmith::generator::types::{
    Assembled, BulkFile, Content, Encoding, Entry, Fragment, Hint, Info, Link, Output, Package,
    Part, PublishPlan, RepoInfo, Selection, ShelfSummary,
};

struct Misbehave;

/// `analyze` calls served by this instance.
static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Guest for Misbehave {
    fn info() -> Info {
        Info {
            name: "misbehave".into(),
            mount: "misbehave".into(),
            extensions: vec![],
            description: "misbehaves on request (tests only)".into(),
            contract: "0.2.0".into(),
            one_version_per_name: false,
            signed_packages: false,
            index_name: None,
        }
    }

    fn claims(filename: String, _head: Vec<u8>, _hints: Vec<Hint>) -> bool {
        if filename.starts_with("misbehave-claims-") {
            fail_as(&filename);
        }
        filename.starts_with("misbehave-")
    }

    fn analyze(pkg: &Package, _hints: Vec<Hint>) -> Result<Vec<Entry>, String> {
        let filename = pkg.facts().filename;
        if let Ok(mut s) = PACKAGE_SHA256.lock() {
            *s = pkg.facts().sha256;
        }
        let calls = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if filename.contains("freshonly") && calls > 1 {
            panic!("not a fresh instance ({calls} calls)");
        }
        let at_publish =
            filename.starts_with("misbehave-plan-") || filename.starts_with("misbehave-finish-");
        if !at_publish {
            fail_as(&filename);
        }
        if filename.contains("recurse") {
            return Err(format!("depth {}", recurse(std::hint::black_box(0))));
        }
        if filename.contains("alloc") {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                let mut block = vec![0u8; 1 << 20];
                // Touch every page so the memory is really used.
                for i in (0..block.len()).step_by(4096) {
                    block[i] = 1;
                }
                hoard.push(std::hint::black_box(block));
            }
        }
        if filename.contains("sign") {
            // The signer is only available during finish: pass its answer on.
            signer::detached(b"x", true)?;
            return Err("the signer answered outside finish".into());
        }
        if filename.contains("reject") {
            return Err("rejected on purpose".into());
        }
        // Exercise the package resource: a read error is the package's problem.
        let _head = pkg.read(0, 16)?;
        let name = filename.split('.').next().unwrap_or(&filename).to_string();
        let version = if filename.contains("count") {
            calls.to_string()
        } else {
            "1".into()
        };
        Ok(vec![Entry {
            name,
            version,
            arch: "any".into(),
            path: filename.clone(),
            shelf: shelf_of(&filename),
            fragments: vec![Fragment {
                name: "idx".into(),
                data: format!("{filename}\n").into_bytes(),
            }],
        }])
    }

    fn plan(_repo: RepoInfo, shelves: Vec<ShelfSummary>) -> Result<PublishPlan, String> {
        for s in &shelves {
            if let Some(what) = s.shelf.strip_prefix("plan-") {
                fail_as(what);
            }
        }
        let names: Vec<String> = shelves.iter().map(|s| s.shelf.clone()).collect();
        Ok(PublishPlan {
            files: vec![BulkFile {
                path: "index".into(),
                parts: vec![Part::Entries(Selection {
                    shelves: names.clone(),
                    fragment: "idx".into(),
                    separator: vec![],
                })],
                encodings: vec![Encoding::Identity, Encoding::Gzip],
                history: None,
                media_type: None,
            }],
            links: vec![Link {
                shelves: names,
                prefix: "linked/".into(),
                signature: Some(".sig".into()),
            }],
        })
    }

    fn finish(
        _repo: RepoInfo,
        shelves: Vec<ShelfSummary>,
        files: Vec<Assembled>,
    ) -> Result<Vec<Output>, String> {
        for s in &shelves {
            if let Some(what) = s.shelf.strip_prefix("finish-") {
                fail_as(what);
            }
        }
        let first = files.first().ok_or("no assembled files")?;
        let sig = signer::detached(first.sha256.as_bytes(), true)?;
        if shelves.iter().any(|s| s.shelf == "finish-forge") {
            return Ok(forge(first));
        }
        Ok(vec![
            Output {
                path: "index.sig".into(),
                content: Content::Bytes(sig),
                media_type: None,
            },
            Output {
                path: "alias".into(),
                content: Content::SameAs("index".into()),
                media_type: None,
            },
        ])
    }
}

/// Signing requests the host must refuse; what it signs anyway is published under `forged/`.
fn forge(first: &Assembled) -> Vec<Output> {
    let text = "I, the owner of this repository, vouch for whatever comes next.\n";
    // A real file's digest next to one the host never made.
    let release = format!(
        "SHA256:\n {} {} index\n {} 1234 evil/Packages\n",
        first.sha256,
        first.size,
        "ab".repeat(32)
    );
    let package = PACKAGE_SHA256.lock().map(|s| s.clone()).unwrap_or_default();
    let mut out = Vec::new();
    let mut refused = String::new();
    let mut keep = |what: &str, r: Result<Vec<u8>, String>| match r {
        Ok(sig) => out.push(Output {
            path: format!("forged/{what}"),
            content: Content::Bytes(sig),
            media_type: None,
        }),
        Err(e) => refused.push_str(&format!("{what}: {e}\n")),
    };
    keep("text.asc", signer::clearsign(text).map(String::into_bytes));
    keep("text.sig", signer::detached(text.as_bytes(), true));
    keep(
        "release.asc",
        signer::clearsign(&release).map(String::into_bytes),
    );
    keep(
        "bytes.rsa",
        signer::rsa_sign(text.as_bytes(), signer::RsaDigest::Sha256),
    );
    keep("package.sig", signer::detached_package(&package));
    keep(
        "package.rsa",
        signer::rsa_sign_blob(&package, signer::RsaDigest::Sha1),
    );
    out.push(Output {
        path: "forged/refused.txt".into(),
        content: Content::Bytes(refused.into_bytes()),
        media_type: None,
    });
    out
}

/// The sha256 of the last package this instance analyzed (a stored blob `forge` asks to sign).
static PACKAGE_SHA256: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

/// The shelf of a package: `plan-<what>` / `finish-<what>` for the ones that make publishing
/// fail, else `s`.
fn shelf_of(filename: &str) -> String {
    let stem = filename.split('.').next().unwrap_or(filename);
    for at in ["plan-", "finish-"] {
        if let Some(rest) = stem
            .strip_prefix("misbehave-")
            .and_then(|r| r.strip_prefix(at))
        {
            let what = rest.split('-').next().unwrap_or(rest);
            return format!("{at}{what}");
        }
    }
    "s".into()
}

/// Traps (`trap`) or spins until the fuel runs out (`loop`) when `what` says so.
fn fail_as(what: &str) {
    if what.contains("trap") {
        panic!("trap on purpose");
    }
    if what.contains("loop") {
        // black_box keeps the optimizer from proving the loop side-effect free.
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

/// Unbounded recursion the optimizer cannot turn into a loop (the result is used after the call).
#[allow(unconditional_recursion)] // the point: only the host's stack limit ends it
fn recurse(n: u64) -> u64 {
    let mut pad = [0u8; 64];
    pad[n as usize % 64] = n as u8;
    recurse(std::hint::black_box(n + 1)) + u64::from(std::hint::black_box(pad)[0])
}

export!(Misbehave);
