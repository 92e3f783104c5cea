//! `manage-repo generator new|check|install`: write a generator crate from the template,
//! check a built component against this host's contract (and dry-run a sample package
//! through it), upload one to a server.
use crate::client::{self, enc, Payload, Transport};
use anyhow::Context;
use reposmith_core::generator::{
    Assembled, ClientFile, ClientRepo, Details, Entry, Fragment, GenError, Generator, Hint, Info,
    Output, PackageReader, Plan, RepoInfo, ShelfSummary, Signer,
};
use reposmith_generator_host::{contract_package, Limits, Refused, WasmHost, EXPORT_NAME};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// `manage-repo generator ...`: third-party formats.
#[derive(clap::Subcommand, Clone)]
pub enum GeneratorCmd {
    /// Write a generator crate that builds as is: an example claiming .txt files (mount NAME,
    /// an index of the uploaded files), a unit test and a README.
    New {
        /// The generator's name (and mount): 1-64 characters of [a-z0-9-], starting with a
        /// letter.
        name: String,
        /// Where to write the crate (must not exist, or be empty) [default: ./NAME].
        #[arg(long)]
        dir: Option<PathBuf>,
        /// reposmith's generators/sdk directory, which the crate depends on by path [default:
        /// the one of the source tree this manage-repo was built from].
        #[arg(long, value_name = "PATH")]
        sdk: Option<PathBuf>,
    },
    /// Check a generator component against this host's contract, without a server: exports
    /// and contract version, info; with --sample, a dry run of claims, analyze, plan and
    /// finish over that package. One line per step; exits 1 at the first that fails.
    Check {
        /// The generator's .wasm (target/wasm32-wasip2/release/NAME.wasm).
        file: PathBuf,
        /// A package file to run through the generator as an upload and a publish would.
        #[arg(long, value_name = "PACKAGE_FILE")]
        sample: Option<PathBuf>,
        /// KEY=VALUE given to the sample's upload, as `add --hint` (repeatable).
        #[arg(long = "hint", requires = "sample")]
        hints: Vec<String>,
    },
    /// Upload a generator to a server (admin): checked there against the contract, then live
    /// for the next request; one of the same name is replaced.
    Install {
        /// The generator's .wasm.
        file: PathBuf,
        #[command(flatten)]
        at: crate::Target,
    },
}

/// `new` and `check`: no server involved.
pub async fn run(cmd: GeneratorCmd) -> anyhow::Result<()> {
    match cmd {
        GeneratorCmd::New { name, dir, sdk } => new_crate(&name, dir, sdk),
        GeneratorCmd::Check {
            file,
            sample,
            hints,
        } => check(&file, sample.as_deref(), &hints).await,
        GeneratorCmd::Install { .. } => unreachable!("a client command: client::run"),
    }
}

/// `generator install FILE`: `POST /generators/`.
pub async fn install(t: &Transport, file: &Path, json: bool) -> anyhow::Result<()> {
    client::total_size(&[file.to_path_buf()])?;
    let bar = indicatif::ProgressBar::hidden();
    let v = client::ok(
        t.call(
            "POST",
            "/generators/",
            Payload::File(file.to_path_buf(), bar),
        )
        .await?,
    )?;
    if json {
        client::print_json(&v);
        return Ok(());
    }
    let g = &v["generator"];
    let s = |k: &str| g[k].as_str().unwrap_or_default().to_string();
    println!(
        "installed {} (mount {}, contract {})",
        s("name"),
        s("mount"),
        s("contract")
    );
    Ok(())
}

/// The template's files: path in the crate, text with `{{NAME}}`, `{{CRATE}}`, `{{SDK}}`.
const TEMPLATE: [(&str, &str); 4] = [
    ("Cargo.toml", include_str!("template/Cargo.toml.tmpl")),
    ("src/lib.rs", include_str!("template/lib.rs.tmpl")),
    ("README.md", include_str!("template/README.md.tmpl")),
    (".gitignore", include_str!("template/gitignore.tmpl")),
];

/// The SDK of the source tree this binary was built from, if it is still there.
fn default_sdk() -> Option<PathBuf> {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../generators/sdk");
    sdk.join("Cargo.toml").is_file().then_some(sdk)
}

fn new_crate(name: &str, dir: Option<PathBuf>, sdk: Option<PathBuf>) -> anyhow::Result<()> {
    // The server's rule for names; cargo also wants a letter first.
    if let Err(e) = reposmith_generator_host::check_name(name) {
        crate::usage!("{e}");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        crate::usage!("generator name {name:?} must start with a letter (a crate name does)");
    }
    let sdk = match sdk.or_else(default_sdk) {
        Some(s) => s,
        None => crate::usage!(
            "the generator SDK is not on crates.io yet and the source tree this manage-repo was \
             built from is gone: give --sdk PATH to reposmith's generators/sdk"
        ),
    };
    let manifest = std::fs::read_to_string(sdk.join("Cargo.toml")).unwrap_or_default();
    if !manifest.contains("name = \"reposmith-generator-sdk\"") {
        crate::usage!(
            "{}: not reposmith's generator SDK (no Cargo.toml of reposmith-generator-sdk)",
            sdk.display()
        );
    }
    let sdk = sdk
        .canonicalize()
        .with_context(|| sdk.display().to_string())?;
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    if std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) {
        crate::usage!("{} exists and is not empty", dir.display());
    }
    let sdk_toml = sdk
        .to_str()
        .context("the SDK's path is not UTF-8")?
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    let crate_name = name.replace('-', "_");
    for (path, text) in TEMPLATE {
        let text = text
            .replace("{{NAME}}", name)
            .replace("{{CRATE}}", &crate_name)
            .replace("{{SDK}}", &sdk_toml);
        let to = dir.join(path);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).with_context(|| parent.display().to_string())?;
        }
        std::fs::write(&to, text).with_context(|| to.display().to_string())?;
    }
    let d = dir.display();
    println!("created {d}: generator {name}, mount {name}, an example claiming .txt files");
    println!("build: cd {d} && cargo build --release --target wasm32-wasip2");
    println!(
        "check: manage-repo generator check {d}/target/wasm32-wasip2/release/{crate_name}.wasm --sample FILE.txt"
    );
    Ok(())
}

/// A step's outcome, on stdout: `ok STEP: what` or `failed STEP: why`.
fn step(ok: bool, name: &str, what: &str) {
    println!("{} {name}: {what}", if ok { "ok" } else { "failed" });
}

/// The check failed at `step` (its line is printed): exit 1.
fn failed(file: &Path, step: &str) -> anyhow::Error {
    anyhow::anyhow!("{} does not pass the {step} check", file.display())
}

async fn check(file: &Path, sample: Option<&Path>, hints: &[String]) -> anyhow::Result<()> {
    let mut files = vec![file.to_path_buf()];
    files.extend(sample.map(Path::to_path_buf));
    client::total_size(&files)?;
    let query = client::hint_query(hints)?;
    let wasm = std::fs::read(file).with_context(|| file.display().to_string())?;

    // The server's own loader and checks (reposmith-generator-host), no cache.
    let host = WasmHost::new(None, Limits::default())?;
    let g = match host.load_bytes(&wasm) {
        Ok(g) => g,
        Err(e) => {
            let (name, message) = match e.downcast_ref::<Refused>() {
                Some(r) => (r.check.as_str(), r.message.clone()),
                None => ("load", format!("{e:#}")),
            };
            step(false, name, &message);
            return Err(failed(file, name));
        }
    };
    let info = g.info().clone();
    step(
        true,
        "component",
        &format!("{} ({} KiB)", file.display(), wasm.len().div_ceil(1024)),
    );
    step(
        true,
        "contract",
        &format!(
            "exports {EXPORT_NAME}, built against {} (this host: {})",
            info.contract,
            contract_package()
        ),
    );
    step(
        true,
        "info",
        &format!(
            "name {}, mount {}, extensions {}",
            info.name,
            info.mount,
            if info.extensions.is_empty() {
                "none".to_string()
            } else {
                info.extensions.join(" ")
            }
        ),
    );
    match sample {
        Some(sample) => dry_run(file, g, sample, &query).await,
        None => Ok(()),
    }
}

/// The calls a dry run made, as the core made them (the last of each kind).
#[derive(Default)]
struct Calls {
    claims: Option<Result<bool, GenError>>,
    analyze: Option<Result<Vec<Entry>, GenError>>,
    plan: Option<Result<Plan, GenError>>,
    finish: Option<Result<Vec<Output>, GenError>>,
}

/// The generator under check, recording what each call answered.
struct Recorder {
    inner: Arc<dyn Generator>,
    calls: Mutex<Calls>,
}

impl Recorder {
    fn calls(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Generator for Recorder {
    fn info(&self) -> &Info {
        self.inner.info()
    }
    fn claims(&self, filename: &str, head: &[u8], hints: &[Hint]) -> bool {
        self.try_claims(filename, head, hints).unwrap_or(false)
    }
    fn try_claims(&self, filename: &str, head: &[u8], hints: &[Hint]) -> Result<bool, GenError> {
        let r = self.inner.try_claims(filename, head, hints);
        self.calls().claims = Some(r.clone());
        r
    }
    fn analyze(&self, pkg: Arc<dyn PackageReader>, hints: &[Hint]) -> Result<Vec<Entry>, GenError> {
        let r = self.inner.analyze(pkg, hints);
        self.calls().analyze = Some(r.clone());
        r
    }
    fn plan(&self, repo: &RepoInfo, shelves: &[ShelfSummary]) -> Result<Plan, GenError> {
        let r = self.inner.plan(repo, shelves);
        self.calls().plan = Some(r.clone());
        r
    }
    fn finish(
        &self,
        repo: &RepoInfo,
        shelves: &[ShelfSummary],
        files: &[Assembled],
        signer: Arc<dyn Signer>,
    ) -> Result<Vec<Output>, GenError> {
        let r = self.inner.finish(repo, shelves, files, signer);
        self.calls().finish = Some(r.clone());
        r
    }
    fn compare_versions(
        &self,
        repo: &str,
        versions: &[String],
    ) -> Option<Result<Vec<u32>, GenError>> {
        self.inner.compare_versions(repo, versions)
    }
    fn describe(
        &self,
        repo: &str,
        entries: &[Vec<Fragment>],
    ) -> Option<Result<Vec<Details>, GenError>> {
        self.inner.describe(repo, entries)
    }
    fn client_config(&self, repo: &ClientRepo) -> Option<Result<Vec<ClientFile>, GenError>> {
        self.inner.client_config(repo)
    }
}

/// `N things (a, b, c, ...)`.
fn counted(n: usize, one: &str, many: &str, names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
    let more = if names.len() > shown.len() {
        ", ..."
    } else {
        ""
    };
    let word = if n == 1 { one } else { many };
    if names.is_empty() {
        format!("{n} {word}")
    } else {
        format!("{n} {word} ({}{more})", shown.join(", "))
    }
}

/// The sample through the real upload and publish path, in-process: a throwaway data
/// directory and signing keys, an app with this generator only, one repo, one upload.
/// Every host-side check applies (entries, paths, what the signer vouches for).
async fn dry_run(
    file: &Path,
    g: Arc<dyn Generator>,
    sample: &Path,
    query: &str,
) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let url = |sub: &str| format!("file://{}", tmp.path().join(sub).display());
    let packages = reposmith_stores::open_package_store(&url("packages")).await?;
    let meta = reposmith_stores::open_meta_store(&url("meta"), packages.clone()).await?;
    // Throwaway keys, as the keyring makes a repo's: Ed25519 is instant, RSA 2048 quick.
    let key =
        reposmith_signing::PgpKey::generate_ed25519("generator check <check@localhost>", None)?;
    let rsa = reposmith_signing::RsaKey::generate(2048)?;
    let signer = Arc::new(reposmith_native::pgp_signer(key, rsa, packages.clone())?);
    let token = hex::encode(rand::random::<[u8; 16]>());
    let app = reposmith_native::app(meta, packages, signer, token);
    let recorder = Arc::new(Recorder {
        inner: g,
        calls: Mutex::default(),
    });
    reposmith_core::registry::install(&app, recorder.clone())
        .map_err(|e| anyhow::anyhow!("{}", e.detail))?;
    let t = Transport::Local(Arc::new(app));

    let repo = "check";
    // Creating the repo publishes it empty: a generator must publish that too.
    let (status, answer) = t
        .call("POST", &format!("/repos/{repo}/"), Payload::None)
        .await?;
    let calls = std::mem::take(&mut *recorder.calls());
    if !(200..300).contains(&status) {
        let (name, why) = match (calls.plan, calls.finish) {
            (Some(Err(e)), _) => ("plan", format!("publishing the empty repo: {e}")),
            (_, Some(Err(e))) => ("finish", format!("publishing the empty repo: {e}")),
            _ => (
                "publish",
                format!(
                    "creating the dry run's repo: {}",
                    client::refusal(status, &answer)
                ),
            ),
        };
        step(false, name, &why);
        return Err(failed(file, name));
    }
    let Some(name) = client::file_name(sample) else {
        crate::usage!("{}: no usable file name", sample.display());
    };
    let path = format!("/repos/{repo}/packages/?filename={}{query}", enc(&name));
    let bar = indicatif::ProgressBar::hidden();
    let (status, answer) = t
        .call("POST", &path, Payload::File(sample.to_path_buf(), bar))
        .await?;
    let calls = std::mem::take(&mut *recorder.calls());

    let fail = |name: &str, why: &str| {
        step(false, name, why);
        Err(failed(file, name))
    };
    match calls.claims {
        Some(Ok(true)) => step(true, "claims", "yes"),
        Some(Ok(false)) => {
            return fail(
                "claims",
                &format!("no: the generator does not claim {name}"),
            )
        }
        Some(Err(e)) => return fail("claims", &e.to_string()),
        None => return fail("claims", &client::refusal(status, &answer)),
    }
    let entries = match calls.analyze {
        Some(Ok(entries)) => entries,
        Some(Err(e)) => return fail("analyze", &e.to_string()),
        None => return fail("analyze", &client::refusal(status, &answer)),
    };
    let names: Vec<String> = entries
        .iter()
        .map(|e| format!("{} {} {}", e.name, e.version, e.arch))
        .collect();
    step(
        true,
        "analyze",
        &counted(entries.len(), "entry", "entries", &names),
    );
    let plan = match calls.plan {
        Some(Ok(plan)) => plan,
        Some(Err(e)) => return fail("plan", &e.to_string()),
        // The host refused the entries (a bad path, name...) before any publish.
        None => return fail("upload", &client::refusal(status, &answer)),
    };
    let bulk: Vec<String> = plan.files.iter().map(|f| f.path.clone()).collect();
    let links = match plan.links.len() {
        1 => "1 link".to_string(),
        n => format!("{n} links"),
    };
    step(
        true,
        "plan",
        &format!(
            "{}, {links}",
            counted(bulk.len(), "bulk file", "bulk files", &bulk)
        ),
    );
    let outputs = match calls.finish {
        Some(Ok(outputs)) => outputs,
        Some(Err(e)) => return fail("finish", &e.to_string()),
        None => return fail("publish", &client::refusal(status, &answer)),
    };
    let made: Vec<String> = outputs.iter().map(|o| o.path.clone()).collect();
    step(
        true,
        "finish",
        &counted(made.len(), "output", "outputs", &made),
    );
    if !(200..300).contains(&status) {
        // What the host refused after finish: a signature it cannot vouch for, a bad path.
        return fail("publish", &client::refusal(status, &answer));
    }

    // Everything the publish promised is served.
    let mut served: Vec<String> = Vec::new();
    for f in &plan.files {
        served.extend(
            f.encodings
                .iter()
                .map(|e| format!("{}{}", f.path, e.suffix())),
        );
    }
    served.extend(made);
    served.extend(
        entries
            .iter()
            .filter(|e| !e.path.is_empty())
            .map(|e| e.path.clone()),
    );
    let mount = &recorder.info().mount;
    for p in &served {
        let (s, _) = t
            .call("GET", &format!("/repos/{repo}/{mount}/{p}"), Payload::None)
            .await?;
        if s != 200 {
            return fail("publish", &format!("{p} is not served ({s})"));
        }
    }
    let generation = answer["generation"].as_u64().unwrap_or_default();
    step(
        true,
        "publish",
        &format!(
            "generation {generation}, {} under /repos/{repo}/{mount}/",
            counted(served.len(), "file", "files", &served)
        ),
    );
    Ok(())
}
