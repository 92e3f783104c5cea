//! Upload and publish step 1: an rpm becomes one entry with its three pre-rendered fragments
//! (primary, filelists, other), and the plan assembles `primary.xml.gz`, `filelists.xml.gz`
//! and `other.xml.gz` from them, each wrapped in its root element with the package count.
//!
//! All entries share one shelf: a yum repository is one tree for every architecture
//! (source rpms included, as arch `src`), as createrepo_c makes it.
use crate::header::read_rpm;
use crate::package::{clip, Package};
use crate::reposmith::generator::types::{
    BulkFile, Encoding, Entry, Facts, Fragment, Part, RepoInfo, Selection, ShelfSummary,
};
use crate::{filelists, other, primary};

pub const SHELF: &str = "rpm";

/// The three metadata kinds: repomd type (and file stem), fragment, root element.
pub const KINDS: [(&str, &str, &str, &str); 3] = [
    (
        "primary",
        primary::FRAGMENT,
        r#"<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="{n}">"#,
        "</metadata>",
    ),
    (
        "filelists",
        filelists::FRAGMENT,
        r#"<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="{n}">"#,
        "</filelists>",
    ),
    (
        "other",
        other::FRAGMENT,
        r#"<otherdata xmlns="http://linux.duke.edu/metadata/other" packages="{n}">"#,
        "</otherdata>",
    ),
];

/// The file name becomes the download URL's last segment: no directories, no controls.
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

/// Turns a package into its one entry. `read` is the package's ranged reader.
pub fn analyze<R>(read: R, facts: &Facts) -> Result<Vec<Entry>, String>
where
    R: FnMut(u64, u32) -> Result<Vec<u8>, String>,
{
    check_filename(&facts.filename)?;
    let rpm = read_rpm(read, facts.size)?;
    let p = Package::from_rpm(&rpm)?;
    let href = primary::location(&facts.filename);
    let fragments = vec![
        Fragment {
            name: primary::FRAGMENT.into(),
            data: primary::render(&p, &facts.sha256, facts.size, &href).into_bytes(),
        },
        Fragment {
            name: filelists::FRAGMENT.into(),
            data: filelists::render(&p, &facts.sha256).into_bytes(),
        },
        Fragment {
            name: other::FRAGMENT.into(),
            data: other::render(&p, &facts.sha256).into_bytes(),
        },
    ];
    Ok(vec![Entry {
        name: p.name.clone(),
        version: p.evr(),
        arch: p.arch.clone(),
        path: String::new(),
        shelf: SHELF.into(),
        fragments,
    }])
}

/// The bulk files: `primary.xml`, `filelists.xml`, `other.xml`, published gzip-compressed only.
pub fn plan(_repo: &RepoInfo, shelves: &[ShelfSummary]) -> Result<Vec<BulkFile>, String> {
    let n: u64 = shelves
        .iter()
        .filter(|s| s.shelf == SHELF)
        .map(|s| s.entries as u64)
        .sum();
    Ok(KINDS
        .iter()
        .map(|(kind, fragment, open, close)| BulkFile {
            path: format!("{kind}.xml"),
            parts: vec![
                Part::Literal(
                    format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}\n",
                        open.replace("{n}", &n.to_string())
                    )
                    .into_bytes(),
                ),
                Part::Entries(Selection {
                    shelves: vec![SHELF.into()],
                    fragment: fragment.to_string(),
                    separator: Vec::new(),
                }),
                Part::Literal(close.as_bytes().to_vec()),
            ],
            encodings: vec![Encoding::Gzip],
            history: None,
            media_type: None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testrpm::{reader, Builder, Value};

    fn facts(name: &str, size: u64) -> Facts {
        Facts {
            filename: name.into(),
            size,
            md5: "m".repeat(32),
            sha1: "1".repeat(40),
            sha256: "2".repeat(64),
            sha512: "5".repeat(128),
        }
    }

    #[test]
    fn analyze_gives_one_entry_with_three_fragments() {
        let bytes = Builder::new()
            .tag(1000, Value::Str("foo"))
            .tag(1001, Value::Str("1.0~rc1"))
            .tag(1002, Value::Str("1"))
            .tag(1003, Value::I32(vec![4]))
            .tag(1022, Value::Str("noarch"))
            .tag(1004, Value::I18n(vec!["A & B"]))
            .build();
        let f = facts("foo-1.0~rc1-1.noarch.rpm", bytes.len() as u64);
        let e = analyze(reader(&bytes), &f).unwrap();
        assert_eq!(e.len(), 1);
        let e = &e[0];
        assert_eq!(
            (
                e.name.as_str(),
                e.version.as_str(),
                e.arch.as_str(),
                e.path.as_str(),
                e.shelf.as_str()
            ),
            ("foo", "4:1.0~rc1-1", "noarch", "", "rpm")
        );
        let names: Vec<_> = e.fragments.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["primary", "filelists", "other"]);
        let primary = String::from_utf8(e.fragments[0].data.clone()).unwrap();
        assert!(primary.contains("<summary>A &amp; B</summary>"));
        assert!(primary.contains(&format!("<size package=\"{}\"", bytes.len())));
        assert!(primary.contains("<location href=\"packages/foo-1.0~rc1-1.noarch.rpm\"/>"));
        assert!(primary.contains(&format!("pkgid=\"YES\">{}<", "2".repeat(64))));
    }

    #[test]
    fn analyze_rejects_bad_input_with_a_message() {
        let f = facts("x.rpm", 5);
        let err = analyze(reader(b"hello"), &f).unwrap_err();
        assert!(err.starts_with("truncated rpm"), "{err}");
        let err = analyze(reader(b""), &facts("../x.rpm", 0)).unwrap_err();
        assert!(err.contains("invalid package file name"), "{err}");
        // The size the host measured must match what the signature header records.
        let bytes = Builder::new()
            .tag(1000, Value::Str("foo"))
            .tag(1001, Value::Str("1"))
            .tag(1002, Value::Str("1"))
            .tag(1022, Value::Str("noarch"))
            .build();
        let err = analyze(reader(&bytes), &facts("foo.rpm", bytes.len() as u64 + 1)).unwrap_err();
        assert!(err.contains("size mismatch"), "{err}");
    }

    #[test]
    fn plan_wraps_fragments_with_counts() {
        let shelves = [
            ShelfSummary {
                shelf: "rpm".into(),
                entries: 7,
            },
            ShelfSummary {
                shelf: "other".into(),
                entries: 100,
            },
        ];
        let files = plan(&crate::testrpm::repo_info(), &shelves).unwrap();
        let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["primary.xml", "filelists.xml", "other.xml"]);
        for f in &files {
            assert_eq!(f.encodings, [Encoding::Gzip]);
            let Part::Literal(head) = &f.parts[0] else {
                panic!()
            };
            let head = String::from_utf8(head.clone()).unwrap();
            assert!(head.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<"));
            assert!(head.ends_with(" packages=\"7\">\n"), "{head}");
            let Part::Entries(sel) = &f.parts[1] else {
                panic!()
            };
            assert_eq!(sel.shelves, ["rpm"]);
            assert!(sel.separator.is_empty());
        }
        let Part::Entries(sel) = &files[0].parts[1] else {
            panic!()
        };
        assert_eq!(sel.fragment, "primary");
        assert_eq!(files[2].parts[2], Part::Literal(b"</otherdata>".to_vec()));
        // An empty repo still has well-formed, empty metadata.
        let files = plan(&crate::testrpm::repo_info(), &[]).unwrap();
        let Part::Literal(head) = &files[1].parts[0] else {
            panic!()
        };
        assert!(String::from_utf8_lossy(head).contains("packages=\"0\""));
    }
}
