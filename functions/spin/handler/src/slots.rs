//! The handler's generator imports (`reposmith:spin/handler-slots`): one plain name per slot,
//! each a wrapped generator or the empty slot, as spin.toml maps them.
//! The slot messages are the contract types themselves, postcard-encoded: nothing to convert.
use reposmith_contract::wire::{self as w, decode, encode, ByteBuf, Reply, SignRequest, Signed};
use reposmith_contract::{
    Assembled, ClientFile, ClientRepo, Details, Entry, Fragment, GenError, Generator, Hint, Info,
    Output, PackageReader, Plan, RepoInfo, ShelfSummary, Signer,
};
use std::sync::Arc;

wit_bindgen::generate!({
    path: ["../../../wit", "../../../wit/spin"],
    world: "reposmith:spin/handler-slots",
});

#[derive(Clone, Copy)]
enum Call {
    Analyze,
    Plan,
    Finish,
    Inspect,
    Client,
}

macro_rules! slots {
    ($($n:literal => $m:ident),*) => {
        pub const COUNT: usize = [$($n),*].len();
        fn info(slot: usize) -> Vec<u8> {
            match slot { $($n => $m::info(),)* _ => Vec::new() }
        }
        fn claims(slot: usize, call: &[u8]) -> bool {
            match slot { $($n => $m::claims(call),)* _ => false }
        }
        fn call(slot: usize, which: Call, call: &[u8]) -> Result<Vec<u8>, String> {
            match slot {
                $($n => match which {
                    Call::Analyze => $m::analyze(call),
                    Call::Plan => $m::plan(call),
                    Call::Finish => $m::finish(call),
                    Call::Inspect => $m::inspect(call),
                    Call::Client => $m::client(call),
                },)*
                _ => Err(format!("no generator slot {slot}")),
            }
        }
    };
}

slots!(1 => generator_a, 2 => generator_b, 3 => generator_c, 4 => generator_d,
       5 => generator_e, 6 => generator_f, 7 => generator_g, 8 => generator_h,
       9 => generator_i, 10 => generator_j, 11 => generator_k, 12 => generator_l);

/// The generators the manifest plugged in (empty slots skipped), in slot order.
pub fn load() -> Result<Vec<Arc<dyn Generator>>, String> {
    let mut out: Vec<Arc<dyn Generator>> = Vec::new();
    for slot in 1..=COUNT {
        let bytes = info(slot);
        if bytes.is_empty() {
            continue;
        }
        out.push(Arc::new(Slot {
            slot,
            info: decode(&bytes)?,
        }));
    }
    Ok(out)
}

struct Slot {
    slot: usize,
    info: Info,
}

/// Answers one signing request natively (keys from Spin variables, blobs from the stores).
/// No signer: not in `finish`, where the host vouches for what is signed; refused, as natively.
fn sign(signer: Option<&dyn Signer>, r: &SignRequest) -> Result<ByteBuf, String> {
    let signer = signer.ok_or("signer not available in this call (only during finish)")?;
    let b = match r {
        SignRequest::Clearsign(text) => signer.clearsign(text)?.into_bytes(),
        SignRequest::Detached(data, armor) => signer.detached(data, *armor)?,
        SignRequest::DetachedPackage(sha) => signer.detached_package(sha)?,
        SignRequest::PublicKey => signer.public_key().into_bytes(),
        SignRequest::RsaSign(data, sha1) => signer.rsa_sign(data, *sha1)?,
        SignRequest::RsaPublicKey => signer.rsa_public_key().into_bytes(),
        SignRequest::RsaKeyName => signer.rsa_key_name().into_bytes(),
        SignRequest::RsaSignBlob(sha, sha1) => signer.rsa_sign_blob(sha, *sha1)?,
        SignRequest::VouchIndex(text) => signer.vouch_index(text).map(|()| Vec::new())?,
    };
    Ok(ByteBuf::from(b))
}

impl Slot {
    /// One slot call, repeated with the signatures it asked for until it asks for none new
    /// (see wit/spin/spin.wit). Generators are deterministic, so this takes two rounds at most
    /// unless a signature covers bytes that hold another signature.
    fn settle<T: serde::de::DeserializeOwned>(
        &self,
        which: Call,
        signer: Option<&dyn Signer>,
        make: impl Fn(Vec<Signed>) -> Vec<u8>,
    ) -> Result<T, GenError> {
        let mut known: Vec<Signed> = Vec::new();
        for _ in 0..4 {
            let reply = call(self.slot, which, &make(known.clone())).map_err(GenError::Rejected)?;
            let reply: Reply<T> = decode(&reply).map_err(GenError::Failed)?;
            if reply.missing.is_empty() {
                return Ok(reply.value);
            }
            for request in reply.missing {
                if known.iter().any(|k| k.request == request) {
                    continue;
                }
                let answer = sign(signer, &request);
                known.push(Signed { request, answer });
            }
        }
        Err(GenError::Failed(format!(
            "generator {}: its signing requests did not settle",
            self.info.name
        )))
    }
}

impl Generator for Slot {
    fn info(&self) -> &Info {
        &self.info
    }

    fn claims(&self, filename: &str, head: &[u8], hints: &[Hint]) -> bool {
        claims(
            self.slot,
            &encode(&w::ClaimsCall {
                filename: filename.to_string(),
                head: head.to_vec(),
                hints: hints.to_vec(),
            }),
        )
    }

    fn analyze(&self, pkg: Arc<dyn PackageReader>, hints: &[Hint]) -> Result<Vec<Entry>, GenError> {
        let facts = pkg.facts().clone();
        let size = u32::try_from(facts.size).map_err(|_| {
            GenError::Rejected("package too large for the Spin build (4 GiB)".into())
        })?;
        let data = pkg
            .read(0, size)
            .map_err(|e| GenError::Failed(format!("reading the package: {e}")))?;
        let hints = hints.to_vec();
        self.settle(Call::Analyze, None, |known| {
            encode(&w::AnalyzeCall {
                facts: facts.clone(),
                data: data.clone(),
                hints: hints.clone(),
                known,
            })
        })
    }

    fn plan(&self, repo: &RepoInfo, shelves: &[ShelfSummary]) -> Result<Plan, GenError> {
        self.settle(Call::Plan, None, |known| {
            encode(&w::PlanCall {
                repo: repo.clone(),
                shelves: shelves.to_vec(),
                known,
            })
        })
    }

    fn finish(
        &self,
        repo: &RepoInfo,
        shelves: &[ShelfSummary],
        files: &[Assembled],
        signer: Arc<dyn Signer>,
    ) -> Result<Vec<Output>, GenError> {
        self.settle(Call::Finish, Some(&*signer), |known| {
            encode(&w::FinishCall {
                repo: repo.clone(),
                shelves: shelves.to_vec(),
                files: files.to_vec(),
                known,
            })
        })
    }

    fn compare_versions(
        &self,
        _repo: &str,
        versions: &[String],
    ) -> Option<Result<Vec<u32>, GenError>> {
        match self.inspect(w::InspectCall::CompareVersions(versions.to_vec())) {
            Ok(w::InspectReply::CompareVersions(r)) if r.len() == versions.len() => Some(Ok(r)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        }
    }

    fn describe(
        &self,
        _repo: &str,
        entries: &[Vec<Fragment>],
    ) -> Option<Result<Vec<Details>, GenError>> {
        match self.inspect(w::InspectCall::Describe(entries.to_vec())) {
            Ok(w::InspectReply::Describe(d)) if d.len() == entries.len() => Some(Ok(d)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        }
    }

    /// One `client` call (no signing: one round). An empty answer is the default: `None`.
    fn client_config(&self, repo: &ClientRepo) -> Option<Result<Vec<ClientFile>, GenError>> {
        let reply = match call(self.slot, Call::Client, &encode(repo)) {
            Ok(reply) => reply,
            Err(m) => return Some(Err(GenError::Rejected(m))),
        };
        if reply.is_empty() {
            return None;
        }
        Some(
            decode(&reply)
                .map_err(|m| GenError::Failed(format!("generator {}: {m}", self.info.name))),
        )
    }
}

impl Slot {
    /// One `inspect` call: no signing, so one round.
    fn inspect(&self, c: w::InspectCall) -> Result<w::InspectReply, GenError> {
        let reply = call(self.slot, Call::Inspect, &encode(&c))
            .map_err(|m| GenError::Failed(format!("generator {}: inspect: {m}", self.info.name)))?;
        decode(&reply).map_err(|m| GenError::Failed(format!("generator {}: {m}", self.info.name)))
    }
}
