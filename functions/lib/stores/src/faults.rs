//! Fault injection for tests: wrappers that make chosen store calls fail, lose their reply
//! or slow down, so tests can show that no package is lost and no metadata names a missing
//! blob when storage misbehaves. Compiled with the `faults` feature only (the end-to-end
//! tests build `manage-repo` with it), and enabled by `REPOSMITH_FAULTS`, e.g.
//!
//! `meta.put_if=lost-reply@0.2,meta.put_if=conflict@0.2,packages.put=delay:300@0.5`
//!
//! Each rule is `CALL=ACTION@PROBABILITY`. CALL is `meta.get|put_if|delete_if|list|transact`
//! or `packages.put|put_bytes|get|size|adopt|settle`. ACTION is `error` (fail before the call),
//! `lost-reply` (make the call, then fail as a timeout would: the write landed, the caller
//! does not know), `conflict` (answer compare-and-set lost without writing; meta writes
//! only) or `delay:MS`.
use async_trait::async_trait;
use bytes::Bytes;
use reposmith_core::body::ByteStream;
use reposmith_core::digest::Digests;
use reposmith_core::generator::{Facts, PackageReader};
use reposmith_core::model::BlobRef;
use reposmith_core::store::{
    Cas, Conflict, Fresh, MetaStore, PackageStore, Result, StoreError, Versioned, Write,
};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
enum Action {
    Error,
    LostReply,
    Conflict,
    Delay(u64),
}

#[derive(Clone, Debug)]
struct Rule {
    call: String,
    action: Action,
    p: f64,
}

/// The parsed `REPOSMITH_FAULTS` rules.
#[derive(Clone, Debug, Default)]
pub(crate) struct Faults {
    rules: Vec<Rule>,
}

impl Faults {
    pub fn parse(spec: &str) -> anyhow::Result<Faults> {
        let mut rules = Vec::new();
        for r in spec.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            let bad = || anyhow::anyhow!("fault rule {r:?}: expected CALL=ACTION@PROBABILITY");
            let (call, rest) = r.split_once('=').ok_or_else(bad)?;
            let (action, p) = rest.split_once('@').ok_or_else(bad)?;
            let action = match action {
                "error" => Action::Error,
                "lost-reply" => Action::LostReply,
                "conflict" => Action::Conflict,
                a => match a.strip_prefix("delay:") {
                    Some(ms) => Action::Delay(ms.parse()?),
                    None => anyhow::bail!("fault rule {r:?}: unknown action {a:?}"),
                },
            };
            rules.push(Rule {
                call: call.to_string(),
                action,
                p: p.parse()?,
            });
        }
        Ok(Faults { rules })
    }

    pub fn from_env() -> anyhow::Result<Option<Faults>> {
        crate::open::faults_spec()
            .map(|s| Faults::parse(&s))
            .transpose()
    }

    pub fn packages(self, inner: Arc<dyn PackageStore>) -> Arc<dyn PackageStore> {
        Arc::new(FaultyPackages {
            inner,
            faults: self,
        })
    }

    pub fn meta(self, inner: Arc<dyn MetaStore>) -> Arc<dyn MetaStore> {
        Arc::new(FaultyMeta {
            inner,
            faults: self,
        })
    }

    /// What happens to this call: delays are served here, the rest is returned.
    async fn roll(&self, call: &str) -> Option<Action> {
        for r in self.rules.iter().filter(|r| r.call == call) {
            if rand::random::<f64>() < r.p {
                if let Action::Delay(ms) = r.action {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    continue;
                }
                // On the log, so a test can tell its faults were injected even when the
                // server absorbed every one (no 5xx reached a client).
                eprintln!("injected fault: {call} {:?}", r.action);
                return Some(r.action.clone());
            }
        }
        None
    }
}

/// As a store would fail when its backend does not answer.
fn injected(call: &str, what: &str) -> StoreError {
    StoreError::Unavailable {
        what: format!("{call} {what}"),
        source: "injected fault (REPOSMITH_FAULTS)".into(),
    }
}

/// Runs `$call` under the rules for `$name`: `error` before, `lost-reply` after it, and for
/// compare-and-set calls (given `Conflict`) a lost compare-and-set without writing.
macro_rules! faulty {
    ($self:ident, $name:literal, $call:expr $(, $conflict:ident)?) => {{
        match $self.faults.roll($name).await {
            Some(Action::Error) => return Err(injected($name, "failed")),
            Some(Action::LostReply) => {
                let _ = $call.await;
                return Err(injected($name, "timed out after the write landed"));
            }
            $(Some(Action::Conflict) => return Ok(Err($conflict)),)?
            _ => $call.await,
        }
    }};
}

struct FaultyMeta {
    inner: Arc<dyn MetaStore>,
    faults: Faults,
}

#[async_trait]
impl MetaStore for FaultyMeta {
    fn reads_are_remote(&self) -> bool {
        self.inner.reads_are_remote()
    }
    async fn get(&self, key: &str) -> Result<Option<Versioned>> {
        faulty!(self, "meta.get", self.inner.get(key))
    }
    async fn get_fresh(&self, key: &str, known: &Versioned) -> Result<Fresh> {
        faulty!(self, "meta.get", self.inner.get_fresh(key, known))
    }
    async fn put_if(&self, key: &str, value: Bytes, expected: Option<u64>) -> Cas<u64> {
        faulty!(
            self,
            "meta.put_if",
            self.inner.put_if(key, value.clone(), expected),
            Conflict
        )
    }
    async fn delete_if(&self, key: &str, expected: u64) -> Cas<()> {
        faulty!(
            self,
            "meta.delete_if",
            self.inner.delete_if(key, expected),
            Conflict
        )
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        faulty!(self, "meta.list", self.inner.list(prefix))
    }
    async fn transact(&self, ops: Vec<Write>) -> Cas<()> {
        faulty!(
            self,
            "meta.transact",
            self.inner.transact(ops.clone()),
            Conflict
        )
    }
    async fn spilled(&self) -> Result<Vec<String>> {
        self.inner.spilled().await
    }
}

struct FaultyPackages {
    inner: Arc<dyn PackageStore>,
    faults: Faults,
}

#[async_trait]
impl PackageStore for FaultyPackages {
    async fn put(&self, body: ByteStream) -> Result<Digests> {
        // A stream can be consumed once: `lost-reply` stores it, then fails.
        match self.faults.roll("packages.put").await {
            Some(Action::Error) => Err(injected("packages.put", "failed")),
            Some(Action::LostReply) => {
                let _ = self.inner.put(body).await;
                Err(injected("packages.put", "timed out after the write landed"))
            }
            _ => self.inner.put(body).await,
        }
    }
    async fn put_bytes(&self, data: Bytes) -> Result<BlobRef> {
        faulty!(
            self,
            "packages.put_bytes",
            self.inner.put_bytes(data.clone())
        )
    }
    async fn get(&self, sha256: &str, offset: u64, len: Option<u64>) -> Result<Option<ByteStream>> {
        faulty!(self, "packages.get", self.inner.get(sha256, offset, len))
    }
    async fn get_bytes(&self, sha256: &str) -> Result<Option<Bytes>> {
        faulty!(self, "packages.get", self.inner.get_bytes(sha256))
    }
    async fn size(&self, sha256: &str) -> Result<Option<u64>> {
        faulty!(self, "packages.size", self.inner.size(sha256))
    }
    async fn delete(&self, sha256: &str) -> Result<()> {
        self.inner.delete(sha256).await
    }
    async fn reader(&self, facts: Facts) -> Result<Arc<dyn PackageReader>> {
        self.inner.reader(facts).await
    }
    async fn presigned_get(&self, sha256: &str, filename: &str) -> Result<Option<String>> {
        self.inner.presigned_get(sha256, filename).await
    }
    async fn presigned_put(&self, id: &str) -> Result<Option<String>> {
        self.inner.presigned_put(id).await
    }
    async fn adopt(&self, id: &str) -> Result<Option<Digests>> {
        faulty!(self, "packages.adopt", self.inner.adopt(id))
    }
    async fn list(&self) -> Result<Vec<(String, u64)>> {
        self.inner.list().await
    }
    fn reads_are_remote(&self) -> bool {
        self.inner.reads_are_remote()
    }
    async fn settle(&self) -> Result<()> {
        faulty!(self, "packages.settle", self.inner.settle())
    }
    async fn sweep_temp(&self, min_age: u64) -> Result<usize> {
        self.inner.sweep_temp(min_age).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules_and_refuses_bad_ones() {
        let f = Faults::parse("meta.put_if=lost-reply@0.2, packages.put=delay:30@1").unwrap();
        assert_eq!(f.rules.len(), 2);
        assert_eq!(f.rules[0].action, Action::LostReply);
        assert_eq!(f.rules[1].action, Action::Delay(30));
        assert!(Faults::parse("meta.put_if=explode@1").is_err());
        assert!(Faults::parse("meta.put_if").is_err());
    }
}
