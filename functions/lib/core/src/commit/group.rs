//! Coalescing, in one process: concurrent requests on a repo share the work of steps 3 and
//! 4, and GETs share the freshness check of the published pointer. Whoever finds no round
//! running leads it; everyone who comes meanwhile waits in the round's queue and is answered
//! by the leader's result, or handed the lead of the next round. Across processes the
//! compare-and-sets decide; this only saves work.
use super::journal::Kind;
use super::load_published;
use super::publish::publish_once;
use super::record::{insert_record, one_version_generators, update_head_storing, Beside, Change};
use super::repo::{published_view, RepoView};
use crate::app::{App, Lock};
use crate::error::{ApiError, ApiResult};
use crate::model::{BlobRef, PackageRecord, Published, RepoConfig};
use futures::channel::oneshot;
use futures::FutureExt;
use std::collections::HashMap;
use std::sync::Arc;

/// What a queued request is told: its answer, or that it leads the next round.
pub(crate) enum Turn<T> {
    Done(T),
    Lead,
}

type Reply<T> = oneshot::Sender<Turn<T>>;
type PublishResult = ApiResult<Published>;
/// None: nothing committed, as the settings the record was analyzed under changed since
/// (analyze it again).
type CommitResult = ApiResult<Option<Committed>>;

/// A record committed.
#[derive(Clone)]
pub(crate) struct Committed {
    /// The head's sequence number after the commit.
    pub seq: u64,
    /// Whether the record was new (false: the same file again).
    pub new: bool,
    /// The generation a publish beside the commit made (`publish_beside`), covering it.
    pub published: Option<Published>,
}

/// One repo's round (a file's, for joins): whether somebody leads it, and who waits (what
/// each needs, and where to send its answer).
pub(crate) struct Round<T, U> {
    running: bool,
    waiting: Vec<(T, Reply<U>)>,
}

impl<T, U> Default for Round<T, U> {
    fn default() -> Self {
        Round {
            running: false,
            waiting: Vec::new(),
        }
    }
}

/// Publishes: the head sequence each waiter needs covered.
pub(crate) type PublishState = Round<u64, PublishResult>;
/// Group commits: the record each waiter brings.
pub(crate) type CommitState = Round<ToCommit, CommitResult>;

/// A record to commit, and its analysis's bytes when they are not stored yet: the commit
/// stores them with its other blobs, before the head names them (on S3 that saves the
/// upload a round trip).
#[derive(Clone)]
pub(crate) struct ToCommit {
    record: PackageRecord,
    analysis: Option<bytes::Bytes>,
    /// The settings it was analyzed under, when its request did not read them.
    unchecked: Option<Arc<RepoConfig>>,
}
type ViewResult = ApiResult<Option<Arc<RepoView>>>;
/// Freshness checks of the published pointer: GETs waiting for the next one.
pub(crate) type CheckState = Round<(), ViewResult>;
/// Joins of a composite file stored whole for a redirect: GETs waiting for it.
pub(crate) type JoinState = Round<(), ApiResult<()>>;
type Rounds<T, U> = Lock<HashMap<String, Round<T, U>>>;

impl<T, U> Round<T, U> {
    /// Leads the round if nobody does (whether the caller now leads it).
    fn take_lead(&mut self) -> bool {
        !std::mem::replace(&mut self.running, true)
    }

    /// Passes the lead to the first waiter (dropping any whose request is gone), or ends the
    /// round when nobody waits.
    fn hand_over(&mut self) {
        while !self.waiting.is_empty() {
            let (_, tx) = self.waiting.remove(0);
            if tx.send(Turn::Lead).is_ok() {
                return;
            }
        }
        self.running = false;
    }
}

/// Hands a round back if its leader is dropped mid-way (its client went away): the waiters
/// see their channels close and start over.
struct Leadership<'a, T, U> {
    rounds: &'a Rounds<T, U>,
    key: &'a str,
    done: bool,
}

impl<'a, T, U> Leadership<'a, T, U> {
    fn new(rounds: &'a Rounds<T, U>, key: &'a str) -> Self {
        Leadership {
            rounds,
            key,
            done: false,
        }
    }

    /// Leads `key`'s round now if nobody does, without waiting for it.
    fn try_new(rounds: &'a Rounds<T, U>, key: &'a str) -> Option<Self> {
        let lead = rounds
            .lock()
            .entry(key.to_string())
            .or_default()
            .take_lead();
        lead.then(|| Leadership::new(rounds, key))
    }

    /// Everyone queued in the round so far, taken off its queue: whom the leader answers.
    fn take_queue(&self) -> Vec<(T, Reply<U>)> {
        let mut rounds = self.rounds.lock();
        std::mem::take(&mut rounds.entry(self.key.to_string()).or_default().waiting)
    }

    /// The round is over: pass the lead on, or forget the round when nobody waits (a GET may
    /// name any repo, and an idle round kept for each name would grow without bound). The
    /// caller holds the rounds' lock.
    fn finish(mut self, rounds: &mut HashMap<String, Round<T, U>>) {
        self.done = true;
        if let Some(round) = rounds.get_mut(self.key) {
            round.hand_over();
            if !round.running {
                rounds.remove(self.key);
            }
        }
    }
}

impl<T, U> Drop for Leadership<'_, T, U> {
    /// Dropped mid-way: the round ends, and its waiters see their channels close.
    fn drop(&mut self) {
        if !self.done {
            self.rounds.lock().remove(self.key);
        }
    }
}

/// Step 4: make sure the published generation covers head sequence `seq`.
///
/// Publishes of a repo coalesce: whoever finds no publish running becomes the leader and
/// renders; everyone who commits meanwhile queues, and the next render (which reads a head
/// holding their commits) answers them all at once. Across processes, the compare-and-set
/// on the `published` pointer decides, and a loser re-reads what won.
pub async fn ensure_published(app: &App, repo: &str, seq: u64) -> ApiResult<Published> {
    if let Some((p, _)) = load_published(app, repo).await? {
        if p.covers >= seq {
            return Ok(p);
        }
    }
    publish_committed(app, repo, seq).await
}

/// [`ensure_published`] for a head this process has just committed, without reading the
/// pointer first: no generation covers it yet unless another process published meanwhile,
/// and the render's own read of the pointer finds that. (On DynamoDB that first read was a
/// GetItem on every upload.)
pub(super) async fn publish_committed(app: &App, repo: &str, seq: u64) -> ApiResult<Published> {
    match wait_turn(&app.publishers, repo, || seq).await {
        Some(answer) => answer,
        None => lead_publish(app, repo, seq).await,
    }
}

/// Joins `key`'s round (a repo's; a file's for joins) with what the caller needs: its answer
/// when a leader gave one, or None when the caller is to lead (nobody was, or the lead was
/// handed to it).
async fn wait_turn<T, U>(rounds: &Rounds<T, U>, key: &str, need: impl Fn() -> T) -> Option<U> {
    loop {
        let rx = {
            let mut rounds = rounds.lock();
            let round = rounds.entry(key.to_string()).or_default();
            if round.take_lead() {
                return None;
            }
            let (tx, rx) = oneshot::channel();
            round.waiting.push((need(), tx));
            rx
        };
        match rx.await {
            Ok(Turn::Done(answer)) => return Some(answer),
            Ok(Turn::Lead) => return None,
            // The leader was dropped: start over, maybe leading.
            Err(_) => continue,
        }
    }
}

/// An upload on its way to the head (received, being stored or analyzed, in this process).
/// A publish waits briefly for these, so that uploads sent together are published together
/// (and a commit round, so that they commit together: `let_queue`):
/// with `add -j 8` into 43,000 rpms (each publish hashes the three files whole) a publish
/// covered ~4 uploads (53-56/s); waiting, it covers ~8 (86-98/s).
pub(crate) struct Arriving<'a> {
    app: &'a App,
    repo: &'a str,
    here: bool,
}

impl<'a> Arriving<'a> {
    pub(crate) fn new(app: &'a App, repo: &'a str) -> Self {
        *app.arriving.lock().entry(repo.to_string()).or_default() += 1;
        Arriving {
            app,
            repo,
            here: true,
        }
    }

    /// Committed (or failed): a publish need not wait for it any more.
    pub(crate) fn leave(&mut self) {
        if std::mem::take(&mut self.here) {
            let mut arriving = self.app.arriving.lock();
            if let Some(n) = arriving.get_mut(self.repo) {
                *n -= 1;
                if *n == 0 {
                    arriving.remove(self.repo);
                }
            }
        }
    }
}

impl Drop for Arriving<'_> {
    fn drop(&mut self) {
        self.leave();
    }
}

/// Waits while uploads are arriving, at most 40 ms: bounded, as an upload's body may take
/// long to come, and a single upload has nobody to wait for.
async fn let_arrive(app: &App, repo: &str) {
    wait_while(app, 40, || app.arriving.lock().contains_key(repo)).await
}

/// Sleeps a millisecond at a time while `busy` holds, at most `ms` times. Short steps: the
/// waiter goes on at most a millisecond after the last upload it waits for is in.
async fn wait_while(app: &App, ms: u32, busy: impl Fn() -> bool) {
    for _ in 0..ms {
        if !busy() {
            return;
        }
        app.runtime.sleep(std::time::Duration::from_millis(1)).await;
    }
}

/// Publishes until the leader is covered, answering every waiter its render covers; then
/// hands the next round to a waiter that is still uncovered, so no request leads forever.
async fn lead_publish(app: &App, repo: &str, seq: u64) -> ApiResult<Published> {
    let guard = Leadership::new(&app.publishers, repo);
    loop {
        let_arrive(app, repo).await;
        let result = publish_once(app, repo, seq).await;
        let mut rounds = app.publishers.lock();
        answer_covered(rounds.entry(repo.to_string()).or_default(), &result);
        let covered = !matches!(&result, Ok(p) if p.covers < seq);
        if covered {
            guard.finish(&mut rounds);
            return result;
        }
    }
}

/// Answers the waiters of a publish round that `result` covers (every one when it failed);
/// the others stay queued.
fn answer_covered(round: &mut PublishState, result: &PublishResult) {
    let mut pending = Vec::new();
    for (s, tx) in std::mem::take(&mut round.waiting) {
        match result {
            Ok(p) if p.covers < s => pending.push((s, tx)),
            r => {
                let _ = tx.send(Turn::Done(r.clone()));
            }
        }
    }
    round.waiting = pending;
}

/// A publish of the head a commit round writes, rendered while the round's writes are on
/// their way rather than after them (on S3 + DynamoDB they took ~30 ms of each cycle of
/// `add -j 8`, the render ~20): when this process can render from what it holds
/// (`publish::known`), nobody publishes the repo here now, and no upload beside the round's
/// `batch` is still arriving (those are published together, after `let_arrive`). It leads
/// the repo's publish round meanwhile, and answers whoever queued for a head it covers. None:
/// not now.
fn publish_beside<'a>(app: &'a App, repo: &'a str, batch: usize) -> Option<Beside<'a>> {
    if app.arriving.lock().get(repo).is_some_and(|&n| n > batch) {
        return None;
    }
    let view = super::publish::known(app, repo)?;
    // Dropped unused (the commit changed nothing, or failed first), it ends the round.
    let guard = Leadership::try_new(&app.publishers, repo)?;
    Some(Box::new(move |head, took| {
        async move {
            let published = super::publish::publish_ahead(app, repo, view, head, took).await;
            let mut rounds = app.publishers.lock();
            if let Some(p) = &published {
                answer_covered(rounds.entry(repo.to_string()).or_default(), &Ok(p.clone()));
            }
            guard.finish(&mut rounds);
            published
        }
        .boxed()
    }))
}

/// The repo's published pointer, current as of this call, for a GET of its tree on a metadata
/// store where each read is a round trip (a GetItem on DynamoDB): GETs that arrive while a check is under way
/// wait for the next one and share it. Not the one under way: it may have read the pointer
/// before a write that returned before they came, and a read after a write must see it. So
/// a check answers only those queued before it began, and a repo's checks in this process go
/// one after another, each covering every GET that came during the one before (with 32
/// connections, ~31 a check rather than one).
pub(crate) async fn check_together(app: &App, repo: &str) -> ViewResult {
    match wait_turn(&app.checks, repo, || ()).await {
        Some(answer) => answer,
        None => lead_check(app, repo).await,
    }
}

/// One check, for the caller and everyone queued before it began; then the lead passes to
/// whoever queued during it.
async fn lead_check(app: &App, repo: &str) -> ViewResult {
    let guard = Leadership::new(&app.checks, repo);
    let batch = guard.take_queue();
    let began = std::time::Instant::now();
    let result = published_view(app, repo).await;
    if let Ok(Some(view)) = &result {
        super::lease::grant(app, repo, began, view);
    }
    for (_, tx) in batch {
        let _ = tx.send(Turn::Done(result.clone()));
    }
    guard.finish(&mut app.checks.lock());
    result
}

/// A composite file stored whole for a redirect (`serve::join_whole`), once for all the GETs
/// that want it at once: after a publish, the clients that come together for the new
/// Packages.xz would each read all its pieces (hundreds at 50,000 debs) and store it again.
/// Whoever comes while a join runs is answered by it (the bytes are the same), or leads the
/// next one, which finds the file stored.
pub async fn store_whole(app: &App, blob: &BlobRef) -> ApiResult<()> {
    if let Some(answer) = wait_turn(&app.joins, &blob.sha256, || ()).await {
        return answer;
    }
    let guard = Leadership::new(&app.joins, &blob.sha256);
    let result = super::serve::join_whole(app, blob).await;
    for (_, tx) in guard.take_queue() {
        let _ = tx.send(Turn::Done(result.clone()));
    }
    guard.finish(&mut app.joins.lock());
    result
}

/// Step 3 for a new record, as a group commit: whoever finds no commit running leads and
/// applies every record queued meanwhile in one compare-and-set of the head; the others get
/// their answer from it (and the generation published beside it, if one was).
/// `analysis`: the bytes of the analysis the record names, when they are not stored yet.
/// `unchecked`: the settings it was analyzed under, when the request did not read them.
pub(crate) async fn commit_record(
    app: &App,
    repo: &str,
    record: PackageRecord,
    analysis: Option<bytes::Bytes>,
    unchecked: Option<Arc<RepoConfig>>,
) -> CommitResult {
    let (tx, rx) = oneshot::channel();
    let mine = ToCommit {
        record,
        analysis,
        unchecked,
    };
    let lead = {
        let mut rounds = app.committers.lock();
        let round = rounds.entry(repo.to_string()).or_default();
        round.waiting.push((mine.clone(), tx));
        round.take_lead()
    };
    if lead {
        drop(rx);
    } else {
        match rx.await {
            Ok(Turn::Done(r)) => return r,
            Ok(Turn::Lead) => {
                // hand_over took our entry off the queue to tell us: put the record back.
                let (tx, _) = oneshot::channel();
                let mut rounds = app.committers.lock();
                let round = rounds.entry(repo.to_string()).or_default();
                round.waiting.insert(0, (mine.clone(), tx));
            }
            Err(_) => {
                let ToCommit {
                    record,
                    analysis,
                    unchecked,
                } = mine;
                return Box::pin(commit_record(app, repo, record, analysis, unchecked)).await;
            }
        }
    }
    lead_commit(app, repo, &mine.record).await
}

/// Waits while uploads beside the queued ones are still being stored or analyzed, at most
/// 10 ms: uploads sent together then commit in one round. Analyses of a batch end within a
/// millisecond or so of each other; without this the first one committed alone and the rest
/// in a second round, and a commit costs a sync (add -j 8 into 50,000 rpms: two rounds of
/// ~5 ms before every publish, one of ~10 ms with it).
async fn let_queue(app: &App, repo: &str) {
    wait_while(app, 10, || {
        let arriving = app.arriving.lock().get(repo).copied().unwrap_or(0);
        let queued = (app.committers.lock().get(repo)).map_or(0, |r| r.waiting.len());
        arriving > queued
    })
    .await
}

/// Commits everything queued so far (`record` among it) and answers every request in it.
async fn lead_commit(app: &App, repo: &str, record: &PackageRecord) -> CommitResult {
    let guard = Leadership::new(&app.committers, repo);
    let_queue(app, repo).await;
    let batch = guard.take_queue();
    let analyses = batch.iter().filter_map(|(c, _)| c.analysis.clone());
    let analyses = analyses.collect();
    let answers = apply_batch(app, repo, batch.iter().map(|(c, _)| c), analyses).await;
    let mut mine = None;
    for ((ToCommit { record: rec, .. }, tx), answer) in batch.into_iter().zip(answers) {
        if rec.filename == record.filename && rec.sha256 == record.sha256 && mine.is_none() {
            mine = Some(answer.clone());
        }
        let _ = tx.send(Turn::Done(answer));
    }
    let mut rounds = app.committers.lock();
    guard.finish(&mut rounds);
    mine.unwrap_or_else(|| Err(ApiError::internal("own record missing from its batch")))
}

/// Inserts every record into the head in one compare-and-set, after storing `analyses` (what
/// the records name, not stored yet); one answer per record.
async fn apply_batch<'a>(
    app: &App,
    repo: &str,
    batch: impl Iterator<Item = &'a ToCommit> + Clone,
    analyses: Vec<bytes::Bytes>,
) -> Vec<CommitResult> {
    let one_version = one_version_generators(app);
    // Settings uploads took unread are checked here, one read for the batch; a record
    // analyzed under settings that changed since is sent back. The quotas are checked with
    // them on the very head each compare-and-set replaces. The first head is read beside
    // them (on DynamoDB a round trip each).
    let config = async {
        match batch.clone().any(|c| c.unchecked.is_some()) {
            true => super::repo::config_of(app, repo).await,
            false => super::repo::settled_config(app, repo).await,
        }
    };
    let (config, head) = futures::join!(config, super::load_head(app, repo));
    let (config, head) = match (config, head) {
        (Ok(c), Ok(h)) => (c, h),
        (Err(e), _) | (_, Err(e)) => return batch.map(|_| Err(e.clone())).collect(),
    };
    let current = |c: &ToCommit| c.unchecked.as_ref().is_none_or(|u| **u == *config);
    let mut outcomes: Vec<ApiResult<bool>> = Vec::new();
    let beside = publish_beside(app, repo, batch.clone().count());
    let seq = update_head_storing(app, repo, Kind::Add, analyses, Some(head), beside, |h| {
        outcomes = batch
            .clone()
            .filter(|c| current(c))
            .map(|c| {
                super::quota::fits(&config, h, &c.record, &one_version)?;
                insert_record(h, &c.record, &one_version).map(|c| matches!(c, Change::Changed))
            })
            .collect();
        Ok(if outcomes.iter().any(|o| matches!(o, Ok(true))) {
            Change::Changed
        } else {
            Change::Unchanged
        })
    })
    .await
    .map(|(seq, _, published)| (seq, published));
    let mut outcomes = outcomes.into_iter();
    batch
        .map(|c| match (&seq, current(c)) {
            (_, false) => Ok(None),
            (Err(e), true) => Err(e.clone()),
            (Ok((seq, published)), true) => match outcomes.next() {
                Some(Ok(new)) => Ok(Some(Committed {
                    seq: *seq,
                    new,
                    published: published.clone(),
                })),
                Some(Err(e)) => Err(e),
                None => Err(ApiError::internal("commit outcome missing")),
            },
        })
        .collect()
}
