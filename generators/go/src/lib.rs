//! reposmith's go generator: module zips (as `go mod download` keeps them) into a Go module
//! proxy: `ESCAPED-PATH/@v/list`, `@v/VERSION.info`, `.mod`, `.zip` and `@latest` under the
//! mount `go`. Client config: `GOPROXY=URL/repos/REPO/go` (see README.md).
//!
//! This file says which module answers each call of the contract (the SDK's `Generator`
//! trait, exported by its `generator!` macro); the format logic lives in plain modules that
//! also build natively, so `cargo test -p reposmith-gen-go --lib` runs without a wasm host.

mod client;
mod gomod;
mod inspect;
mod module;
mod modzip;
mod proxy;
#[cfg(test)]
mod tests;

use reposmith_generator_sdk::prelude::*;
use reposmith_generator_sdk::reposmith;

pub struct Go;

impl Generator for Go {
    fn info() -> Info {
        reposmith_generator_sdk::info(
            "go",
            "go",
            &[".zip"],
            "Go module proxies (GOPROXY): module zips, their @v/list, .info, .mod and @latest",
            false,
        )
    }

    fn claims(filename: &str, head: &[u8], _hints: &[Hint]) -> bool {
        modzip::claims(filename, head)
    }

    fn analyze(facts: &Facts, read: ReadAt<'_>, hints: &[Hint]) -> Result<Vec<Entry>, String> {
        proxy::analyze(read, facts, hints)
    }

    fn plan(_repo: &RepoInfo, shelves: &[ShelfSummary]) -> Result<PublishPlan, String> {
        Ok(proxy::plan(shelves))
    }

    /// Nothing lists the files: go asks for each by name.
    fn finish(
        _repo: &RepoInfo,
        _shelves: &[ShelfSummary],
        _files: &[Assembled],
        _signer: &dyn Signer,
    ) -> Result<Vec<Output>, String> {
        Ok(Vec::new())
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

    /// A module zip starts with a local file header.
    fn magics() -> Vec<Magic> {
        vec![reposmith_generator_sdk::magic(0, b"PK\x03\x04")]
    }
}

reposmith_generator_sdk::generator!(Go);
