//! The package query from the CLI (issue 17), against a live server holding ~200 packages in 3
//! formats (deb, rpm, pacman): `download` by glob (newest by the format's own version order,
//! `--all-versions`, `--arch`, `--format`, `--resolve` with an unsatisfied dependency), each
//! file checked by name and sha256; a present file skipped, a partial one resumed with a
//! `Range` request, a corrupt one deleted; `search`, `show`; `--json`; and bash completion of
//! package names from the server.
mod common;
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Hand-made debs for the checks: name, version, arch, Depends, description.
const DEBS: &[(&str, &str, &str, &str, &str)] = &[
    // 10.2 is newer than 9.1 for dpkg (not as strings).
    ("gcc-12", "9.1-1", "amd64", "", "GNU C compiler (old)"),
    (
        "gcc-12",
        "10.2-1",
        "amd64",
        "gcc-doc, libc6 (>= 2.34) | libc-musl",
        "GNU C compiler",
    ),
    ("gcc-12", "10.2-1", "arm64", "gcc-doc", "GNU C compiler"),
    ("gcc-13", "1:0.9-1", "amd64", "", "GNU C compiler, next"),
    (
        "gcc-doc",
        "1.0-1",
        "all",
        "",
        "documentation of the compilers",
    ),
    ("gdb", "1.0-1", "amd64", "", "the GNU debugger"),
    // A chain of 3; its end needs what nothing provides.
    ("chain-a", "1.0-1", "amd64", "chain-b", "first link"),
    (
        "chain-b",
        "1.0-1",
        "amd64",
        "chain-c (>= 1.0)",
        "second link",
    ),
    (
        "chain-c",
        "1.0-1",
        "amd64",
        "libmissing (>= 2)",
        "third link",
    ),
];

/// Every package file of the repo: file name → sha256.
struct Fixture {
    files: Vec<PathBuf>,
    sha: BTreeMap<String, String>,
}

/// The ~200 packages, made once per test binary: the debs above, 100 bulk debs, 50 rpms named
/// gcc-r-NNNN (noarch) and 50 pacman packages pac-NNNN (x86_64).
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tmp();
        let mut files = Vec::new();
        for (name, version, arch, depends, description) in DEBS {
            files.push(make_deb(&dir, name, version, arch, depends, description));
        }
        files.extend(many_debs(100, "bulk"));
        let rpms = tmp();
        script(
            "tests/fixtures/make-many-rpms.sh",
            &[rpms.to_str().unwrap(), "50", "gcc-r"],
        );
        let pacman = tmp();
        script(
            "tests/fixtures/make-many-pacman.sh",
            &[pacman.to_str().unwrap(), "50", "pac"],
        );
        for d in [&rpms, &pacman] {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                let n = p.file_name().unwrap().to_str().unwrap();
                if n.ends_with(".rpm") || n.ends_with(".pkg.tar.zst") {
                    files.push(p);
                }
            }
        }
        assert_eq!(files.len(), DEBS.len() + 200, "{files:?}");
        let sha = files
            .iter()
            .map(|f| (name_of(f), sha256_hex(&std::fs::read(f).unwrap())))
            .collect();
        Fixture { files, sha }
    })
}

fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_str().unwrap().to_string()
}

/// A genuine .deb (dpkg-deb) named as dpkg-name would.
fn make_deb(
    dir: &Path,
    name: &str,
    version: &str,
    arch: &str,
    depends: &str,
    desc: &str,
) -> PathBuf {
    let tree = tempfile::tempdir().unwrap();
    let t = tree.path();
    std::fs::create_dir_all(t.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(t.join("usr/share").join(name)).unwrap();
    std::fs::write(t.join("usr/share").join(name).join("VERSION"), version).unwrap();
    let depends = if depends.is_empty() {
        String::new()
    } else {
        format!("Depends: {depends}\n")
    };
    let control = format!(
        "Package: {name}\nVersion: {version}\nArchitecture: {arch}\n\
         Maintainer: Reposmith Tests <tests@example.invalid>\n{depends}\
         Description: {desc}\n Made by tests/tests/query_cli.rs.\n"
    );
    std::fs::write(t.join("DEBIAN/control"), control).unwrap();
    let upstream = version.split_once(':').map_or(version, |(_, v)| v);
    let out = dir.join(format!("{name}_{upstream}_{arch}.deb"));
    run_ok(
        Command::new("dpkg-deb")
            .args(["--root-owner-group", "-Zgzip", "--build"])
            .arg(t)
            .arg(&out),
    );
    out
}

/// A server with the fixture in `myrepo`, uploaded with `manage-repo add`.
fn server() -> Server {
    let server = Server::start(&tmp().join("data"));
    server.create_repo("myrepo");
    let mut args = vec!["add".to_string(), "myrepo".into(), "-j".into(), "8".into()];
    args.extend(fixture().files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    server.cli_ok(&args);
    assert_eq!(server.package_count("myrepo"), fixture().files.len());
    server
}

fn out(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `download` into a fresh folder: the folder and the command's output.
fn download(server: &Server, args: &[&str]) -> (PathBuf, Output) {
    let dest = tmp().join("dl");
    download_into(server, &dest, args)
}

fn download_into(server: &Server, dest: &Path, args: &[&str]) -> (PathBuf, Output) {
    let mut all = vec!["download", "myrepo", "--dest", dest.to_str().unwrap()];
    all.extend(args);
    (dest.to_path_buf(), server.cli(&all))
}

/// The files in `dest` (no .part left), each checked against its fixture's sha256.
fn fetched(dest: &Path) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for e in std::fs::read_dir(dest).unwrap() {
        let p = e.unwrap().path();
        let n = name_of(&p);
        assert!(!n.ends_with(".part"), "{n} left behind");
        let want = fixture()
            .sha
            .get(&n)
            .unwrap_or_else(|| panic!("{n}: not in the repo"));
        assert_eq!(&sha256_hex(&std::fs::read(&p).unwrap()), want, "{n}");
        names.insert(n);
    }
    names
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn rpms(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range
        .map(|i| format!("gcc-r-{i:04}-1.0-1.noarch.rpm"))
        .collect()
}

#[test]
fn download_by_glob_newest_checked_resumed() {
    let server = server();

    // The newest per (format, name, arch), every format: dpkg's order (10.2 > 9.1).
    let (dest, o) = download(&server, &["gcc-*"]);
    let (stdout, stderr) = out(&o);
    assert!(o.status.success(), "{stdout}{stderr}");
    let mut want = set(&[
        "gcc-12_10.2-1_amd64.deb",
        "gcc-12_10.2-1_arm64.deb",
        "gcc-13_0.9-1_amd64.deb",
        "gcc-doc_1.0-1_all.deb",
    ]);
    want.extend(rpms(1..=50));
    assert_eq!(fetched(&dest), want);
    for f in &want {
        assert!(
            stdout.contains(&format!("downloaded {f} (")),
            "{f}: {stdout}"
        );
    }
    assert_eq!(stdout.lines().count(), want.len(), "{stdout}");

    // Again: every file is present with its digest, nothing is fetched.
    let (_, o) = download_into(&server, &dest, &["gcc-*"]);
    let (stdout, _) = out(&o);
    assert!(o.status.success());
    assert_eq!(stdout.lines().count(), want.len(), "{stdout}");
    assert!(
        stdout.lines().all(|l| l.starts_with("present ")),
        "{stdout}"
    );

    // --all-versions, --arch, --format, several patterns.
    let (dest, o) = download(&server, &["gcc-12", "--all-versions"]);
    assert!(o.status.success(), "{:?}", out(&o));
    assert_eq!(
        fetched(&dest),
        set(&[
            "gcc-12_9.1-1_amd64.deb",
            "gcc-12_10.2-1_amd64.deb",
            "gcc-12_10.2-1_arm64.deb"
        ])
    );
    let (dest, o) = download(&server, &["gcc-*", "--arch", "arm64"]);
    assert!(o.status.success(), "{:?}", out(&o));
    assert_eq!(fetched(&dest), set(&["gcc-12_10.2-1_arm64.deb"]));
    let (dest, o) = download(
        &server,
        &[
            "--format",
            "deb",
            "--arch",
            "amd64",
            "gcc-1?",
            "bulk-000[1-3]",
            "gdb",
        ],
    );
    assert!(o.status.success(), "{:?}", out(&o));
    assert_eq!(
        fetched(&dest),
        set(&[
            "gcc-12_10.2-1_amd64.deb",
            "gcc-13_0.9-1_amd64.deb",
            "bulk-0001_1.0-1_amd64.deb",
            "bulk-0002_1.0-1_amd64.deb",
            "bulk-0003_1.0-1_amd64.deb",
            "gdb_1.0-1_amd64.deb",
        ])
    );
    let (dest, o) = download(&server, &["--format", "pacman", "pac-00[1-2]?"]);
    assert!(o.status.success(), "{:?}", out(&o));
    let pac: BTreeSet<String> = (10..=29)
        .map(|i| format!("pac-{i:04}-1.0-1-x86_64.pkg.tar.zst"))
        .collect();
    assert_eq!(fetched(&dest), pac);

    // --resolve: the chain of 3, and the dependency nothing satisfies.
    let (dest, o) = download(&server, &["chain-a", "--resolve"]);
    let (stdout, stderr) = out(&o);
    assert!(o.status.success(), "{stdout}{stderr}");
    assert_eq!(
        fetched(&dest),
        set(&[
            "chain-a_1.0-1_amd64.deb",
            "chain-b_1.0-1_amd64.deb",
            "chain-c_1.0-1_amd64.deb"
        ])
    );
    let unsatisfied: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("unsatisfied "))
        .collect();
    assert_eq!(unsatisfied.len(), 1, "{stdout}");
    assert!(
        unsatisfied[0].starts_with("unsatisfied chain-c_1.0-1_amd64.deb: libmissing"),
        "{stdout}"
    );
    // An even-numbered rpm requires the one before it.
    let (dest, o) = download(&server, &["gcc-r-0002", "--resolve"]);
    assert!(o.status.success(), "{:?}", out(&o));
    let mut two = rpms(1..=2);
    two.sort();
    assert_eq!(fetched(&dest).into_iter().collect::<Vec<_>>(), two);

    // --json: an object per file, and per unsatisfied dependency.
    let (_, o) = download(&server, &["chain-a", "--resolve", "--json"]);
    assert!(o.status.success(), "{:?}", out(&o));
    let lines: Vec<serde_json::Value> = out(&o)
        .0
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let results: BTreeMap<String, String> = lines
        .iter()
        .map(|l| {
            (
                l["file"].as_str().unwrap().into(),
                l["result"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(results.len(), 3, "{lines:?}");
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines.iter().any(|l| l["result"] == "unsatisfied"
        && l["dependency"].as_str().unwrap().contains("libmissing")));
    for l in lines.iter().filter(|l| l["result"] == "downloaded") {
        assert_eq!(
            l["sha256"],
            fixture().sha[l["file"].as_str().unwrap()].as_str()
        );
    }

    // A pattern that matches nothing: exit 1, said on stderr.
    let (_, o) = download(&server, &["gdb", "nothing-*"]);
    let (stdout, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("downloaded gdb_1.0-1_amd64.deb"),
        "{stdout}"
    );
    assert!(
        stderr.contains("no package in myrepo matches nothing-*"),
        "{stderr}"
    );

    // An interrupted download (half a file in NAME.part) resumes: a Range request, 206.
    let big = "gcc-12_10.2-1_amd64.deb";
    let bytes = std::fs::read(fixture().files.iter().find(|f| name_of(f) == big).unwrap()).unwrap();
    let dest = tmp().join("resume");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join(format!("{big}.part")), &bytes[..bytes.len() / 2]).unwrap();
    let (_, o) = download_into(&server, &dest, &["gcc-12", "--arch", "amd64"]);
    assert!(o.status.success(), "{:?}", out(&o));
    assert_eq!(fetched(&dest), set(&[big]));
    server.assert_logged(
        &format!("GET /repos/myrepo/packages/{big} 206"),
        "the partial file was resumed with a range",
    );

    // A corrupt partial file: the whole is checked, deleted, the file fails; then it is fetched.
    std::fs::remove_file(dest.join(big)).unwrap();
    let mut bad = bytes[..bytes.len() / 2].to_vec();
    bad[10] ^= 0xff;
    std::fs::write(dest.join(format!("{big}.part")), &bad).unwrap();
    let (_, o) = download_into(&server, &dest, &["gcc-12", "--arch", "amd64"]);
    let (stdout, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("failed {big}: sha256 mismatch")),
        "{stdout}"
    );
    assert!(
        std::fs::read_dir(&dest).unwrap().next().is_none(),
        "nothing left"
    );
    let (_, o) = download_into(&server, &dest, &["gcc-12", "--arch", "amd64"]);
    assert!(o.status.success(), "{:?}", out(&o));
    assert_eq!(fetched(&dest), set(&[big]));

    // A different file under the name: replaced.
    std::fs::write(dest.join(big), b"something else").unwrap();
    let (_, o) = download_into(&server, &dest, &["gcc-12", "--arch", "amd64"]);
    assert!(
        out(&o).0.contains(&format!("downloaded {big}")),
        "{:?}",
        out(&o)
    );
    assert_eq!(fetched(&dest), set(&[big]));
}

#[test]
fn search_and_show() {
    let server = server();
    let o = server.cli_ok(&["search", "myrepo", "gcc-1"]);
    let (stdout, _) = out(&o);
    let lines: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        ["NAME", "VERSION", "ARCH", "FORMAT", "SUMMARY"],
        "{stdout}"
    );
    let rows: BTreeSet<String> = lines[1..].iter().map(|r| r[..4].join(" ")).collect();
    assert_eq!(
        rows,
        set(&[
            "gcc-12 10.2-1 amd64 deb",
            "gcc-12 10.2-1 arm64 deb",
            "gcc-13 1:0.9-1 amd64 deb"
        ]),
        "{stdout}"
    );
    assert!(stdout.contains("GNU C compiler, next"), "{stdout}");
    // By summary, case-insensitive.
    let o = server.cli_ok(&["search", "myrepo", "DEBUGGER"]);
    let (stdout, _) = out(&o);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        stdout.lines().nth(1).unwrap().starts_with("gdb "),
        "{stdout}"
    );
    let o = server.cli_ok(&["search", "myrepo", "compiler", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        array(&v, "packages").len(),
        3 + 1,
        "gcc-12 ×2, gcc-13, gcc-doc: {v}"
    );

    // show: every version and arch, file, digest, URL, dependencies, fields.
    let o = server.cli_ok(&["show", "myrepo", "gcc-12"]);
    let (stdout, _) = out(&o);
    for f in [
        "gcc-12_9.1-1_amd64.deb",
        "gcc-12_10.2-1_amd64.deb",
        "gcc-12_10.2-1_arm64.deb",
    ] {
        assert!(
            stdout.contains(&format!("filename: {f}\n")),
            "{f}: {stdout}"
        );
        assert!(
            stdout.contains(&format!("sha256: {}\n", fixture().sha[f])),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("url: {}/repos/myrepo/packages/{f}\n", server.url)),
            "{stdout}"
        );
    }
    assert_eq!(stdout.matches("name: gcc-12\n").count(), 3, "{stdout}");
    assert!(
        stdout.contains("depends: gcc-doc, libc6 (>= 2.34) | libc-musl\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("format: deb\n") && stdout.contains("arch: arm64\n"),
        "{stdout}"
    );
    assert!(stdout.contains("  Package: gcc-12\n"), "{stdout}");
    assert!(stdout.contains("summary: GNU C compiler\n"), "{stdout}");
    let o = server.cli_ok(&["show", "myrepo", "gcc-r-0004", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let items = array(&v, "packages");
    assert_eq!(items.len(), 1, "{v}");
    assert_eq!(items[0]["format"], "rpm");
    assert!(
        items[0]["fields"].as_array().is_some_and(|f| !f.is_empty()),
        "{v}"
    );
    let o = server.cli(&["show", "myrepo", "nosuch"]);
    let (_, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr.contains("no package named nosuch in myrepo"),
        "{stderr}"
    );
}

/// `manage-repo download myrepo gc<TAB>` offers the package names from the live server.
#[test]
fn bash_completes_package_names() {
    let server = server();
    let dir = tmp();
    let script = dir.join("manage-repo.bash");
    std::fs::write(&script, server.cli_ok(&["completions", "bash"]).stdout).unwrap();
    let cache = dir.join("cache");
    let env = [
        ("REPOSMITH_URL", server.url.as_str()),
        ("REPOSMITH_TOKEN", server.token.as_str()),
        ("XDG_CACHE_HOME", cache.to_str().unwrap()),
    ];
    let complete = |line: &str| bash_complete(&script, &env, line);
    let gc = complete("manage-repo download myrepo gc");
    let mut want = vec!["gcc-12".to_string(), "gcc-13".into(), "gcc-doc".into()];
    want.extend((1..=50).map(|i| format!("gcc-r-{i:04}")));
    want.sort();
    assert_eq!(gc, want);
    assert_eq!(
        complete("manage-repo download myrepo gcc-1"),
        ["gcc-12", "gcc-13"]
    );
    assert_eq!(
        complete("manage-repo show myrepo chain-"),
        ["chain-a", "chain-b", "chain-c"]
    );
    assert_eq!(complete("manage-repo download my"), ["myrepo"]);
    assert_eq!(complete("manage-repo download myrepo gdb gd"), ["gdb"]);
}
