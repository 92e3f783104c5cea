//! The Spin build's adapter component (wit/spin/spin.wit, `adapter-world`): the generator's
//! interface in, `reposmith:spin/slot` out, plain data only. `spin-compose wrap` composes it
//! with an unchanged generator .wasm and the services component into one self-contained slot.
//! The slot's messages are the contract types, postcard-encoded (`reposmith_contract::wire`).
wit_bindgen::generate!({
    path: ["../../../wit", "../../../wit/spin"],
    world: "reposmith:spin/adapter-world",
    generate_all,
});

use exports::reposmith::spin::slot::Guest;
use reposmith::generator::client as c;
use reposmith::generator::generator as g;
use reposmith::generator::inspect as i;
use reposmith::generator::types as t;
use reposmith::spin::services;
use reposmith_contract::wire::{self as w, decode, encode, Reply, SignRequest};

reposmith_contract::wit_conversions!(reposmith::generator::types);
reposmith_contract::inspect_conversions!(reposmith::generator::inspect);
reposmith_contract::client_conversions!(reposmith::generator::client);

struct Adapter;

fn to_wit<C: Into<W>, W>(values: Vec<C>) -> Vec<W> {
    values.into_iter().map(Into::into).collect()
}

fn from_wit<W: Into<C>, C>(values: Vec<W>) -> Vec<C> {
    values.into_iter().map(Into::into).collect()
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
        encode(&reposmith_contract::Info::from(g::info()))
    }

    fn claims(call: Vec<u8>) -> bool {
        let Ok(c) = decode::<w::ClaimsCall>(&call) else {
            return false;
        };
        g::claims(&c.filename, &c.head, &to_wit::<_, t::Hint>(c.hints))
    }

    fn analyze(call: Vec<u8>) -> Result<Vec<u8>, String> {
        let c: w::AnalyzeCall = decode(&call)?;
        let facts: t::Facts = c.facts.into();
        let pkg = services::new_package(&facts, &c.data);
        let hints: Vec<t::Hint> = to_wit(c.hints);
        // A rejected package is the generator's verdict: `Err` crosses the slot as is, and
        // the handler answers 422. A missing signature cannot matter then.
        with_known(&c.known, || {
            g::analyze(&pkg, &hints).map(from_wit::<_, reposmith_contract::Entry>)
        })
    }

    fn plan(call: Vec<u8>) -> Result<Vec<u8>, String> {
        let c: w::PlanCall = decode(&call)?;
        let (repo, shelves): (t::RepoInfo, Vec<t::ShelfSummary>) =
            (c.repo.into(), to_wit(c.shelves));
        with_known(&c.known, || {
            g::plan(&repo, &shelves).map(reposmith_contract::Plan::from)
        })
    }

    fn finish(call: Vec<u8>) -> Result<Vec<u8>, String> {
        let c: w::FinishCall = decode(&call)?;
        let (repo, shelves): (t::RepoInfo, Vec<t::ShelfSummary>) =
            (c.repo.into(), to_wit(c.shelves));
        let files: Vec<t::Assembled> = to_wit(c.files);
        with_known(&c.known, || {
            g::finish(&repo, &shelves, &files).map(from_wit::<_, reposmith_contract::Output>)
        })
    }

    fn inspect(call: Vec<u8>) -> Result<Vec<u8>, String> {
        Ok(encode(&match decode::<w::InspectCall>(&call)? {
            w::InspectCall::CompareVersions(v) => {
                w::InspectReply::CompareVersions(i::compare_versions(&v))
            }
            w::InspectCall::Describe(entries) => {
                let entries: Vec<Vec<t::Fragment>> = entries
                    .into_iter()
                    .map(|fs| {
                        fs.into_iter()
                            .map(|f| t::Fragment {
                                name: f.name,
                                data: f.data,
                            })
                            .collect()
                    })
                    .collect();
                w::InspectReply::Describe(from_wit(i::describe(&entries)))
            }
        }))
    }

    fn client(call: Vec<u8>) -> Result<Vec<u8>, String> {
        let repo: c::ClientRepo = decode::<reposmith_contract::ClientRepo>(&call)?.into();
        let files = c::client_config(&repo)?;
        if files.is_empty() {
            // The stand-in's answer (or a generator listing nothing): the default.
            return Ok(Vec::new());
        }
        Ok(encode(&from_wit::<_, reposmith_contract::ClientFile>(
            files,
        )))
    }
}

export!(Adapter);
