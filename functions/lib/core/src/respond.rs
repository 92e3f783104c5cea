//! HTTP semantics of a served blob, the same on every target (local, Lambda, Spin):
//! validators (`ETag`: the sha256, quoted; `Last-Modified`), conditional requests
//! (`If-None-Match`, `If-Modified-Since` → 304) and single byte ranges (`Range`, `If-Range`
//! → 206, 416 when unsatisfiable). `plan` decides from the request headers alone; `body`
//! serves small blobs from memory.
use crate::app::App;
use crate::body::Body;
use crate::error::{ApiError, ApiResult};
use crate::model::BlobRef;
use bytes::Bytes;
use http::header::{HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, RANGE};
use std::time::{Duration, UNIX_EPOCH};

/// Headers on every answer: no answer but the web interface's is HTML or script, so a
/// browser that opens one (a package, an index, a JSON error echoing a client's path) must
/// neither sniff it into HTML nor run anything in it. The interface's pages bring their own
/// policy (`ui::CSP`: this server's script and style only), which stays. Static values: two
/// inserts per request.
pub fn harden(headers: &mut HeaderMap) {
    use http::header::{HeaderValue, CONTENT_SECURITY_POLICY, X_CONTENT_TYPE_OPTIONS};
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if !headers.contains_key(CONTENT_SECURITY_POLICY) {
        headers.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; sandbox"),
        );
    }
}

/// What a blob's dates promise.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dates {
    /// `Last-Modified`, in seconds since the epoch (None: not sent, dates never match).
    pub last_modified: Option<u64>,
    /// Whether a date equal to `last_modified` names these bytes only. False when other
    /// bytes were served under the same second (two generations published in one second):
    /// then only a later date, or the ETag, can answer 304 or resume a range.
    pub exact: bool,
}

/// How to answer a GET/HEAD of a blob of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// 304: the client's copy is current.
    NotModified,
    /// 200 with the whole blob.
    Whole,
    /// 206 with `len` bytes from `start`.
    Part { start: u64, len: u64 },
    /// 416: no byte of the blob is in the range asked.
    Unsatisfiable,
}

/// Decides the answer from the request's headers (RFC 9110 §13.2.2: `If-None-Match`, else
/// `If-Modified-Since`; then `Range`, honoured when `If-Range`, if any, still matches).
pub fn plan(headers: &HeaderMap, sha256: &str, size: u64, dates: Dates) -> Plan {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(inm) = text(IF_NONE_MATCH) {
        if etag_listed(inm, sha256) {
            return Plan::NotModified;
        }
    } else if let Some(since) = text(IF_MODIFIED_SINCE).and_then(parse_date) {
        if dates
            .last_modified
            .is_some_and(|lm| unchanged_since(lm, since, dates.exact))
        {
            return Plan::NotModified;
        }
    }
    let Some(range) = text(RANGE) else {
        return Plan::Whole;
    };
    if let Some(cond) = text(IF_RANGE) {
        if !if_range_holds(cond, sha256, dates) {
            return Plan::Whole;
        }
    }
    match parse_range(range, size) {
        Some(Some((start, len))) => Plan::Part { start, len },
        Some(None) => Plan::Unsatisfiable,
        None => Plan::Whole,
    }
}

/// A client whose copy dates from `since` has these bytes (last modified at `lm`).
fn unchanged_since(lm: u64, since: u64, exact: bool) -> bool {
    since > lm || (since == lm && exact)
}

fn etag_listed(list: &str, sha256: &str) -> bool {
    list.split(',').map(str::trim).any(|t| {
        t == "*" || {
            let t = t.strip_prefix("W/").unwrap_or(t);
            t.strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .is_some_and(|t| t == sha256)
        }
    })
}

/// `If-Range`: a strong ETag, or the exact `Last-Modified` date (when that date is exact).
fn if_range_holds(cond: &str, sha256: &str, dates: Dates) -> bool {
    let cond = cond.trim();
    if cond.starts_with('"') || cond.starts_with("W/") {
        return cond.strip_prefix('"').and_then(|t| t.strip_suffix('"')) == Some(sha256);
    }
    dates.exact && parse_date(cond).is_some_and(|d| Some(d) == dates.last_modified)
}

fn parse_date(s: &str) -> Option<u64> {
    let t = httpdate::parse_http_date(s.trim()).ok()?;
    Some(t.duration_since(UNIX_EPOCH).ok()?.as_secs())
}

pub fn format_date(secs: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

/// A single `bytes=` range over `size` bytes: None when the header is to be ignored (another
/// unit, several ranges, bad syntax: the whole blob then), Some(None) when unsatisfiable,
/// else the start and length.
fn parse_range(header: &str, size: u64) -> Option<Option<(u64, u64)>> {
    let spec = header.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (start, end) = match (first.trim().is_empty(), last.trim().is_empty()) {
        // `-n`: the last n bytes.
        (true, false) => {
            let n = num(last)?;
            if n == 0 || size == 0 {
                return Some(None);
            }
            (size - n.min(size), size - 1)
        }
        // `a-`: from a to the end.
        (false, true) => (num(first)?, size.saturating_sub(1)),
        // `a-b`: both inclusive; b past the end means the end.
        (false, false) => {
            let (a, b) = (num(first)?, num(last)?);
            if b < a {
                return None;
            }
            (a, b.min(size.saturating_sub(1)))
        }
        (true, true) => return None,
    };
    if start >= size {
        return Some(None);
    }
    Some(Some((start, end - start + 1)))
}

/// A blob of `size` bytes as a 416 answer (a JSON body saying why).
pub fn unsatisfiable(size: u64) -> crate::Response {
    let mut r = ApiError::new(
        http::StatusCode::RANGE_NOT_SATISFIABLE,
        "range not satisfiable",
        format!("the file has {size} bytes"),
    )
    .into_response();
    r.headers_mut().insert(
        http::header::CONTENT_RANGE,
        http::HeaderValue::from_str(&format!("bytes */{size}")).expect("ASCII"),
    );
    r
}

/// Blobs up to this size are kept in memory whole once served (index files, most
/// packages); larger ones stream from the store each time.
const KEEP_BELOW: u64 = 8 << 20;
/// Memory the kept blobs may take in all (least recently served go first).
const KEEP_BYTES: usize = 32 << 20;

/// Small served blobs, whole, by sha256: content-addressed, so never stale.
pub(crate) struct BlobCache {
    map: lru::LruCache<String, Bytes>,
    bytes: usize,
}

impl Default for BlobCache {
    fn default() -> Self {
        BlobCache {
            map: lru::LruCache::unbounded(),
            bytes: 0,
        }
    }
}

impl BlobCache {
    fn get(&mut self, sha256: &str) -> Option<Bytes> {
        self.map.get(sha256).cloned()
    }

    fn put(&mut self, sha256: &str, data: Bytes) {
        self.bytes += data.len();
        if let Some(old) = self.map.put(sha256.to_string(), data) {
            self.bytes -= old.len();
        }
        while self.bytes > KEEP_BYTES {
            match self.map.pop_lru() {
                Some((_, old)) => self.bytes -= old.len(),
                None => break,
            }
        }
    }
}

/// `len` bytes of `blob` from `start`: from memory for a small blob (read whole once),
/// else streamed from the store (`commit::open_blob`, which handles composite blobs).
pub async fn body(app: &App, blob: &BlobRef, start: u64, len: u64) -> ApiResult<Body> {
    if blob.size > KEEP_BELOW {
        let s = crate::commit::open_blob(app, blob, start, Some(len)).await?;
        return Ok(Body::Stream(s));
    }
    let cached = app.blobs.lock().get(&blob.sha256);
    let whole = match cached {
        Some(b) => b,
        None => {
            let b = crate::commit::read_blob(app, blob).await?;
            if b.len() as u64 != blob.size {
                return Err(ApiError::internal(format!(
                    "blob {} has {} bytes, {} expected",
                    blob.sha256,
                    b.len(),
                    blob.size
                )));
            }
            app.blobs.lock().put(&blob.sha256, b.clone());
            b
        }
    };
    Ok(Body::Bytes(
        whole.slice(start as usize..(start + len) as usize),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "abc";

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, v.parse().unwrap());
        }
        m
    }

    fn dates(lm: u64, exact: bool) -> Dates {
        Dates {
            last_modified: Some(lm),
            exact,
        }
    }

    #[test]
    fn conditional_requests() {
        let d = dates(1_000_000_000, true);
        let lm = format_date(1_000_000_000);
        let p = |pairs: &[(&'static str, &str)], d| plan(&h(pairs), SHA, 10, d);
        assert_eq!(p(&[], d), Plan::Whole);
        assert_eq!(p(&[("if-none-match", "\"abc\"")], d), Plan::NotModified);
        assert_eq!(
            p(&[("if-none-match", "\"x\", W/\"abc\"")], d),
            Plan::NotModified
        );
        assert_eq!(p(&[("if-none-match", "*")], d), Plan::NotModified);
        assert_eq!(p(&[("if-none-match", "\"x\"")], d), Plan::Whole);
        assert_eq!(p(&[("if-modified-since", &lm)], d), Plan::NotModified);
        // A date shared with other bytes is not proof; a later one is.
        assert_eq!(
            p(&[("if-modified-since", &lm)], dates(1_000_000_000, false)),
            Plan::Whole
        );
        let later = format_date(1_000_000_001);
        assert_eq!(
            p(
                &[("if-modified-since", &later)],
                dates(1_000_000_000, false)
            ),
            Plan::NotModified
        );
        let earlier = format_date(999_999_999);
        assert_eq!(p(&[("if-modified-since", &earlier)], d), Plan::Whole);
        // If-None-Match wins over If-Modified-Since.
        assert_eq!(
            p(&[("if-none-match", "\"x\""), ("if-modified-since", &lm)], d),
            Plan::Whole
        );
        assert_eq!(p(&[("if-modified-since", "yesterday")], d), Plan::Whole);
    }

    #[test]
    fn ranges() {
        let d = Dates::default();
        let p = |r: &str, size| plan(&h(&[("range", r)]), SHA, size, d);
        assert_eq!(p("bytes=0-3", 10), Plan::Part { start: 0, len: 4 });
        assert_eq!(p("bytes=4-", 10), Plan::Part { start: 4, len: 6 });
        assert_eq!(p("bytes=-3", 10), Plan::Part { start: 7, len: 3 });
        assert_eq!(p("bytes=-30", 10), Plan::Part { start: 0, len: 10 });
        assert_eq!(p("bytes=5-100", 10), Plan::Part { start: 5, len: 5 });
        assert_eq!(p("bytes=10-", 10), Plan::Unsatisfiable);
        assert_eq!(p("bytes=10-20", 10), Plan::Unsatisfiable);
        assert_eq!(p("bytes=-0", 10), Plan::Unsatisfiable);
        assert_eq!(p("bytes=0-", 0), Plan::Unsatisfiable);
        for ignored in [
            "bytes=3-1",
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=+1-2",
        ] {
            assert_eq!(p(ignored, 10), Plan::Whole, "{ignored}");
        }
        // If-Range: the range only while the validator still matches.
        let lm = format_date(1_000_000_000);
        let r = |cond: &str, d| plan(&h(&[("range", "bytes=2-"), ("if-range", cond)]), SHA, 10, d);
        assert_eq!(r("\"abc\"", d), Plan::Part { start: 2, len: 8 });
        assert_eq!(r("\"x\"", d), Plan::Whole);
        assert_eq!(r("W/\"abc\"", d), Plan::Whole);
        assert_eq!(
            r(&lm, dates(1_000_000_000, true)),
            Plan::Part { start: 2, len: 8 }
        );
        assert_eq!(r(&lm, dates(1_000_000_000, false)), Plan::Whole);
        assert_eq!(r(&lm, dates(1_000_000_001, true)), Plan::Whole);
    }

    #[test]
    fn the_blob_cache_keeps_to_its_budget() {
        let mut c = BlobCache::default();
        let big = Bytes::from(vec![0u8; 5 << 20]);
        for i in 0..20 {
            c.put(&format!("{i}"), big.clone());
        }
        assert!(c.bytes <= KEEP_BYTES);
        assert!(c.get("19").is_some() && c.get("0").is_none());
    }
}
