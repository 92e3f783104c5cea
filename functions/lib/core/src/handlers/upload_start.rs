//! `POST /repos/{repo}/uploads/`: begin a large upload (Lambda caps request bodies at
//! 6 MB). Body: optional JSON `{"filename": ..., "hints": {...}}` (or `?filename=`).
//! Answers an id, where to PUT the bytes (`url`: a presigned storage URL where the store
//! has one, `presigned: true`, to be sent without the token; else this server's own
//! `PUT /repos/{repo}/uploads/{id}`), and where to `POST` to commit (`commit`).
use super::{check_filename, check_repo_name, hint, query_value};
use crate::app::App;
use crate::body::{Request, Response};
use crate::commit::load_config;
use crate::error::{ApiError, ApiResult};
use crate::model::keys;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Serialize, Deserialize, Clone, Default)]
pub(crate) struct UploadState {
    pub filename: String,
    pub hints: Vec<crate::generator::Hint>,
    pub created: u64,
    /// Set once the bytes are stored.
    pub digests: Option<crate::digest::Digests>,
}

#[derive(Deserialize, Default)]
struct StartBody {
    #[serde(default)]
    filename: Option<String>,
    #[serde(default)]
    hints: BTreeMap<String, String>,
}

pub async fn post(app: &App, repo: &str, req: Request) -> ApiResult<Response> {
    check_repo_name(repo)?;
    load_config(app, repo).await?;
    let mut hints = super::hints_of(&req)?;
    let qname = query_value(&req, "filename");
    let raw = req
        .into_body()
        .collect(64 * 1024)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let body: StartBody = if raw.iter().all(u8::is_ascii_whitespace) {
        StartBody::default()
    } else {
        serde_json::from_slice(&raw).map_err(|e| ApiError::bad_request(format!("upload: {e}")))?
    };
    let filename = body.filename.or(qname).unwrap_or_default();
    check_filename(&filename)?;
    for (k, v) in &body.hints {
        hints.push(hint(k, v)?);
    }
    let id = hex::encode(rand::thread_rng().gen::<[u8; 16]>());
    let state = UploadState {
        filename,
        hints,
        created: app.now(),
        digests: None,
    };
    let value = serde_json::to_vec(&state).map_err(anyhow::Error::from)?;
    app.meta
        .put_if(&keys::upload(repo, &id), value.into(), None)
        .await?
        .map_err(|_| ApiError::internal("upload id collision"))?;
    let commit = format!("/repos/{repo}/uploads/{id}");
    // Straight into storage where it hands out URLs (S3: no size cap, no bytes through the
    // function); else through this server's own `PUT` on the commit URL.
    let (url, presigned) = match app.packages.presigned_put(&id).await? {
        Some(u) => (u, true),
        None => (commit.clone(), false),
    };
    Ok(crate::json_response(
        http::StatusCode::CREATED,
        &serde_json::json!({
            "id": id,
            "method": "PUT",
            "url": url,
            "presigned": presigned,
            "commit": commit,
        }),
    ))
}
