//! The package databases: each package becomes one entry on the shelf of its architecture
//! (`x86_64`, `aarch64`, ... or `any`) carrying its pre-rendered tar members; at publish every
//! architecture gets `ARCH/REPO.db.tar.gz` (desc members) and `ARCH/REPO.files.tar.gz` (desc
//! and files members) assembled from its own shelf plus `any`, and the package files linked
//! into `ARCH/` with their detached signatures, where pacman's `Server = .../$arch` looks.

use std::collections::BTreeSet;

use crate::pkg;
use crate::pkginfo::{clip, PkgInfo};
use crate::reposmith::generator::types::{
    BulkFile, Encoding, Entry, Facts, Fragment, Hint, Link, Part, PublishPlan, RepoInfo, Selection,
    ShelfSummary,
};
use crate::{desc, files};
use reposmith_generator_sdk::ustar;

/// The shelf of architecture-independent packages, folded into every architecture.
pub const ANY: &str = "any";
/// The architecture a repository without any gets: Vieter's default, and what most pacman
/// users run.
pub const DEFAULT_ARCH: &str = "x86_64";

/// The upload hint that names the package after its content, `NAME-VERSION-ARCH.pkg.tar.EXT`
/// (as Vieter does), instead of after the uploaded file: the entry's `path` then carries the
/// name the package is published under.
pub const NAME_FROM_CONTENT: &str = "pacman.name-from-content";

/// One package → one entry with its `desc` and `files` fragments, and the plain `desc` text.
pub fn analyze<'a, R>(read: R, facts: &Facts, hints: &[Hint]) -> Result<Vec<Entry>, String>
where
    R: FnMut(u64, u32) -> Result<Vec<u8>, String> + 'a,
{
    check_filename(&facts.filename)?;
    let contents = pkg::read_package(read)?;
    let info = PkgInfo::parse(&contents.pkginfo)?;
    let name = info
        .one("pkgname")
        .ok_or(".PKGINFO has no pkgname")?
        .to_string();
    let version = info
        .one("pkgver")
        .ok_or(".PKGINFO has no pkgver")?
        .to_string();
    let arch = info.one("arch").ok_or(".PKGINFO has no arch")?.to_string();
    check_name(&name)?;
    check_version(&version)?;
    check_arch(&arch)?;
    let mtime = info
        .one("builddate")
        .and_then(|d| d.parse::<u64>().ok())
        .unwrap_or(0);

    let by_content = hints
        .iter()
        .any(|h| h.key == NAME_FROM_CONTENT && h.value == "1");
    let facts = &Facts {
        filename: if by_content {
            format!("{name}-{version}-{arch}{}", pkg::suffix(contents.codec))
        } else {
            facts.filename.clone()
        },
        ..facts.clone()
    };
    check_filename(&facts.filename)?;

    let dir = format!("{name}-{version}");
    let desc_text = desc::render(&info, facts);
    let mut desc_frag = ustar::dir(&dir, mtime)?;
    desc_frag.extend(ustar::file(
        &format!("{dir}/desc"),
        desc_text.as_bytes(),
        mtime,
    )?);
    let mut files_frag = desc_frag.clone();
    files_frag.extend(ustar::file(
        &format!("{dir}/files"),
        files::render(&contents.files).as_bytes(),
        mtime,
    )?);
    Ok(vec![Entry {
        name,
        version,
        arch: arch.clone(),
        path: format!("pool/{}", facts.filename),
        shelf: arch,
        fragments: vec![
            Fragment {
                name: desc::FRAGMENT.into(),
                data: desc_frag,
            },
            Fragment {
                name: files::FRAGMENT.into(),
                data: files_frag,
            },
            // Served as is by Vieter's `GET /{repo}/{arch}/NAME-VERSION`; no bulk file selects it.
            Fragment {
                name: desc::TEXT_FRAGMENT.into(),
                data: desc_text.into_bytes(),
            },
        ],
    }])
}

/// The file name is published as `ARCH/NAME` and written into `%FILENAME%`.
fn check_filename(f: &str) -> Result<(), String> {
    if f.is_empty()
        || f.starts_with('.')
        || f.contains('/')
        || f.contains('\\')
        || f.chars().any(char::is_control)
    {
        return Err(format!("invalid package file name {:?}", clip(f)));
    }
    Ok(())
}

/// pacman package names: alphanumerics and `@._+-`, not starting with `-` or `.`.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.starts_with(['-', '.'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'@' | b'.' | b'_' | b'+' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid pkgname {:?} in .PKGINFO", clip(name)))
    }
}

/// `[epoch:]pkgver-pkgrel`: it names the entry's directory in the database.
fn check_version(v: &str) -> Result<(), String> {
    let ok = !v.starts_with('.')
        && v.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-' | b':' | b'~')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("invalid pkgver {:?} in .PKGINFO", clip(v)))
    }
}

/// Architectures become directories of the tree.
fn check_arch(a: &str) -> Result<(), String> {
    if !a.is_empty()
        && a.len() <= 64
        && a.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(())
    } else {
        Err(format!("invalid arch {:?} in .PKGINFO", clip(a)))
    }
}

/// A repo's `architectures` may be Debian's names (the default is `[amd64]`).
fn pacman_arch(a: &str) -> Option<&str> {
    match a {
        "all" | "any" | "source" | "" => None,
        "amd64" => Some("x86_64"),
        "arm64" => Some("aarch64"),
        "i386" => Some("i686"),
        "armhf" => Some("armv7h"),
        other => Some(other),
    }
}

/// The architecture trees to publish: every shelf but `any`, the repo's architectures, and
/// `x86_64` when that leaves none (so an `any`-only or empty repo is still usable).
pub fn arches(repo: &RepoInfo, shelves: &[ShelfSummary]) -> Result<Vec<String>, String> {
    let mut set = BTreeSet::new();
    for s in shelves.iter().filter(|s| s.entries > 0) {
        if let Some(a) = pacman_arch(&s.shelf) {
            check_arch(a).map_err(|_| format!("invalid shelf {:?}", clip(&s.shelf)))?;
            set.insert(a.to_string());
        }
    }
    for a in repo.architectures.iter().filter_map(|a| pacman_arch(a)) {
        // A repo option, not a package: skip what cannot be a directory.
        if check_arch(a).is_ok() {
            set.insert(a.to_string());
        }
    }
    if set.is_empty() {
        set.insert(DEFAULT_ARCH.to_string());
    }
    Ok(set.into_iter().collect())
}

/// The repo's name names the database files.
pub fn check_repo_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.starts_with('.')
        || name.contains(['/', '\\'])
        || name.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(format!(
            "repo name {:?} cannot name a pacman database",
            clip(name)
        ));
    }
    Ok(())
}

pub fn plan(repo: &RepoInfo, shelves: &[ShelfSummary]) -> Result<PublishPlan, String> {
    check_repo_name(&repo.name)?;
    let mut out = PublishPlan {
        files: Vec::new(),
        links: Vec::new(),
    };
    for arch in arches(repo, shelves)? {
        let from = vec![arch.clone(), ANY.to_string()];
        for (kind, fragment) in [("db", desc::FRAGMENT), ("files", files::FRAGMENT)] {
            out.files.push(BulkFile {
                path: format!("{arch}/{}.{kind}.tar", repo.name),
                parts: vec![
                    Part::Entries(Selection {
                        shelves: from.clone(),
                        fragment: fragment.into(),
                        separator: Vec::new(),
                    }),
                    Part::Literal(ustar::END.to_vec()),
                ],
                encodings: vec![Encoding::Gzip],
                history: None,
                media_type: None,
            });
        }
        out.links.push(Link {
            shelves: from,
            prefix: format!("{arch}/"),
            signature: Some(".sig".into()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testpkg::{self, Codec};

    pub fn repo(archs: &[&str]) -> RepoInfo {
        reposmith_generator_sdk::testing::repo("harness", archs)
    }

    fn shelf(s: &str, n: u32) -> ShelfSummary {
        ShelfSummary {
            shelf: s.into(),
            entries: n,
        }
    }

    use reposmith_generator_sdk::testing::reader;

    #[test]
    fn arches_fold_in_defaults() {
        let none: [ShelfSummary; 0] = [];
        assert_eq!(arches(&repo(&[]), &none).unwrap(), ["x86_64"]);
        assert_eq!(arches(&repo(&["amd64"]), &none).unwrap(), ["x86_64"]);
        assert_eq!(
            arches(&repo(&["amd64"]), &[shelf("any", 2), shelf("aarch64", 1)]).unwrap(),
            ["aarch64", "x86_64"]
        );
        assert_eq!(
            arches(&repo(&[]), &[shelf("any", 2), shelf("aarch64", 1)]).unwrap(),
            ["aarch64"]
        );
        assert_eq!(
            arches(&repo(&["all"]), &[shelf("any", 1)]).unwrap(),
            ["x86_64"]
        );
    }

    #[test]
    fn plan_builds_db_and_files_per_arch() {
        let p = plan(&repo(&[]), &[shelf("any", 1), shelf("x86_64", 1)]).unwrap();
        let paths: Vec<&str> = p.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["x86_64/harness.db.tar", "x86_64/harness.files.tar"]);
        let f = &p.files[0];
        assert_eq!(f.encodings, [Encoding::Gzip]);
        assert_eq!(
            f.parts,
            [
                Part::Entries(Selection {
                    shelves: vec!["x86_64".into(), "any".into()],
                    fragment: "desc".into(),
                    separator: vec![],
                }),
                Part::Literal(vec![0; 1024]),
            ]
        );
        assert_eq!(
            p.links,
            [Link {
                shelves: vec!["x86_64".into(), "any".into()],
                prefix: "x86_64/".into(),
                signature: Some(".sig".into()),
            }]
        );
        let mut bad = repo(&[]);
        bad.name = "a/b".into();
        assert!(plan(&bad, &[]).is_err());
    }

    #[test]
    fn analyze_gives_one_entry_with_tar_fragments() {
        let p = testpkg::sample(Codec::Zstd);
        let facts = testpkg::facts("harness-1:2.0-3-x86_64.pkg.tar.zst", p.len() as u64);
        let e = analyze(reader(p), &facts, &[]).unwrap();
        assert_eq!(e.len(), 1);
        let e = &e[0];
        assert_eq!(
            (
                e.name.as_str(),
                e.version.as_str(),
                e.arch.as_str(),
                e.shelf.as_str()
            ),
            ("harness", "1:2.0-3", "x86_64", "x86_64")
        );
        assert_eq!(e.path, "pool/harness-1:2.0-3-x86_64.pkg.tar.zst");
        let members = testpkg::members(&e.fragments[1].data);
        let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "harness-1:2.0-3/",
                "harness-1:2.0-3/desc",
                "harness-1:2.0-3/files"
            ]
        );
        assert_eq!(
            members[2].1,
            "%FILES%\nusr/\nusr/bin/\nusr/bin/harness\nusr/share/doc/README\n"
        );
        assert!(members[1]
            .1
            .starts_with("%FILENAME%\nharness-1:2.0-3-x86_64.pkg.tar.zst\n"));
        assert_eq!(testpkg::members(&e.fragments[0].data), members[..2]);
        assert_eq!(e.fragments[2].name, "desc.txt");
        assert_eq!(e.fragments[2].data, members[1].1.as_bytes());
    }

    #[test]
    fn named_from_content_on_request() {
        for (c, ext) in [(Codec::Zstd, "zst"), (Codec::Xz, "xz"), (Codec::Gzip, "gz")] {
            let p = testpkg::sample(c);
            let facts = testpkg::facts("upload.pkg.tar", p.len() as u64);
            let hint = Hint {
                key: NAME_FROM_CONTENT.into(),
                value: "1".into(),
            };
            let e = analyze(reader(p.clone()), &facts, &[hint]).unwrap();
            let name = format!("harness-1:2.0-3-x86_64.pkg.tar.{ext}");
            assert_eq!(e[0].path, format!("pool/{name}"));
            let desc = String::from_utf8(e[0].fragments[2].data.clone()).unwrap();
            assert!(desc.starts_with(&format!("%FILENAME%\n{name}\n")), "{desc}");
            // Without the hint, the uploaded name stays.
            let e = analyze(reader(p), &facts, &[]).unwrap();
            assert_eq!(e[0].path, "pool/upload.pkg.tar");
        }
    }

    #[test]
    fn analyze_rejects_bad_metadata() {
        let cases: [(&str, &str); 5] = [
            ("pkgver = 1-1\narch = any\n", "no pkgname"),
            ("pkgname = a\narch = any\n", "no pkgver"),
            ("pkgname = a\npkgver = 1-1\n", "no arch"),
            (
                "pkgname = ../a\npkgver = 1-1\narch = any\n",
                "invalid pkgname",
            ),
            ("pkgname = a\npkgver = 1-1\narch = x/y\n", "invalid arch"),
        ];
        for (pkginfo, want) in cases {
            let tar = testpkg::tar(&[(".PKGINFO", pkginfo.as_bytes())]);
            let p = testpkg::compress(Codec::Gzip, &tar);
            let err = analyze(reader(p), &testpkg::facts("a.pkg.tar.gz", 1), &[]).unwrap_err();
            assert!(err.contains(want), "{pkginfo:?}: {err}");
        }
        let p = testpkg::sample(Codec::Gzip);
        assert!(analyze(reader(p), &testpkg::facts("../x", 1), &[]).is_err());
    }
}
