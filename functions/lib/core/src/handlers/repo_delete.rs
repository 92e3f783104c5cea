//! `DELETE /repos/{repo}/`: the repo, its records and its published tree go; blobs are
//! left for GC (the same bytes may live in another repo).
use crate::app::App;
use crate::body::Response;
use crate::commit::{load_config, load_head};
use crate::error::ApiResult;
use crate::model::keys;
use crate::store::Write;

pub async fn delete(app: &App, repo: &str) -> ApiResult<Response> {
    load_config(app, repo).await?;
    let (head, _) = load_head(app, repo).await?;
    // All keys in one transaction where the store has them (config first otherwise: from
    // then on the repo is gone for every request). A concurrent write makes us re-read.
    loop {
        let mut ops = Vec::new();
        for key in [keys::config(repo), keys::head(repo), keys::published(repo)] {
            if let Some(v) = app.meta.get(&key).await? {
                ops.push(Write::Delete {
                    key,
                    expected: v.version,
                });
            }
        }
        if ops.is_empty() || app.meta.transact(ops).await?.is_ok() {
            break;
        }
    }
    Ok(crate::json_response(
        http::StatusCode::OK,
        &serde_json::json!({ "deleted": repo, "packages": head.packages.len() }),
    ))
}
