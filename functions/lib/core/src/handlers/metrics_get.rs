//! `GET /metrics`: the store calls this process made since start, in Prometheus' text format
//! (what a scraper reads; the benchmarks diff two readings to get requests per upload).
use crate::app::App;
use crate::body::{Body, Response};
use crate::error::ApiResult;
use std::fmt::Write;

pub async fn get(app: &App) -> ApiResult<Response> {
    let mut out = String::from(
        "# HELP reposmith_store_calls_total Calls into the stores since start, by store and call.\n\
         # TYPE reposmith_store_calls_total counter\n",
    );
    for (store, call, n) in app.store_counts.counts() {
        let _ = writeln!(
            out,
            "reposmith_store_calls_total{{store=\"{store}\",call=\"{call}\"}} {n}"
        );
    }
    if let Some(backend) = app.backend_counts {
        out.push_str(
            "# HELP reposmith_backend_requests_total Requests sent to the storage services \
             since start, retries included.\n\
             # TYPE reposmith_backend_requests_total counter\n",
        );
        for (label, n) in backend() {
            // `DynamoDB.GetItem`, `S3.PUT`
            let (service, op) = label.split_once('.').unwrap_or(("", &label));
            let _ = writeln!(
                out,
                "reposmith_backend_requests_total{{service=\"{service}\",operation=\"{op}\"}} {n}"
            );
        }
    }
    Ok(http::Response::builder()
        .status(http::StatusCode::OK)
        .header(
            http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(Body::from(out.into_bytes()))
        .expect("valid response"))
}
