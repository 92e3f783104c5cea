//! The embedded setup under a data directory: token, signing key, stores, generators.
//!
//! DIR/token, DIR/signing-key.asc (OpenPGP), DIR/rsa-key.pem (apk, FreeBSD pkg) (all 0600,
//! made on first start), DIR/packages (blobs),
//! DIR/meta (compare-and-set keys), DIR/generators (uploaded .wasm), DIR/cache (compiled
//! generators).
use anyhow::Context;
use reposmith_core::generator::{Generator, Signer};
use reposmith_core::store::PackageStore;
use reposmith_core::{App, GeneratorLoader, Runtime};
use reposmith_signing::{PgpKey, RsaDigest, RsaKey};
use reposmith_wasm_host::{Limits, WasmHost};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub struct Setup {
    pub app: Arc<App>,
    /// Set when this start created the token (so it is printed once).
    pub new_token: bool,
}

struct TokioRuntime;

impl Runtime for TokioRuntime {
    fn spawn_blocking(&self, f: Box<dyn FnOnce() + Send>) {
        tokio::task::spawn_blocking(f);
    }
    fn sleep(&self, d: Duration) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(d))
    }
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// The repo signing keys in the host; generators only ever see signatures.
struct PgpSigner {
    key: PgpKey,
    rsa: RsaKey,
    public: String,
    packages: Arc<dyn PackageStore>,
    handle: tokio::runtime::Handle,
}

impl Signer for PgpSigner {
    fn clearsign(&self, text: &str) -> Result<String, String> {
        self.key.clearsign(text).map_err(|e| format!("{e:#}"))
    }
    fn detached(&self, data: &[u8], armor: bool) -> Result<Vec<u8>, String> {
        self.key.detached(data, armor).map_err(|e| format!("{e:#}"))
    }
    fn detached_package(&self, sha256: &str) -> Result<Vec<u8>, String> {
        // Called from a blocking thread (a generator call or an upload's signing step): safe
        // to block on the store. The blob streams through the hasher, never whole in memory.
        let size = self
            .handle
            .block_on(self.packages.size(sha256))
            .map_err(|e| format!("{e:#}"))?
            .ok_or_else(|| format!("no stored blob {sha256}"))?;
        let facts = reposmith_core::generator::Facts {
            sha256: sha256.to_string(),
            size,
            ..Default::default()
        };
        let reader = self
            .handle
            .block_on(self.packages.reader(facts))
            .map_err(|e| format!("{e:#}"))?;
        self.key
            .detached_reader(BlobRead { reader, offset: 0 }, false)
            .map_err(|e| format!("{e:#}"))
    }
    fn public_key(&self) -> String {
        self.public.clone()
    }
    fn rsa_sign(&self, data: &[u8], sha1: bool) -> Result<Vec<u8>, String> {
        let d = if sha1 {
            RsaDigest::Sha1
        } else {
            RsaDigest::Sha256
        };
        self.rsa.sign(data, d).map_err(|e| format!("{e:#}"))
    }
    fn rsa_public_key(&self) -> String {
        self.rsa.public_pem().unwrap_or_default()
    }
    fn rsa_key_name(&self) -> String {
        self.rsa.name()
    }
    fn rsa_sign_blob(&self, sha256: &str, sha1: bool) -> Result<Vec<u8>, String> {
        // Index files are small: read whole, from a blocking thread like every signer call.
        let bytes = self
            .handle
            .block_on(self.packages.get_bytes(sha256))
            .map_err(|e| format!("{e:#}"))?
            .ok_or_else(|| format!("no stored blob {sha256}"))?;
        self.rsa_sign(&bytes, sha1)
    }
}

/// A stored blob as `std::io::Read`, by ranged reads.
struct BlobRead {
    reader: Arc<dyn reposmith_core::generator::PackageReader>,
    offset: u64,
}

impl std::io::Read for BlobRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let len = buf.len().min(1 << 20) as u32;
        let chunk = self
            .reader
            .read(self.offset, len)
            .map_err(std::io::Error::other)?;
        buf[..chunk.len()].copy_from_slice(&chunk);
        self.offset += chunk.len() as u64;
        Ok(chunk.len())
    }
}

/// Keeps uploaded generators in DIR/generators so they load again at the next start.
struct LocalLoader {
    host: WasmHost,
    dir: PathBuf,
}

impl GeneratorLoader for LocalLoader {
    fn load(&self, wasm: &[u8]) -> anyhow::Result<Arc<dyn Generator>> {
        let g = self.host.load_bytes(wasm)?;
        std::fs::create_dir_all(&self.dir)?;
        let path = self.dir.join(format!("{}.wasm", g.info().name));
        let tmp = self.dir.join(format!(".{}.tmp", g.info().name));
        std::fs::write(&tmp, wasm)?;
        std::fs::rename(&tmp, &path)?;
        Ok(g)
    }
}

fn secret_file(
    path: &Path,
    make: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<(String, bool)> {
    if let Ok(s) = std::fs::read_to_string(path) {
        return Ok((s.trim().to_string(), false));
    }
    let value = make()?;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(value.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok((value, true))
}

/// Where the workspace's generators land: `target/wasm32-wasip2/release` beside the
/// directory holding this binary (`target/release`).
pub fn default_generators_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let target = exe.parent()?.parent()?;
    let dir = target.join("wasm32-wasip2").join("release");
    dir.is_dir().then_some(dir)
}

pub fn open(
    data: &Path,
    generators: Option<PathBuf>,
    token: Option<String>,
) -> anyhow::Result<Setup> {
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let (stored_token, new_token) = secret_file(&data.join("token"), || {
        Ok(hex::encode(rand::random::<[u8; 24]>()))
    })?;
    let token = token.filter(|t| !t.is_empty()).unwrap_or(stored_token);
    let (armored, _) = secret_file(&data.join("signing-key.asc"), || {
        PgpKey::generate("reposmith repository signing key <reposmith@localhost>")?
            .to_armored_secret()
    })?;
    let key = PgpKey::from_armored_secret(&armored).context("reading DIR/signing-key.asc")?;
    let (rsa_pem, _) = secret_file(&data.join("rsa-key.pem"), || {
        RsaKey::generate(3072)?.to_pem()
    })?;
    let rsa = RsaKey::from_pem(&rsa_pem).context("reading DIR/rsa-key.pem")?;
    let public = key.public_key_armored()?;

    let packages = reposmith_stores::open_package_store(&format!(
        "file://{}",
        data.join("packages").display()
    ))?;
    let meta =
        reposmith_stores::open_meta_store(&format!("file://{}", data.join("meta").display()))?;

    let host = WasmHost::new(Some(data.join("cache")), Limits::default())?;
    let mut gens: Vec<Arc<dyn Generator>> = Vec::new();
    let mut loaded = Vec::new();
    match generators {
        Some(dir) => loaded.extend(
            host.load_dir(&dir)
                .with_context(|| format!("loading generators from {}", dir.display()))?,
        ),
        // The workspace's build folder also holds test generators: take the shipped ones.
        None => {
            if let Some(dir) = default_generators_dir() {
                let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                            n.starts_with("reposmith_gen_") && n.ends_with(".wasm")
                        })
                    })
                    .collect();
                files.sort();
                for f in files {
                    loaded.push(
                        host.load_file(&f)
                            .with_context(|| f.display().to_string())?,
                    );
                }
            }
        }
    }
    let uploaded = data.join("generators");
    if uploaded.is_dir() {
        loaded.extend(
            host.load_dir(&uploaded).with_context(|| {
                format!("loading uploaded generators from {}", uploaded.display())
            })?,
        );
    }
    {
        for g in loaded {
            // A later folder (uploads) replaces a generator of the same name.
            gens.retain(|o| o.info().name != g.info().name);
            if let Some(o) = gens.iter().find(|o| o.info().mount == g.info().mount) {
                anyhow::bail!(
                    "generators {} and {} both want mount {}",
                    o.info().name,
                    g.info().name,
                    g.info().mount
                );
            }
            gens.push(g);
        }
    }
    let signer = Arc::new(PgpSigner {
        key,
        rsa,
        public,
        packages: packages.clone(),
        handle: tokio::runtime::Handle::current(),
    });
    let mut app = App::new(meta, packages, gens, signer, token, Arc::new(TokioRuntime));
    app.loader = Some(Arc::new(LocalLoader {
        host,
        dir: data.join("generators"),
    }));
    Ok(Setup {
        app: Arc::new(app),
        new_token,
    })
}
