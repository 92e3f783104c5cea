//! The sandboxed wasmtime host for reposmith generators (`wit/generator.wit`).
//!
//! [`WasmHost`] checks a component against the contract, compiles it ahead of time (cached on
//! disk), and hands back an `Arc<dyn Generator>`. Every generator call gets fresh fuel, a memory
//! limit and a WASI context that grants nothing, so a generator that traps, loops or allocates
//! without bound fails that one call and nothing else. Instances are kept warm per repo between
//! calls (instantiating costs more than most calls); a failed one is dropped (`generator.rs`).
//!
//! Calls are synchronous and CPU-bound: run them off the async executor (`spawn_blocking`).

mod bindings;
mod generator;
mod state;

use anyhow::{anyhow, bail, Context as _};
use bindings::{GeneratorFullWorld, Pre};
use reposmith_contract::{Generator, Info};
use sha2::{Digest, Sha256};
use state::HostState;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine};

pub use generator::WasmGenerator;
pub use state::MAX_READ;

/// The contract version this host implements.
pub const CONTRACT: (u64, u64, u64) = (0, 2, 0);

pub use bindings::EXPORT_NAME;

/// The contract package this host speaks, as a WIT package id (`reposmith:generator@0.1.0`).
pub fn contract_package() -> String {
    let (path, version) = EXPORT_NAME.split_once('@').unwrap_or((EXPORT_NAME, ""));
    let package = path.split_once('/').map_or(path, |(p, _)| p);
    format!("{package}@{version}")
}

/// Which of the checks a component failed at load (`manage-repo generator check` names it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Not a WebAssembly component, or not a valid one.
    Component,
    /// Not the generator contract this host speaks: exports, imports, contract version.
    Contract,
    /// `info` (or `sniff.magics`) failed or describes the generator wrongly (name, mount, a
    /// magic out of bounds).
    Info,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Component => "component",
            Check::Contract => "contract",
            Check::Info => "info",
        }
    }
}

/// Why a component was refused at load; its text is what the server answers (422) and logs.
#[derive(Debug)]
pub struct Refused {
    pub check: Check,
    pub message: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refused {}

fn refused(check: Check, e: impl std::fmt::Display) -> anyhow::Error {
    // `{:#}` keeps an anyhow chain on one line.
    Refused {
        check,
        message: format!("{e:#}"),
    }
    .into()
}

/// Per-call resource limits of a generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Fuel per call (roughly one unit per wasm instruction).
    pub fuel: u64,
    /// Fuel for a `claims` call (a look at a file's first bytes, for every upload).
    pub claims_fuel: u64,
    /// Linear memory per call, in bytes.
    pub memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // A few seconds of guest CPU: far above any sane index rendering.
            fuel: 5_000_000_000,
            // Tens of milliseconds: a thousand times what the shipped generators spend.
            claims_fuel: 50_000_000,
            memory_bytes: 256 << 20,
        }
    }
}

/// Loads generator components. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct WasmHost {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<HostState>,
    cache_dir: Option<PathBuf>,
    /// Hex of `Engine::precompile_compatibility_hash`: part of every cache key, so an artifact
    /// is only ever deserialized by the wasmtime version and Config that produced it.
    compat: String,
    limits: Limits,
}

impl WasmHost {
    pub fn new(cache_dir: Option<PathBuf>, limits: Limits) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config.consume_fuel(true);
        // The default on-demand allocator: the pooling one reserves a lot of address space.
        let engine = Engine::new(&config).map_err(|e| anyhow!("wasmtime engine: {e:#}"))?;

        let mut linker = Linker::<HostState>::new(&engine);
        // wasip2 components import WASI even when they do no I/O; the context grants nothing.
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| anyhow!("linking WASI: {e:#}"))?;
        GeneratorFullWorld::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| anyhow!("linking the generator world: {e:#}"))?;

        let mut hasher = ShaHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let compat = hex::encode(&hasher.0.finalize()[..8]);

        if let Some(dir) = &cache_dir {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the generator cache {}", dir.display()))?;
        }
        Ok(WasmHost {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache_dir,
                compat,
                limits,
            }),
        })
    }

    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    /// Check a component against the contract (it must export [`EXPORT_NAME`], import
    /// nothing but the signer and WASI, and describe itself with a compatible contract, a
    /// `[a-z0-9-]+` name and a single-segment mount), compile it ahead of time (cached under
    /// `cache_dir` by content and engine) and return it loaded. The error says what is wrong
    /// with the component; it is a [`Refused`] naming the failed [`Check`].
    pub fn load_bytes(&self, wasm: &[u8]) -> anyhow::Result<Arc<dyn Generator>> {
        Ok(Arc::new(self.load(wasm)?))
    }

    pub fn load_file(&self, path: &Path) -> anyhow::Result<Arc<dyn Generator>> {
        let wasm = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        self.load_bytes(&wasm)
            .with_context(|| format!("loading generator {}", path.display()))
    }

    /// Every `*.wasm` in `dir`, sorted by file name. A bad file, or two generators with the
    /// same name or mount, is an error naming the file(s).
    pub fn load_dir(&self, dir: &Path) -> anyhow::Result<Vec<Arc<dyn Generator>>> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry
                .with_context(|| format!("reading {}", dir.display()))?
                .path();
            if path.extension().is_some_and(|e| e == "wasm") && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        let mut loaded: Vec<(PathBuf, Arc<dyn Generator>)> = Vec::new();
        for path in files {
            let g = self.load_file(&path)?;
            for (other, o) in &loaded {
                let (a, b) = (g.info(), o.info());
                if a.name == b.name || a.mount == b.mount {
                    bail!(
                        "generators {} ({}, mount {}) and {} ({}, mount {}) clash: names and mounts must be unique",
                        other.display(),
                        b.name,
                        b.mount,
                        path.display(),
                        a.name,
                        a.mount
                    );
                }
            }
            loaded.push((path, g));
        }
        Ok(loaded.into_iter().map(|(_, g)| g).collect())
    }

    fn load(&self, wasm: &[u8]) -> anyhow::Result<WasmGenerator> {
        let inner = &*self.inner;
        check_header(wasm).map_err(|e| refused(Check::Component, e))?;
        let component = self
            .compile(wasm)
            .map_err(|e| refused(Check::Component, e))?;
        check_export(&inner.engine, &component).map_err(|e| refused(Check::Contract, e))?;

        let pre = inner.linker.instantiate_pre(&component).map_err(|e| {
            refused(
                Check::Contract,
                format_args!("the component needs imports this host does not provide: {e:#}"),
            )
        })?;
        let pre = Pre::new(pre).map_err(|e| {
            refused(
                Check::Contract,
                format_args!("the component does not match the generator contract: {e:#}"),
            )
        })?;

        let (info, magics) = WasmGenerator::call_info(&pre, &inner.limits)
            .map_err(|m| refused(Check::Info, format_args!("info() failed: {m}")))?;
        let info: Info = info.into();
        check_info(&info)?;
        let magics = magics.map_err(|m| {
            refused(
                Check::Info,
                format_args!("generator {}: sniff.magics() failed: {m}", info.name),
            )
        })?;
        Ok(WasmGenerator::new(pre, info, magics, inner.limits))
    }

    /// Compile, or load the artifact a previous compile left in the cache.
    fn compile(&self, wasm: &[u8]) -> anyhow::Result<Component> {
        let inner = &*self.inner;
        let Some(dir) = &inner.cache_dir else {
            return Component::from_binary(&inner.engine, wasm)
                .map_err(|e| anyhow!("invalid component: {e:#}"));
        };
        let key = format!(
            "{}-{}.cwasm",
            hex::encode(Sha256::digest(wasm)),
            inner.compat
        );
        let path = dir.join(key);
        // Read into memory rather than `deserialize_file`: that one maps the file, and anyone
        // truncating or rewriting it in place would then crash the server with SIGBUS.
        if let Ok(artifact) = std::fs::read(&path) {
            // SAFETY: only files this host wrote land under this name: the key binds the
            // source bytes and the engine's compatibility hash, and writes are atomic renames.
            // The cache directory must be private to the server (an artifact is native code).
            // wasmtime still checks the artifact's header, version and config.
            match unsafe { Component::deserialize(&inner.engine, &artifact) } {
                Ok(c) => return Ok(c),
                // Unreadable or stale: recompile and overwrite.
                Err(_) => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let component = Component::from_binary(&inner.engine, wasm)
            .map_err(|e| anyhow!("invalid component: {e:#}"))?;
        // A cache that cannot be written only costs a compile next time.
        if let Ok(bytes) = component.serialize() {
            let _ = write_atomic(&path, &bytes);
        }
        Ok(component)
    }
}

/// Tell "not wasm" and "a core module" apart from a component before wasmtime's parser does.
fn check_header(wasm: &[u8]) -> anyhow::Result<()> {
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        bail!("not a WebAssembly component (no `\\0asm` header)");
    }
    match wasm[4..8] {
        [1, 0, 0, 0] => bail!(
            "not a component: this is a core WebAssembly module; build the generator for \
             wasm32-wasip2 (or wrap it with `wasm-tools component new`)"
        ),
        [_, _, 1, 0] => Ok(()),
        _ => bail!("not a component: unknown WebAssembly version/layer"),
    }
}

fn check_export(engine: &Engine, component: &Component) -> anyhow::Result<()> {
    let ty = component.component_type();
    if ty.get_export(engine, EXPORT_NAME).is_some() {
        return Ok(());
    }
    let names: Vec<&str> = ty.exports(engine).map(|(n, _)| n).collect();
    bail!("{}", export_refusal(&names))
}

/// Why a component exporting `names` (and not [`EXPORT_NAME`]) is refused: another version
/// of the contract is named as such, with both versions.
fn export_refusal(names: &[&str]) -> String {
    let (interface, ours) = EXPORT_NAME.split_once('@').unwrap_or((EXPORT_NAME, ""));
    let package = interface.split_once('/').map_or(interface, |(p, _)| p);
    // Any interface of the contract's package tells which version the generator was built on.
    let other = names.iter().find_map(|n| {
        let (path, version) = n.split_once('@')?;
        (path.split_once('/')?.0 == package && version != ours).then_some(version)
    });
    if let Some(version) = other {
        return format!(
            "the generator was built against {package}@{version}, this host speaks {}: \
             rebuild it against this version's wit/generator.wit (or generator SDK)",
            contract_package()
        );
    }
    format!(
        "the component does not export {EXPORT_NAME} (it exports: {})",
        if names.is_empty() {
            "nothing".to_string()
        } else {
            names.join(", ")
        }
    )
}

/// A generator name: 1-64 characters of `[a-z0-9-]` (also the rule for `generator new`).
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!(
            "generator name {name:?} is invalid: use 1-64 characters of [a-z0-9-]"
        ));
    }
    Ok(())
}

fn check_info(info: &Info) -> anyhow::Result<()> {
    let name = &info.name;
    check_name(name).map_err(|e| refused(Check::Info, e))?;
    let mount = &info.mount;
    if !segment(mount) {
        return Err(refused(
            Check::Info,
            format_args!(
                "generator {name}: mount {mount:?} is invalid: use one URL path segment of \
                 [A-Za-z0-9._-] (not `.` or `..`)"
            ),
        ));
    }
    if let Some(index) = &info.index_name {
        if !segment(index) {
            return Err(refused(
                Check::Info,
                format_args!(
                    "generator {name}: index-name {index:?} is invalid: use one file name of \
                     [A-Za-z0-9._-] (not `.` or `..`)"
                ),
            ));
        }
    }
    let version = parse_version(&info.contract).ok_or_else(|| {
        refused(
            Check::Contract,
            format_args!(
                "generator {name}: contract {:?} is not a MAJOR.MINOR.PATCH version",
                info.contract
            ),
        )
    })?;
    // Semver: 0.x releases are compatible within a minor version, later ones within a major.
    let (major, minor, _) = CONTRACT;
    let compatible = version.0 == major && (major != 0 || version.1 == minor);
    if !compatible {
        return Err(refused(
            Check::Contract,
            format_args!(
                "generator {name} was built against contract {}, this host implements {major}.{minor}.{}",
                info.contract, CONTRACT.2
            ),
        ));
    }
    Ok(())
}

/// One URL path segment of at most 64 characters of `[A-Za-z0-9._-]`, not `.` or `..`.
fn segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    // Pre-release / build suffixes are tolerated: only the numbers matter for compatibility.
    let core = v.split(['-', '+']).next()?;
    let mut it = core.split('.').map(|p| p.parse::<u64>().ok());
    let r = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(r)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Feeds `Hash` output into SHA-256 so the compatibility hash is stable across processes.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        0 // unused: the SHA-256 state is read directly
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, mount: &str, contract: &str) -> Info {
        Info {
            name: name.into(),
            mount: mount.into(),
            extensions: vec![],
            description: String::new(),
            contract: contract.into(),
            one_version_per_name: false,
            signed_packages: false,
            index_name: None,
        }
    }

    #[test]
    fn info_checks() {
        assert!(check_info(&info("deb", "dist", "0.2.0")).is_ok());
        assert!(check_info(&info("deb", "dist", "0.2.7")).is_ok());
        let old = check_info(&info("deb", "dist", "0.1.0"))
            .unwrap_err()
            .to_string();
        assert!(old.contains("built against contract 0.1.0"), "{old}");
        assert!(old.contains("implements 0.2.0"), "{old}");
        assert!(check_info(&info("deb", "dist", "0.3.0")).is_err());
        assert!(check_info(&info("deb", "dist", "1.2.0")).is_err());
        assert!(check_info(&info("deb", "dist", "0.2")).is_err());
        assert!(check_info(&info("Deb", "dist", "0.2.0")).is_err());
        assert!(check_info(&info("", "dist", "0.2.0")).is_err());
        assert!(check_info(&info("deb", "..", "0.2.0")).is_err());
        assert!(check_info(&info("deb", "a/b", "0.2.0")).is_err());
        assert!(check_info(&info("deb", "", "0.2.0")).is_err());
        let index = |i: &str| Info {
            index_name: Some(i.into()),
            ..info("npm", "npm", "0.2.0")
        };
        assert!(check_info(&index("index.json")).is_ok());
        for bad in ["", "..", "a/b", "a b"] {
            assert!(check_info(&index(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_export_name_is_this_contract_version() {
        let (major, minor, patch) = CONTRACT;
        assert!(
            EXPORT_NAME.ends_with(&format!("@{major}.{minor}.{patch}")),
            "bump EXPORT_NAME and CONTRACT together: {EXPORT_NAME} vs {CONTRACT:?}"
        );
        assert_eq!(
            contract_package(),
            format!("reposmith:generator@{major}.{minor}.{patch}")
        );
    }

    #[test]
    fn another_contract_version_is_named_with_both_versions() {
        let m = export_refusal(&["reposmith:generator/generator@0.0.9"]);
        let ours = contract_package();
        assert!(
            m.starts_with(&format!(
                "the generator was built against reposmith:generator@0.0.9, this host speaks {ours}"
            )),
            "{m}"
        );
        let m = export_refusal(&["wasi:cli/run@0.2.0"]);
        assert!(
            m.starts_with(&format!("the component does not export {EXPORT_NAME}")),
            "{m}"
        );
        assert!(m.ends_with("(it exports: wasi:cli/run@0.2.0)"), "{m}");
    }

    #[test]
    fn refusals_name_their_check() {
        let check = |i: &Info| {
            check_info(i)
                .unwrap_err()
                .downcast::<Refused>()
                .unwrap()
                .check
        };
        let (major, minor, patch) = CONTRACT;
        let ours = format!("{major}.{minor}.{patch}");
        assert_eq!(check(&info("Deb", "dist", &ours)), Check::Info);
        assert_eq!(check(&info("deb", "a/b", &ours)), Check::Info);
        assert_eq!(check(&info("deb", "dist", "9.0.0")), Check::Contract);
    }

    #[test]
    fn headers() {
        assert!(check_header(b"garbage!").is_err());
        let core = check_header(b"\0asm\x01\0\0\0").unwrap_err().to_string();
        assert!(core.contains("core WebAssembly module"), "{core}");
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
    }
}
