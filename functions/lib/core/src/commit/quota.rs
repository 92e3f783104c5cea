//! Per-repo limits from the repo's settings: `max_upload` (a body over it is 413, cut off as
//! it streams), `quota_bytes` and `quota_packages` (checked against the head being
//! committed, inside the compare-and-set, so concurrent uploads cannot overshoot: 507), and
//! `generators` (only those claim, analyze and publish for the repo).
use crate::body::ByteStream;
use crate::error::{ApiError, ApiResult};
use crate::model::{Head, PackageRecord, RepoConfig};
use futures::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A body cut off at the repo's `max_upload`: whether it was.
#[derive(Default)]
pub(super) struct Cut(AtomicBool);

impl Cut {
    /// `e`, or the 413 naming the repo's limit when the body passed it.
    pub(super) fn explain(&self, config: &RepoConfig, e: ApiError) -> ApiError {
        match config.max_upload {
            Some(max) if self.0.load(Ordering::Relaxed) => too_large(config, max),
            _ => e,
        }
    }
}

fn too_large(config: &RepoConfig, max: u64) -> ApiError {
    ApiError::too_large(format!(
        "package larger than {max} bytes (repo {}'s max_upload)",
        config.name
    ))
}

/// The body, failing as soon as it passes the repo's `max_upload` (what was written is
/// deleted by the store, as for the server's limit).
pub(super) fn capped(config: &RepoConfig, stream: ByteStream) -> (ByteStream, Arc<Cut>) {
    let cut = Arc::new(Cut::default());
    let Some(max) = config.max_upload else {
        return (stream, cut);
    };
    let (mut seen, flag) = (0u64, cut.clone());
    let stream = stream
        .map(move |r| {
            let b = r?;
            seen += b.len() as u64;
            if seen > max {
                flag.0.store(true, Ordering::Relaxed);
                return Err(std::io::Error::other(format!("larger than {max} bytes")));
            }
            Ok(b)
        })
        .boxed();
    (stream, cut)
}

/// A stored package's size against the repo's `max_upload` (a large upload is PUT before
/// the repo sees it).
pub(super) fn check_size(config: &RepoConfig, size: u64) -> ApiResult<()> {
    match config.max_upload {
        Some(max) if size > max => Err(too_large(config, max)),
        _ => Ok(()),
    }
}

fn insufficient(detail: String) -> ApiError {
    ApiError::new(
        http::StatusCode::INSUFFICIENT_STORAGE,
        "quota exceeded",
        detail,
    )
}

/// Would `head` with `rec` added (and the records it replaces gone) exceed the repo's
/// quotas? Called on the head the compare-and-set is about to replace. A repeat of a file
/// already there changes nothing and always fits.
pub(super) fn fits(
    config: &RepoConfig,
    head: &Head,
    rec: &PackageRecord,
    one_version: &[String],
) -> ApiResult<()> {
    if (config.quota_packages.is_none() && config.quota_bytes.is_none())
        || head.packages.contains_key(&rec.filename)
    {
        return Ok(());
    }
    let gone: Vec<&PackageRecord> = super::record::replaced(head, rec, one_version)
        .iter()
        .filter_map(|f| head.packages.get(f))
        .collect();
    if let Some(quota) = config.quota_packages {
        let after = (head.packages.len() + 1 - gone.len()) as u64;
        if after > quota {
            return Err(insufficient(format!(
                "repo {}: quota_packages is {quota} and it holds {}; delete packages first",
                config.name,
                head.packages.len()
            )));
        }
    }
    if let Some(quota) = config.quota_bytes {
        // One pass over the records, only for repos with a byte quota.
        let used: u64 = head.packages.values().map(|r| r.size).sum();
        let after = used + rec.size - gone.iter().map(|r| r.size).sum::<u64>();
        if after > quota {
            return Err(insufficient(format!(
                "repo {}: quota_bytes is {quota}, {used} are used and {} is {} bytes; \
                 delete packages first",
                config.name, rec.filename, rec.size
            )));
        }
    }
    Ok(())
}

/// The settings' limits, checked when the repo is created: `generators` must name loaded
/// generators (a typo would silently publish nothing).
pub(super) fn check_settings(config: &RepoConfig, loaded: &[String]) -> ApiResult<()> {
    if config.max_upload == Some(0) {
        return Err(ApiError::bad_request(
            "repo settings: field \"max_upload\": must be at least 1 byte",
        ));
    }
    for g in config.generators.iter().flatten() {
        if !loaded.contains(g) {
            return Err(ApiError::bad_request(format!(
                "repo settings: field \"generators\": no generator named {g:?} (loaded: {})",
                loaded.join(", ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testkit::{answer, app, req, FakeGen};
    use std::sync::Arc;

    fn send(app: &crate::App, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        answer(app, req(method, path, body))
    }

    #[test]
    fn repo_limits_over_the_api() {
        let (app, _, _) = app(Arc::new(FakeGen::new()));
        for (json, field) in [
            (r#"{"quota_bytes": "1"}"#, "quota_bytes"),
            (r#"{"quota_package": 1}"#, "quota_package"),
            (r#"{"generators": ["nope"]}"#, "generators"),
        ] {
            let (status, body) = send(&app, "POST", "/repos/r/", json.as_bytes());
            assert_eq!(status, 400, "{json}: {body}");
            assert!(body.contains(&format!("\\\"{field}\\\"")), "{body}");
        }
        let settings = br#"{"quota_packages": 2, "quota_bytes": 20, "max_upload": 15}"#;
        assert_eq!(send(&app, "POST", "/repos/r/", settings).0, 201);
        let add = |name: &str, body: &str| {
            send(
                &app,
                "POST",
                &format!("/repos/r/packages/?filename={name}"),
                body.as_bytes(),
            )
        };
        let (status, body) = add("big", "PKG big 123456789");
        assert_eq!(status, 413, "{body}");
        assert!(body.contains("max_upload"), "{body}");
        assert_eq!(add("a", "PKG a 123456").0, 201);
        assert_eq!(add("a", "PKG a 123456").0, 200, "a repeat always fits");
        let (status, body) = add("b", "PKG b 12345678");
        assert_eq!(status, 507, "{body}");
        assert!(body.contains("quota_bytes"), "{body}");
        assert_eq!(add("c", "PKG c").0, 201);
        let (status, body) = add("d", "PKG d");
        assert_eq!(status, 507, "{body}");
        assert!(body.contains("quota_packages"), "{body}");
        let (_, listing) = send(&app, "GET", "/repos/r/packages/", b"");
        assert!(
            !listing.contains("\"b\"") && !listing.contains("\"d\""),
            "{listing}"
        );

        // generators: the fake one left out claims nothing and publishes nothing.
        assert_eq!(
            send(&app, "POST", "/repos/none/", br#"{"generators": []}"#).0,
            201
        );
        let (status, body) = send(&app, "POST", "/repos/none/packages/?filename=a", b"PKG a");
        assert_eq!(status, 422, "{body}");
    }
}
