//! Step 2: the generators that claim a stored package analyze it (ranged reads only); the
//! analysis is stored as an immutable blob and the record to commit names it. The package
//! is signed once here too.
use super::serve::remember_analysis;
use super::to_json;
use crate::app::App;
use crate::digest::{sha256_hex, Digests};
use crate::error::{ApiError, ApiResult};
use crate::generator::{Facts, Generator, Hint, PackageReader};
use crate::model::{Analysis, BlobRef, EntryId, PackageRecord, RepoConfig};
use bytes::Bytes;
use std::sync::Arc;

/// First bytes handed to `claims`.
const HEAD_BYTES: u32 = 4096;

/// Claims and analyzes a stored package. Returns the record to commit (unsigned).
pub async fn analyze(
    app: &App,
    config: &RepoConfig,
    filename: &str,
    digests: &Digests,
    hints: &[Hint],
) -> ApiResult<PackageRecord> {
    let reader = app.packages.reader(facts(filename, digests)).await?;
    let (gens, fname, all_hints) = (
        app.generators(),
        filename.to_string(),
        with_repo_hints(config, hints),
    );
    let analysis = app
        .blocking(move || run_generators(&gens, reader, &fname, &all_hints))
        .await?;
    let stored = super::put_blob(app, to_json(&analysis)?.into())
        .await?
        .sha256;
    Ok(record(app, filename, digests, hints, analysis, stored))
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
    let gens = app.generators();
    let n = jobs.len();
    let analyses = app
        .blocking(move || {
            Ok::<_, ApiError>(
                calls
                    .into_iter()
                    .map(|(reader, fname, hints)| {
                        // A panic fails its own package, not the batch.
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            run_generators(&gens, reader?, &fname, &hints)
                        }))
                        .unwrap_or_else(|_| Err(ApiError::internal("analysis panicked")))
                    })
                    .collect::<Vec<_>>(),
            )
        })
        .await
        .unwrap_or_else(|e| vec![Err(e); n]);
    let mut out = Vec::with_capacity(n);
    for (j, analysis) in jobs.iter().zip(analyses) {
        out.push(store_again(app, j, analysis).await);
    }
    out
}

async fn store_again(
    app: &App,
    j: &Again<'_>,
    analysis: ApiResult<Analysis>,
) -> ApiResult<PackageRecord> {
    let analysis = analysis?;
    let json = to_json(&analysis)?;
    let sha = sha256_hex(&json);
    let stored = if sha == j.analysis {
        sha
    } else {
        super::put_blob(app, json.into()).await?.sha256
    };
    Ok(record(
        app, j.filename, &j.digests, j.hints, analysis, stored,
    ))
}

/// The record to commit for `analysis`, stored as blob `stored`.
fn record(
    app: &App,
    filename: &str,
    digests: &Digests,
    hints: &[Hint],
    analysis: Analysis,
    stored: String,
) -> PackageRecord {
    let entries = analysis
        .by_generator
        .iter()
        .map(|(g, es)| (g.clone(), es.iter().map(EntryId::from).collect()))
        .collect();
    remember_analysis(app, &stored, analysis);
    PackageRecord {
        filename: filename.to_string(),
        size: digests.size,
        md5: digests.md5.clone(),
        sha1: digests.sha1.clone(),
        sha256: digests.sha256.clone(),
        sha512: digests.sha512.clone(),
        hints: hints.iter().filter(|h| !is_reserved(h)).cloned().collect(),
        uploaded: app.now(),
        entries,
        analysis: stored,
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
/// other view of the repo.
fn with_repo_hints(config: &RepoConfig, hints: &[Hint]) -> Vec<Hint> {
    let mut all = hints.to_vec();
    for (k, v) in [
        ("repo.name", &config.name),
        ("repo.default-suite", &config.default_suite),
        ("repo.default-component", &config.default_component),
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

/// The generator calls (CPU-bound, run off the executor): who claims the file, then what
/// each claimant makes of it. Nobody claiming it, or one rejecting it, is a 422.
fn run_generators(
    gens: &[Arc<dyn Generator>],
    reader: Arc<dyn PackageReader>,
    fname: &str,
    hints: &[Hint],
) -> ApiResult<Analysis> {
    let head = reader
        .read(0, HEAD_BYTES)
        .map_err(|e| ApiError::internal(format!("reading package: {e}")))?;
    // Every generator is asked: `extensions` are informative only (`claims` decides, by
    // content), and a warm instance makes a `claims` call cost microseconds.
    let claiming: Vec<&Arc<dyn Generator>> = gens
        .iter()
        .filter(|g| g.claims(fname, &head, hints))
        .collect();
    if claiming.is_empty() {
        return Err(unknown_format(gens, fname));
    }
    let mut analysis = Analysis::default();
    for g in claiming {
        let name = g.info().name.clone();
        let entries = g
            .analyze(reader.clone(), hints)
            .map_err(|e| ApiError::from_generator(&name, e))?;
        analysis.by_generator.insert(name, entries);
    }
    Ok(analysis)
}

fn unknown_format(gens: &[Arc<dyn Generator>], fname: &str) -> ApiError {
    let known: Vec<String> = gens
        .iter()
        .map(|g| format!("{} ({})", g.info().name, g.info().extensions.join(", ")))
        .collect();
    let known = if known.is_empty() {
        "none loaded".to_string()
    } else {
        known.join("; ")
    };
    ApiError::unprocessable(
        "unknown package format",
        format!("no generator claims {fname:?}; known formats: {known}"),
    )
}

/// The package's detached OpenPGP signature, made once when it is added (so that no publish
/// reads a package file) and kept by rebuilds: it depends only on the bytes and the key.
/// Made only when a generator that claimed the package publishes signatures
/// (`signed-packages`): an RSA operation is most of an upload's CPU otherwise.
pub async fn sign_package(app: &App, record: &PackageRecord) -> ApiResult<Option<BlobRef>> {
    let wanted = app
        .generators()
        .iter()
        .any(|g| g.info().signed_packages && record.entries.contains_key(&g.info().name));
    if !wanted {
        return Ok(None);
    }
    let (signer, sha) = (app.signer.clone(), record.sha256.clone());
    let sig = app
        .blocking(move || {
            signer
                .detached_package(&sha)
                .map_err(|e| ApiError::internal(format!("signing the package: {e}")))
        })
        .await?;
    let d = super::put_blob(app, Bytes::from(sig)).await?;
    Ok(Some(BlobRef::stored(d.sha256, d.size)))
}
