//! `dists/SUITE/Release`, its signatures (`InRelease`, `Release.gpg`) and the `by-hash`
//! aliases apt fetches when the Release says `Acquire-By-Hash: yes` (which avoids hash-sum
//! mismatches while a mirror is mid-update).

use crate::packages::{layout, SuiteLayout};
use crate::pdiff;
use crate::reposmith::generator::types::{Assembled, Content, Output, RepoInfo, ShelfSummary};
use reposmith_generator_sdk::deb822::one_line;

/// The host's signer (a trait, so tests sign without a host).
pub use reposmith_generator_sdk::Signer as Sign;

pub fn finish(
    repo: &RepoInfo,
    shelves: &[ShelfSummary],
    files: &[Assembled],
    signer: &dyn Sign,
) -> Result<Vec<Output>, String> {
    let mut out = Vec::new();
    for (suite, l) in layout(repo, shelves)? {
        let dir = format!("dists/{suite}/");
        // Each Packages file's PDiff Index, declared to the host so Release may list it.
        let mut indexes = Vec::new();
        let patched: std::collections::BTreeSet<&str> = files
            .iter()
            .filter_map(|f| f.patch.as_ref().map(|p| p.file.as_str()))
            .filter(|p| p.starts_with(&dir))
            .collect();
        for p in patched {
            if let Some((path, text)) = pdiff::index(p, files) {
                signer
                    .vouch_index(text.as_bytes())
                    .map_err(|e| format!("listing {path} failed: {e}"))?;
                out.push(bytes(path.clone(), text.clone().into_bytes()));
                indexes.push(pdiff::listed(path, &text));
            }
        }
        // The trailing slash keeps `stable` from taking `stable-backports`' files. Patches
        // are listed by their Index, not by Release (as in Debian's archive).
        let mut mine: Vec<(&str, &Assembled)> = files
            .iter()
            .chain(&indexes)
            .filter(|f| !pdiff::is_patch(f))
            .filter_map(|f| f.path.strip_prefix(&dir).map(|rel| (rel, f)))
            .collect();
        mine.sort_by(|a, b| a.0.cmp(b.0));

        let text = render_release(repo, &suite, &l, &mine);
        let inrelease = signer
            .clearsign(&text)
            .map_err(|e| format!("signing {dir}InRelease failed: {e}"))?;
        let detached = signer
            .detached(text.as_bytes(), true)
            .map_err(|e| format!("signing {dir}Release.gpg failed: {e}"))?;
        out.push(bytes(format!("{dir}Release"), text.into_bytes()));
        out.push(bytes(format!("{dir}InRelease"), inrelease.into_bytes()));
        out.push(bytes(format!("{dir}Release.gpg"), detached));

        let md5 = lists_md5(repo);
        for (_, f) in &mine {
            let parent = f.path.rsplit_once('/').map_or("", |(p, _)| p);
            let hashes = [("SHA256", &f.sha256), ("MD5Sum", &f.md5)];
            for (kind, hash) in hashes.into_iter().take(if md5 { 2 } else { 1 }) {
                out.push(Output {
                    path: format!("{parent}/by-hash/{kind}/{hash}"),
                    content: Content::SameAs(f.path.clone()),
                    media_type: None,
                });
            }
        }
    }
    Ok(out)
}

fn bytes(path: String, data: Vec<u8>) -> Output {
    Output {
        path,
        content: Content::Bytes(data),
        media_type: None,
    }
}

/// Release lists MD5Sum (and by-hash has `MD5Sum/`) only when the repo's `release-md5`
/// option is `yes`: apt verifies by SHA256 since 1.1 (2015) and ignores MD5, and each digest
/// costs the host a pass over a Packages file after its first change. For mirroring tools
/// that still want it.
pub fn lists_md5(repo: &RepoInfo) -> bool {
    option(repo, "release-md5").is_some_and(|v| v.trim() == "yes")
}

fn option<'a>(repo: &'a RepoInfo, key: &str) -> Option<&'a str> {
    repo.options
        .iter()
        .find(|o| o.key == key && !o.value.trim().is_empty())
        .map(|o| o.value.as_str())
}

/// The Release text. `files` are the suite's assembled files with paths relative to it.
pub fn render_release(
    repo: &RepoInfo,
    suite: &str,
    l: &SuiteLayout,
    files: &[(&str, &Assembled)],
) -> String {
    let mut fields: Vec<(&str, String)> = vec![
        (
            "Origin",
            one_line(option(repo, "origin").unwrap_or(&repo.name)),
        ),
        (
            "Label",
            one_line(option(repo, "label").unwrap_or(&repo.name)),
        ),
        ("Suite", suite.to_string()),
        ("Codename", suite.to_string()),
        ("Date", rfc2822_utc(repo.now)),
        (
            "Architectures",
            l.architectures
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(" "),
        ),
        (
            "Components",
            l.components.iter().cloned().collect::<Vec<_>>().join(" "),
        ),
        ("Description", one_line(&repo.description)),
        ("Acquire-By-Hash", "yes".to_string()),
    ];
    // An empty value would leave "Field: " with trailing whitespace; leave it out instead.
    fields.retain(|(_, v)| !v.is_empty());

    let mut out = String::new();
    for (name, value) in fields {
        out.push_str(&format!("{name}: {value}\n"));
    }
    // Sizes right-aligned, as apt-ftparchive does: easier to read, same to apt.
    let width = files
        .iter()
        .map(|(_, f)| f.size.to_string().len())
        .max()
        .unwrap_or(0);
    let md5 = lists_md5(repo);
    for (section, hash) in [
        (
            "MD5Sum",
            (|f: &Assembled| f.md5.clone()) as fn(&Assembled) -> String,
        ),
        ("SHA256", |f: &Assembled| f.sha256.clone()),
    ]
    .into_iter()
    .skip(if md5 { 0 } else { 1 })
    {
        out.push_str(section);
        out.push_str(":\n");
        for (rel, f) in files {
            out.push_str(&format!(" {} {:>width$} {rel}\n", hash(f), f.size));
        }
    }
    out
}

/// `Sat, 28 Nov 2026 01:46:41 UTC`: RFC 2822 as apt expects it (generators have no clock
/// and no time crate is needed for this).
pub fn rfc2822_utc(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {d:02} {} {y} {:02}:{:02}:{:02} UTC",
        DAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm for the proleptic Gregorian calendar.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reposmith::generator::types::Hint;
    use crate::testdeb::assembled as file;

    struct FakeSigner;
    impl Sign for FakeSigner {
        fn clearsign(&self, text: &str) -> Result<String, String> {
            Ok(format!(
                "-----BEGIN PGP SIGNED MESSAGE-----\n\n{text}-----END-----\n"
            ))
        }
        fn detached(&self, data: &[u8], armor: bool) -> Result<Vec<u8>, String> {
            assert!(armor);
            Ok(format!("sig of {} bytes", data.len()).into_bytes())
        }
    }

    struct BrokenSigner;
    impl Sign for BrokenSigner {
        fn clearsign(&self, _: &str) -> Result<String, String> {
            Err("no key".into())
        }
        fn detached(&self, _: &[u8], _: bool) -> Result<Vec<u8>, String> {
            Err("no key".into())
        }
    }

    fn repo() -> RepoInfo {
        RepoInfo {
            name: "acme".into(),
            description: "Acme's\n  packages ".into(),
            default_suite: "stable".into(),
            default_component: "main".into(),
            architectures: vec![],
            options: vec![Hint {
                key: "origin".into(),
                value: "Acme Corp".into(),
            }],
            now: 1_795_830_401,
            generation: 7,
            base_url: String::new(),
        }
    }

    fn shelves(names: &[&str]) -> Vec<ShelfSummary> {
        names
            .iter()
            .map(|s| ShelfSummary {
                shelf: s.to_string(),
                entries: 3,
            })
            .collect()
    }

    #[test]
    fn dates() {
        assert_eq!(rfc2822_utc(1_795_830_401), "Sat, 28 Nov 2026 01:46:41 UTC");
        assert_eq!(rfc2822_utc(0), "Thu, 01 Jan 1970 00:00:00 UTC");
        assert_eq!(rfc2822_utc(951_868_799), "Tue, 29 Feb 2000 23:59:59 UTC");
        assert_eq!(rfc2822_utc(4_102_444_800), "Fri, 01 Jan 2100 00:00:00 UTC");
        // Absurd times must not panic.
        let _ = rfc2822_utc(u64::MAX);
    }

    fn with_md5() -> RepoInfo {
        let mut r = repo();
        r.options.push(Hint {
            key: "release-md5".into(),
            value: "yes".into(),
        });
        r
    }

    /// By default Release lists SHA256 alone, and by-hash has SHA256/ alone.
    #[test]
    fn release_lists_sha256_unless_asked_for_md5() {
        let files = [file("dists/stable/main/binary-amd64/Packages", 4096, 'a')];
        let shelves = shelves(&["stable/main/amd64"]);
        let out = finish(&repo(), &shelves, &files, &FakeSigner).unwrap();
        let paths: Vec<&str> = out.iter().map(|o| o.path.as_str()).collect();
        let a = "a".repeat(64);
        let by_hash = format!("dists/stable/main/binary-amd64/by-hash/SHA256/{a}");
        assert_eq!(
            paths,
            [
                "dists/stable/Release",
                "dists/stable/InRelease",
                "dists/stable/Release.gpg",
                &by_hash
            ]
        );
        let Content::Bytes(release) = &out[0].content else {
            panic!()
        };
        let release = std::str::from_utf8(release).unwrap();
        assert!(release.ends_with(&format!(
            "Acquire-By-Hash: yes\nSHA256:\n {a} 4096 main/binary-amd64/Packages\n"
        )));
        assert!(!release.contains("MD5Sum"));
        assert!(!super::lists_md5(&repo()) && super::lists_md5(&with_md5()));
    }

    #[test]
    fn release_and_by_hash() {
        let files = [
            file("dists/stable/main/binary-amd64/Packages", 4096, 'a'),
            file("dists/stable/main/binary-amd64/Packages.gz", 1200, 'b'),
            file("dists/stable/main/binary-amd64/Packages.xz", 980, 'c'),
            file("dists/stable-backports/main/binary-amd64/Packages", 0, 'd'),
        ];
        let out = finish(
            &with_md5(),
            &shelves(&[
                "stable/main/amd64",
                "stable/main/all",
                "stable-backports/main/all",
            ]),
            &files,
            &FakeSigner,
        )
        .unwrap();
        let paths: Vec<_> = out.iter().map(|o| o.path.as_str()).collect();
        let (a, b, c) = ("a".repeat(64), "b".repeat(32), "c".repeat(64));
        assert_eq!(
            paths,
            [
                "dists/stable/Release".to_string(),
                "dists/stable/InRelease".into(),
                "dists/stable/Release.gpg".into(),
                format!("dists/stable/main/binary-amd64/by-hash/SHA256/{a}"),
                format!(
                    "dists/stable/main/binary-amd64/by-hash/MD5Sum/{}",
                    "a".repeat(32)
                ),
                format!(
                    "dists/stable/main/binary-amd64/by-hash/SHA256/{}",
                    "b".repeat(64)
                ),
                format!("dists/stable/main/binary-amd64/by-hash/MD5Sum/{b}"),
                format!("dists/stable/main/binary-amd64/by-hash/SHA256/{c}"),
                format!(
                    "dists/stable/main/binary-amd64/by-hash/MD5Sum/{}",
                    "c".repeat(32)
                ),
                "dists/stable-backports/Release".into(),
                "dists/stable-backports/InRelease".into(),
                "dists/stable-backports/Release.gpg".into(),
                format!(
                    "dists/stable-backports/main/binary-amd64/by-hash/SHA256/{}",
                    "d".repeat(64)
                ),
                format!(
                    "dists/stable-backports/main/binary-amd64/by-hash/MD5Sum/{}",
                    "d".repeat(32)
                ),
            ]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
        );
        assert_eq!(
            out[7].content,
            Content::SameAs("dists/stable/main/binary-amd64/Packages.xz".into())
        );

        let Content::Bytes(release) = &out[0].content else {
            panic!()
        };
        let release = std::str::from_utf8(release).unwrap();
        let expected = format!(
            "Origin: Acme Corp\nLabel: acme\nSuite: stable\nCodename: stable\nDate: Sat, 28 Nov 2026 01:46:41 UTC\n\
             Architectures: amd64\nComponents: main\nDescription: Acme's packages\nAcquire-By-Hash: yes\n\
             MD5Sum:\n {} 4096 main/binary-amd64/Packages\n {} 1200 main/binary-amd64/Packages.gz\n {}  980 main/binary-amd64/Packages.xz\n\
             SHA256:\n {a} 4096 main/binary-amd64/Packages\n {} 1200 main/binary-amd64/Packages.gz\n {c}  980 main/binary-amd64/Packages.xz\n",
            "a".repeat(32),
            b,
            "c".repeat(32),
            "b".repeat(64),
        );
        assert_eq!(release, expected);
        assert!(release.lines().all(|l| l == l.trim_end()));

        let Content::Bytes(inrelease) = &out[1].content else {
            panic!()
        };
        assert!(std::str::from_utf8(inrelease).unwrap().contains(release));
        let Content::Bytes(sig) = &out[2].content else {
            panic!()
        };
        assert_eq!(sig, format!("sig of {} bytes", release.len()).as_bytes());

        // The other suite has its own, with only its files.
        let Content::Bytes(backports) = &out[9].content else {
            panic!()
        };
        let backports = std::str::from_utf8(backports).unwrap();
        assert!(backports.contains("Suite: stable-backports\n"));
        assert!(backports.ends_with(&format!(
            " {} 0 main/binary-amd64/Packages\n",
            "d".repeat(64)
        )));
        assert!(!backports.contains("Packages.gz"));
    }

    #[test]
    fn release_fields_for_bare_repo() {
        let mut r = with_md5();
        r.description.clear();
        r.options = vec![
            Hint {
                key: "label".into(),
                value: "Acme stable".into(),
            },
            Hint {
                key: "release-md5".into(),
                value: "yes".into(),
            },
        ];
        r.architectures = vec!["arm64".into(), "amd64".into()];
        let out = finish(&r, &[], &[], &FakeSigner).unwrap();
        assert_eq!(out.len(), 3);
        let Content::Bytes(release) = &out[0].content else {
            panic!()
        };
        assert_eq!(
            std::str::from_utf8(release).unwrap(),
            "Origin: acme\nLabel: Acme stable\nSuite: stable\nCodename: stable\nDate: Sat, 28 Nov 2026 01:46:41 UTC\nArchitectures: amd64 arm64\nComponents: main\nAcquire-By-Hash: yes\nMD5Sum:\nSHA256:\n"
        );
    }

    #[test]
    fn signer_errors_fail_the_publish() {
        let err = finish(&repo(), &[], &[], &BrokenSigner).unwrap_err();
        assert_eq!(err, "signing dists/stable/InRelease failed: no key");
    }
}
