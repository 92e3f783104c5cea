//! `set`, `enable`, `disable` and `config`: a repo's properties (`PUT /repos/{repo}/`,
//! docs/properties.md) and the client configuration files the server makes from them.
use crate::client::{enc, ok, print_json, Payload, Transport};
use serde_json::{Map, Value};

/// `set REPO --title ...`: the properties given, as the JSON `PUT` takes.
#[derive(Default)]
pub struct Changes {
    pub title: Option<String>,
    pub description: Option<String>,
    pub gpgcheck: Option<bool>,
    pub repo_gpgcheck: Option<bool>,
    pub gpgkey: Option<Vec<String>>,
    /// `Some(None)`: clear it.
    pub baseurl: Option<Option<String>>,
    pub mirrors: Option<Vec<String>>,
    pub suites: Option<String>,
    pub components: Option<String>,
    pub query: Option<String>,
}

impl Changes {
    fn json(self) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.to_string(), v);
            }
        };
        put("title", self.title.map(Value::from));
        put("description", self.description.map(Value::from));
        put("gpgcheck", self.gpgcheck.map(Value::from));
        put("repo_gpgcheck", self.repo_gpgcheck.map(Value::from));
        put("gpgkey", self.gpgkey.map(Value::from));
        put(
            "baseurl",
            self.baseurl.map(|u| u.map_or(Value::Null, Value::from)),
        );
        put("mirrors", self.mirrors.map(Value::from));
        let args: Map<String, Value> = [
            ("suites", self.suites),
            ("components", self.components),
            ("query", self.query),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), Value::from(v))))
        .collect();
        if !args.is_empty() {
            put("url_args", Some(Value::Object(args)));
        }
        Value::Object(m)
    }
}

/// `manage-repo set`: one line naming what changed and the generation served.
pub async fn set(t: &Transport, repo: &str, changes: Changes, json: bool) -> anyhow::Result<()> {
    let body = changes.json();
    if body.as_object().is_some_and(Map::is_empty) {
        anyhow::bail!("nothing to set: give at least one property (see manage-repo set --help)");
    }
    let path = format!("/repos/{}/", enc(repo));
    let v = ok(t.call("PUT", &path, Payload::Json(body)).await?)?;
    report(repo, &v, json);
    Ok(())
}

/// `manage-repo enable|disable`.
pub async fn switch(t: &Transport, repo: &str, on: bool, json: bool) -> anyhow::Result<()> {
    let action = if on { "enable" } else { "disable" };
    let path = format!("/repos/{}/{action}", enc(repo));
    let v = ok(t.call("POST", &path, Payload::None).await?)?;
    report(repo, &v, json);
    Ok(())
}

fn report(repo: &str, v: &Value, json: bool) {
    if json {
        return print_json(v);
    }
    let changed: Vec<&str> = v["changed"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let state = if v["repo"]["enabled"] == false {
        "disabled"
    } else {
        "enabled"
    };
    if changed.is_empty() {
        println!(
            "{repo}: unchanged ({state}, generation {})",
            v["generation"]
        );
    } else {
        println!(
            "{repo}: set {} ({state}, generation {})",
            changed.join(", "),
            v["generation"]
        );
    }
}

/// `manage-repo config REPO [NAME]`: the listing, or one file as the server serves it.
pub async fn config(
    t: &Transport,
    repo: &str,
    name: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let Some(name) = name else {
        let v = ok(t
            .call(
                "GET",
                &format!("/repos/{}/config/", enc(repo)),
                Payload::None,
            )
            .await?)?;
        if json {
            print_json(&v);
            return Ok(());
        }
        let header = ["CLIENT", "FILE", "URL"].map(String::from).to_vec();
        let rows: Vec<Vec<String>> = std::iter::once(header)
            .chain(v["configs"].as_array().into_iter().flatten().map(|c| {
                ["client", "file", "url"]
                    .iter()
                    .map(|k| c[*k].as_str().unwrap_or_default().to_string())
                    .collect()
            }))
            .collect();
        print!("{}", crate::query::table(&rows));
        println!(
            "key: {} (fingerprint {})",
            v["key"]["url"].as_str().unwrap_or_default(),
            v["key"]["fingerprint"].as_str().unwrap_or("-")
        );
        return Ok(());
    };
    let path = format!("/repos/{}/config/{}", enc(repo), enc(name));
    match ok(t.call("GET", &path, Payload::None).await?)? {
        Value::String(text) => print!("{text}"),
        other => println!("{other}"),
    }
    Ok(())
}
