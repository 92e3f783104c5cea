//! A repo's package records, split into 256 buckets by the first byte of sha256(file name).
//!
//! The head is stored as one small root (a bucket number → the sha256 of that bucket's blob)
//! and one immutable blob per bucket, so a commit writes only the buckets it changed and a
//! reader that knows the previous head fetches only those: the bytes a commit moves grow with
//! N/256, not N. In memory a bucket is an `Arc`: cloning a head costs 256 pointer copies, and
//! a change copies one bucket (copy-on-write), which also tells the writer what changed.
//!
//! A bucket of `SPLIT_FROM` records or more is stored as `PARTS` part blobs (by the second
//! byte of sha256(file name)) and a blob listing them, so that a commit rewrites the part it
//! changed and the list, ~1/16 of the bucket: at 50,000 packages a bucket holds ~195 records
//! (~130 KB of JSON), which an upload wrote whole.
use crate::model::PackageRecord;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

pub const BUCKETS: usize = 256;

/// One bucket's records by file name, stored as a JSON map. Its clash index (see
/// `clash_keys`) is built on first use and then kept up to date: a copy of the bucket (a
/// commit changing one record) copies it too, so a commit never rebuilds it from every record.
/// Each record is shared between the versions of its bucket: copying a bucket to change one
/// record copies pointers, and a reader tells an unchanged record by its address.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Bucket {
    records: BTreeMap<String, Arc<PackageRecord>>,
    #[serde(skip)]
    index: OnceLock<Index>,
    /// When stored in parts: each part's blob, None once a record of it changed.
    #[serde(skip)]
    parts: Vec<Option<Arc<str>>>,
}

/// A bucket is stored in parts from this many records on.
pub const SPLIT_FROM: usize = 64;
/// How many parts a split bucket is stored in.
pub const PARTS: usize = 16;

/// The bucket a file name falls in and its part of it, when that bucket is split: the first
/// two bytes of sha256(file name), one digest for both (stable forever: stored heads depend
/// on them).
fn place_of(filename: &str) -> (usize, usize) {
    use sha2::Digest;
    let d = sha2::Sha256::digest(filename.as_bytes());
    (d[0] as usize, d[1] as usize % PARTS)
}

/// The part of its bucket a file name falls in, when the bucket is split.
pub fn part_of(filename: &str) -> usize {
    place_of(filename).1
}

/// How a bucket is written: one blob of its records, or parts and the list of them.
pub enum Stored {
    Whole(Vec<u8>),
    /// Every part's blob (bytes for those to write) and the list naming them.
    Split {
        parts: Vec<(Arc<str>, Option<Vec<u8>>)>,
        list: Vec<u8>,
    },
}

/// (clash key, record), sorted by key: one allocation to copy, where a map of lists took
/// one per key.
type Index = Vec<(u64, Arc<PackageRecord>)>;

impl Bucket {
    pub fn get(&self, filename: &str) -> Option<&PackageRecord> {
        self.records.get(filename).map(|r| &**r)
    }
    pub fn values(&self) -> impl Iterator<Item = &PackageRecord> + Clone {
        self.records.values().map(|r| &**r)
    }
    /// The records that differ between two versions of a bucket, as (was, is) pairs: added
    /// (None, new), removed (old, None) or replaced (old, new). One ordered walk of both;
    /// a record both share (the same allocation) is skipped without looking inside it.
    pub fn changes<'a>(
        old: &'a Bucket,
        new: &'a Bucket,
    ) -> impl Iterator<
        Item = (
            Option<&'a Arc<PackageRecord>>,
            Option<&'a Arc<PackageRecord>>,
        ),
    > {
        use itertools::{EitherOrBoth, Itertools};
        let (a, b) = (old.records.iter(), new.records.iter());
        a.merge_join_by(b, |(x, _), (y, _)| x.cmp(y))
            .filter_map(|pair| match pair {
                EitherOrBoth::Both((_, x), (_, y)) if Arc::ptr_eq(x, y) => None,
                EitherOrBoth::Both((_, x), (_, y)) => Some((Some(x), Some(y))),
                EitherOrBoth::Left((_, x)) => Some((Some(x), None)),
                EitherOrBoth::Right((_, y)) => Some((None, Some(y))),
            })
    }
    pub fn len(&self) -> usize {
        self.records.len()
    }
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
    /// Sets `rec` under its file name (in `part`: see `place_of`), and in the index if one
    /// is built.
    fn put(
        &mut self,
        filename: String,
        part: usize,
        rec: Arc<PackageRecord>,
    ) -> Option<Arc<PackageRecord>> {
        self.changed(part);
        let old = self.records.insert(filename, rec.clone());
        if let Some(index) = self.index.get_mut() {
            if let Some(old) = &old {
                index.retain(|(_, r)| !Arc::ptr_eq(r, old));
            }
            for key in clash_keys(&rec) {
                let at = index.partition_point(|(k, _)| *k <= key);
                index.insert(at, (key, rec.clone()));
            }
        }
        old
    }
    /// Removes the record of `filename` (in `part`), and its index entries if an index is
    /// built.
    fn take(&mut self, filename: &str, part: usize) -> Option<Arc<PackageRecord>> {
        let old = self.records.remove(filename)?;
        self.changed(part);
        if let Some(index) = self.index.get_mut() {
            index.retain(|(_, r)| !Arc::ptr_eq(r, &old));
        }
        Some(old)
    }
    fn changed(&mut self, part: usize) {
        if let Some(p) = self.parts.get_mut(part) {
            *p = None;
        }
    }

    /// The blobs this bucket is stored in besides its own: its parts, when split.
    pub fn part_blobs(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().flatten().map(|s| &**s)
    }

    /// What to write for this bucket: whole below `SPLIT_FROM` records, else the parts
    /// that changed since it was read or written (all of them the first time) and the list.
    pub fn to_store(&self) -> serde_json::Result<Stored> {
        if self.records.len() < SPLIT_FROM {
            return Ok(Stored::Whole(serde_json::to_vec(self)?));
        }
        let mut parts = Vec::with_capacity(PARTS);
        for (p, part) in self.by_part().into_iter().enumerate() {
            match self.parts.get(p).cloned().flatten() {
                Some(sha) => parts.push((sha, None)),
                None => {
                    let bytes = serde_json::to_vec(&part)?;
                    parts.push((crate::digest::sha256_hex(&bytes).into(), Some(bytes)));
                }
            }
        }
        let names: Vec<&str> = parts.iter().map(|(sha, _)| &**sha).collect();
        let list = serde_json::to_vec(&names)?;
        Ok(Stored::Split { parts, list })
    }

    /// The records of each part, by file name: one digest a record.
    fn by_part(&self) -> Vec<BTreeMap<&String, &Arc<PackageRecord>>> {
        let mut parts = vec![BTreeMap::new(); PARTS];
        for (name, rec) in &self.records {
            parts[part_of(name)].insert(name, rec);
        }
        parts
    }

    /// Each part as stored (its blob and records), for a split bucket read or written: a
    /// newer version of it reuses those whose blob it lists again. Empty when stored whole.
    pub fn stored_parts(&self) -> Vec<Option<(Arc<str>, Bucket)>> {
        if self.parts.is_empty() {
            return Vec::new();
        }
        let by_part = self.by_part();
        self.parts
            .iter()
            .zip(by_part)
            .map(|(sha, recs)| {
                let records = recs.into_iter().map(|(n, r)| (n.clone(), r.clone()));
                let part = Bucket {
                    records: records.collect(),
                    ..Bucket::default()
                };
                sha.clone().map(|sha| (sha, part))
            })
            .collect()
    }

    /// A split bucket's records from its parts, in the order of its list.
    pub fn joined(parts: Vec<(Arc<str>, Bucket)>) -> Bucket {
        let mut records = BTreeMap::new();
        let mut shas = Vec::with_capacity(parts.len());
        for (sha, part) in parts {
            records.extend(part.records);
            shas.push(Some(sha));
        }
        Bucket {
            records,
            index: OnceLock::new(),
            parts: shas,
        }
    }

    /// The records holding `key`.
    fn holding(&self, key: u64) -> impl Iterator<Item = &PackageRecord> {
        let index = self.index.get_or_init(|| {
            let mut index: Index = self
                .records
                .values()
                .flat_map(|rec| clash_keys(rec).into_iter().map(|k| (k, rec.clone())))
                .collect();
            index.sort_by_key(|(k, _)| *k);
            index
        });
        let from = index.partition_point(|(k, _)| *k < key);
        index[from..]
            .iter()
            .take_while(move |(k, _)| *k == key)
            .map(|(_, r)| &**r)
    }
}

/// What two records must share to clash or to replace one another: a published path of a
/// generator, or a (generator, shelf, name), hashed, so an index entry costs no allocation;
/// two keys that hash alike only make `sharing` answer one record more, which the clash
/// rules then look at in full.
pub fn clash_keys(rec: &PackageRecord) -> Vec<u64> {
    use std::hash::{Hash, Hasher};
    let hash = |parts: &[&str]| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        parts.hash(&mut h);
        h.finish()
    };
    let mut keys = Vec::new();
    for (gen, ids) in &rec.entries {
        for id in ids {
            if !id.path.is_empty() {
                keys.push(hash(&["p", gen, &id.path]));
            }
            keys.push(hash(&["n", gen, &id.shelf, &id.name]));
        }
    }
    keys
}

#[derive(Clone, Debug)]
pub struct Records {
    buckets: Vec<Arc<Bucket>>,
    /// The blob each bucket was read from or last written to; None once it changed.
    shas: Vec<Option<Arc<str>>>,
}

impl Default for Records {
    fn default() -> Self {
        Records {
            // One shared empty bucket: copied on the first write to each.
            buckets: std::iter::repeat_n(Arc::new(Bucket::default()), BUCKETS).collect(),
            shas: vec![None; BUCKETS],
        }
    }
}

/// The bucket a file name falls in.
pub fn bucket_of(filename: &str) -> usize {
    place_of(filename).0
}

impl Records {
    pub fn get(&self, filename: &str) -> Option<&PackageRecord> {
        self.buckets[bucket_of(filename)].get(filename)
    }

    pub fn contains_key(&self, filename: &str) -> bool {
        self.get(filename).is_some()
    }

    pub fn insert(&mut self, filename: String, rec: PackageRecord) -> Option<PackageRecord> {
        let (b, p) = place_of(&filename);
        self.shas[b] = None;
        Arc::make_mut(&mut self.buckets[b])
            .put(filename, p, Arc::new(rec))
            .map(Arc::unwrap_or_clone)
    }

    pub fn remove(&mut self, filename: &str) -> Option<PackageRecord> {
        let (b, p) = place_of(filename);
        self.buckets[b].get(filename)?;
        self.shas[b] = None;
        Arc::make_mut(&mut self.buckets[b])
            .take(filename, p)
            .map(Arc::unwrap_or_clone)
    }

    /// Every record, bucket by bucket (not in file-name order: see `sorted`).
    pub fn values(&self) -> impl Iterator<Item = &PackageRecord> + Clone {
        self.buckets.iter().flat_map(|b| b.values())
    }

    /// Every record in file-name order.
    pub fn sorted(&self) -> Vec<&PackageRecord> {
        let mut all: Vec<&PackageRecord> = self.values().collect();
        all.sort_by(|a, b| a.filename.cmp(&b.filename));
        all
    }

    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.iter().all(|b| b.is_empty())
    }

    /// Rewrites the records `f` answers a replacement for. The replacement is shared, not
    /// copied: a rebuild replaces every record, and a copy of each would be a third set of
    /// them in memory next to the old ones and the caller's.
    pub fn replace_where(
        &mut self,
        mut f: impl FnMut(&PackageRecord) -> Option<Arc<PackageRecord>>,
    ) {
        for b in 0..BUCKETS {
            let changes: Vec<Arc<PackageRecord>> =
                self.buckets[b].values().filter_map(&mut f).collect();
            if changes.is_empty() {
                continue;
            }
            self.shas[b] = None;
            let bucket = Arc::make_mut(&mut self.buckets[b]);
            for rec in changes {
                bucket.put(rec.filename.clone(), part_of(&rec.filename), rec);
            }
        }
    }

    /// The records sharing any of `keys` (see `clash_keys`), each once: the only ones the
    /// clash rules need to look at, found without a pass over every record.
    pub fn sharing(&self, keys: &[u64]) -> Vec<&PackageRecord> {
        let mut out: Vec<&PackageRecord> = Vec::new();
        for bucket in &self.buckets {
            for rec in keys.iter().flat_map(|&k| bucket.holding(k)) {
                if !out.iter().any(|o| o.filename == rec.filename) {
                    out.push(rec);
                }
            }
        }
        out
    }

    /// The part blobs of the split buckets (see `SPLIT_FROM`).
    pub fn part_blobs(&self) -> impl Iterator<Item = &str> {
        self.buckets.iter().flat_map(|b| b.part_blobs())
    }

    /// Bucket `b` and the blob it is stored in, if it is unchanged since read or written.
    pub fn bucket(&self, b: usize) -> (&Arc<Bucket>, Option<&Arc<str>>) {
        (&self.buckets[b], self.shas[b].as_ref())
    }

    /// Bucket `b` was written to blob `sha` (and its parts to `parts` when split).
    pub fn stored(&mut self, b: usize, sha: Arc<str>, parts: Vec<Arc<str>>) {
        let parts: Vec<Option<Arc<str>>> = parts.into_iter().map(Some).collect();
        if self.buckets[b].parts != parts {
            Arc::make_mut(&mut self.buckets[b]).parts = parts;
        }
        self.shas[b] = Some(sha);
    }

    /// Sets bucket `b` as read from (or written to) blob `sha`.
    pub fn set_bucket(&mut self, b: usize, records: Arc<Bucket>, sha: Option<Arc<str>>) {
        self.buckets[b] = records;
        self.shas[b] = sha;
    }

    /// The stored form: bucket number (two hex digits) → blob, for the non-empty buckets.
    /// None if a bucket changed since it was stored.
    pub fn roots(&self) -> Option<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for b in 0..BUCKETS {
            if self.buckets[b].is_empty() {
                continue;
            }
            out.insert(format!("{b:02x}"), self.shas[b].as_deref()?.to_string());
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str) -> PackageRecord {
        PackageRecord {
            filename: name.into(),
            sha256: name.into(),
            size: 1,
            ..Default::default()
        }
    }

    #[test]
    fn a_change_unshares_only_its_bucket() {
        let mut a = Records::default();
        for i in 0..1000 {
            a.insert(format!("p{i}"), rec(&format!("p{i}")));
        }
        for b in 0..BUCKETS {
            let bucket = a.bucket(b).0.clone();
            a.set_bucket(b, bucket, Some(Arc::from(format!("sha{b}"))));
        }
        let mut c = a.clone();
        c.insert("new".into(), rec("new"));
        let changed: Vec<usize> = (0..BUCKETS)
            .filter(|&b| !Arc::ptr_eq(a.bucket(b).0, c.bucket(b).0))
            .collect();
        assert_eq!(changed, vec![bucket_of("new")]);
        assert!(c.bucket(bucket_of("new")).1.is_none());
        assert!(c.roots().is_none() && a.roots().is_some());
        assert_eq!(c.len(), 1001);
        assert!(c.remove("absent").is_none());
        assert_eq!(c.remove("p7").map(|r| r.filename), Some("p7".into()));
        let sorted: Vec<&str> = c.sorted().iter().map(|r| r.filename.as_str()).collect();
        assert!(sorted.windows(2).all(|w| w[0] < w[1]));
    }

    fn named(recs: Vec<&PackageRecord>) -> Vec<String> {
        let mut names: Vec<String> = recs.iter().map(|r| r.filename.clone()).collect();
        names.sort();
        names
    }

    fn claimed(file: &str, name: &str) -> PackageRecord {
        let mut r = rec(file);
        r.entries = crate::model::Entries::from_iter([(
            "deb".to_string(),
            vec![crate::model::EntryId {
                name: name.into(),
                version: "1".into(),
                arch: "all".into(),
                path: String::new(),
                shelf: "main".into(),
            }],
        )]);
        r
    }

    /// The clash index answers as one built from scratch after inserts, replacements and
    /// removals made on copies of a head whose index was already built.
    #[test]
    fn the_clash_index_follows_every_change() {
        let mut a = Records::default();
        for i in 0..600 {
            a.insert(
                format!("p{i}.deb"),
                claimed(&format!("p{i}.deb"), &format!("n{}", i % 300)),
            );
        }
        let keys = |name: &str| clash_keys(&claimed("x", name));
        // Builds every bucket's index.
        assert_eq!(named(a.sharing(&keys("n7"))), vec!["p307.deb", "p7.deb"]);
        let mut c = a.clone();
        c.insert("q.deb".into(), claimed("q.deb", "n7"));
        c.remove("p307.deb");
        c.insert("p8.deb".into(), claimed("p8.deb", "n7"));
        let fresh = |r: &Records| {
            let mut f = Records::default();
            for rec in r.values() {
                f.insert(rec.filename.clone(), rec.clone());
            }
            f
        };
        for name in ["n7", "n8", "n9", "n307"] {
            assert_eq!(
                named(c.sharing(&keys(name))),
                named(fresh(&c).sharing(&keys(name))),
                "{name}"
            );
        }
        assert_eq!(
            named(c.sharing(&keys("n7"))),
            vec!["p7.deb", "p8.deb", "q.deb"]
        );
        assert_eq!(named(c.sharing(&keys("n8"))), vec!["p308.deb"]);
        // The copy it came from is as it was.
        assert_eq!(named(a.sharing(&keys("n7"))), vec!["p307.deb", "p7.deb"]);
        assert_eq!(named(a.sharing(&keys("n8"))), vec!["p308.deb", "p8.deb"]);
    }

    /// A split bucket writes again only the parts a change touched.
    #[test]
    fn a_split_bucket_writes_only_its_changed_parts() {
        let names: Vec<String> = (0..)
            .map(|i| format!("p{i}"))
            .filter(|n| bucket_of(n) == 0)
            .take(SPLIT_FROM * 2)
            .collect();
        let mut bucket = Bucket::default();
        for n in &names {
            bucket.put(n.clone(), part_of(n), Arc::new(rec(n)));
        }
        let Ok(Stored::Split { parts, .. }) = bucket.to_store() else {
            panic!("not split")
        };
        assert!(
            parts.iter().all(|(_, bytes)| bytes.is_some()),
            "all, the first time"
        );
        let shas: Vec<Arc<str>> = parts.into_iter().map(|(sha, _)| sha).collect();
        bucket.parts = shas.iter().cloned().map(Some).collect();
        bucket.put(
            names[3].clone(),
            part_of(&names[3]),
            Arc::new(rec("changed")),
        );
        bucket.take(&names[5], part_of(&names[5]));
        let Ok(Stored::Split { parts, .. }) = bucket.to_store() else {
            panic!("not split")
        };
        let written: Vec<usize> = (0..PARTS).filter(|&p| parts[p].1.is_some()).collect();
        let mut expected = vec![part_of(&names[3]), part_of(&names[5])];
        expected.sort();
        expected.dedup();
        assert_eq!(written, expected);
        for p in (0..PARTS).filter(|p| !expected.contains(p)) {
            assert_eq!(parts[p].0, shas[p]);
        }
        let joined = Bucket::joined(
            parts
                .into_iter()
                .map(|(sha, bytes)| {
                    let part = match bytes {
                        Some(b) => serde_json::from_slice(&b).unwrap(),
                        None => {
                            let p = shas.iter().position(|s| *s == sha).unwrap();
                            let mut part = Bucket::default();
                            for n in names.iter().filter(|n| part_of(n) == p) {
                                if let Some(r) = bucket.records.get(n) {
                                    part.put(n.clone(), p, r.clone());
                                }
                            }
                            part
                        }
                    };
                    (sha, part)
                })
                .collect(),
        );
        assert_eq!(joined.len(), names.len() - 1);
        assert_eq!(joined.get(&names[3]).unwrap().sha256, "changed");
    }

    #[test]
    fn changes_name_only_what_differs() {
        let mut a = Records::default();
        for i in 0..2000 {
            a.insert(format!("p{i}"), rec(&format!("p{i}")));
        }
        let mut c = a.clone();
        c.insert("new".into(), rec("new"));
        c.remove("p7");
        // Put back equal to what it was: a new record all the same (the reader compares it).
        c.insert("p8".into(), rec("p8"));
        let mut seen = Vec::new();
        for b in 0..BUCKETS {
            for (was, is) in Bucket::changes(a.bucket(b).0, c.bucket(b).0) {
                let name = |r: Option<&Arc<PackageRecord>>| r.map(|r| r.filename.clone());
                seen.push((name(was), name(is)));
            }
        }
        seen.sort();
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            seen,
            vec![(None, s("new")), (s("p7"), None), (s("p8"), s("p8"))]
        );
    }
}
