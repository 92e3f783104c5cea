//! reposmith's npm generator: tarballs as `npm pack` makes them into an npm registry: one
//! packument per package name (`NAME`, `@SCOPE/NAME`), the tarballs at
//! `NAME/-/BASENAME-VERSION.tgz`. Client config: `registry=URL/repos/REPO/npm/` in `.npmrc`
//! (see README.md).
//!
//! This file says which module answers each call of the contract (the SDK's `Generator`
//! trait, exported by its `generator!` macro); the format logic lives in plain modules that
//! also build natively, so `cargo test -p reposmith-gen-npm --lib` runs without a wasm host.

mod packument;
mod tarball;
#[cfg(test)]
mod tests;

use reposmith_generator_sdk::client::{file, title};
use reposmith_generator_sdk::prelude::*;

pub struct Npm;

impl Generator for Npm {
    fn info() -> Info {
        reposmith_generator_sdk::info(
            "npm",
            packument::MOUNT,
            &[".tgz"],
            "npm registries: a packument per package name, tarballs from npm pack",
            false,
        )
    }

    fn claims(filename: &str, head: &[u8], _hints: &[Hint]) -> bool {
        tarball::claims(filename, head)
    }

    fn analyze(facts: &Facts, read: ReadAt<'_>, hints: &[Hint]) -> Result<Vec<Entry>, String> {
        packument::analyze(read, facts, hints)
    }

    fn plan(_repo: &RepoInfo, shelves: &[ShelfSummary]) -> Result<PublishPlan, String> {
        Ok(packument::plan(shelves))
    }

    fn finish(
        _repo: &RepoInfo,
        _shelves: &[ShelfSummary],
        _files: &[Assembled],
        _signer: &dyn Signer,
    ) -> Result<Vec<Output>, String> {
        // Packuments are the whole registry: nothing lists them, and npm checks each
        // tarball's `dist.integrity`, not a signature.
        Ok(Vec::new())
    }

    fn compare_versions(versions: &[String]) -> Vec<u32> {
        packument::compare_versions(versions)
    }

    fn describe(fragments: &[Fragment]) -> Details {
        packument::describe(fragments)
    }

    /// `.npmrc` lines: the registry for every package (`NAME-npmrc`), or for one scope
    /// (`NAME-npmrc-scope`, the scope left for the user to fill in). A disabled repo's lines
    /// are commented out.
    fn client_config(repo: &ClientRepo) -> Result<Vec<ClientFile>, String> {
        let url = format!("{}/", repo.base_url.trim_end_matches('/'));
        let off = if repo.enabled { "" } else { "; " };
        let head = format!(
            "; {}: npm registry{}\n",
            title(repo).split_whitespace().collect::<Vec<_>>().join(" "),
            if repo.enabled { "" } else { " (disabled)" }
        );
        Ok(vec![
            file(
                "npm",
                format!("{}-npmrc", repo.name),
                format!("{head}{off}registry={url}\n"),
            ),
            file(
                "npm-scope",
                format!("{}-npmrc-scope", repo.name),
                format!("{head}{off}@SCOPE:registry={url}\n"),
            ),
        ])
    }

    /// `finish` lists sha256 alone (if any digest): md5, sha1 and sha512 are not computed.
    fn digests(_repo: &RepoInfo) -> Vec<Digest> {
        Vec::new()
    }

    /// A tarball is gzip compressed.
    fn magics() -> Vec<Magic> {
        vec![reposmith_generator_sdk::magic(0, &[0x1f, 0x8b])]
    }
}

reposmith_generator_sdk::generator!(Npm);
