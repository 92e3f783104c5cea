//! Vieter's pacman repository routes, mapped onto reposmith repos and the same commit
//! protocol, so that Vieter's users can switch without touching their clients or build jobs:
//! `GET/HEAD /{repo}/{arch}/{filename}` (a database, a package, or `name-version` for that
//! package's `desc`), `POST /{repo}/publish`, `DELETE /{repo}/{arch}/{pkg}`,
//! `DELETE /{repo}/{arch}` and `DELETE /{repo}`. As in Vieter, a repo is created by its first
//! publish. The pacman generator's tree is served at `/repos/{repo}/pacman/{arch}/` too.
use crate::app::App;
use crate::body::{Body, Request, Response};
use crate::commit::{entry_fragment, resolve_served};
use crate::error::{ApiError, ApiResult};
use crate::generator::Hint;
use crate::model::PackageRecord;

/// The generator (and mount) these routes speak for.
const PACMAN: &str = "pacman";
/// The pacman generator's upload hint: name the package `NAME-VERSION-ARCH.pkg.tar.EXT`
/// from its content (Vieter clients send no file name).
const NAME_FROM_CONTENT: &str = "pacman.name-from-content";
/// The fragment holding a package's `desc` as text.
const DESC_TEXT: &str = "desc.txt";

fn pacman_entries(rec: &PackageRecord) -> &[crate::model::EntryId] {
    rec.entries.get(PACMAN).map(Vec::as_slice).unwrap_or(&[])
}

/// `POST /{repo}/publish`: the body is the package; the first publish creates the repo.
pub async fn publish(app: &App, repo: &str, req: Request) -> ApiResult<Response> {
    let hint = Hint {
        key: NAME_FROM_CONTENT.into(),
        value: "1".into(),
    };
    let stream = req.into_body().into_stream();
    let added = crate::commit::add_named_by_generator(app, repo, PACMAN, hint, stream).await?;
    Ok(super::added_response(added))
}

/// `GET/HEAD /{repo}/{arch}/{file}`: a file of the published pacman tree (databases,
/// packages, signatures); otherwise `file` is `NAME-VERSION` and the answer that package's
/// `desc`, as the pacman generator rendered it at upload.
pub async fn get(
    app: &App,
    repo: &str,
    arch: &str,
    file: &str,
    headers: &http::HeaderMap,
    head_only: bool,
) -> ApiResult<Response> {
    match resolve_served(app, repo, &format!("{PACMAN}/{arch}/{file}")).await {
        Ok(s) => {
            return crate::blob_response(app, &s.blob, file, headers, s.dates, head_only).await
        }
        Err(e) if e.status == http::StatusCode::NOT_FOUND => {}
        Err(e) => return Err(e),
    }
    let desc = entry_fragment(app, repo, PACMAN, DESC_TEXT, |e| {
        (e.shelf == arch || e.shelf == "any") && format!("{}-{}", e.name, e.version) == file
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("{file} is not in {repo}/{arch}")))?;
    let len = desc.len();
    let body = if head_only {
        Body::Empty
    } else {
        Body::from(desc)
    };
    Ok(http::Response::builder()
        .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(http::header::CONTENT_LENGTH, len)
        .body(body)
        .expect("valid response"))
}

/// Removes every package whose pacman entry matches, in one commit, then republishes.
async fn remove_where(
    app: &App,
    repo: &str,
    what: &str,
    matches: impl Fn(&crate::model::EntryId) -> bool,
) -> ApiResult<Response> {
    let removed = crate::commit::remove_where(app, repo, &format!("{what} in {repo}"), |r| {
        pacman_entries(r).iter().any(&matches)
    })
    .await?;
    Ok(crate::json_response(http::StatusCode::OK, &removed))
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
