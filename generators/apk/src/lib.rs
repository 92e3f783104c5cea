//! reposmith's apk generator: Alpine `.apk` (v2) packages into an apk repository:
//! `ARCH/APKINDEX.tar.gz` with the package files under `ARCH/`, and the repo's RSA public key
//! at `keys/NAME.rsa.pub`. Client config: `URL/repos/REPO/apk` in `/etc/apk/repositories`.
//!
//! This file is only the WIT glue; the format logic lives in plain modules that also build
//! natively, so `cargo test -p reposmith-gen-apk --lib` runs without a wasm host.

mod apk;
mod index;
mod inspect;
mod pkginfo;
#[cfg(test)]
mod testapk;
#[cfg(test)]
mod tests_real;

use reposmith_generator_sdk::exports::reposmith::generator::generator::Guest;
use reposmith_generator_sdk::exports::reposmith::generator::inspect::{
    Details, Guest as InspectGuest,
};
use reposmith_generator_sdk::reposmith;
use reposmith_generator_sdk::reposmith::generator::types::{
    Assembled, Entry, Hint, Info, Output, Package, PublishPlan, RepoInfo, ShelfSummary,
};
use reposmith_generator_sdk::HostSigner;

struct Apk;

impl Guest for Apk {
    fn info() -> Info {
        reposmith_generator_sdk::info(
            "apk",
            "apk",
            &[".apk"],
            "Alpine Linux packages for apk: ARCH/APKINDEX.tar.gz and the RSA key",
            true,
        )
    }

    fn claims(filename: String, head: Vec<u8>, _hints: Vec<Hint>) -> bool {
        apk::claims(&filename, &head)
    }

    fn analyze(pkg: &Package, _hints: Vec<Hint>) -> Result<Vec<Entry>, String> {
        let facts = pkg.facts();
        index::analyze(|offset, len| pkg.read(offset, len), &facts)
    }

    fn plan(repo: RepoInfo, shelves: Vec<ShelfSummary>) -> Result<PublishPlan, String> {
        index::plan(&repo, &shelves)
    }

    fn finish(
        repo: RepoInfo,
        _shelves: Vec<ShelfSummary>,
        files: Vec<Assembled>,
    ) -> Result<Vec<Output>, String> {
        index::finish(&repo, &files, &HostSigner)
    }
}

impl InspectGuest for Apk {
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
reposmith_generator_sdk::export_generator!(Apk);
// ...and natively this use keeps the impl from counting as dead code.
#[cfg(not(target_arch = "wasm32"))]
const _: Apk = Apk;

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
    (apk::claims(filename, head), index::analyze(read, &facts))
}

#[cfg(test)]
mod tests {
    #[test]
    fn info_describes_the_generator() {
        use super::Guest;
        let info = super::Apk::info();
        assert_eq!((info.name.as_str(), info.mount.as_str()), ("apk", "apk"));
        assert_eq!(info.extensions, [".apk"]);
        assert_eq!(info.contract, "0.1.0");
    }
}
