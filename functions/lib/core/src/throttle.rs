//! Per-client rate limits, by the client address the adapter puts in the request's
//! extensions ([`ClientAddr`]; a request without one is not limited). Two token buckets per
//! address: one for write requests, one for failed authentications (a guessed token costs
//! one from each). An empty bucket is a 429 with `Retry-After`. Per process, like the caches.
use crate::app::App;
use crate::error::ApiError;
use std::collections::HashMap;
use std::net::IpAddr;

/// The client's address, as the adapter saw it.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub IpAddr);

#[derive(Clone, Copy, Debug)]
pub struct Rates {
    /// Write requests per minute per client (and as many at once, as a burst).
    pub writes_per_minute: u32,
    /// Failed authentications per minute per client.
    pub auth_failures_per_minute: u32,
}

impl Default for Rates {
    fn default() -> Self {
        Rates {
            // Far above `manage-repo add -j 8` on a fast machine: this is against floods.
            writes_per_minute: 12_000,
            auth_failures_per_minute: 30,
        }
    }
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: std::time::Instant,
}

/// Clients seen at most; the oldest half is forgotten past it (a full bucket is no loss).
const CLIENTS: usize = 65_536;

#[derive(Default)]
pub struct Buckets(HashMap<(IpAddr, Kind), Bucket>);

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Kind {
    Write,
    AuthFailure,
}

/// Is a token of `kind` left for `client`? Else the 429 to send. (A client out of
/// authentication attempts is refused even with the right token: otherwise a guesser would
/// still learn which guess was right.)
pub fn check(app: &App, client: Option<ClientAddr>, kind: Kind) -> Result<(), ApiError> {
    spend(app, client, kind, 0.0)
}

/// Takes one token of `kind` for `client`, or answers the 429 to send.
pub fn take(app: &App, client: Option<ClientAddr>, kind: Kind) -> Result<(), ApiError> {
    spend(app, client, kind, 1.0)
}

fn spend(app: &App, client: Option<ClientAddr>, kind: Kind, cost: f64) -> Result<(), ApiError> {
    let Some(ClientAddr(ip)) = client else {
        return Ok(());
    };
    let per_minute = match kind {
        Kind::Write => app.rates.writes_per_minute,
        Kind::AuthFailure => app.rates.auth_failures_per_minute,
    };
    if per_minute == 0 {
        return Ok(());
    }
    let rate = f64::from(per_minute) / 60.0;
    let now = std::time::Instant::now();
    let mut all = app.buckets.lock();
    if all.0.len() >= CLIENTS {
        let mut ages: Vec<_> = all.0.values().map(|b| b.at).collect();
        ages.sort();
        let cut = ages[ages.len() / 2];
        all.0.retain(|_, b| b.at > cut);
    }
    let b = all.0.entry((ip, kind)).or_insert(Bucket {
        tokens: f64::from(per_minute),
        at: now,
    });
    b.tokens =
        (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(f64::from(per_minute));
    b.at = now;
    if b.tokens >= 1.0 {
        b.tokens -= cost;
        return Ok(());
    }
    let wait = ((1.0 - b.tokens) / rate).ceil().max(1.0) as u64;
    let what = match kind {
        Kind::Write => format!("more than {per_minute} write requests a minute"),
        Kind::AuthFailure => format!("more than {per_minute} failed authentications a minute"),
    };
    Err(ApiError::too_many(
        format!("{what} from {ip}: retry in {wait} s"),
        wait,
    ))
}
