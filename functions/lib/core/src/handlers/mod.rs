//! One handler per route: a plain async function that parses the request, calls one
//! function of `commit` (the domain work) and shapes the response. `handle` is the only
//! entry point every adapter calls.
mod generator_delete;
mod generator_enable;
mod generators_add;
mod generators_list;
mod key_get;
mod metrics_get;
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
use crate::commit::Added;
use crate::error::{ApiError, ApiResult};
use crate::generator::Hint;
use crate::routes::{route, Route};
use crate::throttle::{self, ClientAddr, Kind};
use http::Method;

pub async fn handle(app: &App, req: Request) -> Response {
    let (req, body) = match crate::limits::watch(req, &app.limits) {
        Ok(watched) => watched,
        Err(e) => return e.into_response(),
    };
    match dispatch(app, req).await {
        Ok(r) => r,
        Err(e) => body.explain(e, &app.limits).into_response(),
    }
}

async fn dispatch(app: &App, req: Request) -> ApiResult<Response> {
    crate::registry::refresh(app, req.method(), req.uri().path()).await?;
    let r = route(req.uri().path());
    let m = req.method().clone();
    if is_write(&m) {
        let client = req.extensions().get::<ClientAddr>().copied();
        throttle::check(app, client, Kind::AuthFailure)?;
        throttle::take(app, client, Kind::Write)?;
        if let Err(e) = authorize(app, &req) {
            throttle::take(app, client, Kind::AuthFailure)?;
            return Err(e);
        }
    }
    match (r, m) {
        (Route::Root, Method::GET | Method::HEAD) => root::get(app).await,
        (Route::Repos, Method::GET | Method::HEAD) => repos_list::get(app).await,
        (Route::Repo(repo), Method::GET | Method::HEAD) => packages_list::get(app, &repo).await,
        (Route::Repo(repo), Method::POST) => repo_create::post(app, &repo, req).await,
        (Route::Repo(repo), Method::DELETE) => repo_delete::delete(app, &repo).await,
        (Route::Repo(repo), Method::TRACE) => repo_rebuild::rebuild(app, &repo).await,
        (Route::Rebuild(repo), Method::POST) => repo_rebuild::rebuild(app, &repo).await,
        (Route::Packages(repo), Method::GET | Method::HEAD) => packages_list::get(app, &repo).await,
        (Route::Packages(repo), Method::POST) => package_add::post(app, &repo, req).await,
        (Route::Package(repo, p), m @ (Method::GET | Method::HEAD)) => {
            package_get::get(app, &repo, &p, req.headers(), m == Method::HEAD).await
        }
        (Route::Package(repo, p), Method::DELETE) => package_delete::delete(app, &repo, &p).await,
        (Route::Key(repo), Method::GET | Method::HEAD) => key_get::get(app, &repo).await,
        (Route::Uploads(repo), Method::POST) => upload_start::post(app, &repo, req).await,
        (Route::Upload(repo, id), Method::PUT) => upload_put::put(app, &repo, &id, req).await,
        (Route::Upload(repo, id), Method::POST) => upload_commit::post(app, &repo, &id).await,
        (Route::Tree(repo, path), m @ (Method::GET | Method::HEAD)) => {
            tree_get::get(app, &repo, &path, req.headers(), m == Method::HEAD).await
        }
        (Route::Generators, Method::GET | Method::HEAD) => generators_list::get(app).await,
        (Route::Metrics, Method::GET | Method::HEAD) => metrics_get::get(app).await,
        (Route::Generators, Method::POST) => generators_add::post(app, req).await,
        (Route::Generator(name), Method::DELETE) => generator_delete::delete(app, &name).await,
        (Route::GeneratorEnable(name), Method::POST) => generator_enable::post(app, &name).await,
        (Route::VieterRepo(repo), Method::DELETE) => repo_delete::delete(app, &repo).await,
        (Route::VieterPublish(repo), Method::POST | Method::PUT) => {
            vieter::publish(app, &repo, req).await
        }
        (Route::VieterArch(repo, arch), Method::DELETE) => {
            vieter::delete_arch(app, &repo, &arch).await
        }
        (Route::VieterFile(repo, arch, file), m @ (Method::GET | Method::HEAD)) => {
            vieter::get(app, &repo, &arch, &file, req.headers(), m == Method::HEAD).await
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

/// Hints from `?hint.KEY=VALUE` and `X-Reposmith-Hint: KEY=VALUE` (repeatable).
pub(crate) fn hints_of(req: &Request) -> ApiResult<Vec<Hint>> {
    let mut hints = Vec::new();
    for (k, v) in crate::routes::query_pairs(req.uri().query()) {
        if let Some(key) = k.strip_prefix("hint.") {
            hints.push(crate::names::hint(key, &v)?);
        }
    }
    for v in req.headers().get_all("x-reposmith-hint") {
        let s = v
            .to_str()
            .map_err(|_| ApiError::bad_request("X-Reposmith-Hint must be ASCII"))?;
        hints.push(crate::names::hint_pair(s)?);
    }
    Ok(hints)
}

pub(crate) fn query_value(req: &Request, key: &str) -> Option<String> {
    crate::routes::query_pairs(req.uri().query())
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// An optional JSON body (at most 64 KiB): blank is `T::default()`. `what` names it in errors.
pub(crate) async fn json_body<T>(req: Request, what: &str) -> ApiResult<T>
where
    T: serde::de::DeserializeOwned + Default,
{
    let raw = req
        .into_body()
        .collect(64 * 1024)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&raw).map_err(|e| ApiError::bad_request(format!("{what}: {e}")))
}

/// A package added: 201 when new, 200 for the same bytes again.
pub(crate) fn added_response(added: Added) -> Response {
    let status = if added.new {
        http::StatusCode::CREATED
    } else {
        http::StatusCode::OK
    };
    crate::json_response(status, &added)
}

/// 200 with a JSON body.
fn ok_json(value: &impl serde::Serialize) -> ApiResult<Response> {
    Ok(crate::json_response(http::StatusCode::OK, value))
}
