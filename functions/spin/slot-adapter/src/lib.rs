//! The Spin build's adapter component (wit/spin/spin.wit, `adapter-world`): the generator's
//! interface in, `reposmith:spin/slot` out, plain data only. `spin-compose wrap` composes it with
//! an unchanged generator .wasm and the services component into one self-contained slot.
wit_bindgen::generate!({
    path: ["../../../wit", "../../../wit/spin"],
    world: "reposmith:spin/adapter-world",
    generate_all,
});

use exports::reposmith::spin::slot::Guest;
use reposmith::generator::generator as g;
use reposmith::generator::types as t;
use reposmith::spin::services;
use reposmith_spin_wire as w;
use reposmith_spin_wire::{decode, encode, Reply, SignRequest};

struct Adapter;

fn hints(h: Vec<w::Hint>) -> Vec<t::Hint> {
    h.into_iter()
        .map(|h| t::Hint {
            key: h.key,
            value: h.value,
        })
        .collect()
}

fn facts(f: w::Facts) -> t::Facts {
    t::Facts {
        filename: f.filename,
        size: f.size,
        md5: f.md5,
        sha1: f.sha1,
        sha256: f.sha256,
        sha512: f.sha512,
    }
}

fn repo(r: w::RepoInfo) -> t::RepoInfo {
    t::RepoInfo {
        name: r.name,
        description: r.description,
        default_suite: r.default_suite,
        default_component: r.default_component,
        architectures: r.architectures,
        options: hints(r.options),
        now: r.now,
        generation: r.generation,
    }
}

fn shelves(s: Vec<w::ShelfSummary>) -> Vec<t::ShelfSummary> {
    s.into_iter()
        .map(|s| t::ShelfSummary {
            shelf: s.shelf,
            entries: s.entries,
        })
        .collect()
}

fn encoding_in(e: w::Encoding) -> t::Encoding {
    match e {
        w::Encoding::Identity => t::Encoding::Identity,
        w::Encoding::Gzip => t::Encoding::Gzip,
        w::Encoding::Xz => t::Encoding::Xz,
        w::Encoding::Zstd => t::Encoding::Zstd,
    }
}

fn encoding_out(e: t::Encoding) -> w::Encoding {
    match e {
        t::Encoding::Identity => w::Encoding::Identity,
        t::Encoding::Gzip => w::Encoding::Gzip,
        t::Encoding::Xz => w::Encoding::Xz,
        t::Encoding::Zstd => w::Encoding::Zstd,
    }
}

fn selection(s: t::Selection) -> w::Selection {
    w::Selection {
        shelves: s.shelves,
        fragment: s.fragment,
        separator: s.separator,
    }
}

fn part(p: t::Part) -> w::Part {
    match p {
        t::Part::Literal(b) => w::Part::Literal(b),
        t::Part::Entries(s) => w::Part::Entries(selection(s)),
        t::Part::TarMember(m) => w::Part::TarMember {
            name: m.name,
            mtime: m.mtime,
            parts: m
                .parts
                .into_iter()
                .map(|l| match l {
                    t::Leaf::Literal(b) => w::Part::Literal(b),
                    t::Leaf::Entries(s) => w::Part::Entries(selection(s)),
                })
                .collect(),
        },
    }
}

fn plan_out(p: t::PublishPlan) -> w::Plan {
    w::Plan {
        files: p
            .files
            .into_iter()
            .map(|f| w::BulkFile {
                path: f.path,
                parts: f.parts.into_iter().map(part).collect(),
                encodings: f.encodings.into_iter().map(encoding_out).collect(),
            })
            .collect(),
        links: p
            .links
            .into_iter()
            .map(|l| w::Link {
                shelves: l.shelves,
                prefix: l.prefix,
                signature: l.signature,
            })
            .collect(),
    }
}

fn output(o: t::Output) -> w::Output {
    w::Output {
        path: o.path,
        content: match o.content {
            t::Content::Bytes(b) => w::Content::Bytes(b),
            t::Content::SameAs(p) => w::Content::SameAs(p),
            t::Content::Concat(c) => w::Content::Concat(
                c.pieces
                    .into_iter()
                    .map(|p| match p {
                        t::Piece::Bytes(b) => w::Piece::Bytes(b),
                        t::Piece::File(f) => w::Piece::File(f),
                    })
                    .collect(),
                encoding_out(c.encoding),
            ),
        },
    }
}

fn entry(e: t::Entry) -> w::Entry {
    w::Entry {
        name: e.name,
        version: e.version,
        arch: e.arch,
        path: e.path,
        shelf: e.shelf,
        fragments: e
            .fragments
            .into_iter()
            .map(|f| w::Fragment {
                name: f.name,
                data: f.data,
            })
            .collect(),
    }
}

/// Runs one generator call with the known signatures in place, and reports what was missing.
fn with_known<T: serde::Serialize>(
    known: &[w::Signed],
    f: impl FnOnce() -> Result<T, String>,
) -> Result<Vec<u8>, String> {
    services::set_known(&encode(&known.to_vec()));
    let value = f();
    let missing: Vec<SignRequest> = decode(&services::take_missing())?;
    Ok(encode(&Reply {
        value: value?,
        missing,
    }))
}

impl Guest for Adapter {
    fn info() -> Vec<u8> {
        let i = g::info();
        encode(&w::Info {
            name: i.name,
            mount: i.mount,
            extensions: i.extensions,
            description: i.description,
            contract: i.contract,
            one_version_per_name: i.one_version_per_name,
        })
    }

    fn claims(call: Vec<u8>) -> bool {
        let Ok(c) = decode::<w::ClaimsCall>(&call) else {
            return false;
        };
        g::claims(&c.filename, &c.head, &hints(c.hints))
    }

    fn analyze(call: Vec<u8>) -> Result<Vec<u8>, String> {
        let c: w::AnalyzeCall = decode(&call)?;
        let pkg = services::new_package(&facts(c.facts), &c.data);
        let hints = hints(c.hints);
        // A rejected package is the generator's verdict: `Err` crosses the slot as is, and
        // the handler answers 422. A missing signature cannot matter then.
        with_known(&c.known, || {
            g::analyze(&pkg, &hints).map(|es| es.into_iter().map(entry).collect::<Vec<_>>())
        })
    }

    fn plan(call: Vec<u8>) -> Result<Vec<u8>, String> {
        let c: w::PlanCall = decode(&call)?;
        with_known(&c.known, || {
            g::plan(&repo(c.repo), &shelves(c.shelves)).map(plan_out)
        })
    }

    fn finish(call: Vec<u8>) -> Result<Vec<u8>, String> {
        let c: w::FinishCall = decode(&call)?;
        let files: Vec<t::Assembled> = c
            .files
            .into_iter()
            .map(|a| t::Assembled {
                path: a.path,
                encoding: encoding_in(a.encoding),
                size: a.size,
                md5: a.md5,
                sha1: a.sha1,
                sha256: a.sha256,
                sha512: a.sha512,
                open_size: a.open_size,
                open_sha256: a.open_sha256,
            })
            .collect();
        with_known(&c.known, || {
            g::finish(&repo(c.repo), &shelves(c.shelves), &files)
                .map(|os| os.into_iter().map(output).collect::<Vec<_>>())
        })
    }
}

export!(Adapter);
