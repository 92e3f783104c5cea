//! `inspect`: rpm's version order (epoch, then rpmvercmp of version and release), and what
//! a package's `primary.xml` element says (its layout is ours: primary.rs).
use crate::xml::unescape;
use reposmith_generator_sdk::exports::reposmith::generator::inspect::{Dependency, Details};
use reposmith_generator_sdk::reposmith::generator::types::{Fragment, Hint};
use reposmith_generator_sdk::versions;

pub fn compare_versions(versions: &[String]) -> Vec<u32> {
    versions::ranks(versions, versions::rpm)
}

pub fn describe(fragments: &[Fragment]) -> Details {
    let Some(primary) = fragments
        .iter()
        .find(|f| f.name == crate::primary::FRAGMENT)
    else {
        return reposmith_generator_sdk::plain_details(fragments);
    };
    let xml = String::from_utf8_lossy(&primary.data);
    let mut fields = Vec::new();
    for tag in [
        "name",
        "arch",
        "summary",
        "description",
        "packager",
        "url",
        "rpm:license",
        "rpm:vendor",
        "rpm:group",
        "rpm:buildhost",
        "rpm:sourcerpm",
    ] {
        if let Some(v) = element(&xml, tag) {
            fields.push(Hint {
                key: tag.trim_start_matches("rpm:").to_string(),
                value: v,
            });
        }
    }
    let mut sections = Vec::new();
    for section in [
        "provides",
        "requires",
        "conflicts",
        "obsoletes",
        "suggests",
        "enhances",
        "recommends",
        "supplements",
    ] {
        let deps = entries(&xml, section);
        if !deps.is_empty() {
            let text: Vec<String> = deps.iter().map(show).collect();
            fields.push(Hint {
                key: section.to_string(),
                value: text.join(", "),
            });
        }
        sections.push((section, deps));
    }
    let take = |name: &str| {
        sections
            .iter()
            .find(|(s, _)| *s == name)
            .map(|(_, d)| d.clone())
            .unwrap_or_default()
    };
    // rpmlib(...) requirements are met by rpm itself, never by a package.
    let depends = take("requires")
        .into_iter()
        .filter(|d| !d.name.starts_with("rpmlib("))
        .map(|d| vec![d])
        .collect();
    // dnf meets file requirements (`/bin/sh`) from the files primary.xml lists.
    let mut provides = take("provides");
    provides.extend(files(&xml).into_iter().map(|f| Dependency {
        name: f,
        op: String::new(),
        version: String::new(),
    }));
    Details {
        summary: element(&xml, "summary").unwrap_or_default(),
        depends,
        provides,
        fields,
    }
}

fn show(d: &Dependency) -> String {
    if d.op.is_empty() {
        d.name.clone()
    } else {
        format!("{} {} {}", d.name, d.op, d.version)
    }
}

/// The text of the first `<tag>...</tag>`.
fn element(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(unescape(&xml[start..end]))
}

/// `<rpm:entry .../>` of `<rpm:{section}>`.
fn entries(xml: &str, section: &str) -> Vec<Dependency> {
    let open = format!("<rpm:{section}>");
    let Some(start) = xml.find(&open) else {
        return Vec::new();
    };
    let body = &xml[start + open.len()..];
    let body = &body[..body
        .find(&format!("</rpm:{section}>"))
        .unwrap_or(body.len())];
    body.split("<rpm:entry")
        .skip(1)
        .filter_map(|e| {
            let e = &e[..e.find("/>")?];
            let name = attr(e, "name")?;
            let op = match attr(e, "flags").as_deref() {
                Some("EQ") => "=",
                Some("LT") => "<",
                Some("LE") => "<=",
                Some("GT") => ">",
                Some("GE") => ">=",
                _ => "",
            };
            let mut version = String::new();
            if !op.is_empty() {
                if let Some(epoch) = attr(e, "epoch").filter(|e| e != "0") {
                    version.push_str(&epoch);
                    version.push(':');
                }
                version.push_str(&attr(e, "ver").unwrap_or_default());
                if let Some(rel) = attr(e, "rel") {
                    version.push('-');
                    version.push_str(&rel);
                }
            }
            Some(Dependency {
                name,
                op: op.to_string(),
                version,
            })
        })
        .collect()
}

fn attr(element: &str, key: &str) -> Option<String> {
    let pat = format!(" {key}=\"");
    let start = element.find(&pat)? + pat.len();
    let end = element[start..].find('"')? + start;
    Some(unescape(&element[start..end]))
}

/// The `<file>` paths listed in primary.
fn files(xml: &str) -> Vec<String> {
    xml.lines()
        .filter_map(|l| {
            let l = l.trim();
            let start = l.find('>')? + 1;
            l.starts_with("<file")
                .then(|| l[start..].strip_suffix("</file>").map(unescape))?
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_details() {
        let p = crate::primary::tests::sample();
        let xml = crate::primary::render(&p, "abc", 10, "packages/foo.rpm");
        let d = describe(&[Fragment {
            name: crate::primary::FRAGMENT.into(),
            data: xml.into_bytes(),
        }]);
        assert_eq!(d.summary, p.summary);
        let required: Vec<&str> = d.depends.iter().map(|a| a[0].name.as_str()).collect();
        let expected: Vec<&str> = p
            .requires
            .iter()
            .filter(|r| !r.name.is_empty() && !r.name.starts_with("rpmlib("))
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(required, expected);
        assert!(d.provides.len() >= p.provides.len());
        assert!(d
            .fields
            .iter()
            .any(|h| h.key == "name" && h.value == p.name));
        assert_eq!(
            compare_versions(&["1.0-2".into(), "1.0-10".into(), "1:0.1-1".into()]),
            vec![0, 1, 2]
        );
    }

    #[test]
    fn entities() {
        assert_eq!(
            unescape("a &lt;b&gt; &amp; &quot;c&quot;&#10;d"),
            "a <b> & \"c\"\nd"
        );
    }
}
