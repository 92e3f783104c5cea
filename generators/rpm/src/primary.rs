//! `primary.xml`: one `<package type="rpm">` element per rpm, laid out as createrepo_c writes
//! it: identity, checksum (the pkgid), texts, times, sizes, location, then `<format>` with the
//! rpm fields, the header range, provides/requires/conflicts/obsoletes, the weak dependencies,
//! and the package's primary files (those dnf may need for file dependencies).
use crate::package::{is_primary, Dep, FileKind, Package};
use crate::xml::{attrs, element};

pub const FRAGMENT: &str = "primary";

/// Where the package file is, relative to the baseurl `/repos/{repo}/`: the download route.
/// Characters that would end or escape a URL path are percent-encoded; everything an rpm
/// file name normally holds (`+`, `~`, `^`, ...) stays literal, as createrepo_c writes it.
pub fn location(filename: &str) -> String {
    let mut out = String::from("packages/");
    for b in filename.bytes() {
        match b {
            b'%' | b'#' | b'?' | b' ' | 0..=0x1f | 0x7f.. => out.push_str(&format!("%{b:02X}")),
            b => out.push(b as char),
        }
    }
    out
}

/// `<version epoch=".." ver=".." rel=".."/>`, shared with filelists and other.
pub fn version(out: &mut String, p: &Package) {
    out.push_str("  <version");
    attrs(
        out,
        &[
            ("epoch", &p.epoch),
            ("ver", &p.version),
            ("rel", &p.release),
        ],
    );
    out.push_str("/>\n");
}

fn deps(out: &mut String, section: &str, deps: &[Dep], requires: bool) {
    if deps.is_empty() {
        return;
    }
    out.push_str(&format!("    <rpm:{section}>\n"));
    for d in deps.iter().filter(|d| !d.name.is_empty()) {
        out.push_str("      <rpm:entry");
        let mut pairs: Vec<(&str, &str)> = vec![("name", &d.name)];
        if let Some(f) = d.flags {
            pairs.push(("flags", f));
            for (k, v) in [("epoch", &d.epoch), ("ver", &d.ver), ("rel", &d.rel)] {
                if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                    pairs.push((k, v));
                }
            }
        }
        if requires && d.pre {
            pairs.push(("pre", "1"));
        }
        attrs(out, &pairs);
        out.push_str("/>\n");
    }
    out.push_str(&format!("    </rpm:{section}>\n"));
}

/// `<file>` lines (all files for filelists, primary ones for primary).
pub fn files(out: &mut String, indent: &str, p: &Package, only_primary: bool) {
    for f in &p.files {
        if only_primary && !is_primary(&f.path) {
            continue;
        }
        out.push_str(indent);
        out.push_str("<file");
        match f.kind {
            FileKind::Dir => out.push_str(" type=\"dir\""),
            FileKind::Ghost => out.push_str(" type=\"ghost\""),
            FileKind::File => {}
        }
        out.push('>');
        crate::xml::text(out, &f.path);
        out.push_str("</file>\n");
    }
}

/// The `<package>` element. `sha256` is the pkgid, `size` the file size, `href` its location.
pub fn render(p: &Package, sha256: &str, size: u64, href: &str) -> String {
    let mut o = String::with_capacity(2048);
    o.push_str("<package type=\"rpm\">\n");
    element(&mut o, "  ", "name", &p.name);
    element(&mut o, "  ", "arch", &p.arch);
    version(&mut o, p);
    o.push_str("  <checksum type=\"sha256\" pkgid=\"YES\">");
    crate::xml::text(&mut o, sha256);
    o.push_str("</checksum>\n");
    element(&mut o, "  ", "summary", &p.summary);
    element(&mut o, "  ", "description", &p.description);
    element(&mut o, "  ", "packager", &p.packager);
    element(&mut o, "  ", "url", &p.url);
    // No clock at analysis: the file time is the build time (createrepo_c takes the file's
    // mtime, which no client uses for anything but display).
    o.push_str(&format!(
        "  <time file=\"{}\" build=\"{}\"/>\n",
        p.build_time, p.build_time
    ));
    o.push_str(&format!(
        "  <size package=\"{size}\" installed=\"{}\" archive=\"{}\"/>\n",
        p.size_installed, p.size_archive
    ));
    o.push_str("  <location");
    attrs(&mut o, &[("href", href)]);
    o.push_str("/>\n");
    o.push_str("  <format>\n");
    element(&mut o, "    ", "rpm:license", &p.license);
    element(&mut o, "    ", "rpm:vendor", &p.vendor);
    element(&mut o, "    ", "rpm:group", &p.group);
    element(&mut o, "    ", "rpm:buildhost", &p.buildhost);
    element(&mut o, "    ", "rpm:sourcerpm", &p.sourcerpm);
    o.push_str(&format!(
        "    <rpm:header-range start=\"{}\" end=\"{}\"/>\n",
        p.header_start, p.header_end
    ));
    deps(&mut o, "provides", &p.provides, false);
    deps(&mut o, "requires", &p.requires, true);
    deps(&mut o, "conflicts", &p.conflicts, false);
    deps(&mut o, "obsoletes", &p.obsoletes, false);
    deps(&mut o, "suggests", &p.suggests, false);
    deps(&mut o, "enhances", &p.enhances, false);
    deps(&mut o, "recommends", &p.recommends, false);
    deps(&mut o, "supplements", &p.supplements, false);
    files(&mut o, "    ", p, true);
    o.push_str("  </format>\n");
    o.push_str("</package>\n");
    o
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::package::{Dep, File};

    pub fn sample() -> Package {
        Package {
            name: "foo".into(),
            arch: "x86_64".into(),
            epoch: "2".into(),
            version: "1.0^git1".into(),
            release: "1".into(),
            summary: "Foo & <bar>".into(),
            description: "Line one\n\nLine \"two\"".into(),
            url: "https://x/?a=1&b=2".into(),
            license: "MIT".into(),
            group: "Unspecified".into(),
            buildhost: "builder".into(),
            sourcerpm: "foo-1.0^git1-1.src.rpm".into(),
            build_time: 1_700_000_000,
            size_installed: 123,
            size_archive: 456,
            header_start: 4504,
            header_end: 6205,
            provides: vec![Dep {
                name: "foo".into(),
                flags: Some("EQ"),
                epoch: Some("2".into()),
                ver: Some("1.0^git1".into()),
                rel: Some("1".into()),
                pre: false,
            }],
            requires: vec![
                Dep {
                    name: "bar".into(),
                    flags: Some("GE"),
                    epoch: Some("0".into()),
                    ver: Some("1.0".into()),
                    rel: None,
                    pre: true,
                },
                Dep {
                    name: "/bin/sh".into(),
                    ..Dep::default()
                },
            ],
            recommends: vec![Dep {
                name: "baz".into(),
                ..Dep::default()
            }],
            files: vec![
                File {
                    path: "/etc/foo.conf".into(),
                    kind: FileKind::File,
                },
                File {
                    path: "/usr/share/foo".into(),
                    kind: FileKind::Dir,
                },
                File {
                    path: "/etc/foo.d".into(),
                    kind: FileKind::Dir,
                },
                File {
                    path: "/var/log/foo.log".into(),
                    kind: FileKind::Ghost,
                },
            ],
            ..Package::default()
        }
    }

    #[test]
    fn renders_like_createrepo_c() {
        let x = render(
            &sample(),
            &"a".repeat(64),
            6331,
            &location("foo-1.0^git1-1.x86_64.rpm"),
        );
        let expected = format!(
            r#"<package type="rpm">
  <name>foo</name>
  <arch>x86_64</arch>
  <version epoch="2" ver="1.0^git1" rel="1"/>
  <checksum type="sha256" pkgid="YES">{}</checksum>
  <summary>Foo &amp; &lt;bar&gt;</summary>
  <description>Line one

Line "two"</description>
  <packager></packager>
  <url>https://x/?a=1&amp;b=2</url>
  <time file="1700000000" build="1700000000"/>
  <size package="6331" installed="123" archive="456"/>
  <location href="packages/foo-1.0^git1-1.x86_64.rpm"/>
  <format>
    <rpm:license>MIT</rpm:license>
    <rpm:vendor></rpm:vendor>
    <rpm:group>Unspecified</rpm:group>
    <rpm:buildhost>builder</rpm:buildhost>
    <rpm:sourcerpm>foo-1.0^git1-1.src.rpm</rpm:sourcerpm>
    <rpm:header-range start="4504" end="6205"/>
    <rpm:provides>
      <rpm:entry name="foo" flags="EQ" epoch="2" ver="1.0^git1" rel="1"/>
    </rpm:provides>
    <rpm:requires>
      <rpm:entry name="bar" flags="GE" epoch="0" ver="1.0" pre="1"/>
      <rpm:entry name="/bin/sh"/>
    </rpm:requires>
    <rpm:recommends>
      <rpm:entry name="baz"/>
    </rpm:recommends>
    <file>/etc/foo.conf</file>
    <file type="dir">/etc/foo.d</file>
  </format>
</package>
"#,
            "a".repeat(64)
        );
        assert_eq!(x, expected);
    }

    #[test]
    fn locations() {
        assert_eq!(location("a+b~c^d.rpm"), "packages/a+b~c^d.rpm");
        assert_eq!(location("a b#c?d%e.rpm"), "packages/a%20b%23c%3Fd%25e.rpm");
        assert_eq!(location("é.rpm"), "packages/%C3%A9.rpm");
    }
}
