//! `POST /repos/{repo}/transactions`: adds, removes and copies as one commit, all or none.
//! Removing needs the `delete` scope too, and copying `read` on each source repo.
use crate::app::App;
use crate::auth::{Caller, Scope};
use crate::body::{Request, Response};
use crate::commit::{apply_transaction, is_private, transaction_sources, Transaction};
use crate::error::{ApiError, ApiResult};

/// A transaction's JSON: up to 10,000 operations of a few hundred bytes each.
const MAX_BODY: usize = 4 * 1024 * 1024;

pub async fn post(app: &App, repo: &str, req: Request, caller: &Caller) -> ApiResult<Response> {
    let raw = req
        .into_body()
        .collect(MAX_BODY)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let t: Transaction = serde_json::from_slice(&raw)
        .map_err(|e| ApiError::bad_request(format!("transaction: {e}")))?;
    let removes = t
        .operations
        .iter()
        .any(|o| matches!(o, crate::commit::Operation::Remove { .. }));
    if removes && !caller.may(Scope::Delete, Some(repo)) {
        return Err(ApiError::forbidden(format!(
            "removing packages needs the delete scope on repo {repo}"
        )));
    }
    for src in transaction_sources(&t) {
        if is_private(app, &src).await? && !caller.may(Scope::Read, Some(&src)) {
            return Err(ApiError::forbidden(format!(
                "copying from repo {src} needs the read scope on it"
            )));
        }
    }
    super::ok_json(&apply_transaction(app, repo, t).await?)
}
