//! `POST /repos/{repo}/rollback` with `{"generation": G}` or `{"at": TIME}`: a new generation
//! holding generation G's packages (or those of the generation current at TIME).
use crate::app::App;
use crate::body::{Request, Response};
use crate::commit::{journal::parse_time, rollback, Pick};
use crate::error::{ApiError, ApiResult};

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Target {
    generation: Option<u64>,
    /// Unix seconds, or an RFC 3339 time or date.
    at: Option<serde_json::Value>,
}

pub async fn post(app: &App, repo: &str, req: Request) -> ApiResult<Response> {
    let t: Target = super::json_body(req, "rollback").await?;
    let pick = match (t.generation, t.at) {
        (Some(g), None) => Pick::Number(g),
        (None, Some(at)) => {
            let parsed = match &at {
                serde_json::Value::Number(n) => n.as_u64(),
                serde_json::Value::String(s) => parse_time(s),
                _ => None,
            };
            Pick::At(parsed.ok_or_else(|| {
                ApiError::bad_request(format!(
                    "rollback: \"at\" is {at}: give Unix seconds or an RFC 3339 time"
                ))
            })?)
        }
        _ => {
            return Err(ApiError::bad_request(
                "rollback: give {\"generation\": N} or {\"at\": TIME}",
            ))
        }
    };
    super::ok_json(&rollback(app, repo, pick).await?)
}
