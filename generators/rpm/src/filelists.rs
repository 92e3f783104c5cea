//! `filelists.xml`: every file, directory and ghost of each package (dnf reads it for file
//! dependencies outside the primary set).
use crate::package::Package;
use crate::primary::{files, version};
use crate::xml::attrs;

pub const FRAGMENT: &str = "filelists";

pub fn render(p: &Package, sha256: &str) -> String {
    let mut o = String::with_capacity(256 + 64 * p.files.len());
    o.push_str("<package");
    attrs(
        &mut o,
        &[("pkgid", sha256), ("name", &p.name), ("arch", &p.arch)],
    );
    o.push_str(">\n");
    version(&mut o, p);
    files(&mut o, "  ", p, false);
    o.push_str("</package>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_file_with_its_kind() {
        let p = crate::primary::tests::sample();
        assert_eq!(
            render(&p, "abc"),
            r#"<package pkgid="abc" name="foo" arch="x86_64">
  <version epoch="2" ver="1.0^git1" rel="1"/>
  <file>/etc/foo.conf</file>
  <file type="dir">/usr/share/foo</file>
  <file type="dir">/etc/foo.d</file>
  <file type="ghost">/var/log/foo.log</file>
</package>
"#
        );
    }
}
