//! The parts of a Spin manifest (`spin_manifest_version = 2`) this host follows: HTTP
//! triggers, component sources and dependencies, application and component variables.
use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub struct Manifest {
    pub dir: PathBuf,
    pub doc: toml::Table,
}

pub struct Component {
    pub id: String,
    pub source: PathBuf,
    /// (import name, path, export)
    pub dependencies: Vec<(String, PathBuf, Option<String>)>,
    pub variables: BTreeMap<String, String>,
    pub allowed_outbound_hosts: Vec<String>,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
        let doc: toml::Table = toml::from_str(&text).context("parsing the manifest")?;
        if doc
            .get("spin_manifest_version")
            .and_then(|v| v.as_integer())
            != Some(2)
        {
            bail!("only spin_manifest_version = 2 is supported");
        }
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(Manifest { dir, doc })
    }

    /// A manifest path: relative to the manifest's folder; `target/...` follows
    /// `$CARGO_TARGET_DIR` when it is set (cargo builds there instead of `target/`).
    pub fn resolve(&self, p: &str) -> PathBuf {
        if let (Some(rest), Ok(t)) = (p.strip_prefix("target/"), std::env::var("CARGO_TARGET_DIR"))
        {
            return PathBuf::from(t).join(rest);
        }
        self.dir.join(p)
    }

    /// (route, component id) of every `[[trigger.http]]`.
    pub fn routes(&self) -> Result<Vec<(String, String)>> {
        let triggers = self
            .doc
            .get("trigger")
            .and_then(|t| t.get("http"))
            .and_then(|h| h.as_array())
            .ok_or_else(|| anyhow!("no [[trigger.http]]"))?;
        triggers
            .iter()
            .map(|t| {
                let route = t.get("route").and_then(|r| r.as_str());
                let comp = t.get("component").and_then(|r| r.as_str());
                match (route, comp) {
                    (Some(r), Some(c)) => Ok((r.to_string(), c.to_string())),
                    _ => bail!("a trigger needs route and component"),
                }
            })
            .collect()
    }

    /// Application variables: `SPIN_VARIABLE_NAME` from the environment (as Spin's
    /// environment provider reads them), else the default; a required one must be set.
    pub fn app_variables(&self) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        if let Some(vars) = self.doc.get("variables").and_then(|v| v.as_table()) {
            for (name, decl) in vars {
                let env = format!("SPIN_VARIABLE_{}", name.to_uppercase());
                let value = match std::env::var(&env) {
                    Ok(v) => v,
                    Err(_) => match decl.get("default").and_then(|d| d.as_str()) {
                        Some(d) => d.to_string(),
                        None if decl.get("required").and_then(|r| r.as_bool()) == Some(true) => {
                            bail!("variable {name} is required: set {env}")
                        }
                        None => continue,
                    },
                };
                out.insert(name.clone(), value);
            }
        }
        Ok(out)
    }

    pub fn component(&self, id: &str) -> Result<Component> {
        let c = self
            .doc
            .get("component")
            .and_then(|c| c.get(id))
            .ok_or_else(|| anyhow!("no [component.{id}]"))?;
        let source = c
            .get("source")
            .and_then(|s| s.as_str())
            .ok_or_else(|| anyhow!("component {id}: source must be a file path"))?;
        let mut dependencies = Vec::new();
        if let Some(deps) = c.get("dependencies").and_then(|d| d.as_table()) {
            for (name, d) in deps {
                let path = d
                    .get("path")
                    .and_then(|p| p.as_str())
                    .ok_or_else(|| anyhow!("dependency {name}: only `path` sources here"))?;
                let export = d.get("export").and_then(|e| e.as_str()).map(String::from);
                dependencies.push((name.clone(), self.resolve(path), export));
            }
        }
        let app_vars = self.app_variables()?;
        let mut variables = BTreeMap::new();
        if let Some(vars) = c.get("variables").and_then(|v| v.as_table()) {
            for (name, tmpl) in vars {
                let tmpl = tmpl.as_str().unwrap_or_default();
                variables.insert(name.clone(), render(tmpl, &app_vars)?);
            }
        }
        let allowed_outbound_hosts = c
            .get("allowed_outbound_hosts")
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|h| h.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Component {
            id: id.to_string(),
            source: self.resolve(source),
            dependencies,
            variables,
            allowed_outbound_hosts,
        })
    }
}

/// `{{ name }}` templates, as Spin expands component variables.
fn render(tmpl: &str, vars: &BTreeMap<String, String>) -> Result<String> {
    let mut out = String::new();
    let mut rest = tmpl;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let j = rest[i..]
            .find("}}")
            .ok_or_else(|| anyhow!("unclosed template in {tmpl:?}"))?;
        let name = rest[i + 2..i + j].trim();
        out.push_str(
            vars.get(name)
                .ok_or_else(|| anyhow!("template names undefined variable {name}"))?,
        );
        rest = &rest[i + j + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Whether a Spin route (`/exact` or `/prefix/...`) takes `path`.
pub fn route_matches(route: &str, path: &str) -> bool {
    match route.strip_suffix("/...") {
        Some(prefix) => {
            path == prefix || path.starts_with(&format!("{prefix}/")) || prefix.is_empty()
        }
        None => route == path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_and_routes() {
        let vars: BTreeMap<String, String> = [("bucket".to_string(), "b1".to_string())].into();
        assert_eq!(render("{{ bucket }}", &vars).unwrap(), "b1");
        assert_eq!(render("s3://{{bucket}}/x", &vars).unwrap(), "s3://b1/x");
        assert!(render("{{ nope }}", &vars).is_err());
        assert!(render("{{ bucket", &vars).is_err());
        assert!(route_matches("/...", "/repos/a/"));
        assert!(route_matches("/repos/...", "/repos/a/dist/x"));
        assert!(route_matches("/repos/...", "/repos"));
        assert!(!route_matches("/repos/...", "/reposx"));
        assert!(route_matches("/exact", "/exact"));
        assert!(!route_matches("/exact", "/exact/more"));
    }
}
