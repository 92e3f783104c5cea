//! `GET /repos/{repo}/history?since=&until=&package=&limit=&before=`: the journal, newest first.
use crate::app::App;
use crate::body::Response;
use crate::commit::{history, HistoryQuery};
use crate::error::ApiResult;

pub async fn get(app: &App, repo: &str, query: Option<&str>) -> ApiResult<Response> {
    let q = HistoryQuery::parse(&crate::routes::query_pairs(query))?;
    super::ok_json(&history(app, repo, &q).await?)
}
