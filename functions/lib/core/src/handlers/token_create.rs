//! `POST /tokens/`: make a scoped token. JSON body: name, scopes (read, upload, delete,
//! admin), repos (names or globs; none: every repo), expires_in (seconds) or expires_at.
//! The answer (201) carries the token, once: only its hash is kept.
use super::json_body;
use crate::app::App;
use crate::auth::{create_token, NewToken};
use crate::body::{Request, Response};
use crate::error::ApiResult;

pub async fn post(app: &App, req: Request) -> ApiResult<Response> {
    let new: NewToken = json_body(req, "token").await?;
    let made = create_token(app, new).await?;
    Ok(crate::json_response(http::StatusCode::CREATED, &made))
}
