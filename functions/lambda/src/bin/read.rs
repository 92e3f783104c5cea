//! `reposmith-read`: the GET/HEAD function. No wasmtime, no private key, no Secrets Manager:
//! it opens the stores and serves published blobs.
use lambda_http::Error;
use reposmith_core::routes::{route, Route};
use reposmith_core::App;
use reposmith_lambda::{adapter, load_public_keys, ms, registry, PublicSigner};
use std::sync::Arc;
use std::time::Instant;

struct Read {
    app: App,
    signer: Arc<PublicSigner>,
}

impl Read {
    async fn serve(&self, req: lambda_http::Request) -> http::Response<lambda_http::Body> {
        let method = req.method().clone();
        if !matches!(method, http::Method::GET | http::Method::HEAD) {
            // The template routes writes to the write function; say so if one lands here.
            return adapter::error(
                405,
                "method not allowed",
                &format!("{method} goes to the write function (see template.yaml)"),
            );
        }
        // Listings see the current registry through the core's refresh hook (`Listing`).
        let r = route(req.uri().path());
        let fresh = match r {
            Route::Key(_) if self.signer.is_empty() => load_public_keys(self.app.meta.as_ref())
                .await
                .map(|k| *self.signer.keys.write().unwrap() = k),
            _ => Ok(()),
        };
        if let Err(e) = fresh {
            return adapter::error(500, "internal error", &format!("{e:#}"));
        }
        if matches!(r, Route::Key(_)) && self.signer.is_empty() {
            return adapter::error(
                503,
                "no signing key yet",
                "the write function publishes the key on its first start: create a repo first",
            );
        }
        let resp = reposmith_core::handle(&self.app, adapter::to_core(req)).await;
        adapter::from_core(resp).await
    }
}

async fn init() -> anyhow::Result<Read> {
    let (packages, meta) = reposmith_lambda::open_stores().await?;
    let signer = Arc::new(PublicSigner::default());
    *signer.keys.write().unwrap() = load_public_keys(meta.as_ref()).await?;
    // No write reaches this function; a token nobody knows keeps them refused all the same.
    let token = hex::encode(rand::random::<[u8; 24]>());
    let mut app = reposmith_native::app(meta, packages, signer.clone(), token);
    app.loader = Some(Arc::new(registry::Listing::new()));
    Ok(Read { app, signer })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = Instant::now();
    let read: &'static Read = Box::leak(Box::new(init().await.map_err(|e| format!("{e:#}"))?));
    eprintln!("reposmith-read: init {:.1} ms", ms(started));
    reposmith_lambda::run(move |req| read.serve(req)).await
}
