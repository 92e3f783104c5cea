//! `DELETE /tokens/{name}`: revoke a scoped token; its next request is a 401.
use crate::app::App;
use crate::auth::revoke_token;
use crate::body::Response;
use crate::error::ApiResult;

pub async fn delete(app: &App, name: &str) -> ApiResult<Response> {
    revoke_token(app, name).await?;
    super::ok_json(&serde_json::json!({ "revoked": name }))
}
