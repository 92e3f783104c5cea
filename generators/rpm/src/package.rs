//! What the repository metadata says about one rpm, taken from its headers with the same
//! rules as createrepo_c (the reference yum/dnf/zypper metadata generator), so that the
//! clients resolve dependencies the same way against either:
//! - the package epoch is "0" when absent; a source package (SOURCEPACKAGE set) has arch `src`;
//! - dependency flags map EQ/LT/GT/LE/GE (anything else: no flags, no version);
//! - a dependency version splits into epoch (default "0"), version and release; one with a
//!   non-numeric epoch is left out;
//! - requires drop `rpmlib(...)`, the package's own primary files, anything identical to one
//!   of its provides, exact repeats, and all but the highest `libc.so.6(...)`; `pre="1"` for
//!   Requires(pre), Requires(post) and PreReq; a MISSINGOK require is a recommends;
//! - legacy (SUSE) suggests/enhances become recommends/supplements when flagged STRONG;
//! - files are `dir` (by mode), else `ghost` (by flag), else plain;
//! - changelogs: the newest 10, oldest first, authors without trailing spaces, equal
//!   timestamps nudged apart by one second as createrepo_c does.
use crate::header::{Header, Rpm, TAG_SIG_LONGARCHIVESIZE, TAG_SIG_PAYLOADSIZE};

// Main header tags.
const NAME: u32 = 1000;
const VERSION: u32 = 1001;
const RELEASE: u32 = 1002;
const EPOCH: u32 = 1003;
const SUMMARY: u32 = 1004;
const DESCRIPTION: u32 = 1005;
const BUILDTIME: u32 = 1006;
const BUILDHOST: u32 = 1007;
const SIZE: u32 = 1009;
const VENDOR: u32 = 1011;
const LICENSE: u32 = 1014;
const PACKAGER: u32 = 1015;
const GROUP: u32 = 1016;
const URL: u32 = 1020;
const ARCH: u32 = 1022;
const OLDFILENAMES: u32 = 1027;
const FILEMODES: u32 = 1030;
const FILEFLAGS: u32 = 1037;
const SOURCERPM: u32 = 1044;
const ARCHIVESIZE: u32 = 1046;
const CHANGELOGTIME: u32 = 1080;
const CHANGELOGNAME: u32 = 1081;
const CHANGELOGTEXT: u32 = 1082;
const SOURCEPACKAGE: u32 = 1106;
const DIRINDEXES: u32 = 1116;
const BASENAMES: u32 = 1117;
const DIRNAMES: u32 = 1118;
const LONGARCHIVESIZE: u32 = 271;
const LONGSIZE: u32 = 5009;

// Dependency flags (rpmsense).
const SENSE_LESS: u64 = 1 << 1;
const SENSE_GREATER: u64 = 1 << 2;
const SENSE_EQUAL: u64 = 1 << 3;
const SENSE_PREREQ: u64 = 1 << 6;
const SENSE_SCRIPT_PRE: u64 = 1 << 9;
const SENSE_SCRIPT_POST: u64 = 1 << 10;
const SENSE_MISSINGOK: u64 = 1 << 19;
const SENSE_STRONG: u64 = 1 << 27;
const FILE_GHOST: u64 = 1 << 6;
const S_IFMT: u64 = 0o170000;
const S_IFDIR: u64 = 0o040000;

/// createrepo_c's default `--changelog-limit`.
pub const CHANGELOG_LIMIT: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Provides,
    Conflicts,
    Obsoletes,
    Requires,
    Suggests,
    Enhances,
    Recommends,
    Supplements,
    OldSuggests,
    OldEnhances,
}

/// (kind, name tag, flags tag, version tag), in createrepo_c's processing order: provides
/// come first because requires are checked against them.
const DEP_TAGS: [(Kind, u32, u32, u32); 10] = [
    (Kind::Provides, 1047, 1112, 1113),
    (Kind::Conflicts, 1054, 1053, 1055),
    (Kind::Obsoletes, 1090, 1114, 1115),
    (Kind::Requires, 1049, 1048, 1050),
    (Kind::Suggests, 5049, 5051, 5050),
    (Kind::Enhances, 5055, 5057, 5056),
    (Kind::Recommends, 5046, 5048, 5047),
    (Kind::Supplements, 5052, 5054, 5053),
    (Kind::OldSuggests, 1156, 1158, 1157),
    (Kind::OldEnhances, 1159, 1161, 1160),
];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dep {
    pub name: String,
    /// EQ, LT, GT, LE, GE; None: unversioned.
    pub flags: Option<&'static str>,
    pub epoch: Option<String>,
    pub ver: Option<String>,
    pub rel: Option<String>,
    pub pre: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    File,
    Dir,
    Ghost,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    pub path: String,
    pub kind: FileKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changelog {
    pub author: String,
    pub date: u64,
    pub text: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub arch: String,
    pub epoch: String,
    pub version: String,
    pub release: String,
    pub summary: String,
    pub description: String,
    pub url: String,
    pub license: String,
    pub vendor: String,
    pub group: String,
    pub buildhost: String,
    pub sourcerpm: String,
    pub packager: String,
    pub build_time: u64,
    pub size_installed: u64,
    pub size_archive: u64,
    pub header_start: u64,
    pub header_end: u64,
    pub provides: Vec<Dep>,
    pub requires: Vec<Dep>,
    pub conflicts: Vec<Dep>,
    pub obsoletes: Vec<Dep>,
    pub suggests: Vec<Dep>,
    pub enhances: Vec<Dep>,
    pub recommends: Vec<Dep>,
    pub supplements: Vec<Dep>,
    pub files: Vec<File>,
    pub changelogs: Vec<Changelog>,
}

impl Package {
    /// `E:V-R` without a zero epoch: the version the host sorts entries by.
    pub fn evr(&self) -> String {
        if self.epoch == "0" {
            format!("{}-{}", self.version, self.release)
        } else {
            format!("{}:{}-{}", self.epoch, self.version, self.release)
        }
    }

    pub fn from_rpm(rpm: &Rpm) -> Result<Package, String> {
        let h = &rpm.main;
        let opt = |tag: u32| -> Result<String, String> { Ok(h.string(tag)?.unwrap_or_default()) };
        let required = |tag: u32, what: &str| -> Result<String, String> {
            match h.string(tag)? {
                Some(s) if !s.is_empty() => Ok(s),
                _ => Err(format!("malformed rpm: the main header has no {what}")),
            }
        };
        let name = required(NAME, "NAME")?;
        let version = required(VERSION, "VERSION")?;
        let release = required(RELEASE, "RELEASE")?;
        for (what, v) in [
            ("NAME", &name),
            ("VERSION", &version),
            ("RELEASE", &release),
        ] {
            if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!(
                    "malformed rpm: {what} {:?} contains whitespace or control characters",
                    clip(v)
                ));
            }
        }
        let is_source = h.number(SOURCEPACKAGE)?.unwrap_or(0) != 0;
        let arch = if is_source {
            "src".to_string()
        } else {
            let a = required(ARCH, "ARCH")?;
            if a.chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '/')
            {
                return Err(format!(
                    "malformed rpm: ARCH {:?} is not an architecture",
                    clip(&a)
                ));
            }
            a
        };
        let epoch = h.number(EPOCH)?.unwrap_or(0).to_string();

        let size_installed = first_number(&[(h, LONGSIZE), (h, SIZE)])?;
        let s = &rpm.signature;
        let size_archive = first_number(&[
            (h, LONGARCHIVESIZE),
            (s, TAG_SIG_LONGARCHIVESIZE),
            (h, ARCHIVESIZE),
            (s, TAG_SIG_PAYLOADSIZE),
        ])?;

        let mut p = Package {
            name,
            arch,
            epoch,
            version,
            release,
            summary: opt(SUMMARY)?,
            description: opt(DESCRIPTION)?,
            url: opt(URL)?,
            license: opt(LICENSE)?,
            vendor: opt(VENDOR)?,
            group: opt(GROUP)?,
            buildhost: opt(BUILDHOST)?,
            sourcerpm: opt(SOURCERPM)?,
            packager: opt(PACKAGER)?,
            build_time: h.number(BUILDTIME)?.unwrap_or(0),
            size_installed,
            size_archive,
            header_start: rpm.header_start,
            header_end: rpm.header_end,
            files: files(h)?,
            changelogs: changelogs(h)?,
            ..Package::default()
        };
        dependencies(h, &mut p)?;
        Ok(p)
    }
}

/// For messages: at most 80 characters of a value.
pub fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

fn first_number(candidates: &[(&Header, u32)]) -> Result<u64, String> {
    for (h, tag) in candidates {
        if let Some(n) = h.number(*tag)? {
            return Ok(n);
        }
    }
    Ok(0)
}

/// The file list: BASENAMES + DIRINDEXES into DIRNAMES (or OLDFILENAMES in ancient rpms),
/// with FILEMODES and FILEFLAGS for the kind.
fn files(h: &Header) -> Result<Vec<File>, String> {
    let (paths, n): (Vec<String>, usize) = if let Some(base) = h.strings(BASENAMES)? {
        let dirs = h.strings(DIRNAMES)?.unwrap_or_default();
        let idx = h.numbers(DIRINDEXES)?.unwrap_or_default();
        if idx.len() != base.len() {
            return Err(format!(
                "malformed rpm: the file list has {} BASENAMES but {} DIRINDEXES",
                base.len(),
                idx.len()
            ));
        }
        let mut paths = Vec::with_capacity(base.len());
        for (b, i) in base.iter().zip(&idx) {
            let Some(d) = dirs.get(*i as usize) else {
                return Err(format!(
                    "malformed rpm: file {:?} points at directory {i} of {}",
                    clip(b),
                    dirs.len()
                ));
            };
            paths.push(format!("{d}{b}"));
        }
        let n = paths.len();
        (paths, n)
    } else if let Some(old) = h.strings(OLDFILENAMES)? {
        let n = old.len();
        (old, n)
    } else {
        return Ok(Vec::new());
    };
    let modes = h.numbers(FILEMODES)?;
    let flags = h.numbers(FILEFLAGS)?;
    for (what, v) in [("FILEMODES", &modes), ("FILEFLAGS", &flags)] {
        if let Some(v) = v {
            if v.len() != n {
                return Err(format!(
                    "malformed rpm: the file list has {n} files but {} {what}",
                    v.len()
                ));
            }
        }
    }
    Ok(paths
        .into_iter()
        .enumerate()
        .map(|(i, path)| {
            let mode = modes.as_ref().map_or(0, |m| m[i]);
            let flag = flags.as_ref().map_or(0, |f| f[i]);
            let kind = if mode & S_IFMT == S_IFDIR {
                FileKind::Dir
            } else if flag & FILE_GHOST != 0 {
                FileKind::Ghost
            } else {
                FileKind::File
            };
            File { path, kind }
        })
        .collect())
}

/// createrepo_c's "primary" files, the ones primary.xml lists (dnf resolves file
/// dependencies on them without filelists).
pub fn is_primary(path: &str) -> bool {
    path.starts_with("/etc/") || path == "/usr/lib/sendmail" || path.contains("bin/")
}

fn flag_name(flags: u64) -> Option<&'static str> {
    match flags & 0xf {
        f if f == SENSE_LESS => Some("LT"),
        f if f == SENSE_GREATER => Some("GT"),
        f if f == SENSE_EQUAL => Some("EQ"),
        f if f == SENSE_LESS | SENSE_EQUAL => Some("LE"),
        f if f == SENSE_GREATER | SENSE_EQUAL => Some("GE"),
        _ => None,
    }
}

/// `[E:]V[-R]` as createrepo_c splits it. None: the epoch is not a number.
pub fn split_evr(s: &str) -> Option<(Option<String>, Option<String>, Option<String>)> {
    if s.is_empty() {
        return Some((None, None, None));
    }
    let (epoch, rest) = match s.split_once(':') {
        Some((e, rest)) => {
            let digits = e.strip_prefix(['-', '+']).unwrap_or(e);
            if !e.is_empty() && (digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit())) {
                return None;
            }
            (if e.is_empty() { "0" } else { e }, rest)
        }
        None => ("0", s),
    };
    let (ver, rel) = match rest.split_once('-') {
        Some((v, r)) => (v, Some(r.to_string())),
        None => (rest, None),
    };
    Some((Some(epoch.to_string()), Some(ver.to_string()), rel))
}

// The lists `dependencies` sorts into, in `Package`'s order.
const PRV: usize = 0;
const REQ: usize = 1;
const CON: usize = 2;
const OBS: usize = 3;
const SUG: usize = 4;
const ENH: usize = 5;
const REC: usize = 6;
const SUP: usize = 7;

fn dependencies(h: &Header, p: &mut Package) -> Result<(), String> {
    let mut rules = DepRules::new(&p.files);
    let mut out: [Vec<Dep>; 8] = Default::default();
    for (kind, name_tag, flags_tag, version_tag) in DEP_TAGS {
        let Some((names, flags, versions)) = dep_tags(h, kind, name_tag, flags_tag, version_tag)?
        else {
            continue;
        };
        // Of the libc.so.6 requires only the highest is kept, after the others.
        let mut libc: Option<Dep> = None;
        for ((name, &num_flags), full_version) in names.iter().zip(&flags).zip(&versions) {
            let Some(dep) = rules.admit(kind, name, num_flags, full_version) else {
                continue;
            };
            let list = list_of(kind, num_flags);
            if list == PRV {
                rules
                    .provided
                    .insert(rules.nfv(name, num_flags, full_version));
            } else if list == REQ {
                if dep.name.starts_with("libc.so.6") {
                    match &libc {
                        Some(best) if compare_libc(&best.name, &dep.name) != 2 => {}
                        _ => libc = Some(dep),
                    }
                    continue;
                }
                rules
                    .seen_requires
                    .insert(dep.name.clone(), (dep.flags, full_version.clone(), dep.pre));
            }
            out[list].push(dep);
        }
        if let Some(l) = libc {
            out[REQ].push(l);
        }
    }
    let [prv, req, con, obs, sug, enh, rec, sup] = out;
    p.provides = prv;
    p.requires = req;
    p.conflicts = con;
    p.obsoletes = obs;
    p.suggests = sug;
    p.enhances = enh;
    p.recommends = rec;
    p.supplements = sup;
    Ok(())
}

/// One dependency kind's names, flags and versions (`None`: the package has none).
#[allow(clippy::type_complexity)]
fn dep_tags(
    h: &Header,
    kind: Kind,
    name_tag: u32,
    flags_tag: u32,
    version_tag: u32,
) -> Result<Option<(Vec<String>, Vec<u64>, Vec<String>)>, String> {
    let (Some(names), Some(flags), Some(versions)) = (
        h.strings(name_tag)?,
        h.numbers(flags_tag)?,
        h.strings(version_tag)?,
    ) else {
        return Ok(None);
    };
    if names.len() != flags.len() || names.len() != versions.len() {
        return Err(format!(
            "malformed rpm: {kind:?} has {} names, {} flags and {} versions",
            names.len(),
            flags.len(),
            versions.len()
        ));
    }
    Ok(Some((names, flags, versions)))
}

/// Which list a kept dependency goes to: a MISSINGOK require is a recommends, a STRONG legacy
/// suggests/enhances a recommends/supplements.
fn list_of(kind: Kind, num_flags: u64) -> usize {
    let strong = num_flags & SENSE_STRONG != 0;
    match kind {
        Kind::Provides => PRV,
        Kind::Conflicts => CON,
        Kind::Obsoletes => OBS,
        Kind::Requires if num_flags & SENSE_MISSINGOK != 0 => REC,
        Kind::Requires => REQ,
        Kind::Suggests => SUG,
        Kind::Enhances => ENH,
        Kind::Recommends => REC,
        Kind::Supplements => SUP,
        Kind::OldSuggests if strong => REC,
        Kind::OldSuggests => SUG,
        Kind::OldEnhances if strong => SUP,
        Kind::OldEnhances => ENH,
    }
}

/// What createrepo_c checks a require against: the package's own primary files, its
/// provides, and the requires kept so far.
struct DepRules<'a> {
    primary_files: std::collections::HashSet<&'a str>,
    /// `name` + flags + version of every provide.
    provided: std::collections::HashSet<String>,
    /// name -> (flags, version, pre) of the last kept require with that name.
    seen_requires: std::collections::HashMap<String, (Option<&'static str>, String, bool)>,
}

impl<'a> DepRules<'a> {
    fn new(files: &'a [File]) -> Self {
        DepRules {
            primary_files: files
                .iter()
                .map(|f| f.path.as_str())
                .filter(|f| is_primary(f))
                .collect(),
            provided: Default::default(),
            seen_requires: Default::default(),
        }
    }

    fn nfv(&self, name: &str, num_flags: u64, full_version: &str) -> String {
        format!("{name}{}{full_version}", flag_name(num_flags).unwrap_or(""))
    }

    /// The dependency as the metadata lists it, or `None` when createrepo_c leaves it out.
    fn admit(&self, kind: Kind, name: &str, num_flags: u64, full_version: &str) -> Option<Dep> {
        let flags = flag_name(num_flags);
        let mut pre = false;
        if kind == Kind::Requires {
            if name.starts_with("rpmlib(")
                || (name.starts_with('/') && self.primary_files.contains(name))
                || self
                    .provided
                    .contains(&self.nfv(name, num_flags, full_version))
            {
                return None;
            }
            pre = num_flags & (SENSE_PREREQ | SENSE_SCRIPT_PRE | SENSE_SCRIPT_POST) != 0;
            if let Some((f, v, p)) = self.seen_requires.get(name) {
                if *f == flags && v == full_version && *p == pre {
                    return None;
                }
            }
        }
        // createrepo_c warns and leaves out a version it cannot split.
        let (epoch, ver, rel) = split_evr(full_version)?;
        Some(Dep {
            name: name.to_string(),
            flags,
            epoch,
            ver,
            rel,
            // Only a require that stays a require is marked.
            pre: pre && num_flags & SENSE_MISSINGOK == 0,
        })
    }
}

/// createrepo_c's libc.so.6 comparison: 0 same, 1 first bigger, 2 second bigger, -1 error.
fn compare_libc(a: &str, b: &str) -> i32 {
    let (Some(pa), Some(pb)) = (a.find('('), b.find('(')) else {
        return match (a.contains('('), b.contains('(')) {
            (false, false) => 0,
            (false, true) => 2,
            _ => 1,
        };
    };
    let (ea, eb) = (a[pa..].find(')'), b[pb..].find(')'));
    let (ea, eb) = match (ea, eb) {
        (None, None) => return -1,
        (None, _) => return 2,
        (_, None) => return 1,
        (Some(x), Some(y)) => (pa + x, pb + y),
    };
    let (sa, sb) = (pa + 1, pb + 1);
    if sa == ea && sb == eb {
        return 0;
    }
    if sa == ea {
        return 2;
    }
    if sb == eb {
        return 1;
    }
    let digit = |s: &str, from: usize| {
        s[from..]
            .find(|c: char| c.is_ascii_digit())
            .map_or(s.len(), |i| from + i)
    };
    let (da, db) = (digit(a, sa), digit(b, sb));
    if da > ea && db > eb {
        return 0;
    }
    if da > ea {
        return 2;
    }
    if db > eb {
        return 1;
    }
    match rpmvercmp(&a[da..ea], &b[db..eb]) {
        std::cmp::Ordering::Less => 2,
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1,
    }
}

/// rpm's version comparison (rpmvercmp), `~` sorting before anything and `^` after the
/// base version but before any other addition.
pub fn rpmvercmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    if a == b {
        return Equal;
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while a.first().is_some_and(|c| sep(*c)) {
            a = &a[1..];
        }
        while b.first().is_some_and(|c| sep(*c)) {
            b = &b[1..];
        }
        match (a.first(), b.first()) {
            (Some(b'~'), Some(b'~')) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (Some(b'~'), _) => return Less,
            (_, Some(b'~')) => return Greater,
            _ => {}
        }
        match (a.first(), b.first()) {
            (Some(b'^'), Some(b'^')) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (Some(b'^'), None) => return Greater,
            (None, Some(b'^')) => return Less,
            (Some(b'^'), _) => return Less,
            (_, Some(b'^')) => return Greater,
            _ => {}
        }
        let (Some(&ca), Some(_)) = (a.first(), b.first()) else {
            break;
        };
        let numeric = ca.is_ascii_digit();
        let take = |s: &[u8]| {
            s.iter()
                .take_while(|c| {
                    if numeric {
                        c.is_ascii_digit()
                    } else {
                        c.is_ascii_alphabetic()
                    }
                })
                .count()
        };
        let (na, nb) = (take(a), take(b));
        let (sa, sb) = (&a[..na], &b[..nb]);
        if nb == 0 {
            // Different kinds of segment: numeric is newer.
            return if numeric { Greater } else { Less };
        }
        let ord = if numeric {
            let ta = trim_zeros(sa);
            let tb = trim_zeros(sb);
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb))
        } else {
            sa.cmp(sb)
        };
        if ord != Equal {
            return ord;
        }
        a = &a[na..];
        b = &b[nb..];
    }
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Equal,
        (true, false) => Less,
        _ => Greater,
    }
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|c| **c == b'0').count();
    &s[n..]
}

fn changelogs(h: &Header) -> Result<Vec<Changelog>, String> {
    let (Some(times), Some(names), Some(texts)) = (
        h.numbers(CHANGELOGTIME)?,
        h.strings(CHANGELOGNAME)?,
        h.strings(CHANGELOGTEXT)?,
    ) else {
        return Ok(Vec::new());
    };
    if times.len() != names.len() || times.len() != texts.len() {
        return Err(format!(
            "malformed rpm: the changelog has {} times, {} names and {} texts",
            times.len(),
            names.len(),
            texts.len()
        ));
    }
    // Newest first in the header; built newest-first here, reversed at the end.
    let mut out: Vec<Changelog> = Vec::new();
    let mut last_time = 0u64;
    for ((&date, author), text) in times.iter().zip(names).zip(texts).take(CHANGELOG_LIMIT) {
        let author = author.trim_end_matches(' ').to_string();
        out.push(Changelog {
            author,
            date,
            text: text.clone(),
        });
        if last_time == date {
            // Bump the earlier-added (newer) entries that share this time, in a run.
            let mut t = date;
            #[allow(clippy::explicit_counter_loop)]
            for prev in out.iter_mut().rev().skip(1) {
                if prev.date != t || t == u64::MAX {
                    break;
                }
                prev.date += 1;
                t += 1;
            }
        } else {
            last_time = date;
        }
    }
    out.reverse();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::read_rpm;
    use crate::testrpm::{reader, Builder, Value};
    use std::cmp::Ordering::*;

    fn base() -> Builder<'static> {
        Builder::new()
            .tag(NAME, Value::Str("foo"))
            .tag(VERSION, Value::Str("1.0"))
            .tag(RELEASE, Value::Str("1"))
            .tag(ARCH, Value::Str("x86_64"))
    }

    fn parse(b: Builder) -> Result<Package, String> {
        let bytes = b.build();
        let rpm = read_rpm(reader(&bytes), bytes.len() as u64)?;
        Package::from_rpm(&rpm)
    }

    fn dep(
        name: &str,
        flags: Option<&'static str>,
        e: Option<&str>,
        v: Option<&str>,
        r: Option<&str>,
    ) -> Dep {
        Dep {
            name: name.into(),
            flags,
            epoch: e.map(Into::into),
            ver: v.map(Into::into),
            rel: r.map(Into::into),
            pre: false,
        }
    }

    #[test]
    fn minimal_package() {
        let p = parse(base()).unwrap();
        assert_eq!((p.name.as_str(), p.arch.as_str()), ("foo", "x86_64"));
        assert_eq!((p.epoch.as_str(), p.evr()), ("0", "1.0-1".to_string()));
        assert!(p.files.is_empty() && p.provides.is_empty() && p.changelogs.is_empty());
    }

    #[test]
    fn epoch_source_and_sizes() {
        let p = parse(
            base()
                .tag(EPOCH, Value::I32(vec![3]))
                .tag(SOURCEPACKAGE, Value::I32(vec![1]))
                .tag(SIZE, Value::I32(vec![10]))
                .tag(LONGSIZE, Value::I64(vec![5_000_000_000]))
                .tag(ARCHIVESIZE, Value::I32(vec![77]))
                .sig_tag(TAG_SIG_PAYLOADSIZE, Value::I32(vec![99])),
        )
        .unwrap();
        assert_eq!(p.arch, "src");
        assert_eq!(p.evr(), "3:1.0-1");
        assert_eq!(p.size_installed, 5_000_000_000);
        assert_eq!(p.size_archive, 77);
        let p = parse(base().sig_tag(TAG_SIG_PAYLOADSIZE, Value::I32(vec![99]))).unwrap();
        assert_eq!(p.size_archive, 99);
    }

    #[test]
    fn required_tags() {
        let err = parse(Builder::new().tag(VERSION, Value::Str("1"))).unwrap_err();
        assert_eq!(err, "malformed rpm: the main header has no NAME");
        let err = parse(
            Builder::new()
                .tag(NAME, Value::Str("a"))
                .tag(VERSION, Value::Str("1"))
                .tag(RELEASE, Value::Str("1")),
        )
        .unwrap_err();
        assert_eq!(err, "malformed rpm: the main header has no ARCH");
        let err = parse(
            Builder::new()
                .tag(NAME, Value::Str("a b"))
                .tag(VERSION, Value::Str("1"))
                .tag(RELEASE, Value::Str("1"))
                .tag(ARCH, Value::Str("noarch")),
        )
        .unwrap_err();
        assert!(err.contains("NAME \"a b\""), "{err}");
        let err = parse(base().tag(EPOCH, Value::Str("x"))).unwrap_err();
        assert!(err.contains("should be a number"), "{err}");
    }

    #[test]
    fn flags_map_like_createrepo_c() {
        assert_eq!(flag_name(0), None);
        assert_eq!(flag_name(2), Some("LT"));
        assert_eq!(flag_name(4), Some("GT"));
        assert_eq!(flag_name(8), Some("EQ"));
        assert_eq!(flag_name(10), Some("LE"));
        assert_eq!(flag_name(12), Some("GE"));
        assert_eq!(flag_name(14), None);
        assert_eq!(flag_name(8 | SENSE_SCRIPT_PRE | (1 << 24)), Some("EQ"));
    }

    #[test]
    fn evr_split() {
        let s = split_evr;
        assert_eq!(s(""), Some((None, None, None)));
        assert_eq!(s("1.0"), Some((Some("0".into()), Some("1.0".into()), None)));
        assert_eq!(
            s("2:1.0-3.fc40"),
            Some((Some("2".into()), Some("1.0".into()), Some("3.fc40".into())))
        );
        assert_eq!(
            s("1.0~rc1^git2-1-2"),
            Some((
                Some("0".into()),
                Some("1.0~rc1^git2".into()),
                Some("1-2".into())
            ))
        );
        assert_eq!(s(":1"), Some((Some("0".into()), Some("1".into()), None)));
        assert_eq!(s("x:1"), None);
    }

    #[test]
    fn dependencies_follow_createrepo_c() {
        let p = parse(
            base()
                .tag(BASENAMES, Value::Strs(vec!["foo", "foo.conf", "data"]))
                .tag(
                    DIRNAMES,
                    Value::Strs(vec!["/usr/bin/", "/etc/", "/usr/share/foo/"]),
                )
                .tag(DIRINDEXES, Value::I32(vec![0, 1, 2]))
                .tag(1047, Value::Strs(vec!["foo", "virtual"]))
                .tag(1112, Value::I32(vec![8, 0]))
                .tag(1113, Value::Strs(vec!["1.0-1", ""]))
                .tag(
                    1049,
                    Value::Strs(vec![
                        "rpmlib(PayloadIsZstd)",
                        "/etc/foo.conf",
                        "/usr/share/foo/data",
                        "virtual",
                        "bar",
                        "bar",
                        "bar",
                        "/bin/sh",
                        "libc.so.6(GLIBC_2.3)(64bit)",
                        "libc.so.6(GLIBC_2.34)(64bit)",
                        "libc.so.6(GLIBC_2.4)(64bit)",
                        "weak",
                        "badepoch",
                    ]),
                )
                .tag(
                    1048,
                    Value::I32(vec![
                        (1 << 24) | 8,
                        0,
                        0,
                        0,
                        12,
                        12,
                        12 | SENSE_SCRIPT_PRE as u32,
                        SENSE_SCRIPT_POST as u32,
                        0,
                        0,
                        0,
                        SENSE_MISSINGOK as u32,
                        8,
                    ]),
                )
                .tag(
                    1050,
                    Value::Strs(vec![
                        "5.4-1", "", "", "", "2:1.0", "2:1.0", "2:1.0", "", "", "", "", "", "x:1",
                    ]),
                )
                .tag(1054, Value::Strs(vec!["old"]))
                .tag(1053, Value::I32(vec![2]))
                .tag(1055, Value::Strs(vec!["1.0"]))
                .tag(1090, Value::Strs(vec!["older"]))
                .tag(1114, Value::I32(vec![10]))
                .tag(1115, Value::Strs(vec!["2:0.9-1"]))
                .tag(5046, Value::Strs(vec!["rec"]))
                .tag(5048, Value::I32(vec![0]))
                .tag(5047, Value::Strs(vec![""]))
                .tag(1156, Value::Strs(vec!["oldsug", "oldrec"]))
                .tag(1158, Value::I32(vec![0, SENSE_STRONG as u32]))
                .tag(1157, Value::Strs(vec!["", ""]))
                .tag(5055, Value::Strs(vec!["(a and b)"]))
                .tag(5057, Value::I32(vec![0]))
                .tag(5056, Value::Strs(vec![""])),
        )
        .unwrap();
        assert_eq!(
            p.provides,
            vec![
                dep("foo", Some("EQ"), Some("0"), Some("1.0"), Some("1")),
                dep("virtual", None, None, None, None),
            ]
        );
        let bar = dep("bar", Some("GE"), Some("2"), Some("1.0"), None);
        let mut bar_pre = bar.clone();
        bar_pre.pre = true;
        let mut sh = dep("/bin/sh", None, None, None, None);
        sh.pre = true;
        assert_eq!(
            p.requires,
            vec![
                // /etc/foo.conf is its own primary file; /usr/share/foo/data is not primary.
                dep("/usr/share/foo/data", None, None, None, None),
                // "virtual" is provided (same name, flags and version): dropped.
                bar.clone(),
                // the exact repeat is dropped, the pre one is not
                bar_pre,
                sh,
                // only the highest libc.so.6, at the end
                dep("libc.so.6(GLIBC_2.34)(64bit)", None, None, None, None),
            ]
        );
        assert_eq!(
            p.conflicts,
            vec![dep("old", Some("LT"), Some("0"), Some("1.0"), None)]
        );
        assert_eq!(
            p.obsoletes,
            vec![dep("older", Some("LE"), Some("2"), Some("0.9"), Some("1"))]
        );
        assert_eq!(
            p.recommends,
            vec![
                dep("weak", None, None, None, None),
                dep("rec", None, None, None, None),
                dep("oldrec", None, None, None, None),
            ]
        );
        assert_eq!(p.suggests, vec![dep("oldsug", None, None, None, None)]);
        assert_eq!(p.enhances, vec![dep("(a and b)", None, None, None, None)]);
        assert!(p.supplements.is_empty());
    }

    #[test]
    fn mismatched_dependency_counts_are_errors() {
        let err = parse(
            base()
                .tag(1049, Value::Strs(vec!["a", "b"]))
                .tag(1048, Value::I32(vec![0]))
                .tag(1050, Value::Strs(vec!["", ""])),
        )
        .unwrap_err();
        assert_eq!(
            err,
            "malformed rpm: Requires has 2 names, 1 flags and 2 versions"
        );
    }

    #[test]
    fn files_dirs_ghosts() {
        let p = parse(
            base()
                .tag(BASENAMES, Value::Strs(vec!["foo", "log", "bin"]))
                .tag(DIRNAMES, Value::Strs(vec!["/opt/", "/var/log/"]))
                .tag(DIRINDEXES, Value::I32(vec![0, 1, 0]))
                .tag(FILEMODES, Value::I16(vec![0o100644, 0o100644, 0o040755]))
                .tag(
                    FILEFLAGS,
                    Value::I32(vec![0, FILE_GHOST as u32, FILE_GHOST as u32]),
                ),
        )
        .unwrap();
        let kinds: Vec<_> = p.files.iter().map(|f| (f.path.as_str(), f.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("/opt/foo", FileKind::File),
                ("/var/log/log", FileKind::Ghost),
                ("/opt/bin", FileKind::Dir),
            ]
        );
        let err = parse(
            base()
                .tag(BASENAMES, Value::Strs(vec!["foo"]))
                .tag(DIRNAMES, Value::Strs(vec!["/"]))
                .tag(DIRINDEXES, Value::I32(vec![5])),
        )
        .unwrap_err();
        assert!(err.contains("points at directory 5 of 1"), "{err}");
        let err = parse(
            base()
                .tag(BASENAMES, Value::Strs(vec!["foo"]))
                .tag(DIRNAMES, Value::Strs(vec!["/"]))
                .tag(DIRINDEXES, Value::I32(vec![0]))
                .tag(FILEMODES, Value::I16(vec![1, 2])),
        )
        .unwrap_err();
        assert!(err.contains("1 files but 2 FILEMODES"), "{err}");
        let p = parse(base().tag(OLDFILENAMES, Value::Strs(vec!["/a", "/b"]))).unwrap();
        assert_eq!(p.files.len(), 2);
        assert!(
            is_primary("/etc/x") && is_primary("/usr/sbin/x") && is_primary("/usr/lib/sendmail")
        );
        assert!(!is_primary("/usr/share/x") && !is_primary("/etc"));
    }

    #[test]
    fn changelogs_like_createrepo_c() {
        let p = parse(
            base()
                .tag(CHANGELOGTIME, Value::I32(vec![300, 300, 300, 100]))
                .tag(CHANGELOGNAME, Value::Strs(vec!["c  ", "b", "a ", "z"]))
                .tag(CHANGELOGTEXT, Value::Strs(vec!["3", "2", "1", "0"])),
        )
        .unwrap();
        let got: Vec<_> = p
            .changelogs
            .iter()
            .map(|c| (c.author.as_str(), c.date, c.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("z", 100, "0"),
                ("a", 300, "1"),
                ("b", 301, "2"),
                ("c", 302, "3")
            ]
        );

        let times: Vec<u32> = (0..15).map(|i| 1000 - i).collect();
        let names: Vec<&str> = (0..15).map(|_| "n").collect();
        let p = parse(
            base()
                .tag(CHANGELOGTIME, Value::I32(times))
                .tag(CHANGELOGNAME, Value::Strs(names.clone()))
                .tag(CHANGELOGTEXT, Value::Strs(names)),
        )
        .unwrap();
        assert_eq!(p.changelogs.len(), 10);
        assert_eq!(p.changelogs[0].date, 991);
        assert_eq!(p.changelogs[9].date, 1000);
    }

    #[test]
    fn version_comparison() {
        for (a, b, o) in [
            ("1.0", "1.0", Equal),
            ("1.0", "1.1", Less),
            ("1.10", "1.9", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.0.1", Less),
            ("1.0^", "1.0^git1", Less),
            ("001", "1", Equal),
            ("1a", "1.a", Equal),
            ("a", "1", Less),
            ("2.34", "2.4", Greater),
            ("1.0", "1.0a", Less),
        ] {
            assert_eq!(rpmvercmp(a, b), o, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), o.reverse(), "{b} vs {a}");
        }
        assert_eq!(
            compare_libc("libc.so.6(GLIBC_2.4)", "libc.so.6(GLIBC_2.34)"),
            2
        );
        assert_eq!(compare_libc("libc.so.6()", "libc.so.6(GLIBC_2.3)"), 2);
        assert_eq!(compare_libc("libc.so.6", "libc.so.6"), 0);
        assert_eq!(compare_libc("libc.so.6(a", "libc.so.6(b"), -1);
    }
}
