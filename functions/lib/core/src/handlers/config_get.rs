//! `GET /repos/{repo}/config/{name}`: one client configuration file, by client (`apt`,
//! `dnf`, `zypper`, ...: its main file) or by file name (`REPO.sources`).
use crate::app::App;
use crate::body::{Body, Request, Response};
use crate::client::{files, find, request_base};
use crate::error::{ApiError, ApiResult};

pub async fn get(app: &App, repo: &str, name: &str, req: Request) -> ApiResult<Response> {
    let (parts, _) = req.into_parts();
    let made = files(app, repo, &request_base(&parts, repo)).await?;
    let Some(file) = find(&made, name) else {
        let mut known: Vec<&str> = made
            .files
            .iter()
            .flat_map(|(_, f)| [f.client.as_str(), f.file_name.as_str()])
            .collect();
        known.dedup();
        return Err(ApiError::not_found(format!(
            "repo {repo} has no client file {name:?}; there are: {}",
            known.join(", ")
        )));
    };
    Ok(http::Response::builder()
        .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(
            http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", file.file_name),
        )
        .header(http::header::CACHE_CONTROL, "no-cache")
        .body(Body::from(file.data.clone()))
        .expect("valid response"))
}
