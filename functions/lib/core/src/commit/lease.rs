//! Read leases (`App::read_lease`, off unless set; only where the metadata store's reads are
//! round trips): a GET may answer from the published pointer that a freshness check began
//! to read at most one lease ago, with no check of its own, because every write that changes
//! what GETs see waits out the leases before it answers (a commit wait). So a read after a
//! write that returned still sees it, in any process.
//!
//! A publish first marks the pointer `hold` (nobody takes a lease on a held pointer), renders
//! meanwhile, and moves the pointer only once every lease on the old one has run out. So no
//! process serves the new generation while another still serves the old one under a lease:
//! a client that read the new InRelease (or repomd.xml, or a pacman .db) from one process never
//! gets the old signature or index from another. Disabling, enabling and deleting a repo wait
//! after their write instead: in between, some processes answer 404 and others the files.
use super::to_json;
use super::RepoView;
use crate::app::App;
use crate::error::ApiResult;
use crate::model::{keys, Published};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a lease lasts in this process: none unless set, and none where a check is not a
/// round trip (the file store's is an `fstat`, cheaper than keeping leases).
fn length(app: &App) -> Duration {
    if app.meta.reads_are_remote() {
        app.read_lease
    } else {
        Duration::ZERO
    }
}

/// How long a writer waits for leases to run out: a little longer than one lasts, as two
/// machines' clocks tick at slightly different rates (each side measures its own interval).
fn outlasted(app: &App) -> Duration {
    let lease = length(app);
    lease + lease / 32
}

/// The pointer `repo`'s lease in this process still covers, if any: a GET may answer from it.
pub(crate) fn leased(app: &App, repo: &str) -> Option<Arc<RepoView>> {
    let version = {
        let mut leases = app.leases.lock();
        match leases.get(repo) {
            Some(&(until, version)) if Instant::now() < until => version,
            Some(_) => {
                leases.remove(repo); // run out: the next GET checks
                return None;
            }
            None => return None,
        }
    };
    let view = app.views.lock().get(repo).cloned()?;
    (view.raw.version == version).then_some(view)
}

/// A check that began at `began` read `view`: GETs may answer from it for one lease from then
/// (from when it began, not when it answered: a write may have returned in between), unless
/// a writer holds the pointer.
pub(crate) fn grant(app: &App, repo: &str, began: Instant, view: &RepoView) {
    let lease = length(app);
    if lease.is_zero() || view.published.hold {
        return;
    }
    app.leases
        .lock()
        .insert(repo.to_string(), (began + lease, view.raw.version));
}

/// The pointer a publish will move, held: its version now, and when every lease taken on it
/// before the hold has run out.
pub(crate) struct Held {
    pub version: u64,
    until: Instant,
}

impl Held {
    /// Waits until no lease on the pointer before the hold can be current anywhere.
    pub async fn wait(&self, app: &App) {
        let left = self.until.saturating_duration_since(Instant::now());
        if !left.is_zero() {
            app.runtime.sleep(left).await;
        }
    }
}

/// Marks `current` (read at `version`, just now, from the store) held, before a publish
/// renders the generation that replaces it. None when the pointer moved meanwhile (the
/// caller reads it again). Without leases, nothing to mark or wait for.
pub(crate) async fn hold(
    app: &App,
    repo: &str,
    current: &Published,
    version: u64,
) -> ApiResult<Option<Held>> {
    let wait = outlasted(app);
    let now = Instant::now();
    if wait.is_zero() {
        return Ok(Some(Held {
            version,
            until: now,
        }));
    }
    app.leases.lock().remove(repo);
    if current.hold {
        // Held already (by another publish, or one that failed): leases before that hold
        // began before this read, so they are over one lease from now.
        return Ok(Some(Held {
            version,
            until: now + wait,
        }));
    }
    let held = Published {
        hold: true,
        ..current.clone()
    };
    let key = keys::published(repo);
    Ok(
        match app
            .meta
            .put_if(&key, to_json(&held)?.into(), Some(version))
            .await?
        {
            Ok(version) => Some(Held {
                version,
                until: Instant::now() + wait,
            }),
            Err(_) => None,
        },
    )
}

/// After a write that changed what GETs see without a hold (disable, enable, delete): waits
/// until no lease on the pointer before it can be current anywhere.
pub(crate) async fn wait_out(app: &App, repo: &str) {
    let wait = outlasted(app);
    if !wait.is_zero() {
        app.leases.lock().remove(repo);
        app.runtime.sleep(wait).await;
    }
}
