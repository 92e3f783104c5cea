//! reposmith's pacman generator: `.pkg.tar.{zst,xz,gz}` packages into a pacman repository:
//! `ARCH/REPO.db` and `ARCH/REPO.files` (gzip tars of `desc`/`files` members, as repo-add
//! makes them), signed, with the package files and their `.sig` linked into every `ARCH/`.
//! Client config: `Server = URL/repos/REPO/pacman/$arch`.
//!
//! This file is only the WIT glue; the format logic lives in plain modules that also build
//! natively, so `cargo test -p reposmith-gen-pacman --lib` runs without a wasm host.

mod db;
mod desc;
mod files;
mod finish;
mod inspect;
mod mtree;
mod pkg;
mod pkginfo;
#[cfg(test)]
mod testpkg;
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

struct Pacman;

impl Guest for Pacman {
    fn info() -> Info {
        Info {
            // Each package's `.sig` is published next to it (see `plan`'s links).
            signed_packages: true,
            ..reposmith_generator_sdk::info(
                "pacman",
                "pacman",
                &[".pkg.tar.zst", ".pkg.tar.xz", ".pkg.tar.gz"],
                "Arch Linux packages for pacman: ARCH/REPO.db and REPO.files, signed",
                true,
            )
        }
    }

    fn claims(filename: String, head: Vec<u8>, _hints: Vec<Hint>) -> bool {
        pkg::claims(&filename, &head)
    }

    fn analyze(pkg: &Package, hints: Vec<Hint>) -> Result<Vec<Entry>, String> {
        let facts = pkg.facts();
        db::analyze(|offset, len| pkg.read(offset, len), &facts, &hints)
    }

    fn plan(repo: RepoInfo, shelves: Vec<ShelfSummary>) -> Result<PublishPlan, String> {
        db::plan(&repo, &shelves)
    }

    fn finish(
        repo: RepoInfo,
        shelves: Vec<ShelfSummary>,
        files: Vec<Assembled>,
    ) -> Result<Vec<Output>, String> {
        finish::finish(&repo, &shelves, &files, &HostSigner)
    }
}

impl InspectGuest for Pacman {
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
reposmith_generator_sdk::export_generator!(Pacman);
// ...and natively this use keeps the impl from counting as dead code.
#[cfg(not(target_arch = "wasm32"))]
const _: Pacman = Pacman;

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
    (
        pkg::claims(filename, head),
        db::analyze(read, &facts, hints),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn info_describes_the_generator() {
        use super::Guest;
        let info = super::Pacman::info();
        assert_eq!(
            (info.name.as_str(), info.mount.as_str()),
            ("pacman", "pacman")
        );
        assert_eq!(
            info.extensions,
            [".pkg.tar.zst", ".pkg.tar.xz", ".pkg.tar.gz"]
        );
        assert_eq!(info.contract, "0.1.0");
    }
}
