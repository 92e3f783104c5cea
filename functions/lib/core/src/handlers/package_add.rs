//! `POST /repos/{repo}/packages/`: add a package. The body is the file (name from
//! `?filename=` or `Content-Disposition`), or multipart/form-data with a `file` part and
//! optional `hints` (JSON object or ["KEY=VALUE"]) and `filename` parts. Answers after the
//! package is published: 201 new, 200 the same bytes again.
use super::{added_response, hints_of, query_value};
use crate::app::App;
use crate::body::{Request, Response};
use crate::commit::{add, PackageBody};
use crate::error::ApiResult;

pub async fn post(app: &App, repo: &str, req: Request) -> ApiResult<Response> {
    let hints = hints_of(&req)?;
    let ctype = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (filename, body) = match multer::parse_boundary(ctype) {
        Ok(boundary) => {
            let filename = query_value(&req, "filename");
            let stream = req.into_body().into_stream();
            (filename, PackageBody::Multipart { stream, boundary })
        }
        Err(_) => {
            let filename = query_value(&req, "filename").or_else(|| disposition_filename(&req));
            (filename, PackageBody::Plain(req.into_body().into_stream()))
        }
    };
    Ok(added_response(add(app, repo, filename, hints, body).await?))
}

fn disposition_filename(req: &Request) -> Option<String> {
    let v = req
        .headers()
        .get(http::header::CONTENT_DISPOSITION)?
        .to_str()
        .ok()?;
    v.split(';').find_map(|p| {
        let raw = p.trim().strip_prefix("filename=")?;
        Some(raw.trim_matches('"').to_string())
    })
}
