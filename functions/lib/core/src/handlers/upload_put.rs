//! `PUT /repos/{repo}/uploads/{id}`: the bytes of a large upload, streamed into the
//! package store (this server's stand-in for a presigned storage PUT).
use crate::app::App;
use crate::body::{Request, Response};
use crate::commit::put_upload;
use crate::error::ApiResult;

pub async fn put(app: &App, repo: &str, id: &str, req: Request) -> ApiResult<Response> {
    super::ok_json(&put_upload(app, repo, id, req.into_body().into_stream()).await?)
}
