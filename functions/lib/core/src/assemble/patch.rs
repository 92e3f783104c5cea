//! Line patches as apt's `rred` reads them (`diff --ed` output): a patch is a list of hunks
//! over the old file's lines, written from the end of the file to its start. The host makes
//! them natively for a bulk file's `history` (see `history.rs`): `diff` between two versions
//! (only the lines between their common prefix and suffix go through Myers), `compose` of
//! an older patch with the newest one (no old version is read again), `to_ed`/`from_ed`.

/// Replace `del` lines of the old file from line `start` (0-based) with `add`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hunk {
    pub start: usize,
    pub del: usize,
    pub add: Vec<Vec<u8>>,
}

/// Hunks in ascending order, neither overlapping nor touching.
pub type Patch = Vec<Hunk>;

/// Myers is quadratic in the worst case (a file rewritten whole): past this, `similar` settles
/// for a larger, still correct, diff.
const DIFF_DEADLINE: std::time::Duration = std::time::Duration::from_secs(2);

/// Why a file cannot be patched by line (it then gets no patches).
pub fn unpatchable(text: &[u8]) -> Option<&'static str> {
    if !text.is_empty() && !text.ends_with(b"\n") {
        return Some("does not end with a line feed");
    }
    None
}

/// The lines of `text`, each with its line feed.
pub fn lines(text: &[u8]) -> Vec<&[u8]> {
    text.split_inclusive(|b| *b == b'\n').collect()
}

/// How many items `a` and `b` share at their start, then at their end (not overlapping).
pub fn shared_ends<A, B>(a: &[A], b: &[B], same: impl Fn(&A, &B) -> bool) -> (usize, usize) {
    let pre = a.iter().zip(b).take_while(|(x, y)| same(x, y)).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| same(x, y))
        .count();
    (pre, suf)
}

/// The hunks that turn `old` into `new` (both ending in LF, see `unpatchable`).
pub fn diff(old: &[u8], new: &[u8]) -> Patch {
    let (a, b) = (lines(old), lines(new));
    let (prefix, suffix) = shared_ends(&a, &b, |x, y| x == y);
    let (ma, mb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let deadline = std::time::Instant::now().checked_add(DIFF_DEADLINE);
    let ops = similar::capture_diff_slices_deadline(similar::Algorithm::Myers, ma, mb, deadline);
    let mut out: Patch = Vec::new();
    for op in ops {
        let (tag, old, new) = op.as_tag_tuple();
        if tag == similar::DiffTag::Equal {
            continue;
        }
        let start = prefix + old.start;
        let add = mb[new].iter().map(|l| l.to_vec());
        match out.last_mut() {
            Some(h) if h.start + h.del == start => {
                h.del += old.len();
                h.add.extend(add);
            }
            _ => out.push(Hunk {
                start,
                del: old.len(),
                add: add.collect(),
            }),
        }
    }
    out
}

/// `diff` of two versions that share their first and last pieces (a prefix of `skipped`
/// lines whose last non-empty piece is `before`; then `old_mid` and `new_mid` differ; then
/// the same pieces): only the middle is split into lines and compared, so the work is the
/// size of what changed. `None` when a shared run does not end on a line feed (the caller
/// diffs the whole files).
pub fn diff_middle(before: &[u8], skipped: usize, old_mid: &[u8], new_mid: &[u8]) -> Option<Patch> {
    let at_line_end = |b: &[u8]| b.is_empty() || b.ends_with(b"\n");
    if !at_line_end(before) || !at_line_end(old_mid) || !at_line_end(new_mid) {
        return None;
    }
    let mut patch = diff(old_mid, new_mid);
    for h in &mut patch {
        h.start += skipped;
    }
    Some(patch)
}

pub fn line_count(b: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', b).count()
}

/// What a patched file is made of: runs of the old file's lines, and new lines.
#[derive(Clone, Debug)]
enum Span {
    Copy { from: usize, len: usize },
    New(Vec<Vec<u8>>),
}

impl Span {
    fn len(&self) -> usize {
        match self {
            Span::Copy { len, .. } => *len,
            Span::New(l) => l.len(),
        }
    }

    /// The first `n` lines, leaving the rest in `self`.
    fn split_off_front(&mut self, n: usize) -> Span {
        match self {
            Span::Copy { from, len } => {
                let front = Span::Copy {
                    from: *from,
                    len: n,
                };
                *from += n;
                *len -= n;
                front
            }
            Span::New(l) => {
                let rest = l.split_off(n);
                Span::New(std::mem::replace(l, rest))
            }
        }
    }
}

/// Past any real file's end: the old file's tail, whatever its length.
const TAIL: usize = usize::MAX / 4;

/// `first` then `second` as one patch from `first`'s old file to `second`'s new one: the
/// intermediate file is described as spans of the old file and new lines, `second` edits
/// those spans, and what is left is turned back into hunks. Costs the size of the patches.
pub fn compose(first: &[Hunk], second: &[Hunk]) -> Patch {
    // The intermediate file as spans of the old one.
    let mut mid: std::collections::VecDeque<Span> = Default::default();
    let mut pos = 0;
    for h in first {
        if h.start > pos {
            mid.push_back(Span::Copy {
                from: pos,
                len: h.start - pos,
            });
        }
        if !h.add.is_empty() {
            mid.push_back(Span::New(h.add.clone()));
        }
        pos = h.start + h.del;
    }
    mid.push_back(Span::Copy {
        from: pos,
        len: TAIL,
    });

    // `second` applied to those spans.
    let mut out: Vec<Span> = Vec::new();
    let mut at = 0; // position in the intermediate file
    for h in second {
        take(&mut mid, h.start - at, Some(&mut out));
        take(&mut mid, h.del, None);
        if !h.add.is_empty() {
            out.push(Span::New(h.add.clone()));
        }
        at = h.start + h.del;
    }
    let mut out: Vec<Span> = out.into_iter().chain(mid).collect();
    out.retain(|s| s.len() > 0);

    // Back to hunks over the old file: the gaps between copied runs, and the new lines.
    let mut hunks: Patch = Vec::new();
    let mut pos = 0;
    let mut pending: Vec<Vec<u8>> = Vec::new();
    for s in out {
        match s {
            Span::New(l) => pending.extend(l),
            Span::Copy { from, len } => {
                if from > pos || !pending.is_empty() {
                    hunks.push(Hunk {
                        start: pos,
                        del: from - pos,
                        add: std::mem::take(&mut pending),
                    });
                }
                pos = from + len;
            }
        }
    }
    hunks
}

/// Moves the first `n` lines of `mid` to `out` (or drops them).
fn take(mid: &mut std::collections::VecDeque<Span>, mut n: usize, mut out: Option<&mut Vec<Span>>) {
    while n > 0 {
        let Some(front) = mid.front_mut() else { break };
        let piece = if front.len() <= n {
            mid.pop_front().expect("front exists")
        } else {
            front.split_off_front(n)
        };
        n -= piece.len();
        if let Some(out) = out.as_deref_mut() {
            out.push(piece);
        }
    }
}

/// The ed script: hunks from the last to the first, as `diff --ed` writes them.
pub fn to_ed(patch: &[Hunk]) -> Vec<u8> {
    let mut out = Vec::new();
    for h in patch.iter().rev() {
        let range = if h.del == 1 {
            format!("{}", h.start + 1)
        } else {
            format!("{},{}", h.start + 1, h.start + h.del)
        };
        let cmd = match (h.del, h.add.is_empty()) {
            (0, _) => format!("{}a\n", h.start),
            (_, true) => format!("{range}d\n"),
            (_, false) => format!("{range}c\n"),
        };
        out.extend_from_slice(cmd.as_bytes());
        if !h.add.is_empty() {
            h.add.iter().for_each(|l| out.extend_from_slice(l));
            out.extend_from_slice(b".\n");
        }
    }
    out
}

/// Reads back what `to_ed` wrote.
pub fn from_ed(script: &[u8]) -> Result<Patch, String> {
    let bad = |what: &str| Err(format!("malformed ed script: {what}"));
    let mut lines = lines(script).into_iter();
    let mut hunks = Vec::new();
    while let Some(cmd) = lines.next() {
        let cmd = std::str::from_utf8(cmd)
            .map_err(|_| "malformed ed script: a command that is not text".to_string())?
            .trim_end_matches('\n');
        let (range, op) = cmd.split_at(cmd.len().saturating_sub(1));
        let (s, e) = match range.split_once(',') {
            Some((s, e)) => (s.parse::<usize>(), e.parse::<usize>()),
            None => (range.parse::<usize>(), range.parse::<usize>()),
        };
        let (Ok(s), Ok(e)) = (s, e) else {
            return bad(cmd);
        };
        let mut add = Vec::new();
        if op == "a" || op == "c" {
            loop {
                match lines.next() {
                    Some(b".\n") => break,
                    Some(l) => add.push(l.to_vec()),
                    None => return bad("text without its closing dot"),
                }
            }
        }
        let hunk = match op {
            "a" => Hunk {
                start: s,
                del: 0,
                add,
            },
            "c" | "d" if s >= 1 && e >= s => Hunk {
                start: s - 1,
                del: e - s + 1,
                add,
            },
            _ => return bad(cmd),
        };
        hunks.push(hunk);
    }
    hunks.reverse();
    Ok(hunks)
}

/// `patch` applied to `old`.
#[cfg(test)]
pub fn apply(old: &[u8], patch: &[Hunk]) -> Option<Vec<u8>> {
    let a = lines(old);
    let mut out = Vec::with_capacity(old.len());
    let mut pos = 0;
    for h in patch {
        if h.start < pos || h.start + h.del > a.len() {
            return None;
        }
        a[pos..h.start]
            .iter()
            .for_each(|l| out.extend_from_slice(l));
        h.add.iter().for_each(|l| out.extend_from_slice(l));
        pos = h.start + h.del;
    }
    a[pos..].iter().for_each(|l| out.extend_from_slice(l));
    Some(out)
}

/// A lone `.` line would end an ed script's text early: such a patch cannot be written.
pub fn writable(patch: &[Hunk]) -> bool {
    patch.iter().all(|h| h.add.iter().all(|l| l != b".\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn file(stanzas: &[u32]) -> Vec<u8> {
        let mut out = Vec::new();
        for s in stanzas {
            out.extend_from_slice(
                format!("Package: p{s}\nVersion: {s}\nDescription: d\n .\n more {s}\n\n")
                    .as_bytes(),
            );
        }
        out
    }

    fn edit(rng: &mut rand::rngs::StdRng, v: &[u32], next: &mut u32) -> Vec<u32> {
        let mut v = v.to_vec();
        for _ in 0..rng.gen_range(1..4) {
            match rng.gen_range(0..3) {
                0 | 1 if !v.is_empty() => {
                    let i = rng.gen_range(0..v.len());
                    if rng.gen_bool(0.5) {
                        v.remove(i);
                    } else {
                        *next += 1;
                        v[i] = *next;
                    }
                }
                _ => {
                    *next += 1;
                    let i = rng.gen_range(0..=v.len());
                    v.insert(i, *next);
                }
            }
        }
        v
    }

    #[test]
    fn a_diff_of_the_middle_is_the_diff_of_the_whole() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for _ in 0..200 {
            let n = rng.gen_range(0..40);
            let a: Vec<u32> = (0..n).collect();
            let mut b = a.clone();
            for _ in 0..rng.gen_range(1..4) {
                let at = rng.gen_range(0..=b.len());
                if rng.gen_bool(0.5) && at < b.len() {
                    b.remove(at);
                } else {
                    b.insert(at, 1000 + at as u32);
                }
            }
            // Pieces of 1 to 4 stanzas, as chunks cut them: the shared ones are equal runs.
            let pieces = |v: &[u32]| -> Vec<Vec<u8>> { v.chunks(3).map(file).collect() };
            let (pa, pb) = (pieces(&a), pieces(&b));
            let (pre, suf) = shared_ends(&pa, &pb, |x, y| x == y);
            let before = pb[..pre].iter().rev().find(|p| !p.is_empty());
            let skipped = pb[..pre].iter().map(|p| line_count(p)).sum();
            let old_mid = pa[pre..pa.len() - suf].concat();
            let new_mid = pb[pre..pb.len() - suf].concat();
            let p = diff_middle(
                before.map_or(&[][..], |b| &b[..]),
                skipped,
                &old_mid,
                &new_mid,
            )
            .expect("stanzas end in LF");
            assert_eq!(apply(&file(&a), &p), Some(file(&b)), "{a:?} -> {b:?}");
            assert_eq!(p, diff(&file(&a), &file(&b)), "{a:?} -> {b:?}");
        }
        // A shared run that ends mid-line cannot be skipped.
        assert!(diff_middle(b"a\nb", 1, b"c\n", b"d\n").is_none());
        assert!(diff_middle(b"a\n", 1, b"c", b"d\n").is_none());
    }

    #[test]
    fn diffs_apply_and_survive_their_ed_script() {
        let a = file(&[1, 2, 3, 4, 5]);
        for b in [
            file(&[1, 2, 4, 5, 6]),
            file(&[]),
            file(&[0, 1, 2, 3, 4, 5]),
            a.clone(),
        ] {
            let p = diff(&a, &b);
            assert_eq!(apply(&a, &p).unwrap(), b);
            let ed = to_ed(&p);
            assert_eq!(from_ed(&ed).unwrap(), p, "{}", String::from_utf8_lossy(&ed));
        }
        // What `diff --ed` would write for a replaced line.
        let p = diff(b"a\nb\nc\n", b"a\nB\nc\nd\n");
        assert_eq!(to_ed(&p), b"3a\nd\n.\n2c\nB\n.\n");
        assert!(from_ed(b"1x\n").is_err());
        assert!(from_ed(b"1a\nno dot\n").is_err());
    }

    #[test]
    fn composed_patches_equal_the_direct_diff_in_effect() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let mut next = 100;
            let v0: Vec<u32> = (0..rng.gen_range(0..12)).collect();
            let mut versions = vec![v0];
            for _ in 0..6 {
                let v = edit(&mut rng, versions.last().unwrap(), &mut next);
                versions.push(v);
            }
            let files: Vec<Vec<u8>> = versions.iter().map(|v| file(v)).collect();
            // A merged patch from version 0, composed step by step.
            let mut merged = diff(&files[0], &files[1]);
            for w in files.windows(2).skip(1) {
                merged = compose(&merged, &diff(&w[0], &w[1]));
                let back = from_ed(&to_ed(&merged)).unwrap();
                assert_eq!(back, merged);
            }
            assert_eq!(apply(&files[0], &merged).unwrap(), *files.last().unwrap());
        }
    }

    #[test]
    fn lone_dots_and_unterminated_files_are_refused() {
        assert!(!writable(&diff(b"a\n", b"a\n.\n")));
        assert!(writable(&diff(b"a\n", b"a\n .\n")));
        assert!(unpatchable(b"a\nb").is_some());
        assert!(unpatchable(b"").is_none());
    }
}
