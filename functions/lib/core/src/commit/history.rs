//! Reading the journal (`GET /repos/{repo}/history`) and going back to a generation
//! (`POST /repos/{repo}/rollback`). See docs/history.md.
use super::journal::{self, Entry, Generations, Item, Kind, Pick, Walk};
use super::serve::manifest_of;
use super::{ensure_published, load_config, load_head, load_published, update_head_logged, Change};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use serde::Serialize;

/// Which entries to list.
#[derive(Debug, Default)]
pub struct HistoryQuery {
    pub since: Option<u64>,
    pub until: Option<u64>,
    pub package: Option<glob::Pattern>,
    pub limit: usize,
    /// Paging: only entries older than this `seq`.
    pub before: Option<u64>,
}

impl HistoryQuery {
    pub const MAX_LIMIT: usize = 1000;

    /// From `?since=&until=&package=&limit=&before=`; a bad value is a 400 naming it.
    pub fn parse(pairs: &[(String, String)]) -> ApiResult<HistoryQuery> {
        let bad = |k: &str, v: &str, why: &str| {
            ApiError::bad_request(format!("query parameter {k}={v:?}: {why}"))
        };
        let mut q = HistoryQuery {
            limit: 100,
            ..Default::default()
        };
        for (k, v) in pairs {
            let time = || {
                journal::parse_time(v)
                    .ok_or_else(|| bad(k, v, "give Unix seconds, a date or an RFC 3339 time"))
            };
            match k.as_str() {
                "since" => q.since = Some(time()?),
                "until" => q.until = Some(time()?),
                "package" => {
                    q.package = Some(glob::Pattern::new(v).map_err(|e| bad(k, v, &e.to_string()))?)
                }
                "limit" => {
                    q.limit = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=Self::MAX_LIMIT).contains(n))
                        .ok_or_else(|| bad(k, v, "must be 1-1000"))?
                }
                "before" => {
                    q.before = Some(v.parse().map_err(|_| bad(k, v, "must be a seq number"))?)
                }
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "unknown query parameter {k:?}: use since, until, package, limit, before"
                    )))
                }
            }
        }
        Ok(q)
    }

    fn wants(&self, e: &Entry) -> bool {
        self.before.is_none_or(|b| e.seq < b)
            && self.until.is_none_or(|u| e.at <= u)
            && self.package.as_ref().is_none_or(|p| {
                e.added
                    .iter()
                    .chain(&e.removed)
                    .any(|i| p.matches(&i.name) || p.matches(&i.filename))
            })
    }
}

#[derive(Serialize)]
pub struct History {
    pub repo: String,
    pub entries: Vec<HistoryEntry>,
    /// The `before` of the next page; None: no more.
    pub next: Option<u64>,
}

#[derive(Serialize)]
pub struct HistoryEntry {
    #[serde(flatten)]
    pub entry: Entry,
    /// The generation that published it; None while it is not published yet.
    pub generation: Option<u64>,
    pub time: String,
}

/// The journal, newest first, with the generation that published each entry.
pub async fn history(app: &App, repo: &str, q: &HistoryQuery) -> ApiResult<History> {
    let config = load_config(app, repo).await?;
    let (head, _) = load_head(app, repo).await?;
    let mut walk: Walk<Entry> = Walk::new(head.journal.as_deref());
    let mut picked = Vec::new();
    let mut next = None;
    while let Some(e) = walk.next(app).await? {
        if q.since.is_some_and(|s| e.at < s) {
            break;
        }
        if !q.wants(&e) {
            continue;
        }
        if picked.len() == q.limit {
            next = picked.last().map(|p: &Entry| p.seq);
            break;
        }
        picked.push(e);
    }
    // An entry's generation: the oldest whose `covers` reaches its seq.
    let oldest = picked.last().map_or(u64::MAX, |e| e.seq);
    let mut covering: Vec<(u64, u64)> = Vec::new();
    if let Some((published, _)) = load_published(app, repo).await? {
        let mut gens = Generations::new(app, &config, &published);
        while let Some((g, _)) = gens.next(app).await? {
            covering.push((g.generation, g.covers));
            if g.covers < oldest {
                break;
            }
        }
    }
    let entries = picked
        .into_iter()
        .map(|entry| HistoryEntry {
            generation: covering
                .iter()
                .filter(|(_, covers)| *covers >= entry.seq)
                .map(|(g, _)| *g)
                .min(),
            time: journal::rfc3339(entry.at),
            entry,
        })
        .collect();
    Ok(History {
        repo: repo.to_string(),
        entries,
        next,
    })
}

/// A rollback done: the new generation, the one it restored, and what changed.
#[derive(Serialize)]
pub struct RolledBack {
    pub generation: u64,
    pub rolled_back_to: u64,
    pub added: Vec<Item>,
    pub removed: Vec<Item>,
}

/// Publishes a new generation whose package set is that of the generation `pick` names.
/// The records are kept (the manifest names their buckets), so nothing is analyzed; the
/// publish signs with the repo's current keys.
pub async fn rollback(app: &App, repo: &str, pick: Pick) -> ApiResult<RolledBack> {
    let config = load_config(app, repo).await?;
    let (published, _) = load_published(app, repo)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("repo {repo} has not published yet")))?;
    let target = journal::find(app, repo, &config, &published, pick).await?;
    let m = manifest_of(app, &target.manifest).await?;
    let records = super::view::records_of(app, repo, &m).await?;
    let (seq, entry) = update_head_logged(app, repo, Kind::Rollback(target.generation), |h| {
        h.packages = records.clone();
        Ok(Change::Changed)
    })
    .await?;
    let published = ensure_published(app, repo, seq).await?;
    let entry = entry.ok_or_else(|| ApiError::internal("a rollback recorded no change"))?;
    Ok(RolledBack {
        generation: published.generation,
        rolled_back_to: target.generation,
        added: entry.added,
        removed: entry.removed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(s: &[(&str, &str)]) -> Vec<(String, String)> {
        s.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn history_parameters() {
        let q = HistoryQuery::parse(&pairs(&[
            ("since", "2026-11-30"),
            ("limit", "5"),
            ("package", "hello*"),
        ]))
        .unwrap();
        assert_eq!((q.since, q.limit), (Some(1795996800), 5));
        for bad in [
            ("limit", "0"),
            ("limit", "1001"),
            ("since", "soon"),
            ("x", "1"),
        ] {
            let e = HistoryQuery::parse(&pairs(&[bad])).err().unwrap();
            assert_eq!(e.status, http::StatusCode::BAD_REQUEST, "{bad:?}");
        }
    }
}
