//! `POST /repos/{repo}/packages/`: add a package. The body is the file (name from
//! `?filename=` or `Content-Disposition`), or multipart/form-data with a `file` part and
//! optional `hints` (JSON object or ["KEY=VALUE"]) and `filename` parts. Answers after the
//! package is published: 201 new, 200 the same bytes again.
use super::{check_filename, check_repo_name, hint, hints_of, query_value};
use crate::app::App;
use crate::body::{Body, Request, Response};
use crate::commit::{add_stored, load_config};
use crate::digest::Digests;
use crate::error::{ApiError, ApiResult};
use crate::generator::Hint;
use futures::StreamExt;

pub async fn post(app: &App, repo: &str, req: Request) -> ApiResult<Response> {
    check_repo_name(repo)?;
    load_config(app, repo).await?;
    let mut hints = hints_of(&req)?;
    let ctype = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let (filename, digests) = if let Ok(boundary) = multer::parse_boundary(&ctype) {
        multipart(app, req, boundary, &mut hints).await?
    } else {
        let filename = query_value(&req, "filename")
            .or_else(|| disposition_filename(&req))
            .unwrap_or_default();
        check_filename(&filename)?;
        let d = app.packages.put(req.into_body().into_stream()).await?;
        (filename, d)
    };
    if digests.size == 0 {
        return Err(ApiError::bad_request("empty body: send the package file"));
    }
    respond(app, repo, &filename, &digests, &hints).await
}

pub(crate) async fn respond(
    app: &App,
    repo: &str,
    filename: &str,
    digests: &Digests,
    hints: &[Hint],
) -> ApiResult<Response> {
    let (rec, published, new) = add_stored(app, repo, filename, digests, hints).await?;
    let status = if new {
        http::StatusCode::CREATED
    } else {
        http::StatusCode::OK
    };
    Ok(crate::json_response(
        status,
        &serde_json::json!({ "package": rec, "generation": published.generation, "new": new }),
    ))
}

fn disposition_filename(req: &Request) -> Option<String> {
    let v = req
        .headers()
        .get(http::header::CONTENT_DISPOSITION)?
        .to_str()
        .ok()?;
    v.split(';').find_map(|p| {
        let p = p.trim();
        let raw = p.strip_prefix("filename=")?;
        Some(raw.trim_matches('"').to_string())
    })
}

async fn multipart(
    app: &App,
    req: Request,
    boundary: String,
    hints: &mut Vec<Hint>,
) -> ApiResult<(String, Digests)> {
    let query_name = query_value(&req, "filename");
    let stream = req.into_body().into_stream();
    let mut mp = multer::Multipart::new(stream, boundary);
    let mut file: Option<(String, Digests)> = None;
    let mut name_override = query_name;
    let bad = |e: multer::Error| ApiError::bad_request(format!("multipart body: {e}"));
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        match field.name().unwrap_or("") {
            "hints" => {
                let text = field.text().await.map_err(bad)?;
                hints.extend(parse_hints_part(&text)?);
            }
            "filename" => name_override = Some(field.text().await.map_err(bad)?),
            _ if field.file_name().is_some() || field.name() == Some("file") => {
                if file.is_some() {
                    return Err(ApiError::bad_request("one file per upload"));
                }
                let fname = name_override
                    .clone()
                    .or_else(|| field.file_name().map(str::to_string))
                    .unwrap_or_default();
                check_filename(&fname)?;
                let s = field.map(|r| r.map_err(std::io::Error::other)).boxed();
                let d = app.packages.put(s).await?;
                file = Some((fname, d));
            }
            _ => {}
        }
    }
    let (mut fname, d) =
        file.ok_or_else(|| ApiError::bad_request("multipart body has no file part"))?;
    if let Some(n) = name_override {
        check_filename(&n)?;
        fname = n;
    }
    let _ = Body::Empty;
    Ok((fname, d))
}

fn parse_hints_part(text: &str) -> ApiResult<Vec<Hint>> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("hints part is not JSON: {e}")))?;
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| hint(k, v.as_str().unwrap_or(&v.to_string())))
            .collect(),
        serde_json::Value::Array(a) => a
            .iter()
            .map(|s| {
                let s = s.as_str().unwrap_or_default();
                let (k, v) = s
                    .split_once('=')
                    .ok_or_else(|| ApiError::bad_request(format!("hint {s:?} is not KEY=VALUE")))?;
                hint(k, v)
            })
            .collect(),
        _ => Err(ApiError::bad_request("hints part: a JSON object or array")),
    }
}
