//! `GET /tokens/`: every scoped token (name, scopes, repos, expiry), never a secret.
use crate::app::App;
use crate::auth::list_tokens;
use crate::body::Response;
use crate::error::ApiResult;

pub async fn get(app: &App) -> ApiResult<Response> {
    let now = app.now();
    let tokens: Vec<_> = list_tokens(app)
        .await?
        .into_iter()
        .map(|t| {
            let expired = t.expires.is_some_and(|at| at <= now);
            serde_json::json!({
                "name": t.name,
                "scopes": t.scopes,
                "repos": t.repos,
                "created": t.created,
                "expires": t.expires,
                "expired": expired,
            })
        })
        .collect();
    super::ok_json(&serde_json::json!({ "tokens": tokens }))
}
