//! Host bindings of `wit/generator.wit` and conversions to the core's mirror types.

use reposmith_core::generator as core;

wasmtime::component::bindgen!({
    path: "../../../wit",
    world: "generator-world",
    // The `package` resource is a host object in the store's ResourceTable.
    with: {
        "reposmith:generator/types.package": crate::state::PackageHandle,
    },
});

pub use self::reposmith::generator::types as wit;

/// The interface name a generator must export (checked at load for a clear error).
pub const EXPORT_NAME: &str = "reposmith:generator/generator@0.1.0";

impl From<wit::Info> for core::Info {
    fn from(i: wit::Info) -> Self {
        core::Info {
            name: i.name,
            mount: i.mount,
            extensions: i.extensions,
            description: i.description,
            contract: i.contract,
            one_version_per_name: i.one_version_per_name,
        }
    }
}

pub fn hints(h: &[core::Hint]) -> Vec<wit::Hint> {
    h.iter()
        .map(|h| wit::Hint {
            key: h.key.clone(),
            value: h.value.clone(),
        })
        .collect()
}

pub fn facts(f: &core::Facts) -> wit::Facts {
    wit::Facts {
        filename: f.filename.clone(),
        size: f.size,
        md5: f.md5.clone(),
        sha1: f.sha1.clone(),
        sha256: f.sha256.clone(),
        sha512: f.sha512.clone(),
    }
}

pub fn repo_info(r: &core::RepoInfo) -> wit::RepoInfo {
    wit::RepoInfo {
        name: r.name.clone(),
        description: r.description.clone(),
        default_suite: r.default_suite.clone(),
        default_component: r.default_component.clone(),
        architectures: r.architectures.clone(),
        options: hints(&r.options),
        now: r.now,
        generation: r.generation,
    }
}

pub fn shelves(s: &[core::ShelfSummary]) -> Vec<wit::ShelfSummary> {
    s.iter()
        .map(|s| wit::ShelfSummary {
            shelf: s.shelf.clone(),
            entries: s.entries,
        })
        .collect()
}

fn encoding_to_wit(e: core::Encoding) -> wit::Encoding {
    match e {
        core::Encoding::Identity => wit::Encoding::Identity,
        core::Encoding::Gzip => wit::Encoding::Gzip,
        core::Encoding::Xz => wit::Encoding::Xz,
        core::Encoding::Zstd => wit::Encoding::Zstd,
    }
}

fn encoding_from_wit(e: wit::Encoding) -> core::Encoding {
    match e {
        wit::Encoding::Identity => core::Encoding::Identity,
        wit::Encoding::Gzip => core::Encoding::Gzip,
        wit::Encoding::Xz => core::Encoding::Xz,
        wit::Encoding::Zstd => core::Encoding::Zstd,
    }
}

pub fn assembled(a: &[core::Assembled]) -> Vec<wit::Assembled> {
    a.iter()
        .map(|a| wit::Assembled {
            path: a.path.clone(),
            encoding: encoding_to_wit(a.encoding),
            size: a.size,
            md5: a.md5.clone(),
            sha1: a.sha1.clone(),
            sha256: a.sha256.clone(),
            sha512: a.sha512.clone(),
            open_size: a.open_size,
            open_sha256: a.open_sha256.clone(),
        })
        .collect()
}

pub fn entry(e: wit::Entry) -> core::Entry {
    core::Entry {
        name: e.name,
        version: e.version,
        arch: e.arch,
        path: e.path,
        shelf: e.shelf,
        fragments: e
            .fragments
            .into_iter()
            .map(|f| core::Fragment {
                name: f.name,
                data: f.data,
            })
            .collect(),
    }
}

pub fn bulk_file(b: wit::BulkFile) -> core::BulkFile {
    core::BulkFile {
        path: b.path,
        parts: b
            .parts
            .into_iter()
            .map(|p| match p {
                wit::Part::Literal(l) => core::Part::Literal(l),
                wit::Part::Entries(s) => core::Part::Entries(selection(s)),
                wit::Part::TarMember(m) => core::Part::TarMember {
                    name: m.name,
                    mtime: m.mtime,
                    parts: m
                        .parts
                        .into_iter()
                        .map(|l| match l {
                            wit::Leaf::Literal(b) => core::Part::Literal(b),
                            wit::Leaf::Entries(s) => core::Part::Entries(selection(s)),
                        })
                        .collect(),
                },
            })
            .collect(),
        encodings: b.encodings.into_iter().map(encoding_from_wit).collect(),
    }
}

fn selection(s: wit::Selection) -> core::Selection {
    core::Selection {
        shelves: s.shelves,
        fragment: s.fragment,
        separator: s.separator,
    }
}

pub fn link(l: wit::Link) -> core::Link {
    core::Link {
        shelves: l.shelves,
        prefix: l.prefix,
        signature: l.signature,
    }
}

pub fn output(o: wit::Output) -> core::Output {
    core::Output {
        path: o.path,
        content: match o.content {
            wit::Content::Bytes(b) => core::Content::Bytes(b),
            wit::Content::SameAs(p) => core::Content::SameAs(p),
            wit::Content::Concat(c) => core::Content::Concat(
                c.pieces
                    .into_iter()
                    .map(|p| match p {
                        wit::Piece::Bytes(b) => core::Piece::Bytes(b),
                        wit::Piece::File(f) => core::Piece::File(f),
                    })
                    .collect(),
                encoding_from_wit(c.encoding),
            ),
        },
    }
}
