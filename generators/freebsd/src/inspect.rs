//! `inspect`: FreeBSD pkg's version order (`version[_revision][,epoch]`: epoch first, then
//! the version, then the port revision) and what a packagesite.yaml line says (`comment`,
//! `deps`, `provides`, every top-level field).
use crate::repo::YAML;
use reposmith_generator_sdk::exports::reposmith::generator::inspect::{Dependency, Details};
use reposmith_generator_sdk::reposmith::generator::types::{Fragment, Hint};
use reposmith_generator_sdk::versions;
use serde_json::Value;
use std::cmp::Ordering;

pub fn compare_versions(versions: &[String]) -> Vec<u32> {
    versions::ranks(versions, compare)
}

fn split(v: &str) -> (&str, &str, &str) {
    let (rest, epoch) = v.rsplit_once(',').unwrap_or((v, "0"));
    let (version, revision) = rest.rsplit_once('_').unwrap_or((rest, "0"));
    (epoch, version, revision)
}

fn compare(a: &str, b: &str) -> Ordering {
    let (ea, va, ra) = split(a);
    let (eb, vb, rb) = split(b);
    versions::natural(ea, eb)
        .then_with(|| versions::natural(va, vb))
        .then_with(|| versions::natural(ra, rb))
}

pub fn describe(fragments: &[Fragment]) -> Details {
    let Some(v) = fragments
        .iter()
        .find(|f| f.name == YAML)
        .and_then(|f| serde_json::from_slice::<Value>(&f.data).ok())
    else {
        return reposmith_generator_sdk::plain_details(fragments);
    };
    let fields = v
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| Hint {
                    key: k.clone(),
                    value: match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    let depends = v["deps"]
        .as_object()
        .map(|deps| {
            deps.iter()
                .map(|(name, d)| {
                    vec![Dependency {
                        name: name.clone(),
                        op: if d["version"].is_string() { ">=" } else { "" }.into(),
                        version: d["version"].as_str().unwrap_or_default().into(),
                    }]
                })
                .collect()
        })
        .unwrap_or_default();
    let provides = ["provides", "shlibs_provided"]
        .iter()
        .flat_map(|k| v[*k].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p.as_str().map(str::to_string))
        .map(|name| Dependency {
            name,
            op: String::new(),
            version: String::new(),
        })
        .collect();
    Details {
        summary: v["comment"].as_str().unwrap_or_default().to_string(),
        depends,
        provides,
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_details() {
        let d = describe(&[Fragment {
            name: YAML.into(),
            data: br#"{"name":"curl","version":"8.5.0","comment":"Command line tool","deps":{"libnghttp2":{"origin":"www/libnghttp2","version":"1.58.0"}},"shlibs_provided":["libcurl.so.4"]}"#.to_vec(),
        }]);
        assert_eq!(d.summary, "Command line tool");
        assert_eq!(d.depends[0][0].name, "libnghttp2");
        assert_eq!(d.provides[0].name, "libcurl.so.4");
        assert_eq!(
            compare_versions(&["1.2_1".into(), "1.2".into(), "0.9,1".into(), "1.10".into()]),
            vec![1, 0, 3, 2]
        );
    }
}
