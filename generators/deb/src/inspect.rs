//! `inspect`: dpkg's version order, and what a Packages stanza says (Debian Policy 5.1 for
//! the stanza, 7.1 for relationship fields).
use reposmith_generator_sdk::exports::reposmith::generator::inspect::{Dependency, Details};
use reposmith_generator_sdk::reposmith::generator::types::{Fragment, Hint};
use reposmith_generator_sdk::{deb822, versions};

pub fn compare_versions(versions: &[String]) -> Vec<u32> {
    versions::ranks(versions, versions::dpkg)
}

pub fn describe(fragments: &[Fragment]) -> Details {
    let Some(stanza) = fragments
        .iter()
        .find(|f| f.name == super::packages::FRAGMENT)
    else {
        return reposmith_generator_sdk::plain_details(fragments);
    };
    let fields = fields(&String::from_utf8_lossy(&stanza.data));
    let get = |k: &str| {
        fields
            .iter()
            .find(|h| h.key.eq_ignore_ascii_case(k))
            .map(|h| h.value.as_str())
    };
    let summary = get("Description")
        .and_then(|d| d.lines().next())
        .unwrap_or_default()
        .trim()
        .to_string();
    let mut depends = Vec::new();
    for key in ["Pre-Depends", "Depends"] {
        depends.extend(get(key).map(relations).unwrap_or_default());
    }
    let provides = get("Provides")
        .map(relations)
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect();
    Details {
        summary,
        depends,
        provides,
        fields,
    }
}

/// A deb822 stanza's fields; a continuation line joins its field with a newline.
fn fields(stanza: &str) -> Vec<Hint> {
    let paragraphs = deb822::parse(stanza).unwrap_or_default();
    let fields = paragraphs.first().map_or(&[][..], |p| &p.fields);
    fields
        .iter()
        .map(|f| Hint {
            key: f.name.clone(),
            value: f.text(),
        })
        .collect()
}

/// `a (>= 1), b | c:any [amd64] <!nocheck>`: requirements, each a list of alternatives.
fn relations(field: &str) -> Vec<Vec<Dependency>> {
    field
        .split(',')
        .map(|req| req.split('|').filter_map(relation).collect::<Vec<_>>())
        .filter(|alts| !alts.is_empty())
        .collect()
}

fn relation(text: &str) -> Option<Dependency> {
    let text = text.trim();
    // Architecture and build-profile restrictions do not change what is needed here.
    let text = text.split(['[', '<']).next().unwrap_or_default().trim();
    let (name, rest) = match text.split_once('(') {
        Some((n, r)) => (n.trim(), Some(r.trim_end_matches(')').trim())),
        None => (text, None),
    };
    // `name:any` / `name:amd64`: the name is what another package provides.
    let name = name.split(':').next().unwrap_or_default().trim();
    if name.is_empty() {
        return None;
    }
    let (op, version) = match rest {
        Some(r) => {
            let n = r.find(|c: char| !"<>=".contains(c)).unwrap_or(r.len());
            let op = match &r[..n] {
                ">>" => ">",
                "<<" => "<",
                // Obsolete `<` and `>` mean `<=` and `>=` (Policy 7.1).
                "<" | "<=" => "<=",
                ">" | ">=" => ">=",
                _ => "=",
            };
            (op.to_string(), r[n..].trim().to_string())
        }
        None => (String::new(), String::new()),
    };
    Some(Dependency {
        name: name.to_string(),
        op,
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanza_details() {
        let stanza = "Package: gcc-12\nVersion: 12.2.0-14\nArchitecture: amd64\n\
            Pre-Depends: dpkg (>= 1.17)\n\
            Depends: cpp-12 (= 12.2.0-14), libc6 (>> 2.34) | libc6.1 [alpha], python3:any\n\
            Provides: c-compiler, gcc-x (= 1)\n\
            Description: GNU C compiler\n This is the GNU C compiler.\n .\n More.\n";
        let d = describe(&[Fragment {
            name: "Packages".into(),
            data: stanza.as_bytes().to_vec(),
        }]);
        assert_eq!(d.summary, "GNU C compiler");
        let dep = |n: &str, o: &str, v: &str| Dependency {
            name: n.into(),
            op: o.into(),
            version: v.into(),
        };
        assert_eq!(
            d.depends,
            vec![
                vec![dep("dpkg", ">=", "1.17")],
                vec![dep("cpp-12", "=", "12.2.0-14")],
                vec![dep("libc6", ">", "2.34"), dep("libc6.1", "", "")],
                vec![dep("python3", "", "")],
            ]
        );
        assert_eq!(
            d.provides,
            vec![dep("c-compiler", "", ""), dep("gcc-x", "=", "1")]
        );
        assert_eq!(d.fields.len(), 7);
        assert_eq!(
            d.fields[6].value,
            "GNU C compiler\nThis is the GNU C compiler.\n.\nMore."
        );
        assert_eq!(
            compare_versions(&["1.0-1".into(), "1.0~rc1-1".into(), "1:0.1".into()]),
            vec![1, 0, 2]
        );
    }
}
