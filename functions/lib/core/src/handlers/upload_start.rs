//! `POST /repos/{repo}/uploads/`: begin a large upload (Lambda caps request bodies at
//! 6 MB). Body: optional JSON `{"filename": ..., "hints": {...}}` (or `?filename=`).
//! Answers an id, where to PUT the bytes (`url`: a presigned storage URL where the store
//! has one, `presigned: true`, to be sent without the token; else this server's own
//! `PUT /repos/{repo}/uploads/{id}`), and where to `POST` to commit (`commit`).
use super::{hints_of, json_body, query_value};
use crate::app::App;
use crate::body::{Request, Response};
use crate::commit::start_upload;
use crate::error::ApiResult;
use crate::names::hint;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize, Default)]
struct StartBody {
    #[serde(default)]
    filename: Option<String>,
    #[serde(default)]
    hints: BTreeMap<String, String>,
}

pub async fn post(app: &App, repo: &str, req: Request) -> ApiResult<Response> {
    let mut hints = hints_of(&req)?;
    let qname = query_value(&req, "filename");
    let body: StartBody = json_body(req, "upload").await?;
    for (k, v) in &body.hints {
        hints.push(hint(k, v)?);
    }
    let filename = body.filename.or(qname).unwrap_or_default();
    let started = start_upload(app, repo, filename, hints).await?;
    Ok(crate::json_response(http::StatusCode::CREATED, &started))
}
