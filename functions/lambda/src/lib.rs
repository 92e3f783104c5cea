//! reposmith on AWS Lambda: two thin `lambda_http` entry points over the same core handlers
//! as the local server (`reposmith_core::handle`).
//!
//! - `reposmith-read` (src/bin/read.rs) serves GET/HEAD: listings, downloads (307 to presigned
//!   S3 URLs for package files), published metadata, `key.asc`, `GET /generators/`. It has no
//!   wasmtime and no private key: it starts fast.
//! - `reposmith-write` (src/bin/write/) serves everything else: repo changes, uploads
//!   (direct, or the presigned S3 flow for files past Lambda's 6 MB payload cap), deletes,
//!   rebuilds, `POST /generators/`. It hosts the generators in wasmtime.
//!
//! Both are configured by environment (see `template.yaml`):
//! - `REPOSMITH_PACKAGES` (`s3://BUCKET/PREFIX`) and `REPOSMITH_META` (`dynamodb://TABLE`; any
//!   metadata store URL works, e.g. `redis://` or `postgres://` the functions can reach);
//! - write only: `REPOSMITH_TOKEN_SECRET` (a Secrets Manager secret holding the admin token) or
//!   `REPOSMITH_TOKEN`; `REPOSMITH_SIGNING_KEY_SECRET` (a secret holding the signing keys as
//!   JSON `{"pgp": ARMORED SECRET KEY, "rsa": PEM}`; generated on first start when empty).
//!
//! Generators live in the stores, not in the deployment: `POST /generators/` compiles the
//! .wasm ahead of time and records the .wasm and the compiled artifact as blobs in the
//! [`registry`] (one metadata key). Every instance compares that key before it serves a
//! request that needs generators, so an upload is live everywhere at the next request.
pub mod adapter;
pub mod registry;

use reposmith_core::generator::Signer;
use reposmith_core::store::{MetaStore, PackageStore};
use std::sync::{Arc, RwLock};

/// Metadata key holding the public halves of the signing keys (written by the write
/// function, which holds the private keys; read by the read function for `key.asc`).
pub const PUBLIC_KEYS: &str = "signing/public";

#[derive(serde::Serialize, serde::Deserialize, Clone, Default, PartialEq, Eq, Debug)]
pub struct PublicKeys {
    pub pgp: String,
    pub rsa_pem: String,
    pub rsa_name: String,
}

/// The stores named by `REPOSMITH_PACKAGES` and `REPOSMITH_META`.
pub async fn open_stores() -> anyhow::Result<(Arc<dyn PackageStore>, Arc<dyn MetaStore>)> {
    let var = |name: &str| {
        std::env::var(name).map_err(|_| anyhow::anyhow!("{name} is not set (see template.yaml)"))
    };
    let packages_url = var("REPOSMITH_PACKAGES")?;
    let meta_url = var("REPOSMITH_META")?;
    let packages = reposmith_stores::open_package_store(&packages_url)
        .await
        .map_err(|e| e.context(format!("package store {packages_url}")))?;
    let meta = reposmith_stores::open_meta_store(&meta_url, packages.clone())
        .await
        .map_err(|e| e.context(format!("metadata store {meta_url}")))?;
    Ok((packages, meta))
}

pub async fn load_public_keys(meta: &dyn MetaStore) -> anyhow::Result<Option<PublicKeys>> {
    Ok(match meta.get(PUBLIC_KEYS).await? {
        Some(v) => Some(serde_json::from_slice(&v.value)?),
        None => None,
    })
}

/// The read function's signer: public keys only (it serves `key.asc`; it never signs).
#[derive(Default)]
pub struct PublicSigner {
    pub keys: RwLock<Option<PublicKeys>>,
}

impl PublicSigner {
    pub fn is_empty(&self) -> bool {
        self.keys.read().unwrap().is_none()
    }
}

const READ_ONLY: &str = "the read function holds no private key";

impl PublicSigner {
    fn field(&self, f: impl Fn(&PublicKeys) -> &String) -> String {
        self.keys
            .read()
            .unwrap()
            .as_ref()
            .map(|k| f(k).clone())
            .unwrap_or_default()
    }
}

impl Signer for PublicSigner {
    fn clearsign(&self, _: &str) -> Result<String, String> {
        Err(READ_ONLY.into())
    }
    fn detached(&self, _: &[u8], _: bool) -> Result<Vec<u8>, String> {
        Err(READ_ONLY.into())
    }
    fn detached_package(&self, _: &str) -> Result<Vec<u8>, String> {
        Err(READ_ONLY.into())
    }
    fn public_key(&self) -> String {
        self.field(|k| &k.pgp)
    }
    fn rsa_sign(&self, _: &[u8], _: bool) -> Result<Vec<u8>, String> {
        Err(READ_ONLY.into())
    }
    fn rsa_public_key(&self) -> String {
        self.field(|k| &k.rsa_pem)
    }
    fn rsa_key_name(&self) -> String {
        self.field(|k| &k.rsa_name)
    }
    fn rsa_sign_blob(&self, _: &str, _: bool) -> Result<Vec<u8>, String> {
        Err(READ_ONLY.into())
    }
}

/// Serves requests with `serve` until Lambda stops the instance, one log line per request
/// (CloudWatch on AWS), as the local server logs: the loop both functions run.
pub async fn run<F>(
    serve: impl Fn(lambda_http::Request) -> F + Copy + Send + Sync + 'static,
) -> Result<(), lambda_http::Error>
where
    F: std::future::Future<Output = http::Response<lambda_http::Body>> + Send,
{
    lambda_http::run(lambda_http::service_fn(
        move |req: lambda_http::Request| async move {
            let (t, method, path) = (
                std::time::Instant::now(),
                req.method().clone(),
                req.uri().path().to_string(),
            );
            let resp = serve(req).await;
            eprintln!("{method} {path} {} {:.0}ms", resp.status().as_u16(), ms(t));
            Ok::<_, lambda_http::Error>(resp)
        },
    ))
    .await
}

/// Milliseconds since `t`, for the init and load timings both functions log.
pub fn ms(t: std::time::Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
