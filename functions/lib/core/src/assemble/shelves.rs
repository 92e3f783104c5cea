//! A generator's entries by shelf, in the host's stable order, kept from one render to the
//! next: a render re-reads only the head buckets that changed since the last one (a bucket
//! is an `Arc`, and an unchanged one is the same `Arc`), so grouping and sorting cost what
//! the commit changed, not the repo's size.
use super::runs::{Rule, Run, Runs};
use crate::model::{EntryId, Head, PackageRecord};
use crate::records::{Bucket, BUCKETS};
use sha2::Digest as _;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher as _};
use std::sync::Arc;

/// Where an entry sorts: the host's stable order (name, version, path), then the file name,
/// then its place in the record, so that a full render and an incremental one agree. It
/// points into its record (which the head holds anyway) instead of copying its strings: 16
/// bytes an entry instead of ~250.
#[derive(Clone, Debug)]
pub struct SlotKey {
    rec: Arc<PackageRecord>,
    /// The generator's place in the record's entries, and the entry's in the generator's.
    generator: u32,
    index: u32,
}

impl SlotKey {
    fn id(&self) -> &EntryId {
        &self.rec.entries.at(self.generator as usize)[self.index as usize]
    }
    fn order(&self) -> (&str, &str, &str, &str, u32) {
        let id = self.id();
        (
            &id.name,
            &id.version,
            &id.path,
            &self.rec.filename,
            self.index,
        )
    }
    pub fn name(&self) -> &str {
        &self.id().name
    }
    pub fn filename(&self) -> &str {
        &self.rec.filename
    }
    /// The entry's place among its generator's entries in the record (and its analysis).
    pub fn index(&self) -> usize {
        self.index as usize
    }
    /// sha256 of the record's analysis blob.
    pub fn analysis(&self) -> &str {
        &self.rec.analysis
    }
}

impl PartialEq for SlotKey {
    fn eq(&self, other: &Self) -> bool {
        self.order() == other.order()
    }
}
impl Eq for SlotKey {}
impl PartialOrd for SlotKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for SlotKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.order().cmp(&other.order())
    }
}

/// What chunking hashes of an entry, worked out once when the entry is indexed.
#[derive(Clone, Debug)]
pub struct SlotVal {
    /// The content-defined cut hash of (name, version, path).
    pub cut: u64,
    /// sha256 of what a chunk key says of this entry (its analysis and index).
    pub digest: [u8; 32],
}

pub type Slot<'a> = (&'a SlotKey, &'a SlotVal);

/// One generator's shelves, the head buckets they were read from, and the runs of each
/// group of shelves its selections merge (kept up to date as entries come and go).
pub struct ShelfIndex {
    read: Vec<Option<Arc<Bucket>>>,
    shelves: HashMap<String, BTreeMap<SlotKey, SlotVal>>,
    groups: HashMap<Vec<String>, Runs>,
}

impl Default for ShelfIndex {
    fn default() -> Self {
        ShelfIndex {
            read: vec![None; BUCKETS],
            shelves: HashMap::new(),
            groups: HashMap::new(),
        }
    }
}

impl ShelfIndex {
    /// Brings the index up to `head`: in every bucket that is not the one read last time,
    /// the records that changed are taken out as they were and put in as they are (a bucket
    /// holds N/256 records; a commit changes a few of them, and `Bucket::changes` finds
    /// those without looking into the others).
    pub fn update(&mut self, gname: &str, head: &Head) {
        let empty = Bucket::default();
        for b in 0..BUCKETS {
            let (now, _) = head.packages.bucket(b);
            if self.read[b].as_ref().is_some_and(|r| Arc::ptr_eq(r, now)) {
                continue;
            }
            let old = self.read[b].take();
            // A record changed in any way is put in again, even when this generator's slots
            // read the same (its signature, another format's entries): a key holds its
            // record, and the one replaced must not stay alive in the index.
            for (was, is) in Bucket::changes(old.as_deref().unwrap_or(&empty), now) {
                for (shelf, key, _) in was.into_iter().flat_map(|r| slots(gname, r)) {
                    self.touch(shelf, &key);
                    if let Some(s) = self.shelves.get_mut(shelf) {
                        s.remove(&key);
                    }
                }
                for (shelf, key, val) in is.into_iter().flat_map(|r| slots(gname, r)) {
                    self.touch(shelf, &key);
                    self.shelves
                        .entry(shelf.to_string())
                        .or_default()
                        .insert(key, val);
                }
            }
            // Holding the bucket keeps its address from being reused by another one.
            self.read[b] = Some(now.clone());
        }
        self.shelves.retain(|_, s| !s.is_empty());
    }

    pub fn shelves(&self) -> &HashMap<String, BTreeMap<SlotKey, SlotVal>> {
        &self.shelves
    }

    /// The runs of a group of shelves merged, as they are now (cut on the first call), and
    /// the group's shelves that have entries (to read a run's entries from).
    pub fn runs(&mut self, names: &[String]) -> (Vec<Run>, Vec<&BTreeMap<SlotKey, SlotVal>>) {
        let picked: Vec<_> = names.iter().filter_map(|s| self.shelves.get(s)).collect();
        let runs = (self.groups)
            .entry(names.to_vec())
            .or_insert_with(|| Runs::new(Rule::default()));
        runs.refresh(&picked);
        (runs.runs().cloned().collect(), picked)
    }

    /// Keeps the runs of these groups only (those the last plan selected).
    pub fn keep_groups<'a>(&mut self, names: impl Iterator<Item = &'a [String]>) {
        let keep: HashSet<&[String]> = names.collect();
        self.groups.retain(|g, _| keep.contains(&g[..]));
    }

    /// An entry of `shelf` comes or goes: the runs of every group with it are cut again there.
    fn touch(&mut self, shelf: &str, key: &SlotKey) {
        for (names, runs) in &mut self.groups {
            if names.iter().any(|n| n == shelf) {
                runs.touch(key);
            }
        }
    }
}

/// A record's entries for generator `gname`: shelf, sort key, value.
pub(super) fn slots<'r>(
    gname: &str,
    rec: &'r Arc<PackageRecord>,
) -> impl Iterator<Item = (&'r str, SlotKey, SlotVal)> + 'r {
    let at = rec.entries.position(gname);
    let ids = at.map(|g| rec.entries.at(g)).unwrap_or_default();
    ids.iter().enumerate().map(move |(index, id)| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&id.name, &id.version, &id.path).hash(&mut h);
        let digest = sha2::Sha256::digest(format!("{}:{index}", rec.analysis)).into();
        (
            id.shelf.as_str(),
            SlotKey {
                rec: rec.clone(),
                generator: at.unwrap_or_default() as u32,
                index: index as u32,
            },
            SlotVal {
                cut: h.finish(),
                digest,
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, shelf: &str) -> PackageRecord {
        let id = EntryId {
            name: name.into(),
            version: "1".into(),
            arch: "all".into(),
            path: format!("pool/{name}"),
            shelf: shelf.into(),
        };
        PackageRecord {
            filename: format!("{name}.pkg"),
            analysis: format!("a-{name}"),
            entries: [("g".to_string(), vec![id])].into_iter().collect(),
            ..Default::default()
        }
    }

    fn names(ix: &ShelfIndex) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = ix
            .shelves()
            .iter()
            .map(|(s, m)| (s.clone(), m.keys().map(|k| k.name().to_string()).collect()))
            .collect();
        out.sort();
        out
    }

    /// Updated step by step, the index equals one built from scratch on the final head.
    #[test]
    fn an_updated_index_equals_a_fresh_one() {
        let mut head = Head::default();
        let mut ix = ShelfIndex::default();
        for i in 0..300 {
            let r = rec(&format!("p{:03}", (i * 7919) % 1000), ["a", "b"][i % 2]);
            head.packages.insert(r.filename.clone(), r);
            if i % 3 == 0 {
                let gone = format!("p{:03}.pkg", (i * 31) % 1000);
                head.packages.remove(&gone);
            }
            if i % 50 == 0 {
                ix.update("g", &head);
            }
        }
        ix.update("g", &head);
        let mut fresh = ShelfIndex::default();
        fresh.update("g", &head);
        assert_eq!(names(&ix), names(&fresh));
        let total: usize = ix.shelves().values().map(|s| s.len()).sum();
        assert_eq!(total, head.packages.len());
        // Other generators' entries are not this one's.
        let mut other = ShelfIndex::default();
        other.update("h", &head);
        assert!(other.shelves().is_empty());
    }

    /// A record replaced by one that differs only where this generator does not look (a new
    /// signature) is let go: the index holds the new one.
    #[test]
    fn a_replaced_record_is_not_held() {
        let mut head = Head::default();
        head.packages.insert("p.pkg".into(), rec("p", "a"));
        let mut ix = ShelfIndex::default();
        ix.update("g", &head);
        let mut signed = rec("p", "a");
        signed.signature = Some(crate::model::BlobRef::stored("s".repeat(64), 1));
        head.packages.insert("p.pkg".into(), signed.clone());
        ix.update("g", &head);
        let keys: Vec<&SlotKey> = ix.shelves().values().flat_map(|m| m.keys()).collect();
        assert_eq!(keys.len(), 1);
        assert_eq!(*keys[0].rec, signed);
    }
}
