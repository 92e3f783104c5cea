//! Core types ↔ the slot's wire records (`reposmith-spin-wire`).
use reposmith_core::generator as c;
use reposmith_spin_wire as w;

pub fn info(i: w::Info) -> c::Info {
    c::Info {
        name: i.name,
        mount: i.mount,
        extensions: i.extensions,
        description: i.description,
        contract: i.contract,
        one_version_per_name: i.one_version_per_name,
    }
}

pub fn hints(h: &[c::Hint]) -> Vec<w::Hint> {
    h.iter()
        .map(|h| w::Hint {
            key: h.key.clone(),
            value: h.value.clone(),
        })
        .collect()
}

pub fn facts(f: &c::Facts) -> w::Facts {
    w::Facts {
        filename: f.filename.clone(),
        size: f.size,
        md5: f.md5.clone(),
        sha1: f.sha1.clone(),
        sha256: f.sha256.clone(),
        sha512: f.sha512.clone(),
    }
}

pub fn repo(r: &c::RepoInfo) -> w::RepoInfo {
    w::RepoInfo {
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

pub fn shelves(s: &[c::ShelfSummary]) -> Vec<w::ShelfSummary> {
    s.iter()
        .map(|s| w::ShelfSummary {
            shelf: s.shelf.clone(),
            entries: s.entries,
        })
        .collect()
}

fn encoding_out(e: c::Encoding) -> w::Encoding {
    match e {
        c::Encoding::Identity => w::Encoding::Identity,
        c::Encoding::Gzip => w::Encoding::Gzip,
        c::Encoding::Xz => w::Encoding::Xz,
        c::Encoding::Zstd => w::Encoding::Zstd,
    }
}

fn encoding_in(e: w::Encoding) -> c::Encoding {
    match e {
        w::Encoding::Identity => c::Encoding::Identity,
        w::Encoding::Gzip => c::Encoding::Gzip,
        w::Encoding::Xz => c::Encoding::Xz,
        w::Encoding::Zstd => c::Encoding::Zstd,
    }
}

pub fn assembled(a: &c::Assembled) -> w::Assembled {
    w::Assembled {
        path: a.path.clone(),
        encoding: encoding_out(a.encoding),
        size: a.size,
        md5: a.md5.clone(),
        sha1: a.sha1.clone(),
        sha256: a.sha256.clone(),
        sha512: a.sha512.clone(),
        open_size: a.open_size,
        open_sha256: a.open_sha256.clone(),
    }
}

pub fn entry(e: w::Entry) -> c::Entry {
    c::Entry {
        name: e.name,
        version: e.version,
        arch: e.arch,
        path: e.path,
        shelf: e.shelf,
        fragments: e
            .fragments
            .into_iter()
            .map(|f| c::Fragment {
                name: f.name,
                data: f.data,
            })
            .collect(),
    }
}

fn part(p: w::Part) -> c::Part {
    match p {
        w::Part::Literal(b) => c::Part::Literal(b),
        w::Part::Entries(s) => c::Part::Entries(c::Selection {
            shelves: s.shelves,
            fragment: s.fragment,
            separator: s.separator,
        }),
        w::Part::TarMember { name, mtime, parts } => c::Part::TarMember {
            name,
            mtime,
            parts: parts.into_iter().map(part).collect(),
        },
    }
}

pub fn plan(p: w::Plan) -> c::Plan {
    c::Plan {
        files: p
            .files
            .into_iter()
            .map(|f| c::BulkFile {
                path: f.path,
                parts: f.parts.into_iter().map(part).collect(),
                encodings: f.encodings.into_iter().map(encoding_in).collect(),
            })
            .collect(),
        links: p
            .links
            .into_iter()
            .map(|l| c::Link {
                shelves: l.shelves,
                prefix: l.prefix,
                signature: l.signature,
            })
            .collect(),
    }
}

pub fn output(o: w::Output) -> c::Output {
    c::Output {
        path: o.path,
        content: match o.content {
            w::Content::Bytes(b) => c::Content::Bytes(b),
            w::Content::SameAs(p) => c::Content::SameAs(p),
            w::Content::Concat(pieces, e) => c::Content::Concat(
                pieces
                    .into_iter()
                    .map(|p| match p {
                        w::Piece::Bytes(b) => c::Piece::Bytes(b),
                        w::Piece::File(f) => c::Piece::File(f),
                    })
                    .collect(),
                encoding_in(e),
            ),
        },
    }
}
