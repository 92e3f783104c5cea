//! reposmith's rpm generator: `.rpm` packages into a yum/dnf/zypper repository
//! (`repodata/` with repomd.xml, primary, filelists and other; the package files themselves
//! are served by the download route `packages/{file}`, which primary's locations point at).
//!
//! This file is only the WIT glue; the format logic lives in plain modules that also build
//! natively, so `cargo test -p reposmith-gen-rpm --lib` runs without a wasm host.

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
mod xml;

use reposmith_generator_sdk::exports::reposmith::generator::generator::Guest;
use reposmith_generator_sdk::exports::reposmith::generator::inspect::{
    Details, Guest as InspectGuest,
};
use reposmith_generator_sdk::reposmith;
use reposmith_generator_sdk::reposmith::generator::types::{
    Assembled, Entry, Hint, Info, Output, Package, PublishPlan, RepoInfo, ShelfSummary,
};
use reposmith_generator_sdk::HostSigner;

struct Rpm;

impl Guest for Rpm {
    fn info() -> Info {
        reposmith_generator_sdk::info(
            "rpm",
            "repodata",
            &[".rpm"],
            "rpm packages for yum/dnf/zypper: repodata/ (primary, filelists, other), signed repomd.xml",
            false,
        )
    }

    fn claims(_filename: String, head: Vec<u8>, _hints: Vec<Hint>) -> bool {
        header::claims(&head)
    }

    fn analyze(pkg: &Package, _hints: Vec<Hint>) -> Result<Vec<Entry>, String> {
        let facts = pkg.facts();
        repodata::analyze(|offset, len| pkg.read(offset, len), &facts)
    }

    fn plan(repo: RepoInfo, shelves: Vec<ShelfSummary>) -> Result<PublishPlan, String> {
        Ok(PublishPlan {
            files: repodata::plan(&repo, &shelves)?,
            links: Vec::new(),
        })
    }

    fn finish(
        repo: RepoInfo,
        _shelves: Vec<ShelfSummary>,
        files: Vec<Assembled>,
    ) -> Result<Vec<Output>, String> {
        repomd::finish(&repo, &files, &HostSigner)
    }
}

impl InspectGuest for Rpm {
    fn compare_versions(versions: Vec<String>) -> Vec<u32> {
        inspect::compare_versions(versions)
    }

    fn describe(entries: Vec<Vec<reposmith::generator::types::Fragment>>) -> Vec<Details> {
        entries.iter().map(|f| inspect::describe(f)).collect()
    }
}

// Exported in the wasm build only: natively (unit tests, fuzz/) the generators link into one
// binary, where their export symbols would clash.
#[cfg(target_arch = "wasm32")]
reposmith_generator_sdk::export_generator!(Rpm);
// ...and natively this use keeps the impl from counting as dead code.
#[cfg(not(target_arch = "wasm32"))]
const _: Rpm = Rpm;

/// An upload from its bytes alone, as the host hands it over: `claims` on its first 4 KiB,
/// then `analyze` whatever `claims` answered (a crafted file can pass `claims`). Every input
/// must give an answer, never a panic or an unbounded allocation: fuzz/ drives this.
pub fn parse_package(
    filename: &str,
    bytes: &[u8],
    _hints: &[Hint],
) -> (bool, Result<Vec<Entry>, String>) {
    let head = &bytes[..bytes.len().min(reposmith_generator_sdk::CLAIMS_HEAD)];
    let facts = reposmith_generator_sdk::mem_facts(filename, bytes.len() as u64);
    let read = reposmith_generator_sdk::mem_read(bytes);
    (header::claims(head), repodata::analyze(read, &facts))
}

#[cfg(test)]
mod tests {
    use super::Guest;

    #[test]
    fn info_describes_the_generator() {
        let info = super::Rpm::info();
        assert_eq!(
            (info.name.as_str(), info.mount.as_str()),
            ("rpm", "repodata")
        );
        assert_eq!(info.extensions, [".rpm"]);
        assert_eq!(info.contract, "0.1.0");
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
