//! Step 2: the generators that claim a stored package analyze it (ranged reads only); the
//! analysis is stored as an immutable blob and the record to commit names it. The package
//! is signed once here too.
use super::serve::remember_analysis;
use super::to_json;
use crate::app::App;
use crate::digest::{sha256_hex, Digests};
use crate::error::{ApiError, ApiResult};
use crate::generator::{Facts, GenError, Generator, Hint, MemReader, PackageReader};
use crate::model::{Analysis, BlobRef, EntryId, PackageRecord, RepoConfig};
use bytes::Bytes;
use std::sync::Arc;

/// First bytes handed to `claims`.
pub(super) const HEAD_BYTES: u32 = 4096;

/// Generator calls that faulted during a blocking job: (generator, export, what happened),
/// for the caller to record (`health`).
type Faults = Vec<(String, &'static str, String)>;

/// Records the faults of a blocking job; every generator it asked that did not fault at
/// `claims` ends its run of `claims` faults (its `analyze` run ends with a good analysis).
fn note(app: &App, faults: Faults, asked: &[Arc<dyn Generator>], analyzed: &[String]) {
    for g in asked {
        let name = &g.info().name;
        let faulted = |export: &str| faults.iter().any(|(n, e, _)| n == name && *e == export);
        if !faulted("claims") {
            crate::health::good(app, name, "claims");
        }
        if analyzed.contains(name) {
            crate::health::good(app, name, "analyze");
        }
    }
    for (name, export, detail) in faults {
        crate::health::fault(app, &name, export, &detail);
    }
}

/// Does any generator claim a file by its first bytes? Asked before an upload is stored, so
/// that a file no generator takes is refused with nothing kept.
pub(super) async fn check_claimed(
    app: &App,
    repo: &str,
    filename: &str,
    head: Bytes,
    hints: &[Hint],
) -> ApiResult<()> {
    let config = super::repo::settled_config(app, repo).await?;
    let gens = for_repo(app, &config);
    let (g2, f, mut h) = (gens.clone(), filename.to_string(), hints.to_vec());
    h.push(Hint {
        key: "repo.name".into(),
        value: repo.to_string(),
    });
    let (any, faults) = app
        .blocking(move || {
            let mut faults = Faults::new();
            let any = !claimants(&g2, &f, &head, &h, &mut faults).is_empty();
            Ok::<_, ApiError>((any, faults))
        })
        .await?;
    note(app, faults, &gens, &[]);
    if any {
        Ok(())
    } else {
        Err(unknown_format(app, &gens, filename))
    }
}

/// The generators asked for a repo's packages: the active ones its settings allow.
fn for_repo(app: &App, config: &RepoConfig) -> Vec<Arc<dyn Generator>> {
    let mut gens = app.active_generators();
    gens.retain(|g| config.allows(&g.info().name));
    gens
}

/// Claims and analyzes a stored package. Returns the record to commit (unsigned).
pub async fn analyze(
    app: &App,
    config: &RepoConfig,
    filename: &str,
    digests: &Digests,
    hints: &[Hint],
) -> ApiResult<PackageRecord> {
    let (rec, json) = analyze_unstored(app, config, filename, digests, hints, None).await?;
    super::put_blob(app, json).await?;
    Ok(rec)
}

/// [`analyze`] without storing the analysis, reading the package from `copy` when its upload
/// kept its bytes: the record, and the analysis's bytes for its commit to store before the
/// head names them (`commit_record`).
pub(crate) async fn analyze_unstored(
    app: &App,
    config: &RepoConfig,
    filename: &str,
    digests: &Digests,
    hints: &[Hint],
    copy: Option<super::store::BodyCopy>,
) -> ApiResult<(PackageRecord, Bytes)> {
    let reader: Arc<dyn PackageReader> = match &copy {
        Some(c) => Arc::new(MemReader {
            facts: facts(filename, digests),
            data: c.data.clone(),
        }),
        None => app.packages.reader(facts(filename, digests)).await?,
    };
    let gens = for_repo(app, config);
    let (g2, fname, all_hints) = (
        gens.clone(),
        filename.to_string(),
        with_repo_hints(config, hints),
    );
    let (analysis, faults) = app
        .blocking(move || {
            let mut faults = Faults::new();
            let a = run_generators(&g2, reader, &fname, &all_hints, &mut faults);
            Ok::<_, ApiError>((a, faults))
        })
        .await?;
    let analyzed = analysis.as_ref().map(generators_of).unwrap_or_default();
    note(app, faults, &gens, &analyzed);
    let analysis = analysis.map_err(|e| told(app, filename, e))?;
    let json = Bytes::from(to_json(&analysis)?);
    let stored = BlobRef::stored(sha256_hex(&json), json.len() as u64);
    let rec = record(app, filename, digests, hints, &analysis, stored.clone());
    // The publish that lists it reads it next.
    remember_analysis(app, &stored, analysis);
    Ok((rec, json))
}

/// A stored package to analyze again (a rebuild), with the analysis blob its record names.
pub struct Again<'a> {
    pub filename: &'a str,
    pub digests: Digests,
    pub hints: &'a [Hint],
    pub analysis: &'a str,
}

/// [`analyze`] for several packages with one hop to a blocking thread for all their generator
/// calls (a hop costs more than a warm `claims`). An analysis that comes out as the blob the
/// record already names is not stored again: the record keeps that blob alive. Answers in
/// the order of `jobs`.
pub async fn analyze_again(
    app: &App,
    config: &RepoConfig,
    jobs: &[Again<'_>],
) -> Vec<ApiResult<PackageRecord>> {
    let mut calls = Vec::with_capacity(jobs.len());
    for j in jobs {
        let reader = app.packages.reader(facts(j.filename, &j.digests)).await;
        let hints = with_repo_hints(config, j.hints);
        calls.push((
            reader.map_err(ApiError::from),
            j.filename.to_string(),
            hints,
        ));
    }
    let gens = for_repo(app, config);
    let g2 = gens.clone();
    let n = jobs.len();
    let (analyses, faults) = app
        .blocking(move || {
            let mut faults = Faults::new();
            let analyses = calls
                .into_iter()
                .map(|(reader, fname, hints)| {
                    // A panic fails its own package, not the batch.
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        run_generators(&g2, reader?, &fname, &hints, &mut faults)
                    }))
                    .unwrap_or_else(|_| Err(ApiError::internal("analysis panicked")))
                })
                .collect::<Vec<_>>();
            Ok::<_, ApiError>((analyses, faults))
        })
        .await
        .unwrap_or_else(|e| (vec![Err(e); n], Faults::new()));
    let analyzed: Vec<String> = analyses
        .iter()
        .filter_map(|a| a.as_ref().ok())
        .flat_map(generators_of)
        .collect();
    note(app, faults, &gens, &analyzed);
    // A batch's analyses that changed (new generators) go to the store together.
    futures::future::join_all(
        jobs.iter()
            .zip(analyses)
            .map(|(j, analysis)| store_again(app, j, analysis)),
    )
    .await
}

async fn store_again(
    app: &App,
    j: &Again<'_>,
    analysis: ApiResult<Analysis>,
) -> ApiResult<PackageRecord> {
    let analysis = analysis.map_err(|e| told(app, j.filename, e))?;
    let json = to_json(&analysis)?;
    let (sha, size) = (sha256_hex(&json), json.len());
    let stored = if sha == j.analysis {
        BlobRef::stored(sha, size as u64)
    } else {
        super::put_blob(app, json.into()).await?
    };
    // Not cached: the rebuild's render from scratch reads each once, and a cache filled
    // with them would hold up to 4,096 analyses more at the rebuild's peak. Handed to that
    // render where reading it back is a round trip.
    let rec = record(app, j.filename, &j.digests, j.hints, &analysis, stored);
    super::serve::hand_over(app, &rec.analysis, analysis, size);
    Ok(rec)
}

/// The record to commit for `analysis`, stored as blob `stored`.
fn record(
    app: &App,
    filename: &str,
    digests: &Digests,
    hints: &[Hint],
    analysis: &Analysis,
    stored: BlobRef,
) -> PackageRecord {
    let entries = analysis
        .by_generator
        .iter()
        .map(|(g, es)| (g.clone(), es.iter().map(EntryId::from).collect()))
        .collect();
    PackageRecord {
        filename: filename.to_string(),
        size: digests.size,
        md5: digests.md5.as_str().into(),
        sha1: digests.sha1.as_str().into(),
        sha256: digests.sha256.clone(),
        sha512: digests.sha512.as_str().into(),
        hints: hints.iter().filter(|h| !is_reserved(h)).cloned().collect(),
        uploaded: app.now(),
        uploaded_by: crate::actor::current(),
        entries,
        analysis: stored.sha256,
        signature: None,
    }
}

fn facts(filename: &str, d: &Digests) -> Facts {
    Facts {
        filename: filename.to_string(),
        size: d.size,
        md5: d.md5.clone(),
        sha1: d.sha1.clone(),
        sha256: d.sha256.clone(),
        sha512: d.sha512.clone(),
    }
}

fn is_reserved(h: &Hint) -> bool {
    h.key.starts_with("repo.")
}

/// The client's hints plus the repo's defaults as reserved `repo.` hints: analyze has no
/// other view of the repo. `repo.url` is where the repo is served (its `baseurl`, else the URL
/// this request came in on), for formats whose entries name absolute URLs (npm's tarballs).
fn with_repo_hints(config: &RepoConfig, hints: &[Hint]) -> Vec<Hint> {
    let mut all = hints.to_vec();
    let url = config
        .served_url()
        .unwrap_or_else(|| format!("http://localhost/repos/{}", config.name));
    for (k, v) in [
        ("repo.name", &config.name),
        ("repo.default-suite", &config.default_suite),
        ("repo.default-component", &config.default_component),
        ("repo.url", &url),
    ] {
        if !v.is_empty() {
            all.push(Hint {
                key: k.into(),
                value: v.clone(),
            });
        }
    }
    all
}

/// The generators that claim a file by its first bytes. Every generator is asked:
/// `extensions` are informative only (`claims` decides, by content), and a warm instance
/// makes a `claims` call cost microseconds. One that fails to answer claims nothing, and its
/// fault is noted.
fn claimants<'g>(
    gens: &'g [Arc<dyn Generator>],
    fname: &str,
    head: &[u8],
    hints: &[Hint],
    faults: &mut Faults,
) -> Vec<&'g Arc<dyn Generator>> {
    gens.iter()
        .filter(|g| match g.try_claims(fname, head, hints) {
            Ok(claimed) => claimed,
            Err(e) => {
                faults.push((g.info().name.clone(), "claims", e.to_string()));
                false
            }
        })
        .collect()
}

/// The generator calls (CPU-bound, run off the executor): who claims the file, then what
/// each claimant makes of it. Nobody claiming it, or one rejecting it, is a 422.
fn run_generators(
    gens: &[Arc<dyn Generator>],
    reader: Arc<dyn PackageReader>,
    fname: &str,
    hints: &[Hint],
    faults: &mut Faults,
) -> ApiResult<Analysis> {
    let head = reader
        .read(0, HEAD_BYTES)
        .map_err(|e| ApiError::internal(format!("reading package: {e}")))?;
    let claiming = claimants(gens, fname, &head, hints, faults);
    if claiming.is_empty() {
        return Err(ApiError::unprocessable(UNKNOWN, String::new()));
    }
    let mut analysis = Analysis::default();
    for g in claiming {
        let name = g.info().name.clone();
        let entries = g.analyze(reader.clone(), hints).map_err(|e| {
            if let GenError::Failed(m) = &e {
                faults.push((name.clone(), "analyze", m.clone()));
            }
            ApiError::from_generator(&name, e)
        })?;
        analysis.by_generator.insert(name, entries);
    }
    Ok(analysis)
}

const UNKNOWN: &str = "unknown package format";

fn generators_of(a: &Analysis) -> Vec<String> {
    a.by_generator.keys().cloned().collect()
}

/// `run_generators` has no app to name the formats with: the 422 for nobody claiming is
/// spelled out here.
fn told(app: &App, fname: &str, e: ApiError) -> ApiError {
    if e.error == UNKNOWN {
        unknown_format(app, &app.active_generators(), fname)
    } else {
        e
    }
}

/// No generator claims `fname`: which formats there are (and which are quarantined).
fn unknown_format(app: &App, gens: &[Arc<dyn Generator>], fname: &str) -> ApiError {
    let known: Vec<String> = gens
        .iter()
        .map(|g| format!("{} ({})", g.info().name, g.info().extensions.join(", ")))
        .collect();
    let known = if known.is_empty() {
        "none loaded".to_string()
    } else {
        known.join("; ")
    };
    let held: Vec<String> = app
        .generators()
        .iter()
        .map(|g| g.info().name.clone())
        .filter(|n| crate::health::is_quarantined(app, n))
        .collect();
    let held = if held.is_empty() {
        String::new()
    } else {
        format!("; quarantined: {}", held.join(", "))
    };
    ApiError::unprocessable(
        UNKNOWN,
        format!("no generator claims {fname:?}; known formats: {known}{held}"),
    )
}

/// The package's detached OpenPGP signature, made once when it is added (so that no publish
/// reads a package file) and kept by rebuilds: it depends only on the bytes and the key.
/// Made only when a generator that claimed the package publishes signatures
/// (`signed-packages`): an RSA operation is most of an upload's CPU otherwise.
/// Signed with the repo's keys as its head names them now (a package signed just before a
/// rotation carries the old key, which clients still hold during the overlap).
pub async fn sign_package(
    app: &App,
    repo: &str,
    record: &PackageRecord,
) -> ApiResult<Option<BlobRef>> {
    let wanted = app
        .generators()
        .iter()
        .any(|g| g.info().signed_packages && record.entries.contains_key(&g.info().name));
    if !wanted {
        return Ok(None);
    }
    let (head, _) = super::load_head(app, repo).await?;
    let signer = super::signer_for(app, head.keys.as_deref()).await?.signer;
    let sha = record.sha256.clone();
    let sig = app
        .blocking(move || {
            signer
                .detached_package(&sha)
                .map_err(|e| ApiError::internal(format!("signing the package: {e}")))
        })
        .await?;
    Ok(Some(super::put_blob(app, Bytes::from(sig)).await?))
}
