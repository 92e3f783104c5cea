//! The package query: `GET /repos/{repo}/packages/?name=GLOB&arch=A&format=F&latest=1&q=TEXT
//! &details=1&resolve=1&limit=N&cursor=C`. One item per package entry (a file a generator
//! claimed), newest first within a name; what only the format knows (its version order, a
//! package's summary and dependencies) comes from the generator's optional `inspect` export,
//! or the defaults the contract states.
use crate::app::App;
use crate::commit::analysis_of;
use crate::error::{ApiError, ApiResult};
use crate::generator::{Dependency, Details, Fragment, Generator};
use crate::model::PackageRecord;
use base64::Engine as _;
use reposmith_generator_sdk::versions;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;
/// Patterns, architectures and formats one query may name (bounds the matching work).
const MAX_TERMS: usize = 64;

/// The parameters; `None` from [`Query::parse`] when the request has none (a plain listing).
#[derive(Debug, Default, Clone)]
pub struct Query {
    names: Vec<glob::Pattern>,
    archs: Vec<String>,
    formats: Vec<String>,
    latest: bool,
    text: Option<String>,
    details: bool,
    resolve: bool,
    limit: usize,
    cursor: Option<Cursor>,
}

/// Where the previous page ended: its last item's sort key.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Cursor {
    name: String,
    format: String,
    arch: String,
    version: String,
    filename: String,
}

impl Query {
    pub fn parse(pairs: &[(String, String)]) -> ApiResult<Option<Query>> {
        if pairs.is_empty() {
            return Ok(None);
        }
        let mut q = Query {
            limit: DEFAULT_LIMIT,
            ..Query::default()
        };
        let flag = |k: &str, v: &str| match v {
            "" | "1" | "true" | "yes" => Ok(true),
            "0" | "false" | "no" => Ok(false),
            _ => Err(ApiError::bad_request(format!(
                "parameter {k}: {v:?} is not 1/0/true/false"
            ))),
        };
        for (k, v) in pairs {
            match k.as_str() {
                "name" => q.names.push(glob::Pattern::new(v).map_err(|e| {
                    ApiError::bad_request(format!("parameter name: bad pattern {v:?}: {e}"))
                })?),
                "arch" => q.archs.push(v.clone()),
                "format" => q.formats.push(v.clone()),
                "latest" => q.latest = flag(k, v)?,
                "details" => q.details = flag(k, v)?,
                "resolve" => q.resolve = flag(k, v)?,
                "q" => q.text = Some(v.to_lowercase()),
                "limit" => {
                    q.limit = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| {
                            ApiError::bad_request(format!(
                                "parameter limit: {v:?} is not a number from 1 to {MAX_LIMIT}"
                            ))
                        })?
                }
                "cursor" => {
                    q.cursor = Some(
                        base64::engine::general_purpose::URL_SAFE_NO_PAD
                            .decode(v)
                            .ok()
                            .and_then(|b| serde_json::from_slice(&b).ok())
                            .ok_or_else(|| {
                                ApiError::bad_request(format!(
                                    "parameter cursor: {v:?} is not a cursor this server gave"
                                ))
                            })?,
                    )
                }
                other => {
                    return Err(ApiError::bad_request(format!(
                        "unknown parameter {other:?}: use name, arch, format, latest, q, \
                         details, resolve, limit, cursor"
                    )))
                }
            }
        }
        if q.names.len() + q.archs.len() + q.formats.len() > MAX_TERMS {
            return Err(ApiError::bad_request(format!(
                "at most {MAX_TERMS} name, arch and format parameters"
            )));
        }
        Ok(Some(q))
    }
}

/// One package entry as a query answers it.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub name: String,
    pub version: String,
    pub arch: String,
    pub format: String,
    pub filename: String,
    pub size: u64,
    pub sha256: String,
    pub uploaded: u64,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depends: Option<Vec<Vec<Dependency>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provides: Option<Vec<Dependency>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<(String, String)>>,
    /// Where this entry's analysis lives, and which entry of it (not served).
    #[serde(skip)]
    analysis: String,
    #[serde(skip)]
    path: String,
    /// The version's rank in its format's order (not served).
    #[serde(skip)]
    rank: u32,
}

#[derive(Debug, Serialize)]
pub struct Unsatisfied {
    pub package: String,
    pub name: String,
    pub dependency: String,
}

#[derive(Debug, Serialize)]
pub struct Answer {
    pub repo: String,
    pub generation: Option<u64>,
    pub packages: Vec<Item>,
    pub next: Option<String>,
    /// How many entries match, on every page (not served: the web interface shows it).
    #[serde(skip)]
    pub total: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsatisfied: Option<Vec<Unsatisfied>>,
}

pub async fn run(app: &App, repo: &str, q: Query) -> ApiResult<Answer> {
    let state = crate::commit::state(app, repo).await?;
    run_on(app, repo, &state, q).await
}

/// [`run`] on a state the caller already loaded (the web interface's repo page needs it too).
pub async fn run_on(
    app: &App,
    repo: &str,
    state: &crate::commit::State,
    q: Query,
) -> ApiResult<Answer> {
    let generation = state.generation;
    let gens: HashMap<String, Arc<dyn Generator>> = app
        .generators()
        .into_iter()
        .map(|g| (g.info().name.clone(), g))
        .collect();

    let selected = |i: &Item| {
        (q.names.is_empty() || q.names.iter().any(|p| p.matches(&i.name)))
            && (q.archs.is_empty() || q.archs.contains(&i.arch))
    };
    // Resolving looks at every entry of the formats asked; otherwise only at the matches,
    // made into items only when they match (a repo of 50,000 is mostly not asked for).
    // Without a text search, only what the page can hold is made into items.
    let paged = (!q.resolve && q.text.is_none()).then(|| page_pool(&state.records, &q));
    let (mut pool, paged_total) = match paged {
        Some((pool, total)) => (pool, Some(total)),
        None => (Vec::new(), None),
    };
    let records = paged_total.is_none().then_some(&state.records);
    for rec in records.into_iter().flat_map(|r| r.values()) {
        for (format, ids) in &rec.entries {
            if !q.formats.is_empty() && !q.formats.contains(format) {
                continue;
            }
            for e in ids {
                let wanted = q.resolve
                    || ((q.names.is_empty() || q.names.iter().any(|p| p.matches(&e.name)))
                        && (q.archs.is_empty() || q.archs.contains(&e.arch)));
                if wanted {
                    pool.push(item(rec, format, e));
                }
            }
        }
    }

    let mut extra: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if let Some(c) = &q.cursor {
        extra
            .entry(c.format.clone())
            .or_default()
            .insert(c.version.clone());
    }
    let needs_details = q.details || q.text.is_some() || q.resolve;
    if needs_details {
        describe(app, repo, &gens, &mut pool).await?;
        if q.resolve {
            // Required versions are ranked with the packages' own.
            for i in &pool {
                for d in i.depends.iter().flatten().flatten() {
                    if !d.version.is_empty() {
                        extra
                            .entry(i.format.clone())
                            .or_default()
                            .insert(d.version.clone());
                    }
                }
                for d in i.provides.iter().flatten() {
                    if !d.version.is_empty() {
                        extra
                            .entry(i.format.clone())
                            .or_default()
                            .insert(d.version.clone());
                    }
                }
            }
        }
    }
    let ranks = rank(app, repo, &gens, &mut pool, &extra).await?;
    let newest_only = |items: Vec<Item>| -> Vec<Item> {
        let mut best: HashMap<(String, String, String), u32> = HashMap::new();
        for i in &items {
            let k = (i.format.clone(), i.name.clone(), i.arch.clone());
            let r = best.entry(k).or_insert(i.rank);
            *r = (*r).max(i.rank);
        }
        items
            .into_iter()
            .filter(|i| best[&(i.format.clone(), i.name.clone(), i.arch.clone())] == i.rank)
            .collect()
    };

    let mut unsatisfied = None;
    let mut out: Vec<Item> = if q.resolve {
        let newest = newest_only(pool.clone());
        let start: Vec<Item> = pool.into_iter().filter(selected).collect();
        let start = if q.latest { newest_only(start) } else { start };
        let (closure, missing) = resolve(start, &newest, &ranks);
        unsatisfied = Some(missing);
        closure
    } else if q.latest {
        newest_only(pool)
    } else {
        pool
    };
    if let Some(text) = &q.text {
        out.retain(|i| {
            i.name.to_lowercase().contains(text)
                || i.summary
                    .as_deref()
                    .is_some_and(|s| s.to_lowercase().contains(text))
        });
    }
    // Sorted by index: an item is a few hundred bytes, and a repo may hold 50,000.
    let mut idx: Vec<usize> = (0..out.len()).collect();
    idx.sort_by(|&a, &b| order(&out[a], &out[b]));
    let total = paged_total.unwrap_or(idx.len());
    if let Some(c) = &q.cursor {
        let crank = ranks
            .get(&(c.format.clone(), c.version.clone()))
            .copied()
            .unwrap_or(0);
        let key = (
            c.name.as_str(),
            c.format.as_str(),
            c.arch.as_str(),
            crank,
            c.filename.as_str(),
        );
        idx.retain(|&n| {
            let i = &out[n];
            sort_key(i)
                .0
                .cmp(&(key.0, key.1, key.2))
                .then_with(|| key.3.cmp(&i.rank))
                .then_with(|| i.filename.as_str().cmp(key.4))
                == Ordering::Greater
        });
    }
    let next = (idx.len() > q.limit).then(|| {
        let last = &out[idx[q.limit - 1]];
        let c = Cursor {
            name: last.name.clone(),
            format: last.format.clone(),
            arch: last.arch.clone(),
            version: last.version.clone(),
            filename: last.filename.clone(),
        };
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&c).expect("a cursor serializes"))
    });
    idx.truncate(q.limit);
    let mut slots: Vec<Option<Item>> = out.into_iter().map(Some).collect();
    let mut out: Vec<Item> = idx
        .iter()
        .map(|&n| slots[n].take().expect("an index is taken once"))
        .collect();
    for i in &mut out {
        i.url = format!("/repos/{}/packages/{}", enc(repo), enc(&i.filename));
    }
    if !q.details {
        for i in &mut out {
            (i.summary, i.depends, i.provides, i.fields) = (None, None, None, None);
        }
    }
    Ok(Answer {
        repo: repo.to_string(),
        generation,
        packages: out,
        next,
        total,
        unsatisfied,
    })
}

/// A (name, format, arch): the sort order's first part, and what `latest` keeps one of.
type Group<'a> = (&'a str, &'a str, &'a str);

/// The entries a page can hold, found without making an item of every entry (a repo may
/// hold 50,000): the `limit + 1` smallest groups after the cursor's (entries, or with
/// `latest` distinct groups) and all of the cursor's own group, whose versions are ranked
/// to find where the cursor is. Answers them as items, and how many entries (with
/// `latest`, groups) match on every page.
fn page_pool(records: &crate::records::Records, q: &Query) -> (Vec<Item>, usize) {
    let mut refs: Vec<(Group, &PackageRecord, &crate::model::EntryId)> = Vec::new();
    for rec in records.values() {
        for (format, ids) in &rec.entries {
            if !q.formats.is_empty() && !q.formats.contains(format) {
                continue;
            }
            for e in ids {
                if (q.names.is_empty() || q.names.iter().any(|p| p.matches(&e.name)))
                    && (q.archs.is_empty() || q.archs.contains(&e.arch))
                {
                    refs.push(((&e.name, format, &e.arch), rec, e));
                }
            }
        }
    }
    fn distinct<'a>(groups: impl Iterator<Item = Group<'a>>) -> Vec<Group<'a>> {
        let set: std::collections::HashSet<Group> = groups.collect();
        set.into_iter().collect()
    }
    let total = if q.latest {
        distinct(refs.iter().map(|r| r.0)).len()
    } else {
        refs.len()
    };
    let at: Option<Group> = q.cursor.as_ref().map(|c| (&*c.name, &*c.format, &*c.arch));
    let (mut page, mut rest): (Vec<_>, Vec<_>) = refs
        .into_iter()
        .filter(|r| at.is_none_or(|a| r.0 >= a))
        .partition(|r| Some(r.0) == at);
    let k = q.limit + 1;
    let bound = if q.latest {
        let mut groups = distinct(rest.iter().map(|r| r.0));
        (groups.len() > k).then(|| *groups.select_nth_unstable(k - 1).1)
    } else {
        (rest.len() > k).then(|| {
            rest.select_nth_unstable_by(k - 1, |a, b| a.0.cmp(&b.0))
                .1
                 .0
        })
    };
    if let Some(b) = bound {
        rest.retain(|r| r.0 <= b);
    }
    page.extend(rest);
    let items = page
        .into_iter()
        .map(|((_, format, _), rec, e)| item(rec, format, e))
        .collect();
    (items, total)
}

/// One entry of a record as an item (its `url` is filled in for the page answered).
fn item(rec: &PackageRecord, format: &str, e: &crate::model::EntryId) -> Item {
    Item {
        name: e.name.clone(),
        version: e.version.clone(),
        arch: e.arch.clone(),
        format: format.to_string(),
        filename: rec.filename.clone(),
        size: rec.size,
        sha256: rec.sha256.clone(),
        uploaded: rec.uploaded,
        url: String::new(),
        summary: None,
        depends: None,
        provides: None,
        fields: None,
        analysis: rec.analysis.clone(),
        path: e.path.clone(),
        rank: 0,
    }
}

/// A URL path segment: what a package file name normally holds stays literal.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'_')
    .remove(b'+')
    .remove(b'~');

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

fn sort_key(i: &Item) -> ((&str, &str, &str), u32, &str) {
    (
        (i.name.as_str(), i.format.as_str(), i.arch.as_str()),
        i.rank,
        i.filename.as_str(),
    )
}

/// Name, format, arch; then newest first; then file name.
fn order(a: &Item, b: &Item) -> Ordering {
    let (ka, kb) = (sort_key(a), sort_key(b));
    ka.0.cmp(&kb.0)
        .then_with(|| kb.1.cmp(&ka.1))
        .then_with(|| ka.2.cmp(kb.2))
}

/// Ranks every item's version (and `extra` versions) per format, by the generator's order
/// or the contract's default. Answers (format, version) → rank.
async fn rank(
    app: &App,
    repo: &str,
    gens: &HashMap<String, Arc<dyn Generator>>,
    pool: &mut [Item],
    extra: &BTreeMap<String, BTreeSet<String>>,
) -> ApiResult<HashMap<(String, String), u32>> {
    let mut per_format: BTreeMap<String, BTreeSet<String>> = extra.clone();
    // Distinct (format, version) first: far fewer than entries, so few strings are copied.
    let distinct: std::collections::HashSet<(&str, &str)> = pool
        .iter()
        .map(|i| (i.format.as_str(), i.version.as_str()))
        .collect();
    for (f, v) in distinct {
        per_format
            .entry(f.to_string())
            .or_default()
            .insert(v.to_string());
    }
    let mut out = HashMap::new();
    for (format, set) in per_format {
        let list: Vec<String> = set.into_iter().collect();
        let ranks = match gens.get(&format).cloned() {
            Some(g) => {
                let (repo, l) = (repo.to_string(), list.clone());
                app.blocking(move || Ok::<_, ApiError>(g.compare_versions(&repo, &l)))
                    .await?
                    .and_then(Result::ok)
            }
            None => None,
        }
        .unwrap_or_else(|| versions::ranks(&list, versions::natural));
        for (v, r) in list.into_iter().zip(ranks) {
            out.insert((format.clone(), v), r);
        }
    }
    let mut by_format: HashMap<&str, HashMap<&str, u32>> = HashMap::new();
    for ((f, v), r) in &out {
        by_format.entry(f).or_default().insert(v, *r);
    }
    for i in pool.iter_mut() {
        i.rank = by_format[i.format.as_str()][i.version.as_str()];
    }
    Ok(out)
}

/// Fills each item's summary, dependencies, provides and fields.
async fn describe(
    app: &App,
    repo: &str,
    gens: &HashMap<String, Arc<dyn Generator>>,
    pool: &mut [Item],
) -> ApiResult<()> {
    let mut by_format: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (n, i) in pool.iter().enumerate() {
        by_format.entry(i.format.clone()).or_default().push(n);
    }
    for (format, idx) in by_format {
        let mut fragments: Vec<Vec<Fragment>> = Vec::with_capacity(idx.len());
        for &n in &idx {
            let i = &pool[n];
            let analysis = analysis_of(app, &i.analysis).await?;
            let entry = analysis.by_generator.get(&format).and_then(|es| {
                es.iter().find(|e| {
                    e.name == i.name
                        && e.version == i.version
                        && e.arch == i.arch
                        && e.path == i.path
                })
            });
            fragments.push(entry.map(|e| e.fragments.clone()).unwrap_or_default());
        }
        let answered = match gens.get(&format).cloned() {
            Some(g) => {
                let (repo, f) = (repo.to_string(), fragments.clone());
                app.blocking(move || Ok::<_, ApiError>(g.describe(&repo, &f)))
                    .await?
                    .and_then(Result::ok)
            }
            None => None,
        };
        let details =
            answered.unwrap_or_else(|| fragments.iter().map(|f| plain_details(f)).collect());
        for (n, d) in idx.into_iter().zip(details) {
            let i = &mut pool[n];
            i.summary = Some(d.summary);
            i.depends = Some(d.depends);
            i.provides = Some(d.provides);
            i.fields = Some(d.fields);
        }
    }
    Ok(())
}

/// The contract's default `describe`: each fragment as a field.
pub fn plain_details(fragments: &[Fragment]) -> Details {
    Details {
        fields: fragments
            .iter()
            .map(|f| {
                (
                    f.name.clone(),
                    String::from_utf8_lossy(&f.data).into_owned(),
                )
            })
            .collect(),
        ..Details::default()
    }
}

/// (format, name) → the items providing it (index into `newest`), at a version or any.
type Providers<'a> = HashMap<(&'a str, &'a str), Vec<(usize, Option<&'a str>)>>;

/// The dependency closure of `start` among `newest` (the newest entry per format, name and
/// arch), and what nothing satisfies.
fn resolve(
    start: Vec<Item>,
    newest: &[Item],
    ranks: &HashMap<(String, String), u32>,
) -> (Vec<Item>, Vec<Unsatisfied>) {
    // (format, name) → providers: a package provides its own name at its own version.
    let mut providers: Providers = HashMap::new();
    for (n, i) in newest.iter().enumerate() {
        providers
            .entry((&i.format, &i.name))
            .or_default()
            .push((n, Some(&i.version)));
        for p in i.provides.iter().flatten() {
            let v = (!p.version.is_empty()).then_some(p.version.as_str());
            providers
                .entry((&i.format, &p.name))
                .or_default()
                .push((n, v));
        }
    }
    let rank_of = |format: &str, v: &str| ranks.get(&(format.to_string(), v.to_string())).copied();
    let satisfies = |format: &str, have: Option<&str>, d: &Dependency| -> bool {
        if d.op.is_empty() {
            return true;
        }
        let (Some(have), Some(want)) = (
            have.and_then(|h| rank_of(format, h)),
            rank_of(format, &d.version),
        ) else {
            return false;
        };
        match d.op.as_str() {
            "<" => have < want,
            "<=" => have <= want,
            "=" | "==" => have == want,
            ">=" => have >= want,
            ">" => have > want,
            _ => true,
        }
    };
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut queue: Vec<Item> = Vec::new();
    for i in start {
        if seen.insert((i.format.clone(), i.filename.clone())) {
            queue.push(i);
        }
    }
    let mut out = Vec::new();
    let mut missing = Vec::new();
    while let Some(item) = queue.pop() {
        for alts in item.depends.iter().flatten() {
            let found = alts.iter().find_map(|d| {
                let candidates = providers.get(&(item.format.as_str(), d.name.as_str()))?;
                // The same architecture first, then any other.
                let mut ok: Vec<usize> = candidates
                    .iter()
                    .filter(|(_, v)| satisfies(&item.format, *v, d))
                    .map(|(n, _)| *n)
                    .collect();
                ok.sort_by_key(|n| {
                    (
                        newest[*n].arch != item.arch,
                        std::cmp::Reverse(newest[*n].rank),
                    )
                });
                ok.first().copied()
            });
            match found {
                Some(n) => {
                    let p = &newest[n];
                    if seen.insert((p.format.clone(), p.filename.clone())) {
                        queue.push(p.clone());
                    }
                }
                None => missing.push(Unsatisfied {
                    package: item.filename.clone(),
                    name: item.name.clone(),
                    dependency: alts
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(" | "),
                }),
            }
        }
        out.push(item);
    }
    missing.sort_by(|a, b| (&a.package, &a.dependency).cmp(&(&b.package, &b.dependency)));
    (out, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, version: &str, rank: u32, depends: &[&[(&str, &str, &str)]]) -> Item {
        let dep = |(n, o, v): &(&str, &str, &str)| Dependency {
            name: n.to_string(),
            op: o.to_string(),
            version: v.to_string(),
        };
        Item {
            name: name.into(),
            version: version.into(),
            arch: "amd64".into(),
            format: "deb".into(),
            filename: format!("{name}_{version}.deb"),
            size: 1,
            sha256: String::new(),
            uploaded: 0,
            url: String::new(),
            summary: None,
            depends: Some(
                depends
                    .iter()
                    .map(|a| a.iter().map(dep).collect())
                    .collect(),
            ),
            provides: Some(vec![]),
            fields: None,
            analysis: String::new(),
            path: String::new(),
            rank,
        }
    }

    #[test]
    fn closure_checks_versions_and_alternatives() {
        // Ranks: 1.0 < 2.0 < 3.0.
        let ranks: HashMap<(String, String), u32> = [("1.0", 0), ("2.0", 1), ("3.0", 2)]
            .into_iter()
            .map(|(v, r)| (("deb".to_string(), v.to_string()), r))
            .collect();
        let newest = vec![
            item(
                "top",
                "1.0",
                0,
                &[
                    &[("mid", ">=", "2.0")],
                    &[("nope", "", ""), ("alt", "", "")],
                ],
            ),
            item("mid", "2.0", 1, &[&[("base", ">", "2.0")]]),
            item("alt", "1.0", 0, &[]),
            item("base", "2.0", 1, &[]),
        ];
        let (closure, missing) = resolve(vec![newest[0].clone()], &newest, &ranks);
        let names: BTreeSet<&str> = closure.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["alt", "mid", "top"].into());
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].name, "mid");
        assert_eq!(missing[0].dependency, "base > 2.0");
    }

    #[test]
    fn parameters() {
        let p = |q: &[(&str, &str)]| {
            Query::parse(
                &q.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<Vec<_>>(),
            )
        };
        assert!(p(&[]).unwrap().is_none());
        let q = p(&[("name", "gcc-*"), ("latest", "1"), ("limit", "5")])
            .unwrap()
            .unwrap();
        assert!(q.latest && q.limit == 5 && q.names[0].matches("gcc-12"));
        assert!(!q.names[0].matches("gccgo"));
        for bad in [
            [("name", "[")],
            [("limit", "0")],
            [("latest", "x")],
            [("cursor", "!")],
            [("what", "1")],
        ] {
            assert_eq!(p(&bad).unwrap_err().status, 400, "{bad:?}");
        }
    }
}
