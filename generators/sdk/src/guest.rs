//! The generator contract as a plain Rust trait, and [`generator!`](crate::generator) that
//! exports a type implementing it through the wit-bindgen bindings (the three `Guest` traits
//! of `generator`, `inspect` and `client`), so a generator never writes that glue.
use crate::exports::reposmith::generator::client::{ClientFile, ClientRepo};
use crate::exports::reposmith::generator::digests::Digest;
use crate::exports::reposmith::generator::inspect::Details;
use crate::exports::reposmith::generator::sniff::Magic;
use crate::reposmith::generator::types::{
    Assembled, Entry, Facts, Fragment, Hint, Info, Output, PublishPlan, RepoInfo, ShelfSummary,
};
use crate::sign::Signer;
use crate::versions;

/// The host's `package.read(offset, len)`: up to `len` bytes from `offset`, fewer at the end
/// of the file, none past it. Wrap it in [`Ranged`](crate::Ranged) to read it as a stream.
pub type ReadAt<'a> = &'a mut dyn FnMut(u64, u32) -> Result<Vec<u8>, String>;

/// A repository format, as `wit/generator.wit` describes it. Every function is stateless
/// (a generator keeps nothing between calls) and must not panic on any input.
///
/// ```ignore
/// pub struct Hello;
/// impl reposmith_generator_sdk::Generator for Hello { /* info, claims, analyze, plan, finish */ }
/// reposmith_generator_sdk::generator!(Hello);
/// ```
pub trait Generator {
    /// What the generator says about itself: see [`info`](crate::info).
    fn info() -> Info;

    /// Does this upload belong to the format? `head` is its first bytes (up to
    /// [`CLAIMS_HEAD`](crate::CLAIMS_HEAD)). Cheap, never fails.
    fn claims(filename: &str, head: &[u8], hints: &[Hint]) -> bool;

    /// The index entries of a package, read through `read`; an `Err` names what is wrong with
    /// the package (the uploader sees it).
    fn analyze(facts: &Facts, read: ReadAt<'_>, hints: &[Hint]) -> Result<Vec<Entry>, String>;

    /// Publish, step 1: the bulk files to assemble, and package links. Must not depend on
    /// `repo.now` or `repo.generation`: the host reuses an answer while the rest is unchanged.
    fn plan(repo: &RepoInfo, shelves: &[ShelfSummary]) -> Result<PublishPlan, String>;

    /// Publish, step 2: the small files listing the assembled ones, signed through `signer`
    /// (the host's; unit tests pass their own).
    fn finish(
        repo: &RepoInfo,
        shelves: &[ShelfSummary],
        files: &[Assembled],
        signer: &dyn Signer,
    ) -> Result<Vec<Output>, String>;

    /// The rank of each version (see `inspect.compare-versions`). Default: the host's natural
    /// order ([`versions::natural`]); [`versions`] has dpkg's, rpm's and pacman's.
    fn compare_versions(versions: &[String]) -> Vec<u32> {
        versions::ranks(versions, versions::natural)
    }

    /// What one entry says of itself, from the fragments `analyze` made. Default: the host's
    /// ([`plain_details`](crate::plain_details)).
    fn describe(fragments: &[Fragment]) -> Details {
        crate::plain_details(fragments)
    }

    /// The files that tell the format's clients how to use `repo`. Default: the one text file
    /// the host gives a generator without `client-config` ([`crate::client::default_files`]).
    fn client_config(repo: &ClientRepo) -> Result<Vec<ClientFile>, String> {
        Ok(crate::client::default_files(repo, &Self::info().name))
    }

    /// Which of md5, sha1 and sha512 `finish` reads of `repo`'s assembled files (sha256 is
    /// always there; the others come empty). Each costs the host a pass over every byte of
    /// an index file after its first change. Default: all three, as the contract first gave.
    fn digests(repo: &RepoInfo) -> Vec<Digest> {
        let _ = repo;
        vec![Digest::Md5, Digest::Sha1, Digest::Sha512]
    }

    /// Magic numbers every package of the format has (`sniff`): the host asks `claims` only
    /// about a file holding one of them, so other formats' uploads never enter this
    /// generator. `claims` is asked behind the same rule here too, whatever the host.
    /// Default: none, every file is asked about.
    fn magics() -> Vec<Magic> {
        Vec::new()
    }
}

/// A magic of `bytes` at `offset`.
pub fn magic(offset: usize, bytes: &[u8]) -> Magic {
    Magic {
        offset: offset as u32,
        bytes: bytes.to_vec(),
    }
}

/// The magics of a zstd, xz or gzip stream ([`crate::codec::COMPRESSED`]): a compressed
/// archive's.
pub fn compressed_magics() -> Vec<Magic> {
    crate::codec::COMPRESSED
        .iter()
        .map(|(_, bytes)| magic(0, bytes))
        .collect()
}

/// `claims` behind the generator's `magics`, as the host asks it: a head holding none of
/// them (when there are any) is not claimed.
pub fn claimed<G: Generator>(filename: &str, head: &[u8], hints: &[Hint]) -> bool {
    sniffed(&G::magics(), head) && G::claims(filename, head, hints)
}

/// Whether `head` holds one of `magics`, or there are none.
pub fn sniffed(magics: &[Magic], head: &[u8]) -> bool {
    magics.is_empty()
        || magics.iter().any(|m| {
            let at = m.offset as usize;
            head.get(at..at + m.bytes.len()) == Some(&m.bytes[..])
        })
}

/// An upload from its bytes alone, as the host hands it over: `claims` on its first 4 KiB,
/// then `analyze` whatever `claims` answered (a crafted file can pass `claims`). fuzz/ drives
/// every generator through this: any input must give an answer, never a panic.
pub fn parse_package<G: Generator>(
    filename: &str,
    bytes: &[u8],
    hints: &[Hint],
) -> (bool, Result<Vec<Entry>, String>) {
    let head = &bytes[..bytes.len().min(crate::CLAIMS_HEAD)];
    let facts = crate::mem_facts(filename, bytes.len() as u64);
    let mut read = crate::mem_read(bytes);
    (
        claimed::<G>(filename, head, hints),
        G::analyze(&facts, &mut read, hints),
    )
}

/// Exports a type implementing [`Generator`] as the component's `generator`, `inspect`,
/// `client`, `digests` and `sniff` interfaces (world `generator-full-world`). The type must be
/// a plain name in scope: `reposmith_generator_sdk::generator!(Deb);`.
///
/// The wasm exports are made on wasm32 only: natively (unit tests, fuzz/) several generators
/// link into one binary, where their export symbols would clash; the `Guest` impls exist on
/// every target, so tests can call them.
#[macro_export]
macro_rules! generator {
    ($ty:ident) => {
        const _: () = {
            use $crate::exports::reposmith::generator::{
                client, digests, generator, inspect, sniff,
            };
            use $crate::reposmith::generator::types as t;

            impl generator::Guest for $ty {
                fn info() -> t::Info {
                    <$ty as $crate::Generator>::info()
                }
                fn claims(filename: String, head: Vec<u8>, hints: Vec<t::Hint>) -> bool {
                    $crate::claimed::<$ty>(&filename, &head, &hints)
                }
                fn analyze(pkg: &t::Package, hints: Vec<t::Hint>) -> Result<Vec<t::Entry>, String> {
                    let facts = pkg.facts();
                    <$ty as $crate::Generator>::analyze(
                        &facts,
                        &mut |offset, len| pkg.read(offset, len),
                        &hints,
                    )
                }
                fn plan(
                    repo: t::RepoInfo,
                    shelves: Vec<t::ShelfSummary>,
                ) -> Result<t::PublishPlan, String> {
                    <$ty as $crate::Generator>::plan(&repo, &shelves)
                }
                fn finish(
                    repo: t::RepoInfo,
                    shelves: Vec<t::ShelfSummary>,
                    files: Vec<t::Assembled>,
                ) -> Result<Vec<t::Output>, String> {
                    <$ty as $crate::Generator>::finish(&repo, &shelves, &files, &$crate::HostSigner)
                }
            }

            impl inspect::Guest for $ty {
                fn compare_versions(versions: Vec<String>) -> Vec<u32> {
                    <$ty as $crate::Generator>::compare_versions(&versions)
                }
                fn describe(entries: Vec<Vec<t::Fragment>>) -> Vec<inspect::Details> {
                    entries
                        .iter()
                        .map(|f| <$ty as $crate::Generator>::describe(f))
                        .collect()
                }
            }

            impl client::Guest for $ty {
                fn client_config(
                    repo: client::ClientRepo,
                ) -> Result<Vec<client::ClientFile>, String> {
                    <$ty as $crate::Generator>::client_config(&repo)
                }
            }

            impl digests::Guest for $ty {
                fn wanted(repo: t::RepoInfo) -> Vec<digests::Digest> {
                    <$ty as $crate::Generator>::digests(&repo)
                }
            }

            impl sniff::Guest for $ty {
                fn magics() -> Vec<sniff::Magic> {
                    <$ty as $crate::Generator>::magics()
                }
            }

            #[cfg(target_arch = "wasm32")]
    $crate::export_generator!($ty with_types_in $crate);
        };
    };
}

// The tests use the `testing` helpers: `cargo test -p reposmith-generator-sdk --features testing`.
#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::exports::reposmith::generator::{client, generator as g, inspect, sniff};

    /// A generator that implements only what it must.
    pub struct Minimal;

    impl Generator for Minimal {
        fn info() -> Info {
            crate::info("minimal", "min", &[".min"], "a test", false)
        }
        fn claims(filename: &str, head: &[u8], _: &[Hint]) -> bool {
            filename.ends_with(".min") && head.starts_with(b"MIN")
        }
        fn analyze(facts: &Facts, read: ReadAt<'_>, _: &[Hint]) -> Result<Vec<Entry>, String> {
            let head = read(0, 3)?;
            if head != b"MIN" {
                return Err("not a .min".into());
            }
            Ok(vec![Entry {
                name: facts.filename.clone(),
                version: "1".into(),
                arch: "any".into(),
                path: String::new(),
                shelf: "all".into(),
                fragments: vec![],
            }])
        }
        fn plan(_: &RepoInfo, _: &[ShelfSummary]) -> Result<PublishPlan, String> {
            Ok(PublishPlan {
                files: vec![],
                links: vec![],
            })
        }
        fn finish(
            _: &RepoInfo,
            _: &[ShelfSummary],
            files: &[Assembled],
            signer: &dyn Signer,
        ) -> Result<Vec<Output>, String> {
            signer.clearsign("x")?;
            Ok(files
                .iter()
                .map(|f| Output {
                    path: f.path.clone(),
                    content: crate::reposmith::generator::types::Content::Bytes(vec![]),
                    media_type: None,
                })
                .collect())
        }
    }

    crate::generator!(Minimal);

    #[test]
    fn the_macro_forwards_to_the_trait() {
        assert_eq!(<Minimal as g::Guest>::info().name, "minimal");
        assert!(<Minimal as g::Guest>::claims(
            "a.min".into(),
            b"MINx".to_vec(),
            vec![]
        ));
        assert!(!<Minimal as g::Guest>::claims(
            "a.min".into(),
            b"MAX".to_vec(),
            vec![]
        ));
        let plan = <Minimal as g::Guest>::plan(crate::testing::repo("r", &["any"]), vec![]);
        assert_eq!(plan.unwrap().files.len(), 0);
    }

    #[test]
    fn claims_is_asked_behind_the_magics() {
        let magics = [crate::magic(0, b"MIN"), crate::magic(257, b"ustar")];
        assert!(sniffed(&magics, b"MIN..."));
        assert!(!sniffed(&magics, b"MAX..."));
        assert!(!sniffed(&magics, b"MI"));
        let mut tar = [0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert!(sniffed(&magics, &tar));
        assert!(!sniffed(&magics, &tar[..260]));
        // No magics: every head is asked about, and `claims` decides.
        assert!(sniffed(&[], b""));
        assert!(claimed::<Minimal>("a.min", b"MIN", &[]));
        assert!(!claimed::<Minimal>("a.min", b"MAX", &[]));
        assert!(<Minimal as sniff::Guest>::magics().is_empty());
    }

    #[test]
    fn parse_package_claims_then_analyzes() {
        let (claimed, entries) = parse_package::<Minimal>("a.min", b"MIN...", &[]);
        assert!(claimed);
        assert_eq!(entries.unwrap()[0].name, "a.min");
        let (claimed, entries) = parse_package::<Minimal>("a.min", b"", &[]);
        assert!(!claimed);
        assert_eq!(entries.unwrap_err(), "not a .min");
    }

    #[test]
    fn defaults_are_the_hosts() {
        let v: Vec<String> = ["1.10", "1.9", "1.9", "2"].map(String::from).to_vec();
        assert_eq!(
            <Minimal as inspect::Guest>::compare_versions(v),
            [1, 0, 0, 2]
        );
        let frag = crate::reposmith::generator::types::Fragment {
            name: "desc".into(),
            data: b"hello".to_vec(),
        };
        let d = <Minimal as inspect::Guest>::describe(vec![vec![frag]]);
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].fields[0].key.as_str(), d[0].fields[0].value.as_str()),
            ("desc", "hello")
        );
        let files = <Minimal as client::Guest>::client_config(crate::client::sample(
            "https://repo.example/repos/demo/min",
        ))
        .unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(
            (files[0].client.as_str(), files[0].file_name.as_str()),
            ("minimal", "demo-minimal.txt")
        );
    }
}
