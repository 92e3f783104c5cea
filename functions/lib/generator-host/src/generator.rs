//! A loaded generator component: every call runs in a fresh, limited store.

use crate::bindings::{self, GeneratorWorld, GeneratorWorldPre};
use crate::state::{HostState, PackageHandle};
use crate::Limits;
use reposmith_contract::{
    Assembled, Entry, GenError, Generator, Hint, Info, Output, PackageReader, Plan, RepoInfo,
    ShelfSummary, Signer,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use wasmtime::{Store, Trap};

/// `claims` gets at most this much of the file head (the contract says up to 4 KiB).
const MAX_HEAD: usize = 4096;
/// Longest message kept from a guest (`err(..)` text, trap text): it ends up in responses.
const MAX_MESSAGE: usize = 4096;
/// Total bytes a call may return (fragments, file contents): what the host stores per
/// package or publishes per commit. The memory limit bounds it too; this is the tighter cap.
const MAX_RESULT_BYTES: usize = 64 << 20;

pub struct WasmGenerator {
    pre: GeneratorWorldPre<HostState>,
    info: Info,
    limits: Limits,
}

impl WasmGenerator {
    /// `info` is trusted to have been validated by the loader.
    pub(crate) fn new(pre: GeneratorWorldPre<HostState>, info: Info, limits: Limits) -> Self {
        WasmGenerator { pre, info, limits }
    }

    /// Call `info()` in a fresh store; used once, at load.
    pub(crate) fn call_info(
        pre: &GeneratorWorldPre<HostState>,
        limits: &Limits,
    ) -> Result<bindings::wit::Info, String> {
        run(pre, limits, None, |store, world| {
            world.reposmith_generator_generator().call_info(store)
        })
    }

    fn call<R>(
        &self,
        what: &str,
        signer: Option<Arc<dyn Signer>>,
        f: impl FnOnce(&mut Store<HostState>, &GeneratorWorld) -> wasmtime::Result<R>,
    ) -> Result<R, GenError> {
        run(&self.pre, &self.limits, signer, f)
            .map_err(|m| GenError::Failed(format!("generator {}: {what}: {m}", self.info.name)))
    }

    /// Map the guest's own `result` and bound what it returns.
    fn answer<T>(
        &self,
        what: &str,
        r: Result<Vec<T>, String>,
        size: impl Fn(&T) -> usize,
    ) -> Result<Vec<T>, GenError> {
        let items = r.map_err(|m| GenError::Rejected(clip(&m)))?;
        let total: usize = items.iter().map(size).sum();
        if total > MAX_RESULT_BYTES {
            return Err(GenError::Failed(format!(
                "generator {}: {what}: result too large ({total} bytes, limit {MAX_RESULT_BYTES})",
                self.info.name
            )));
        }
        Ok(items)
    }
}

/// One sandboxed call: fresh store, fresh fuel, the memory limiter, panics contained.
/// The error is a message without the generator/call prefix.
fn run<R>(
    pre: &GeneratorWorldPre<HostState>,
    limits: &Limits,
    signer: Option<Arc<dyn Signer>>,
    f: impl FnOnce(&mut Store<HostState>, &GeneratorWorld) -> wasmtime::Result<R>,
) -> Result<R, String> {
    let mut store = Store::new(pre.engine(), HostState::new(limits.memory_bytes, signer));
    store.limiter(|s| &mut s.limiter);
    store
        .set_fuel(limits.fuel)
        .map_err(|e| format!("cannot set fuel: {e}"))?;
    // wasmtime propagates host panics through wasm frames; keep them from reaching the caller
    // (e.g. a PackageReader that panics mid-call).
    let result = catch_unwind(AssertUnwindSafe(|| {
        let world = pre.instantiate(&mut store)?;
        f(&mut store, &world)
    }));
    match result {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(describe(&store, limits, &e)),
        Err(_) => Err("the host panicked during the call".into()),
    }
}

/// A short, specific reason: fuel, memory, trap (with the guest's last stderr words).
fn describe(store: &Store<HostState>, limits: &Limits, e: &wasmtime::Error) -> String {
    let data = store.data();
    let mut msg = if data.limiter.exceeded.is_some() {
        format!(
            "memory limit exceeded (limit {} bytes)",
            limits.memory_bytes
        )
    } else {
        match e.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => format!("all fuel consumed (limit {})", limits.fuel),
            Some(trap) => trap.to_string(),
            None => format!("{e:#}"),
        }
    };
    let stderr = data.stderr.text();
    if !stderr.is_empty() {
        msg.push_str("; guest stderr: ");
        msg.push_str(&stderr);
    }
    clip(&msg)
}

fn clip(s: &str) -> String {
    if s.len() <= MAX_MESSAGE {
        return s.to_string();
    }
    let mut end = MAX_MESSAGE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

impl Generator for WasmGenerator {
    fn info(&self) -> &Info {
        &self.info
    }

    fn claims(&self, filename: &str, head: &[u8], hints: &[Hint]) -> bool {
        let head = &head[..head.len().min(MAX_HEAD)];
        let hints: Vec<bindings::wit::Hint> = bindings::to_wit(hints);
        self.call("claims", None, |store, w| {
            w.reposmith_generator_generator()
                .call_claims(store, filename, head, &hints)
        })
        .unwrap_or(false)
    }

    fn analyze(&self, pkg: Arc<dyn PackageReader>, hints: &[Hint]) -> Result<Vec<Entry>, GenError> {
        let hints: Vec<bindings::wit::Hint> = bindings::to_wit(hints);
        let r = self.call("analyze", None, |store, w| {
            let handle = store.data_mut().table.push(PackageHandle::new(pkg))?;
            // A borrow: the host keeps ownership, the store (and the handle) die after the call.
            w.reposmith_generator_generator()
                .call_analyze(store, handle, &hints)
        })?;
        let entries = self.answer("analyze", r, |e| {
            e.name.len()
                + e.version.len()
                + e.arch.len()
                + e.path.len()
                + e.shelf.len()
                + e.fragments
                    .iter()
                    .map(|f| f.name.len() + f.data.len())
                    .sum::<usize>()
        })?;
        Ok(entries.into_iter().map(Into::into).collect())
    }

    fn plan(&self, repo: &RepoInfo, shelves: &[ShelfSummary]) -> Result<Plan, GenError> {
        let repo: bindings::wit::RepoInfo = repo.clone().into();
        let shelves: Vec<bindings::wit::ShelfSummary> = bindings::to_wit(shelves);
        let r = self.call("plan", None, |store, w| {
            w.reposmith_generator_generator()
                .call_plan(store, &repo, &shelves)
        })?;
        let plan = r.map_err(|m| GenError::Rejected(clip(&m)))?;
        let files = self.answer("plan", Ok(plan.files), |b| {
            b.path.len()
                + b.parts
                    .iter()
                    .map(|p| match p {
                        bindings::wit::Part::Literal(l) => l.len(),
                        bindings::wit::Part::Entries(s) => selection_size(s),
                        bindings::wit::Part::TarMember(m) => {
                            m.name.len()
                                + m.parts
                                    .iter()
                                    .map(|l| match l {
                                        bindings::wit::Leaf::Literal(b) => b.len(),
                                        bindings::wit::Leaf::Entries(s) => selection_size(s),
                                    })
                                    .sum::<usize>()
                        }
                    })
                    .sum::<usize>()
        })?;
        let links = self.answer("plan", Ok(plan.links), |l| {
            l.prefix.len() + l.shelves.iter().map(String::len).sum::<usize>()
        })?;
        Ok(Plan {
            files: files.into_iter().map(Into::into).collect(),
            links: links.into_iter().map(Into::into).collect(),
        })
    }

    fn finish(
        &self,
        repo: &RepoInfo,
        shelves: &[ShelfSummary],
        files: &[Assembled],
        signer: Arc<dyn Signer>,
    ) -> Result<Vec<Output>, GenError> {
        let repo: bindings::wit::RepoInfo = repo.clone().into();
        let shelves: Vec<bindings::wit::ShelfSummary> = bindings::to_wit(shelves);
        let files: Vec<bindings::wit::Assembled> = bindings::to_wit(files);
        let r = self.call("finish", Some(signer), |store, w| {
            w.reposmith_generator_generator()
                .call_finish(store, &repo, &shelves, &files)
        })?;
        let outputs = self.answer("finish", r, |o| {
            o.path.len()
                + match &o.content {
                    bindings::wit::Content::Bytes(b) => b.len(),
                    bindings::wit::Content::SameAs(p) => p.len(),
                    bindings::wit::Content::Concat(c) => c
                        .pieces
                        .iter()
                        .map(|p| match p {
                            bindings::wit::Piece::Bytes(b) => b.len(),
                            bindings::wit::Piece::File(f) => f.len(),
                        })
                        .sum(),
                }
        })?;
        Ok(outputs.into_iter().map(Into::into).collect())
    }
}

fn selection_size(s: &bindings::wit::Selection) -> usize {
    s.fragment.len() + s.separator.len() + s.shelves.iter().map(String::len).sum::<usize>()
}
