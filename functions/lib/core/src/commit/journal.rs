//! What a repo keeps of its past (docs/history.md): the **journal** (one entry per head
//! commit: when, who, what kind, the packages added and removed) and the **generation log**
//! (one entry per publish: the generation, the head `seq` it covers, its manifest). Each is a
//! chain of small immutable segments, newest last, that the `head` and `published` keys name:
//! a commit and its entry move with one compare-and-set, and appending costs one small blob
//! whatever the length of the history. Retention (`Retention`) says which generations GC
//! keeps, and so which ones rollback and the `@gN` views may use.
use super::{put_blob, to_json};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::model::{PackageRecord, Published, RepoConfig};
use crate::records::{Records, BUCKETS};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A segment is closed at this many entries, or bytes (a 1,000-package transaction).
const SEGMENT_ENTRIES: usize = 64;
const SEGMENT_BYTES: usize = 256 * 1024;
const DAY: u64 = 86_400;

/// A package as the journal names it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Item {
    pub filename: String,
    pub name: String,
    pub version: String,
    pub arch: String,
}

impl Item {
    /// Name, version and arch from the record's first entry (any generator's: they agree);
    /// a package no generator claims is named by its file.
    pub fn of(rec: &PackageRecord) -> Item {
        let id = rec.entries.values().flatten().next();
        Item {
            filename: rec.filename.clone(),
            name: id.map_or_else(|| rec.filename.clone(), |i| i.name.clone()),
            version: id.map(|i| i.version.clone()).unwrap_or_default(),
            arch: id.map(|i| i.arch.clone()).unwrap_or_default(),
        }
    }
}

/// What kind of head change an entry records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Add,
    Remove,
    Rebuild,
    Keys,
    /// Back to the package set of this generation.
    Rollback(u64),
    Transaction,
    /// Properties changed (`commit::properties`): their names.
    Settings(Vec<String>),
}

/// One head commit.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub seq: u64,
    pub at: u64,
    pub kind: String,
    #[serde(default)]
    pub who: Vec<String>,
    #[serde(default)]
    pub added: Vec<Item>,
    #[serde(default)]
    pub removed: Vec<Item>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_to: Option<u64>,
    /// The properties a `settings` entry changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
}

/// One publish.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Generation {
    pub generation: u64,
    pub covers: u64,
    pub manifest: String,
    pub published_at: u64,
}

#[derive(Serialize, Deserialize)]
struct Segment<T> {
    entries: Vec<T>,
    #[serde(default)]
    prev: Option<String>,
}

/// The journal entry of a head change from `before` to `after`, at head sequence `seq`.
/// Who: the uploaders of what an add brought (a group commit holds several requests'
/// packages), else the caller.
pub(super) fn entry(app: &App, kind: Kind, seq: u64, before: &Records, after: &Records) -> Entry {
    let (added, removed) = changes(before, after);
    let mut who: Vec<String> = match kind {
        Kind::Add => added.iter().filter_map(|r| r.uploaded_by.clone()).collect(),
        _ => crate::actor::current().into_iter().collect(),
    };
    who.sort();
    who.dedup();
    let items = |rs: Vec<&PackageRecord>| {
        let mut v: Vec<Item> = rs.into_iter().map(Item::of).collect();
        v.sort_by(|a, b| a.filename.cmp(&b.filename));
        v
    };
    Entry {
        seq,
        at: app.now(),
        kind: match kind {
            Kind::Add => "add",
            Kind::Remove => "remove",
            Kind::Rebuild => "rebuild",
            Kind::Keys => "keys",
            Kind::Rollback(_) => "rollback",
            Kind::Transaction => "transaction",
            Kind::Settings(_) => "settings",
        }
        .into(),
        who,
        added: items(added),
        removed: items(removed),
        rollback_to: match kind {
            Kind::Rollback(g) => Some(g),
            _ => None,
        },
        changed: match kind {
            Kind::Settings(names) => names,
            _ => Vec::new(),
        },
    }
}

/// The records `after` has that `before` lacks (by file name and bytes), and the reverse.
/// Only buckets that differ are compared, so it costs what changed.
pub(super) fn changes<'a>(
    before: &'a Records,
    after: &'a Records,
) -> (Vec<&'a PackageRecord>, Vec<&'a PackageRecord>) {
    let (mut added, mut removed): (Vec<&PackageRecord>, Vec<&PackageRecord>) = Default::default();
    for b in 0..BUCKETS {
        let ((x, xs), (y, ys)) = (before.bucket(b), after.bucket(b));
        if Arc::ptr_eq(x, y) || (xs.is_some() && xs == ys) {
            continue;
        }
        let differs = |r: &PackageRecord, other: &crate::records::Bucket| {
            other.get(&r.filename).is_none_or(|o| o.sha256 != r.sha256)
        };
        added.extend(y.values().filter(|r| differs(r, x)));
        removed.extend(x.values().filter(|r| differs(r, y)));
    }
    (added, removed)
}

/// Appends `entry` to the chain whose newest segment is `tail`; answers the new tail (a
/// blob written before anything names it).
pub(super) async fn append<T: Serialize + DeserializeOwned>(
    app: &App,
    tail: Option<&str>,
    entry: T,
) -> ApiResult<String> {
    let mut seg: Segment<T> = match tail {
        Some(sha) => segment(app, sha).await?.unwrap_or(Segment {
            entries: Vec::new(),
            prev: None,
        }),
        None => Segment {
            entries: Vec::new(),
            prev: None,
        },
    };
    let full = seg.entries.len() >= SEGMENT_ENTRIES
        || tail.and_then(|t| app.segments.lock().get(t).map(|b| b.len())) >= Some(SEGMENT_BYTES);
    if full {
        seg = Segment {
            entries: Vec::new(),
            prev: tail.map(str::to_string),
        };
    }
    seg.entries.push(entry);
    let bytes = bytes::Bytes::from(to_json(&seg)?);
    let sha = put_blob(app, bytes.clone()).await?.sha256;
    keep_segment(app, &sha, bytes);
    Ok(sha)
}

/// A segment, or None if retention let GC take it (the chain ends there).
async fn segment<T: DeserializeOwned>(app: &App, sha: &str) -> ApiResult<Option<Segment<T>>> {
    let cached = app.segments.lock().get(sha).cloned();
    let bytes = match cached {
        Some(b) => b,
        None => match app.packages.get_bytes(sha).await? {
            Some(b) => {
                keep_segment(app, sha, b.clone());
                b
            }
            None => return Ok(None),
        },
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ApiError::internal(format!("corrupt history segment {sha}: {e}")))
}

/// The newest segments, whole (immutable, so never stale): an append reads its tail from here.
fn keep_segment(app: &App, sha: &str, bytes: bytes::Bytes) {
    let mut segs = app.segments.lock();
    if segs.len() >= 256 {
        segs.clear();
    }
    segs.insert(sha.to_string(), bytes);
}

/// A chain read newest first, one segment at a time.
pub(crate) struct Walk<T> {
    next: Option<String>,
    buf: Vec<T>,
    /// The segments read so far (what GC keeps of the chain).
    pub segments: Vec<String>,
}

impl<T: DeserializeOwned> Walk<T> {
    pub fn new(tail: Option<&str>) -> Self {
        Walk {
            next: tail.map(str::to_string),
            buf: Vec::new(),
            segments: Vec::new(),
        }
    }

    pub async fn next(&mut self, app: &App) -> ApiResult<Option<T>> {
        loop {
            if let Some(e) = self.buf.pop() {
                return Ok(Some(e));
            }
            let Some(sha) = self.next.take() else {
                return Ok(None);
            };
            let Some(seg) = segment::<T>(app, &sha).await? else {
                return Ok(None);
            };
            self.segments.push(sha);
            self.buf = seg.entries;
            self.next = seg.prev;
        }
    }
}

/// Which generations a repo keeps: the last `count`, and every one that was current at some
/// time in the last `days` days (30 when neither is set). The current one always.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub count: Option<u64>,
    pub days: Option<u64>,
}

impl Retention {
    pub fn of(config: &RepoConfig) -> Retention {
        match (config.keep_generations, config.keep_days) {
            (None, None) => Retention {
                count: None,
                days: Some(30),
            },
            (count, days) => Retention { count, days },
        }
    }

    /// `position`: 0 for the current generation; `retired_at`: when the next one replaced it.
    pub fn keeps(&self, position: usize, retired_at: u64, now: u64) -> bool {
        position == 0
            || self.count.is_some_and(|c| (position as u64) < c)
            || self
                .days
                .is_some_and(|d| now.saturating_sub(retired_at) < d.saturating_mul(DAY))
    }
}

/// The generation log read newest first, each with whether retention keeps it. A pointer
/// written before the log existed stands for itself alone.
pub(crate) struct Generations {
    walk: Walk<Generation>,
    first: Option<Generation>,
    position: usize,
    newer_published_at: Option<u64>,
    retention: Retention,
    now: u64,
}

impl Generations {
    pub fn new(app: &App, config: &RepoConfig, published: &Published) -> Self {
        let first = published.log.is_none().then(|| Generation {
            generation: published.generation,
            covers: published.covers,
            manifest: published.manifest.clone(),
            published_at: published.published_at,
        });
        Generations {
            walk: Walk::new(published.log.as_deref()),
            first,
            position: 0,
            newer_published_at: None,
            retention: Retention::of(config),
            now: app.now(),
        }
    }

    /// The next older generation, and whether it is kept.
    pub async fn next(&mut self, app: &App) -> ApiResult<Option<(Generation, bool)>> {
        let g = match self.first.take() {
            Some(g) => Some(g),
            None => self.walk.next(app).await?,
        };
        let Some(g) = g else { return Ok(None) };
        let retired_at = self.newer_published_at.unwrap_or(self.now);
        let kept = self.retention.keeps(self.position, retired_at, self.now);
        self.position += 1;
        self.newer_published_at = Some(g.published_at);
        Ok(Some((g, kept)))
    }

    pub fn segments(&self) -> &[String] {
        &self.walk.segments
    }
}

/// Which generation to find.
#[derive(Clone, Copy, Debug)]
pub enum Pick {
    Number(u64),
    /// The one current at this time.
    At(u64),
}

/// A generation of the repo by number or time; 404 when there is none, 410 when retention
/// no longer keeps it.
pub(crate) async fn find(
    app: &App,
    repo: &str,
    config: &RepoConfig,
    published: &Published,
    pick: Pick,
) -> ApiResult<Generation> {
    let mut gens = Generations::new(app, config, published);
    while let Some((g, kept)) = gens.next(app).await? {
        let hit = match pick {
            Pick::Number(n) => g.generation == n,
            Pick::At(t) => g.published_at <= t,
        };
        if hit {
            if !kept {
                return Err(ApiError::new(
                    http::StatusCode::GONE,
                    "past retention",
                    format!(
                        "generation {} of repo {repo} is past the repo's retention \
                         (keep_generations, keep_days): its files may be gone",
                        g.generation
                    ),
                ));
            }
            return Ok(g);
        }
        if matches!(pick, Pick::Number(n) if g.generation < n) {
            break;
        }
    }
    Err(ApiError::not_found(match pick {
        Pick::Number(n) => format!("repo {repo} has no generation {n} on record"),
        Pick::At(t) => format!(
            "repo {repo} had no generation at {} (none on record that early)",
            rfc3339(t)
        ),
    }))
}

/// Unix seconds as `2026-12-03T10:00:00Z`.
pub fn rfc3339(t: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t as i64)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// A time a client gave: Unix seconds, an RFC 3339 time (seconds may be left out), or a date
/// (00:00 UTC).
pub fn parse_time(s: &str) -> Option<u64> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Some(n);
    }
    if let Some((date, rest)) = s.split_once(['T', 't', ' ']) {
        // `12:00Z` → `12:00:00Z`: the seconds are optional here, not in RFC 3339.
        let split = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
        let (clock, zone) = rest.split_at(split);
        let clock = if clock.matches(':').count() == 1 {
            format!("{clock}:00")
        } else {
            clock.to_string()
        };
        let zone = if zone.is_empty() { "Z" } else { zone };
        let t = time::OffsetDateTime::parse(&format!("{date}T{clock}{zone}"), &Rfc3339).ok()?;
        return u64::try_from(t.unix_timestamp()).ok();
    }
    let t = time::OffsetDateTime::parse(&format!("{s}T00:00:00Z"), &Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_every_documented_form() {
        assert_eq!(parse_time("1764756000"), Some(1764756000));
        assert_eq!(parse_time("2026-11-30"), Some(1795996800));
        assert_eq!(
            parse_time("2026-11-30T12:00Z"),
            Some(1795996800 + 12 * 3600)
        );
        assert_eq!(
            parse_time("2026-11-30T12:00:30Z"),
            Some(1795996800 + 12 * 3600 + 30)
        );
        assert_eq!(
            parse_time("2026-11-30T12:00:00+01:00"),
            Some(1795996800 + 11 * 3600)
        );
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("2026-13-01"), None);
        assert_eq!(rfc3339(1795996800), "2026-11-30T00:00:00Z");
    }

    #[test]
    fn retention_keeps_by_count_or_by_age() {
        let now = 100 * DAY;
        let by_count = Retention {
            count: Some(3),
            days: None,
        };
        assert!(by_count.keeps(0, 0, now));
        assert!(by_count.keeps(2, 0, now));
        assert!(!by_count.keeps(3, now, now));
        let default = Retention::of(&RepoConfig::default());
        assert!(default.keeps(500, now - 29 * DAY, now));
        assert!(!default.keeps(1, now - 31 * DAY, now));
        let both = Retention {
            count: Some(2),
            days: Some(1),
        };
        assert!(both.keeps(1, 0, now));
        assert!(both.keeps(9, now - 3600, now));
        assert!(!both.keeps(9, now - 2 * DAY, now));
    }
}
