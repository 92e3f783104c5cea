//! A loaded generator component: every call runs with fresh fuel and a memory limit, in an
//! instance kept warm for the same repo or a fresh one.

use crate::bindings::{self, Exports, Pre};
use crate::state::{HostState, PackageHandle};
use crate::Limits;
use reposmith_contract::{
    Assembled, ClientFile, ClientRepo, Details, DigestKinds, Entry, Fragment, GenError, Generator,
    Hint, Info, Output, PackageReader, Plan, RepoInfo, ShelfSummary, Signer,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, PoisonError};
use wasmtime::component::Resource;
use wasmtime::{Store, Trap};

/// `claims` gets at most this much of the file head (the contract says up to 4 KiB).
const MAX_HEAD: usize = 4096;
/// Longest message kept from a guest (`err(..)` text, trap text): it ends up in responses.
const MAX_MESSAGE: usize = 4096;
/// Total bytes a call may return (fragments, file contents): what the host stores per
/// package or publishes per commit. The memory limit bounds it too; this is the tighter cap.
const MAX_RESULT_BYTES: usize = 64 << 20;

pub struct WasmGenerator {
    pre: Pre<HostState>,
    info: Info,
    /// `sniff.magics`, checked at load: a head holding none of them is not asked about.
    /// Empty: every head is.
    magics: Vec<Magic>,
    limits: Limits,
    /// Instances kept warm between calls (see [`Warm`]), the most recently used last.
    idle: Mutex<Vec<Warm>>,
    max_idle: usize,
}

/// An instance kept after a call that returned normally, for the next call of the same repo:
/// instantiating costs far more than a `claims` call (mmap, page faults, the guest's start-up).
/// A call that fails in any way drops its instance, and a failure in a reused instance is
/// retried once in a fresh one, so a reused instance answers what a fresh one would have
/// (memory or state left by earlier calls never turns into an error).
struct Warm {
    store: Store<HostState>,
    world: Exports,
    /// The repo whose calls this instance served: a guest's globals must never carry one
    /// repo's data into another's output, so an instance only serves the repo it started with.
    scope: String,
    calls: u32,
}

/// Warm instances kept per generator (across repos): as many as a rebuild keeps busy (two
/// per core), so that none of them is instantiated twice.
fn max_idle() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 2)
        .clamp(2, 16)
}
/// Calls before an instance is retired anyway (a guest that leaks memory or slows down).
const MAX_CALLS: u32 = 2_000;
/// An instance whose linear memory grew past this is not kept (idle memory stays small).
const MAX_IDLE_MEMORY: usize = 32 << 20;

/// Bytes a head must hold at an offset (`sniff.magic`), checked to end within [`MAX_HEAD`].
#[derive(Debug)]
pub(crate) struct Magic {
    offset: usize,
    bytes: Vec<u8>,
}

/// Most magics a generator may declare, and the longest one: the rule must stay cheap.
const MAX_MAGICS: usize = 16;
const MAX_MAGIC_LEN: usize = 64;

impl WasmGenerator {
    /// `info` and `magics` are trusted to have been validated by the loader.
    pub(crate) fn new(pre: Pre<HostState>, info: Info, magics: Vec<Magic>, limits: Limits) -> Self {
        WasmGenerator {
            pre,
            info,
            magics,
            limits,
            idle: Mutex::new(Vec::new()),
            max_idle: max_idle(),
        }
    }

    /// What a generator says of itself, asked once, at load, in one fresh instance: `info()`,
    /// and `sniff.magics()` checked (empty when it does not export `sniff`), or why they
    /// cannot be kept.
    pub(crate) fn call_info(
        pre: &Pre<HostState>,
        limits: &Limits,
    ) -> Result<(bindings::wit::Info, Result<Vec<Magic>, String>), String> {
        let mut warm = instantiate(pre, limits, String::new())?;
        let info = run(&mut warm, limits, None, |store, world| {
            world.reposmith_generator_generator().call_info(store)
        })?;
        let magics = run(&mut warm, limits, None, |store, world| match &world.sniff {
            Some(s) => s.call_magics(store),
            None => Ok(Vec::new()),
        })
        .and_then(checked);
        Ok((info, magics))
    }

    /// Whether `head` may be claimed: it holds one of the magics, or there are none.
    fn sniffed(&self, head: &[u8]) -> bool {
        self.magics.is_empty()
            || self
                .magics
                .iter()
                .any(|m| head.get(m.offset..m.offset + m.bytes.len()) == Some(&m.bytes[..]))
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Warm>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One call for `scope` (the repo): in a warm instance of that repo if one is idle, else
    /// in a fresh one; the error is what a fresh instance would have failed with.
    fn call<R>(
        &self,
        what: &str,
        scope: &str,
        signer: Option<Arc<dyn Signer>>,
        f: impl Fn(&mut Store<HostState>, &Exports) -> wasmtime::Result<R>,
    ) -> Result<R, GenError> {
        let fail =
            |m: String| GenError::Failed(format!("generator {}: {what}: {m}", self.info.name));
        // `claims` runs for every upload of every format: a tight budget of its own.
        let limits = match what {
            "claims" => Limits {
                fuel: self.limits.claims_fuel,
                ..self.limits
            },
            _ => self.limits,
        };
        let reused = {
            let mut idle = self.lock_idle();
            // The most recently used first: its pages are the likeliest still in cache.
            idle.iter()
                .rposition(|w| w.scope == scope)
                .map(|i| idle.remove(i))
        };
        if let Some(mut warm) = reused {
            if let Ok(r) = run(&mut warm, &limits, signer.clone(), &f) {
                self.keep(warm);
                return Ok(r);
            }
            // Dropped: whatever went wrong, the fresh instance below decides.
        }
        let mut warm = instantiate(&self.pre, &limits, scope.to_string()).map_err(fail)?;
        let r = run(&mut warm, &limits, signer, &f).map_err(fail)?;
        self.keep(warm);
        Ok(r)
    }

    /// Back to the idle list, unless it has served enough or holds too much memory.
    fn keep(&self, mut warm: Warm) {
        warm.calls += 1;
        let data = warm.store.data_mut();
        data.signer = None;
        if warm.calls >= MAX_CALLS || data.limiter.memory_size > MAX_IDLE_MEMORY {
            return;
        }
        let mut idle = self.lock_idle();
        // The least recently used goes, dropped (unmapped) after the lock is released.
        let evicted = (idle.len() >= self.max_idle).then(|| idle.remove(0));
        idle.push(warm);
        drop(idle);
        drop(evicted);
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

/// `sniff.magics` as the host keeps them, or why they cannot be kept: too many, or one
/// empty, too long or ending past the head `claims` gets.
fn checked(
    magics: Vec<bindings::exports::reposmith::generator::sniff::Magic>,
) -> Result<Vec<Magic>, String> {
    if magics.len() > MAX_MAGICS {
        return Err(format!(
            "{} magics; at most {MAX_MAGICS} are allowed",
            magics.len()
        ));
    }
    magics
        .into_iter()
        .map(|m| {
            let (offset, len) = (m.offset as usize, m.bytes.len());
            if len == 0 || len > MAX_MAGIC_LEN || offset + len > MAX_HEAD {
                return Err(format!(
                    "a magic of {len} bytes at offset {offset}: each must be 1 to \
                     {MAX_MAGIC_LEN} bytes and end within the first {MAX_HEAD}"
                ));
            }
            Ok(Magic {
                offset,
                bytes: m.bytes,
            })
        })
        .collect()
}

/// A fresh store with the memory limiter, and the component instantiated in it.
fn instantiate(pre: &Pre<HostState>, limits: &Limits, scope: String) -> Result<Warm, String> {
    let mut store = Store::new(pre.engine(), HostState::new(limits.memory_bytes, None));
    store.limiter(|s| &mut s.limiter);
    store
        .set_fuel(limits.fuel)
        .map_err(|e| format!("cannot set fuel: {e}"))?;
    // The guest's start-up (its constructors) runs here and spends this call's fuel.
    match catch_unwind(AssertUnwindSafe(|| pre.instantiate(&mut store))) {
        Ok(Ok(world)) => Ok(Warm {
            store,
            world,
            scope,
            calls: 0,
        }),
        Ok(Err(e)) => Err(describe(&store, limits, &e)),
        Err(_) => Err("the host panicked during the call".into()),
    }
}

/// One sandboxed call in `warm`: fresh fuel, this call's signer, the memory limiter, panics
/// contained. The error is a message without the generator/call prefix; after one the
/// instance must be dropped (a trapped instance cannot be entered again).
fn run<R>(
    warm: &mut Warm,
    limits: &Limits,
    signer: Option<Arc<dyn Signer>>,
    f: impl FnOnce(&mut Store<HostState>, &Exports) -> wasmtime::Result<R>,
) -> Result<R, String> {
    let Warm { store, world, .. } = warm;
    store.data_mut().reset(signer);
    store
        .set_fuel(limits.fuel)
        .map_err(|e| format!("cannot set fuel: {e}"))?;
    // wasmtime propagates host panics through wasm frames; keep them from reaching the caller
    // (e.g. a PackageReader that panics mid-call).
    let result = catch_unwind(AssertUnwindSafe(|| f(store, world)));
    match result {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(describe(store, limits, &e)),
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
        self.try_claims(filename, head, hints).unwrap_or(false)
    }

    fn try_claims(&self, filename: &str, head: &[u8], hints: &[Hint]) -> Result<bool, GenError> {
        let head = &head[..head.len().min(MAX_HEAD)];
        // The generator's own cheap rule: no instance is entered for a file of another format
        // (a rebuild asks every generator about every package).
        if !self.sniffed(head) {
            return Ok(false);
        }
        let scope = scope(hints);
        let hints: Vec<bindings::wit::Hint> = bindings::to_wit(hints);
        self.call("claims", scope, None, |store, w| {
            w.reposmith_generator_generator()
                .call_claims(store, filename, head, &hints)
        })
    }

    fn analyze(&self, pkg: Arc<dyn PackageReader>, hints: &[Hint]) -> Result<Vec<Entry>, GenError> {
        let scope = scope(hints);
        let hints: Vec<bindings::wit::Hint> = bindings::to_wit(hints);
        let r = self.call("analyze", scope, None, |store, w| {
            let handle = store
                .data_mut()
                .table
                .push(PackageHandle::new(pkg.clone()))?;
            let rep = handle.rep();
            // A borrow: the host keeps ownership, and drops it after the call (the instance
            // may serve more calls).
            let r = w
                .reposmith_generator_generator()
                .call_analyze(&mut *store, handle, &hints);
            let _ = store
                .data_mut()
                .table
                .delete(Resource::<PackageHandle>::new_own(rep));
            r
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
        let r = self.call("plan", &repo.name, None, |store, w| {
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
        let r = self.call("finish", &repo.name, Some(signer), |store, w| {
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

    fn compare_versions(
        &self,
        repo: &str,
        versions: &[String],
    ) -> Option<Result<Vec<u32>, GenError>> {
        if !self.pre.has_inspect() {
            return None;
        }
        let r = self.call("compare-versions", repo, None, |store, w| {
            match &w.inspect {
                Some(i) => i.call_compare_versions(store, versions).map(Some),
                None => Ok(None),
            }
        });
        match r {
            Ok(Some(ranks)) if ranks.len() == versions.len() => Some(Ok(ranks)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        }
    }

    fn describe(
        &self,
        repo: &str,
        entries: &[Vec<Fragment>],
    ) -> Option<Result<Vec<Details>, GenError>> {
        if !self.pre.has_inspect() {
            return None;
        }
        let entries: Vec<Vec<bindings::wit::Fragment>> = entries
            .iter()
            .map(|fs| {
                fs.iter()
                    .map(|f| bindings::wit::Fragment {
                        name: f.name.clone(),
                        data: f.data.clone(),
                    })
                    .collect()
            })
            .collect();
        let r = self.call("describe", repo, None, |store, w| match &w.inspect {
            Some(i) => i.call_describe(store, &entries).map(Some),
            None => Ok(None),
        });
        match r {
            Ok(Some(details)) if details.len() == entries.len() => {
                let total: usize = details
                    .iter()
                    .flat_map(|d| d.fields.iter())
                    .map(|h| h.key.len() + h.value.len())
                    .sum();
                if total > MAX_RESULT_BYTES {
                    return Some(Err(GenError::Failed(format!(
                        "generator {}: describe: result too large ({total} bytes)",
                        self.info.name
                    ))));
                }
                Some(Ok(details.into_iter().map(Into::into).collect()))
            }
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        }
    }

    fn digests(&self, repo: &RepoInfo) -> Option<Result<DigestKinds, GenError>> {
        if !self.pre.has_digests() {
            return None;
        }
        use bindings::exports::reposmith::generator::digests::Digest;
        let wit_repo: bindings::wit::RepoInfo = repo.clone().into();
        let r = self.call("digests", &repo.name, None, |store, w| match &w.digests {
            Some(d) => d.call_wanted(store, &wit_repo).map(Some),
            None => Ok(None),
        });
        match r {
            Ok(Some(wanted)) => {
                let mut kinds = DigestKinds::SHA256;
                for d in wanted {
                    match d {
                        Digest::Md5 => kinds.md5 = true,
                        Digest::Sha1 => kinds.sha1 = true,
                        Digest::Sha512 => kinds.sha512 = true,
                    }
                }
                Some(Ok(kinds))
            }
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }

    fn client_config(&self, repo: &ClientRepo) -> Option<Result<Vec<ClientFile>, GenError>> {
        if !self.pre.has_client() {
            return None;
        }
        let wit_repo: bindings::exports::reposmith::generator::client::ClientRepo =
            repo.clone().into();
        let r = self.call("client-config", &repo.name, None, |store, w| {
            match &w.client {
                Some(c) => c.call_client_config(store, &wit_repo).map(Some),
                None => Ok(None),
            }
        });
        match r {
            Ok(Some(files)) => Some(
                self.answer("client-config", files, |f| {
                    f.client.len() + f.file_name.len() + f.data.len()
                })
                .map(|files| files.into_iter().map(Into::into).collect()),
            ),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// The repo a `claims` or `analyze` call is for: the host's reserved `repo.name` hint.
fn scope(hints: &[Hint]) -> &str {
    hints
        .iter()
        .find(|h| h.key == "repo.name")
        .map_or("", |h| h.value.as_str())
}

fn selection_size(s: &bindings::wit::Selection) -> usize {
    s.fragment.len() + s.separator.len() + s.shelves.iter().map(String::len).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bindings::exports::reposmith::generator::sniff::Magic as WitMagic;

    fn m(offset: u32, bytes: &[u8]) -> WitMagic {
        WitMagic {
            offset,
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn magics_must_be_short_and_within_the_head() {
        let kept = checked(vec![m(0, b"!<arch>\n"), m(257, b"ustar")]).unwrap();
        assert_eq!((kept[1].offset, &kept[1].bytes[..]), (257, &b"ustar"[..]));
        assert!(checked(vec![m(4090, b"1234567")])
            .unwrap_err()
            .contains("4096"));
        assert!(checked(vec![m(0, b"")]).is_err());
        assert!(checked(vec![m(0, &[7; 65])]).is_err());
        assert!(checked(vec![m(u32::MAX, b"x")]).is_err());
        assert!(checked((0..17).map(|i| m(i, b"x")).collect())
            .unwrap_err()
            .contains("at most 16"));
        assert!(checked(Vec::new()).unwrap().is_empty());
    }
}
