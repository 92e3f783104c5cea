//! `other.xml`: the changelog of each package (`dnf changelog`, `zypper` patch notes).
use crate::package::Package;
use crate::primary::version;
use crate::xml::{attrs, text};

pub const FRAGMENT: &str = "other";

pub fn render(p: &Package, sha256: &str) -> String {
    let mut o = String::with_capacity(256);
    o.push_str("<package");
    attrs(
        &mut o,
        &[("pkgid", sha256), ("name", &p.name), ("arch", &p.arch)],
    );
    o.push_str(">\n");
    version(&mut o, p);
    for c in &p.changelogs {
        o.push_str("  <changelog");
        attrs(
            &mut o,
            &[("author", &c.author), ("date", &c.date.to_string())],
        );
        o.push('>');
        text(&mut o, &c.text);
        o.push_str("</changelog>\n");
    }
    o.push_str("</package>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::Changelog;

    #[test]
    fn changelog_entries_escaped() {
        let mut p = crate::primary::tests::sample();
        p.changelogs = vec![
            Changelog {
                author: "A <a@x> - 1.0-1".into(),
                date: 100,
                text: "- first\n  & more".into(),
            },
            Changelog {
                author: "B \"b\"".into(),
                date: 200,
                text: "- <second>".into(),
            },
        ];
        assert_eq!(
            render(&p, "abc"),
            r#"<package pkgid="abc" name="foo" arch="x86_64">
  <version epoch="2" ver="1.0^git1" rel="1"/>
  <changelog author="A &lt;a@x&gt; - 1.0-1" date="100">- first
  &amp; more</changelog>
  <changelog author="B &quot;b&quot;" date="200">- &lt;second&gt;</changelog>
</package>
"#
        );
        p.changelogs.clear();
        assert!(render(&p, "abc").ends_with("rel=\"1\"/>\n</package>\n"));
    }
}
