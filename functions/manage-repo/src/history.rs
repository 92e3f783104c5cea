//! `history`, `rollback` and `snapshot`: a repo's journal (`GET /repos/{repo}/history`, paged
//! by `next`), publishing an earlier generation again, and named frozen generations.
use crate::client::{enc, ok, print_json, Payload, Transport};
use crate::query::table;
use crate::when::{utc, Point};
use anyhow::bail;
use serde_json::{json, Value};
use std::future::Future;

/// The server's largest page.
const PAGE: u64 = 1000;

/// Beyond this many characters the PACKAGES cell names the rest by count.
const PACKAGES_WIDTH: usize = 72;

/// `history REPO`'s filters.
pub struct Filter {
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub package: Option<String>,
    pub limit: u64,
}

pub async fn history(t: &Transport, repo: &str, f: Filter, json: bool) -> anyhow::Result<()> {
    let mut base = format!("/repos/{}/history?", enc(repo));
    for (k, v) in [("since", f.since), ("until", f.until)] {
        if let Some(v) = v {
            base.push_str(&format!("{k}={v}&"));
        }
    }
    if let Some(p) = &f.package {
        base.push_str(&format!("package={}&", enc(p)));
    }
    let v = pages(f.limit, |before, limit| {
        let path = match before {
            Some(b) => format!("{base}limit={limit}&before={b}"),
            None => format!("{base}limit={limit}"),
        };
        async move { ok(t.call("GET", &path, Payload::None).await?) }
    })
    .await?;
    if json {
        print_json(&v);
        return Ok(());
    }
    let entries = v["entries"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if entries.is_empty() {
        eprintln!("no history entry in {repo} matches");
        return Ok(());
    }
    print!("{}", history_table(entries));
    if !v["next"].is_null() {
        eprintln!("(more: --limit N, or --until to go further back)");
    }
    Ok(())
}

/// Pages of history (`page(before, limit)`), newest first, following `next` until `limit`
/// entries or the end, as one answer: `repo`, the `entries`, and `next` where it stopped
/// (null: the end).
pub(crate) async fn pages<F, Fut>(limit: u64, mut page: F) -> anyhow::Result<Value>
where
    F: FnMut(Option<u64>, u64) -> Fut,
    Fut: Future<Output = anyhow::Result<Value>>,
{
    let (mut entries, mut before) = (Vec::new(), None);
    loop {
        let want = (limit - entries.len() as u64).min(PAGE);
        let v = page(before, want).await?;
        if v.get("entries").is_none() {
            bail!("the server keeps no history (it is older than this manage-repo)");
        }
        let got = v["entries"].as_array().cloned().unwrap_or_default();
        let (empty, cut) = (got.is_empty(), got.len() as u64 > want);
        entries.extend(got.into_iter().take(want as usize));
        // A server that sent more than asked: the next page starts after the last one kept.
        let next = match cut {
            true => entries.last().and_then(|e| e["seq"].as_u64()),
            false => v["next"].as_u64(),
        };
        match next {
            Some(n) if before.is_some_and(|b| n >= b) => {
                bail!("the server's history went backwards (next {n} after {before:?})")
            }
            Some(n) if !empty && (entries.len() as u64) < limit => before = Some(n),
            _ => return Ok(json!({ "repo": v["repo"], "entries": entries, "next": next })),
        }
    }
}

/// History entries as a table: GENERATION, TIME (UTC), WHO, CHANGES, PACKAGES.
pub(crate) fn history_table(entries: &[Value]) -> String {
    let mut rows = vec![["GENERATION", "TIME", "WHO", "CHANGES", "PACKAGES"]
        .map(String::from)
        .to_vec()];
    for e in entries {
        let list = |k: &str| e[k].as_array().cloned().unwrap_or_default();
        let (added, removed) = (list("added"), list("removed"));
        let who: Vec<&str> = e["who"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        rows.push(vec![
            e["generation"]
                .as_u64()
                .map_or("-".into(), |g| g.to_string()),
            e["at"].as_i64().map_or("-".into(), utc),
            if who.is_empty() {
                "-".into()
            } else {
                who.join(",")
            },
            format!("+{} -{}", added.len(), removed.len()),
            packages_cell(e, &added, &removed),
        ]);
    }
    table(&rows)
}

/// `+hello 2.0, -hello 1.0`; a rollback says where to; an entry that changed no package
/// (keys, rebuild) says its kind; past [`PACKAGES_WIDTH`], `… N more`.
fn packages_cell(e: &Value, added: &[Value], removed: &[Value]) -> String {
    let item = |sign: char, p: &Value| {
        let s = |k: &str| p[k].as_str().unwrap_or_default();
        match (s("name"), s("version")) {
            ("", _) => format!("{sign}{}", s("filename")),
            (name, "") => format!("{sign}{name}"),
            (name, version) => format!("{sign}{name} {version}"),
        }
    };
    let items: Vec<String> = added
        .iter()
        .map(|p| item('+', p))
        .chain(removed.iter().map(|p| item('-', p)))
        .collect();
    let lead = match e["rollback_to"].as_u64() {
        Some(g) => format!("rollback to {g}: "),
        None if items.is_empty() => {
            return format!("({})", e["kind"].as_str().unwrap_or("no change"));
        }
        None => String::new(),
    };
    let mut cell = lead;
    for (i, it) in items.iter().enumerate() {
        let rest = items.len() - i;
        let sep = if i == 0 { "" } else { ", " };
        // The last item fits exactly; an earlier one only with room for the `… N more`.
        let room = if rest == 1 { 0 } else { 12 };
        if i > 0 && cell.chars().count() + sep.len() + it.chars().count() + room > PACKAGES_WIDTH {
            cell.push_str(&format!(", … {rest} more"));
            break;
        }
        cell.push_str(sep);
        cell.push_str(it);
    }
    cell
}

pub async fn rollback(t: &Transport, repo: &str, to: Point, json: bool) -> anyhow::Result<()> {
    let body = match to {
        Point::Generation(g) => json!({ "generation": g }),
        Point::At(at) => json!({ "at": at }),
    };
    let path = format!("/repos/{}/rollback", enc(repo));
    let v = ok(t.call("POST", &path, Payload::Json(body)).await?)?;
    if json {
        print_json(&v);
        return Ok(());
    }
    println!(
        "rolled back {repo} to generation {}: generation {} ({})",
        v["rolled_back_to"],
        v["generation"],
        changes(&v)
    );
    Ok(())
}

/// `+a -r` of an answer's `added` and `removed` lists.
pub(crate) fn changes(v: &Value) -> String {
    let n = |k: &str| v[k].as_array().map_or(0, Vec::len);
    format!("+{} -{}", n("added"), n("removed"))
}

/// What `snapshot` does.
pub enum SnapshotCmd {
    Create(String),
    List,
    Delete(String),
}

pub async fn snapshot(
    t: &Transport,
    repo: &str,
    cmd: SnapshotCmd,
    json: bool,
) -> anyhow::Result<()> {
    let path = |name: &str| format!("/repos/{}/snapshots/{}", enc(repo), enc(name));
    let (v, words) = match &cmd {
        SnapshotCmd::Create(name) => {
            let v = ok(t.call("POST", &path(name), Payload::None).await?)?;
            let words = format!(
                "snapshot {repo}@{name}: generation {}, {} packages",
                v["generation"], v["packages"]
            );
            (v, words)
        }
        SnapshotCmd::Delete(name) => {
            let v = ok(t.call("DELETE", &path(name), Payload::None).await?)?;
            (v, format!("deleted snapshot {repo}@{name}"))
        }
        SnapshotCmd::List => {
            let v = ok(t.call("GET", &path(""), Payload::None).await?)?;
            let list = v["snapshots"].as_array().map(Vec::as_slice);
            let words = snapshots_table(list.unwrap_or_default());
            (v, words.trim_end().to_string())
        }
    };
    if json {
        print_json(&v);
    } else {
        println!("{words}");
    }
    Ok(())
}

/// Snapshots as a table: NAME, GENERATION, PACKAGES, CREATED (UTC).
pub(crate) fn snapshots_table(snapshots: &[Value]) -> String {
    let mut rows = vec![["NAME", "GENERATION", "PACKAGES", "CREATED"]
        .map(String::from)
        .to_vec()];
    for s in snapshots {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Null => "-".into(),
            v => v.to_string(),
        };
        rows.push(vec![
            text(&s["name"]),
            text(&s["generation"]),
            text(&s["packages"]),
            s["created"]
                .as_i64()
                .map_or_else(|| text(&s["created"]), utc),
        ]);
    }
    table(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn block<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn entry(seq: u64) -> Value {
        json!({"seq": seq})
    }

    /// Pages are asked for with the previous page's `next` as `before` until the limit, and
    /// never for more than the limit leaves.
    #[test]
    fn follows_next_until_the_limit() {
        let asked = Mutex::new(Vec::new());
        let v = block(pages(5, |before, limit| {
            asked.lock().unwrap().push((before, limit));
            let top = before.unwrap_or(11);
            let seqs: Vec<Value> = (0..limit.min(3)).map(|i| entry(top - 1 - i)).collect();
            let next = top - 1 - seqs.len() as u64 + 1;
            async move { Ok(json!({"repo": "r", "entries": seqs, "next": next})) }
        }))
        .unwrap();
        assert_eq!(*asked.lock().unwrap(), [(None, 5), (Some(8), 2)]);
        let seqs: Vec<u64> = v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, [10, 9, 8, 7, 6]);
        assert_eq!(v["next"], 6, "where a further page would start");
        assert_eq!(v["repo"], "r");
    }

    #[test]
    fn stops_at_the_end_and_refuses_a_loop_or_an_old_server() {
        let v = block(pages(50, |before, _| async move {
            Ok(match before {
                None => json!({"repo": "r", "entries": [entry(3), entry(2)], "next": 2}),
                Some(_) => json!({"repo": "r", "entries": [entry(1)], "next": null}),
            })
        }))
        .unwrap();
        assert_eq!(v["entries"].as_array().unwrap().len(), 3);
        assert!(v["next"].is_null());
        let looped = block(pages(50, |_, _| async {
            Ok(json!({"entries": [entry(3)], "next": 3}))
        }));
        assert!(format!("{:#}", looped.unwrap_err()).contains("went backwards"));
        let old = block(pages(50, |_, _| async { Ok(json!({"error": "x"})) }));
        assert!(format!("{:#}", old.unwrap_err()).contains("keeps no history"));
    }

    #[test]
    fn history_as_a_table() {
        let pkg = |f: &str, n: &str, v: &str| json!({"filename": f, "name": n, "version": v});
        let entries = [
            json!({"seq": 12, "generation": 9, "at": 1_796_292_000, "kind": "add",
                "who": ["admin", "ci"],
                "added": [pkg("hello_2.0_all.deb", "hello", "2.0")],
                "removed": [pkg("hello_1.0_all.deb", "hello", "1.0")]}),
            json!({"seq": 13, "generation": null, "at": 1_796_292_060, "kind": "keys",
                "who": [], "added": [], "removed": []}),
            json!({"seq": 14, "generation": 10, "at": 1_796_292_120, "kind": "rollback",
                "who": ["admin"], "added": [], "removed": [pkg("hello_2.0_all.deb", "hello", "2.0")],
                "rollback_to": 8}),
        ];
        assert_eq!(
            history_table(&entries),
            "GENERATION  TIME              WHO       CHANGES  PACKAGES\n\
             9           2026-12-03 10:00  admin,ci  +1 -1    +hello 2.0, -hello 1.0\n\
             -           2026-12-03 10:01  -         +0 -0    (keys)\n\
             10          2026-12-03 10:02  admin     +0 -1    rollback to 8: -hello 2.0\n"
        );
    }

    #[test]
    fn a_long_packages_cell_names_the_rest_by_count() {
        let added: Vec<Value> = (0..40)
            .map(|i| json!({"name": format!("package-{i}"), "version": "1.0"}))
            .collect();
        let cell = packages_cell(&json!({}), &added, &[]);
        assert!(cell.chars().count() <= PACKAGES_WIDTH, "{cell}");
        assert!(cell.starts_with("+package-0 1.0, +package-1 1.0"), "{cell}");
        assert!(cell.ends_with(" more"), "{cell}");
        let shown = cell.matches('+').count();
        assert!(cell.ends_with(&format!("… {} more", 40 - shown)), "{cell}");
        // No name (an unclaimed file): the file name.
        let cell = packages_cell(&json!({}), &[], &[json!({"filename": "x.bin"})]);
        assert_eq!(cell, "-x.bin");
    }

    #[test]
    fn snapshots_as_a_table() {
        let list = [
            json!({"repo": "r", "name": "rc1", "generation": 7, "packages": 120,
                "created": 1_796_292_000}),
            json!({"repo": "r", "name": "release-2026.12", "generation": 12, "packages": 9}),
        ];
        assert_eq!(
            snapshots_table(&list),
            "NAME             GENERATION  PACKAGES  CREATED\n\
             rc1              7           120       2026-12-03 10:00\n\
             release-2026.12  12          9         -\n"
        );
    }
}
