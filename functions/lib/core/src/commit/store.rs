//! Step 1: the package bytes go into the package store under their sha256 as they stream
//! by (all four digests computed on the way), from a plain body or a multipart form.
use crate::app::App;
use crate::app::Lock;
use crate::body::ByteStream;
use crate::digest::Digests;
use crate::error::{ApiError, ApiResult};
use crate::generator::Hint;
use crate::limits::small_field;
use crate::names::{check_filename, hint, hint_pair};
use bytes::Bytes;
use futures::StreamExt;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

/// A package upload's body as the request carries it.
pub enum PackageBody {
    /// The file itself.
    Plain(ByteStream),
    /// multipart/form-data with a `file` part and optional `hints` (a JSON object or
    /// ["KEY=VALUE"]) and `filename` parts.
    Multipart {
        stream: ByteStream,
        boundary: String,
    },
}

/// A stored package: its name, the client's hints and the digests of its bytes.
pub struct StoredPackage {
    pub filename: String,
    pub hints: Vec<Hint>,
    pub digests: Digests,
    /// Its bytes, when small enough to keep for its analysis.
    pub(crate) copy: Option<BodyCopy>,
}

/// The largest package whose bytes an upload keeps for its analysis, and what all uploads in
/// a process keep at once: past either, the analysis reads the package store.
const COPY_MAX: usize = 1 << 20;
const COPY_BUDGET: usize = 64 << 20;
static COPIED: AtomicUsize = AtomicUsize::new(0);

/// A small upload's bytes, kept from its body as it streamed into the store, so that its
/// analysis need not read them back (a GET an upload on S3, the whole blob on Spin).
pub(crate) struct BodyCopy {
    pub(crate) data: Bytes,
}

impl Drop for BodyCopy {
    fn drop(&mut self) {
        COPIED.fetch_sub(self.data.len(), Relaxed);
    }
}

fn reserve(n: usize) -> bool {
    COPIED
        .fetch_update(Relaxed, Relaxed, |k| {
            (k + n <= COPY_BUDGET).then_some(k + n)
        })
        .is_ok()
}

/// The chunks a body kept so far and the bytes they reserve, given back when this is dropped
/// (also when the request is cancelled mid-body); `over` once the body outgrew a limit.
#[derive(Default)]
struct Kept {
    list: Vec<Bytes>,
    n: usize,
    over: bool,
}

impl Drop for Kept {
    fn drop(&mut self) {
        COPIED.fetch_sub(self.n, Relaxed);
    }
}

/// `app.packages.put(stream)`, keeping a copy of the bytes when they stay within the limits.
async fn put_copied(
    app: &App,
    stream: ByteStream,
) -> Result<(Digests, Option<BodyCopy>), crate::store::StoreError> {
    let kept: Arc<Lock<Kept>> = Arc::default();
    let seen = kept.clone();
    let stream = stream
        .inspect(move |r| {
            let Ok(chunk) = r else { return };
            let mut k = seen.lock();
            if k.over {
                return;
            }
            if k.n + chunk.len() <= COPY_MAX && reserve(chunk.len()) {
                k.list.push(chunk.clone());
                k.n += chunk.len();
            } else {
                COPIED.fetch_sub(std::mem::take(&mut k.n), Relaxed);
                k.list.clear();
                k.over = true;
            }
        })
        .boxed();
    let stored = app.packages.put(stream).await?;
    let mut k = kept.lock();
    let copy = (!k.over && stored.size == k.n as u64).then(|| {
        // The reservation moves to the copy.
        k.n = 0;
        BodyCopy {
            data: Bytes::from(std::mem::take(&mut k.list).concat()),
        }
    });
    Ok((stored, copy))
}

/// Stores the file of an upload. `filename` is the one the request names outside the body
/// (a multipart `filename` part or the file part's own name stand in when it names none).
pub(super) async fn store_package(
    app: &App,
    repo: &str,
    filename: Option<String>,
    mut hints: Vec<Hint>,
    body: PackageBody,
) -> ApiResult<StoredPackage> {
    let (filename, (digests, copy)) = match body {
        PackageBody::Plain(stream) => {
            let filename = filename.unwrap_or_default();
            check_filename(&filename)?;
            let d = store_copied(app, repo, &filename, &hints, stream).await?;
            (filename, d)
        }
        PackageBody::Multipart { stream, boundary } => {
            multipart(app, repo, stream, boundary, filename, &mut hints).await?
        }
    };
    Ok(StoredPackage {
        filename,
        hints,
        digests,
        copy,
    })
}

/// Streams a body into the package store once a generator claims its first bytes; an empty
/// one is the client's mistake.
pub(crate) async fn store_bytes(
    app: &App,
    repo: &str,
    filename: &str,
    hints: &[Hint],
    stream: ByteStream,
) -> ApiResult<Digests> {
    let stream = claimed(app, repo, filename, hints, stream).await?;
    let d = app.packages.put(stream).await?;
    non_empty(d)
}

/// [`store_bytes`], keeping a small body's bytes for its analysis.
pub(crate) async fn store_copied(
    app: &App,
    repo: &str,
    filename: &str,
    hints: &[Hint],
    stream: ByteStream,
) -> ApiResult<(Digests, Option<BodyCopy>)> {
    let stream = claimed(app, repo, filename, hints, stream).await?;
    let (d, copy) = put_copied(app, stream).await?;
    Ok((non_empty(d)?, copy))
}

/// The upload's stream, whole again, once some generator claims it by its first bytes: a file
/// no generator claims is refused (422) before any of it is stored. An empty body passes (its
/// caller says what is wrong with it).
async fn claimed(
    app: &App,
    repo: &str,
    filename: &str,
    hints: &[Hint],
    stream: ByteStream,
) -> ApiResult<ByteStream> {
    // Fused: a body shorter than the head has ended here, and is polled again below.
    let mut stream = stream.fuse();
    let want = super::analyze::HEAD_BYTES as usize;
    let mut head = Vec::new();
    while head.len() < want {
        match stream.next().await {
            Some(chunk) => head.extend_from_slice(&chunk?),
            None => break,
        }
    }
    if !head.is_empty() {
        let first = bytes::Bytes::copy_from_slice(&head[..head.len().min(want)]);
        super::analyze::check_claimed(app, repo, filename, first, hints).await?;
    }
    let head = bytes::Bytes::from(head);
    Ok(futures::stream::once(async move { Ok(head) })
        .chain(stream)
        .boxed())
}

pub(super) fn non_empty(d: Digests) -> ApiResult<Digests> {
    if d.size == 0 {
        return Err(ApiError::bad_request("empty body: send the package file"));
    }
    Ok(d)
}

async fn multipart(
    app: &App,
    repo: &str,
    stream: ByteStream,
    boundary: String,
    mut name_override: Option<String>,
    hints: &mut Vec<Hint>,
) -> ApiResult<(String, (Digests, Option<BodyCopy>))> {
    let mut mp = multer::Multipart::new(stream, boundary);
    let mut file: Option<(String, (Digests, Option<BodyCopy>))> = None;
    let bad = |e: multer::Error| ApiError::bad_request(format!("multipart body: {e}"));
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        match field.name().unwrap_or("") {
            "hints" => {
                let text = small_field(field, app.limits.max_field).await?;
                hints.extend(parse_hints_part(&text)?);
            }
            "filename" => name_override = Some(small_field(field, app.limits.max_field).await?),
            _ if field.file_name().is_some() || field.name() == Some("file") => {
                if file.is_some() {
                    return Err(ApiError::bad_request("one file per upload"));
                }
                let fname = name_override
                    .clone()
                    .or_else(|| field.file_name().map(str::to_string))
                    .unwrap_or_default();
                check_filename(&fname)?;
                // A part the multipart parser fails (cut short, a broken boundary) is the
                // body's fault: 400, not the 500 of a failed store or claim.
                let cut = Arc::new(OnceLock::new());
                let seen = cut.clone();
                let s = field
                    .map(move |r| {
                        r.map_err(|e| {
                            let _ = seen.set(e.to_string());
                            std::io::Error::other(e)
                        })
                    })
                    .boxed();
                let stored = match claimed(app, repo, &fname, hints, s).await {
                    Ok(s) => put_copied(app, s).await.map_err(ApiError::from),
                    Err(e) => Err(e),
                };
                let d = stored.map_err(|e| match cut.get() {
                    Some(m) => ApiError::bad_request(format!("multipart body: {m}")),
                    None => e,
                })?;
                file = Some((fname, d));
            }
            // Any other part is read through without keeping it.
            _ => {
                let mut other = field;
                while other.chunk().await.map_err(bad)?.is_some() {}
            }
        }
    }
    let (mut fname, (d, copy)) =
        file.ok_or_else(|| ApiError::bad_request("multipart body has no file part"))?;
    // A `filename` part after the file part still names it.
    if let Some(n) = name_override {
        check_filename(&n)?;
        fname = n;
    }
    Ok((fname, (non_empty(d)?, copy)))
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
            .map(|s| hint_pair(s.as_str().unwrap_or_default()))
            .collect(),
        _ => Err(ApiError::bad_request("hints part: a JSON object or array")),
    }
}

/// Stores a small blob the protocol made (an analysis, a signature, a head bucket, a piece of
/// an index file, a manifest), retrying a failed write a few times: blobs are
/// content-addressed, so a write is idempotent and a retry always safe. A publish writes a
/// piece per changed segment and encoding; one lost write should not fail it.
pub async fn put_blob(app: &App, data: bytes::Bytes) -> ApiResult<crate::model::BlobRef> {
    const ATTEMPTS: u32 = 4;
    let mut attempt = 0;
    loop {
        match app.packages.put_bytes(data.clone()).await {
            Ok(d) => return Ok(d),
            Err(_) if attempt + 1 < ATTEMPTS => {
                attempt += 1;
                app.runtime
                    .sleep(std::time::Duration::from_millis(10 << attempt))
                    .await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Blobs at most stored at once by [`put_blobs`]: on S3, where each is a round trip and the
/// service takes thousands at once, enough that a rebuild's hundreds of pieces go out in a few
/// rounds; on local disk, few enough not to hold many files open.
fn puts_at_once(app: &App) -> usize {
    if app.packages.reads_are_remote() {
        crate::store::REMOTE_AT_ONCE
    } else {
        16
    }
}

/// [`put_blob`] for several blobs at once, in order: on S3 each is a PUT, and a publish's
/// patches and finished files written one after another cost a round trip each (deb: 14
/// patches a publish).
pub(crate) async fn put_blobs(
    app: &App,
    blobs: Vec<bytes::Bytes>,
) -> ApiResult<Vec<crate::model::BlobRef>> {
    use futures::TryStreamExt;
    futures::stream::iter(blobs.into_iter().map(|b| put_blob(app, b)))
        .buffered(puts_at_once(app))
        .try_collect()
        .await
}

#[cfg(test)]
mod tests {
    use crate::testkit::{answer, app, req, FakeGen};
    use std::sync::Arc;

    fn post(app: &crate::App, path: &str, ctype: &str, body: &[u8]) -> (u16, String) {
        let mut r = req("POST", path, body);
        r.headers_mut()
            .insert("content-type", ctype.parse().unwrap());
        answer(app, r)
    }

    /// Found by fuzz/ (target multipart, fuzz/regressions/multipart/): a file part that ends
    /// without its closing boundary was a 500.
    #[test]
    fn a_file_part_cut_short_is_400() {
        let (app, _, _) = app(Arc::new(FakeGen::new()));
        assert_eq!(post(&app, "/repos/r", "application/json", b"").0, 201);
        let ctype = "multipart/form-data; boundary=fuzz";
        let cut = b"--fuzz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.fake\"\r\n\r\nPKG a\n\r\n--fuz";
        let (status, body) = post(&app, "/repos/r/packages/", ctype, cut);
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("multipart body: "), "{body}");
        // Cut inside the first 4 KiB the claim reads, and after it.
        let mut long = cut[..cut.len() - 9].to_vec();
        long.extend(vec![b'x'; 10_000]);
        let (status, body) = post(&app, "/repos/r/packages/", ctype, &long);
        assert_eq!(status, 400, "{body}");
    }
}
