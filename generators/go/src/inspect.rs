//! `inspect`: versions in go's semver order, and what a version's fragments say (its
//! `.info` and go.mod: the `go` version and the requirements, each a minimum version as
//! go's minimal version selection reads it).
use crate::gomod;
use crate::module;
use crate::proxy::{INFO, MOD};
use reposmith_generator_sdk::exports::reposmith::generator::inspect::{Dependency, Details};
use reposmith_generator_sdk::reposmith::generator::types::{Fragment, Hint};
use reposmith_generator_sdk::versions;

pub fn compare_versions(v: &[String]) -> Vec<u32> {
    versions::ranks(v, module::compare)
}

pub fn describe(fragments: &[Fragment]) -> Details {
    let get = |name: &str| fragments.iter().find(|f| f.name == name).map(|f| &f.data);
    let (Some(info), Some(go_mod)) = (get(INFO), get(MOD)) else {
        return reposmith_generator_sdk::plain_details(fragments);
    };
    let info: serde_json::Value = serde_json::from_slice(info).unwrap_or_default();
    let text = |k: &str| info.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    let (go, requires) = gomod::summary(go_mod);
    let module = gomod::module_path(go_mod).unwrap_or_default();
    let mut fields = Vec::new();
    let mut field = |key: &str, value: String| {
        if !value.is_empty() {
            fields.push(Hint {
                key: key.into(),
                value,
            })
        }
    };
    field("module", module.clone());
    field("version", text("Version").into());
    field("time", text("Time").into());
    field("go", go);
    for (path, version) in &requires {
        field("require", format!("{path} {version}"));
    }
    Details {
        summary: format!("Go module {module}"),
        depends: requires
            .into_iter()
            .map(|(name, version)| {
                vec![Dependency {
                    name,
                    op: ">=".into(),
                    version,
                }]
            })
            .collect(),
        provides: Vec::new(),
        fields,
    }
}
