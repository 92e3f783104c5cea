//! reposmith's Debian generator: `.deb`/`.udeb` packages into an apt repository
//! (`pool/` for the files, `dists/` for Packages, Release and their signatures).
//!
//! This file says which module answers each call of the contract (the SDK's `Generator`
//! trait, exported by its `generator!` macro); the format logic lives in plain modules that
//! also build natively, so `cargo test -p reposmith-gen-deb --lib` runs without a wasm host.

mod client;
mod control;
mod deb;
mod inspect;
mod packages;
mod pdiff;
mod release;
#[cfg(test)]
mod testdeb;

use reposmith_generator_sdk::prelude::*;
use reposmith_generator_sdk::reposmith;

pub struct Deb;

impl Generator for Deb {
    fn info() -> Info {
        reposmith_generator_sdk::info(
            "deb",
            "dist",
            &[".deb", ".udeb"],
            "Debian packages for apt: pool/, dists/*/Packages, signed Release",
            false,
        )
    }

    fn claims(_filename: &str, head: &[u8], _hints: &[Hint]) -> bool {
        deb::claims(head)
    }

    fn analyze(facts: &Facts, read: ReadAt<'_>, hints: &[Hint]) -> Result<Vec<Entry>, String> {
        packages::analyze(read, facts, hints)
    }

    fn plan(repo: &RepoInfo, shelves: &[ShelfSummary]) -> Result<PublishPlan, String> {
        Ok(PublishPlan {
            files: packages::plan(repo, shelves)?,
            links: Vec::new(),
        })
    }

    fn finish(
        repo: &RepoInfo,
        shelves: &[ShelfSummary],
        files: &[Assembled],
        signer: &dyn Signer,
    ) -> Result<Vec<Output>, String> {
        release::finish(repo, shelves, files, signer)
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

    /// Release lists SHA256, and MD5Sum only when the repo asks (`release-md5`).
    fn digests(repo: &RepoInfo) -> Vec<Digest> {
        if release::lists_md5(repo) {
            vec![Digest::Md5]
        } else {
            Vec::new()
        }
    }

    /// Every .deb is an ar archive.
    fn magics() -> Vec<Magic> {
        vec![reposmith_generator_sdk::magic(
            0,
            reposmith_generator_sdk::ar::MAGIC,
        )]
    }
}

reposmith_generator_sdk::generator!(Deb);

#[cfg(test)]
mod tests {
    #[test]
    fn info_describes_the_generator() {
        use reposmith_generator_sdk::exports::reposmith::generator::generator::Guest;
        let info = super::Deb::info();
        assert_eq!((info.name.as_str(), info.mount.as_str()), ("deb", "dist"));
        assert_eq!(info.extensions, [".deb", ".udeb"]);
        assert_eq!(info.contract, "0.2.0");
    }
}
