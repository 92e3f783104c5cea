//! What the metadata store holds, per repo (keys in `keys`):
//! - `config`: the repo's settings and properties (`revision` counts property changes).
//! - `snapshot/REPO/NAME` (outside `repo/`): a generation frozen under a name.
//! - `head`: every package record and a sequence number; one compare-and-set moves both.
//! - `published`: the current generation and the manifest of every served path.
use crate::generator::{Entry, Hint, RepoInfo};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod keys {
    pub const REPO_PREFIX: &str = "repo/";
    pub fn config(repo: &str) -> String {
        format!("repo/{repo}/config")
    }
    pub fn head(repo: &str) -> String {
        format!("repo/{repo}/head")
    }
    pub fn published(repo: &str) -> String {
        format!("repo/{repo}/published")
    }
    pub fn upload(repo: &str, id: &str) -> String {
        format!("upload/{repo}/{id}")
    }
    /// Outside `repo/` so that no snapshot name can look like a repo's `config` key.
    pub fn snapshots(repo: &str) -> String {
        format!("snapshot/{repo}/")
    }
    pub fn snapshot(repo: &str, name: &str) -> String {
        format!("snapshot/{repo}/{name}")
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RepoConfig {
    pub name: String,
    /// Per-repo limits (`commit::quota`); unset: the server's alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_upload: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_packages: Option<u64>,
    /// Only these generators claim, analyze and publish for the repo (unset: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generators: Option<Vec<String>>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub default_suite: String,
    #[serde(default)]
    pub default_component: String,
    #[serde(default)]
    pub architectures: Vec<String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub created: u64,
    /// Reads (its tree, packages, key, listing) need a token with the `read` scope.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
    /// Retention (`commit::journal::Retention`): the last N generations, and those published
    /// in the last D days (30 when neither is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_generations: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_days: Option<u64>,
    /// Properties (`PUT /repos/{repo}/`, `commit::properties`): what clients are told.
    #[serde(default)]
    pub title: String,
    /// A disabled repo's trees answer 404; its data and API stay.
    #[serde(default)]
    pub enabled: On,
    /// Clients verify package signatures.
    #[serde(default)]
    pub gpgcheck: bool,
    /// Clients verify the metadata's signature.
    #[serde(default)]
    pub repo_gpgcheck: On,
    /// More key URLs clients should trust (a vendor's package-signing key).
    #[serde(default)]
    pub gpgkey: Vec<String>,
    /// The public URL of `/repos/{repo}` when it differs from the API's (a CDN, a proxy).
    #[serde(default)]
    pub baseurl: Option<String>,
    /// Mirrors of `/repos/{repo}`, base URLs.
    #[serde(default)]
    pub mirrors: Vec<String>,
    /// `suites`, `components` (apt), `query` (yum, zypper).
    #[serde(default)]
    pub url_args: BTreeMap<String, String>,
    /// Bumped by every change of properties; each generation records the revision it was
    /// rendered with (`Published::config_revision`).
    #[serde(default)]
    pub revision: u64,
}

/// A switch that is on unless set off (absent from configs written before it existed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct On(pub bool);

impl Default for On {
    fn default() -> Self {
        On(true)
    }
}

impl RepoConfig {
    /// Whether generator `name` works for this repo (its `generators` setting).
    pub fn allows(&self, name: &str) -> bool {
        self.generators
            .as_ref()
            .is_none_or(|gs| gs.iter().any(|g| g == name))
    }

    /// Where the repo is served, for formats that publish absolute URLs: its `baseurl`, else
    /// the origin of the request being served (`actor`); none outside a request.
    pub fn served_url(&self) -> Option<String> {
        self.baseurl
            .clone()
            .or_else(|| crate::actor::origin().map(|o| format!("{o}/repos/{}", self.name)))
    }

    pub fn info(&self, now: u64, generation: u64) -> RepoInfo {
        RepoInfo {
            name: self.name.clone(),
            description: self.description.clone(),
            default_suite: self.default_suite.clone(),
            default_component: self.default_component.clone(),
            architectures: self.architectures.clone(),
            // The title is the `label` option unless one is set (apt's Release `Label:`).
            options: self
                .options
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .chain(
                    (!self.title.is_empty() && !self.options.contains_key("label"))
                        .then_some(("label", self.title.as_str())),
                )
                .collect::<BTreeMap<_, _>>()
                .into_iter()
                .map(|(k, v)| Hint {
                    key: k.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            now,
            generation,
            // Per generator: `commit::publish` appends the mount to the repo's base URL.
            base_url: String::new(),
        }
    }
}

/// One package in a repo: the stored file and what each claiming generator made of it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PackageRecord {
    pub filename: String,
    pub size: u64,
    pub md5: HexDigest<16>,
    pub sha1: HexDigest<20>,
    pub sha256: String,
    pub sha512: HexDigest<64>,
    #[serde(default)]
    pub hints: Vec<Hint>,
    pub uploaded: u64,
    /// The token that uploaded it (its name, never its secret): what the journal says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploaded_by: Option<String>,
    /// Generator name → its entries' identities (the fragments live in `analysis`).
    pub entries: Entries,
    /// sha256 of the blob holding the full [`Analysis`] (fragments included).
    pub analysis: String,
    /// The package's detached OpenPGP signature by the repo key, made once at upload (and on
    /// rebuild), for formats that publish one next to each package (pacman's `.sig`).
    #[serde(default)]
    pub signature: Option<BlobRef>,
}

/// A hex digest held as its bytes, read and written as its hex string: a record's md5, sha1
/// and sha512 held as strings took 280 bytes of a package's memory in three allocations, and
/// take 136 so. Text that is not N bytes in lowercase hex is kept as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HexDigest<const N: usize> {
    Bytes([u8; N]),
    Text(Box<str>),
}

impl<const N: usize> From<&str> for HexDigest<N> {
    fn from(s: &str) -> Self {
        let mut b = [0u8; N];
        // Lowercase only: the text written back is the text read.
        let lower = !s.bytes().any(|c| c.is_ascii_uppercase());
        if s.len() == 2 * N && lower && hex::decode_to_slice(s, &mut b).is_ok() {
            HexDigest::Bytes(b)
        } else {
            HexDigest::Text(s.into())
        }
    }
}

impl<const N: usize> Default for HexDigest<N> {
    fn default() -> Self {
        HexDigest::Text("".into())
    }
}

impl<const N: usize> HexDigest<N> {
    /// The hex text, written into `buf` when held as bytes (one call, not a formatter
    /// call per byte: a head bucket's records are written on every commit that changes it).
    fn text<'a>(&'a self, buf: &'a mut [u8; 128]) -> &'a str {
        match self {
            HexDigest::Bytes(b) => {
                const { assert!(N <= 64, "a digest of at most 64 bytes") };
                let out = &mut buf[..2 * N];
                hex::encode_to_slice(b, out).expect("2N bytes of room");
                std::str::from_utf8(out).expect("hex is ASCII")
            }
            HexDigest::Text(t) => t,
        }
    }
}

impl<const N: usize> std::fmt::Display for HexDigest<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text(&mut [0; 128]))
    }
}

impl<const N: usize> Serialize for HexDigest<N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.text(&mut [0; 128]))
    }
}

impl<'de, const N: usize> Deserialize<'de> for HexDigest<N> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(std::borrow::Cow::<str>::deserialize(d)?.as_ref().into())
    }
}

/// A record's entries by generator name, as a list sorted by name, stored as the map it
/// stands for. Most packages are claimed by one generator, and a one-entry `BTreeMap`
/// allocates a node for eleven: ~500 bytes a record, 25 MB at 50,000 packages.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entries(Vec<(String, Vec<EntryId>)>);

type EntriesIter<'a> = std::iter::Map<
    std::slice::Iter<'a, (String, Vec<EntryId>)>,
    fn(&'a (String, Vec<EntryId>)) -> (&'a String, &'a Vec<EntryId>),
>;

impl Entries {
    pub fn get(&self, generator: &str) -> Option<&Vec<EntryId>> {
        self.position(generator).map(|i| &self.0[i].1)
    }
    /// Where generator `generator`'s entries are in the list ([`Entries::at`]).
    pub fn position(&self, generator: &str) -> Option<usize> {
        self.0
            .binary_search_by(|(g, _)| g.as_str().cmp(generator))
            .ok()
    }
    pub fn at(&self, position: usize) -> &[EntryId] {
        &self.0[position].1
    }
    pub fn contains_key(&self, generator: &str) -> bool {
        self.get(generator).is_some()
    }
    pub fn iter(&self) -> EntriesIter<'_> {
        self.0.iter().map(|(g, es)| (g, es))
    }
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(g, _)| g)
    }
    pub fn values(&self) -> impl Iterator<Item = &Vec<EntryId>> {
        self.0.iter().map(|(_, es)| es)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn clear(&mut self) {
        self.0 = Vec::new();
    }
    /// Without spare capacity: a list read from JSON grows to room for 4 on its first item,
    /// and most packages have one entry (480 bytes of a record's ~1,200 in memory, 20 MB of
    /// a 45,000-rpm repo's head).
    fn tight(map: BTreeMap<String, Vec<EntryId>>) -> Self {
        let shrunk = |(g, mut es): (String, Vec<EntryId>)| {
            es.shrink_to_fit();
            (g, es)
        };
        Entries(map.into_iter().map(shrunk).collect())
    }
}

impl<'a> IntoIterator for &'a Entries {
    type Item = (&'a String, &'a Vec<EntryId>);
    type IntoIter = EntriesIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// As a map collects: sorted by name, the last of equal names kept; no spare capacity.
impl FromIterator<(String, Vec<EntryId>)> for Entries {
    fn from_iter<I: IntoIterator<Item = (String, Vec<EntryId>)>>(iter: I) -> Self {
        let map: BTreeMap<String, Vec<EntryId>> = iter.into_iter().collect();
        Entries::tight(map)
    }
}

impl Serialize for Entries {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A map is sorted and unique already: straight into the list.
        Ok(Entries::tight(BTreeMap::deserialize(d)?))
    }
}

/// An entry without its fragments: enough to detect clashes and to list.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EntryId {
    pub name: String,
    pub version: String,
    pub arch: String,
    pub path: String,
    pub shelf: String,
}

impl From<&Entry> for EntryId {
    fn from(e: &Entry) -> Self {
        EntryId {
            name: e.name.clone(),
            version: e.version.clone(),
            arch: e.arch.clone(),
            path: e.path.clone(),
            shelf: e.shelf.clone(),
        }
    }
}

/// Everything the generators said about one package, stored once as an immutable blob.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Analysis {
    pub by_generator: BTreeMap<String, Vec<Entry>>,
}

/// The repo head in memory: every package record and a sequence number.
#[derive(Clone, Debug, Default)]
pub struct Head {
    /// Bumped by every commit; `published.covers` says up to where a generation reaches.
    pub seq: u64,
    pub packages: crate::records::Records,
    /// sha256 of the repo's keyring blob (`commit::keys`); None: the server's key signs.
    pub keys: Option<String>,
    /// sha256 of the journal's newest segment (`commit::journal`); None: nothing recorded.
    pub journal: Option<String>,
    /// The `RepoConfig::revision` of the last property change that moved the head: a publish
    /// that read an older config with it reads the config again (`commit::publish`).
    pub config_revision: u64,
}

/// The head as the metadata store holds it: small whatever the number of packages.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StoredHead {
    pub seq: u64,
    /// Bucket number (two hex digits) → sha256 of the blob holding its records (a JSON map
    /// file name → record); empty buckets are left out. See `records`.
    #[serde(default)]
    pub buckets: BTreeMap<String, String>,
    /// See [`Head::keys`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<String>,
    /// See [`Head::journal`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<String>,
    /// See [`Head::config_revision`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub config_revision: u64,
    /// Heads written before buckets held every record inline: still read, never written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub packages: BTreeMap<String, PackageRecord>,
}

/// A served path: a blob in the package store, or the concatenation of several (`pieces`).
/// An incremental publish builds a big index file from pieces kept from earlier generations
/// (gzip members, zstd frames, xz blocks), so only the changed pieces are written; `sha256`
/// and `size` are then those of the whole concatenation, which is never stored as one blob.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BlobRef {
    pub sha256: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pieces: Vec<Piece>,
    /// The `Content-Type` a published index file is served with, when its generator chose
    /// one; none: by the path's extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

/// One stored blob of a composite [`BlobRef`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Piece {
    pub sha256: String,
    pub size: u64,
}

impl BlobRef {
    /// A plain stored blob.
    pub fn stored(sha256: impl Into<String>, size: u64) -> Self {
        BlobRef {
            sha256: sha256.into(),
            size,
            pieces: Vec::new(),
            media_type: None,
        }
    }

    /// The stored blobs holding the bytes: the pieces, or the blob itself.
    pub fn stored_blobs(&self) -> Vec<Piece> {
        if self.pieces.is_empty() {
            vec![Piece {
                sha256: self.sha256.clone(),
                size: self.size,
            }]
        } else {
            self.pieces.clone()
        }
    }
}

/// What a generation serves, relative to `/repos/{repo}/`: its index files by path, and the
/// package files of the head it was rendered from (`records`, read through `trees`), so a
/// manifest stays small whatever the number of packages.
///
/// Stored, each composite file's pieces are listed once under `composites` (its sha256 →
/// pieces), not with every path that serves it: a big index is served under its own path
/// and again under each by-hash name, and its pieces list is most of a manifest's bytes.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(from = "StoredManifest")]
pub struct Manifest {
    pub generation: u64,
    pub files: BTreeMap<String, BlobRef>,
    /// The head's buckets at render time (see [`StoredHead::buckets`]).
    pub records: BTreeMap<String, String>,
    /// Each generator's mount and links: where its entries' package files are served.
    pub trees: Vec<Tree>,
    /// The patch history of each bulk file that asked for one (its path → a history blob,
    /// `assemble/history.rs`): what the next render composes its patches from.
    pub histories: BTreeMap<String, String>,
    /// The repo's URL this generation's files were rendered for (`base-url` without the
    /// mount): what a later publish with no request to take it from uses again.
    pub base_url: Option<String>,
}

/// A manifest as stored: files without their pieces, and those pieces once (a manifest
/// written before `composites` lists each file's pieces with it, and reads as it is).
#[derive(Deserialize)]
struct StoredManifest {
    generation: u64,
    files: BTreeMap<String, BlobRef>,
    #[serde(default)]
    records: BTreeMap<String, String>,
    #[serde(default)]
    trees: Vec<Tree>,
    #[serde(default)]
    histories: BTreeMap<String, String>,
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    composites: BTreeMap<String, Vec<Piece>>,
}

impl From<StoredManifest> for Manifest {
    fn from(m: StoredManifest) -> Self {
        let mut files = m.files;
        for blob in files.values_mut().filter(|b| b.pieces.is_empty()) {
            if let Some(p) = m.composites.get(&blob.sha256) {
                blob.pieces = p.clone();
            }
        }
        Manifest {
            generation: m.generation,
            files,
            records: m.records,
            trees: m.trees,
            histories: m.histories,
            base_url: m.base_url,
        }
    }
}

impl Serialize for Manifest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// A served file as a `BlobRef` without its pieces.
        #[derive(Serialize)]
        struct File<'a> {
            sha256: &'a str,
            size: u64,
            #[serde(skip_serializing_if = "Option::is_none")]
            media_type: Option<&'a str>,
        }
        #[derive(Serialize)]
        struct Stored<'a> {
            generation: u64,
            files: BTreeMap<&'a str, File<'a>>,
            records: &'a BTreeMap<String, String>,
            trees: &'a [Tree],
            #[serde(skip_serializing_if = "Option::is_none")]
            histories: Option<&'a BTreeMap<String, String>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            base_url: Option<&'a str>,
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            composites: BTreeMap<&'a str, &'a [Piece]>,
        }
        let mut composites = BTreeMap::new();
        let files = self
            .files
            .iter()
            .map(|(path, b)| {
                if !b.pieces.is_empty() {
                    composites.insert(b.sha256.as_str(), b.pieces.as_slice());
                }
                let file = File {
                    sha256: &b.sha256,
                    size: b.size,
                    media_type: b.media_type.as_deref(),
                };
                (path.as_str(), file)
            })
            .collect();
        Stored {
            generation: self.generation,
            files,
            records: &self.records,
            trees: &self.trees,
            histories: Some(&self.histories).filter(|h| !h.is_empty()),
            base_url: self.base_url.as_deref(),
            composites,
        }
        .serialize(s)
    }
}

/// A generator's tree: package files at `mount/entry.path`, and again under each link.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tree {
    pub generator: String,
    pub mount: String,
    #[serde(default)]
    pub links: Vec<crate::generator::Link>,
    /// The file a request for one of the tree's directories serves (`info.index-name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Published {
    pub generation: u64,
    /// The head sequence number this generation was rendered from.
    pub covers: u64,
    /// sha256 of the [`Manifest`] blob.
    pub manifest: String,
    pub published_at: u64,
    /// Earlier generations still served for a grace period (clients mid-update, apt by-hash).
    #[serde(default)]
    pub previous: Vec<Retired>,
    /// Generators that faulted (or are quarantined) in this publish, and how: their formats
    /// are served as the generation before had them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub faults: BTreeMap<String, String>,
    /// sha256 of the generation log's newest segment (`commit::journal`): every generation
    /// published, with its manifest, for history, rollback and retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// The repo is disabled: its trees answer 404 (enabling serves this generation again).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    /// The `RepoConfig::revision` this pointer was written with.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub config_revision: u64,
    /// A publish is about to move this pointer: no process takes a read lease on it
    /// (`commit::lease`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hold: bool,
    /// How long a GET may answer from this pointer without reading it again (the read lease
    /// of the process that wrote it); whoever replaces it first waits as long.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lease_ms: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Retired {
    pub generation: u64,
    pub manifest: String,
    pub retired_at: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record's entries are stored exactly as the map they stand for (records stored
    /// before read the same), sorted by generator, and found by name.
    #[test]
    fn entries_are_stored_as_a_map() {
        let id = |name: &str| EntryId {
            name: name.into(),
            version: "1".into(),
            arch: "all".into(),
            path: format!("p/{name}"),
            shelf: "s".into(),
        };
        let map: BTreeMap<String, Vec<EntryId>> = [
            ("rpm".to_string(), vec![id("b")]),
            ("deb".to_string(), vec![id("a"), id("c")]),
        ]
        .into();
        let entries: Entries = map.clone().into_iter().collect();
        assert_eq!(
            serde_json::to_string(&entries).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
        let back: Entries = serde_json::from_str(&serde_json::to_string(&map).unwrap()).unwrap();
        assert_eq!(back, entries);
        assert_eq!(entries.keys().collect::<Vec<_>>(), ["deb", "rpm"]);
        assert_eq!(entries.get("rpm"), Some(&vec![id("b")]));
        assert!(entries.get("pacman").is_none() && !entries.contains_key("apk"));
        // Read from JSON, a one-entry list holds one, not the four a growing list makes room for.
        assert!(back.values().all(|es| es.capacity() == es.len()));
    }

    /// A record's digests read and write back as the same text: lowercase hex of the right
    /// length is held as bytes, anything else (empty, uppercase, short) as it was.
    #[test]
    fn hex_digests_read_back_as_written() {
        let md5 = "d41d8cd98f00b204e9800998ecf8427e";
        let d: HexDigest<16> = md5.into();
        assert!(matches!(d, HexDigest::Bytes(_)));
        assert_eq!(d.to_string(), md5);
        for other in [
            "",
            "D41D8CD98F00B204E9800998ECF8427E",
            "d41d",
            &format!("{md5}00"),
        ] {
            let t: HexDigest<16> = other.into();
            assert!(matches!(t, HexDigest::Text(_)), "{other}");
            assert_eq!(t.to_string(), other);
        }
        let rec = PackageRecord {
            filename: "a.deb".into(),
            md5: md5.into(),
            sha1: "da39a3ee5e6b4b0d3255bfef95601890afd80709".into(),
            sha512: "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e".into(),
            ..Default::default()
        };
        let json = serde_json::to_value(&rec).unwrap();
        assert_eq!(json["md5"], md5);
        assert_eq!(json["sha512"].as_str().unwrap().len(), 128);
        let back: PackageRecord = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, rec);
        assert_eq!(serde_json::to_value(&back).unwrap(), json);
    }

    /// A file served under several paths lists its pieces once, and reads back whole; a
    /// manifest written with the pieces beside each file still reads.
    #[test]
    fn a_manifest_stores_each_pieces_list_once() {
        let piece = |c: char| Piece {
            sha256: c.to_string().repeat(64),
            size: 3,
        };
        let whole = BlobRef {
            sha256: "f".repeat(64),
            size: 6,
            pieces: vec![piece('a'), piece('b')],
            media_type: Some("text/plain".into()),
        };
        let mut m = Manifest {
            generation: 7,
            ..Default::default()
        };
        m.files.insert("Packages".into(), whole.clone());
        m.files.insert("by-hash/SHA256/x".into(), whole.clone());
        m.files
            .insert("Release".into(), BlobRef::stored("c".repeat(64), 9));
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json.matches(&"a".repeat(64)).count(), 1, "{json}");
        let back: Manifest = serde_json::from_str(&json).unwrap();
        assert_eq!(back.files, m.files);
        assert_eq!(back.generation, 7);
        let old = r#"{"generation":1,"files":{"P":{"sha256":"ff","size":6,"pieces":[{"sha256":"aa","size":3},{"sha256":"bb","size":3}]}}}"#;
        let read: Manifest = serde_json::from_str(old).unwrap();
        assert_eq!(read.files["P"].pieces.len(), 2);
    }
}
