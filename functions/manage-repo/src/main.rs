//! `manage-repo`: the reposmith CLI. `serve` runs the local server with embedded stores;
//! the other commands talk to a server (`--server URL`) or, with `--data DIR` and no
//! server, run the same handlers in-process on that data directory.
mod client;
mod complete;
mod diff;
mod folders;
mod generator;
mod history;
mod host;
mod props;
mod query;
mod serve;
mod setup;
mod transact;
mod when;

/// jemalloc, not glibc's malloc: a render allocates on the async workers and frees on the
/// blocking pool (and back), and glibc's arenas spent a fifth of a rebuild's CPU in their
/// locks and consolidation (10,000 rpms: 0.86 s with glibc, 0.66 s with jemalloc, same peak).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read when it starts: two arenas; its own background thread hands
/// freed pages back to the system within 100 ms (publishes free much, and a render from
/// scratch churns through every analysis: a rebuild of 51,000 rpms peaked 19 MiB over the
/// server's RSS, 23-36 MiB when pages were kept for a second; same speed); and each thread
/// caches only allocations up to 1 KiB (with the default 32 KiB, the blocking pool's threads
/// held 26 MiB more at 2,000 debs, for no speed gained).
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] =
    b"narenas:2,background_thread:true,dirty_decay_ms:100,muzzy_decay_ms:0,tcache_max:1024\0";

use clap::{ArgGroup, Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "manage-repo",
    version,
    about = "Create, fill, rebuild and delete package repositories (reposmith)"
)]
struct Cli {
    // Accepted before the subcommand too (`manage-repo --server URL add ...`), as earlier
    // releases documented; each subcommand shows the ones it reads.
    #[arg(long, hide = true, env = "REPOSMITH_URL")]
    server: Option<String>,
    #[arg(long, hide = true, env = "REPOSMITH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[arg(long, hide = true, env = "REPOSMITH_DATA")]
    data: Option<PathBuf>,
    #[arg(long, hide = true, env = "REPOSMITH_PACKAGES")]
    packages: Option<String>,
    #[arg(long, hide = true, env = "REPOSMITH_META")]
    meta: Option<String>,
    #[arg(long, hide = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

/// Where the stores are, for the commands that open them directly.
#[derive(Args, Clone, Default)]
pub struct Stores {
    /// Package store URL: s3://BUCKET/PREFIX [default: file:// under --data].
    #[arg(long, global = true, env = "REPOSMITH_PACKAGES")]
    packages: Option<String>,
    /// Metadata store URL: dynamodb://TABLE, redis://HOST:PORT/DB or postgres://USER@HOST/DB
    /// [default: file:// under --data].
    #[arg(long, global = true, env = "REPOSMITH_META")]
    meta: Option<String>,
}

/// How a client command reaches the repositories: a server, or a data directory in-process.
#[derive(Args, Clone, Default)]
pub struct Target {
    /// Server to talk to, e.g. http://127.0.0.1:8080.
    #[arg(long, global = true, env = "REPOSMITH_URL")]
    pub server: Option<String>,
    /// Token for the server: the admin token, or a scoped token NAME.SECRET.
    #[arg(long, global = true, env = "REPOSMITH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Without --server: work on this data directory in-process (a running server may
    /// share it: every write is compare-and-set).
    #[arg(long, global = true, env = "REPOSMITH_DATA")]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub stores: Stores,
    /// Machine output on stdout: one JSON document, or one JSON object per line for per-file
    /// results (add, download). Errors stay words on stderr.
    #[arg(long, global = true)]
    pub json: bool,
}

impl Stores {
    /// These, else the ones given before the subcommand.
    fn or(self, top: &Cli) -> setup::StoreUrls {
        setup::StoreUrls {
            packages: self.packages.or_else(|| top.packages.clone()),
            meta: self.meta.or_else(|| top.meta.clone()),
        }
    }
}

impl Target {
    /// These, else the ones given before the subcommand.
    fn or(self, top: &Cli) -> Self {
        Target {
            server: self.server.or_else(|| top.server.clone()),
            token: self.token.or_else(|| top.token.clone()),
            data: self.data.or_else(|| top.data.clone()),
            stores: self.stores,
            json: self.json || top.json,
        }
    }
}

#[derive(Subcommand, Clone)]
pub enum Cmd {
    /// Run the local server with embedded stores under --data.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080", env = "REPOSMITH_LISTEN")]
        listen: SocketAddr,
        /// Where the server keeps its admin token, signing keys and (by default) its stores
        /// [default: ./reposmith-data].
        #[arg(long, env = "REPOSMITH_DATA")]
        data: Option<PathBuf>,
        /// The admin token to accept [default: the one in --data, made and printed at the
        /// first start].
        #[arg(long, env = "REPOSMITH_TOKEN", hide_env_values = true)]
        token: Option<String>,
        #[command(flatten)]
        stores: Stores,
        /// Folder of generator .wasm files (default: the ones this workspace builds).
        #[arg(long, env = "REPOSMITH_GENERATORS")]
        generators: Option<PathBuf>,
        /// Connections served at once; more wait in the kernel's backlog [default: what the
        /// open-file limit (raised to its hard limit at start) leaves room for, at most 10000].
        #[arg(long, env = "REPOSMITH_MAX_CONNECTIONS")]
        max_connections: Option<usize>,
        /// Seconds a client has to send a request's headers (and an idle connection is kept).
        #[arg(long, default_value_t = 30, env = "REPOSMITH_HEADER_TIMEOUT")]
        header_timeout: u64,
        /// Seconds a request body may stall (no bytes arriving) before it is cut off (400).
        #[arg(long, default_value_t = 30, env = "REPOSMITH_BODY_TIMEOUT")]
        body_timeout: u64,
        /// Largest request body (a package upload): bytes, or with K, M or G.
        #[arg(long, default_value = "2G", value_parser = parse_size, env = "REPOSMITH_MAX_UPLOAD")]
        max_upload: u64,
        /// Write requests a minute per client address (0: no limit); more get 429.
        #[arg(long, default_value_t = 12_000, env = "REPOSMITH_WRITES_PER_MINUTE")]
        writes_per_minute: u32,
        /// Failed authentications a minute per client address; past them, every write from
        /// that address gets 429 until the minute has refilled.
        #[arg(long, default_value_t = 30, env = "REPOSMITH_AUTH_FAILURES_PER_MINUTE")]
        auth_failures_per_minute: u32,
        /// Serve HTTPS (HTTP/2 and HTTP/1.1) with this PEM certificate chain (needs --tls-key).
        #[arg(long, env = "REPOSMITH_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, env = "REPOSMITH_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Run `gc` (with its default --min-age) inside the server this often: seconds, or with
        /// m, h or d, e.g. 1h [default: never].
        #[arg(long, value_parser = client::parse_duration, env = "REPOSMITH_GC_EVERY")]
        gc_every: Option<u64>,
        /// Milliseconds a GET may answer from the published pointer that a check read, without
        /// reading the metadata store again, where that read is a round trip (DynamoDB, Redis,
        /// PostgreSQL); every write that changes what GETs see then waits as long before it
        /// answers, so a read after it still sees it; at most 10000 [default: 0, every GET checks].
        #[arg(
            long,
            default_value_t = 0,
            env = "REPOSMITH_READ_LEASE_MS",
            hide_default_value = true,
            value_parser = clap::value_parser!(u64)
                .range(0..=reposmith_core::commit::MAX_READ_LEASE_MS),
        )]
        read_lease_ms: u64,
    },
    /// Create a repository.
    Create {
        /// Name of the new repository.
        repo: String,
        /// Free text shown in the repo listing [default: none].
        #[arg(long, default_value = "", hide_default_value = true)]
        description: String,
        /// Default suite (apt distribution) for packages without a hint [default: stable].
        #[arg(long)]
        suite: Option<String>,
        /// Default component (apt) for packages without a hint [default: main].
        #[arg(long)]
        component: Option<String>,
        /// Architectures always published, even with no package yet (repeatable).
        #[arg(long = "arch")]
        architectures: Vec<String>,
        /// Reads need a token with the read scope (see `token create`).
        #[arg(long)]
        private: bool,
        /// Keep the last N generations for rollback and REPO@gN (with --keep-days: either).
        #[arg(long, value_name = "N")]
        keep_generations: Option<u64>,
        /// Keep the generations current in the last D days [default: 30 when neither is set].
        #[arg(long, value_name = "D")]
        keep_days: Option<u64>,
        #[command(flatten)]
        at: Target,
    },
    /// Upload packages (each is published when its line prints).
    Add {
        /// The repository to add to.
        repo: String,
        /// Package files (.deb, .rpm, .pkg.tar.zst, .apk, .pkg, .crate, Go module .zip).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// KEY=VALUE steering the generators, e.g. distribution=bookworm (repeatable).
        #[arg(long = "hint")]
        hints: Vec<String>,
        /// Uploads in flight at once (their publishes coalesce).
        #[arg(long, short = 'j', default_value_t = 4)]
        jobs: usize,
        /// All the files as one commit and one generation, or none of them (a file that
        /// fails to upload or that the server refuses stops the others).
        #[arg(long)]
        atomic: bool,
        #[command(flatten)]
        at: Target,
    },
    /// Adds and removals as one commit and one generation: all of them, or none. Removals go
    /// first, so `--remove F --add F` replaces F.
    #[command(group(ArgGroup::new("changes").required(true).multiple(true).args(["adds", "removes"])))]
    Apply {
        /// The repository.
        repo: String,
        /// A package file to add (repeatable).
        #[arg(long = "add", value_name = "FILE")]
        adds: Vec<PathBuf>,
        /// A package's file name to remove, as `list REPO` shows it (repeatable).
        #[arg(long = "remove", value_name = "FILENAME")]
        removes: Vec<String>,
        /// Uploads in flight at once.
        #[arg(long, short = 'j', default_value_t = 4)]
        jobs: usize,
        #[command(flatten)]
        at: Target,
    },
    /// A repo's changes, newest first: generation, time (UTC), who, +added -removed, the
    /// packages. Times: now, today, yesterday, Nm, Nh, Nd, Nw (that long ago), 2026-11-30,
    /// 2026-11-30T12:00Z.
    History {
        /// The repository.
        repo: String,
        /// Only changes at or after this time.
        #[arg(long, value_parser = when::at, value_name = "TIME")]
        since: Option<i64>,
        /// Only changes at or before this time.
        #[arg(long, value_parser = when::at, value_name = "TIME")]
        until: Option<i64>,
        /// Only changes of packages whose name or file name matches this (a glob).
        #[arg(long, value_name = "NAME")]
        package: Option<String>,
        /// At most this many changes.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
        limit: u64,
        #[command(flatten)]
        at: Target,
    },
    /// Publish an earlier generation's packages again, as a new generation (history stays
    /// linear: a rollback can be rolled back).
    Rollback {
        /// The repository.
        repo: String,
        /// A generation number, or the time whose generation to restore: yesterday, 3d,
        /// 2026-11-30T12:00Z...
        #[arg(long, value_parser = when::point, value_name = "GEN|TIME")]
        to: when::Point,
        #[command(flatten)]
        at: Target,
    },
    /// Set a repo's properties (docs/properties.md): what clients are told about it. Only
    /// those given change; the server republishes what depends on them.
    Set {
        /// The repository.
        repo: String,
        /// Human-readable name (dnf's name=, apt's Release Label:).
        #[arg(long)]
        title: Option<String>,
        /// Free text about the repo (apt's Release Description:, the repo listing).
        #[arg(long)]
        description: Option<String>,
        /// Clients verify package signatures.
        #[arg(long, value_parser = on_off, value_name = "on|off")]
        gpgcheck: Option<bool>,
        /// Clients verify the metadata's signature.
        #[arg(long, value_parser = on_off, value_name = "on|off")]
        repo_gpgcheck: Option<bool>,
        /// A key URL clients should trust besides the repo's own (repeat for several; replaces
        /// the list).
        #[arg(long, value_name = "URL")]
        gpgkey: Vec<String>,
        /// Clear the extra key URLs.
        #[arg(long, conflicts_with = "gpgkey")]
        no_gpgkey: bool,
        /// The public URL of /repos/REPO when it differs from the server's (a CDN, a proxy).
        #[arg(long, value_name = "URL")]
        baseurl: Option<String>,
        /// Clients use the URL they reach the server at.
        #[arg(long, conflicts_with = "baseurl")]
        no_baseurl: bool,
        /// A mirror of /repos/REPO (repeat for several; replaces the list).
        #[arg(long, value_name = "URL")]
        mirror: Vec<String>,
        /// Clear the mirrors.
        #[arg(long, conflicts_with = "mirror")]
        no_mirrors: bool,
        /// apt: the suites clients use (space-separated).
        #[arg(long)]
        suites: Option<String>,
        /// apt: the components clients use (space-separated).
        #[arg(long)]
        components: Option<String>,
        /// yum, zypper: a query appended to the repo's URL.
        #[arg(long)]
        query: Option<String>,
        #[command(flatten)]
        at: Target,
    },
    /// Serve a disabled repo's trees again (the generation they had).
    Enable {
        /// The repository.
        repo: String,
        #[command(flatten)]
        at: Target,
    },
    /// Stop serving a repo's trees (they answer 404); its data and API stay.
    Disable {
        /// The repository.
        repo: String,
        #[command(flatten)]
        at: Target,
    },
    /// The client configuration files the server makes for a repo: the list, or one by
    /// client (apt, dnf, yum, zypper, pacman, apk, pkg) or file name, on stdout.
    Config {
        /// The repository.
        repo: String,
        /// A client or file name.
        name: Option<String>,
        #[command(flatten)]
        at: Target,
    },
    /// Freeze the current generation under a name (served at /repos/REPO@NAME/), list the
    /// snapshots, or delete one.
    #[command(group(ArgGroup::new("what").required(true).args(["name", "list"])))]
    Snapshot {
        /// The repository.
        repo: String,
        /// The snapshot's name: letters, digits, `.`, `_`, `-`.
        name: Option<String>,
        /// List the repo's snapshots: name, generation, packages, created.
        #[arg(long, conflicts_with = "delete")]
        list: bool,
        /// Delete the snapshot NAME.
        #[arg(long)]
        delete: bool,
        #[command(flatten)]
        at: Target,
    },
    /// Copy packages from SRC (a repo, REPO@SNAPSHOT or REPO@gN) into DST as one generation;
    /// with no --package, DST becomes SRC's state exactly.
    Promote {
        /// Where from: REPO, REPO@SNAPSHOT or REPO@gN.
        src: String,
        /// The repository to promote into.
        dst: String,
        /// Only packages whose name or file name matches this glob (repeatable).
        #[arg(long = "package", value_name = "PATTERN")]
        packages: Vec<String>,
        #[command(flatten)]
        at: Target,
    },
    /// Compare two package sets (REPO, REPO@SNAPSHOT or REPO@gN): `+ file`, `- file`, `~ file`
    /// (another sha256), `~ name old -> new`. Exits 0 when they are equal, 1 when they differ,
    /// 2 on an error.
    Diff {
        /// The first: REPO, REPO@SNAPSHOT or REPO@gN.
        a: String,
        /// The second, compared to the first.
        b: String,
        #[command(flatten)]
        at: Target,
    },
    /// Remove a package by its file name.
    Remove {
        /// The repository.
        repo: String,
        /// The package's file name, as `list REPO` shows it.
        filename: String,
        #[command(flatten)]
        at: Target,
    },
    /// Delete a repository with all its packages and metadata.
    Delete {
        /// The repository to delete.
        repo: String,
        #[command(flatten)]
        at: Target,
    },
    /// Drop all metadata, re-analyze every package, republish.
    Rebuild {
        /// The repository to rebuild.
        repo: String,
        #[command(flatten)]
        at: Target,
    },
    /// List repositories, or the packages of one.
    List {
        /// A repository: list its packages (file, size, sha256) [default: list the repos].
        repo: Option<String>,
        #[command(flatten)]
        at: Target,
    },
    /// Download packages by name or shell glob: the newest version per name and arch, checked
    /// against the published sha256; a partial file is resumed, a present one skipped.
    Download {
        /// The repository to download from.
        repo: String,
        /// Package names or shell globs such as 'gcc-*', 'lib?foo', 'python3-[a-c]*' (quote
        /// them, or the shell may expand them to local file names).
        #[arg(required = true, value_name = "PATTERN")]
        patterns: Vec<String>,
        /// Only this format (deb, rpm, pacman, apk, freebsd, cargo, go); repeatable or comma-separated
        /// [default: every format].
        #[arg(long = "format", value_delimiter = ',')]
        formats: Vec<String>,
        /// Only this architecture, exactly: amd64, x86_64, all, noarch... (repeatable or
        /// comma-separated) [default: every architecture].
        #[arg(long = "arch", value_delimiter = ',')]
        arches: Vec<String>,
        /// Every version, not only the newest per name and arch.
        #[arg(long)]
        all_versions: bool,
        /// Add the packages they depend on (within the repo, same format) and list what nothing
        /// in the repo satisfies.
        #[arg(long)]
        resolve: bool,
        /// Folder to download into (made if missing).
        #[arg(long, default_value = ".")]
        dest: PathBuf,
        /// Downloads in flight at once.
        #[arg(long, short = 'j', default_value_t = 4)]
        jobs: usize,
        #[command(flatten)]
        at: Target,
    },
    /// Packages whose name or summary contains TEXT (case-insensitive; newest versions): name,
    /// version, arch, format, summary.
    Search {
        /// The repository to search.
        repo: String,
        /// Text to find in package names and summaries.
        text: String,
        #[command(flatten)]
        at: Target,
    },
    /// Every version, format and arch of a package: file, size, sha256, URL, dependencies and
    /// every field its generator extracted.
    Show {
        /// The repository.
        repo: String,
        /// The package name, exactly.
        name: String,
        #[command(flatten)]
        at: Target,
    },
    /// Generators (formats): write a new one from the template, check a built one against
    /// this host's contract, install one on a server.
    Generator {
        #[command(subcommand)]
        cmd: generator::GeneratorCmd,
    },
    /// Print the completion script for a shell (see README: bash, zsh, fish).
    Completions {
        /// bash, zsh or fish.
        shell: complete::Shell,
    },
    /// The completion scripts' helper: candidates, one per line (always exits 0).
    #[command(name = "__complete", hide = true)]
    Complete {
        /// `repos PREFIX`, `packages REPO PREFIX`, `filenames REPO PREFIX`, or `words`
        /// followed by `--` and the command line's words (the last one being completed).
        what: Vec<String>,
        /// The command line's words (after `--`), the last one being the word typed so far.
        #[arg(last = true)]
        words: Vec<String>,
        #[command(flatten)]
        at: Target,
    },
    /// Scoped tokens: create, list, revoke (needs the admin token).
    Token {
        #[command(subcommand)]
        cmd: client::TokenCmd,
        #[command(flatten)]
        at: Target,
    },
    /// A repo's signing keys: list, rotate (or import), retire (rotating needs admin).
    Key {
        #[command(subcommand)]
        cmd: client::KeyCmd,
        #[command(flatten)]
        at: Target,
    },
    /// This machine's repository definitions (apt, dnf, yum, zypper, pacman, apk, pkg): add a
    /// reposmith repo, list, show, update, enable, disable, remove.
    Host {
        #[command(subcommand)]
        cmd: host::HostCmd,
        /// Work on the definitions under this directory instead of the host's own.
        #[arg(long, global = true, default_value = "/", value_name = "DIR")]
        root: PathBuf,
        /// Machine output on stdout: one JSON document.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Create what --packages and --meta name: the S3 bucket, the DynamoDB table (development
    /// setups), the PostgreSQL table (created or migrated to this build's schema).
    InitStores {
        #[command(flatten)]
        stores: Stores,
        /// The store URLs made ready as one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Delete blobs no repo references any more (needs --data; safe beside a running server).
    Gc {
        /// Only blobs older than this (seconds): uploads and publishes in flight are younger.
        #[arg(long, default_value_t = GC_MIN_AGE)]
        min_age: u64,
        /// The data directory whose stores to collect.
        #[arg(long, env = "REPOSMITH_DATA")]
        data: Option<PathBuf>,
        #[command(flatten)]
        stores: Stores,
        /// The report as one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
}

impl Cmd {
    /// The server or data directory a client command names (none for the others).
    fn target(&self) -> Target {
        match self {
            Cmd::Create { at, .. }
            | Cmd::Add { at, .. }
            | Cmd::Apply { at, .. }
            | Cmd::History { at, .. }
            | Cmd::Rollback { at, .. }
            | Cmd::Set { at, .. }
            | Cmd::Enable { at, .. }
            | Cmd::Disable { at, .. }
            | Cmd::Config { at, .. }
            | Cmd::Snapshot { at, .. }
            | Cmd::Promote { at, .. }
            | Cmd::Diff { at, .. }
            | Cmd::Remove { at, .. }
            | Cmd::Delete { at, .. }
            | Cmd::Rebuild { at, .. }
            | Cmd::List { at, .. }
            | Cmd::Download { at, .. }
            | Cmd::Search { at, .. }
            | Cmd::Show { at, .. }
            | Cmd::Complete { at, .. }
            | Cmd::Token { at, .. }
            | Cmd::Key { at, .. } => at.clone(),
            Cmd::Generator {
                cmd: generator::GeneratorCmd::Install { at, .. },
            } => at.clone(),
            Cmd::Serve { .. }
            | Cmd::InitStores { .. }
            | Cmd::Gc { .. }
            | Cmd::Host { .. }
            | Cmd::Generator { .. }
            | Cmd::Completions { .. } => Target::default(),
        }
    }
}

/// `on` or `off` (also yes/no, true/false, 1/0).
fn on_off(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" | "1" => Ok(true),
        "off" | "no" | "false" | "0" => Ok(false),
        _ => Err(format!("{s:?}: on or off")),
    }
}

/// `gc`'s default --min-age, and `serve --gc-every`'s: seconds.
pub const GC_MIN_AGE: u64 = 3600;

/// `1048576`, `512K`, `10M`, `2G` (powers of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, shift) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 10),
        Some((i, 'M' | 'm')) => (&s[..i], 20),
        Some((i, 'G' | 'g')) => (&s[..i], 30),
        _ => (s, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?}: a size is a number of bytes, or with K, M or G"))?;
    n.checked_shl(shift)
        .filter(|v| v >> shift == n && *v > 0)
        .ok_or_else(|| format!("{s:?}: out of range"))
}

/// A mistake in the command line that clap cannot see (a missing --server, a bad glob):
/// exits 2 like clap's own usage errors.
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Returns early with a [`Usage`] error.
#[macro_export]
macro_rules! usage {
    ($($t:tt)*) => { return Err($crate::Usage(format!($($t)*)).into()) };
}

async fn init_stores(stores: &setup::StoreUrls, json: bool) -> anyhow::Result<()> {
    if stores.packages.is_none() && stores.meta.is_none() {
        usage!("give --packages s3://BUCKET/PREFIX and/or --meta dynamodb://TABLE|postgres://USER@HOST/DB");
    }
    let mut ready = Vec::new();
    for url in [&stores.packages, &stores.meta].into_iter().flatten() {
        reposmith_stores::create_backing(url).await?;
        if !json {
            println!("ready: {url}");
        }
        ready.push(url.clone());
    }
    if json {
        println!("{}", serde_json::json!({ "ready": ready }));
    }
    Ok(())
}

/// A client command's panic (a bug) as one line in words, not Rust's report; a closed stdout
/// (`manage-repo list | head -1`) ends the command quietly, as it does other Unix tools, and
/// a stdout that cannot take more (a full disk) fails it in words. The hook never panics
/// itself: stderr may be on that full disk too, and a panic in it aborts the process.
fn plain_panics() {
    use std::io::Write;
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        if msg.contains("Broken pipe") {
            std::process::exit(141); // 128 + SIGPIPE, as a shell reports it
        }
        let mut stderr = std::io::stderr();
        if let Some(why) = msg.strip_prefix("failed printing to stdout: ") {
            let _ = writeln!(stderr, "error: writing to stdout: {why}");
            std::process::exit(1);
        }
        if msg.starts_with("failed printing to stderr: ") {
            std::process::exit(1); // the error had nowhere to go, and neither has this
        }
        let at = info
            .location()
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        let _ = writeln!(
            stderr,
            "error: internal error{at}: {msg} (a bug: please report it)"
        );
    }));
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // The completion helper is silent on everything, a bad command line included.
        Err(_) if std::env::args().nth(1).as_deref() == Some("__complete") => return,
        Err(e) => e.exit(), // usage errors: exit 2; --help, --version: exit 0
    };
    if !matches!(cli.cmd, Cmd::Serve { .. }) {
        plain_panics();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // diff(1)'s exit codes there: 1 is "they differ", so an error is 2.
    let error_exit = if matches!(cli.cmd, Cmd::Diff { .. }) {
        2
    } else {
        1
    };
    let result = rt.block_on(async move {
        match cli.cmd.clone() {
            Cmd::Serve {
                listen,
                data,
                token,
                stores,
                generators,
                max_connections,
                header_timeout,
                max_upload,
                body_timeout,
                writes_per_minute,
                auth_failures_per_minute,
                tls_cert,
                tls_key,
                gc_every,
                read_lease_ms,
            } => {
                // A bad certificate stops the server before it touches the data directory.
                let tls = match (tls_cert, tls_key) {
                    (Some(cert), Some(key)) => Some(serve::tls_config(&cert, &key)?),
                    _ => None,
                };
                let data = data
                    .or_else(|| cli.data.clone())
                    .unwrap_or_else(|| PathBuf::from("reposmith-data"));
                let limits = serve::Limits {
                    connections: max_connections
                        .unwrap_or_else(serve::default_connections)
                        .max(1),
                    header_timeout: std::time::Duration::from_secs(header_timeout.max(1)),
                    body_timeout: std::time::Duration::from_secs(body_timeout.max(1)),
                    request: reposmith_core::limits::Limits {
                        max_upload,
                        ..Default::default()
                    },
                    rates: reposmith_core::throttle::Rates {
                        writes_per_minute,
                        auth_failures_per_minute,
                    },
                    read_lease: std::time::Duration::from_millis(read_lease_ms),
                };
                let token = token.or_else(|| cli.token.clone());
                let stores = stores.or(&cli);
                let listen = serve::Listen { addr: listen, tls };
                let gc_every = gc_every.map(std::time::Duration::from_secs);
                serve::run(listen, data, generators, token, stores, limits, gc_every).await
            }
            Cmd::InitStores { stores, json } => {
                init_stores(&stores.or(&cli), json || cli.json).await
            }
            Cmd::Gc {
                min_age,
                data,
                stores,
                json,
            } => {
                let data = data.or_else(|| cli.data.clone());
                client::gc(data, &stores.or(&cli), min_age, json || cli.json).await
            }
            Cmd::Host { cmd, root, json } => host::run(cmd, &root, json || cli.json),
            Cmd::Generator { cmd } if !matches!(cmd, generator::GeneratorCmd::Install { .. }) => {
                generator::run(cmd).await
            }
            Cmd::Completions { shell } => {
                print!(
                    "{}",
                    complete::script(shell, &mut <Cli as clap::CommandFactory>::command())
                );
                Ok(())
            }
            Cmd::Complete { what, words, at } => {
                complete::candidates(&at.or(&cli), &what, &words);
                Ok(())
            }
            cmd => {
                let at = cmd.target().or(&cli);
                let stores = at.stores.clone().or(&cli);
                client::run(at, stores, cmd).await
            }
        }
    });
    if let Err(e) = result {
        if e.downcast_ref::<diff::Differ>().is_some() {
            std::process::exit(1);
        }
        if let Some(u) = e.downcast_ref::<Usage>() {
            eprintln!("error: {u}\n\nFor more information, try '--help'.");
            std::process::exit(2);
        }
        eprintln!("error: {e:#}");
        std::process::exit(error_exit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// Each subcommand's help shows the flags it reads, and only those.
    #[test]
    fn each_subcommand_shows_only_its_own_flags() {
        let mut cli = Cli::command();
        let help = |cli: &mut clap::Command, name: &str| {
            cli.find_subcommand_mut(name)
                .expect(name)
                .render_long_help()
                .to_string()
        };
        let serve = help(&mut cli, "serve");
        assert!(!serve.contains("--server"), "{serve}");
        assert!(
            serve.contains("--data") && serve.contains("--listen"),
            "{serve}"
        );
        assert!(!serve.contains("in-process"), "{serve}");
        let add = help(&mut cli, "add");
        for flag in [
            "--server",
            "--token",
            "--data",
            "--packages",
            "--meta",
            "--jobs",
        ] {
            assert!(add.contains(flag), "{flag} missing: {add}");
        }
        for flag in ["--listen", "--max-upload", "--tls-cert"] {
            assert!(!add.contains(flag), "{flag} shown: {add}");
        }
        let gc = help(&mut cli, "gc");
        assert!(!gc.contains("--server") && gc.contains("--data"), "{gc}");
    }

    /// Every flag and argument of every command says what it is for.
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str) {
            for a in cmd.get_arguments() {
                if a.is_hide_set() || ["help", "version"].contains(&a.get_id().as_str()) {
                    continue;
                }
                let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
                assert!(!help.is_empty(), "{path} {}: no help", a.get_id());
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        let mut cli = Cli::command();
        cli.build();
        walk(&cli, "manage-repo");
    }

    /// The history commands' argument rules: what each needs, what excludes what.
    #[test]
    fn history_commands_check_their_arguments() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("manage-repo").chain(args.iter().copied()))
        };
        for good in [
            &["snapshot", "r", "rc1"][..],
            &["snapshot", "r", "--list"],
            &["snapshot", "r", "rc1", "--delete"],
            &["apply", "r", "--remove", "a_1_all.deb"],
            &[
                "apply", "r", "--add", "a.deb", "--add", "b.deb", "--remove", "c",
            ],
            &[
                "history",
                "r",
                "--since",
                "3d",
                "--until",
                "2026-11-30T12:00Z",
            ],
            &["rollback", "r", "--to", "7"],
            &["rollback", "r", "--to", "yesterday"],
            &["add", "r", "a.deb", "b.rpm", "--atomic"],
            &["promote", "dev@rc1", "prod", "--package", "lib*"],
            &["diff", "r", "r@g3"],
            &["serve", "--gc-every", "1h"],
        ] {
            assert!(parse(good).is_ok(), "{good:?}");
        }
        for bad in [
            &["snapshot", "r"][..],
            &["snapshot", "r", "rc1", "--list"],
            &["snapshot", "r", "--list", "--delete"],
            &["apply", "r"],
            &["history", "r", "--since", "soon"],
            &["history", "r", "--limit", "0"],
            &["rollback", "r"],
            &["rollback", "r", "--to", "later"],
            &["diff", "r"],
            &["serve", "--gc-every", "often"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let Cmd::Rollback { to, .. } = parse(&["rollback", "r", "--to", "7"]).unwrap().cmd else {
            panic!("not rollback");
        };
        assert_eq!(to, when::Point::Generation(7));
        let help = Cli::command()
            .find_subcommand_mut("diff")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(help.contains("1 when they differ"), "{help}");
    }

    /// Flags before the subcommand (as earlier releases documented) still count, and a
    /// flag after it wins.
    #[test]
    fn flags_before_the_subcommand_still_work() {
        let cli = Cli::try_parse_from([
            "manage-repo",
            "--server",
            "http://a",
            "--token",
            "t",
            "add",
            "r",
            "x.deb",
        ])
        .unwrap();
        let at = cli.cmd.target().or(&cli);
        assert_eq!(at.server.as_deref(), Some("http://a"));
        assert_eq!(at.token.as_deref(), Some("t"));
        let cli = Cli::try_parse_from([
            "manage-repo",
            "--server",
            "http://a",
            "token",
            "list",
            "--server",
            "http://b",
        ])
        .unwrap();
        assert_eq!(
            cli.cmd.target().or(&cli).server.as_deref(),
            Some("http://b")
        );
    }
}
