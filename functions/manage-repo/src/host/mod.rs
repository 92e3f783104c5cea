//! `manage-repo host ...`: the repository definitions of the machine it runs on (or of a
//! `--root DIR`), for every client the server supports: `add` installs a reposmith repo's
//! served client files where that client reads them (after checking the signing key's
//! fingerprint) and records what it wrote in a manifest, so `remove` undoes exactly that;
//! `list`, `show`, `update`, `enable`, `disable` read and edit any definition, ours or not,
//! in place, keeping every other byte of the file.
//!
//! One file per client: `apt.rs` (one-line `.list` and deb822 `.sources`), `yum.rs` (dnf and
//! yum `.repo`, INI), `zypper.rs` (its `.repo`, INI), `pacman.rs` (sections of pacman.conf),
//! `apk.rs` (lines of `repositories`), `pkg.rs` (FreeBSD pkg's UCL `*.conf`).
mod apk;
mod apt;
mod pacman;
mod pkg;
mod yum;
mod zypper;

use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The package managers `host` knows, in the order `add` looks for them on PATH.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Client {
    Apt,
    Dnf,
    Yum,
    Zypper,
    Pacman,
    Apk,
    Pkg,
}

impl Client {
    pub const ALL: [Client; 7] = [
        Client::Apt,
        Client::Dnf,
        Client::Yum,
        Client::Zypper,
        Client::Pacman,
        Client::Apk,
        Client::Pkg,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Client::Apt => "apt",
            Client::Dnf => "dnf",
            Client::Yum => "yum",
            Client::Zypper => "zypper",
            Client::Pacman => "pacman",
            Client::Apk => "apk",
            Client::Pkg => "pkg",
        }
    }

    fn from_name(s: &str) -> Option<Client> {
        Client::ALL.into_iter().find(|c| c.name() == s)
    }

    /// The program whose presence on PATH says the host uses this client.
    fn program(self) -> &'static str {
        match self {
            Client::Apt => "apt-get",
            c => c.name(),
        }
    }

    /// The definition files this client reads under `root`, existing ones only.
    fn files(self, root: &Path) -> Vec<PathBuf> {
        match self {
            Client::Apt => apt::files(root),
            Client::Dnf | Client::Yum => yum::files(root),
            Client::Zypper => zypper::files(root),
            Client::Pacman => pacman::files(root),
            Client::Apk => apk::files(root),
            Client::Pkg => pkg::files(root),
        }
    }

    /// The definitions in one of its files (`file`: the path, for names taken from it).
    fn parse(self, root: &Path, file: &Path, text: &str) -> Vec<Entry> {
        let mut entries = match self {
            Client::Apt => apt::parse(file, text),
            Client::Dnf | Client::Yum | Client::Zypper => yum::parse(text),
            Client::Pacman => pacman::parse(root, text),
            Client::Apk => apk::parse(text),
            Client::Pkg => pkg::parse(text),
        };
        for e in &mut entries {
            e.client = self;
        }
        entries
    }

    /// `text` with `ch` made to the definition `e` (found in `text` by `parse`).
    fn edit(self, text: &str, e: &Entry, ch: &Changes) -> anyhow::Result<String> {
        match self {
            Client::Apt => apt::edit(text, e, ch),
            Client::Dnf | Client::Yum | Client::Zypper => yum::edit(text, e, ch),
            Client::Pacman => pacman::edit(text, e, ch),
            Client::Apk => apk::edit(text, e, ch),
            Client::Pkg => pkg::edit(text, e, ch),
        }
    }

    /// `text` without the definition `e`.
    fn cut(self, text: &str, e: &Entry) -> String {
        match self {
            Client::Pkg => pkg::cut(text, e),
            _ => cut_lines(text, e.span.clone()),
        }
    }
}

/// One repository definition found on the host.
#[derive(Clone, Debug)]
pub struct Entry {
    pub name: String,
    pub client: Client,
    pub enabled: bool,
    /// The (first) URL packages come from; a pacman `Include =` list's first server.
    pub url: String,
    /// The file, relative to the root.
    pub file: PathBuf,
    /// The `add` that installed it (its manifest's name), if one did.
    pub managed: Option<String>,
    /// Where it is in the file: lines (bytes for pkg), as the client's parser counts them.
    pub span: Range<usize>,
    /// A line-based client's definitions inside `# BEGIN manage-repo NAME`: NAME.
    pub block: Option<String>,
    /// Its settings as written, for `show`.
    pub fields: Vec<(String, String)>,
}

impl Entry {
    fn new(name: String, enabled: bool, url: String, span: Range<usize>) -> Entry {
        Entry {
            name,
            client: Client::Apt,
            enabled,
            url,
            file: PathBuf::new(),
            managed: None,
            span,
            block: None,
            fields: Vec::new(),
        }
    }

    fn json(&self) -> Value {
        json!({
            "name": self.name,
            "client": self.client.name(),
            "enabled": self.enabled,
            "url": self.url,
            "file": shown(&self.file),
            "managed": self.managed.is_some(),
            "fields": self.fields.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        })
    }
}

/// What `update` (and `enable`, `disable`) changes; `None`: leave it as it is.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    pub enabled: Option<bool>,
    pub gpgcheck: Option<bool>,
    pub repo_gpgcheck: Option<bool>,
    pub baseurl: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnOff {
    On,
    Off,
}

impl OnOff {
    fn on(o: Option<OnOff>) -> Option<bool> {
        o.map(|o| o == OnOff::On)
    }
}

/// `manage-repo host ...`.
#[derive(clap::Subcommand, Clone)]
pub enum HostCmd {
    /// Install a reposmith repository for a client of this host: fetch URL/config/ and the
    /// client's files, check the key's fingerprint, write them where the client reads them.
    Add {
        /// The repository: http://HOST:PORT/repos/REPO.
        url: String,
        /// The client to configure [default: the first of apt-get, dnf, yum, zypper, pacman,
        /// apk, pkg found on PATH].
        #[arg(long)]
        client: Option<Client>,
        /// The name the definition gets (its file name, its manifest) [default: REPO].
        #[arg(long)]
        name: Option<String>,
        /// Refuse unless the served key has this fingerprint (40 hex digits, spaces allowed).
        #[arg(long, value_name = "FPR")]
        fingerprint: Option<String>,
    },
    /// Every repository definition of the client (default: of every client configured under
    /// --root): NAME, CLIENT, ENABLED, URL, FILE, MANAGED (added by `host add`).
    List {
        /// Only this client's definitions.
        #[arg(long)]
        client: Option<Client>,
    },
    /// One definition: its settings and, for an added one, where it came from.
    Show {
        /// The definition's name, as `host list` shows it.
        name: String,
        /// The client whose definition it is, when several have one of that name.
        #[arg(long)]
        client: Option<Client>,
    },
    /// Change a definition in place (everything else in its file stays as it is).
    Update {
        /// The definition's name, as `host list` shows it.
        name: String,
        /// The client whose definition it is, when several have one of that name.
        #[arg(long)]
        client: Option<Client>,
        /// Check package signatures (apt: `Trusted: yes` when off; pacman: SigLevel Package*).
        #[arg(long)]
        gpgcheck: Option<OnOff>,
        /// Check the repository metadata's signature (apt: as --gpgcheck; pacman: Database*).
        #[arg(long)]
        repo_gpgcheck: Option<OnOff>,
        /// Whether the client uses the repository.
        #[arg(long)]
        enabled: Option<OnOff>,
        /// Where the packages come from (yum/dnf/zypper baseurl, apt URIs, pacman Server,
        /// the apk line, pkg url).
        #[arg(long, value_name = "URL")]
        baseurl: Option<String>,
    },
    /// Let the client use a definition again.
    Enable {
        /// The definition's name, as `host list` shows it.
        name: String,
        /// The client whose definition it is, when several have one of that name.
        #[arg(long)]
        client: Option<Client>,
    },
    /// Keep the definition, but have the client skip it.
    Disable {
        /// The definition's name, as `host list` shows it.
        name: String,
        /// The client whose definition it is, when several have one of that name.
        #[arg(long)]
        client: Option<Client>,
    },
    /// Undo a `host add`: its files, lines and key, and nothing else.
    Remove {
        /// The name it was added under.
        name: String,
        /// The client whose definition it is, when several have one of that name.
        #[arg(long)]
        client: Option<Client>,
        /// Also remove a definition `host add` did not make (its lines or file only).
        #[arg(long)]
        force: bool,
    },
}

/// Runs a `host` command on the definitions under `root`.
pub fn run(cmd: HostCmd, root: &Path, json: bool) -> anyhow::Result<()> {
    let root = root.to_path_buf();
    match cmd {
        HostCmd::Add {
            url,
            client,
            name,
            fingerprint,
        } => {
            let client = match client {
                Some(c) => c,
                None => detect().context(
                    "no package manager found on PATH (apt-get, dnf, yum, zypper, pacman, apk, \
                     pkg): give --client",
                )?,
            };
            let m = add(&root, &url, client, name, fingerprint.as_deref())?;
            if json {
                println!("{}", m.json());
            } else {
                let files: Vec<String> = m.files.iter().map(|f| shown(&f.path)).collect();
                println!(
                    "added {} for {} (key {}): {}",
                    m.name,
                    m.client.name(),
                    m.fingerprint,
                    files.join(", ")
                );
                for w in &m.warnings {
                    eprintln!("warning: {w}");
                }
            }
            Ok(())
        }
        HostCmd::List { client } => {
            let entries = list(&root, client)?;
            if json {
                let v: Vec<Value> = entries.iter().map(Entry::json).collect();
                println!("{}", json!({ "definitions": v }));
                return Ok(());
            }
            let mut rows = vec![["NAME", "CLIENT", "ENABLED", "URL", "FILE", "MANAGED"]
                .map(String::from)
                .to_vec()];
            for e in &entries {
                rows.push(vec![
                    e.name.clone(),
                    e.client.name().to_string(),
                    yes_no(e.enabled).to_string(),
                    e.url.clone(),
                    shown(&e.file),
                    yes_no(e.managed.is_some()).to_string(),
                ]);
            }
            print!("{}", crate::query::table(&rows));
            Ok(())
        }
        HostCmd::Show { name, client } => show(&root, &name, client, json),
        HostCmd::Update {
            name,
            client,
            gpgcheck,
            repo_gpgcheck,
            enabled,
            baseurl,
        } => {
            let ch = Changes {
                enabled: OnOff::on(enabled),
                gpgcheck: OnOff::on(gpgcheck),
                repo_gpgcheck: OnOff::on(repo_gpgcheck),
                baseurl,
            };
            if ch.enabled.is_none()
                && ch.gpgcheck.is_none()
                && ch.repo_gpgcheck.is_none()
                && ch.baseurl.is_none()
            {
                crate::usage!(
                    "nothing to change: give --enabled, --gpgcheck, --repo-gpgcheck or --baseurl"
                );
            }
            changed(&update(&root, &name, client, &ch)?, "updated", json);
            Ok(())
        }
        HostCmd::Enable { name, client } => {
            let ch = Changes {
                enabled: Some(true),
                ..Default::default()
            };
            changed(&update(&root, &name, client, &ch)?, "enabled", json);
            Ok(())
        }
        HostCmd::Disable { name, client } => {
            let ch = Changes {
                enabled: Some(false),
                ..Default::default()
            };
            changed(&update(&root, &name, client, &ch)?, "disabled", json);
            Ok(())
        }
        HostCmd::Remove {
            name,
            client,
            force,
        } => {
            let removed = remove(&root, &name, client, force)?;
            if json {
                println!("{}", json!({ "removed": name, "files": removed }));
            } else {
                println!("removed {name}: {}", removed.join(", "));
            }
            Ok(())
        }
    }
}

fn changed(files: &[PathBuf], what: &str, json: bool) {
    let files: Vec<String> = files.iter().map(|f| shown(f)).collect();
    if json {
        println!("{}", json!({ "result": what, "files": files }));
    } else {
        println!("{what}: {}", files.join(", "));
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// A root-relative path as the client sees it: `/etc/...`.
fn shown(rel: &Path) -> String {
    format!("/{}", rel.display())
}

/// The first client whose program is on PATH, in [`Client::ALL`]'s order.
pub fn detect() -> Option<Client> {
    detect_in(&std::env::var_os("PATH")?)
}

/// [`detect`] on this PATH.
fn detect_in(path: &std::ffi::OsStr) -> Option<Client> {
    Client::ALL
        .into_iter()
        .find(|c| on_path_in(path, c.program()))
}

/// An executable file `program` in one of PATH's directories.
fn on_path_in(path: &std::ffi::OsStr, program: &str) -> bool {
    std::env::split_paths(path).any(|dir| {
        dir.join(program).metadata().is_ok_and(|m| {
            m.is_file() && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
        })
    })
}

/// `program` is on this process's PATH.
pub(crate) fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| on_path_in(&p, program))
}

// ---------------------------------------------------------------------------------------
// Text helpers shared by the line-based clients.

/// The text as lines, each with its own line ending (the last may have none).
pub(crate) fn lines(text: &str) -> Vec<String> {
    text.split_inclusive('\n').map(String::from).collect()
}

/// A line without its line ending.
pub(crate) fn body(line: &str) -> &str {
    line.trim_end_matches('\n').trim_end_matches('\r')
}

/// A line's ending: `\n`, `\r\n` or nothing.
pub(crate) fn eol(line: &str) -> &str {
    &line[body(line).len()..]
}

/// Replaces a line's text, keeping its ending.
pub(crate) fn set_body(line: &mut String, text: &str) {
    let end = eol(line).to_string();
    *line = format!("{text}{end}");
}

/// Inserts `text` as a line after line `at` (before the first line when `at` is `None`); a
/// last line without an ending gets one, and the new line then has none, as the file had.
pub(crate) fn insert_line(lines: &mut Vec<String>, at: Option<usize>, text: &str) {
    let i = at.map_or(0, |a| a + 1);
    let nl = lines
        .iter()
        .find(|l| l.ends_with('\n'))
        .map_or("\n", |l| eol(l))
        .to_string();
    if i == lines.len() && i > 0 && !lines[i - 1].ends_with('\n') {
        lines[i - 1].push_str(&nl);
        lines.push(text.to_string());
    } else {
        lines.insert(i, format!("{text}{nl}"));
    }
}

/// `text` without the lines `span`.
fn cut_lines(text: &str, span: Range<usize>) -> String {
    let mut ls = lines(text);
    let had_end = text.ends_with('\n');
    ls.drain(span.clone());
    let mut out = ls.concat();
    if !had_end && span.end > 0 && out.ends_with('\n') && span.start == ls.len() {
        out.pop();
    }
    out
}

/// `on`/`yes`/`true`/`1` and their opposites (case-insensitive).
pub(crate) fn truth(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// `# BEGIN manage-repo NAME` / `# END manage-repo NAME`: NAME and whether it begins.
pub(crate) fn marker(line: &str) -> Option<(bool, &str)> {
    let t = body(line).trim();
    if let Some(n) = t.strip_prefix("# BEGIN manage-repo ") {
        return Some((true, n.trim()));
    }
    t.strip_prefix("# END manage-repo ")
        .map(|n| (false, n.trim()))
}

fn begin_marker(name: &str) -> String {
    format!("# BEGIN manage-repo {name}\n")
}

fn end_marker(name: &str) -> String {
    format!("# END manage-repo {name}\n")
}

// ---------------------------------------------------------------------------------------
// Listing and finding definitions.

/// The clients `list` covers without --client: those with definition files under `root`
/// (`yum.repos.d` once: as dnf, unless yum alone is on PATH).
fn configured(root: &Path) -> Vec<Client> {
    let yum_only = detect_all().contains(&Client::Yum) && !detect_all().contains(&Client::Dnf);
    Client::ALL
        .into_iter()
        .filter(|c| match c {
            Client::Dnf => !yum_only,
            Client::Yum => yum_only,
            _ => true,
        })
        .filter(|c| !c.files(root).is_empty())
        .collect()
}

fn detect_all() -> Vec<Client> {
    Client::ALL
        .into_iter()
        .filter(|c| on_path(c.program()))
        .collect()
}

/// Every definition of `client` (or of every configured client) under `root`.
pub fn list(root: &Path, client: Option<Client>) -> anyhow::Result<Vec<Entry>> {
    let manifests = Manifest::all(root)?;
    let clients = match client {
        Some(c) => vec![c],
        None => configured(root),
    };
    let mut out = Vec::new();
    for c in clients {
        for path in c.files(root) {
            let text = read_text(&path)?;
            let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            for mut e in c.parse(root, &rel, &text) {
                e.file = rel.clone();
                e.managed = manifests
                    .iter()
                    .find(|m| m.owns(&e))
                    .map(|m| m.name.clone());
                out.push(e);
            }
        }
    }
    Ok(out)
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    String::from_utf8(bytes).with_context(|| format!("{}: not UTF-8 text", path.display()))
}

/// The definitions called `name`: the ones an `add` of that name installed, else those
/// `list` names so; an unknown name is an error listing the known ones.
fn find(root: &Path, name: &str, client: Option<Client>) -> anyhow::Result<Vec<Entry>> {
    let manifest = Manifest::load(root, name)?.filter(|m| client.is_none_or(|c| m.client == c));
    let all = match &manifest {
        Some(m) => list(root, Some(m.client))?,
        None => list(root, client)?,
    };
    let found: Vec<Entry> = match &manifest {
        Some(m) => all
            .iter()
            .filter(|e| e.managed.as_deref() == Some(&m.name))
            .cloned()
            .collect(),
        None => all.iter().filter(|e| e.name == name).cloned().collect(),
    };
    if found.is_empty() {
        if manifest.is_some() {
            bail!("{name} was added, but its definition is no longer in its file (edited by hand?); `host remove {name}` removes what is left");
        }
        let mut known: Vec<String> = all
            .iter()
            .map(|e| format!("{} ({})", e.name, e.client.name()))
            .collect();
        known.dedup();
        if known.is_empty() {
            bail!("no repository definition named {name}: there are none");
        }
        bail!(
            "no repository definition named {name}; known: {}",
            known.join(", ")
        );
    }
    let clients: Vec<Client> = found.iter().map(|e| e.client).collect();
    if manifest.is_none() && clients.iter().any(|c| *c != clients[0]) {
        bail!("{name} is defined for several clients: give --client");
    }
    if manifest.is_none() && found.len() > 1 {
        let files: Vec<String> = found.iter().map(|e| shown(&e.file)).collect();
        bail!(
            "{name} is defined {} times ({}): edit the file itself",
            found.len(),
            files.join(", ")
        );
    }
    Ok(found)
}

fn show(root: &Path, name: &str, client: Option<Client>, json: bool) -> anyhow::Result<()> {
    let found = find(root, name, client)?;
    let manifest = Manifest::load(root, name)?;
    if json {
        let mut v = json!({ "definitions": found.iter().map(Entry::json).collect::<Vec<_>>() });
        if let Some(m) = &manifest {
            v["added"] = m.json();
        }
        println!("{v}");
        return Ok(());
    }
    for e in &found {
        println!("name: {}", e.name);
        println!("client: {}", e.client.name());
        println!("enabled: {}", yes_no(e.enabled));
        println!("url: {}", e.url);
        println!("file: {}", shown(&e.file));
        println!("managed: {}", yes_no(e.managed.is_some()));
        for (k, v) in &e.fields {
            let v = if v.contains("BEGIN PGP PUBLIC KEY BLOCK") {
                "(an embedded OpenPGP key)"
            } else {
                v
            };
            println!("  {k}: {v}");
        }
    }
    if let Some(m) = &manifest {
        println!("added from: {}", m.server);
        println!("key fingerprint: {}", m.fingerprint);
        let files: Vec<String> = m.files.iter().map(|f| shown(&f.path)).collect();
        println!("installed: {}", files.join(", "));
    }
    Ok(())
}

/// Makes `ch` to the definitions called `name`; the files it changed.
pub fn update(
    root: &Path,
    name: &str,
    client: Option<Client>,
    ch: &Changes,
) -> anyhow::Result<Vec<PathBuf>> {
    let found = find(root, name, client)?;
    let mut files: Vec<PathBuf> = found.iter().map(|e| e.file.clone()).collect();
    files.dedup();
    for file in &files {
        let path = root.join(file);
        let mut text = read_text(&path)?;
        // Later definitions first: an edit may move the lines after it, never those before.
        let mut here: Vec<&Entry> = found.iter().filter(|e| &e.file == file).collect();
        here.sort_by_key(|e| std::cmp::Reverse(e.span.start));
        for e in here {
            text = e.client.edit(&text, e, ch)?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(files)
}

// ---------------------------------------------------------------------------------------
// add and remove.

/// What `add` did, kept in ROOT/var/lib/manage-repo/host/NAME.json for `remove`.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    pub name: String,
    pub client: Client,
    /// http://HOST/repos/REPO, as given.
    pub server: String,
    pub fingerprint: String,
    pub files: Vec<Installed>,
    /// Directories it made (root-relative), outermost first: removed again when empty.
    pub dirs: Vec<PathBuf>,
    /// The key it added to pacman's keyring: (gpg dir, fingerprint).
    pub pacman_key: Option<(PathBuf, String)>,
    /// Not stored: what `add` could not do (printed).
    pub warnings: Vec<String>,
}

/// One file `add` wrote: a new one, or lines appended between markers to an existing one.
#[derive(Clone, Debug, PartialEq)]
pub struct Installed {
    pub path: PathBuf,
    pub appended: bool,
    /// Appended to a file that did not exist: `remove` deletes it when nothing else is left.
    pub file_created: bool,
    /// Appended to a file without a final newline: `add` put one there first.
    pub newline_added: bool,
}

const MANIFESTS: &str = "var/lib/manage-repo/host";

impl Manifest {
    fn path(root: &Path, name: &str) -> PathBuf {
        root.join(MANIFESTS).join(format!("{name}.json"))
    }

    fn json(&self) -> Value {
        json!({
            "name": self.name,
            "client": self.client.name(),
            "server": self.server,
            "fingerprint": self.fingerprint,
            "files": self.files.iter().map(|f| json!({
                "path": f.path,
                "how": if f.appended { "appended" } else { "created" },
                "file_created": f.file_created,
                "newline_added": f.newline_added,
            })).collect::<Vec<_>>(),
            "dirs": self.dirs,
            "pacman_key": self.pacman_key.as_ref().map(|(d, f)| json!({ "gpgdir": d, "fingerprint": f })),
        })
    }

    fn from_json(v: &Value) -> Option<Manifest> {
        let s = |v: &Value, k: &str| v[k].as_str().map(str::to_string);
        let files = v["files"]
            .as_array()?
            .iter()
            .map(|f| {
                Some(Installed {
                    path: s(f, "path")?.into(),
                    appended: f["how"] == "appended",
                    file_created: f["file_created"] == true,
                    newline_added: f["newline_added"] == true,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let dirs = v["dirs"]
            .as_array()?
            .iter()
            .map(|d| d.as_str().map(PathBuf::from))
            .collect::<Option<Vec<_>>>()?;
        let pacman_key = match &v["pacman_key"] {
            Value::Null => None,
            k => Some((s(k, "gpgdir")?.into(), s(k, "fingerprint")?)),
        };
        Some(Manifest {
            name: s(v, "name")?,
            client: Client::from_name(&s(v, "client")?)?,
            server: s(v, "server")?,
            fingerprint: s(v, "fingerprint")?,
            files,
            dirs,
            pacman_key,
            warnings: Vec::new(),
        })
    }

    fn load(root: &Path, name: &str) -> anyhow::Result<Option<Manifest>> {
        let path = Manifest::path(root, name);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let v: Value =
            serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
        Manifest::from_json(&v)
            .map(Some)
            .with_context(|| format!("{}: not a manage-repo manifest", path.display()))
    }

    fn all(root: &Path) -> anyhow::Result<Vec<Manifest>> {
        let Ok(dir) = std::fs::read_dir(root.join(MANIFESTS)) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for f in dir.flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".json") {
                out.extend(Manifest::load(root, stem)?);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Whether `e` is (part of) what this `add` installed.
    fn owns(&self, e: &Entry) -> bool {
        let same_client = self.client == e.client
            || matches!(
                (self.client, e.client),
                (Client::Dnf | Client::Yum, Client::Dnf | Client::Yum)
            );
        same_client
            && self.files.iter().any(|f| {
                f.path == e.file && (!f.appended || e.block.as_deref() == Some(&self.name))
            })
    }
}

/// What the server serves for one client: its main file and the others, and the key.
#[derive(Clone, Debug, Default)]
pub struct Served {
    /// (file name, contents); the main one first.
    pub files: Vec<(String, Vec<u8>)>,
    pub key_armored: String,
    pub fingerprint: String,
}

impl Served {
    fn main_text(&self) -> anyhow::Result<String> {
        let (name, data) = self.files.first().context("the server serves no file")?;
        String::from_utf8(data.clone()).with_context(|| format!("{name}: not UTF-8 text"))
    }

    /// A served file other than the main one whose name ends with one of `ends`.
    fn other(&self, ends: &[&str]) -> Option<&(String, Vec<u8>)> {
        self.files
            .iter()
            .skip(1)
            .find(|(n, _)| ends.iter().any(|e| n.ends_with(e)))
    }
}

/// One thing `add` writes: a new file, or lines appended (between markers) to a file.
#[derive(Clone, Debug)]
pub enum Put {
    Create { path: PathBuf, data: Vec<u8> },
    Append { path: PathBuf, text: String },
}

/// A client's plan: what to write, and whether to add the key to pacman's keyring.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub puts: Vec<Put>,
    pub pacman_key: bool,
}

fn plan(client: Client, name: &str, s: &Served) -> anyhow::Result<Plan> {
    match client {
        Client::Apt => apt::plan(name, s),
        Client::Dnf | Client::Yum => yum::plan(name, s),
        Client::Zypper => zypper::plan(name, s),
        Client::Pacman => pacman::plan(name, s),
        Client::Apk => apk::plan(name, s),
        Client::Pkg => pkg::plan(name, s),
    }
}

/// A name that is safe as a file name and a marker: letters, digits, `.`, `_`, `-`.
fn check_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || name.starts_with('.')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        crate::usage!("{name:?}: a name is letters, digits, '.', '_' and '-'");
    }
    Ok(())
}

/// `http://HOST/repos/REPO[/]`: (that URL without the slash, REPO).
fn repo_url(url: &str) -> anyhow::Result<(String, String)> {
    let base = url.trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        crate::usage!("{url}: give the repository's URL, http(s)://HOST/repos/REPO");
    }
    let (head, repo) = base.rsplit_once('/').unwrap_or_default();
    if !head.ends_with("/repos") || repo.is_empty() {
        crate::usage!("{url}: give the repository's URL, http(s)://HOST/repos/REPO");
    }
    Ok((base.to_string(), repo.to_string()))
}

fn get(url: &str) -> anyhow::Result<Vec<u8>> {
    let resp = match ureq::get(url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(status, r)) => {
            let text = r.into_string().unwrap_or_default();
            let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
            bail!("GET {url}: {}", crate::client::refusal(status, &v));
        }
        Err(e) => bail!("GET {url}: {e}"),
    };
    let mut data = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut data)
        .with_context(|| format!("GET {url}"))?;
    Ok(data)
}

/// The served listing's files for `client` (dnf's for yum and yum's for dnf when the server
/// has only the other), main first, and the key, its fingerprint checked.
pub fn fetch(base: &str, client: Client, pinned: Option<&str>) -> anyhow::Result<(Served, Value)> {
    let listing_url = format!("{base}/config/");
    let listing: Value = serde_json::from_slice(&get(&listing_url)?)
        .with_context(|| format!("{listing_url}: not JSON"))?;
    let configs = listing["configs"]
        .as_array()
        .with_context(|| format!("{listing_url}: no \"configs\""))?;
    let pick = |c: Client| -> Vec<&Value> {
        let mut v: Vec<&Value> = configs.iter().filter(|f| f["client"] == c.name()).collect();
        v.sort_by_key(|f| f["main"] != true);
        v
    };
    let mut chosen = pick(client);
    if chosen.is_empty() {
        chosen = match client {
            Client::Dnf => pick(Client::Yum),
            Client::Yum => pick(Client::Dnf),
            _ => chosen,
        };
    }
    if chosen.is_empty() {
        let offered: Vec<&str> = configs
            .iter()
            .filter_map(|f| f["client"].as_str())
            .collect();
        bail!(
            "{base} has no configuration for {} (it has: {})",
            client.name(),
            if offered.is_empty() {
                "none".to_string()
            } else {
                offered.join(", ")
            }
        );
    }
    let mut files = Vec::new();
    for f in chosen {
        let file = f["file"].as_str().context("a config without \"file\"")?;
        check_name(file).with_context(|| format!("{listing_url}: a bad file name"))?;
        let url = match f["url"].as_str() {
            Some(u) => u.to_string(),
            None => format!("{base}/config/{file}"),
        };
        files.push((file.to_string(), get(&url)?));
    }
    let key_url = listing["key"]["url"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("{base}/key.asc"));
    let announced = listing["key"]["fingerprint"]
        .as_str()
        .with_context(|| format!("{listing_url}: no key fingerprint"))?;
    let key_armored = String::from_utf8(get(&key_url)?).context("the key is not text")?;
    let fingerprint = check_key(&key_armored, announced, pinned)?;
    let served = Served {
        files,
        key_armored,
        fingerprint,
    };
    Ok((served, listing))
}

/// Upper-case hex without spaces (or a leading 0x).
fn norm_fpr(f: &str) -> String {
    let f = f.trim();
    let f = f
        .strip_prefix("0x")
        .or_else(|| f.strip_prefix("0X"))
        .unwrap_or(f);
    f.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase()
}

/// The primary keys' fingerprints in an armored key file (one block or several).
pub fn fingerprints(armored: &str) -> anyhow::Result<Vec<String>> {
    use pgp::composed::{Deserializable, SignedPublicKey};
    use pgp::types::KeyDetails;
    const BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
    let mut out = Vec::new();
    for block in armored.split(BEGIN).skip(1) {
        let text = format!("{BEGIN}{block}");
        let (keys, _) = SignedPublicKey::from_string_many(&text)
            .context("the key is not an armored OpenPGP public key")?;
        for k in keys {
            let k = k.context("the key is not an armored OpenPGP public key")?;
            out.push(hex::encode_upper(k.fingerprint().as_bytes()));
        }
    }
    if out.is_empty() {
        bail!("the key is not an armored OpenPGP public key");
    }
    Ok(out)
}

/// The announced fingerprint, once the key is seen to have it (and `pinned`, if given).
pub fn check_key(armored: &str, announced: &str, pinned: Option<&str>) -> anyhow::Result<String> {
    let have = fingerprints(armored)?;
    let announced = norm_fpr(announced);
    if !have.contains(&announced) {
        bail!(
            "refusing: the server announces key {announced}, but its key.asc holds {}",
            have.join(", ")
        );
    }
    if let Some(p) = pinned {
        let p = norm_fpr(p);
        if p != announced {
            bail!("refusing: the server's key is {announced}, not the --fingerprint {p}");
        }
    }
    Ok(announced)
}

/// `add`: fetch, check, install, record. Nothing is written unless every file was fetched
/// and the key checked; a write that fails undoes the writes before it.
pub fn add(
    root: &Path,
    url: &str,
    client: Client,
    name: Option<String>,
    pinned: Option<&str>,
) -> anyhow::Result<Manifest> {
    let (base, repo) = repo_url(url)?;
    let name = name.unwrap_or(repo);
    check_name(&name)?;
    if Manifest::load(root, &name)?.is_some() {
        bail!("{name} is already added (`host remove {name}` first, or give another --name)");
    }
    let (served, _) = fetch(&base, client, pinned)?;
    install(root, &base, client, &name, &served)
}

/// Installs what the server served (see [`add`]).
pub fn install(
    root: &Path,
    base: &str,
    client: Client,
    name: &str,
    served: &Served,
) -> anyhow::Result<Manifest> {
    let plan = plan(client, name, served)?;
    let mut m = Manifest {
        name: name.to_string(),
        client,
        server: base.to_string(),
        fingerprint: served.fingerprint.clone(),
        files: Vec::new(),
        dirs: Vec::new(),
        pacman_key: None,
        warnings: Vec::new(),
    };
    // Refuse before writing anything: a file that is there already is someone else's.
    for p in &plan.puts {
        if let Put::Create { path, .. } = p {
            if root.join(path).symlink_metadata().is_ok() {
                bail!(
                    "{} exists already: remove it, or give another --name",
                    root.join(path).display()
                );
            }
        }
    }
    let result = (|| -> anyhow::Result<()> {
        for p in &plan.puts {
            match p {
                Put::Create { path, data } => {
                    make_dirs(root, path.parent(), &mut m.dirs)?;
                    std::fs::write(root.join(path), data)
                        .with_context(|| format!("writing {}", root.join(path).display()))?;
                    m.files.push(Installed {
                        path: path.clone(),
                        appended: false,
                        file_created: true,
                        newline_added: false,
                    });
                }
                Put::Append { path, text } => {
                    make_dirs(root, path.parent(), &mut m.dirs)?;
                    let full = root.join(path);
                    let (old, file_created) = match std::fs::read_to_string(&full) {
                        Ok(t) => (t, false),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), true),
                        Err(e) => return Err(e).context(format!("reading {}", full.display())),
                    };
                    let newline_added = !old.is_empty() && !old.ends_with('\n');
                    let mut new = old;
                    if newline_added {
                        new.push('\n');
                    }
                    new.push_str(&begin_marker(name));
                    new.push_str(text);
                    if !text.ends_with('\n') {
                        new.push('\n');
                    }
                    new.push_str(&end_marker(name));
                    std::fs::write(&full, new)
                        .with_context(|| format!("writing {}", full.display()))?;
                    m.files.push(Installed {
                        path: path.clone(),
                        appended: true,
                        file_created,
                        newline_added,
                    });
                }
            }
        }
        if plan.pacman_key {
            match pacman::add_key(root, name, served) {
                Ok(Some(k)) => m.pacman_key = Some(k),
                Ok(None) => {}
                Err(w) => m.warnings.push(w),
            }
        }
        let mpath = Path::new(MANIFESTS).join(format!("{name}.json"));
        make_dirs(root, mpath.parent(), &mut m.dirs)?;
        let text = serde_json::to_string_pretty(&m.json())? + "\n";
        std::fs::write(root.join(&mpath), text)
            .with_context(|| format!("writing {}", root.join(&mpath).display()))?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = undo(root, &m);
        remove_dirs(root, &m.dirs);
        return Err(e);
    }
    Ok(m)
}

/// Makes the missing directories of `dir` (root-relative), recording each it made.
fn make_dirs(root: &Path, dir: Option<&Path>, made: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let Some(dir) = dir else { return Ok(()) };
    let mut at = PathBuf::new();
    for part in dir.components() {
        at.push(part);
        let full = root.join(&at);
        if !full.exists() {
            std::fs::create_dir(&full).with_context(|| format!("creating {}", full.display()))?;
            made.push(at.clone());
        }
    }
    Ok(())
}

/// `remove`: undoes an `add` (or with `force`, cuts a definition it did not make).
pub fn remove(
    root: &Path,
    name: &str,
    client: Option<Client>,
    force: bool,
) -> anyhow::Result<Vec<String>> {
    match Manifest::load(root, name)?.filter(|m| client.is_none_or(|c| c == m.client)) {
        Some(m) => {
            let mut done = undo(root, &m)?;
            let mpath = Manifest::path(root, name);
            std::fs::remove_file(&mpath)
                .with_context(|| format!("removing {}", mpath.display()))?;
            remove_dirs(root, &m.dirs);
            done.push(shown(mpath.strip_prefix(root).unwrap_or(&mpath)));
            Ok(done)
        }
        None => {
            let found = find(root, name, client)?;
            if !force {
                bail!(
                    "{name} was not added by manage-repo (it is in {}): give --force to remove it anyway",
                    shown(&found[0].file)
                );
            }
            let e = &found[0];
            let path = root.join(&e.file);
            let text = read_text(&path)?;
            let left = e.client.cut(&text, e);
            if left.trim().is_empty() {
                std::fs::remove_file(&path)
                    .with_context(|| format!("removing {}", path.display()))?;
            } else {
                std::fs::write(&path, left)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(vec![shown(&e.file)])
        }
    }
}

/// Undoes the writes of `m` (not its manifest): the files it created, the blocks it appended,
/// the pacman key; directories are left for [`remove_dirs`].
fn undo(root: &Path, m: &Manifest) -> anyhow::Result<Vec<String>> {
    let mut done = Vec::new();
    if let Some((gpgdir, fpr)) = &m.pacman_key {
        pacman::delete_key(&root.join(gpgdir), fpr)?;
        done.push(format!("pacman key {fpr}"));
    }
    for f in m.files.iter().rev() {
        let full = root.join(&f.path);
        if !f.appended {
            match std::fs::remove_file(&full) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).context(format!("removing {}", full.display())),
            }
        } else {
            let text = match std::fs::read_to_string(&full) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).context(format!("reading {}", full.display())),
            };
            let left = cut_block(&text, &m.name, f.newline_added);
            if f.file_created && left.is_empty() {
                std::fs::remove_file(&full)
                    .with_context(|| format!("removing {}", full.display()))?;
            } else {
                std::fs::write(&full, left)
                    .with_context(|| format!("writing {}", full.display()))?;
            }
        }
        done.push(shown(&f.path));
    }
    Ok(done)
}

/// `text` without the lines from `# BEGIN manage-repo NAME` to `# END manage-repo NAME`; with
/// `newline_added`, without the final newline `add` put before them.
fn cut_block(text: &str, name: &str, newline_added: bool) -> String {
    let ls = lines(text);
    let begin = ls.iter().position(|l| marker(l) == Some((true, name)));
    let Some(begin) = begin else {
        return text.to_string();
    };
    let end = ls[begin..]
        .iter()
        .position(|l| marker(l) == Some((false, name)))
        .map_or(ls.len(), |i| begin + i + 1);
    let at_end = end == ls.len();
    let mut out: String = ls[..begin].concat() + &ls[end..].concat();
    if newline_added && at_end && out.ends_with('\n') {
        out.pop();
    }
    out
}

/// Removes the directories `add` made, deepest first, if they are empty now.
fn remove_dirs(root: &Path, dirs: &[PathBuf]) {
    let mut dirs = dirs.to_vec();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        let _ = std::fs::remove_dir(root.join(d)); // fails (and stays) when not empty
    }
}

#[cfg(test)]
pub(crate) mod tests;
