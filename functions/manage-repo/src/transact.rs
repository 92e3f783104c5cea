//! `add --atomic`, `apply` and `promote`: several changes as one commit and one generation
//! (`POST /repos/{repo}/transactions`), all of them or none. Files go up first by the
//! large-upload flow, uncommitted; the transaction commits them.
use crate::client::{
    bytes_bar, file_name, ok, print_json, put_bytes, total_size, uploads_path, Payload, Transport,
};
use crate::history::changes;
use anyhow::bail;
use futures::StreamExt;
use indicatif::ProgressBar;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// One operation of a transaction, and what names it in an error (a file, a pattern).
struct Op {
    label: String,
    body: Value,
}

/// `add REPO FILES --atomic` and `apply REPO --add FILE --remove FILENAME`.
pub struct Changes {
    pub adds: Vec<PathBuf>,
    pub removes: Vec<String>,
    /// `&hint.K=V...` for the uploads.
    pub hints: String,
    pub jobs: usize,
}

pub async fn apply(t: &Transport, repo: &str, c: Changes, json: bool) -> anyhow::Result<()> {
    // Removals first: `--remove F --add F` replaces F.
    let mut ops: Vec<Op> = c
        .removes
        .iter()
        .map(|f| Op {
            label: f.clone(),
            body: json!({ "op": "remove", "filename": f }),
        })
        .collect();
    ops.extend(uploads(t, repo, &c).await?);
    let v = commit(t, repo, ops, false).await?;
    say(&v, json, format!("{repo}: generation {}", v["generation"]));
    Ok(())
}

/// `promote SRC[@REF] DST`: copies of SRC's packages that match the patterns, or with none
/// SRC's whole state (DST then holds exactly it).
pub async fn promote(
    t: &Transport,
    src: &str,
    dst: &str,
    patterns: Vec<String>,
    json: bool,
) -> anyhow::Result<()> {
    let replace = patterns.is_empty();
    let patterns = if replace { vec!["*".into()] } else { patterns };
    let ops = patterns
        .into_iter()
        .map(|p| Op {
            body: json!({ "op": "copy", "from": src, "pattern": p }),
            label: format!("{src} {p}"),
        })
        .collect();
    let v = commit(t, dst, ops, replace).await?;
    say(
        &v,
        json,
        format!("promoted {src} to {dst}: generation {}", v["generation"]),
    );
    Ok(())
}

/// Each file to add as a large upload, bytes sent but not committed: its `add` operation.
/// One that fails stops everything before the transaction (nothing is published).
async fn uploads(t: &Transport, repo: &str, c: &Changes) -> anyhow::Result<Vec<Op>> {
    let bar = bytes_bar(total_size(&c.adds)?);
    let results: Vec<anyhow::Result<Op>> = futures::stream::iter(&c.adds)
        .map(|f| {
            let bar = bar.clone();
            async move {
                let Some(name) = file_name(f) else {
                    bail!("{}: no usable file name", f.display());
                };
                let id = upload(t, repo, &name, &c.hints, f, &bar)
                    .await
                    .map_err(|e| anyhow::anyhow!("{name}: {e:#}"))?;
                Ok(Op {
                    label: name,
                    body: json!({ "op": "add", "upload": id }),
                })
            }
        })
        // In order: the operations follow the command line.
        .buffered(c.jobs.max(1))
        .collect()
        .await;
    bar.finish_and_clear();
    let (mut ops, mut failed) = (Vec::new(), 0);
    for r in results {
        match r {
            Ok(op) => ops.push(op),
            Err(e) => {
                eprintln!("{e}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        bail!(
            "{failed} of {} uploads failed: nothing was published",
            c.adds.len()
        );
    }
    Ok(ops)
}

/// One file's bytes up, uncommitted: the upload's id.
async fn upload(
    t: &Transport,
    repo: &str,
    name: &str,
    hints: &str,
    f: &Path,
    bar: &ProgressBar,
) -> anyhow::Result<String> {
    let path = uploads_path(repo, name, hints);
    let started = ok(t.call("POST", &path, Payload::None).await?)?;
    put_bytes(t, &started, f, bar).await?;
    crate::client::field(&started, "id")
}

/// The operations as one transaction: the answer, or on a refusal each failing operation
/// on stderr (`FILE: error`) and the server's error (its detail says nothing was committed).
async fn commit(t: &Transport, repo: &str, ops: Vec<Op>, replace: bool) -> anyhow::Result<Value> {
    let bodies: Vec<&Value> = ops.iter().map(|o| &o.body).collect();
    let body = json!({ "operations": bodies, "replace": replace });
    let bar = ProgressBar::new_spinner().with_message(format!("committing to {repo}"));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let path = format!("/repos/{}/transactions", crate::client::enc(repo));
    let r = t.call("POST", &path, Payload::Json(body)).await;
    bar.finish_and_clear();
    let (status, v) = r?;
    if status == 422 {
        for line in refused_items(&ops, &v) {
            eprintln!("{line}");
        }
    }
    ok((status, v))
}

/// `LABEL: error` for each item of a 422's `items` (by its operation's index).
fn refused_items(ops: &[Op], v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            let label = item["index"]
                .as_u64()
                .and_then(|i| ops.get(i as usize))
                .map_or_else(
                    || format!("operation {}", item["index"]),
                    |o| o.label.clone(),
                );
            format!("{label}: {}", item["error"].as_str().unwrap_or("refused"))
        })
        .collect()
}

/// The answer: with --json as it came, else `added F` / `removed F` lines and `last`
/// with the count of each.
fn say(v: &Value, json: bool, last: String) {
    if json {
        print_json(v);
        return;
    }
    for (k, word) in [("added", "added"), ("removed", "removed")] {
        for f in v[k].as_array().into_iter().flatten() {
            let f = f.as_str().or(f["filename"].as_str()).unwrap_or_default();
            println!("{word} {f}");
        }
    }
    println!("{last} ({})", changes(v));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_each_failing_operation() {
        let op = |label: &str| Op {
            label: label.into(),
            body: Value::Null,
        };
        let ops = [op("a_1_all.deb"), op("passwd"), op("b_1_all.deb")];
        let v = json!({"error": "transaction refused", "detail": "2 of 3 operations failed",
            "items": [{"index": 1, "op": "add", "error": "no generator claims it"},
                      {"index": 2, "op": "remove", "error": "no such file"},
                      {"index": 9, "op": "add", "error": "?"}]});
        assert_eq!(
            refused_items(&ops, &v),
            [
                "passwd: no generator claims it",
                "b_1_all.deb: no such file",
                "operation 9: ?"
            ]
        );
        assert!(refused_items(&ops, &json!({"error": "x"})).is_empty());
    }
}
