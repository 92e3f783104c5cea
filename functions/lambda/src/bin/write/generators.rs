//! Generators on Lambda: uploaded through `POST /generators/`, compiled ahead of time here,
//! kept as blobs (the .wasm and the compiled artifact) listed in the registry key, and
//! reloaded by every instance whose registry bytes differ from what it loaded.
use anyhow::Context;
use reposmith_core::generator::Generator;
use reposmith_core::registry::place;
use reposmith_core::store::{MetaStore, PackageStore};
use reposmith_core::{App, GeneratorLoader};
use reposmith_generator_host::WasmHost;
use reposmith_lambda::ms;
use reposmith_lambda::registry::{self, Registered};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A loaded generator and the sha256 of the .wasm it came from.
type Loaded = (String, Arc<dyn Generator>);

pub struct Loader {
    pub host: WasmHost,
    /// The wasm host's artifact cache (under /tmp, the only writable place on Lambda).
    pub cache: PathBuf,
    pub packages: Arc<dyn PackageStore>,
    pub meta: Arc<dyn MetaStore>,
    pub handle: tokio::runtime::Handle,
    /// name → (sha256 of the .wasm, the loaded generator)
    loaded: Mutex<HashMap<String, Loaded>>,
    /// The registry bytes `loaded` reflects.
    seen: Mutex<Option<Vec<u8>>>,
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Artifacts the wasm host compiled for this .wasm (named by its digest and the engine).
fn artifacts_of(cache: &Path, wasm_sha: &str) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(cache)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            (name.starts_with(wasm_sha) && name.ends_with(".cwasm")).then(|| (name, e.path()))
        })
        .collect();
    out.sort();
    out
}

impl Loader {
    pub fn new(
        host: WasmHost,
        cache: PathBuf,
        packages: Arc<dyn PackageStore>,
        meta: Arc<dyn MetaStore>,
    ) -> Self {
        Loader {
            host,
            cache,
            packages,
            meta,
            handle: tokio::runtime::Handle::current(),
            loaded: Mutex::new(HashMap::new()),
            seen: Mutex::new(None),
        }
    }

    /// Brings `app.generators` in line with the registry: one metadata read when nothing
    /// changed; otherwise the changed generators are fetched and instantiated from their
    /// precompiled artifacts (compiled here only when no artifact fits this engine).
    async fn reload(&self, app: &App) -> anyhow::Result<()> {
        let (reg, _, bytes) = registry::read(self.meta.as_ref()).await?;
        if self.seen.lock().unwrap().as_deref() == Some(&bytes[..]) {
            return Ok(());
        }
        let mut next = HashMap::new();
        let mut gens = Vec::new();
        for r in &reg.generators {
            let known = self.loaded.lock().unwrap().get(&r.info.name).cloned();
            let g = match known {
                Some((sha, g)) if sha == r.wasm => g,
                _ => self.fetch(app, r).await?,
            };
            next.insert(r.info.name.clone(), (r.wasm.clone(), g.clone()));
            gens.push(g);
        }
        *app.generators.write().unwrap() = gens;
        *self.loaded.lock().unwrap() = next;
        *self.seen.lock().unwrap() = Some(bytes);
        Ok(())
    }

    async fn fetch(&self, app: &App, r: &Registered) -> anyhow::Result<Arc<dyn Generator>> {
        let started = Instant::now();
        let wasm =
            self.packages.get_bytes(&r.wasm).await?.with_context(|| {
                format!("generator {}: blob {} is missing", r.info.name, r.wasm)
            })?;
        let mut hit = false;
        for (file, sha) in &r.artifacts {
            let path = self.cache.join(file);
            if file.contains('/') || !file.ends_with(".cwasm") {
                continue;
            }
            if path.exists() {
                hit = true;
                continue;
            }
            if let Some(bytes) = self.packages.get_bytes(sha).await? {
                // Only artifacts this deployment compiled are in the registry (its own
                // `POST /generators/`, admin only); the host also checks engine and version.
                let tmp = self.cache.join(format!(".{file}.tmp"));
                std::fs::write(&tmp, &bytes)?;
                std::fs::rename(&tmp, &path)?;
                hit = true;
            }
        }
        let fetched = ms(started);
        let host = self.host.clone();
        let t = Instant::now();
        let g = app
            .blocking(move || host.load_bytes(&wasm))
            .await
            .with_context(|| format!("loading generator {}", r.info.name))?;
        eprintln!(
            "reposmith-write: generator {} ready: fetched in {fetched:.1} ms, instantiated in {:.1} ms ({})",
            r.info.name,
            ms(t),
            if hit { "precompiled artifact" } else { "compiled: no artifact for this engine" }
        );
        Ok(g)
    }

    /// Records a loaded generator in the registry (compare-and-set, retried).
    fn register(&self, g: &Arc<dyn Generator>, wasm: &[u8]) -> anyhow::Result<()> {
        let info = g.info().clone();
        let wasm_sha = sha256_hex(wasm);
        let rt = &self.handle;
        let d = rt.block_on(self.packages.put_bytes(bytes::Bytes::copy_from_slice(wasm)))?;
        anyhow::ensure!(d.sha256 == wasm_sha, "stored .wasm digest mismatch");
        let mut artifacts = std::collections::BTreeMap::new();
        for (file, path) in artifacts_of(&self.cache, &wasm_sha) {
            let bytes = std::fs::read(&path)?;
            let d = rt.block_on(self.packages.put_bytes(bytes.into()))?;
            artifacts.insert(file, d.sha256);
        }
        for _ in 0..20 {
            let (mut reg, version, _) = rt.block_on(registry::read(self.meta.as_ref()))?;
            let entry = Registered {
                info: info.clone(),
                wasm: wasm_sha.clone(),
                size: wasm.len() as u64,
                artifacts: artifacts.clone(),
            };
            // Another instance may have installed a generator on this mount meanwhile.
            place(&mut reg.generators, entry, |r| &r.info).map_err(anyhow::Error::msg)?;
            reg.generators.sort_by(|a, b| a.info.name.cmp(&b.info.name));
            let value = serde_json::to_vec(&reg)?;
            if rt
                .block_on(
                    self.meta
                        .put_if(registry::KEY, value.clone().into(), version),
                )?
                .is_ok()
            {
                let mut loaded = self.loaded.lock().unwrap();
                loaded.insert(info.name.clone(), (wasm_sha.clone(), g.clone()));
                // This instance now runs exactly what it wrote, provided it was up to date
                // before; otherwise the next refresh reloads the rest.
                let mut seen = self.seen.lock().unwrap();
                if reg.generators.iter().all(|r| {
                    loaded
                        .get(&r.info.name)
                        .is_some_and(|(sha, _)| *sha == r.wasm)
                }) {
                    *seen = Some(value);
                }
                return Ok(());
            }
        }
        anyhow::bail!("the generator registry kept changing: try again")
    }
}

#[async_trait::async_trait]
impl GeneratorLoader for Loader {
    /// Checks the .wasm against the contract and compiles it (errors become a 422).
    fn load(&self, wasm: &[u8]) -> anyhow::Result<Arc<dyn Generator>> {
        let t = Instant::now();
        let g = self.host.load_bytes(wasm)?;
        eprintln!(
            "reposmith-write: generator {} checked and compiled in {:.1} ms",
            g.info().name,
            ms(t)
        );
        Ok(g)
    }

    /// Stores the .wasm with its compiled artifact and registers it for every instance.
    fn keep(&self, g: &Arc<dyn Generator>, wasm: &[u8]) -> anyhow::Result<()> {
        self.register(g, wasm)
    }

    async fn refresh(&self, app: &App) -> anyhow::Result<()> {
        self.reload(app).await
    }

    /// Takes it out of the registry: every instance drops it at its next refresh (its blobs
    /// go with the next GC).
    async fn forget(&self, _app: &App, name: &str) -> anyhow::Result<()> {
        for _ in 0..20 {
            let (mut reg, version, _) = registry::read(self.meta.as_ref()).await?;
            reg.generators.retain(|r| r.info.name != name);
            let value = serde_json::to_vec(&reg)?;
            if self
                .meta
                .put_if(registry::KEY, value.into(), version)
                .await?
                .is_ok()
            {
                self.loaded.lock().unwrap().remove(name);
                *self.seen.lock().unwrap() = None;
                return Ok(());
            }
        }
        anyhow::bail!("the generator registry kept changing: try again")
    }
}
