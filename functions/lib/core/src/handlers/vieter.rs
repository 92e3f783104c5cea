//! Vieter's pacman repository routes, mapped onto reposmith repos and the same commit
//! protocol, so that Vieter's users can switch without touching their clients or build jobs:
//! `GET/HEAD /{repo}/{arch}/{filename}` (a database, a package, or `name-version` for that
//! package's `desc`), `POST /{repo}/publish`, `DELETE /{repo}/{arch}/{pkg}`,
//! `DELETE /{repo}/{arch}` and `DELETE /{repo}`. As in Vieter, a repo is created by its first
//! publish. The pacman generator's tree is served at `/repos/{repo}/pacman/{arch}/` too.
use super::check_repo_name;
use crate::app::App;
use crate::body::{Body, Request, Response};
use crate::commit::{
    analysis_of, analyze, ensure_published, load_config, load_head, resolve, update_head, Change,
};
use crate::commit_analyzed::add_analyzed;
use crate::error::{ApiError, ApiResult};
use crate::generator::Hint;
use crate::model::{keys, Head, PackageRecord, RepoConfig};

/// The generator (and mount) these routes speak for.
const PACMAN: &str = "pacman";

fn pacman_entries(rec: &PackageRecord) -> &[crate::model::EntryId] {
    rec.entries.get(PACMAN).map(Vec::as_slice).unwrap_or(&[])
}

/// The name a Vieter upload is analyzed under: the pacman generator, asked by
/// `NAME_FROM_CONTENT`, names the package `NAME-VERSION-ARCH.pkg.tar.EXT` itself.
const UPLOAD_NAME: &str = "upload.pkg.tar";
/// The pacman generator's upload hint for that.
const NAME_FROM_CONTENT: &str = "pacman.name-from-content";
/// The fragment holding a package's `desc` as text.
const DESC_TEXT: &str = "desc.txt";

pub async fn publish(app: &App, repo: &str, req: Request) -> ApiResult<Response> {
    check_repo_name(repo)?;
    let config = match load_config(app, repo).await {
        Ok(c) => c,
        Err(e) if e.status == http::StatusCode::NOT_FOUND => create_default(app, repo).await?,
        Err(e) => return Err(e),
    };
    let d = app.packages.put(req.into_body().into_stream()).await?;
    if d.size == 0 {
        return Err(ApiError::bad_request("empty body: send the package file"));
    }
    let hint = Hint {
        key: NAME_FROM_CONTENT.into(),
        value: "1".into(),
    };
    let mut record = analyze(app, &config, UPLOAD_NAME, &d, &[hint]).await?;
    let Some(e) = pacman_entries(&record).first() else {
        return Err(ApiError::unprocessable(
            "not a pacman package",
            "the pacman generator does not claim this file",
        ));
    };
    // The name the generator published the package under; the hint stays with this upload.
    record.filename = e.path.rsplit('/').next().unwrap_or_default().to_string();
    record.hints.clear();
    let (rec, published, new) = add_analyzed(app, repo, record).await?;
    let status = if new {
        http::StatusCode::CREATED
    } else {
        http::StatusCode::OK
    };
    Ok(crate::json_response(
        status,
        &serde_json::json!({ "package": rec, "generation": published.generation, "new": new }),
    ))
}

async fn create_default(app: &App, repo: &str) -> ApiResult<RepoConfig> {
    let config = RepoConfig {
        name: repo.to_string(),
        default_suite: "stable".into(),
        default_component: "main".into(),
        created: app.now(),
        ..Default::default()
    };
    let value = serde_json::to_vec(&config).map_err(anyhow::Error::from)?;
    // A concurrent first publish may win: either way the repo exists afterwards.
    let _ = app
        .meta
        .put_if(&keys::config(repo), value.into(), None)
        .await?;
    let head = serde_json::to_vec(&Head::default()).map_err(anyhow::Error::from)?;
    let _ = app
        .meta
        .put_if(&keys::head(repo), head.into(), None)
        .await?;
    load_config(app, repo).await
}

pub async fn get(
    app: &App,
    repo: &str,
    arch: &str,
    file: &str,
    head_only: bool,
) -> ApiResult<Response> {
    load_config(app, repo).await?;
    // Databases, packages and their signatures: the pacman tree as published.
    if let Some(blob) = resolve(app, repo, &format!("{PACMAN}/{arch}/{file}")).await? {
        return crate::blob_response(app, &blob.sha256, blob.size, file, head_only).await;
    }
    let is_db = [".db", ".files", ".db.tar.gz", ".files.tar.gz"]
        .iter()
        .any(|x| file.ends_with(x));
    if is_db || file.contains(".pkg") {
        return Err(ApiError::not_found(format!(
            "{file} is not in {repo}/{arch}"
        )));
    }
    // Otherwise `file` is NAME-VERSION: that package's desc from the database.
    let (head, _) = load_head(app, repo).await?;
    for rec in head.packages.values() {
        let found = pacman_entries(rec).iter().any(|e| {
            (e.shelf == arch || e.shelf == "any") && format!("{}-{}", e.name, e.version) == file
        });
        if !found {
            continue;
        }
        let analysis = analysis_of(app, &rec.analysis).await?;
        let desc = analysis
            .by_generator
            .get(PACMAN)
            .into_iter()
            .flatten()
            .flat_map(|e| &e.fragments)
            .find(|f| f.name == DESC_TEXT)
            .map(|f| f.data.clone())
            .ok_or_else(|| ApiError::internal(format!("no desc for {file}")))?;
        let len = desc.len();
        let body = if head_only {
            Body::Empty
        } else {
            Body::from(desc)
        };
        return Ok(http::Response::builder()
            .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .header(http::header::CONTENT_LENGTH, len)
            .body(body)
            .expect("valid response"));
    }
    Err(ApiError::not_found(format!(
        "no package {file} in {repo}/{arch}"
    )))
}

/// Removes every package whose pacman entry matches, in one commit, then republishes.
async fn remove_where(
    app: &App,
    repo: &str,
    what: &str,
    matches: impl Fn(&crate::model::EntryId) -> bool,
) -> ApiResult<Response> {
    load_config(app, repo).await?;
    let mut removed = Vec::new();
    let seq = update_head(app, repo, |h| {
        removed = h
            .packages
            .values()
            .filter(|r| pacman_entries(r).iter().any(&matches))
            .map(|r| r.filename.clone())
            .collect();
        if removed.is_empty() {
            return Err(ApiError::not_found(format!("no {what} in {repo}")));
        }
        for f in &removed {
            h.packages.remove(f);
        }
        Ok(Change::Changed)
    })
    .await?;
    let published = ensure_published(app, repo, seq).await?;
    Ok(crate::json_response(
        http::StatusCode::OK,
        &serde_json::json!({ "removed": removed, "generation": published.generation }),
    ))
}

/// `DELETE /{repo}/{arch}/{pkg}`: the package named `pkg` in that arch-repo. An `any`
/// package lives in every arch-repo, so it leaves them all.
pub async fn delete_package(app: &App, repo: &str, arch: &str, pkg: &str) -> ApiResult<Response> {
    remove_where(app, repo, &format!("package {pkg} in {arch}"), |e| {
        e.name == pkg && (e.shelf == arch || e.shelf == "any")
    })
    .await
}

/// `DELETE /{repo}/{arch}`: every package of that architecture (`any` packages stay).
pub async fn delete_arch(app: &App, repo: &str, arch: &str) -> ApiResult<Response> {
    remove_where(app, repo, &format!("arch-repo {arch}"), |e| e.shelf == arch).await
}
