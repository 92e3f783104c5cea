//! One handler per route: a plain async function that parses the request, calls one
//! function of `commit` (the domain work) and shapes the response. `handle` is the only
//! entry point every adapter calls.
mod config_get;
mod configs_list;
mod generator_delete;
mod generator_enable;
mod generators_add;
mod generators_list;
mod history_get;
mod key_get;
mod key_retire;
mod key_rotate;
mod keys_list;
mod metrics_get;
mod openapi_get;
mod package_add;
mod package_delete;
mod package_get;
mod packages_list;
mod repo_create;
mod repo_delete;
mod repo_disable;
mod repo_enable;
mod repo_rebuild;
mod repo_update;
mod repos_list;
mod rollback_post;
mod root;
mod snapshot_create;
mod snapshot_delete;
mod snapshot_get;
mod snapshots_list;
mod token_create;
mod token_delete;
mod tokens_list;
mod transaction_post;
mod tree_get;
mod ui_asset;
mod ui_history;
mod ui_package;
mod ui_repo;
mod ui_repos;
mod ui_setup;
mod upload_commit;
mod upload_put;
mod upload_start;
mod vieter;

use crate::app::App;
use crate::auth::{self, Caller, Need};
use crate::body::{Request, Response};
use crate::commit::Added;
use crate::error::{ApiError, ApiResult};
use crate::generator::Hint;
use crate::routes::{route, Route};
use crate::throttle::{self, ClientAddr, Kind};
use http::Method;

pub async fn handle(app: &App, req: Request) -> Response {
    let write = is_write(req.method());
    let client = req.extensions().get::<ClientAddr>().map(|c| c.0);
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    // A web interface page that fails answers a page to a browser, JSON to anyone else.
    let page = (path == "/ui" || path.starts_with("/ui/")) && crate::ui::wants_html(req.headers());
    let mut caller = None;
    let resp = match crate::limits::watch(req, &app.limits) {
        Ok((req, body)) => match dispatch(app, req, &mut caller).await {
            Ok(r) => Ok(r),
            Err(e) => Err(body.explain(e, &app.limits)),
        },
        Err(e) => Err(e),
    };
    let (resp, detail) = match resp {
        Ok(r) => (r, None),
        Err(e) => {
            let detail = write.then(|| e.detail.clone());
            if page {
                (crate::ui::error_page(&e), detail)
            } else {
                (e.into_response(), detail)
            }
        }
    };
    if let (true, Some(sink)) = (write, &app.audit) {
        sink(&crate::audit::line(&crate::audit::Event {
            now: app.now(),
            client,
            token: caller.as_ref().and_then(Caller::name),
            method: &method,
            path: &path,
            status: resp.status().as_u16(),
            detail: detail.as_deref(),
        }));
    }
    resp
}

async fn dispatch(app: &App, req: Request, who: &mut Option<Caller>) -> ApiResult<Response> {
    let r = route(req.uri().path());
    crate::registry::refresh(app, req.method(), &r).await?;
    let m = req.method().clone();
    let client = req.extensions().get::<ClientAddr>().copied();
    // `REPO@REF` is a frozen view: read-only.
    if is_write(&m)
        && crate::routes::repo_segment(req.uri().path()).is_some_and(|r| r.contains('@'))
    {
        return Err(ApiError::method_not_allowed(format!(
            "{m} is not allowed on {}: REPO@REF is a read-only view",
            req.uri().path()
        )));
    }
    let need = auth::need(&r, &m);
    let credential = auth::credential(req.headers());
    let caller = authorize(app, &m, credential.clone(), client, &need).await?;
    *who = Some(caller.clone());
    // The journal records who made each commit (`actor`).
    let origin = crate::client::request_origin(req.uri(), req.headers());
    let answer = crate::actor::acting(
        caller.name(),
        Some(&origin),
        route_to(app, r, m, req, &caller),
    )
    .await;
    // A repo's reads are checked after they ran: the read refreshed the repo's view (its
    // settings with it), so a public repo's GET costs no store read more. A private repo
    // answers 401/403 in place of whatever it found, 404s included.
    if let Need::Read(repo) = &need {
        if crate::commit::is_private(app, repo).await? {
            let caller = authenticate(app, credential, client, &need).await?;
            *who = Some(caller);
        }
    }
    answer
}

async fn route_to(
    app: &App,
    r: Route,
    m: Method,
    req: Request,
    caller: &Caller,
) -> ApiResult<Response> {
    match (r, m) {
        (Route::Root, Method::GET | Method::HEAD) => root::get(app, req.headers()).await,
        (Route::Repos, Method::GET | Method::HEAD) => repos_list::get(app, caller).await,
        (Route::Repo(repo), Method::GET | Method::HEAD) => {
            packages_list::get(app, &repo, None).await
        }
        (Route::Repo(repo), Method::POST) => repo_create::post(app, &repo, req).await,
        (Route::Repo(repo), Method::PUT) => repo_update::put(app, &repo, req).await,
        (Route::Repo(repo), Method::DELETE) => repo_delete::delete(app, &repo).await,
        (Route::RepoEnable(repo), Method::POST) => repo_enable::post(app, &repo).await,
        (Route::RepoDisable(repo), Method::POST) => repo_disable::post(app, &repo).await,
        (Route::Configs(repo), Method::GET | Method::HEAD) => {
            configs_list::get(app, &repo, req).await
        }
        (Route::Config(repo, name), Method::GET | Method::HEAD) => {
            config_get::get(app, &repo, &name, req).await
        }
        (Route::Repo(repo), Method::TRACE) => repo_rebuild::rebuild(app, &repo).await,
        (Route::Rebuild(repo), Method::POST) => repo_rebuild::rebuild(app, &repo).await,
        (Route::Packages(repo), Method::GET | Method::HEAD) => {
            packages_list::get(app, &repo, req.uri().query()).await
        }
        (Route::Packages(repo), Method::POST) => package_add::post(app, &repo, req).await,
        (Route::Package(repo, p), m @ (Method::GET | Method::HEAD)) => {
            package_get::get(app, &repo, &p, req.headers(), m == Method::HEAD).await
        }
        (Route::Package(repo, p), Method::DELETE) => package_delete::delete(app, &repo, &p).await,
        (Route::Key(repo), Method::GET | Method::HEAD) => key_get::get(app, &repo).await,
        (Route::Keys(repo), Method::GET | Method::HEAD) => keys_list::get(app, &repo).await,
        (Route::Keys(repo), Method::POST) => key_rotate::post(app, &repo, req).await,
        (Route::RepoKey(repo, fp), Method::DELETE) => key_retire::delete(app, &repo, &fp).await,
        (Route::History(repo), Method::GET | Method::HEAD) => {
            history_get::get(app, &repo, req.uri().query()).await
        }
        (Route::Rollback(repo), Method::POST) => rollback_post::post(app, &repo, req).await,
        (Route::Transactions(repo), Method::POST) => {
            transaction_post::post(app, &repo, req, caller).await
        }
        (Route::Snapshots(repo), Method::GET | Method::HEAD) => {
            snapshots_list::get(app, &repo).await
        }
        (Route::Snapshot(repo, name), Method::GET | Method::HEAD) => {
            snapshot_get::get(app, &repo, &name).await
        }
        (Route::Snapshot(repo, name), Method::POST) => {
            snapshot_create::post(app, &repo, &name).await
        }
        (Route::Snapshot(repo, name), Method::DELETE) => {
            snapshot_delete::delete(app, &repo, &name).await
        }
        (Route::Uploads(repo), Method::POST) => upload_start::post(app, &repo, req).await,
        (Route::Upload(repo, id), Method::PUT) => upload_put::put(app, &repo, &id, req).await,
        (Route::Upload(repo, id), Method::POST) => upload_commit::post(app, &repo, &id).await,
        (Route::Tree(repo, path), m @ (Method::GET | Method::HEAD)) => {
            tree_get::get(app, &repo, &path, req.headers(), m == Method::HEAD).await
        }
        (Route::Generators, Method::GET | Method::HEAD) => generators_list::get(app).await,
        (Route::Metrics, Method::GET | Method::HEAD) => metrics_get::get(app).await,
        (Route::OpenApi, Method::GET | Method::HEAD) => openapi_get::get(),
        (Route::Generators, Method::POST) => generators_add::post(app, req).await,
        (Route::Generator(name), Method::DELETE) => generator_delete::delete(app, &name).await,
        (Route::GeneratorEnable(name), Method::POST) => generator_enable::post(app, &name).await,
        (Route::Tokens, Method::GET | Method::HEAD) => tokens_list::get(app).await,
        (Route::Tokens, Method::POST) => token_create::post(app, req).await,
        (Route::Token(name), Method::DELETE) => token_delete::delete(app, &name).await,
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
        (Route::UiRepos, Method::GET | Method::HEAD) => ui_repos::get(app, caller).await,
        (Route::UiAsset(name), Method::GET | Method::HEAD) => ui_asset::get(&name),
        (Route::UiRepo(repo), Method::GET | Method::HEAD) => {
            ui_repo::get(app, &repo, req.uri().query()).await
        }
        (Route::UiPackage(repo, p), Method::GET | Method::HEAD) => {
            ui_package::get(app, &repo, &p, req).await
        }
        (Route::UiSetup(repo), Method::GET | Method::HEAD) => ui_setup::get(app, &repo, req).await,
        (Route::UiHistory(repo), Method::GET | Method::HEAD) => {
            ui_history::get(app, &repo, req.uri().query()).await
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

/// A request that may change something (audited, rate-limited; the server trims memory
/// after them).
pub fn is_write(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Who is calling, if the route needs to know (`auth`). Writes are rate-limited per client,
/// and so are failed authentications: a client out of attempts is refused even with the
/// right token, so guessing learns nothing. Reads of a repo are checked after they ran.
async fn authorize(
    app: &App,
    m: &Method,
    credential: Option<String>,
    client: Option<ClientAddr>,
    need: &Need,
) -> ApiResult<Caller> {
    if is_write(m) {
        throttle::check(app, client, Kind::AuthFailure)?;
        throttle::take(app, client, Kind::Write)?;
    }
    match need {
        Need::Nothing | Need::Read(_) => Ok(Caller::Anonymous),
        Need::Optional if credential.is_none() => Ok(Caller::Anonymous),
        _ => authenticate(app, credential, client, need).await,
    }
}

/// The caller behind `credential`, checked against `need`; a 401 counts against the client.
async fn authenticate(
    app: &App,
    credential: Option<String>,
    client: Option<ClientAddr>,
    need: &Need,
) -> ApiResult<Caller> {
    throttle::check(app, client, Kind::AuthFailure)?;
    let checked = match auth::identify(app, credential).await {
        Ok(caller) => auth::check(&caller, need).map(|()| caller),
        Err(e) => Err(e),
    };
    if let Err(e) = &checked {
        if e.status == http::StatusCode::UNAUTHORIZED {
            throttle::take(app, client, Kind::AuthFailure)?;
        }
    }
    checked
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
