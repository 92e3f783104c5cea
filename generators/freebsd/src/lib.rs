//! reposmith's FreeBSD generator: FreeBSD `.pkg` packages into a pkg(8) repository per ABI:
//! `ABI/meta.conf`, `ABI/packagesite.pkg` (and `.txz`), `ABI/data.pkg`, the packages under
//! `ABI/All/`, and the repo's RSA public key at `keys/repo.pub`. Client config:
//! `url: "URL/repos/REPO/freebsd/${ABI}"`, `signature_type: "pubkey"` (see README.md).
//!
//! This file is only the WIT glue; the format logic lives in plain modules that also build
//! natively, so `cargo test -p reposmith-gen-freebsd --lib` runs without a wasm host.

mod inspect;
mod manifest;
mod pkg;
mod repo;
#[cfg(test)]
mod testpkg;
#[cfg(test)]
mod tests;

use reposmith_generator_sdk::exports::reposmith::generator::generator::Guest;
use reposmith_generator_sdk::exports::reposmith::generator::inspect::{
    Details, Guest as InspectGuest,
};
use reposmith_generator_sdk::reposmith;
use reposmith_generator_sdk::reposmith::generator::types::{
    Assembled, Entry, Hint, Info, Output, Package, PublishPlan, RepoInfo, ShelfSummary,
};
use reposmith_generator_sdk::HostSigner;

struct FreeBsd;

impl Guest for FreeBsd {
    fn info() -> Info {
        reposmith_generator_sdk::info(
            "freebsd",
            "freebsd",
            &[".pkg"],
            "FreeBSD pkg repositories: ABI/meta.conf, packagesite.pkg, data.pkg, \
             signed with the repo's RSA key (signature_type: pubkey)",
            true,
        )
    }

    fn claims(filename: String, head: Vec<u8>, _hints: Vec<Hint>) -> bool {
        pkg::claims(&filename, &head)
    }

    fn analyze(pkg: &Package, _hints: Vec<Hint>) -> Result<Vec<Entry>, String> {
        let facts = pkg.facts();
        repo::analyze(|offset, len| pkg.read(offset, len), &facts)
    }

    fn plan(repo: RepoInfo, shelves: Vec<ShelfSummary>) -> Result<PublishPlan, String> {
        repo::plan(&repo, &shelves)
    }

    fn finish(
        repo: RepoInfo,
        _shelves: Vec<ShelfSummary>,
        files: Vec<Assembled>,
    ) -> Result<Vec<Output>, String> {
        repo::finish(&repo, &files, &HostSigner)
    }
}

impl InspectGuest for FreeBsd {
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
reposmith_generator_sdk::export_generator!(FreeBsd);
// ...and natively this use keeps the impl from counting as dead code.
#[cfg(not(target_arch = "wasm32"))]
const _: FreeBsd = FreeBsd;

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
    (pkg::claims(filename, head), repo::analyze(read, &facts))
}
