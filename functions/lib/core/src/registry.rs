//! The generators an app runs, and the one rule for installing one: a generator of the same
//! name is replaced, another name on a taken mount is refused (one generator per mount).
//! Every target installs through here, at start-up and on `POST /generators/`; a
//! [`GeneratorLoader`] only does the I/O (compile a .wasm, persist it after a successful
//! install, reload what other instances installed or what changed in a folder).
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::generator::{Generator, Info};
use crate::routes::Route;
use async_trait::async_trait;
use std::sync::Arc;

/// Where a deployment keeps its generators (local disk, S3, ...).
#[async_trait]
pub trait GeneratorLoader: Send + Sync {
    /// Checks an uploaded .wasm against the contract and compiles it; an error says what is
    /// wrong with the generator. Persists nothing.
    fn load(&self, wasm: &[u8]) -> anyhow::Result<Arc<dyn Generator>>;
    /// Persists a generator that was just installed, so that it loads again (at the next
    /// start, on other instances). Never called for a refused one.
    fn keep(&self, generator: &Arc<dyn Generator>, wasm: &[u8]) -> anyhow::Result<()>;
    /// Forgets a generator for good (`DELETE /generators/{name}`): later starts and other
    /// instances do not load it, until one of that name is kept again.
    async fn forget(&self, _app: &App, _name: &str) -> anyhow::Result<()> {
        anyhow::bail!("this deployment cannot remove generators")
    }
    /// "The registry changed": brings `app`'s generators in line with what other instances
    /// installed. Runs before every request that may run or list generators.
    async fn refresh(&self, _app: &App) -> anyhow::Result<()> {
        Ok(())
    }
    /// Generator files the loader found but would not load, and why (`GET /generators/`).
    fn refused(&self) -> Vec<Refused> {
        Vec::new()
    }
}

/// A generator file a loader left out: its name and the reason, in words.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Refused {
    pub file: String,
    pub error: String,
}

/// The deployment's loader: only targets that install generators at run time have one (501).
pub fn loader(app: &App) -> ApiResult<Arc<dyn GeneratorLoader>> {
    app.loader.clone().ok_or_else(|| {
        ApiError::new(
            http::StatusCode::NOT_IMPLEMENTED,
            "not supported",
            "this deployment's generators are fixed at start",
        )
    })
}

/// Why `new` is refused among `others`: another name holds its mount.
fn taken<'a>(mut others: impl Iterator<Item = &'a Info>, new: &Info) -> Option<String> {
    others
        .find(|o| o.mount == new.mount && o.name != new.name)
        .map(|o| format!("mount {} is taken by generator {}", new.mount, o.name))
}

/// Puts `item` into `list` by the install rule; `info` tells an item's generator. The error
/// names the generator holding the mount.
pub fn place<T>(list: &mut Vec<T>, item: T, info: impl Fn(&T) -> &Info) -> Result<(), String> {
    if let Some(e) = taken(list.iter().map(&info), info(&item)) {
        return Err(e);
    }
    let name = info(&item).name.clone();
    list.retain(|o| info(o).name != name);
    list.push(item);
    Ok(())
}

/// Would `info` be refused (409)? Checked before a loader persists anything.
pub fn check(app: &App, info: &Info) -> ApiResult<()> {
    let gens = app.generators.read().unwrap();
    match taken(gens.iter().map(|g| g.info()), info) {
        Some(e) => Err(ApiError::conflict(e)),
        None => Ok(()),
    }
}

/// Installs a generator in `app`, live for the next request (409 when its mount is taken).
/// It starts with a clean record (`health`): a fixed version is not held to the old faults.
pub fn install(app: &App, generator: Arc<dyn Generator>) -> ApiResult<Info> {
    let info = generator.info().clone();
    place(&mut app.generators.write().unwrap(), generator, |g| {
        g.info()
    })
    .map_err(ApiError::conflict)?;
    crate::health::forget(app, &info.name);
    Ok(info)
}

/// Makes `generators` the app's whole set (a loader's fresh view of what it holds, built by
/// [`place`]). A generator that is new or not the same object as before starts with a clean
/// record, as with [`install`].
pub fn replace_all(app: &App, generators: Vec<Arc<dyn Generator>>) {
    let mut gens = app.generators.write().unwrap();
    let fresh: Vec<String> = generators
        .iter()
        .filter(|g| !gens.iter().any(|o| Arc::ptr_eq(o, g)))
        .map(|g| g.info().name.clone())
        .collect();
    *gens = generators;
    drop(gens);
    for name in fresh {
        crate::health::forget(app, &name);
    }
}

/// Removes generator `name` from `app` and has `loader` forget it (404 if there is none).
pub async fn remove(app: &App, name: &str, loader: &dyn GeneratorLoader) -> ApiResult<()> {
    if !app.generators().iter().any(|g| g.info().name == name) {
        return Err(ApiError::not_found(format!("no generator {name}")));
    }
    loader.forget(app, name).await.map_err(|e| {
        ApiError::new(
            http::StatusCode::NOT_IMPLEMENTED,
            "not supported",
            format!("removing generator {name}: {e:#}"),
        )
    })?;
    app.generators
        .write()
        .unwrap()
        .retain(|g| g.info().name != name);
    crate::health::forget(app, name);
    Ok(())
}

/// The "registry changed" hook: before a request that may run generators (any write) or
/// list them, the loader brings the app's set up to date.
pub async fn refresh(app: &App, method: &http::Method, route: &Route) -> ApiResult<()> {
    let Some(loader) = &app.loader else {
        return Ok(());
    };
    let reads = matches!(*method, http::Method::GET | http::Method::HEAD);
    let lists = matches!(route, Route::Root | Route::Generators);
    if reads && !lists {
        return Ok(());
    }
    loader.refresh(app).await.map_err(|e| {
        ApiError::new(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "loading generators",
            format!("{e:#}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, mount: &str) -> Info {
        Info {
            name: name.into(),
            mount: mount.into(),
            extensions: vec![],
            description: String::new(),
            contract: "0.2.0".into(),
            one_version_per_name: false,
            signed_packages: false,
            index_name: None,
        }
    }

    #[test]
    fn same_name_replaces_and_a_taken_mount_is_refused() {
        let mut list = vec![info("deb", "dist"), info("rpm", "repodata")];
        let mut newer = info("deb", "dist");
        newer.description = "newer".into();
        place(&mut list, newer, |i| i).unwrap();
        assert_eq!(list.len(), 2);
        assert!(list.iter().any(|i| i.description == "newer"));
        let err = place(&mut list, info("other", "dist"), |i| i).unwrap_err();
        assert_eq!(err, "mount dist is taken by generator deb");
        // A generator may move to a free mount under its own name.
        place(&mut list, info("deb", "apt"), |i| i).unwrap();
        assert_eq!(list.len(), 2);
    }

    /// A loader's fresh set keeps the record of a generator it still holds (the same
    /// object), and starts a new or reloaded one clean.
    #[test]
    fn replace_all_resets_only_what_changed() {
        use crate::testkit::{app, FakeGen};
        let kept = Arc::new(FakeGen::new());
        let (app, _, _) = app(kept.clone());
        crate::health::fault(&app, "fake", "claims", "boom");
        replace_all(&app, vec![kept.clone() as Arc<dyn Generator>]);
        assert_eq!(crate::health::of(&app, "fake").faults, 1);
        let reloaded: Arc<dyn Generator> = Arc::new(FakeGen::new());
        replace_all(&app, vec![reloaded.clone()]);
        assert_eq!(crate::health::of(&app, "fake").faults, 0);
        assert!(Arc::ptr_eq(&app.generators()[0], &reloaded));
        replace_all(&app, Vec::new());
        assert!(app.generators().is_empty());
    }
}
