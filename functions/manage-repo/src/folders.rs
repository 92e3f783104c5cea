//! The local server's generators: the .wasm files of its folders, kept in step with them
//! while it runs.
//!
//! Two folders, in this order (a later generator of the same name replaces an earlier one):
//! the base folder (`--generators DIR`, every `*.wasm`; by default the workspace's build
//! folder, `reposmith_gen_*.wasm` only) and DATA/generators (uploads, and files dropped in).
//! Before every request that may run or list generators (`GeneratorLoader::refresh`) the
//! folders are listed (names, sizes, mtimes, inodes: a few `stat`s) and compared with the
//! listing the current set came from; only when they differ is anything read, and only the
//! files whose listing changed are loaded again. Polling there rather than a watcher thread
//! (`notify`): nothing runs between requests, nothing can be missed (an event queue can
//! overflow, network filesystems send no events), and a request always sees the folder as
//! it is when it starts.
//!
//! A file that does not load (not a component, another contract version, a bad `info`, a
//! name already in its folder, a mount held by another generator) is left where it is,
//! reported once in the server log (`generator refused: FILE: REASON`) and listed under
//! `refused` by `GET /generators/`, and tried again whenever it changes: a file caught half
//! copied loads once the copy is complete, and a bad file never stops a start. Nothing is
//! moved aside: the base folder may not be ours to write (a read-only install, the build
//! folder), and moving a file a writer still holds open would lose the rest of its copy.
use reposmith_core::generator::Generator;
use reposmith_core::registry::{self, Refused};
use reposmith_core::{App, GeneratorLoader};
use reposmith_generator_host::WasmHost;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

/// Which files of a folder are generators.
#[derive(Clone, Debug)]
pub struct Folder {
    pub dir: PathBuf,
    /// Only names starting with this (the build folder also holds test generators).
    pub prefix: &'static str,
}

/// What identifies one version of a file without reading it: a copy in progress changes
/// its size and mtime, a rename puts another inode under the name.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    ino: u64,
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            len: m.len(),
            modified: m.modified().ok(),
            ino: m.ino(),
        }
    }
}

/// The folders as last listed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Listing {
    base: Vec<(PathBuf, Stamp)>,
    uploaded: Vec<(PathBuf, Stamp)>,
    /// DATA/generators/NAME.removed: NAME was deleted (`DELETE /generators/NAME`).
    removed: BTreeSet<String>,
}

/// A generator in the current set and the file it came from.
struct Placed {
    generator: Arc<dyn Generator>,
    path: PathBuf,
}

/// A file's last load: the generator, or why it was refused.
type Loaded = Result<Arc<dyn Generator>, String>;

#[derive(Default)]
struct State {
    /// The listing the current set was made from (None: list again).
    seen: Option<Listing>,
    /// Every listed file's last load, by path, with the stamp it was read at.
    loaded: HashMap<PathBuf, (Stamp, Loaded)>,
    /// The current set, in the order it was placed.
    placed: Vec<Placed>,
    /// The files left out, as `GET /generators/` lists them; each was logged once.
    refused: Vec<(PathBuf, String)>,
}

/// The local [`GeneratorLoader`]: the folders, and uploads kept in DATA/generators.
pub struct Folders {
    host: WasmHost,
    base: Option<Folder>,
    uploaded: PathBuf,
    state: Mutex<State>,
    /// One refresh at a time (the others wait without holding an executor thread, then find
    /// the folders unchanged).
    refreshing: tokio::sync::Mutex<()>,
    /// Loads run on a blocking thread, which needs the loader itself.
    me: std::sync::Weak<Folders>,
}

impl Folders {
    pub fn new(host: WasmHost, base: Option<Folder>, uploaded: PathBuf) -> Arc<Folders> {
        Arc::new_cyclic(|me| Folders {
            host,
            base,
            uploaded,
            state: Mutex::new(State::default()),
            refreshing: tokio::sync::Mutex::new(()),
            me: me.clone(),
        })
    }

    /// The folders watched, for the start-up banner.
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.base
            .iter()
            .map(|f| f.dir.clone())
            .chain([self.uploaded.clone()])
            .collect()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Brings `app`'s generators in line with the folders. Refusals are always logged (once
    /// each); loads and unloads with `log_loads` (at start the banner lists what loaded).
    pub async fn sync(&self, app: &App, log_loads: bool) -> anyhow::Result<()> {
        let _one = self.refreshing.lock().await;
        let listing = self.list()?;
        if self.state().seen.as_ref() == Some(&listing) {
            return Ok(());
        }
        // Compiling a new component takes a while: off the executor.
        let me = self
            .me
            .upgrade()
            .expect("the loader is alive while it is called");
        let l = listing.clone();
        app.blocking(move || {
            me.load_changed(&l);
            Ok::<_, reposmith_core::error::ApiError>(())
        })
        .await
        .map_err(|e| anyhow::anyhow!("loading generators: {}", e.detail))?;
        self.apply(app, listing, log_loads);
        Ok(())
    }

    /// The generator files of both folders and the removal markers. A folder that is not
    /// there lists nothing.
    fn list(&self) -> anyhow::Result<Listing> {
        let mut l = Listing::default();
        if let Some(f) = &self.base {
            l.base = wasm_files(&f.dir, f.prefix)?;
        }
        l.uploaded = wasm_files(&self.uploaded, "")?;
        for name in file_names(&self.uploaded)? {
            if let Some(n) = name.strip_suffix(".removed") {
                l.removed.insert(n.to_string());
            }
        }
        Ok(l)
    }

    /// Loads every listed file whose stamp is not the one it was last loaded at.
    fn load_changed(&self, listing: &Listing) {
        let mut todo = Vec::new();
        {
            let state = self.state();
            for (path, stamp) in listing.base.iter().chain(&listing.uploaded) {
                if state.loaded.get(path).map(|(s, _)| s) != Some(stamp) {
                    todo.push((path.clone(), stamp.clone()));
                }
            }
        }
        // The stamp was taken before the read: a write after it changes the stamp, so a
        // file read half-written is read again, never kept as broken.
        let done: Vec<_> = todo
            .into_iter()
            .map(|(path, stamp)| {
                let result = std::fs::read(&path)
                    .map_err(anyhow::Error::from)
                    .and_then(|wasm| self.host.load_bytes(&wasm))
                    .map_err(|e| one_line(&format!("{e:#}")));
                (path, stamp, result)
            })
            .collect();
        let mut state = self.state();
        for (path, stamp, result) in done {
            state.loaded.insert(path, (stamp, result));
        }
        let listed: BTreeSet<&PathBuf> = listing
            .base
            .iter()
            .chain(&listing.uploaded)
            .map(|(p, _)| p)
            .collect();
        state.loaded.retain(|p, _| listed.contains(p));
    }

    /// Makes the app's set what `listing` holds, by the install rule: base folder first,
    /// then DATA/generators; a later generator of the same name replaces an earlier one
    /// (two of one name in one folder: the first by file name stays), another name on a
    /// taken mount is refused.
    fn apply(&self, app: &App, listing: Listing, log_loads: bool) {
        let mut state = self.state();
        let mut placed: Vec<Placed> = Vec::new();
        let mut refused: Vec<(PathBuf, String)> = Vec::new();
        let folders = [(&listing.base, false), (&listing.uploaded, true)];
        for (files, uploaded) in folders {
            let mut names: HashMap<String, &PathBuf> = HashMap::new();
            for (path, _) in files {
                let Some((_, result)) = state.loaded.get(path) else {
                    continue; // listed after this refresh's loads: the next one has it
                };
                let g = match result {
                    Ok(g) => g.clone(),
                    Err(e) => {
                        refused.push((path.clone(), e.clone()));
                        continue;
                    }
                };
                let name = g.info().name.clone();
                if !uploaded && listing.removed.contains(&name) {
                    continue; // deleted through the API: the marker keeps it out
                }
                if let Some(first) = names.get(&name) {
                    refused.push((
                        path.clone(),
                        format!(
                            "generator {name} is already loaded from {}: one file per generator in a folder",
                            first.display()
                        ),
                    ));
                    continue;
                }
                let item = Placed {
                    generator: g,
                    path: path.clone(),
                };
                match registry::place(&mut placed, item, |p| p.generator.info()) {
                    Ok(()) => {
                        names.insert(name, path);
                    }
                    Err(e) => refused.push((path.clone(), e)),
                }
            }
        }
        for (path, error) in &refused {
            if !state.refused.iter().any(|(p, e)| p == path && e == error) {
                eprintln!("generator refused: {}: {error}", path.display());
            }
        }
        if log_loads {
            log_changes(&state.placed, &placed);
        }
        registry::replace_all(app, placed.iter().map(|p| p.generator.clone()).collect());
        state.placed = placed;
        state.refused = refused;
        state.seen = Some(listing);
    }

    /// Files of DATA/generators holding generator `name` (an upload or a drop-in).
    fn uploaded_files_of(state: &State, uploaded: &Path, name: &str) -> Vec<PathBuf> {
        state
            .loaded
            .iter()
            .filter(|(p, (_, r))| {
                p.parent() == Some(uploaded) && r.as_ref().is_ok_and(|g| g.info().name == name)
            })
            .map(|(p, _)| p.clone())
            .collect()
    }
}

/// Logs the generators that came, changed or went between two sets.
fn log_changes(before: &[Placed], after: &[Placed]) {
    for p in after {
        let info = p.generator.info();
        match before.iter().find(|b| b.generator.info().name == info.name) {
            Some(b) if Arc::ptr_eq(&b.generator, &p.generator) => {}
            found => eprintln!(
                "generator {}: {} (mount {}) from {}",
                if found.is_some() {
                    "reloaded"
                } else {
                    "loaded"
                },
                info.name,
                info.mount,
                p.path.display()
            ),
        }
    }
    for b in before {
        let name = &b.generator.info().name;
        if !after.iter().any(|p| &p.generator.info().name == name) {
            eprintln!("generator unloaded: {name} (was {})", b.path.display());
        }
    }
}

/// A message on one line (the log has one line per event).
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_control())
        .filter(|p| !p.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Plain file names in `dir`; none when it is not there.
fn file_names(dir: &Path) -> anyhow::Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(anyhow::anyhow!("reading {}: {e}", dir.display())),
    };
    let mut names = Vec::new();
    for e in entries {
        let e = e.map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.display()))?;
        if let Ok(n) = e.file_name().into_string() {
            names.push(n);
        }
    }
    Ok(names)
}

/// `*.wasm` regular files (symlinks followed) of `dir` starting with `prefix`, by name.
/// Hidden files are skipped: `cp x.wasm DIR/.x.part && mv DIR/.x.part DIR/x.wasm` is how
/// to drop one in.
fn wasm_files(dir: &Path, prefix: &str) -> anyhow::Result<Vec<(PathBuf, Stamp)>> {
    let mut names: Vec<String> = file_names(dir)?
        .into_iter()
        .filter(|n| n.ends_with(".wasm") && n.starts_with(prefix) && !n.starts_with('.'))
        .collect();
    names.sort();
    let mut files = Vec::new();
    for n in names {
        let path = dir.join(n);
        // Gone since the listing, or not a file: not a generator (yet).
        if let Ok(m) = std::fs::metadata(&path) {
            if m.is_file() {
                files.push((path, Stamp::of(&m)));
            }
        }
    }
    Ok(files)
}

/// DATA/generators/NAME.removed.
fn removed_marker(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.removed"))
}

fn remove_if_there(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

#[async_trait::async_trait]
impl GeneratorLoader for Folders {
    fn load(&self, wasm: &[u8]) -> anyhow::Result<Arc<dyn Generator>> {
        self.host.load_bytes(wasm)
    }

    /// DATA/generators/NAME.wasm, replacing any other file there that held NAME; the load
    /// is remembered, so the next refresh does not load it again.
    fn keep(&self, g: &Arc<dyn Generator>, wasm: &[u8]) -> anyhow::Result<()> {
        crate::setup::private_dir(&self.uploaded)?;
        let name = &g.info().name;
        let path = self.uploaded.join(format!("{name}.wasm"));
        let tmp = self.uploaded.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, wasm)?;
        std::fs::rename(&tmp, &path)?;
        let stamp = Stamp::of(&std::fs::metadata(&path)?);
        let mut state = self.state();
        for other in Self::uploaded_files_of(&state, &self.uploaded, name) {
            if other != path {
                remove_if_there(&other)?;
                state.loaded.remove(&other);
            }
        }
        state.loaded.insert(path.clone(), (stamp, Ok(g.clone())));
        state.placed.retain(|p| &p.generator.info().name != name);
        state.placed.push(Placed {
            generator: g.clone(),
            path,
        });
        remove_if_there(&removed_marker(&self.uploaded, name))
    }

    /// Its files in DATA/generators go; a marker keeps one of the base folder from loading,
    /// now and at later starts.
    async fn forget(&self, _app: &App, name: &str) -> anyhow::Result<()> {
        crate::setup::private_dir(&self.uploaded)?;
        std::fs::write(removed_marker(&self.uploaded, name), b"")?;
        let mut state = self.state();
        let mut files = Self::uploaded_files_of(&state, &self.uploaded, name);
        files.push(self.uploaded.join(format!("{name}.wasm")));
        for f in files {
            remove_if_there(&f)?;
            state.loaded.remove(&f);
        }
        state.placed.retain(|p| p.generator.info().name != name);
        Ok(())
    }

    async fn refresh(&self, app: &App) -> anyhow::Result<()> {
        self.sync(app, true).await
    }

    fn refused(&self) -> Vec<Refused> {
        self.state()
            .refused
            .iter()
            .map(|(path, error)| Refused {
                file: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                error: error.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_fit_on_one_line() {
        assert_eq!(
            one_line("invalid component:\n  at 0x1: bad\r\n"),
            "invalid component: at 0x1: bad"
        );
    }

    #[test]
    fn listing_sees_what_a_copy_changes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.wasm"), b"half").unwrap();
        std::fs::write(d.join(".b.part"), b"hidden").unwrap();
        std::fs::write(d.join("notes.txt"), b"not a generator").unwrap();
        std::fs::create_dir(d.join("dir.wasm")).unwrap();
        let first = wasm_files(d, "").unwrap();
        assert_eq!(first.len(), 1, "{first:?}");
        // The copy goes on: same name, another stamp.
        std::fs::write(d.join("a.wasm"), b"half and the rest").unwrap();
        assert_ne!(wasm_files(d, "").unwrap(), first);
        // Renamed over: another inode.
        std::fs::write(d.join(".b.part"), b"half and the rest").unwrap();
        let before = wasm_files(d, "").unwrap();
        std::fs::rename(d.join(".b.part"), d.join("a.wasm")).unwrap();
        assert_ne!(wasm_files(d, "").unwrap(), before);
        assert!(wasm_files(d, "reposmith_gen_").unwrap().is_empty());
        assert!(wasm_files(&d.join("nosuch"), "").unwrap().is_empty());
    }
}
