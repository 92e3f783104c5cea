//! The registry: each `.crate` becomes one entry on the shelf of its index file, carrying its
//! index line; at publish every crate name gets its index file (one line per version) and the
//! registry its `config.json`, which is all a sparse registry is
//! (<https://doc.rust-lang.org/cargo/reference/registry-index.html>, "Index Protocols",
//! "Sparse Protocol": cargo fetches `INDEX/config.json`, then `INDEX/<index path of a name>`
//! for each name it resolves, and the `.crate` files from the `dl` template).

use crate::krate;
use crate::manifest;
use crate::reposmith::generator::types::{
    BulkFile, Content, Encoding, Entry, Facts, Fragment, Output, Part, PublishPlan, RepoInfo,
    Selection, ShelfSummary,
};

/// The index line of a version (JSON + `\n`), what an index file is made of.
pub const LINE: &str = "line";
/// What `describe` shows besides the line (description, license, URLs; JSON).
pub const ABOUT: &str = "about";
/// The registry's configuration, at the root of the index.
pub const CONFIG: &str = "config.json";
/// Where each `.crate` is published: `crates/NAME/NAME-VERSION.crate`.
pub const CRATES: &str = "crates/";
/// Every entry's arch: a crate is source, for any target.
pub const ARCH: &str = "src";
/// The index file of a crate name (cargo `sources/registry/mod.rs` `make_dep_prefix`, over
/// the lower-cased name: `index/mod.rs`): `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd…`.
pub fn index_path(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    match n.len() {
        1 => format!("1/{n}"),
        2 => format!("2/{n}"),
        3 => format!("3/{}/{n}", &n[..1]),
        _ => format!("{}/{}/{n}", &n[..2], &n[2..4]),
    }
}

/// Whether `shelf` is an index path `index_path` makes (a shelf is this generator's own, but
/// what `plan` publishes must never be anything else).
fn is_index_path(shelf: &str) -> bool {
    let name = shelf.rsplit('/').next().unwrap_or_default();
    manifest::check_name(name).is_ok() && index_path(name) == shelf
}

/// Where the `.crate` of a version is published, under the mount.
pub fn crate_path(name: &str, vers: &str) -> String {
    format!("{CRATES}{name}/{name}-{vers}.crate")
}

/// One `.crate` → one entry with its index line.
pub fn analyze<R>(read: R, facts: &Facts) -> Result<Vec<Entry>, String>
where
    R: FnMut(u64, u32) -> Result<Vec<u8>, String>,
{
    let c = krate::read_crate(read, facts.size)?;
    let m = manifest::parse(&c.manifest, &c.dir, &facts.sha256)?;
    let line = &m.line;
    Ok(vec![Entry {
        name: line.name.clone(),
        version: line.vers.clone(),
        arch: ARCH.into(),
        path: crate_path(&line.name, &line.vers),
        shelf: index_path(&line.name),
        fragments: vec![
            Fragment {
                name: LINE.into(),
                data: line.render().into_bytes(),
            },
            Fragment {
                name: ABOUT.into(),
                data: serde_json::to_vec(&m.about).expect("plain data serializes"),
            },
        ],
    }])
}

/// Publish step 1: one index file per crate name, its versions' lines in the host's order.
pub fn plan(shelves: &[ShelfSummary]) -> PublishPlan {
    let files = shelves
        .iter()
        .filter(|s| s.entries > 0 && is_index_path(&s.shelf))
        .map(|s| BulkFile {
            path: s.shelf.clone(),
            parts: vec![Part::Entries(Selection {
                shelves: vec![s.shelf.clone()],
                fragment: LINE.into(),
                separator: Vec::new(),
            })],
            encodings: vec![Encoding::Identity],
            history: None,
            media_type: None,
        })
        .collect();
    PublishPlan {
        files,
        links: Vec::new(),
    }
}

/// The `dl` template: `BASE-URL/crates/{crate}/{crate}-{version}.crate` (cargo replaces the
/// markers, `sources/registry/download.rs`; it must be absolute: "no host part" otherwise),
/// on the URL the host says the tree is served at.
pub fn dl(repo: &RepoInfo) -> String {
    let base = repo.base_url.trim_end_matches('/');
    format!("{base}/{CRATES}{{crate}}/{{crate}}-{{version}}.crate")
}

/// `config.json`: `dl` only. No `api` (uploads go through reposmith, not `cargo publish`),
/// no `auth-required` (a private repo's tree needs a token cargo would have to send).
pub fn config_json(repo: &RepoInfo) -> String {
    let mut s = serde_json::json!({ "dl": dl(repo) }).to_string();
    s.push('\n');
    s
}

/// Publish step 2: `config.json` (also for a registry without crates yet: cargo reads it
/// before any index file).
pub fn finish(repo: &RepoInfo) -> Vec<Output> {
    vec![Output {
        media_type: Some("application/json".into()),
        ..reposmith_generator_sdk::output(CONFIG, Content::Bytes(config_json(repo).into_bytes()))
    }]
}
