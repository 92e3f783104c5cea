//! reposmith's pacman generator: `.pkg.tar.{zst,xz,gz}` packages into a pacman repository:
//! `ARCH/REPO.db` and `ARCH/REPO.files` (gzip tars of `desc`/`files` members, as repo-add
//! makes them), signed, with the package files and their `.sig` linked into every `ARCH/`.
//! Client config: `Server = URL/repos/REPO/pacman/$arch`.
//!
//! This file says which module answers each call of the contract (the SDK's `Generator`
//! trait, exported by its `generator!` macro); the format logic lives in plain modules that
//! also build natively, so `cargo test -p reposmith-gen-pacman --lib` runs without a wasm host.

mod client;
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

use reposmith_generator_sdk::prelude::*;
use reposmith_generator_sdk::reposmith;

pub struct Pacman;

impl Generator for Pacman {
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

    fn claims(filename: &str, head: &[u8], _hints: &[Hint]) -> bool {
        pkg::claims(filename, head)
    }

    fn analyze(facts: &Facts, read: ReadAt<'_>, hints: &[Hint]) -> Result<Vec<Entry>, String> {
        db::analyze(read, facts, hints)
    }

    fn plan(repo: &RepoInfo, shelves: &[ShelfSummary]) -> Result<PublishPlan, String> {
        db::plan(repo, shelves)
    }

    fn finish(
        repo: &RepoInfo,
        shelves: &[ShelfSummary],
        files: &[Assembled],
        signer: &dyn Signer,
    ) -> Result<Vec<Output>, String> {
        finish::finish(repo, shelves, files, signer)
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

    /// A package is a zstd, xz or gzip compressed tar.
    fn magics() -> Vec<Magic> {
        reposmith_generator_sdk::compressed_magics()
    }
}

reposmith_generator_sdk::generator!(Pacman);

#[cfg(test)]
mod tests {
    #[test]
    fn info_describes_the_generator() {
        use reposmith_generator_sdk::exports::reposmith::generator::generator::Guest;
        let info = super::Pacman::info();
        assert_eq!(
            (info.name.as_str(), info.mount.as_str()),
            ("pacman", "pacman")
        );
        assert_eq!(
            info.extensions,
            [".pkg.tar.zst", ".pkg.tar.xz", ".pkg.tar.gz"]
        );
        assert_eq!(info.contract, "0.2.0");
    }
}
