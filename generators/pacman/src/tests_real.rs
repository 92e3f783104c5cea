//! Real packages (makepkg) against the real tools: our `desc`/`files` members equal what
//! repo-add writes for the same packages, and a database concatenated from our fragments
//! reads back with bsdtar. Skipped (with a note) where makepkg is not installed.

use std::path::Path;
use std::process::Command;

use crate::db;
use crate::reposmith::generator::types::Facts;
use crate::testpkg::{self, makepkg};

fn digest(tool: &str, file: &Path) -> String {
    let out = Command::new(tool).arg(file).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..]
        .split(' ')
        .next()
        .unwrap()
        .to_string()
}

fn facts(file: &Path) -> Facts {
    Facts {
        filename: file.file_name().unwrap().to_string_lossy().into_owned(),
        size: std::fs::metadata(file).unwrap().len(),
        md5: digest("md5sum", file),
        sha1: digest("sha1sum", file),
        sha256: digest("sha256sum", file),
        sha512: digest("sha512sum", file),
    }
}

fn analyze_file(file: &Path) -> Result<Vec<crate::Entry>, String> {
    let bytes = std::fs::read(file).unwrap();
    db::analyze(
        move |off, len| {
            let start = (off as usize).min(bytes.len());
            let end = start.saturating_add(len as usize).min(bytes.len());
            Ok(bytes[start..end].to_vec())
        },
        &facts(file),
        &[],
    )
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn real_packages_match_repo_add() {
    for ext in [".pkg.tar.zst", ".pkg.tar.xz", ".pkg.tar.gz"] {
        let Some(pkgs) = makepkg(ext) else { return };
        assert_eq!(pkgs.len(), 2, "{pkgs:?}");
        let dir = pkgs[0].parent().unwrap();
        // repo-add's own databases of the same two packages.
        let mut cmd = Command::new("repo-add");
        cmd.current_dir(dir).args(["--quiet", "ref.db.tar.gz"]);
        for p in &pkgs {
            cmd.arg(p.file_name().unwrap());
        }
        run(&mut cmd);
        let x = dir.join("x");
        std::fs::create_dir_all(&x).unwrap();
        run(Command::new("bsdtar")
            .arg("-xf")
            .arg(dir.join("ref.files.tar.gz"))
            .arg("-C")
            .arg(&x));
        for p in &pkgs {
            let head = std::fs::read(p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                crate::pkg::claims(&name, &head[..head.len().min(4096)]),
                "{name}"
            );
            let entries = analyze_file(p).unwrap();
            let e = &entries[0];
            let members = testpkg::members(&e.fragments[1].data);
            let dirname = format!("{}-{}", e.name, e.version);
            assert_eq!(members[0].0, format!("{dirname}/"));
            let want_desc = std::fs::read_to_string(x.join(&dirname).join("desc")).unwrap();
            let want_files = std::fs::read_to_string(x.join(&dirname).join("files")).unwrap();
            assert_eq!(members[1], (format!("{dirname}/desc"), want_desc), "{ext}");
            assert_eq!(
                members[2],
                (format!("{dirname}/files"), want_files),
                "{ext}"
            );
            assert_eq!(
                e.shelf,
                if e.name == "harness-lib" {
                    "any"
                } else {
                    "x86_64"
                }
            );
        }
    }
}

#[test]
fn assembled_database_reads_back_with_bsdtar() {
    let Some(pkgs) = makepkg(".pkg.tar.zst") else {
        return;
    };
    let dir = pkgs[0].parent().unwrap().join("assembled");
    std::fs::create_dir_all(&dir).unwrap();
    for (fragment, file) in [(0, "t.db.tar"), (1, "t.files.tar")] {
        let mut db = Vec::new();
        for p in &pkgs {
            db.extend(&analyze_file(p).unwrap()[0].fragments[fragment].data);
        }
        db.extend_from_slice(&reposmith_generator_sdk::ustar::END);
        let path = dir.join(file);
        std::fs::write(&path, &db).unwrap();
        // bsdtar checks every header checksum; -v shows modes and owners.
        let listing = run(Command::new("bsdtar").arg("-tvf").arg(&path));
        let lines: Vec<&str> = listing.lines().collect();
        let expect = if fragment == 0 { 4 } else { 6 };
        assert_eq!(lines.len(), expect, "{listing}");
        assert!(
            lines[0].starts_with("drwxr-xr-x  0 root   root"),
            "{listing}"
        );
        assert!(
            lines[1].starts_with("-rw-r--r--  0 root   root"),
            "{listing}"
        );
        assert!(listing.contains("harness-app-1.0-1/desc"), "{listing}");
        let desc = run(Command::new("bsdtar")
            .arg("-xOf")
            .arg(&path)
            .arg("harness-lib-1.0-1/desc"));
        assert!(
            desc.starts_with("%FILENAME%\nharness-lib-1.0-1-any.pkg.tar.zst\n"),
            "{desc}"
        );
    }
}
