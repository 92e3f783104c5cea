//! A selection's entries cut into runs (a chunk's worth each), kept from one render to the
//! next. Cuts are content-defined: a run ends after an entry whose cut hash is 0 mod the
//! mean, or at the most a run takes. A stretch between two cuts by the hash (a span) is thus
//! cut on its own, so a change re-cuts only the span it falls in: a render costs what the
//! commit changed, not the repo's size (merging, cutting and hashing every entry again was
//! O(N) a publish: ~7 ms of it at 50,000 debs).
use super::shelves::{Slot, SlotKey, SlotVal};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

/// Mean entries per run, and the most a run takes (bounds the worst case).
const CHUNK_MEAN: u64 = 64;
const CHUNK_MAX: usize = 512;

/// Where runs are cut.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    mean: u64,
    max: usize,
}

impl Default for Rule {
    /// `CHUNK_MEAN`, or `REPOSMITH_CHUNK_MEAN` (1 to 4096): the tests set 2, so that the real
    /// clients read files of many pieces from repos of a few packages.
    fn default() -> Self {
        static MEAN: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        let mean = *MEAN.get_or_init(|| {
            std::env::var("REPOSMITH_CHUNK_MEAN")
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|m| (1..=4096).contains(m))
                .unwrap_or(CHUNK_MEAN)
        });
        Rule {
            mean,
            max: CHUNK_MAX,
        }
    }
}

impl Rule {
    /// Whether a span ends after this entry (a cut by the hash).
    fn ends_span(&self, v: &SlotVal) -> bool {
        v.cut.is_multiple_of(self.mean)
    }
}

/// A run: the entry it ends at, how many entries it holds, and their digest (`digest_of`).
#[derive(Clone, Debug)]
pub struct Run {
    pub last: SlotKey,
    pub len: usize,
    pub digest: [u8; 32],
}

/// Where a span ends: at an entry that ends one by its hash, or after every entry (the tail,
/// always there, last).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum End {
    At(SlotKey),
    Tail,
}

/// The runs of the shelves a selection merges, by span, and the spans to cut again.
#[derive(Debug)]
pub struct Runs {
    rule: Rule,
    spans: BTreeMap<End, Vec<Run>>,
    dirty: BTreeSet<End>,
}

impl Runs {
    /// Runs not cut yet: the first `refresh` cuts every entry.
    pub fn new(rule: Rule) -> Self {
        Runs {
            rule,
            spans: BTreeMap::from([(End::Tail, Vec::new())]),
            dirty: BTreeSet::from([End::Tail]),
        }
    }

    /// Marks the span `key` falls in (an entry added there, or taken out) to be cut again.
    pub fn touch(&mut self, key: &SlotKey) {
        let at = End::At(key.clone());
        let (end, _) = (self.spans.range(at..).next()).expect("the tail span is always there");
        self.dirty.insert(end.clone());
    }

    /// Cuts the spans touched since the last refresh again, from `shelves` as they are now.
    pub fn refresh(&mut self, shelves: &[&BTreeMap<SlotKey, SlotVal>]) {
        while let Some(end) = self.dirty.pop_first() {
            let lo = match self.spans.range(..&end).next_back() {
                Some((End::At(k), _)) => Some(k.clone()),
                _ => None,
            };
            self.spans.remove(&end);
            let mut slots = entries(shelves, lo.as_ref(), end.key());
            let mut hi = end;
            // A span whose last entry went runs on into the next one.
            while hi != End::Tail && !slots.last().is_some_and(|(_, v)| self.rule.ends_span(v)) {
                let (next, _) = (self.spans)
                    .range((Bound::Excluded(&hi), Bound::Unbounded))
                    .next()
                    .expect("the tail span is always there");
                let next = next.clone();
                self.spans.remove(&next);
                self.dirty.remove(&next);
                slots.extend(entries(shelves, hi.key(), next.key()));
                hi = next;
            }
            self.cut_spans(&slots, hi == End::Tail);
        }
    }

    /// Cuts `slots` (whole spans, the tail last if `tail`) into runs.
    fn cut_spans(&mut self, slots: &[Slot], tail: bool) {
        let mut start = 0;
        for (i, (k, v)) in slots.iter().enumerate() {
            if self.rule.ends_span(v) {
                let runs = self.cut_span(&slots[start..=i]);
                self.spans.insert(End::At((*k).clone()), runs);
                start = i + 1;
            }
        }
        if tail {
            let runs = self.cut_span(&slots[start..]);
            self.spans.insert(End::Tail, runs);
        }
    }

    /// A span's runs: `max` entries each from its start, and what is left.
    fn cut_span(&self, span: &[Slot]) -> Vec<Run> {
        span.chunks(self.rule.max)
            .map(|run| Run {
                last: run[run.len() - 1].0.clone(),
                len: run.len(),
                digest: digest_of(run),
            })
            .collect()
    }

    /// Every run, in order.
    pub fn runs(&self) -> impl Iterator<Item = &Run> {
        self.spans.values().flatten()
    }
}

impl End {
    fn key(&self) -> Option<&SlotKey> {
        match self {
            End::At(k) => Some(k),
            End::Tail => None,
        }
    }
}

/// The entries of `shelves` after `lo` up to `hi` (None: from the first, to the last), in
/// order (each shelf is sorted: a merge, not a sort).
pub fn entries<'a>(
    shelves: &[&'a BTreeMap<SlotKey, SlotVal>],
    lo: Option<&SlotKey>,
    hi: Option<&SlotKey>,
) -> Vec<Slot<'a>> {
    use itertools::Itertools;
    let lo = lo.map_or(Bound::Unbounded, Bound::Excluded);
    let hi = hi.map_or(Bound::Unbounded, Bound::Included);
    shelves
        .iter()
        .map(|s| s.range::<SlotKey, _>((lo, hi)))
        .kmerge_by(|a, b| a.0 < b.0)
        .collect()
}

/// A run's entries (each entry's analysis, content-addressed, and its index in it), hashed
/// once for all the selections cut from it (rpm's three files share every run).
fn digest_of(run: &[Slot]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for (_, v) in run {
        h.update(v.digest);
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::sync::Arc;

    fn slot(name: &str) -> (SlotKey, SlotVal) {
        let id = crate::model::EntryId {
            name: name.into(),
            version: "1".into(),
            arch: "all".into(),
            path: name.into(),
            shelf: "s".into(),
        };
        let rec = Arc::new(crate::model::PackageRecord {
            filename: name.into(),
            analysis: format!("a-{name}"),
            entries: [("g".to_string(), vec![id])].into_iter().collect(),
            ..Default::default()
        });
        let (_, key, val) = super::super::shelves::slots("g", &rec).next().unwrap();
        (key, val)
    }

    /// The runs of every entry cut from scratch, one after another (what a render did
    /// before runs were kept).
    fn cut(rule: Rule, slots: &[Slot]) -> Vec<(String, usize, [u8; 32])> {
        let mut runs = Vec::new();
        let mut start = 0;
        for (i, (_, v)) in slots.iter().enumerate() {
            if rule.ends_span(v) || i + 1 - start >= rule.max {
                runs.push(&slots[start..=i]);
                start = i + 1;
            }
        }
        if start < slots.len() {
            runs.push(&slots[start..]);
        }
        let name = |r: &[Slot]| r[r.len() - 1].0.name().to_string();
        runs.iter()
            .map(|r| (name(r), r.len(), digest_of(r)))
            .collect()
    }

    fn kept(runs: &Runs) -> Vec<(String, usize, [u8; 32])> {
        let run = |r: &Run| (r.last.name().to_string(), r.len, r.digest);
        runs.runs().map(run).collect()
    }

    #[test]
    fn shelves_merge_into_one_ordered_run() {
        let shelf = |f: fn(usize) -> bool| -> BTreeMap<SlotKey, SlotVal> {
            (0..500)
                .filter(|&i| f(i))
                .map(|i| slot(&format!("p{i:04}")))
                .collect()
        };
        let (odd, even, tens) = (
            shelf(|i| i % 2 == 1),
            shelf(|i| i % 2 == 0),
            shelf(|i| i % 10 == 0),
        );
        let run = entries(&[&odd, &even], None, None);
        let names: Vec<&str> = run.iter().map(|(k, _)| k.name()).collect();
        let want: Vec<String> = (0..500).map(|i| format!("p{i:04}")).collect();
        assert_eq!(names, want);
        // A short run into a long one, and an empty one.
        let none = shelf(|_| false);
        let run = entries(&[&tens, &odd, &none], None, None);
        assert_eq!(run.len(), 300);
        assert!(run.windows(2).all(|w| w[0].0 <= w[1].0));
        // Bounds: after the first, up to and with the last.
        let (lo, hi) = (slot("p0100").0, slot("p0110").0);
        let run = entries(&[&tens, &odd], Some(&lo), Some(&hi));
        let names: Vec<&str> = run.iter().map(|(k, _)| k.name()).collect();
        assert_eq!(
            names,
            ["p0101", "p0103", "p0105", "p0107", "p0109", "p0110"]
        );
    }

    #[test]
    fn cuts_depend_only_on_the_entries() {
        let owned: Vec<(SlotKey, SlotVal)> = (0..2000).map(|i| slot(&format!("p{i:05}"))).collect();
        let slots: Vec<Slot> = owned.iter().map(|(k, v)| (k, v)).collect();
        let rule = Rule { mean: 64, max: 512 };
        let all = cut(rule, &slots);
        assert!(all.len() > 10 && all.len() < 100, "{}", all.len());
        assert_eq!(all.iter().map(|r| r.1).sum::<usize>(), 2000);
        // Without entry 1000, every run but the one that held it is the same.
        let mut fewer = slots.clone();
        fewer.remove(1000);
        let b = cut(rule, &fewer);
        let differ = all.iter().filter(|r| !b.contains(r)).count();
        assert!(differ <= 2, "{differ} runs changed");
    }

    /// After any adds and removes, over several shelves, the runs kept and re-cut where
    /// touched are those cut from scratch: with the usual rule, and with rules whose most a
    /// run takes is often reached (a span cut into several runs, and a removed span end that
    /// joins two spans).
    #[test]
    fn kept_runs_equal_runs_cut_from_scratch() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for rule in [
            Rule { mean: 64, max: 512 },
            Rule { mean: 4, max: 3 },
            Rule { mean: 9, max: 2 },
            Rule { mean: 1, max: 512 },
        ] {
            let mut shelves: Vec<BTreeMap<SlotKey, SlotVal>> = vec![BTreeMap::new(); 3];
            let mut runs = Runs::new(rule);
            for step in 0..400 {
                // Mostly one or a few changes, now and then a hundred (a first load).
                let n = if step % 50 == 0 {
                    100
                } else {
                    rng.gen_range(1..4)
                };
                for _ in 0..n {
                    let (k, v) = slot(&format!("p{:04}", rng.gen_range(0..600)));
                    let s = rng.gen_range(0..3);
                    let had = shelves.iter().position(|m| m.contains_key(&k));
                    match had {
                        Some(i) => {
                            runs.touch(&k);
                            shelves[i].remove(&k);
                        }
                        None => {
                            runs.touch(&k);
                            shelves[s].insert(k, v);
                        }
                    }
                }
                if rng.gen_bool(0.7) {
                    let maps: Vec<_> = shelves.iter().collect();
                    runs.refresh(&maps);
                    let want = cut(rule, &entries(&maps, None, None));
                    assert_eq!(kept(&runs), want, "{rule:?}, step {step}");
                }
            }
        }
    }
}
