//! reposmith-core: the engine shared by every target (local, Lambda, Spin). No wasmtime and
//! no AWS SDK here: generators and stores come in through traits.
//!
//! - `routes` maps a URL to a route; `handlers` has one plain function per route, which
//!   parses the request, calls one function of `commit` and shapes the response;
//! - `commit` is the commit protocol (store, analyze, compare-and-set, publish, serve), a
//!   file per step; `names` says which names a client may give; `error` is the one error
//!   type and its HTTP mapping;
//! - `assemble` builds a generator's bulk files natively; `store` and `generator` are the
//!   seams to backends and to the wasm host.
pub mod actor;
pub mod app;
pub mod assemble;
pub mod audit;
pub mod auth;
pub mod body;
pub mod client;
pub mod commit;
#[cfg(test)]
mod commit_tests;
pub mod counting;
pub mod digest;
pub mod error;
pub mod gc;
pub mod generator;
pub mod handlers;
pub mod health;
pub mod limits;
pub mod model;
pub mod names;
pub mod openapi;
pub mod query;
pub mod records;
pub mod registry;
pub mod respond;
pub mod routes;
pub mod store;
#[cfg(test)]
mod testkit;
pub mod throttle;
pub mod ui;

pub use app::{App, GeneratorLoader, Runtime};
pub use body::{Body, ByteStream, Request, Response};

/// The entry point every adapter calls: routes `req` to its handler, and marks every answer
/// for browsers (`respond::harden`).
pub async fn handle(app: &App, req: Request) -> Response {
    let mut resp = handlers::handle(app, req).await;
    respond::harden(resp.headers_mut());
    resp
}

pub fn json_response(status: http::StatusCode, value: &impl serde::Serialize) -> Response {
    let mut body = serde_json::to_vec_pretty(value).unwrap_or_else(|_| b"{}".to_vec());
    body.push(b'\n');
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("valid response")
}

/// The `Content-Type` of a published file by its name, when its generator chose none.
pub(crate) fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.').map(|(_, e)| e) {
        Some("gz") => "application/gzip",
        Some("xz") => "application/x-xz",
        Some("zst") => "application/zstd",
        Some("xml") => "application/xml",
        Some("json") => "application/json",
        Some("html") => "text/html; charset=utf-8",
        Some("asc") | Some("gpg") | Some("sig") => "application/pgp-signature",
        Some("deb") | Some("udeb") => "application/vnd.debian.binary-package",
        Some("rpm") => "application/x-rpm",
        _ if name == "Release" || name == "InRelease" || name == "Packages" => {
            "text/plain; charset=utf-8"
        }
        _ => "application/octet-stream",
    }
}

/// Files served by a redirect to storage when it offers one (see `blob_response`).
const REDIRECT_ABOVE: u64 = 1 << 20;

/// A stored blob as the answer to a GET (HEAD: the same headers, no body), by the request's
/// conditional and range headers (`respond`): 200, 206, 304 or 416.
pub(crate) async fn blob_response(
    app: &App,
    blob: &model::BlobRef,
    path: &str,
    headers: &http::HeaderMap,
    dates: respond::Dates,
    head_only: bool,
) -> error::ApiResult<Response> {
    use http::header;
    let (sha256, size) = (&blob.sha256, blob.size);
    let mut builder = http::Response::builder()
        .header(header::ETAG, format!("\"{sha256}\""))
        .header(header::ACCEPT_RANGES, "bytes");
    if let Some(lm) = dates.last_modified {
        builder = builder.header(header::LAST_MODIFIED, respond::format_date(lm));
    }
    let (status, start, len) = match respond::plan(headers, sha256, size, dates) {
        respond::Plan::NotModified => {
            return Ok(builder
                .status(http::StatusCode::NOT_MODIFIED)
                .body(Body::Empty)
                .expect("valid response"))
        }
        respond::Plan::Unsatisfiable => return Ok(respond::unsatisfiable(size)),
        respond::Plan::Whole => (http::StatusCode::OK, 0, size),
        respond::Plan::Part { start, len } => {
            builder = builder.header(
                header::CONTENT_RANGE,
                format!("bytes {start}-{}/{size}", start + len - 1),
            );
            (http::StatusCode::PARTIAL_CONTENT, start, len)
        }
    };
    let builder = builder
        .status(status)
        .header(
            header::CONTENT_TYPE,
            blob.media_type
                .as_deref()
                .unwrap_or_else(|| content_type(path)),
        )
        .header(header::CONTENT_LENGTH, len);
    if head_only {
        return Ok(builder.body(Body::Empty).expect("valid response"));
    }
    // Large files go straight from storage where it can hand out URLs: Lambda caps responses
    // at 6 MB, and the bytes need not pass through us. Storage answers the range itself. A
    // file joined from pieces (a big repo's Packages) is stored whole first, once.
    if size > REDIRECT_ABOVE {
        let name = path.rsplit('/').next().unwrap_or(path);
        if let Some(url) = app.packages.presigned_get(sha256, name).await? {
            if !blob.pieces.is_empty() {
                commit::store_whole(app, blob).await?;
            }
            return Ok(http::Response::builder()
                .status(http::StatusCode::TEMPORARY_REDIRECT)
                .header(header::LOCATION, url)
                .body(Body::Empty)
                .expect("valid response"));
        }
    }
    let body = respond::body(app, blob, start, len).await?;
    Ok(builder.body(body).expect("valid response"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BlobRef, Piece};
    use crate::testkit::{app, FakeGen, MemBlobs};
    use bytes::Bytes;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    /// Every answer, whatever made it (a listing, an error, a served file, a 404 route),
    /// carries the browser hardening headers.
    #[test]
    fn every_answer_is_hardened() {
        let (app, _, _) = app(Arc::new(FakeGen::new()));
        let send = |method: &str, path: &str| {
            let req = http::Request::builder()
                .method(method)
                .uri(path)
                .header("authorization", "Bearer t")
                .body(Body::Empty)
                .unwrap();
            futures::executor::block_on(handle(&app, req))
        };
        assert_eq!(send("POST", "/repos/r/").status(), 201);
        for (method, path) in [
            ("GET", "/"),
            ("GET", "/repos/r/"),
            ("GET", "/repos/r/key.asc"),
            ("GET", "/repos/nope/"),
            ("GET", "/repos/r/packages/%2Fetc%2Fpasswd"),
            ("DELETE", "/metrics"),
            ("GET", "/a/b/c/d"),
        ] {
            let r = send(method, path);
            let h = r.headers();
            assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
            let csp = h["content-security-policy"].to_str().unwrap();
            assert!(csp.starts_with("default-src 'none'"), "{path}: {csp}");
        }
    }

    /// A file of `parts`, each stored as a piece, and its bytes.
    fn composite(app: &App, parts: &[Bytes]) -> (BlobRef, Vec<u8>) {
        let whole: Vec<u8> = parts.concat();
        let pieces = futures::executor::block_on(async {
            let mut pieces = Vec::new();
            for p in parts {
                let d = app.packages.put_bytes(p.clone()).await.unwrap();
                pieces.push(Piece {
                    sha256: d.sha256,
                    size: d.size,
                });
            }
            pieces
        });
        let blob = BlobRef {
            sha256: digest::sha256_hex(&whole),
            size: whole.len() as u64,
            pieces,
            media_type: None,
        };
        (blob, whole)
    }

    /// A file of 48 pieces on a store whose reads are round trips (S3).
    fn remote_composite() -> (Arc<App>, Arc<MemBlobs>, BlobRef, Vec<u8>) {
        let (app, _, blobs) = app(Arc::new(FakeGen::new()));
        let parts: Vec<Bytes> = (0..48u8).map(|i| Bytes::from(vec![i; 30 << 10])).collect();
        let (blob, whole) = composite(&app, &parts);
        blobs.remote_reads.store(true, Ordering::SeqCst);
        (app, blobs, blob, whole)
    }

    /// GET of `blob` served as a Packages file.
    fn get_packages(app: &App, blob: &BlobRef) -> http::Response<Body> {
        futures::executor::block_on(packages_response(app, blob))
    }

    async fn packages_response(app: &App, blob: &BlobRef) -> http::Response<Body> {
        let path = "dist/dists/stable/main/binary-amd64/Packages";
        let none = http::HeaderMap::new();
        let dates = respond::Dates::default();
        blob_response(app, blob, path, &none, dates, false)
            .await
            .unwrap()
    }

    /// A file joined from pieces, too big to pass through Lambda: where storage presigns,
    /// it is stored whole once and the GET redirects to it; elsewhere it streams.
    #[test]
    fn a_large_composite_file_is_stored_whole_and_redirected() {
        let (app, _, blobs) = app(Arc::new(FakeGen::new()));
        let (blob, whole) = composite(
            &app,
            &[
                Bytes::from(vec![b'a'; 700 << 10]),
                Bytes::from(vec![b'b'; 700 << 10]),
            ],
        );
        let get = || get_packages(&app, &blob);
        let stored = || blobs.blobs.lock().unwrap().get(&blob.sha256).cloned();

        assert_eq!(get().status(), 200, "no presigning: streamed");
        assert!(stored().is_none(), "stored whole without need");

        blobs.presign.store(true, Ordering::Relaxed);
        for _ in 0..2 {
            let r = get();
            assert_eq!(r.status(), 307);
            let to = r.headers()[http::header::LOCATION].to_str().unwrap();
            assert_eq!(to, format!("mem://{}", blob.sha256));
            assert_eq!(stored().as_deref(), Some(&whole[..]));
        }
    }

    /// From a store whose reads are round trips (S3), a file joined for a redirect reads
    /// many of its pieces at once (the GET waits on it all), a stream to a client a few.
    #[test]
    fn a_file_joined_for_a_redirect_reads_many_pieces_at_once() {
        use crate::commit::{PIECES_AHEAD, WHOLE_AHEAD};
        use futures::StreamExt;
        let (app, blobs, blob, whole) = remote_composite();
        let most = || blobs.gets.most.swap(0, Ordering::SeqCst) as usize;

        let streamed = futures::executor::block_on(async {
            let mut s = crate::commit::open_blob(&app, &blob, 0, None)
                .await
                .unwrap();
            let mut n = 0;
            while let Some(c) = s.next().await {
                n += c.unwrap().len();
            }
            n
        });
        assert_eq!(streamed, whole.len());
        assert_eq!(most(), PIECES_AHEAD, "a client's stream");

        blobs.presign.store(true, Ordering::Relaxed);
        assert_eq!(get_packages(&app, &blob).status(), 307);
        let stored = blobs.blobs.lock().unwrap().get(&blob.sha256).cloned();
        assert_eq!(stored.as_deref(), Some(&whole[..]));
        assert_eq!(most(), WHOLE_AHEAD, "joined for a redirect");
    }

    /// GETs that come together for a big file not yet stored whole wait on one join: each
    /// would read all its pieces and store it again (after a publish, every client that
    /// comes for the new Packages.xz).
    #[test]
    fn gets_that_come_together_for_a_file_join_it_once() {
        use crate::commit::WHOLE_AHEAD;
        let (app, blobs, blob, whole) = remote_composite();
        blobs.presign.store(true, Ordering::Relaxed);
        let gets = (0..4).map(|_| packages_response(&app, &blob));
        let answers = futures::executor::block_on(futures::future::join_all(gets));
        assert!(answers.iter().all(|a| a.status() == 307));
        let stored = blobs.blobs.lock().unwrap().get(&blob.sha256).cloned();
        assert_eq!(stored.as_deref(), Some(&whole[..]));
        // one join's pieces under way at most, not four joins'
        let most = blobs.gets.most.load(Ordering::SeqCst) as usize;
        assert_eq!(most, WHOLE_AHEAD);
        assert!(app.joins.lock().is_empty(), "a finished join is forgotten");
    }
}
