//! `DELETE /repos/{repo}/`: the repo, its records and its published tree go; blobs are
//! left for GC (the same bytes may live in another repo).
use crate::app::App;
use crate::body::Response;
use crate::commit::{load_config, load_head};
use crate::error::ApiResult;
use crate::model::keys;

pub async fn delete(app: &App, repo: &str) -> ApiResult<Response> {
    load_config(app, repo).await?;
    let (head, _) = load_head(app, repo).await?;
    // Config first: from here on the repo is gone for every request.
    for key in [keys::config(repo), keys::head(repo), keys::published(repo)] {
        loop {
            match app.meta.get(&key).await? {
                None => break,
                Some(v) => {
                    if app.meta.delete_if(&key, v.version).await?.is_ok() {
                        break;
                    }
                }
            }
        }
    }
    Ok(crate::json_response(
        http::StatusCode::OK,
        &serde_json::json!({ "deleted": repo, "packages": head.packages.len() }),
    ))
}
