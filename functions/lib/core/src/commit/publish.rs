//! Step 4: render every format from the committed records, store each file and the
//! manifest as immutable blobs, then move the `published` pointer with one compare-and-set.
//! `group::ensure_published` decides who publishes; this is one publish.
use super::serve::{manifest_of, remember_manifest};
use super::{
    ensure_published, jitter, load_head, load_published, read_config, repo_names, to_json,
    CAS_ATTEMPTS,
};
use crate::app::App;
use crate::assemble;
use crate::error::{ApiError, ApiResult};
use crate::health;
use crate::model::{keys, Head, Manifest, Published, RepoConfig, Retired, Tree};
use crate::store::Versioned;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Retired generations a `published` pointer keeps at most (each within the grace period).
const RETIRED_KEPT: usize = 32;

/// What a render made: the manifest, the generators that faulted (why), its blobs unstored.
type Rendered<'a> = (Manifest, BTreeMap<String, String>, assemble::Unstored<'a>);

/// One render and one compare-and-set of the `published` pointer (retried on conflict), for
/// a leader that needs head sequence `want` covered.
pub(super) async fn publish_once(app: &App, repo: &str, want: u64) -> ApiResult<Published> {
    if let Some(p) = publish_from_known(app, repo, want).await? {
        return Ok(p);
    }
    for attempt in 0..CAS_ATTEMPTS {
        // At once: a round trip each on DynamoDB. The pointer is then moved by compare-and-set.
        let (current, (head, _), mut config) = futures::try_join!(
            load_published(app, repo),
            load_head(app, repo),
            read_config(app, repo)
        )?;
        // Read before a property change (`revision_needed`): read again.
        if config.revision < revision_needed(current.as_ref().map(|(p, _)| p), &head) {
            config = read_config(app, repo).await?;
        }
        if let Some((p, _)) = &current {
            if p.covers >= head.seq {
                return Ok(p.clone()); // another process already covered this head
            }
        }
        // With read leases, the pointer is held before the render, so that waiting out the
        // leases on it overlaps the render (`lease`).
        let held = match &current {
            Some((p, v)) => match super::lease::hold(app, repo, p, *v).await? {
                Some(held) => Some(held),
                None => {
                    jitter(app, attempt).await;
                    continue;
                }
            },
            None => None,
        };
        let prev = current.as_ref().map(|(p, _)| p);
        let generation = prev.map_or(1, |p| p.generation + 1);
        let before = prev.map(|p| p.manifest.as_str());
        let made = render(app, repo, &config, &head, generation, before).await?;
        let config = Arc::new(config);
        match commit_render(app, repo, current, held, &head, config, made).await? {
            Some(next) => return Ok(next),
            None => jitter(app, attempt).await,
        }
    }
    Err(ApiError::busy(format!(
        "repo {repo}: could not publish after {CAS_ATTEMPTS} attempts; retry"
    )))
}

/// A publish from what this process already holds: the pointer it last wrote or read, the
/// head it last committed or read, and the repo's settings, rendered while two reads check
/// that the pointer and the head are still those (it renders while the reads are on their
/// way, where otherwise it waited for three first: on DynamoDB ~10 ms of each publish). None
/// when there is nothing to go on, when read leases are in use (a publish then holds the
/// pointer first), or when either moved: the caller reads and renders again, reusing what
/// this render stored.
async fn publish_from_known(app: &App, repo: &str, want: u64) -> ApiResult<Option<Published>> {
    if app.misses.lock().get_mut(repo).is_some_and(Misses::skip) {
        return Ok(None);
    }
    let Some(view) = known(app, repo) else {
        return Ok(None);
    };
    let Some((root, head)) = app.heads.lock().get(repo).cloned() else {
        return Ok(None);
    };
    if head.seq < want {
        return Ok(None);
    }
    let head_key = keys::head(repo);
    let same_head = async {
        Ok(app
            .meta
            .get(&head_key)
            .await?
            .is_some_and(|v| v.value == root))
    };
    render_checked(app, repo, view, &head, same_head).await
}

/// The pointer a publish from known state renders on: the one this process last wrote or
/// read, with its settings. None while a miss backs off (`Misses`), or with read leases (a
/// publish then holds the pointer first).
pub(super) fn known(app: &App, repo: &str) -> Option<Arc<super::RepoView>> {
    if app.misses.lock().get(repo).is_some_and(|m| m.skip > 0) {
        return None;
    }
    let view = app.views.lock().get(repo).cloned()?;
    let p = &view.published;
    (view.config.is_some() && p.lease_ms == 0 && !p.hold).then_some(view)
}

/// A publish from known state (`view`) of the head a commit is writing, rendered beside its
/// writes (`group::publish_beside`): `took` says whether the head's compare-and-set took it,
/// and stands for the check of the head. None when it did not, or when the pointer moved.
/// Its errors are not the commit's: the upload then publishes the usual way, and meets them
/// there if they last.
pub(super) async fn publish_ahead(
    app: &App,
    repo: &str,
    view: Arc<super::RepoView>,
    head: Head,
    took: futures::channel::oneshot::Receiver<bool>,
) -> Option<Published> {
    let took = async { Ok(took.await.unwrap_or(false)) };
    render_checked(app, repo, view, &head, took)
        .await
        .ok()
        .flatten()
}

/// Renders `head` on the pointer `view` holds, and stores what it made, while the pointer's
/// freshness check and `same_head` (whether the head is still, or now, the one rendered) run
/// beside; moves the pointer if both hold. Where either failed, what the render made is
/// stored all the same (the repo's render cache names it now) and the miss is counted: None.
async fn render_checked(
    app: &App,
    repo: &str,
    view: Arc<super::RepoView>,
    head: &Head,
    same_head: impl std::future::Future<Output = ApiResult<bool>>,
) -> ApiResult<Option<Published>> {
    let prev = &view.published;
    let config = view.config.clone();
    let Some(config) = config.filter(|c| c.revision >= revision_needed(Some(prev), head)) else {
        return Ok(None);
    };
    if prev.covers >= head.seq {
        return Ok(None);
    }
    let made = async {
        let generation = prev.generation + 1;
        let made = render(app, repo, &config, head, generation, Some(&prev.manifest)).await?;
        store_render(app, Some((**prev).clone()), head, &config, made).await
    };
    let (fresh, same_head, next) =
        futures::join!(super::repo::published_view(app, repo), same_head, made);
    let next = next?;
    let same_pointer = fresh?.is_some_and(|now| Arc::ptr_eq(&now, &view));
    if !same_pointer || !same_head? {
        app.misses
            .lock()
            .entry(repo.to_string())
            .or_default()
            .missed();
        return Ok(None);
    }
    app.misses.lock().remove(repo);
    move_pointer(app, repo, next, Some(view.raw.version), config).await
}

/// A repo's publishes from known state that found another process had written: after each
/// such miss in a row, twice as many publishes (up to 64) go the plain way before the next
/// try. Where processes take turns writing a repo (Lambda's instances), a render from known
/// state would otherwise mostly be made twice; a process that writes alone never misses.
#[derive(Default, Debug)]
pub(crate) struct Misses {
    in_a_row: u32,
    skip: u32,
}

impl Misses {
    /// Whether this publish goes the plain way (counting it).
    fn skip(&mut self) -> bool {
        let skip = self.skip > 0;
        self.skip = self.skip.saturating_sub(1);
        skip
    }

    fn missed(&mut self) {
        self.in_a_row += 1;
        self.skip = 1 << self.in_a_row.min(6);
    }
}

/// The settings revision a publish renders at least. A property change writes the config
/// (its `revision` + 1) before it moves the head or the pointer, and each records the
/// revision: settings older than either were read before that change.
fn revision_needed(prev: Option<&Published>, head: &Head) -> u64 {
    prev.map_or(head.config_revision, |p| {
        p.config_revision.max(head.config_revision)
    })
}

/// Stores what a render made with its manifest and moves the pointer from `current` (the
/// generation and the version it was read at; after waiting out `held`'s leases) to the new
/// generation. None when the pointer moved meanwhile.
async fn commit_render(
    app: &App,
    repo: &str,
    current: Option<(Published, u64)>,
    held: Option<super::lease::Held>,
    head: &Head,
    config: Arc<RepoConfig>,
    made: Rendered<'_>,
) -> ApiResult<Option<Published>> {
    let (prev, prev_version) = current.unzip();
    let next = store_render(app, prev, head, &config, made).await?;
    let expected = match &held {
        Some(held) => {
            held.wait(app).await;
            Some(held.version)
        }
        None => prev_version,
    };
    move_pointer(app, repo, next, expected, config).await
}

/// Stores what a render made, its manifest and the log segment naming it, all at once (on
/// S3 one round trip, not one per step): nothing names any before the pointer moves. Returns
/// the pointer that names them, to replace `prev`.
async fn store_render(
    app: &App,
    prev: Option<Published>,
    head: &Head,
    config: &RepoConfig,
    (manifest, faults, unstored): Rendered<'_>,
) -> ApiResult<Published> {
    let generation = manifest.generation;
    let json = bytes::Bytes::from(to_json(&manifest)?);
    let sha256 = crate::digest::sha256_hex(&json);
    let now = app.now();
    let (stored, log, ()) = futures::try_join!(
        super::put_blob(app, json),
        super::journal::append(
            app,
            prev.as_ref().and_then(|p| p.log.as_deref()),
            super::journal::Generation {
                generation,
                covers: head.seq,
                manifest: sha256,
                published_at: now,
            },
        ),
        unstored.store(),
    )?;
    remember_manifest(app, &stored, manifest);
    Ok(Published {
        generation,
        covers: head.seq,
        manifest: stored.sha256,
        published_at: now,
        previous: prev.map(|p| retire(app, p, now)).unwrap_or_default(),
        faults,
        log: Some(log),
        disabled: !config.enabled.0,
        config_revision: config.revision,
        hold: false,
        lease_ms: super::lease::offered(app),
    })
}

/// Moves the pointer to `next` by compare-and-set on version `expected` (None: no pointer
/// yet), and keeps what it wrote. None when the pointer moved meanwhile.
async fn move_pointer(
    app: &App,
    repo: &str,
    next: Published,
    expected: Option<u64>,
    config: Arc<RepoConfig>,
) -> ApiResult<Option<Published>> {
    let raw = bytes::Bytes::from(to_json(&next)?);
    match app
        .meta
        .put_if(&keys::published(repo), raw.clone(), expected)
        .await?
    {
        Ok(version) => {
            super::repo::remember_written(
                app,
                repo,
                Versioned {
                    value: raw,
                    version,
                },
                &next,
                config,
            );
            Ok(Some(next))
        }
        Err(_) => Ok(None),
    }
}

/// The generations a new one keeps serving: the one it replaces, and those of its retired
/// ones still within the grace period.
fn retire(app: &App, prev: Published, now: u64) -> Vec<Retired> {
    let mut kept = vec![Retired {
        generation: prev.generation,
        manifest: prev.manifest,
        retired_at: now,
    }];
    kept.extend(
        prev.previous
            .into_iter()
            .filter(|r| now.saturating_sub(r.retired_at) < app.grace.as_secs())
            .take(RETIRED_KEPT - 1),
    );
    kept
}

/// Renders every generator's tree from the head: plan, assemble natively (reusing what the
/// repo's last render made, see `assemble`), finish. A generator that faults (or is
/// quarantined) fails only its own format: its tree stays as the last generation
/// (`before`, a manifest) published it, and the fault is returned beside the manifest.
/// The blobs it made come back unstored: the caller stores them with the manifest.
async fn render<'a>(
    app: &'a App,
    repo: &str,
    config: &RepoConfig,
    head: &Head,
    generation: u64,
    before: Option<&str>,
) -> ApiResult<Rendered<'a>> {
    let mut info = config.info(app.now(), generation);
    // One publisher per repo runs in a process (see `group`): it owns the repo's cache.
    let mut cache = app
        .chunks
        .lock()
        .remove(repo)
        .unwrap_or_default()
        .fresh(app.now(), app.grace.as_secs());
    let signing = super::signer_for(app, head.keys.as_deref()).await?;
    let previous = match before {
        Some(sha) => Some(manifest_of(app, sha).await?),
        None => None,
    };
    // The repo's URL for formats that publish absolute URLs: its `baseurl`, else the URL of
    // the request publishing, else the one the last generation was rendered for.
    let base_url = config
        .served_url()
        .or_else(|| previous.as_ref().and_then(|m| m.base_url.clone()))
        .unwrap_or_else(|| format!("http://localhost/repos/{repo}"));
    let mut files = BTreeMap::new();
    let mut histories = BTreeMap::new();
    let mut trees = Vec::new();
    let mut faults = BTreeMap::new();
    let mut outcome = Ok(());
    // A generator the repo's settings leave out publishes nothing for it.
    for g in app
        .generators()
        .into_iter()
        .filter(|g| config.allows(&g.info().name))
    {
        let (gname, mount) = (g.info().name.clone(), g.info().mount.clone());
        let index = g.info().index_name.clone();
        info.base_url = format!("{base_url}/{mount}");
        let made = if health::is_quarantined(app, &gname) {
            Err(ApiError::generator_failed(
                &gname,
                "quarantined (not asked)",
            ))
        } else {
            let kept = previous
                .as_ref()
                .map(|m| under_mount(&m.histories, &mount))
                .unwrap_or_default();
            let made =
                assemble::render_generator(app, &mut cache, g, &info, head, &signing, &kept).await;
            match &made {
                Ok(_) => health::good(app, &gname, "publish"),
                Err(e) if e.is_generator_fault() => {
                    health::fault(app, &gname, "publish", &e.detail)
                }
                Err(_) => {}
            }
            made
        };
        match made {
            Ok(r) => {
                for (path, blob) in r.files {
                    files.insert(format!("{mount}/{path}"), blob);
                }
                for (path, h) in r.histories {
                    histories.insert(format!("{mount}/{path}"), h);
                }
                trees.push(Tree {
                    generator: gname,
                    mount,
                    links: r.links,
                    index,
                });
            }
            Err(e) if e.is_generator_fault() => {
                if let Some(before) = &previous {
                    keep_tree(before, &gname, &mut files, &mut trees, &mut histories);
                }
                faults.insert(gname, e.detail);
            }
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    // A render that failed drops its cache, and what it staged with it (the cache names
    // those blobs): the next render starts again.
    outcome?;
    // What every generator staged (a faulty one's too, mid-render), stored by the caller
    // with the manifest that names it.
    cache.sweep(app.now());
    let unstored = assemble::Unstored::take(app, repo, &mut cache);
    app.chunks.lock().insert(repo.to_string(), cache);
    let records = head
        .packages
        .roots()
        .ok_or_else(|| ApiError::internal("publishing a head that is not stored"))?;
    let manifest = Manifest {
        generation,
        files,
        records,
        trees,
        histories,
        base_url: Some(base_url),
    };
    Ok((manifest, faults, unstored))
}

/// A faulty generator's files, links and histories as `before` has them.
fn keep_tree(
    before: &Manifest,
    generator: &str,
    files: &mut BTreeMap<String, crate::model::BlobRef>,
    trees: &mut Vec<Tree>,
    histories: &mut BTreeMap<String, String>,
) {
    let Some(tree) = before.trees.iter().find(|t| t.generator == generator) else {
        return;
    };
    let under = format!("{}/", tree.mount);
    files.extend(
        before
            .files
            .range(under.clone()..)
            .take_while(|(p, _)| p.starts_with(&under))
            .map(|(p, b)| (p.clone(), b.clone())),
    );
    histories.extend(
        under_mount(&before.histories, &tree.mount)
            .into_iter()
            .map(|(p, h)| (format!("{under}{p}"), h)),
    );
    trees.push(tree.clone());
}

/// The entries of a manifest map under `mount/`, by their path under it.
fn under_mount(map: &BTreeMap<String, String>, mount: &str) -> BTreeMap<String, String> {
    let under = format!("{mount}/");
    map.range(under.clone()..)
        .take_while(|(p, _)| p.starts_with(&under))
        .map(|(p, v)| (p[under.len()..].to_string(), v.clone()))
        .collect()
}

/// Forgets the chunks of the repo's last render: the next publish assembles and encodes
/// everything again (rebuild). `finish` is still skipped when what it lists is unchanged.
pub(super) fn forget_render(app: &App, repo: &str) {
    app.chunks.lock().remove(repo);
}

/// After a crash between step 3 and step 4, a head can be ahead of its published
/// generation: publish every such repo. Returns the repos it published.
pub async fn recover(app: &App) -> ApiResult<Vec<String>> {
    let mut done = Vec::new();
    for repo in repo_names(app).await? {
        let (head, _) = load_head(app, &repo).await?;
        let covers = load_published(app, &repo).await?.map(|(p, _)| p.covers);
        if covers.is_none_or(|c| c < head.seq) {
            ensure_published(app, &repo, head.seq).await?;
            done.push(repo);
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::Misses;

    /// The plain way is taken 2, 4, ... 64 times after each miss in a row, and never before
    /// the first.
    #[test]
    fn a_miss_backs_off_twice_as_long_each_time_up_to_64() {
        let mut m = Misses::default();
        assert!(!m.skip(), "skipped before any miss");
        let mut runs = Vec::new();
        for _ in 0..8 {
            m.missed();
            let mut n = 0;
            while m.skip() {
                n += 1;
            }
            runs.push(n);
        }
        assert_eq!(runs, [2, 4, 8, 16, 32, 64, 64, 64]);
    }
}
