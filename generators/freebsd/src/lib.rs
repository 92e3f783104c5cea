//! reposmith's FreeBSD generator: FreeBSD `.pkg` packages into a pkg(8) repository per ABI:
//! `ABI/meta.conf`, `ABI/packagesite.pkg` (and `.txz`), `ABI/data.pkg`, the packages under
//! `ABI/All/`, and the repo's RSA public key at `keys/repo.pub`. Client config:
//! `url: "URL/repos/REPO/freebsd/${ABI}"`, `signature_type: "pubkey"` (see README.md).
//!
//! This file says which module answers each call of the contract (the SDK's `Generator`
//! trait, exported by its `generator!` macro); the format logic lives in plain modules that
//! also build natively, so `cargo test -p reposmith-gen-freebsd --lib` runs without a wasm host.

mod client;
mod inspect;
mod manifest;
mod pkg;
mod repo;
#[cfg(test)]
mod testpkg;
#[cfg(test)]
mod tests;

use reposmith_generator_sdk::prelude::*;
use reposmith_generator_sdk::reposmith;

pub struct FreeBsd;

impl Generator for FreeBsd {
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

    fn claims(filename: &str, head: &[u8], _hints: &[Hint]) -> bool {
        pkg::claims(filename, head)
    }

    fn analyze(facts: &Facts, read: ReadAt<'_>, _hints: &[Hint]) -> Result<Vec<Entry>, String> {
        repo::analyze(read, facts)
    }

    fn plan(repo: &RepoInfo, shelves: &[ShelfSummary]) -> Result<PublishPlan, String> {
        repo::plan(repo, shelves)
    }

    fn finish(
        repo: &RepoInfo,
        _shelves: &[ShelfSummary],
        files: &[Assembled],
        signer: &dyn Signer,
    ) -> Result<Vec<Output>, String> {
        repo::finish(repo, files, signer)
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

    /// A package is a compressed or a plain ustar tar.
    fn magics() -> Vec<Magic> {
        let (at, ustar) = reposmith_generator_sdk::codec::USTAR;
        let mut magics = reposmith_generator_sdk::compressed_magics();
        magics.push(reposmith_generator_sdk::magic(at, ustar));
        magics
    }
}

reposmith_generator_sdk::generator!(FreeBsd);
