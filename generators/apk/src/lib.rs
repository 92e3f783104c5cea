//! reposmith's apk generator: Alpine `.apk` (v2) packages into an apk repository:
//! `ARCH/APKINDEX.tar.gz` with the package files under `ARCH/`, and the repo's RSA public key
//! at `keys/NAME.rsa.pub`. Client config: `URL/repos/REPO/apk` in `/etc/apk/repositories`.
//!
//! This file says which module answers each call of the contract (the SDK's `Generator`
//! trait, exported by its `generator!` macro); the format logic lives in plain modules that
//! also build natively, so `cargo test -p reposmith-gen-apk --lib` runs without a wasm host.

mod apk;
mod client;
mod index;
mod inspect;
mod pkginfo;
#[cfg(test)]
mod testapk;
#[cfg(test)]
mod tests_real;

use reposmith_generator_sdk::prelude::*;
use reposmith_generator_sdk::reposmith;

pub struct Apk;

impl Generator for Apk {
    fn info() -> Info {
        reposmith_generator_sdk::info(
            "apk",
            "apk",
            &[".apk"],
            "Alpine Linux packages for apk: ARCH/APKINDEX.tar.gz and the RSA key",
            true,
        )
    }

    fn claims(filename: &str, head: &[u8], _hints: &[Hint]) -> bool {
        apk::claims(filename, head)
    }

    fn analyze(facts: &Facts, read: ReadAt<'_>, _hints: &[Hint]) -> Result<Vec<Entry>, String> {
        index::analyze(read, facts)
    }

    fn plan(repo: &RepoInfo, shelves: &[ShelfSummary]) -> Result<PublishPlan, String> {
        index::plan(repo, shelves)
    }

    fn finish(
        repo: &RepoInfo,
        _shelves: &[ShelfSummary],
        files: &[Assembled],
        signer: &dyn Signer,
    ) -> Result<Vec<Output>, String> {
        index::finish(repo, files, signer)
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

    /// A package is gzip members (deflate).
    fn magics() -> Vec<Magic> {
        vec![reposmith_generator_sdk::magic(0, &[0x1f, 0x8b, 0x08])]
    }
}

reposmith_generator_sdk::generator!(Apk);

#[cfg(test)]
mod tests {
    #[test]
    fn info_describes_the_generator() {
        use reposmith_generator_sdk::exports::reposmith::generator::generator::Guest;
        let info = super::Apk::info();
        assert_eq!((info.name.as_str(), info.mount.as_str()), ("apk", "apk"));
        assert_eq!(info.extensions, [".apk"]);
        assert_eq!(info.contract, "0.2.0");
    }
}
