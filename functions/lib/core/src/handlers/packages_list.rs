//! `GET /repos/{repo}/` and `GET /repos/{repo}/packages/`: the repo's packages.
use crate::app::App;
use crate::body::Response;
use crate::commit::{load_config, load_head, load_published};
use crate::error::ApiResult;

pub async fn get(app: &App, repo: &str) -> ApiResult<Response> {
    let config = load_config(app, repo).await?;
    let (head, _) = load_head(app, repo).await?;
    let generation = load_published(app, repo).await?.map(|(p, _)| p.generation);
    let packages: Vec<_> = head.packages.values().collect();
    Ok(crate::json_response(
        http::StatusCode::OK,
        &serde_json::json!({
            "repo": config,
            "generation": generation,
            "packages": packages,
        }),
    ))
}
