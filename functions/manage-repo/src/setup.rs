//! The embedded setup under a data directory: token, signing key, stores, generators.
//!
//! DIR/token, DIR/signing-key.asc (OpenPGP), DIR/rsa-key.pem (apk, FreeBSD pkg) (all 0600,
//! made on first start), DIR/packages (blobs),
//! DIR/meta (compare-and-set keys), DIR/generators (uploaded and dropped-in .wasm, see
//! `folders`), DIR/cache (compiled generators).
use crate::folders::{Folder, Folders};
use anyhow::Context;
use reposmith_core::store::{MetaStore, PackageStore};
use reposmith_core::App;
use reposmith_generator_host::{Limits, WasmHost};
use reposmith_native::pgp_signer;
use reposmith_signing::{PgpKey, RsaKey};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct Setup {
    pub app: Arc<App>,
    /// Where the admin token comes from (a new one is printed once).
    pub token: TokenSource,
    /// The generators folders, watched while the server runs.
    pub generator_dirs: Vec<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `--token` / `REPOSMITH_TOKEN`: nothing written to DIR/token.
    Given,
    /// DIR/token, made by this start.
    New,
    /// DIR/token, as an earlier start made it.
    Stored,
}

fn secret_file(
    path: &Path,
    make: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<(String, bool)> {
    if let Ok(s) = std::fs::read_to_string(path) {
        return Ok((s.trim().to_string(), false));
    }
    let value = make()?;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(value.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok((value, true))
}

/// Where the workspace's generators land: `target/wasm32-wasip2/release` beside the
/// directory holding this binary (`target/release`).
pub fn default_generators_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let target = exe.parent()?.parent()?;
    let dir = target.join("wasm32-wasip2").join("release");
    dir.is_dir().then_some(dir)
}

/// Where packages and metadata live: `file://` under the data directory unless given
/// (`s3://BUCKET/PREFIX`, `dynamodb://TABLE`, `redis://`, `postgres://`; see reposmith-stores).
#[derive(Clone, Debug, Default)]
pub struct StoreUrls {
    pub packages: Option<String>,
    pub meta: Option<String>,
}

impl StoreUrls {
    pub fn resolve(&self, data: &Path) -> (String, String) {
        let file = |sub: &str| format!("file://{}", data.join(sub).display());
        (
            self.packages.clone().unwrap_or_else(|| file("packages")),
            self.meta.clone().unwrap_or_else(|| file("meta")),
        )
    }
}

/// Opens (creating on first start) everything under `data`: the admin token (`token`, when
/// given, wins), the signing keys, the stores, and the generators.
pub async fn open(
    data: &Path,
    generators: Option<PathBuf>,
    token: Option<String>,
    stores: &StoreUrls,
    (limits, rates, read_lease): (
        reposmith_core::limits::Limits,
        reposmith_core::throttle::Rates,
        std::time::Duration,
    ),
) -> anyhow::Result<Setup> {
    private_dir(data).with_context(|| format!("creating {}", data.display()))?;
    let (token, source) = match token.filter(|t| !t.is_empty()) {
        Some(t) => (t, TokenSource::Given),
        None => {
            let (t, new) = secret_file(&data.join("token"), || {
                Ok(hex::encode(rand::random::<[u8; 24]>()))
            })?;
            (
                t,
                if new {
                    TokenSource::New
                } else {
                    TokenSource::Stored
                },
            )
        }
    };
    let (key, rsa) = signing_keys(data)?;
    let (packages, meta) = open_stores(data, stores).await?;

    let keyring = Arc::new(reposmith_native::keyring(&key, packages.clone())?);
    let signer = Arc::new(pgp_signer(key, rsa, packages.clone())?);
    let mut app = reposmith_native::app(meta, packages, signer, token);
    app.keyring = Some(keyring);
    app.backend_counts = Some(reposmith_stores::request_counts);
    app.limits = limits;
    app.rates = rates;
    app.read_lease = read_lease;
    app.audit = audit_sink(data)?;
    // Compiled generators are native code this process maps and runs: nobody else's to write.
    private_dir(&data.join("cache"))?;
    let host = WasmHost::new(Some(data.join("cache")), Limits::default())?;
    let base = match generators {
        Some(dir) => {
            anyhow::ensure!(
                dir.is_dir(),
                "the generators folder {} is not a directory",
                dir.display()
            );
            Some(Folder { dir, prefix: "" })
        }
        // The workspace's build folder also holds test generators: take the shipped ones.
        None => default_generators_dir().map(|dir| Folder {
            dir,
            prefix: "reposmith_gen_",
        }),
    };
    let folders = Folders::new(host, base, data.join("generators"));
    // A file that does not load is reported and left out: it never stops a start.
    folders.sync(&app, false).await?;
    let generator_dirs = folders.dirs();
    app.loader = Some(folders);
    Ok(Setup {
        app: Arc::new(app),
        token: source,
        generator_dirs,
    })
}

/// The audit log (`reposmith_core::audit`): `REPOSMITH_AUDIT_LOG` names a file, `-` for
/// stdout or `off`; by default DATA/audit.log (0600, appended; one line per write call, so
/// concurrent writers never interleave within a line).
fn audit_sink(data: &Path) -> anyhow::Result<Option<reposmith_core::audit::AuditSink>> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let to = std::env::var("REPOSMITH_AUDIT_LOG").unwrap_or_default();
    let path = match to.as_str() {
        "off" => return Ok(None),
        "-" => return Ok(Some(Arc::new(|line: &str| println!("{line}")))),
        "" => data.join("audit.log"),
        p => PathBuf::from(p),
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("opening the audit log {}", path.display()))?;
    Ok(Some(Arc::new(move |line: &str| {
        let mut l = String::with_capacity(line.len() + 1);
        l.push_str(line);
        l.push('\n');
        if let Err(e) = (&file).write_all(l.as_bytes()) {
            eprintln!("audit log {}: {e}", path.display());
        }
    })))
}

/// A directory only this user reads or writes (0700; an existing one is tightened: it holds
/// the keys, the token and native code).
pub(crate) fn private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

/// DIR/signing-key.asc and DIR/rsa-key.pem, made on first start.
fn signing_keys(data: &Path) -> anyhow::Result<(PgpKey, RsaKey)> {
    let (armored, _) = secret_file(&data.join("signing-key.asc"), || {
        PgpKey::generate("reposmith repository signing key <reposmith@localhost>")?
            .to_armored_secret()
    })?;
    let key = PgpKey::from_armored_secret(&armored).context("reading DIR/signing-key.asc")?;
    let (rsa_pem, _) = secret_file(&data.join("rsa-key.pem"), || {
        RsaKey::generate(3072)?.to_pem()
    })?;
    let rsa = RsaKey::from_pem(&rsa_pem).context("reading DIR/rsa-key.pem")?;
    Ok((key, rsa))
}

async fn open_stores(
    data: &Path,
    stores: &StoreUrls,
) -> anyhow::Result<(Arc<dyn PackageStore>, Arc<dyn MetaStore>)> {
    let (packages_url, meta_url) = stores.resolve(data);
    let packages = reposmith_stores::open_package_store(&packages_url)
        .await
        .with_context(|| format!("package store {packages_url}"))?;
    let meta = reposmith_stores::open_meta_store(&meta_url, packages.clone())
        .await
        .with_context(|| format!("metadata store {meta_url}"))?;
    Ok((packages, meta))
}
