//! `GET/HEAD /repos/{repo}/packages/{package}`: the uploaded file, streamed or by a 307 to
//! a presigned storage URL when the package store offers one.
use crate::app::App;
use crate::body::{Body, Response};
use crate::commit::package;
use crate::error::ApiResult;

pub async fn get(
    app: &App,
    repo: &str,
    filename: &str,
    headers: &http::HeaderMap,
    head_only: bool,
) -> ApiResult<Response> {
    let rec = package(app, repo, filename).await?;
    if let Some(url) = app.packages.presigned_get(&rec.sha256, filename).await? {
        return Ok(http::Response::builder()
            .status(http::StatusCode::TEMPORARY_REDIRECT)
            .header(http::header::LOCATION, url)
            .body(Body::Empty)
            .expect("valid response"));
    }
    crate::blob_response(
        app,
        &crate::model::BlobRef::stored(rec.sha256.clone(), rec.size),
        filename,
        headers,
        // A file name keeps its bytes from its upload on (other bytes are refused).
        crate::respond::Dates {
            last_modified: Some(rec.uploaded),
            exact: true,
        },
        head_only,
    )
    .await
}
