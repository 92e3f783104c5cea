//! The generators a Lambda deployment runs, recorded in one metadata key ([`KEY`]): for each,
//! its `info`, the sha256 of its .wasm blob and of its ahead-of-time compiled artifacts
//! (one per wasmtime build and CPU: an arm64 and an x86_64 function each add their own).
//! The blobs sit in the package store. Instances compare the key's bytes before serving a
//! request that needs generators and reload what changed.
use reposmith_core::generator::{
    Assembled, ClientFile, ClientRepo, Entry, GenError, Generator, Hint, Info, Output,
    PackageReader, Plan, RepoInfo, ShelfSummary, Signer,
};
use reposmith_core::store::MetaStore;
use reposmith_core::{App, GeneratorLoader};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub const KEY: &str = "generators/registry";

#[derive(Serialize, Deserialize, Clone, Default, Debug, PartialEq, Eq)]
pub struct Registry {
    pub generators: Vec<Registered>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    pub info: Info,
    /// sha256 of the .wasm blob.
    pub wasm: String,
    pub size: u64,
    /// Compiled artifact file name (as the wasm host's cache names it: source digest and
    /// engine compatibility) → sha256 of the artifact blob.
    #[serde(default)]
    pub artifacts: BTreeMap<String, String>,
}

/// The registry and its version (None when no generator was ever uploaded).
pub async fn read(meta: &dyn MetaStore) -> anyhow::Result<(Registry, Option<u64>, Vec<u8>)> {
    match meta.get(KEY).await? {
        None => Ok((Registry::default(), None, Vec::new())),
        Some(v) => Ok((
            serde_json::from_slice(&v.value)?,
            Some(v.version),
            v.value.to_vec(),
        )),
    }
}

/// What the read function lists: a generator's description without its code. Listing
/// (`GET /generators/`, `GET /`) is all the read path ever asks of a generator.
pub struct Described(pub Info);

const NOT_HERE: &str = "generators run in the write function";

impl Generator for Described {
    fn info(&self) -> &Info {
        &self.0
    }
    fn claims(&self, _: &str, _: &[u8], _: &[Hint]) -> bool {
        false
    }
    fn analyze(&self, _: Arc<dyn PackageReader>, _: &[Hint]) -> Result<Vec<Entry>, GenError> {
        Err(GenError::Failed(NOT_HERE.into()))
    }
    fn plan(&self, _: &RepoInfo, _: &[ShelfSummary]) -> Result<Plan, GenError> {
        Err(GenError::Failed(NOT_HERE.into()))
    }
    fn finish(
        &self,
        _: &RepoInfo,
        _: &[ShelfSummary],
        _: &[Assembled],
        _: Arc<dyn Signer>,
    ) -> Result<Vec<Output>, GenError> {
        Err(GenError::Failed(NOT_HERE.into()))
    }
    // Not the default's "no client-config" either: the template routes config to the writer.
    fn client_config(&self, _: &ClientRepo) -> Option<Result<Vec<ClientFile>, GenError>> {
        Some(Err(GenError::Failed(NOT_HERE.into())))
    }
}

pub fn described(reg: &Registry) -> Vec<Arc<dyn Generator>> {
    reg.generators
        .iter()
        .map(|r| Arc::new(Described(r.info.clone())) as Arc<dyn Generator>)
        .collect()
}

/// The read function's loader: it lists what the registry holds (another instance may have
/// added a generator since) and never loads one (writes go to the write function).
pub struct Listing {
    /// Registry bytes the listed generators were made from.
    seen: Mutex<Option<Vec<u8>>>,
}

impl Listing {
    pub fn new() -> Self {
        Listing {
            seen: Mutex::new(None),
        }
    }
}

impl Default for Listing {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait::async_trait]
impl GeneratorLoader for Listing {
    fn load(&self, _: &[u8]) -> anyhow::Result<Arc<dyn Generator>> {
        anyhow::bail!("{NOT_HERE}")
    }
    fn keep(&self, _: &Arc<dyn Generator>, _: &[u8]) -> anyhow::Result<()> {
        anyhow::bail!("{NOT_HERE}")
    }
    async fn refresh(&self, app: &App) -> anyhow::Result<()> {
        let (reg, _, bytes) = read(app.meta.as_ref()).await?;
        let mut seen = self.seen.lock().unwrap();
        if seen.as_deref() != Some(&bytes[..]) {
            *app.generators.write().unwrap() = described(&reg);
            *seen = Some(bytes);
        }
        Ok(())
    }
}
