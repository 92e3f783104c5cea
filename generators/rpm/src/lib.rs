//! reposmith's rpm generator: `.rpm` packages into a yum/dnf/zypper repository
//! (`repodata/` with repomd.xml, primary, filelists and other; the package files themselves
//! are served by the download route `packages/{file}`, which primary's locations point at).
//!
//! This file says which module answers each call of the contract (the SDK's `Generator`
//! trait, exported by its `generator!` macro); the format logic lives in plain modules that
//! also build natively, so `cargo test -p reposmith-gen-rpm --lib` runs without a wasm host.

mod client;
mod filelists;
mod header;
mod inspect;
mod other;
mod package;
mod primary;
mod repodata;
mod repomd;
#[cfg(test)]
mod testrpm;

use reposmith_generator_sdk::prelude::*;
use reposmith_generator_sdk::reposmith;
use reposmith_generator_sdk::xml;

pub struct Rpm;

impl Generator for Rpm {
    fn info() -> Info {
        reposmith_generator_sdk::info(
            "rpm",
            "repodata",
            &[".rpm"],
            "rpm packages for yum/dnf/zypper: repodata/ (primary, filelists, other), signed repomd.xml",
            false,
        )
    }

    fn claims(_filename: &str, head: &[u8], _hints: &[Hint]) -> bool {
        header::claims(head)
    }

    fn analyze(facts: &Facts, read: ReadAt<'_>, _hints: &[Hint]) -> Result<Vec<Entry>, String> {
        repodata::analyze(read, facts)
    }

    fn plan(repo: &RepoInfo, shelves: &[ShelfSummary]) -> Result<PublishPlan, String> {
        Ok(PublishPlan {
            files: repodata::plan(repo, shelves)?,
            links: Vec::new(),
        })
    }

    fn finish(
        repo: &RepoInfo,
        _shelves: &[ShelfSummary],
        files: &[Assembled],
        signer: &dyn Signer,
    ) -> Result<Vec<Output>, String> {
        repomd::finish(repo, files, signer)
    }

    fn compare_versions(versions: &[String]) -> Vec<u32> {
        inspect::compare_versions(versions)
    }

    fn describe(fragments: &[Fragment]) -> Details {
        inspect::describe(fragments)
    }

    fn client_config(repo: &ClientRepo) -> Result<Vec<ClientFile>, String> {
        Ok(client::files(repo))
    }

    /// `finish` lists sha256 alone (if any digest): md5, sha1 and sha512 are not computed.
    fn digests(_repo: &RepoInfo) -> Vec<Digest> {
        Vec::new()
    }

    /// Every rpm starts with its lead.
    fn magics() -> Vec<Magic> {
        vec![reposmith_generator_sdk::magic(0, &header::LEAD_MAGIC)]
    }
}

reposmith_generator_sdk::generator!(Rpm);

#[cfg(test)]
mod tests {
    use reposmith_generator_sdk::exports::reposmith::generator::generator::Guest;

    #[test]
    fn info_describes_the_generator() {
        let info = super::Rpm::info();
        assert_eq!(
            (info.name.as_str(), info.mount.as_str()),
            ("rpm", "repodata")
        );
        assert_eq!(info.extensions, [".rpm"]);
        assert_eq!(info.contract, "0.2.0");
    }

    #[test]
    fn claims_by_content_not_by_name() {
        let rpm = crate::testrpm::Builder::new().build();
        assert!(super::Rpm::claims(
            "x.bin".into(),
            rpm[..100].to_vec(),
            vec![]
        ));
        assert!(!super::Rpm::claims(
            "x.rpm".into(),
            b"!<arch>\n".to_vec(),
            vec![]
        ));
        assert!(!super::Rpm::claims("x.rpm".into(), vec![], vec![]));
    }
}
