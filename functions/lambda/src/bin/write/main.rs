//! `reposmith-write`: the function for every method that changes something (and, behind the
//! HTTP API's `$default` route, anything no other route names). It hosts the generators.
mod generators;
mod keys;

use generators::Loader;
use lambda_http::Error;
use reposmith_core::{App, GeneratorLoader};
use reposmith_generator_host::{Limits, WasmHost};
use reposmith_lambda::{adapter, ms, PublicKeys, PUBLIC_KEYS};
use reposmith_native::pgp_signer;
use std::sync::Arc;
use std::time::Instant;

struct Write {
    app: App,
}

impl Write {
    /// The current registry is loaded by the core's refresh hook (`Loader::refresh`).
    async fn serve(&self, req: lambda_http::Request) -> http::Response<lambda_http::Body> {
        let resp = reposmith_core::handle(&self.app, adapter::to_core(req)).await;
        adapter::from_core(resp).await
    }
}

/// The read function serves `key.asc` from the public halves, kept in the metadata store.
async fn publish_public_keys(app: &App) -> anyhow::Result<()> {
    let s = &app.signer;
    let keys = PublicKeys {
        pgp: s.public_key(),
        rsa_pem: s.rsa_public_key(),
        rsa_name: s.rsa_key_name(),
    };
    let current = app.meta.get(PUBLIC_KEYS).await?;
    let same = current
        .as_ref()
        .and_then(|v| serde_json::from_slice::<PublicKeys>(&v.value).ok())
        .is_some_and(|k| k == keys);
    if !same {
        let value = serde_json::to_vec(&keys)?;
        // Losing the race means another instance wrote the same keys (one secret).
        let _ = app
            .meta
            .put_if(PUBLIC_KEYS, value.into(), current.map(|v| v.version))
            .await?;
    }
    Ok(())
}

async fn init() -> anyhow::Result<Write> {
    let t = Instant::now();
    let conf = aws_config::load_from_env().await;
    let (packages, meta) = reposmith_lambda::open_stores().await?;
    let (token, (pgp, rsa)) = tokio::try_join!(keys::token(&conf), keys::signing_keys(&conf))?;
    eprintln!("reposmith-write: stores and secrets {:.1} ms", ms(t));
    let keyring = Arc::new(reposmith_native::keyring(&pgp, packages.clone())?);
    let signer = Arc::new(pgp_signer(pgp, rsa, packages.clone())?);
    let cache = std::env::var("REPOSMITH_GENERATOR_CACHE")
        .unwrap_or_else(|_| "/tmp/reposmith-generators".into());
    let t = Instant::now();
    let host = WasmHost::new(Some(cache.clone().into()), Limits::default())?;
    eprintln!("reposmith-write: wasmtime engine {:.1} ms", ms(t));
    let loader = Arc::new(Loader::new(
        host,
        cache.into(),
        packages.clone(),
        meta.clone(),
    ));
    let mut app = reposmith_native::app(meta, packages, signer, token);
    app.keyring = Some(keyring);
    app.loader = Some(loader.clone());
    // The audit log goes to CloudWatch beside the function's log, one JSON line per write.
    app.audit = Some(Arc::new(|line: &str| println!("{line}")));
    publish_public_keys(&app).await?;
    // The read function knows the admin token by its hash (private repos, GET /tokens/).
    reposmith_core::auth::record_admin(&app)
        .await
        .map_err(|e| anyhow::anyhow!("recording the admin token's hash: {}", e.detail))?;
    let t = Instant::now();
    loader.refresh(&app).await?;
    eprintln!(
        "reposmith-write: {} generators {:.1} ms",
        app.generators().len(),
        ms(t)
    );
    Ok(Write { app })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = Instant::now();
    let write: &'static Write = Box::leak(Box::new(init().await.map_err(|e| format!("{e:#}"))?));
    eprintln!("reposmith-write: init {:.1} ms", ms(started));
    reposmith_lambda::run(move |req| write.serve(req)).await
}
