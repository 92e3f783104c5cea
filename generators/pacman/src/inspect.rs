//! `inspect`: pacman's vercmp, and what a `desc` entry says (alpm's `%FIELD%` blocks;
//! dependencies as `name[op version]`, alpm_dep_from_string).
use crate::desc;
use reposmith_generator_sdk::exports::reposmith::generator::inspect::{Dependency, Details};
use reposmith_generator_sdk::reposmith::generator::types::{Fragment, Hint};
use reposmith_generator_sdk::versions;

pub fn compare_versions(versions: &[String]) -> Vec<u32> {
    versions::ranks(versions, versions::pacman)
}

pub fn describe(fragments: &[Fragment]) -> Details {
    let Some(text) = fragments.iter().find(|f| f.name == desc::TEXT_FRAGMENT) else {
        return reposmith_generator_sdk::plain_details(fragments);
    };
    let fields = fields(&String::from_utf8_lossy(&text.data));
    let all = |k: &str| -> Vec<&str> {
        fields
            .iter()
            .filter(|h| h.key == k)
            .flat_map(|h| h.value.lines())
            .collect()
    };
    Details {
        summary: all("DESC").first().copied().unwrap_or_default().to_string(),
        depends: all("DEPENDS")
            .into_iter()
            .map(|d| vec![dependency(d)])
            .collect(),
        provides: all("PROVIDES").into_iter().map(dependency).collect(),
        fields,
    }
}

/// `%NAME%` then its values one per line, blocks separated by an empty line.
fn fields(text: &str) -> Vec<Hint> {
    let mut out: Vec<Hint> = Vec::new();
    for block in text.split("\n\n") {
        let mut lines = block.lines();
        let Some(key) = lines
            .next()
            .and_then(|k| k.strip_prefix('%'))
            .and_then(|k| k.strip_suffix('%'))
        else {
            continue;
        };
        out.push(Hint {
            key: key.to_string(),
            value: lines.collect::<Vec<_>>().join("\n"),
        });
    }
    out
}

/// `glibc>=2.3`, `sh`, `libfoo.so=1-64`.
fn dependency(text: &str) -> Dependency {
    // An optdepend's `: reason` is not part of it (not used for depends, but harmless).
    let text = text.split(": ").next().unwrap_or_default().trim();
    match text.find(['<', '>', '=']) {
        Some(i) => {
            let rest = &text[i..];
            let n = rest
                .find(|c: char| !"<>=".contains(c))
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
    fn desc_details() {
        let text =
            "%FILENAME%\nfoo-1.0-1-x86_64.pkg.tar.zst\n\n%NAME%\nfoo\n\n%DESC%\nThe foo tool\n\n\
            %PROVIDES%\nlibfoo.so=1-64\nfoo-bin\n\n%DEPENDS%\nglibc>=2.3\nsh\n\n";
        let d = describe(&[Fragment {
            name: desc::TEXT_FRAGMENT.into(),
            data: text.as_bytes().to_vec(),
        }]);
        assert_eq!(d.summary, "The foo tool");
        assert_eq!(d.fields.len(), 5);
        assert_eq!(d.depends.len(), 2);
        assert_eq!(
            (
                d.depends[0][0].name.as_str(),
                d.depends[0][0].op.as_str(),
                d.depends[0][0].version.as_str()
            ),
            ("glibc", ">=", "2.3")
        );
        assert_eq!(d.depends[1][0].name, "sh");
        assert_eq!(d.provides[0].name, "libfoo.so");
        assert_eq!(d.provides[0].version, "1-64");
        assert_eq!(
            compare_versions(&["1.0-2".into(), "1:0.1-1".into(), "1.0-10".into()]),
            vec![0, 2, 1]
        );
    }
}
