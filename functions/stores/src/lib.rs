//! Storage backends, chosen by URL, one file each:
//! - `file://DIR` package store (`package_file`) and metadata store (`meta_file`): the
//!   embedded default, nothing to install.
//!
//! S3 and DynamoDB come next, behind the same traits.
mod meta_file;
mod package_file;

pub use meta_file::FileMetaStore;
pub use package_file::FilePackageStore;

use reposmith_core::store::{MetaStore, PackageStore};
use std::path::PathBuf;
use std::sync::Arc;

fn file_path(url: &str) -> Option<PathBuf> {
    url.strip_prefix("file://").map(PathBuf::from)
}

pub fn open_package_store(url: &str) -> anyhow::Result<Arc<dyn PackageStore>> {
    match file_path(url) {
        Some(p) => Ok(Arc::new(FilePackageStore::open(p)?)),
        None => anyhow::bail!("unsupported package store URL {url:?} (known: file://DIR)"),
    }
}

pub fn open_meta_store(url: &str) -> anyhow::Result<Arc<dyn MetaStore>> {
    match file_path(url) {
        Some(p) => Ok(Arc::new(FileMetaStore::open(p)?)),
        None => anyhow::bail!("unsupported metadata store URL {url:?} (known: file://DIR)"),
    }
}

/// fsync a directory so a rename inside it survives a crash.
pub(crate) fn sync_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

pub(crate) fn tmp_name() -> String {
    format!(".tmp-{}", hex::encode(rand::random::<[u8; 8]>()))
}
