//! `GET /repos/{repo}/` and `GET /repos/{repo}/packages/`: the repo's packages; with query
//! parameters (`?name=GLOB&latest=1...`, see `query`), the packages that match.
use crate::app::App;
use crate::body::Response;
use crate::commit::packages;
use crate::error::ApiResult;
use crate::query::{self, Query};

pub async fn get(app: &App, repo: &str, query: Option<&str>) -> ApiResult<Response> {
    match Query::parse(&crate::routes::query_pairs(query))? {
        Some(q) => super::ok_json(&query::run(app, repo, q).await?),
        None => super::ok_json(&packages(app, repo).await?),
    }
}
