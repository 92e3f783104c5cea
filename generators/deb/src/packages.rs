//! The `Packages` index: one stanza per package, rendered at upload, and the plan of which
//! `dists/SUITE/COMPONENT/binary-ARCH/Packages` files to assemble from them at publish.
//!
//! Shelves are `SUITE/COMPONENT/ARCH`; `Architecture: all` packages go on an `all` shelf that
//! is folded into every architecture's Packages file of their suite and component.

use std::collections::{BTreeMap, BTreeSet};

use crate::control::{clip, Control};
use crate::deb;
use crate::reposmith::generator::types::{
    BulkFile, Encoding, Entry, Facts, Fragment, Hint, Part, RepoInfo, Selection, ShelfSummary,
};

pub const FRAGMENT: &str = "Packages";
/// Fields the repository computes; a control file that carries them is overridden.
const ADDED: [&str; 6] = ["Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512"];

/// Where an upload goes: the suite (apt's distribution) and component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub suite: String,
    pub component: String,
}

impl Target {
    /// User hints first, then the repository defaults the host passes under `repo.*`, then
    /// Debian's usual `stable`/`main`. An empty value counts as not given.
    pub fn from_hints(hints: &[Hint]) -> Result<Target, String> {
        let pick = |keys: [&str; 2], fallback: &str| {
            keys.iter()
                .find_map(|k| hint(hints, k))
                .unwrap_or(fallback)
                .to_string()
        };
        let suite = pick(["distribution", "repo.default-suite"], "stable");
        let component = pick(["component", "repo.default-component"], "main");
        check_dist_name("distribution (suite)", &suite)?;
        check_dist_name("component", &component)?;
        Ok(Target { suite, component })
    }
}

fn hint<'a>(hints: &'a [Hint], key: &str) -> Option<&'a str> {
    hints
        .iter()
        .find(|h| h.key == key && !h.value.is_empty())
        .map(|h| h.value.as_str())
}

/// Suite, component and architecture names become path segments under dists/ (so `.`,
/// which the host refuses in a published path, is refused here, at upload).
pub fn check_dist_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty()
        || name == "."
        || name.contains('/')
        || name.contains("..")
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "invalid {what} {:?}: it must be non-empty, not '.', without '/', '..' or whitespace",
            clip(name)
        ));
    }
    Ok(())
}

/// Debian package names (Package, Source): alphanumerics and `+-.`, starting alphanumeric.
/// They become pool path segments, so nothing else gets through.
fn check_package_name(field: &str, name: &str) -> Result<(), String> {
    let ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid {field} name {:?} in control file",
            clip(name)
        ))
    }
}

fn check_architecture(arch: &str) -> Result<(), String> {
    let ok = arch.starts_with(|c: char| c.is_ascii_alphanumeric())
        && arch
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        return Err(format!(
            "invalid Architecture {:?} in control file: a built package names one architecture",
            clip(arch)
        ));
    }
    if arch == "any" {
        return Err("invalid Architecture \"any\" in control file: that is for source packages; a built package names one architecture".into());
    }
    Ok(())
}

/// The file name goes into the pool path and the stanza: no directories, no line breaks.
fn check_filename(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains(['/', '\\'])
        || name.chars().any(char::is_control)
    {
        return Err(format!("invalid package file name {:?}", clip(name)));
    }
    Ok(())
}

/// The pool directory letter(s): `h` for hello, `libf` for libfoo (Debian's convention).
pub fn pool_prefix(source: &str) -> &str {
    let n = if source.starts_with("lib") && source.len() > 3 {
        4
    } else {
        1
    };
    source.get(..n).unwrap_or(source)
}

/// `pool/COMPONENT/PREFIX/SOURCE/FILENAME`. No suite in it: a package published in two
/// suites is one file.
pub fn pool_path(component: &str, source: &str, filename: &str) -> String {
    format!(
        "pool/{component}/{}/{source}/{filename}",
        pool_prefix(source)
    )
}

/// The source package's name: `Source: foo (1.2-1)` gives `foo`; no Source means the
/// binary package's own name.
fn source_name<'a>(control: &'a Control, package: &'a str) -> &'a str {
    control
        .get("Source")
        .map(|f| f.value().split_whitespace().next().unwrap_or(""))
        .filter(|s| !s.is_empty())
        .unwrap_or(package)
}

/// The Packages stanza: the control fields in order, with the repository's fields inserted
/// before Description (apt-ftparchive's place for them), ending with one newline.
pub fn render_stanza(control: &Control, pool_path: &str, facts: &Facts) -> String {
    let mut added = String::new();
    let size = facts.size.to_string();
    let values = [
        pool_path,
        &size,
        &facts.md5,
        &facts.sha1,
        &facts.sha256,
        &facts.sha512,
    ];
    for (name, value) in ADDED.iter().zip(values) {
        // The host always sends digests; an empty one is left out rather than written blank.
        if !value.is_empty() {
            added.push_str(&format!("{name}: {value}\n"));
        }
    }

    let mut out = String::new();
    let mut placed = false;
    for field in &control.fields {
        if ADDED.iter().any(|a| a.eq_ignore_ascii_case(&field.name)) {
            continue;
        }
        if !placed && field.name.eq_ignore_ascii_case("Description") {
            out.push_str(&added);
            placed = true;
        }
        field.render(&mut out);
    }
    if !placed {
        out.push_str(&added);
    }
    out
}

/// Turns a package into its one entry. `read` is the package's ranged reader.
pub fn analyze<R>(read: R, facts: &Facts, hints: &[Hint]) -> Result<Vec<Entry>, String>
where
    R: FnMut(u64, u32) -> Result<Vec<u8>, String>,
{
    let target = Target::from_hints(hints)?;
    check_filename(&facts.filename)?;
    let control = Control::parse(&deb::read_control(read)?.data)?;

    let package = control.required("Package")?;
    check_package_name("Package", package)?;
    let version = control.required("Version")?;
    if version.contains(char::is_whitespace) {
        return Err(format!(
            "invalid Version {:?} in control file",
            clip(version)
        ));
    }
    let arch = control.required("Architecture")?;
    check_architecture(arch)?;
    let source = source_name(&control, package);
    check_package_name("Source", source)?;

    let path = pool_path(&target.component, source, &facts.filename);
    let stanza = render_stanza(&control, &path, facts);
    Ok(vec![Entry {
        name: package.to_string(),
        version: version.to_string(),
        arch: arch.to_string(),
        shelf: format!("{}/{}/{arch}", target.suite, target.component),
        path,
        fragments: vec![Fragment {
            name: FRAGMENT.to_string(),
            data: stanza.into_bytes(),
        }],
    }])
}

/// What one suite publishes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SuiteLayout {
    pub components: BTreeSet<String>,
    /// Real architectures (never `all`), sorted.
    pub architectures: BTreeSet<String>,
}

/// Suites, their components and architectures, from the shelves. Shared by `plan` and
/// `finish` so the Release lists exactly what was planned.
pub fn layout(
    repo: &RepoInfo,
    shelves: &[ShelfSummary],
) -> Result<BTreeMap<String, SuiteLayout>, String> {
    let mut repo_arches = BTreeSet::new();
    for arch in &repo.architectures {
        check_dist_name("repository architecture", arch)?;
        if arch != "all" {
            repo_arches.insert(arch.clone());
        }
    }

    let mut suites: BTreeMap<String, SuiteLayout> = BTreeMap::new();
    for s in shelves {
        let parts: Vec<&str> = s.shelf.split('/').collect();
        let [suite, component, arch] = parts[..] else {
            return Err(format!(
                "malformed shelf {:?}: expected SUITE/COMPONENT/ARCH",
                clip(&s.shelf)
            ));
        };
        check_dist_name("suite in shelf", suite)?;
        check_dist_name("component in shelf", component)?;
        check_dist_name("architecture in shelf", arch)?;
        let l = suites.entry(suite.to_string()).or_default();
        l.components.insert(component.to_string());
        if arch != "all" {
            l.architectures.insert(arch.to_string());
        }
    }

    // The default suite and component are always published (an empty repo included), so a
    // sources.list naming them keeps working whatever was uploaded where.
    let or = |v: &str, d: &str| {
        if v.is_empty() {
            d.to_string()
        } else {
            v.to_string()
        }
    };
    let suite = or(&repo.default_suite, "stable");
    let component = or(&repo.default_component, "main");
    check_dist_name("default suite", &suite)?;
    check_dist_name("default component", &component)?;
    suites
        .entry(suite)
        .or_default()
        .components
        .insert(component);

    for l in suites.values_mut() {
        l.architectures.extend(repo_arches.iter().cloned());
        if l.architectures.is_empty() {
            l.architectures.insert("amd64".to_string());
        }
    }
    Ok(suites)
}

/// One Packages file per suite, component and architecture, each with its `all` shelf.
pub fn plan(repo: &RepoInfo, shelves: &[ShelfSummary]) -> Result<Vec<BulkFile>, String> {
    let mut files = Vec::new();
    for (suite, l) in layout(repo, shelves)? {
        for component in &l.components {
            for arch in &l.architectures {
                let path = format!("dists/{suite}/{component}/binary-{arch}/Packages");
                files.push(BulkFile {
                    history: crate::pdiff::history(repo, &path),
                    path,
                    parts: vec![Part::Entries(Selection {
                        shelves: vec![
                            format!("{suite}/{component}/{arch}"),
                            format!("{suite}/{component}/all"),
                        ],
                        fragment: FRAGMENT.to_string(),
                        separator: b"\n".to_vec(),
                    })],
                    encodings: vec![Encoding::Identity, Encoding::Gzip, Encoding::Xz],
                    media_type: None,
                });
            }
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdeb::{self, Compression};

    fn hints(pairs: &[(&str, &str)]) -> Vec<Hint> {
        pairs
            .iter()
            .map(|(k, v)| Hint {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect()
    }

    fn facts(filename: &str) -> Facts {
        Facts {
            filename: filename.to_string(),
            size: 1234,
            md5: "m".repeat(32),
            sha1: "1".repeat(40),
            sha256: "2".repeat(64),
            sha512: "5".repeat(128),
        }
    }

    fn reader(bytes: &[u8]) -> impl FnMut(u64, u32) -> Result<Vec<u8>, String> {
        reposmith_generator_sdk::testing::reader(bytes.to_vec())
    }

    const HELLO: &str = "Package: hello\nVersion: 2.10-3\nArchitecture: amd64\nMaintainer: Santiago <s@d.org>\nInstalled-Size: 280\nDepends: libc6 (>= 2.34)\nSection: devel\nPriority: optional\nDescription: example package based on GNU hello\n The GNU hello program produces a familiar, friendly greeting.\n .\n It allows non-programmers to use a classic computer science tool.\n";

    fn stanza(e: &Entry) -> &str {
        assert_eq!(e.fragments.len(), 1);
        assert_eq!(e.fragments[0].name, "Packages");
        std::str::from_utf8(&e.fragments[0].data).unwrap()
    }

    #[test]
    fn analyze_good_package() {
        let deb = testdeb::deb(HELLO, Compression::Gzip);
        let f = facts("hello_2.10-3_amd64.deb");
        let entries = analyze(reader(&deb), &f, &[]).unwrap();
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(
            (e.name.as_str(), e.version.as_str(), e.arch.as_str()),
            ("hello", "2.10-3", "amd64")
        );
        assert_eq!(e.shelf, "stable/main/amd64");
        assert_eq!(e.path, "pool/main/h/hello/hello_2.10-3_amd64.deb");
        let expected = format!(
            "Package: hello\nVersion: 2.10-3\nArchitecture: amd64\nMaintainer: Santiago <s@d.org>\nInstalled-Size: 280\nDepends: libc6 (>= 2.34)\nSection: devel\nPriority: optional\n\
             Filename: pool/main/h/hello/hello_2.10-3_amd64.deb\nSize: 1234\nMD5sum: {}\nSHA1: {}\nSHA256: {}\nSHA512: {}\n\
             Description: example package based on GNU hello\n The GNU hello program produces a familiar, friendly greeting.\n .\n It allows non-programmers to use a classic computer science tool.\n",
            f.md5, f.sha1, f.sha256, f.sha512
        );
        assert_eq!(stanza(e), expected);
    }

    #[test]
    fn hints_and_defaults_pick_suite_and_component() {
        let deb = testdeb::deb(HELLO, Compression::Xz);
        let f = facts("hello.deb");
        let run = |h: &[(&str, &str)]| analyze(reader(&deb), &f, &hints(h));
        let e = &run(&[
            ("repo.default-suite", "bookworm"),
            ("repo.default-component", "contrib"),
        ])
        .unwrap()[0];
        assert_eq!(e.shelf, "bookworm/contrib/amd64");
        assert_eq!(e.path, "pool/contrib/h/hello/hello.deb");
        let e = &run(&[
            ("repo.default-suite", "bookworm"),
            ("distribution", "trixie"),
            ("component", "non-free"),
            ("repo.name", "acme"),
        ])
        .unwrap()[0];
        assert_eq!(e.shelf, "trixie/non-free/amd64");
        // The pool path does not depend on the suite.
        assert_eq!(e.path, "pool/non-free/h/hello/hello.deb");
        // Empty values count as not given.
        let e = &run(&[("distribution", ""), ("component", "")]).unwrap()[0];
        assert_eq!(e.shelf, "stable/main/amd64");

        for (k, v) in [
            ("distribution", "../etc"),
            ("distribution", "a/b"),
            ("component", "main contrib"),
            ("component", ".."),
            ("distribution", "."),
            ("component", "."),
        ] {
            let err = run(&[(k, v)]).unwrap_err();
            assert!(
                err.starts_with("invalid ") && err.contains(&format!("{v:?}")),
                "{err}"
            );
        }
    }

    #[test]
    fn arch_all_source_and_lib_prefix() {
        let control = "Package: libfoo-data\nSource: libfoo (1.2-1)\nVersion: 1.2-1+b1\nArchitecture: all\nDescription: data\n";
        let deb = testdeb::deb(control, Compression::Zstd);
        let e = &analyze(reader(&deb), &facts("libfoo-data_1.2-1+b1_all.deb"), &[]).unwrap()[0];
        assert_eq!(e.arch, "all");
        assert_eq!(e.shelf, "stable/main/all");
        assert_eq!(e.path, "pool/main/libf/libfoo/libfoo-data_1.2-1+b1_all.deb");

        assert_eq!(pool_prefix("libc6"), "libc");
        assert_eq!(pool_prefix("lib"), "l");
        assert_eq!(pool_prefix("hello"), "h");
        assert_eq!(pool_prefix("0ad"), "0");
        assert_eq!(pool_prefix("x"), "x");
        assert_eq!(
            pool_path("main", "lib2", "a.deb"),
            "pool/main/lib2/lib2/a.deb"
        );
    }

    #[test]
    fn stanza_replaces_added_fields_and_trims() {
        let control = Control::parse(
            b"Package: a  \nSize: 1\nVersion: 1\nsha256: old\nArchitecture: amd64\t\nDepends: b,\n c  \n",
        )
        .unwrap();
        let f = facts("a.deb");
        let s = render_stanza(&control, "pool/main/a/a/a.deb", &f);
        // No Description: the added fields go at the end.
        assert_eq!(
            s,
            format!(
                "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: b,\n c\nFilename: pool/main/a/a/a.deb\nSize: 1234\nMD5sum: {}\nSHA1: {}\nSHA256: {}\nSHA512: {}\n",
                f.md5, f.sha1, f.sha256, f.sha512
            )
        );
        assert!(s.ends_with('\n') && !s.ends_with("\n\n"));
        assert!(s.lines().all(|l| l == l.trim_end() && !l.is_empty()));
    }

    #[test]
    fn analyze_rejects_bad_packages() {
        let f = facts("x.deb");
        let run =
            |control: &str| analyze(reader(&testdeb::deb(control, Compression::Gzip)), &f, &[]);
        assert_eq!(
            run("Version: 1\nArchitecture: amd64\n").unwrap_err(),
            "control file has no Package field"
        );
        assert_eq!(
            run("Package: a\nArchitecture: amd64\n").unwrap_err(),
            "control file has no Version field"
        );
        assert_eq!(
            run("Package: a\nVersion: 1\n").unwrap_err(),
            "control file has no Architecture field"
        );
        assert!(run("Package: ../a\nVersion: 1\nArchitecture: amd64\n")
            .unwrap_err()
            .contains("invalid Package name"));
        assert!(
            run("Package: a\nSource: ../../etc\nVersion: 1\nArchitecture: amd64\n")
                .unwrap_err()
                .contains("invalid Source name")
        );
        assert!(run("Package: a\nVersion: 1\nArchitecture: amd64 i386\n")
            .unwrap_err()
            .contains("invalid Architecture"));
        assert!(run("Package: a\nVersion: 1\nArchitecture: any\n")
            .unwrap_err()
            .contains("source packages"));
        let deb = testdeb::deb(
            "Package: a\nVersion: 1\nArchitecture: amd64\n",
            Compression::Gzip,
        );
        for bad in ["", "..", "a/b.deb", "a\nb.deb"] {
            let err = analyze(reader(&deb), &facts(bad), &[]).unwrap_err();
            assert!(err.starts_with("invalid package file name"), "{err}");
        }
        // Garbage and truncation surface the reader's message.
        let err = analyze(reader(b"garbage"), &f, &[]).unwrap_err();
        assert!(err.starts_with("not a .deb"), "{err}");
        let err = analyze(reader(&deb[..140]), &f, &[]).unwrap_err();
        assert!(err.starts_with("truncated .deb"), "{err}");
    }

    /// Real packages from dpkg-deb: xz (its default), gzip and zstd control members.
    #[test]
    fn analyze_dpkg_deb_packages() {
        let control = "Package: hello\nVersion: 2.10-3\nArchitecture: amd64\nMaintainer: A <a@b.c>\nDescription: greeting\n Says hello.\n";
        for (z, member) in [
            (None, "control.tar.xz"),
            (Some("gzip"), "control.tar.gz"),
            (Some("zstd"), "control.tar.zst"),
            (Some("none"), "control.tar"),
        ] {
            let Some(deb) = testdeb::dpkg_deb(control, z) else {
                return;
            };
            assert!(deb::claims(&deb));
            let got = deb::read_control(reader(&deb)).unwrap_or_else(|e| panic!("{z:?}: {e}"));
            assert_eq!(got.member, member, "{z:?}");
            let e = &analyze(reader(&deb), &facts("hello_2.10-3_amd64.deb"), &[]).unwrap()[0];
            assert_eq!(e.name, "hello");
            let s = stanza(e);
            assert!(s.starts_with("Package: hello\nVersion: 2.10-3\n"), "{s}");
            assert!(
                s.contains("\nFilename: pool/main/h/hello/hello_2.10-3_amd64.deb\nSize: 1234\n")
            );
            assert!(s.contains("\nSHA512: 5555"));
            assert!(s.ends_with("Description: greeting\n Says hello.\n"), "{s}");
        }
    }

    fn repo(arches: &[&str]) -> RepoInfo {
        RepoInfo {
            now: 0,
            ..reposmith_generator_sdk::testing::repo("acme", arches)
        }
    }

    pub fn shelves(names: &[&str]) -> Vec<ShelfSummary> {
        names
            .iter()
            .map(|s| ShelfSummary {
                shelf: s.to_string(),
                entries: 1,
            })
            .collect()
    }

    fn selected(f: &BulkFile) -> Vec<String> {
        match &f.parts[..] {
            [Part::Entries(sel)] => {
                assert_eq!(sel.fragment, "Packages");
                assert_eq!(sel.separator, b"\n");
                sel.shelves.clone()
            }
            _ => panic!("unexpected parts"),
        }
    }

    #[test]
    fn plan_folds_all_into_every_arch() {
        let files = plan(
            &repo(&[]),
            &shelves(&[
                "bookworm/main/amd64",
                "bookworm/main/all",
                "bookworm/contrib/arm64",
                "trixie/main/all",
            ]),
        )
        .unwrap();
        let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "dists/bookworm/contrib/binary-amd64/Packages",
                "dists/bookworm/contrib/binary-arm64/Packages",
                "dists/bookworm/main/binary-amd64/Packages",
                "dists/bookworm/main/binary-arm64/Packages",
                // The default suite and component are always there.
                "dists/stable/main/binary-amd64/Packages",
                // Only arch:all packages and no repo architectures: amd64.
                "dists/trixie/main/binary-amd64/Packages",
            ]
        );
        assert_eq!(
            selected(&files[2]),
            ["bookworm/main/amd64", "bookworm/main/all"]
        );
        assert!(files
            .iter()
            .all(|f| f.encodings == [Encoding::Identity, Encoding::Gzip, Encoding::Xz]));
    }

    #[test]
    fn plan_adds_repo_architectures() {
        let files = plan(&repo(&["arm64", "all"]), &shelves(&["s/main/i386"])).unwrap();
        let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "dists/s/main/binary-arm64/Packages",
                "dists/s/main/binary-i386/Packages",
                "dists/stable/main/binary-arm64/Packages",
            ]
        );
    }

    #[test]
    fn plan_empty_repo_publishes_default_suite() {
        let files = plan(&repo(&[]), &[]).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].path, "dists/stable/main/binary-amd64/Packages");
        assert_eq!(
            selected(&files[0]),
            ["stable/main/amd64", "stable/main/all"]
        );

        let mut r = repo(&["amd64", "arm64"]);
        r.default_suite = "bookworm".into();
        r.default_component = String::new();
        let paths: Vec<_> = plan(&r, &[]).unwrap().into_iter().map(|f| f.path).collect();
        assert_eq!(
            paths,
            [
                "dists/bookworm/main/binary-amd64/Packages",
                "dists/bookworm/main/binary-arm64/Packages"
            ]
        );
    }

    #[test]
    fn plan_rejects_malformed_shelves() {
        assert!(plan(&repo(&[]), &shelves(&["stable/main"]))
            .unwrap_err()
            .contains("malformed shelf"));
        assert!(plan(&repo(&[]), &shelves(&["stable/main/amd64/x"]))
            .unwrap_err()
            .contains("malformed shelf"));
        assert!(plan(&repo(&["../x"]), &[])
            .unwrap_err()
            .contains("invalid repository architecture"));
    }
}
