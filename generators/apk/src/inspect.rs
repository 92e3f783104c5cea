//! `inspect`: what an APKINDEX stanza says (`T:` description, `D:` depends, `p:` provides;
//! apk-tools' dependency syntax `name[op version]`, `so:`/`cmd:`/`pc:` names, `!` conflicts).
//! Versions use the SDK's natural order, the trait's default (apk's suffix rules, `_alpha` <
//! `_rc` < none, are not modelled).
use crate::index::STANZA;
use reposmith_generator_sdk::exports::reposmith::generator::inspect::{Dependency, Details};
use reposmith_generator_sdk::reposmith::generator::types::{Fragment, Hint};

pub fn describe(fragments: &[Fragment]) -> Details {
    let Some(stanza) = fragments.iter().find(|f| f.name == STANZA) else {
        return reposmith_generator_sdk::plain_details(fragments);
    };
    let fields: Vec<Hint> = String::from_utf8_lossy(&stanza.data)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| Hint {
            key: k.to_string(),
            value: v.to_string(),
        })
        .collect();
    let get = |k: &str| {
        fields
            .iter()
            .find(|h| h.key == k)
            .map(|h| h.value.as_str())
            .unwrap_or_default()
    };
    let list = |k: &str| -> Vec<Dependency> {
        get(k)
            .split_whitespace()
            .filter(|d| !d.starts_with('!'))
            .map(dependency)
            .collect()
    };
    Details {
        summary: get("T").to_string(),
        depends: list("D").into_iter().map(|d| vec![d]).collect(),
        provides: list("p"),
        fields,
    }
}

fn dependency(text: &str) -> Dependency {
    match text.find(['<', '>', '=', '~']) {
        Some(i) => {
            let rest = &text[i..];
            let n = rest
                .find(|c: char| !"<>=~".contains(c))
                .unwrap_or(rest.len());
            Dependency {
                name: text[..i].to_string(),
                op: rest[..n].to_string(),
                version: rest[n..].to_string(),
            }
        }
        None => Dependency {
            name: text.to_string(),
            op: String::new(),
            version: String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanza_details() {
        let d = describe(&[Fragment {
            name: STANZA.into(),
            data: b"P:hello\nV:2.12-r1\nT:Say hi\nD:so:libc.musl-x86_64.so.1 busybox>=1.36 !old\np:cmd:hello=2.12-r1\n\n".to_vec(),
        }]);
        assert_eq!(d.summary, "Say hi");
        assert_eq!(d.depends.len(), 2);
        assert_eq!(d.depends[1][0].op, ">=");
        assert_eq!(d.provides[0].name, "cmd:hello");
        assert_eq!(d.fields.len(), 5);
    }
}
