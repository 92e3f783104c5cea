//! Generators are untrusted code: each one's faults (a trap, running out of fuel or memory,
//! an answer the host refuses) are counted here, per process. A generator that faults
//! [`QUARANTINE_AFTER`] times in a row at one kind of call (`claims`, `analyze`, `publish`:
//! plan, assembly and finish) is quarantined: it is asked nothing more (its format's
//! last published files stay served) until it is re-enabled (`POST /generators/{name}/enable`,
//! uploading it again, or a restart). `GET /generators/` shows the counts.
use crate::app::App;
use serde::Serialize;
use std::collections::BTreeMap;

/// Consecutive faults after which a generator is quarantined.
pub const QUARANTINE_AFTER: u32 = 3;

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Health {
    /// Faults since this process started.
    pub faults: u64,
    /// Per kind of call: faults since the last good one.
    pub consecutive: BTreeMap<String, u32>,
    pub quarantined: bool,
    /// The last fault: which export, and what happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_fault: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_fault_at: Option<u64>,
}

/// Notes a fault of `name`'s `export` (logged: nothing else reports a `claims` that fails).
pub fn fault(app: &App, name: &str, export: &str, detail: &str) {
    let mut all = app.health.lock();
    let h = all.entry(name.to_string()).or_default();
    h.faults += 1;
    let run = h.consecutive.entry(export.to_string()).or_default();
    *run += 1;
    let run = *run;
    h.last_fault = Some(format!("{export}: {detail}"));
    h.last_fault_at = Some(app.now());
    let quarantine = !h.quarantined && run >= QUARANTINE_AFTER;
    h.quarantined |= quarantine;
    let line = if quarantine {
        format!("generator {name}: {export} faulted ({detail}); quarantined after {run} faults in a row\n")
    } else {
        format!("generator {name}: {export} faulted ({detail})\n")
    };
    drop(all);
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
}

/// A call of `name` went well: its run of faults at that kind of call ends.
pub fn good(app: &App, name: &str, export: &str) {
    if let Some(h) = app.health.lock().get_mut(name) {
        h.consecutive.remove(export);
    }
}

pub fn is_quarantined(app: &App, name: &str) -> bool {
    app.health.lock().get(name).is_some_and(|h| h.quarantined)
}

/// Lifts a quarantine (and forgets the run of faults). False if it was not quarantined.
pub fn enable(app: &App, name: &str) -> bool {
    let mut all = app.health.lock();
    let Some(h) = all.get_mut(name) else {
        return false;
    };
    let was = h.quarantined;
    h.quarantined = false;
    h.consecutive.clear();
    was
}

/// A generator installed anew or removed starts with a clean record.
pub fn forget(app: &App, name: &str) {
    app.health.lock().remove(name);
}

pub fn of(app: &App, name: &str) -> Health {
    app.health.lock().get(name).cloned().unwrap_or_default()
}
