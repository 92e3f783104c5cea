//! `DELETE /generators/{name}` (admin): the generator is removed, here and for the target's
//! later starts and other instances (its loader forgets it). The next publish of each repo
//! drops its tree; its packages stay, and are served again if it comes back.
use crate::app::App;
use crate::body::Response;
use crate::error::ApiResult;
use crate::registry;

pub async fn delete(app: &App, name: &str) -> ApiResult<Response> {
    let loader = registry::loader(app)?;
    registry::remove(app, name, loader.as_ref()).await?;
    Ok(crate::json_response(
        http::StatusCode::OK,
        &serde_json::json!({ "deleted": name }),
    ))
}
