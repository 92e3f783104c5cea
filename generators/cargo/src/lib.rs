//! reposmith's cargo generator: `.crate` files into a Cargo sparse registry: `config.json`,
//! one index file per crate name (`1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd…`), the crates under
//! `crates/NAME/`. Client config: `[registries.REPO] index = "sparse+URL/repos/REPO/cargo/"`
//! (see README.md).
//!
//! This file says which module answers each call of the contract (the SDK's `Generator`
//! trait, exported by its `generator!` macro); the format logic lives in plain modules that
//! also build natively, so `cargo test -p reposmith-gen-cargo --lib` runs without a wasm host.

mod client;
mod index;
mod inspect;
mod krate;
mod manifest;
#[cfg(test)]
mod testcrate;
#[cfg(test)]
mod tests;

use reposmith_generator_sdk::prelude::*;
use reposmith_generator_sdk::reposmith;

pub struct Cargo;

impl Generator for Cargo {
    fn info() -> Info {
        reposmith_generator_sdk::info(
            "cargo",
            "cargo",
            &[".crate"],
            "Cargo sparse registries: config.json and one index file per crate name",
            false,
        )
    }

    fn claims(filename: &str, head: &[u8], _hints: &[Hint]) -> bool {
        krate::claims(filename, head)
    }

    fn analyze(facts: &Facts, read: ReadAt<'_>, _hints: &[Hint]) -> Result<Vec<Entry>, String> {
        index::analyze(read, facts)
    }

    fn plan(_repo: &RepoInfo, shelves: &[ShelfSummary]) -> Result<PublishPlan, String> {
        Ok(index::plan(shelves))
    }

    fn finish(
        repo: &RepoInfo,
        _shelves: &[ShelfSummary],
        _files: &[Assembled],
        _signer: &dyn Signer,
    ) -> Result<Vec<Output>, String> {
        Ok(index::finish(repo))
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

    /// A .crate is a gzip compressed tar.
    fn magics() -> Vec<Magic> {
        vec![reposmith_generator_sdk::magic(0, &[0x1f, 0x8b])]
    }
}

reposmith_generator_sdk::generator!(Cargo);
