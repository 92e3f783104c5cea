//! What reposmith's generators share (see README.md): the guest bindings of the generator
//! contract (`wit/generator.wit`) generated once, a plain trait over them and the macro that
//! exports it; bounded readers for packages; and one deterministic ustar writer, which the
//! host uses too.
//!
//! A generator implements [`Generator`] (info, claims, analyze, plan, finish; optionally
//! compare-versions, describe, client-config, digests, magics) and calls
//! `reposmith_generator_sdk::generator!(MyGenerator);`, which implements the five wit-bindgen
//! `Guest` traits (`generator`, `inspect`, `client`, `digests`, `sniff`: the SDK's world is
//! `generator-full-world`) and exports them. Whoever prefers the raw bindings implements those
//! traits and calls `export_generator!(MyGenerator)` instead.
//!
//! Readers for what packages are made of, each bounded (packages are untrusted): [`read`]
//! (ranged reads with a buffer), [`ar`], [`tar`], [`zip`] (central directory), [`codec`]
//! (gzip/xz/zstd streams), [`deb822`] (RFC 822 style paragraphs) and [`xml`] escaping.

#[cfg(feature = "bindings")]
wit_bindgen::generate!({
    path: "../../wit",
    world: "generator-full-world",
    additional_derives: [PartialEq],
    pub_export_macro: true,
    export_macro_name: "export_generator",
    default_bindings_module: "reposmith_generator_sdk",
});

pub mod ar;
#[cfg(feature = "bindings")]
pub mod client;
pub mod codec;
pub mod deb822;
#[cfg(feature = "bindings")]
mod guest;
pub mod read;
pub mod sign;
pub mod tar;
#[cfg(feature = "testing")]
pub mod testing;
pub mod ustar;
pub mod versions;
pub mod xml;
pub mod zip;
pub mod zstd;

/// What a generator's `lib.rs` needs: `use reposmith_generator_sdk::prelude::*;`.
#[cfg(feature = "bindings")]
pub mod prelude {
    pub use crate::exports::reposmith::generator::client::{ClientFile, ClientRepo};
    pub use crate::exports::reposmith::generator::digests::Digest;
    pub use crate::exports::reposmith::generator::inspect::{Dependency, Details};
    pub use crate::exports::reposmith::generator::sniff::Magic;
    pub use crate::reposmith::generator::types::*;
    pub use crate::{Generator, ReadAt, Signer};
}

/// The bytes of an upload `claims` sees: its first 4 KiB (the host's `HEAD_BYTES`).
pub const CLAIMS_HEAD: usize = 4096;

/// The contract version these bindings implement (`wit/generator.wit`).
pub const CONTRACT: &str = "0.2.0";

/// A generator's `info` for this SDK's contract version; `signed-packages` is false (a
/// generator that publishes package signatures sets it: `Info { signed_packages: true, ..info(..) }`).
#[cfg(feature = "bindings")]
pub fn info(
    name: &str,
    mount: &str,
    extensions: &[&str],
    description: &str,
    one_version_per_name: bool,
) -> reposmith::generator::types::Info {
    reposmith::generator::types::Info {
        name: name.into(),
        mount: mount.into(),
        extensions: extensions.iter().map(|e| e.to_string()).collect(),
        description: description.into(),
        contract: CONTRACT.into(),
        one_version_per_name,
        signed_packages: false,
        index_name: None,
    }
}

/// An output served with the host's media type for its extension (most files); set
/// `media_type` on the result for the others (`Output { media_type: Some(..), ..output(..) }`).
#[cfg(feature = "bindings")]
pub fn output(
    path: impl Into<String>,
    content: reposmith::generator::types::Content,
) -> reposmith::generator::types::Output {
    reposmith::generator::types::Output {
        path: path.into(),
        content,
        media_type: None,
    }
}

/// A bulk file of `parts` published in `encodings`: no patches, the host's media type.
#[cfg(feature = "bindings")]
pub fn bulk_file(
    path: impl Into<String>,
    parts: Vec<reposmith::generator::types::Part>,
    encodings: Vec<reposmith::generator::types::Encoding>,
) -> reposmith::generator::types::BulkFile {
    reposmith::generator::types::BulkFile {
        path: path.into(),
        parts,
        encodings,
        history: None,
        media_type: None,
    }
}

/// `facts` for a package held in memory: its name and size, placeholder digests (a generator
/// never checks them; fuzzing has no use for real ones).
#[cfg(feature = "bindings")]
pub fn mem_facts(filename: &str, size: u64) -> reposmith::generator::types::Facts {
    reposmith::generator::types::Facts {
        filename: filename.into(),
        size,
        md5: "0".repeat(32),
        sha1: "0".repeat(40),
        sha256: "0".repeat(64),
        sha512: "0".repeat(128),
    }
}

pub use codec::{gunzip, Codec};
#[cfg(feature = "bindings")]
pub use guest::{claimed, compressed_magics, magic, parse_package, sniffed, Generator, ReadAt};
pub use read::{mem_read, Cached, Capped, Handle, Mem, Ranged, Source};
#[cfg(feature = "bindings")]
pub use sign::HostSigner;
pub use sign::{RsaDigest, Signer};
pub use tar::{first_tar_member, octal};
pub use zstd::ZstdFrames;

/// `inspect.describe`'s default for one entry: no summary, no dependencies, each fragment
/// as a field (its name, its bytes as text).
#[cfg(feature = "bindings")]
pub fn plain_details(
    fragments: &[reposmith::generator::types::Fragment],
) -> exports::reposmith::generator::inspect::Details {
    exports::reposmith::generator::inspect::Details {
        summary: String::new(),
        depends: vec![],
        provides: vec![],
        fields: fragments
            .iter()
            .map(|f| reposmith::generator::types::Hint {
                key: f.name.clone(),
                value: String::from_utf8_lossy(&f.data).into_owned(),
            })
            .collect(),
    }
}
