//! The outer layer of each architecture's databases: `REPO.db` and `REPO.files` (what pacman
//! downloads) as aliases of the assembled `.tar.gz` files, and their detached signatures,
//! made by the host from the stored blobs (`REPO.db.sig`, and `REPO.db.tar.gz.sig` for
//! clients configured with the long name, as repo-add leaves both).

use crate::db;
use crate::reposmith::generator::types::{Assembled, Content, Output, RepoInfo, ShelfSummary};

/// The host's signer (a trait, so tests sign without a host).
pub use reposmith_generator_sdk::Signer as Sign;

pub fn finish(
    repo: &RepoInfo,
    shelves: &[ShelfSummary],
    files: &[Assembled],
    signer: &dyn Sign,
) -> Result<Vec<Output>, String> {
    db::check_repo_name(&repo.name)?;
    let mut out = Vec::new();
    for arch in db::arches(repo, shelves)? {
        for kind in ["db", "files"] {
            let short = format!("{arch}/{}.{kind}", repo.name);
            let long = format!("{short}.tar.gz");
            let assembled = files
                .iter()
                .find(|f| f.path == long)
                .ok_or_else(|| format!("the host did not assemble {long}"))?;
            let sig = signer
                .detached_package(&assembled.sha256)
                .map_err(|e| format!("signing {long}: {e}"))?;
            out.push(Output {
                path: short.clone(),
                content: Content::SameAs(long.clone()),
                media_type: None,
            });
            out.push(Output {
                path: format!("{long}.sig"),
                content: Content::Bytes(sig.clone()),
                media_type: None,
            });
            out.push(Output {
                path: format!("{short}.sig"),
                content: Content::Bytes(sig),
                media_type: None,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reposmith::generator::types::Encoding;

    struct FakeSigner;
    impl Sign for FakeSigner {
        fn detached_package(&self, sha256: &str) -> Result<Vec<u8>, String> {
            Ok(format!("sig of {sha256}").into_bytes())
        }
    }

    fn assembled(path: &str, sha256: &str) -> Assembled {
        Assembled {
            path: path.into(),
            encoding: Encoding::Gzip,
            size: 1,
            md5: String::new(),
            sha1: String::new(),
            sha256: sha256.into(),
            sha512: String::new(),
            open_size: 1,
            open_sha256: String::new(),
            patch: None,
        }
    }

    #[test]
    fn aliases_and_signatures_per_arch() {
        let repo = crate::testpkg::repo("harness");
        let files = [
            assembled("x86_64/harness.db.tar.gz", "aa"),
            assembled("x86_64/harness.files.tar.gz", "bb"),
        ];
        let out = finish(&repo, &[], &files, &FakeSigner).unwrap();
        let got: Vec<(String, Content)> = out.into_iter().map(|o| (o.path, o.content)).collect();
        let sig = |s: &str| Content::Bytes(format!("sig of {s}").into_bytes());
        assert_eq!(
            got,
            [
                (
                    "x86_64/harness.db".to_string(),
                    Content::SameAs("x86_64/harness.db.tar.gz".into())
                ),
                ("x86_64/harness.db.tar.gz.sig".to_string(), sig("aa")),
                ("x86_64/harness.db.sig".to_string(), sig("aa")),
                (
                    "x86_64/harness.files".to_string(),
                    Content::SameAs("x86_64/harness.files.tar.gz".into())
                ),
                ("x86_64/harness.files.tar.gz.sig".to_string(), sig("bb")),
                ("x86_64/harness.files.sig".to_string(), sig("bb")),
            ]
        );
    }

    #[test]
    fn missing_file_or_failed_signer_is_an_error() {
        let repo = crate::testpkg::repo("harness");
        let err = finish(&repo, &[], &[], &FakeSigner).unwrap_err();
        assert!(err.contains("x86_64/harness.db.tar.gz"), "{err}");
        struct Broken;
        impl Sign for Broken {
            fn detached_package(&self, _: &str) -> Result<Vec<u8>, String> {
                Err("no key".into())
            }
        }
        let files = [
            assembled("x86_64/harness.db.tar.gz", "aa"),
            assembled("x86_64/harness.files.tar.gz", "bb"),
        ];
        let err = finish(&repo, &[], &files, &Broken).unwrap_err();
        assert!(err.contains("no key"), "{err}");
    }
}
