//! Read leases (`App::read_lease`, off unless set; only where the metadata store's reads are
//! round trips): a GET may answer from the published pointer that a freshness check began
//! to read at most one lease ago, with no check of its own, because every write that changes
//! what GETs see waits out the leases before it answers (a commit wait). So a read after a
//! write that returned still sees it, in any process.
//!
//! The pointer says how long it may be leased (`Published::lease_ms`: the lease of the process
//! that wrote it), and whoever replaces it waits that long, whatever its own setting: a
//! process without leases (Lambda's functions) writing beside servers with them still waits
//! theirs out, and its pointers are leased by nobody.
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

/// The longest read lease (`serve --read-lease-ms` refuses more): every write waits as long.
pub const MAX_READ_LEASE_MS: u64 = 10_000;

/// How long this process offers to lease what it reads, and records in the pointers it
/// writes: none unless set, and none where a check is not a round trip (the file store's is
/// an `fstat`, cheaper than keeping leases).
pub(crate) fn offered(app: &App) -> u64 {
    if app.meta.reads_are_remote() {
        (app.read_lease.as_millis() as u64).min(MAX_READ_LEASE_MS)
    } else {
        0
    }
}

/// How long a writer waits for the leases on a pointer that allows `lease_ms` to run out: a
/// little longer, as two machines' clocks tick at slightly different rates (each side
/// measures its own interval).
/// No reader leases longer than the longest lease, whatever a pointer says.
fn outlasted(lease_ms: u64) -> Duration {
    let lease_ms = lease_ms.min(MAX_READ_LEASE_MS);
    Duration::from_millis(lease_ms + lease_ms / 32)
}

/// The pointer `repo`'s lease in this process still covers, if any: a GET may answer from it.
pub(crate) fn leased(app: &App, repo: &str) -> Option<Arc<RepoView>> {
    // No lease was granted (`grant`): every GET's path skips the lock.
    if app.read_lease.is_zero() {
        return None;
    }
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

/// A check that began at `began` read `view`: GETs may answer from it for a lease from then
/// (from when it began, not when it answered: a write may have returned in between), as long
/// as both this process and the pointer allow, unless a writer holds the pointer.
pub(crate) fn grant(app: &App, repo: &str, began: Instant, view: &RepoView) {
    let lease = offered(app).min(view.published.lease_ms);
    if lease == 0 || view.published.hold {
        return;
    }
    let until = began + Duration::from_millis(lease);
    app.leases
        .lock()
        .insert(repo.to_string(), (until, view.raw.version));
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
/// caller reads it again). A pointer nobody may lease needs no hold and no wait.
pub(crate) async fn hold(
    app: &App,
    repo: &str,
    current: &Published,
    version: u64,
) -> ApiResult<Option<Held>> {
    let wait = outlasted(current.lease_ms);
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

/// After a write that changed what GETs see without a hold (disable, enable, delete) of a
/// pointer that allowed `lease_ms`: waits until no lease on it can be current anywhere.
pub(crate) async fn wait_out(app: &App, repo: &str, lease_ms: u64) {
    let wait = outlasted(lease_ms);
    if !wait.is_zero() {
        app.leases.lock().remove(repo);
        app.runtime.sleep(wait).await;
    }
}
