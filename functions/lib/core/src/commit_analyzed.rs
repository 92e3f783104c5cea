//! Steps 3–4 for a record analyzed under a provisional name (Vieter's publish: the pacman
//! generator names the package after its content), so the package is analyzed once.
//! To fold into the commit module beside `add_stored`, whose tail this is.
use crate::app::App;
use crate::commit::{commit_record, ensure_published, load_head, sign_package};
use crate::error::{ApiError, ApiResult};
use crate::model::{PackageRecord, Published};

/// Commits `record` (its `filename` final) and publishes. Returns the record, the published
/// generation, and whether it was new (false: the same bytes again under that name).
pub async fn add_analyzed(
    app: &App,
    repo: &str,
    mut record: PackageRecord,
) -> ApiResult<(PackageRecord, Published, bool)> {
    let (head, _) = load_head(app, repo).await?;
    if let Some(old) = head.packages.get(&record.filename) {
        if old.sha256 != record.sha256 {
            return Err(ApiError::conflict(format!(
                "{} already exists with other content (sha256 {}); delete it first",
                record.filename, old.sha256
            )));
        }
        let published = ensure_published(app, repo, head.seq).await?;
        return Ok((old.clone(), published, false));
    }
    record.signature = Some(sign_package(app, &record.sha256).await?);
    let (seq, new) = commit_record(app, repo, record.clone()).await?;
    let published = ensure_published(app, repo, seq).await?;
    Ok((record, published, new))
}
