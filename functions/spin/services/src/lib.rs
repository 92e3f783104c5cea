//! The Spin build's services component (wit/spin/spin.wit, `services-world`): what a wrapped
//! generator imports. `types` gives it the `package` resource over bytes the handler handed
//! over; `signer` answers from the table of signatures the handler computed (no key here), and
//! records what it could not answer. Its `slot` export is the empty slot, so that spin.toml can
//! fill an unused `generator-N` import with this same file.
wit_bindgen::generate!({
    path: ["../../../wit", "../../../wit/spin"],
    world: "reposmith:spin/services-world",
});

use exports::reposmith::generator::client::{ClientFile, ClientRepo, Guest as ClientGuest};
use exports::reposmith::generator::inspect::{Details, Guest as InspectGuest};
use exports::reposmith::generator::signer::{Guest as SignerGuest, RsaDigest};
use exports::reposmith::generator::types::{Facts, Guest as TypesGuest, GuestPackage};
use exports::reposmith::spin::services::{Guest as ServicesGuest, Package};
use exports::reposmith::spin::slot::Guest as SlotGuest;
use reposmith_contract::wire::{decode, encode, SignRequest, Signed};
use std::cell::RefCell;
use std::collections::HashMap;

struct Services;

/// What an unknown signature is answered with: the outputs of such a round are dropped.
const PLACEHOLDER: &[u8] = b"reposmith placeholder signature (the handler signs and calls again)";

#[derive(Default)]
struct State {
    known: HashMap<SignRequest, Result<Vec<u8>, String>>,
    missing: Vec<SignRequest>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn ask(request: SignRequest) -> Result<Vec<u8>, String> {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        if let Some(answer) = s.known.get(&request) {
            return answer.clone();
        }
        if !s.missing.contains(&request) {
            s.missing.push(request);
        }
        Ok(PLACEHOLDER.to_vec())
    })
}

fn ask_string(request: SignRequest) -> String {
    match ask(request) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::new(),
    }
}

pub struct PackageBytes {
    facts: Facts,
    data: Vec<u8>,
}

impl GuestPackage for PackageBytes {
    fn facts(&self) -> Facts {
        self.facts.clone()
    }

    fn read(&self, offset: u64, len: u32) -> Result<Vec<u8>, String> {
        Ok(reposmith_contract::range(&self.data, offset, len).to_vec())
    }
}

impl TypesGuest for Services {
    type Package = PackageBytes;
}

impl ServicesGuest for Services {
    fn new_package(facts: Facts, data: Vec<u8>) -> Package {
        Package::new(PackageBytes { facts, data })
    }

    fn set_known(known: Vec<u8>) {
        let known: Vec<Signed> = decode(&known).unwrap_or_default();
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.missing.clear();
            s.known = known
                .into_iter()
                .map(|k| (k.request, k.answer.map(|b| b.into_vec())))
                .collect();
        })
    }

    fn take_missing() -> Vec<u8> {
        let missing = STATE.with(|s| std::mem::take(&mut s.borrow_mut().missing));
        encode(&missing)
    }
}

fn sha1(d: RsaDigest) -> bool {
    matches!(d, RsaDigest::Sha1)
}

impl SignerGuest for Services {
    fn clearsign(text: String) -> Result<String, String> {
        ask(SignRequest::Clearsign(text)).map(|b| String::from_utf8_lossy(&b).into_owned())
    }
    fn detached(data: Vec<u8>, armor: bool) -> Result<Vec<u8>, String> {
        ask(SignRequest::Detached(data, armor))
    }
    fn detached_package(sha256: String) -> Result<Vec<u8>, String> {
        ask(SignRequest::DetachedPackage(sha256))
    }
    fn public_key() -> String {
        ask_string(SignRequest::PublicKey)
    }
    fn rsa_sign(data: Vec<u8>, digest: RsaDigest) -> Result<Vec<u8>, String> {
        ask(SignRequest::RsaSign(data, sha1(digest)))
    }
    fn rsa_public_key() -> String {
        ask_string(SignRequest::RsaPublicKey)
    }
    fn rsa_key_name() -> String {
        ask_string(SignRequest::RsaKeyName)
    }
    fn rsa_sign_blob(sha256: String, digest: RsaDigest) -> Result<Vec<u8>, String> {
        ask(SignRequest::RsaSignBlob(sha256, sha1(digest)))
    }
    fn vouch_index(text: Vec<u8>) -> Result<(), String> {
        ask(SignRequest::VouchIndex(text)).map(drop)
    }
}

/// The stand-in for a generator without `inspect`: empty answers mean "the defaults".
impl InspectGuest for Services {
    fn compare_versions(_versions: Vec<String>) -> Vec<u32> {
        Vec::new()
    }
    fn describe(
        _entries: Vec<Vec<exports::reposmith::generator::types::Fragment>>,
    ) -> Vec<Details> {
        Vec::new()
    }
}

/// The stand-in for a generator without `client`: no file (the default).
impl ClientGuest for Services {
    fn client_config(_repo: ClientRepo) -> Result<Vec<ClientFile>, String> {
        Ok(Vec::new())
    }
}

/// The empty slot: no generator.
impl SlotGuest for Services {
    fn info() -> Vec<u8> {
        Vec::new()
    }
    fn claims(_call: Vec<u8>) -> bool {
        false
    }
    fn analyze(_call: Vec<u8>) -> Result<Vec<u8>, String> {
        Err("empty generator slot".into())
    }
    fn plan(_call: Vec<u8>) -> Result<Vec<u8>, String> {
        Err("empty generator slot".into())
    }
    fn finish(_call: Vec<u8>) -> Result<Vec<u8>, String> {
        Err("empty generator slot".into())
    }
    fn inspect(_call: Vec<u8>) -> Result<Vec<u8>, String> {
        Err("empty generator slot".into())
    }
    fn client(_call: Vec<u8>) -> Result<Vec<u8>, String> {
        Err("empty generator slot".into())
    }
}

export!(Services);
