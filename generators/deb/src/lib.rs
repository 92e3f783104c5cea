//! reposmith's Debian generator: `.deb`/`.udeb` packages into an apt repository
//! (`pool/` for the files, `dists/` for Packages, Release and their signatures).
//!
//! This file is only the WIT glue; the format logic lives in plain modules that also build
//! natively, so `cargo test -p reposmith-gen-deb --lib` runs without a wasm host.

mod control;
mod deb;
mod inspect;
mod packages;
mod pdiff;
mod release;
#[cfg(test)]
mod testdeb;

use reposmith_generator_sdk::exports::reposmith::generator::generator::Guest;
use reposmith_generator_sdk::exports::reposmith::generator::inspect::{
    Details, Guest as InspectGuest,
};
use reposmith_generator_sdk::reposmith;
use reposmith_generator_sdk::reposmith::generator::types::{
    Assembled, Entry, Fragment, Hint, Info, Output, Package, PublishPlan, RepoInfo, ShelfSummary,
};
use reposmith_generator_sdk::HostSigner;

struct Deb;

impl Guest for Deb {
    fn info() -> Info {
        reposmith_generator_sdk::info(
            "deb",
            "dist",
            &[".deb", ".udeb"],
            "Debian packages for apt: pool/, dists/*/Packages, signed Release",
            false,
        )
    }

    fn claims(_filename: String, head: Vec<u8>, _hints: Vec<Hint>) -> bool {
        deb::claims(&head)
    }

    fn analyze(pkg: &Package, hints: Vec<Hint>) -> Result<Vec<Entry>, String> {
        let facts = pkg.facts();
        packages::analyze(|offset, len| pkg.read(offset, len), &facts, &hints)
    }

    fn plan(repo: RepoInfo, shelves: Vec<ShelfSummary>) -> Result<PublishPlan, String> {
        Ok(PublishPlan {
            files: packages::plan(&repo, &shelves)?,
            links: Vec::new(),
        })
    }

    fn finish(
        repo: RepoInfo,
        shelves: Vec<ShelfSummary>,
        files: Vec<Assembled>,
    ) -> Result<Vec<Output>, String> {
        release::finish(&repo, &shelves, &files, &HostSigner)
    }
}

impl InspectGuest for Deb {
    fn compare_versions(versions: Vec<String>) -> Vec<u32> {
        inspect::compare_versions(versions)
    }

    fn describe(entries: Vec<Vec<Fragment>>) -> Vec<Details> {
        entries.iter().map(|f| inspect::describe(f)).collect()
    }
}

// Exported in the wasm build only: natively (unit tests, fuzz/) the generators link into one
// binary, where their export symbols would clash.
#[cfg(target_arch = "wasm32")]
reposmith_generator_sdk::export_generator!(Deb);
// ...and natively this use keeps the impl from counting as dead code.
#[cfg(not(target_arch = "wasm32"))]
const _: Deb = Deb;

/// An upload from its bytes alone, as the host hands it over: `claims` on its first 4 KiB,
/// then `analyze` whatever `claims` answered (a crafted file can pass `claims`). Every input
/// must give an answer, never a panic or an unbounded allocation: fuzz/ drives this.
pub fn parse_package(
    filename: &str,
    bytes: &[u8],
    hints: &[Hint],
) -> (bool, Result<Vec<Entry>, String>) {
    let head = &bytes[..bytes.len().min(reposmith_generator_sdk::CLAIMS_HEAD)];
    let facts = reposmith_generator_sdk::mem_facts(filename, bytes.len() as u64);
    let read = reposmith_generator_sdk::mem_read(bytes);
    (deb::claims(head), packages::analyze(read, &facts, hints))
}

#[cfg(test)]
mod tests {
    #[test]
    fn info_describes_the_generator() {
        use super::Guest;
        let info = super::Deb::info();
        assert_eq!((info.name.as_str(), info.mount.as_str()), ("deb", "dist"));
        assert_eq!(info.extensions, [".deb", ".udeb"]);
        assert_eq!(info.contract, "0.1.0");
    }
}
