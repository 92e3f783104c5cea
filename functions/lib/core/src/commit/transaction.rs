//! Several adds, removes and copies as one commit (`POST /repos/{repo}/transactions`): every
//! package is analyzed (or its record taken from the source repo) first, then one
//! compare-and-set of the head applies all of them or none, and one generation publishes
//! them. Promotion between repos is a transaction of copies. See docs/history.md.
use super::analyze::analyze;
use super::journal::{Item, Kind};
use super::record::{insert_record, one_version_generators};
use super::view::{split, state, State};
use super::{ensure_published, load_config, sign_package, update_head_logged, Change};
use crate::app::App;
use crate::digest::{Digests, Hasher};
use crate::error::{ApiError, ApiResult};
use crate::model::{BlobRef, PackageRecord, RepoConfig};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Operations one transaction may hold.
pub const MAX_OPERATIONS: usize = 10_000;
/// Packages analyzed at once while preparing a transaction.
const ANALYZED_AT_ONCE: usize = 4;

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Transaction {
    pub operations: Vec<Operation>,
    /// After it, the repo holds exactly what it adds and copies.
    #[serde(default)]
    pub replace: bool,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
pub enum Operation {
    /// A large upload not yet committed, or bytes already stored (sha256 + file name).
    Add {
        upload: Option<String>,
        sha256: Option<String>,
        filename: Option<String>,
    },
    Remove {
        filename: String,
    },
    /// From another repo (or `REPO@REF`): one file, or every package a pattern matches.
    Copy {
        from: String,
        filename: Option<String>,
        pattern: Option<String>,
    },
}

impl Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::Add { .. } => "add",
            Operation::Remove { .. } => "remove",
            Operation::Copy { .. } => "copy",
        }
    }
}

/// One refused operation.
#[derive(Serialize, Debug)]
pub struct Failed {
    pub index: usize,
    pub op: &'static str,
    pub error: String,
}

/// A transaction committed.
#[derive(Serialize)]
pub struct Committed {
    pub generation: u64,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// What an operation becomes once prepared: records to put in, a file to take out.
enum Step {
    Put(Vec<PackageRecord>),
    Take(String),
}

/// Source repos a transaction copies from; checked by the handler (the caller must be
/// allowed to read each).
pub fn sources(t: &Transaction) -> Vec<String> {
    let mut from: Vec<String> = t
        .operations
        .iter()
        .filter_map(|o| match o {
            Operation::Copy { from, .. } => Some(split(from).0.to_string()),
            _ => None,
        })
        .collect();
    from.sort();
    from.dedup();
    from
}

/// Applies `t` to `repo` as one commit; 422 listing every failing operation otherwise.
pub async fn apply(app: &App, repo: &str, t: Transaction) -> ApiResult<Committed> {
    crate::names::check_repo_name(repo)?;
    let config = load_config(app, repo).await?;
    if t.operations.len() > MAX_OPERATIONS {
        return Err(ApiError::bad_request(format!(
            "a transaction holds at most {MAX_OPERATIONS} operations, not {}",
            t.operations.len()
        )));
    }
    let total = t.operations.len();
    // Each source read once (its head or frozen generation), however many copies name it.
    let mut states = HashMap::new();
    for op in &t.operations {
        if let Operation::Copy { from, .. } = op {
            if !states.contains_key(from) {
                states.insert(from.clone(), state(app, from).await);
            }
        }
    }
    // Boxed: a closure-made future in a stream trips rustc's Send check of the handler.
    let jobs: Vec<BoxFuture<'_, ApiResult<Step>>> = t
        .operations
        .iter()
        .map(|op| prepare(app, repo, &config, &states, op).boxed())
        .collect();
    let prepared: Vec<ApiResult<Step>> = futures::stream::iter(jobs)
        .buffered(ANALYZED_AT_ONCE)
        .collect()
        .await;
    let mut failed = Vec::new();
    let mut steps = Vec::new();
    for (index, (p, op)) in prepared.into_iter().zip(&t.operations).enumerate() {
        match p {
            Ok(s) => steps.push((index, op.name(), s)),
            Err(e) => failed.push(Failed {
                index,
                op: op.name(),
                error: e.detail,
            }),
        }
    }
    if !failed.is_empty() {
        return Err(refused(total, failed));
    }
    let one_version = one_version_generators(app);
    let (seq, entry) = update_head_logged(app, repo, Kind::Transaction, |h| {
        let before = h.packages.clone();
        if t.replace {
            h.packages = Default::default();
        }
        let mut failed = Vec::new();
        for (index, op, step) in &steps {
            let done =
                match step {
                    Step::Put(recs) => recs.iter().try_for_each(|rec| {
                        super::quota::fits(&config, h, rec, &one_version)?;
                        insert_record(h, rec, &one_version).map(|_| ())
                    }),
                    Step::Take(f) => h.packages.remove(f).map(|_| ()).ok_or_else(|| {
                        ApiError::not_found(format!("no package {f:?} in repo {repo}"))
                    }),
                };
            if let Err(e) = done {
                failed.push(Failed {
                    index: *index,
                    op,
                    error: e.detail,
                });
            }
        }
        if !failed.is_empty() {
            return Err(refused(total, failed));
        }
        // Removing a file and adding it back with the same bytes changes nothing.
        let (added, removed) = super::journal::changes(&before, &h.packages);
        Ok(if added.is_empty() && removed.is_empty() {
            Change::Unchanged
        } else {
            Change::Changed
        })
    })
    .await?;
    // The uploads it committed are done with (a leftover key is only GC's business).
    for op in &t.operations {
        if let Operation::Add {
            upload: Some(id), ..
        } = op
        {
            let _ = super::upload::forget_upload(app, repo, id).await;
        }
    }
    let published = ensure_published(app, repo, seq).await?;
    let names = |items: Vec<Item>| items.into_iter().map(|i| i.filename).collect();
    let (added, removed) = entry.map(|e| (e.added, e.removed)).unwrap_or_default();
    Ok(Committed {
        generation: published.generation,
        added: names(added),
        removed: names(removed),
    })
}

/// The 422 of a refused transaction: every failing operation, by its index.
fn refused(total: usize, failed: Vec<Failed>) -> ApiError {
    let mut e = ApiError::unprocessable(
        "transaction refused",
        format!(
            "{} of {total} operations failed; nothing was committed",
            failed.len()
        ),
    );
    e.extra = Some(serde_json::json!({ "items": failed }));
    e
}

/// The sources of a transaction's copies, as read once (or why not).
type Sources = HashMap<String, ApiResult<State>>;

async fn prepare(
    app: &App,
    repo: &str,
    config: &RepoConfig,
    sources: &Sources,
    op: &Operation,
) -> ApiResult<Step> {
    match op {
        Operation::Remove { filename } => Ok(Step::Take(filename.clone())),
        Operation::Add {
            upload: Some(id),
            sha256: None,
            filename: None,
        } => {
            let up = super::upload::stored_upload(app, repo, id).await?;
            let rec = analyzed(app, repo, config, &up.filename, &up.digests, &up.hints).await?;
            Ok(Step::Put(vec![rec]))
        }
        Operation::Add {
            upload: None,
            sha256: Some(sha),
            filename: Some(f),
        } => {
            crate::names::check_filename(f)?;
            let digests = stored_digests(app, sha).await?;
            Ok(Step::Put(vec![
                analyzed(app, repo, config, f, &digests, &[]).await?,
            ]))
        }
        Operation::Add { .. } => Err(ApiError::bad_request(
            "an add gives either \"upload\" or both \"sha256\" and \"filename\"",
        )),
        Operation::Copy {
            from,
            filename,
            pattern,
        } => {
            let src = match sources.get(from) {
                Some(Ok(s)) => s,
                Some(Err(e)) => return Err(e.clone()),
                None => return Err(ApiError::internal("a copy's source was not read")),
            };
            let picked = copied(src, from, filename.as_deref(), pattern.as_deref())?;
            let mut out = Vec::with_capacity(picked.len());
            for rec in picked {
                out.push(adopt(app, repo, config, &src.config, rec).await?);
            }
            Ok(Step::Put(out))
        }
    }
}

/// Analyzes a stored package for `repo` and signs it where its format wants that.
async fn analyzed(
    app: &App,
    repo: &str,
    config: &RepoConfig,
    filename: &str,
    digests: &Digests,
    hints: &[crate::generator::Hint],
) -> ApiResult<PackageRecord> {
    super::quota::check_size(config, digests.size)?;
    let mut rec = analyze(app, config, filename, digests, hints).await?;
    rec.signature = sign_package(app, repo, &rec).await?;
    Ok(rec)
}

/// The four digests of bytes already in the package store (read once).
async fn stored_digests(app: &App, sha256: &str) -> ApiResult<Digests> {
    let missing = || ApiError::not_found(format!("no stored package with sha256 {sha256}"));
    if !crate::digest::is_sha256(sha256) {
        return Err(missing());
    }
    let size = app.packages.size(sha256).await?.ok_or_else(missing)?;
    let mut stream = super::open_blob(app, &BlobRef::stored(sha256, size), 0, None).await?;
    let mut h = Hasher::default();
    while let Some(chunk) = stream.next().await {
        h.update(&chunk.map_err(|e| ApiError::internal(e.to_string()))?);
    }
    let d = h.finish();
    if d.sha256 != sha256 {
        return Err(ApiError::internal(format!(
            "stored blob {sha256} does not match its name"
        )));
    }
    Ok(d)
}

/// The records a copy takes from its source: the file named, or every package a pattern
/// matches (by package name or file name).
fn copied(
    src: &State,
    from: &str,
    filename: Option<&str>,
    pattern: Option<&str>,
) -> ApiResult<Vec<PackageRecord>> {
    let recs = match (filename, pattern) {
        (Some(f), None) => vec![src
            .records
            .get(f)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("no package {f:?} in repo {from}")))?],
        (None, Some(p)) => {
            let pat = glob::Pattern::new(p)
                .map_err(|e| ApiError::bad_request(format!("pattern {p:?}: {e}")))?;
            let recs: Vec<PackageRecord> = src
                .records
                .sorted()
                .into_iter()
                .filter(|r| pat.matches(&r.filename) || pat.matches(&Item::of(r).name))
                .cloned()
                .collect();
            if recs.is_empty() && p != "*" {
                return Err(ApiError::not_found(format!(
                    "no package in repo {from} matches {p:?}"
                )));
            }
            recs
        }
        _ => {
            return Err(ApiError::bad_request(
                "a copy gives either \"filename\" or \"pattern\"",
            ))
        }
    };
    Ok(recs)
}

/// A record from another repo, for `repo`: taken as it is when both repos show the
/// generators the same settings (no byte read, nothing analyzed), else analyzed again from
/// the stored bytes. A package signature is made again under `repo`'s keys.
async fn adopt(
    app: &App,
    repo: &str,
    config: &RepoConfig,
    src: &RepoConfig,
    rec: PackageRecord,
) -> ApiResult<PackageRecord> {
    fn facing(c: &RepoConfig) -> impl PartialEq + '_ {
        (
            &c.default_suite,
            &c.default_component,
            &c.architectures,
            &c.options,
            &c.generators,
        )
    }
    if facing(config) != facing(src) {
        let digests = Digests {
            size: rec.size,
            md5: rec.md5.to_string(),
            sha1: rec.sha1.to_string(),
            sha256: rec.sha256.clone(),
            sha512: rec.sha512.to_string(),
        };
        return analyzed(app, repo, config, &rec.filename, &digests, &rec.hints).await;
    }
    super::quota::check_size(config, rec.size)?;
    let mut rec = rec;
    if rec.signature.is_some() {
        rec.signature = sign_package(app, repo, &rec).await?;
    }
    Ok(rec)
}
