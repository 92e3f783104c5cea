//! Equivalence with createrepo_c: the same signed rpm fixtures (epochs, `~` and `^` versions,
//! weak dependencies, file dependencies, Requires(pre), ghosts, a changelog with escapes, a
//! source rpm) published by reposmith and by createrepo_c give the same packages, NEVRAs,
//! checksums, sizes, header ranges, dependency entries, file lists and changelogs. The
//! comparison is order-insensitive; only what necessarily differs is left out: the location
//! directory (reposmith serves packages at `packages/FILE`, createrepo_c's tree has its own)
//! and `time file` (createrepo_c takes the file's mtime; reposmith, which has no clock at
//! analysis, the build time).
mod common;
mod rpmmd;
use common::*;
use rpmmd::*;
use std::process::Command;

fn createrepo_c(rpms: &[std::path::PathBuf]) -> Vec<(DataFile, String)> {
    let dir = tmp().join("createrepo");
    std::fs::create_dir_all(dir.join("Packages")).unwrap();
    for r in rpms {
        std::fs::copy(r, dir.join("Packages").join(r.file_name().unwrap())).unwrap();
    }
    // createrepo_c: apt-get install createrepo-c
    run_ok(
        Command::new("createrepo_c")
            .args(["--quiet", "--no-database"])
            .arg(&dir),
    );
    let repomd = std::fs::read_to_string(dir.join("repodata/repomd.xml")).unwrap();
    parse_repomd(&repomd)
        .into_iter()
        .filter(|d| ["primary", "filelists", "other"].contains(&d.kind.as_str()))
        .map(|d| {
            let data = std::fs::read(dir.join(&d.href)).unwrap();
            let open = String::from_utf8(gunzip(&data)).unwrap();
            (d, open)
        })
        .collect()
}

#[test]
fn metadata_matches_createrepo_c() {
    let mut rpms: Vec<_> = std::fs::read_dir(fixture_rpms())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
        .collect();
    rpms.sort();
    assert_eq!(rpms.len(), 9);

    let server = Server::start(&tmp().join("data"));
    server.create_repo("eq");
    let mut args = vec!["add".to_string(), "eq".to_string()];
    args.extend(rpms.iter().map(|p| p.to_string_lossy().into_owned()));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    server.cli_ok(&a);
    let ours = fetch_repodata(&server, "eq");
    let theirs = createrepo_c(&rpms);

    let mut compared = 0;
    for k in ["primary", "filelists", "other"] {
        let (o, t) = (kind(&ours, k), kind(&theirs, k));
        assert_eq!(package_count(o), package_count(t), "{k}: packages=");
        let skip = ["time@file"];
        let (co, ct) = (canon_packages(o, &skip), canon_packages(t, &skip));
        assert_eq!(co.len(), 9, "{k}: 9 packages");
        for (x, y) in co.iter().zip(&ct) {
            assert_eq!(x, y, "{k}: reposmith vs createrepo_c");
            compared += 1;
        }
        assert_eq!(co, ct);
    }
    assert_eq!(compared, 27);

    // The fixtures exercise what the issue lists (so the equality above means something).
    let primary = kind(&ours, "primary");
    for needle in [
        r#"<version epoch="3" ver="2.0~rc1" rel="1"/>"#,
        r#"ver="1.0^git5""#,
        "<arch>src</arch>",
        "<rpm:recommends>",
        "<rpm:suggests>",
        "<rpm:supplements>",
        "<rpm:enhances>",
        "<rpm:conflicts>",
        "<rpm:obsoletes>",
        r#"<rpm:entry name="/usr/bin/harness-app"/>"#,
        r#"pre="1""#,
        r#"<rpm:entry name="harness-older" flags="LE" epoch="2" ver="0.9" rel="1"/>"#,
        "&lt;b&gt;bold&lt;/b&gt; &amp;",
    ] {
        assert!(primary.contains(needle), "primary lacks {needle}");
    }
    let filelists = kind(&ours, "filelists");
    assert!(filelists.contains(r#"<file type="ghost">/var/log/harness-weak.log</file>"#));
    assert!(filelists.contains(r#"<file type="dir">/usr/share/harness-weak</file>"#));
    let other = kind(&ours, "other");
    assert!(other.contains("&lt;escaped&gt; &amp;"));
    assert_eq!(other.matches("<changelog ").count(), 5);
}
