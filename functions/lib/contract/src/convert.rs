//! The conversions between the contract types and a bindgen's types of `wit/generator.wit`,
//! written once for every caller of a generator: the wasmtime host (wasmtime's `bindgen!`)
//! and the Spin slot adapter (`wit_bindgen::generate!`) generate the same records under the
//! same names, so one macro serves both.

/// `wit_conversions!(path::to::types)`, where `types` is the bindgen module of
/// `reposmith:generator/types`: `From` impls for what a caller sends to a generator (hints,
/// facts, repo, shelves, assembled files: contract → bindgen) and for what it gets back
/// (info, entries, plan, outputs: bindgen → contract).
#[macro_export]
macro_rules! wit_conversions {
    ($($w:ident)::+) => {
        const _: () = {
            use $($w)::+ as wit;

            impl From<$crate::Hint> for wit::Hint {
                fn from(h: $crate::Hint) -> Self {
                    wit::Hint { key: h.key, value: h.value }
                }
            }

            impl From<$crate::Facts> for wit::Facts {
                fn from(f: $crate::Facts) -> Self {
                    wit::Facts {
                        filename: f.filename,
                        size: f.size,
                        md5: f.md5,
                        sha1: f.sha1,
                        sha256: f.sha256,
                        sha512: f.sha512,
                    }
                }
            }

            impl From<$crate::RepoInfo> for wit::RepoInfo {
                fn from(r: $crate::RepoInfo) -> Self {
                    wit::RepoInfo {
                        name: r.name,
                        description: r.description,
                        default_suite: r.default_suite,
                        default_component: r.default_component,
                        architectures: r.architectures,
                        options: r.options.into_iter().map(Into::into).collect(),
                        now: r.now,
                        generation: r.generation,
                        base_url: r.base_url,
                    }
                }
            }

            impl From<$crate::ShelfSummary> for wit::ShelfSummary {
                fn from(s: $crate::ShelfSummary) -> Self {
                    wit::ShelfSummary { shelf: s.shelf, entries: s.entries }
                }
            }

            impl From<$crate::Encoding> for wit::Encoding {
                fn from(e: $crate::Encoding) -> Self {
                    match e {
                        $crate::Encoding::Identity => wit::Encoding::Identity,
                        $crate::Encoding::Gzip => wit::Encoding::Gzip,
                        $crate::Encoding::Xz => wit::Encoding::Xz,
                        $crate::Encoding::Zstd => wit::Encoding::Zstd,
                    }
                }
            }

            impl From<wit::Encoding> for $crate::Encoding {
                fn from(e: wit::Encoding) -> Self {
                    match e {
                        wit::Encoding::Identity => $crate::Encoding::Identity,
                        wit::Encoding::Gzip => $crate::Encoding::Gzip,
                        wit::Encoding::Xz => $crate::Encoding::Xz,
                        wit::Encoding::Zstd => $crate::Encoding::Zstd,
                    }
                }
            }

            impl From<$crate::Assembled> for wit::Assembled {
                fn from(a: $crate::Assembled) -> Self {
                    wit::Assembled {
                        path: a.path,
                        encoding: a.encoding.into(),
                        size: a.size,
                        md5: a.md5,
                        sha1: a.sha1,
                        sha256: a.sha256,
                        sha512: a.sha512,
                        open_size: a.open_size,
                        open_sha256: a.open_sha256,
                        patch: a.patch.map(|p| wit::PatchOf {
                            file: p.file,
                            from_size: p.from_size,
                            from_sha256: p.from_sha256,
                        }),
                    }
                }
            }

            impl From<wit::Info> for $crate::Info {
                fn from(i: wit::Info) -> Self {
                    $crate::Info {
                        name: i.name,
                        mount: i.mount,
                        extensions: i.extensions,
                        description: i.description,
                        contract: i.contract,
                        one_version_per_name: i.one_version_per_name,
                        signed_packages: i.signed_packages,
                        index_name: i.index_name,
                    }
                }
            }

            impl From<wit::Entry> for $crate::Entry {
                fn from(e: wit::Entry) -> Self {
                    $crate::Entry {
                        name: e.name,
                        version: e.version,
                        arch: e.arch,
                        path: e.path,
                        shelf: e.shelf,
                        fragments: e
                            .fragments
                            .into_iter()
                            .map(|f| $crate::Fragment { name: f.name, data: f.data })
                            .collect(),
                    }
                }
            }

            impl From<wit::Selection> for $crate::Selection {
                fn from(s: wit::Selection) -> Self {
                    $crate::Selection {
                        shelves: s.shelves,
                        fragment: s.fragment,
                        separator: s.separator,
                    }
                }
            }

            impl From<wit::Leaf> for $crate::Part {
                fn from(l: wit::Leaf) -> Self {
                    match l {
                        wit::Leaf::Literal(b) => $crate::Part::Literal(b),
                        wit::Leaf::Entries(s) => $crate::Part::Entries(s.into()),
                    }
                }
            }

            impl From<wit::Part> for $crate::Part {
                fn from(p: wit::Part) -> Self {
                    match p {
                        wit::Part::Literal(b) => $crate::Part::Literal(b),
                        wit::Part::Entries(s) => $crate::Part::Entries(s.into()),
                        wit::Part::TarMember(m) => $crate::Part::TarMember {
                            name: m.name,
                            mtime: m.mtime,
                            parts: m.parts.into_iter().map(Into::into).collect(),
                        },
                    }
                }
            }

            impl From<wit::BulkFile> for $crate::BulkFile {
                fn from(b: wit::BulkFile) -> Self {
                    $crate::BulkFile {
                        path: b.path,
                        parts: b.parts.into_iter().map(Into::into).collect(),
                        encodings: b.encodings.into_iter().map(Into::into).collect(),
                        history: b.history.map(|h| $crate::History {
                            keep: h.keep,
                            dir: h.dir,
                            encodings: h.encodings.into_iter().map(Into::into).collect(),
                        }),
                        media_type: b.media_type,
                    }
                }
            }

            impl From<wit::Link> for $crate::Link {
                fn from(l: wit::Link) -> Self {
                    $crate::Link { shelves: l.shelves, prefix: l.prefix, signature: l.signature }
                }
            }

            impl From<wit::PublishPlan> for $crate::Plan {
                fn from(p: wit::PublishPlan) -> Self {
                    $crate::Plan {
                        files: p.files.into_iter().map(Into::into).collect(),
                        links: p.links.into_iter().map(Into::into).collect(),
                    }
                }
            }

            impl From<wit::Output> for $crate::Output {
                fn from(o: wit::Output) -> Self {
                    $crate::Output {
                        path: o.path,
                        content: match o.content {
                            wit::Content::Bytes(b) => $crate::Content::Bytes(b),
                            wit::Content::SameAs(p) => $crate::Content::SameAs(p),
                            wit::Content::Concat(c) => $crate::Content::Concat(
                                c.pieces
                                    .into_iter()
                                    .map(|p| match p {
                                        wit::Piece::Bytes(b) => $crate::Piece::Bytes(b),
                                        wit::Piece::File(f) => $crate::Piece::File(f),
                                    })
                                    .collect(),
                                c.encoding.into(),
                            ),
                        },
                        media_type: o.media_type,
                    }
                }
            }
        };
    };
}

/// `inspect_conversions!(path::to::inspect)`, where `inspect` is the bindgen module of the
/// optional `reposmith:generator/inspect`: its answers as contract types.
#[macro_export]
macro_rules! inspect_conversions {
    ($($w:ident)::+) => {
        const _: () = {
            use $($w)::+ as wit;

            impl From<wit::Dependency> for $crate::Dependency {
                fn from(d: wit::Dependency) -> Self {
                    $crate::Dependency { name: d.name, op: d.op, version: d.version }
                }
            }

            impl From<wit::Details> for $crate::Details {
                fn from(d: wit::Details) -> Self {
                    $crate::Details {
                        summary: d.summary,
                        depends: d
                            .depends
                            .into_iter()
                            .map(|alts| alts.into_iter().map(Into::into).collect())
                            .collect(),
                        provides: d.provides.into_iter().map(Into::into).collect(),
                        fields: d.fields.into_iter().map(|h| (h.key, h.value)).collect(),
                    }
                }
            }

            impl From<$crate::Dependency> for wit::Dependency {
                fn from(d: $crate::Dependency) -> Self {
                    wit::Dependency { name: d.name, op: d.op, version: d.version }
                }
            }
        };
    };
}

/// `client_conversions!(path::to::client)`, where `client` is the bindgen module of the
/// optional `reposmith:generator/client`: the repo a caller sends (contract → bindgen) and the
/// files it gets back (bindgen → contract).
#[macro_export]
macro_rules! client_conversions {
    ($($w:ident)::+) => {
        const _: () = {
            use $($w)::+ as wit;

            impl From<$crate::ClientRepo> for wit::ClientRepo {
                fn from(r: $crate::ClientRepo) -> Self {
                    wit::ClientRepo {
                        name: r.name,
                        title: r.title,
                        description: r.description,
                        enabled: r.enabled,
                        gpgcheck: r.gpgcheck,
                        repo_gpgcheck: r.repo_gpgcheck,
                        gpgkeys: r.gpgkeys,
                        base_url: r.base_url,
                        mirrors: r.mirrors,
                        url_args: r
                            .url_args
                            .into_iter()
                            .map(|h| wit::Hint { key: h.key, value: h.value })
                            .collect(),
                        default_suite: r.default_suite,
                        default_component: r.default_component,
                        architectures: r.architectures,
                        public_key: r.public_key,
                        rsa_key_name: r.rsa_key_name,
                        rsa_public_key: r.rsa_public_key,
                    }
                }
            }

            impl From<wit::ClientFile> for $crate::ClientFile {
                fn from(f: wit::ClientFile) -> Self {
                    $crate::ClientFile { client: f.client, file_name: f.file_name, data: f.data }
                }
            }
        };
    };
}
