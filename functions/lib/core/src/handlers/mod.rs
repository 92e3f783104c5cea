//! One handler per route: a plain async function from request to response, the domain work
//! in `commit`. `handle` is the only entry point every adapter calls.
mod generators_add;
mod generators_list;
mod key_get;
mod package_add;
mod package_delete;
mod package_get;
mod packages_list;
mod repo_create;
mod repo_delete;
mod repo_rebuild;
mod repos_list;
mod root;
mod tree_get;
mod upload_commit;
mod upload_put;
mod upload_start;
mod vieter;

use crate::app::App;
use crate::body::{Request, Response};
use crate::error::{ApiError, ApiResult};
use crate::generator::Hint;
use crate::routes::{route, Route};
use http::Method;

pub async fn handle(app: &App, req: Request) -> Response {
    match dispatch(app, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn dispatch(app: &App, req: Request) -> ApiResult<Response> {
    crate::registry::refresh(app, req.method(), req.uri().path()).await?;
    let r = route(req.uri().path());
    let m = req.method().clone();
    if is_write(&m) {
        authorize(app, &req)?;
    }
    let trace = Method::from_bytes(b"TRACE").expect("valid method");
    match (r, m) {
        (Route::Root, Method::GET | Method::HEAD) => root::get(app).await,
        (Route::Repos, Method::GET | Method::HEAD) => repos_list::get(app).await,
        (Route::Repo(repo), Method::GET | Method::HEAD) => packages_list::get(app, &repo).await,
        (Route::Repo(repo), Method::POST) => repo_create::post(app, &repo, req).await,
        (Route::Repo(repo), Method::DELETE) => repo_delete::delete(app, &repo).await,
        (Route::Repo(repo), m) if m == trace => repo_rebuild::rebuild(app, &repo).await,
        (Route::Rebuild(repo), Method::POST) => repo_rebuild::rebuild(app, &repo).await,
        (Route::Packages(repo), Method::GET | Method::HEAD) => packages_list::get(app, &repo).await,
        (Route::Packages(repo), Method::POST) => package_add::post(app, &repo, req).await,
        (Route::Package(repo, p), m @ (Method::GET | Method::HEAD)) => {
            package_get::get(app, &repo, &p, m == Method::HEAD).await
        }
        (Route::Package(repo, p), Method::DELETE) => package_delete::delete(app, &repo, &p).await,
        (Route::Key(repo), Method::GET | Method::HEAD) => key_get::get(app, &repo).await,
        (Route::Uploads(repo), Method::POST) => upload_start::post(app, &repo, req).await,
        (Route::Upload(repo, id), Method::PUT) => upload_put::put(app, &repo, &id, req).await,
        (Route::Upload(repo, id), Method::POST) => upload_commit::post(app, &repo, &id).await,
        (Route::Tree(repo, path), m @ (Method::GET | Method::HEAD)) => {
            tree_get::get(app, &repo, &path, m == Method::HEAD).await
        }
        (Route::Generators, Method::GET | Method::HEAD) => generators_list::get(app).await,
        (Route::Generators, Method::POST) => generators_add::post(app, req).await,
        (Route::VieterRepo(repo), Method::DELETE) => repo_delete::delete(app, &repo).await,
        (Route::VieterPublish(repo), Method::POST | Method::PUT) => {
            vieter::publish(app, &repo, req).await
        }
        (Route::VieterArch(repo, arch), Method::DELETE) => {
            vieter::delete_arch(app, &repo, &arch).await
        }
        (Route::VieterFile(repo, arch, file), m @ (Method::GET | Method::HEAD)) => {
            vieter::get(app, &repo, &arch, &file, m == Method::HEAD).await
        }
        (Route::VieterFile(repo, arch, pkg), Method::DELETE) => {
            vieter::delete_package(app, &repo, &arch, &pkg).await
        }
        (Route::NotFound, _) => Err(ApiError::not_found(format!(
            "no route for {}",
            req.uri().path()
        ))),
        (_, m) => Err(ApiError::method_not_allowed(format!(
            "{m} is not allowed on {}",
            req.uri().path()
        ))),
    }
}

fn is_write(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Write methods need the admin token: `Authorization: Bearer T`, or `X-Api-Key: T` as
/// Vieter clients send it.
fn authorize(app: &App, req: &Request) -> ApiResult<()> {
    let h = req.headers();
    let given = h
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .or_else(|| h.get("x-api-key").and_then(|v| v.to_str().ok()));
    match given {
        None => Err(ApiError::unauthorized(
            "this method needs a token: Authorization: Bearer TOKEN (or X-Api-Key)",
        )),
        Some(t) if constant_time_eq(t.trim().as_bytes(), app.token.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::unauthorized("wrong token")),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Repo names become store keys and URL segments: keep them plain.
pub(crate) fn check_repo_name(name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && !crate::routes::RESERVED.contains(&name)
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "invalid repo name {name:?}: use 1-64 of [A-Za-z0-9._+-], starting with a letter or digit, and not {:?}",
            crate::routes::RESERVED
        )))
    }
}

/// Uploaded file names become URL segments and published paths.
pub(crate) fn check_filename(name: &str) -> ApiResult<()> {
    if name.is_empty() {
        return Err(ApiError::bad_request(
            "missing file name: give ?filename=NAME, Content-Disposition, or a multipart file name",
        ));
    }
    if name.len() > 255
        || name.contains('/')
        || name.contains('\\')
        || name == "."
        || name == ".."
        || name.starts_with('.')
        || name.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(ApiError::bad_request(format!(
            "invalid file name {name:?}: no directories, no leading dot, no spaces or control characters"
        )));
    }
    Ok(())
}

/// Hints from `?hint.KEY=VALUE` and `X-Reposmith-Hint: KEY=VALUE` (repeatable).
pub(crate) fn hints_of(req: &Request) -> ApiResult<Vec<Hint>> {
    let mut hints = Vec::new();
    for (k, v) in crate::routes::query_pairs(req.uri().query()) {
        if let Some(key) = k.strip_prefix("hint.") {
            hints.push(hint(key, &v)?);
        }
    }
    for v in req.headers().get_all("x-reposmith-hint") {
        let s = v
            .to_str()
            .map_err(|_| ApiError::bad_request("X-Reposmith-Hint must be ASCII"))?;
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| ApiError::bad_request(format!("hint {s:?} is not KEY=VALUE")))?;
        hints.push(hint(k.trim(), v.trim())?);
    }
    Ok(hints)
}

pub(crate) fn hint(key: &str, value: &str) -> ApiResult<Hint> {
    if key.is_empty() || key.starts_with("repo.") || key.chars().any(|c| c.is_control()) {
        return Err(ApiError::bad_request(format!("invalid hint key {key:?}")));
    }
    Ok(Hint {
        key: key.to_string(),
        value: value.to_string(),
    })
}

pub(crate) fn query_value(req: &Request, key: &str) -> Option<String> {
    crate::routes::query_pairs(req.uri().query())
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}
