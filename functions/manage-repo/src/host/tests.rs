//! `host`: parsing hand-written definitions of every client, in-place edits that keep every
//! other byte, add→remove restoring a root byte for byte (against a tiny in-process server
//! serving the `/repos/REPO/config/` contract), and refusing a key whose fingerprint is not
//! the announced one.
use super::*;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::sync::OnceLock;

fn entries(c: Client, file: &str, text: &str) -> Vec<Entry> {
    let mut es = c.parse(Path::new("/nonexistent"), Path::new(file), text);
    for e in &mut es {
        e.file = file.into();
    }
    es
}

fn summary(es: &[Entry]) -> Vec<(String, bool, String)> {
    es.iter()
        .map(|e| (e.name.clone(), e.enabled, e.url.clone()))
        .collect()
}

fn s(name: &str, enabled: bool, url: &str) -> (String, bool, String) {
    (name.to_string(), enabled, url.to_string())
}

/// The one edit of `ch` to the definition `name` of `text`.
fn edited(c: Client, file: &str, text: &str, name: &str, ch: Changes) -> String {
    let es = entries(c, file, text);
    let e = es.iter().find(|e| e.name == name).expect(name);
    c.edit(text, e, &ch).unwrap()
}

fn on(b: bool) -> Changes {
    Changes {
        enabled: Some(b),
        ..Default::default()
    }
}

const YUM: &str = "\
# hand-written
[base]
name=Base
baseurl=http://mirror.example/base/
        http://mirror2.example/base/
enabled=1
gpgcheck = 1

[updates]
name=Updates
mirrorlist=http://mirrors.example/?repo=updates
enabled=0

; another comment
[extras]
name = Extras
baseurl = http://mirror.example/extras/
";

#[test]
fn yum_repo_files_parse_and_edit_in_place() {
    let es = entries(Client::Dnf, "etc/yum.repos.d/x.repo", YUM);
    assert_eq!(
        summary(&es),
        vec![
            s("base", true, "http://mirror.example/base/"),
            s("updates", false, "http://mirrors.example/?repo=updates"),
            s("extras", true, "http://mirror.example/extras/"),
        ]
    );
    // enabled=1 -> 0 in place; nothing else moves.
    let t = edited(Client::Dnf, "x.repo", YUM, "base", on(false));
    assert_eq!(t, YUM.replacen("enabled=1", "enabled=0", 1));
    assert_eq!(
        edited(Client::Dnf, "x.repo", &t, "base", on(true)),
        YUM,
        "enable restores"
    );
    // A missing key goes after the section's last setting, in the file's spacing.
    let t = edited(
        Client::Dnf,
        "x.repo",
        YUM,
        "extras",
        Changes {
            repo_gpgcheck: Some(true),
            enabled: Some(false),
            ..Default::default()
        },
    );
    assert_eq!(
        t,
        format!("{YUM}enabled = 0\nrepo_gpgcheck = 1\n"),
        "appended to the last section"
    );
    // baseurl replaces the value and its continuation lines; the spacing stays.
    let t = edited(
        Client::Dnf,
        "x.repo",
        YUM,
        "base",
        Changes {
            baseurl: Some("http://new.example/".into()),
            gpgcheck: Some(false),
            ..Default::default()
        },
    );
    assert_eq!(
        t,
        YUM.replace(
            "baseurl=http://mirror.example/base/\n        http://mirror2.example/base/\n",
            "baseurl=http://new.example/\n"
        )
        .replace("gpgcheck = 1", "gpgcheck = 0")
    );
    // A file without a final newline keeps having none.
    let bare = "[a]\nbaseurl=http://a/";
    let t = edited(Client::Zypper, "a.repo", bare, "a", on(false));
    assert_eq!(t, "[a]\nbaseurl=http://a/\nenabled=0");
}

const LIST: &str = "\
# Debian
deb http://deb.debian.org/debian bookworm main contrib
#deb-src http://deb.debian.org/debian bookworm main
deb [arch=amd64 signed-by=/etc/apt/keyrings/x.gpg] https://x.example/apt stable main
# a comment, not an entry
deb [ trusted=yes ] http://local.example/ ./
";

#[test]
fn apt_one_line_entries_parse_and_edit_in_place() {
    let es = entries(Client::Apt, "etc/apt/sources.list", LIST);
    assert_eq!(
        summary(&es),
        vec![
            s("sources:1", true, "http://deb.debian.org/debian"),
            s("sources:2", false, "http://deb.debian.org/debian"),
            s("sources:3", true, "https://x.example/apt"),
            s("sources:4", true, "http://local.example/"),
        ]
    );
    assert!(es[2].fields.contains(&(
        "options".into(),
        "arch=amd64 signed-by=/etc/apt/keyrings/x.gpg".into()
    )));
    let f = "etc/apt/sources.list";
    // Disable comments the line out, enable takes the comment away again.
    let t = edited(Client::Apt, f, LIST, "sources:1", on(false));
    assert_eq!(t, LIST.replacen("deb http", "#deb http", 1));
    assert_eq!(edited(Client::Apt, f, &t, "sources:1", on(true)), LIST);
    let t = edited(Client::Apt, f, LIST, "sources:2", on(true));
    assert_eq!(t, LIST.replacen("#deb-src", "deb-src", 1));
    // gpgcheck off: trusted=yes joins the options (or makes them); on: it goes.
    let off = Changes {
        gpgcheck: Some(false),
        ..Default::default()
    };
    let t = edited(Client::Apt, f, LIST, "sources:3", off.clone());
    assert_eq!(
        t,
        LIST.replace(
            "[arch=amd64 signed-by=/etc/apt/keyrings/x.gpg]",
            "[arch=amd64 signed-by=/etc/apt/keyrings/x.gpg trusted=yes]"
        )
    );
    let t = edited(Client::Apt, f, LIST, "sources:1", off);
    assert_eq!(
        t,
        LIST.replacen("deb http://deb", "deb [trusted=yes] http://deb", 1)
    );
    let t = edited(
        Client::Apt,
        f,
        LIST,
        "sources:4",
        Changes {
            gpgcheck: Some(true),
            baseurl: Some("http://other.example/".into()),
            ..Default::default()
        },
    );
    assert_eq!(
        t,
        LIST.replace(
            "deb [ trusted=yes ] http://local.example/ ./",
            "deb http://other.example/ ./"
        )
    );
}

const SOURCES: &str = "\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

# security, switched off
Types: deb
URIs: http://security.debian.org/debian-security
Suites: bookworm-security
Components: main
Enabled: no
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBGPL0BUBEADmW5NdOOHwPIJlgPu6JDcKw/NZJPR8lsD3K87ZM18gzyQZJD+w
 -----END PGP PUBLIC KEY BLOCK-----
";

#[test]
fn apt_deb822_stanzas_parse_and_edit_in_place() {
    let f = "etc/apt/sources.list.d/debian.sources";
    let es = entries(Client::Apt, f, SOURCES);
    assert_eq!(
        summary(&es),
        vec![
            s("debian:1", true, "http://deb.debian.org/debian"),
            s(
                "debian:2",
                false,
                "http://security.debian.org/debian-security"
            ),
        ]
    );
    let t = edited(Client::Apt, f, SOURCES, "debian:2", on(true));
    assert_eq!(t, SOURCES.replace("Enabled: no", "Enabled: yes"));
    // A new field goes after the stanza's last line (the embedded key's included).
    let t = edited(
        Client::Apt,
        f,
        SOURCES,
        "debian:2",
        Changes {
            gpgcheck: Some(false),
            ..Default::default()
        },
    );
    assert_eq!(t, format!("{SOURCES}Trusted: yes\n"));
    assert_eq!(
        edited(
            Client::Apt,
            f,
            &t,
            "debian:2",
            Changes {
                gpgcheck: Some(true),
                ..Default::default()
            }
        ),
        SOURCES
    );
    let t = edited(
        Client::Apt,
        f,
        SOURCES,
        "debian:1",
        Changes {
            enabled: Some(false),
            baseurl: Some("http://mirror.example/debian".into()),
            ..Default::default()
        },
    );
    assert_eq!(
        t,
        SOURCES.replacen(
            "URIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
            "URIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\nEnabled: no\n",
            1
        )
    );
}

const PACMAN: &str = "\
[options]
Architecture = auto
SigLevel = Required DatabaseOptional

# The testing repositories are disabled by default.
#[core-testing]
#Include = /etc/pacman.d/mirrorlist

[core]
Include = /etc/pacman.d/mirrorlist

[custom]
SigLevel = Optional TrustAll
#Server = http://old.example/$arch
Server = http://custom.example/$arch
";

#[test]
fn pacman_sections_parse_and_edit_in_place() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc/pacman.d")).unwrap();
    std::fs::write(
        root.path().join("etc/pacman.d/mirrorlist"),
        "## Worldwide\n#Server = http://no.example/$repo\nServer = http://geo.example/$repo/os/$arch\n",
    )
    .unwrap();
    let es = Client::Pacman.parse(root.path(), Path::new(pacman::FILE), PACMAN);
    assert_eq!(
        summary(&es),
        vec![
            s("core-testing", false, "http://geo.example/$repo/os/$arch"),
            s("core", true, "http://geo.example/$repo/os/$arch"),
            s("custom", true, "http://custom.example/$arch"),
        ]
    );
    let f = pacman::FILE;
    let t = edited(Client::Pacman, f, PACMAN, "custom", on(false));
    assert_eq!(
        t,
        PACMAN.replace(
            "[custom]\nSigLevel = Optional TrustAll\n#Server = http://old.example/$arch\nServer",
            "#[custom]\n#SigLevel = Optional TrustAll\n##Server = http://old.example/$arch\n#Server"
        )
    );
    let back = entries(Client::Pacman, f, &t);
    assert!(!back.iter().find(|e| e.name == "custom").unwrap().enabled);
    assert_eq!(edited(Client::Pacman, f, &t, "custom", on(true)), PACMAN);
    let t = edited(Client::Pacman, f, PACMAN, "core-testing", on(true));
    assert_eq!(
        t,
        PACMAN.replace("#[core-testing]\n#Include", "[core-testing]\nInclude")
    );
    let t = edited(
        Client::Pacman,
        f,
        PACMAN,
        "custom",
        Changes {
            gpgcheck: Some(true),
            baseurl: Some("http://new.example/$arch".into()),
            ..Default::default()
        },
    );
    assert_eq!(
        t,
        PACMAN
            .replace(
                "SigLevel = Optional TrustAll",
                "SigLevel = TrustAll PackageRequired DatabaseOptional"
            )
            .replace(
                "Server = http://custom.example",
                "Server = http://new.example"
            )
    );
    // A section without SigLevel gets one after its header.
    let t = edited(
        Client::Pacman,
        f,
        PACMAN,
        "core",
        Changes {
            repo_gpgcheck: Some(false),
            ..Default::default()
        },
    );
    assert_eq!(
        t,
        PACMAN.replace(
            "[core]\n",
            "[core]\nSigLevel = PackageRequired DatabaseNever\n"
        )
    );
}

const APK: &str = "\
http://dl-cdn.alpinelinux.org/alpine/v3.19/main
#http://dl-cdn.alpinelinux.org/alpine/v3.19/community
# mirrors: see https://mirrors.alpinelinux.org
@testing https://dl-cdn.alpinelinux.org/alpine/edge/testing
/media/cdrom/apks";

#[test]
fn apk_lines_parse_and_edit_in_place() {
    let f = apk::FILE;
    let es = entries(Client::Apk, f, APK);
    assert_eq!(
        summary(&es),
        vec![
            s(
                "v3.19/main",
                true,
                "http://dl-cdn.alpinelinux.org/alpine/v3.19/main"
            ),
            s(
                "v3.19/community",
                false,
                "http://dl-cdn.alpinelinux.org/alpine/v3.19/community"
            ),
            s(
                "testing",
                true,
                "https://dl-cdn.alpinelinux.org/alpine/edge/testing"
            ),
            s("cdrom/apks", true, "/media/cdrom/apks"),
        ]
    );
    let t = edited(Client::Apk, f, APK, "v3.19/community", on(true));
    assert_eq!(t, APK.replace("#http", "http"));
    let t = edited(Client::Apk, f, APK, "cdrom/apks", on(false));
    assert_eq!(
        t,
        APK.replace("\n/media", "\n#/media"),
        "no newline added at the end"
    );
    let t = edited(
        Client::Apk,
        f,
        APK,
        "testing",
        Changes {
            baseurl: Some("https://m.example/edge/testing".into()),
            ..Default::default()
        },
    );
    assert_eq!(
        t,
        APK.replace(
            "@testing https://dl-cdn.alpinelinux.org/alpine/edge/testing",
            "@testing https://m.example/edge/testing"
        )
    );
    let es = entries(Client::Apk, f, APK);
    assert!(Client::Apk
        .edit(
            APK,
            &es[0],
            &Changes {
                gpgcheck: Some(false),
                ..Default::default()
            }
        )
        .is_err());
}

const PKG: &str = r#"# FreeBSD's own
FreeBSD: {
  url: "pkg+http://pkg.FreeBSD.org/${ABI}/quarterly",
  mirror_type: "srv",
  signature_type: "fingerprints",
  fingerprints: "/usr/share/keys/pkg",
  enabled: yes
}
/* a local one */
local: { url: "file:///var/pkg", enabled: no }
bare: {
  url: http://bare.example/repo
  options: { x: 1 }
}
"#;

#[test]
fn pkg_objects_parse_and_edit_in_place() {
    let f = "usr/local/etc/pkg/repos/x.conf";
    let es = entries(Client::Pkg, f, PKG);
    assert_eq!(
        summary(&es),
        vec![
            s(
                "FreeBSD",
                true,
                "pkg+http://pkg.FreeBSD.org/${ABI}/quarterly"
            ),
            s("local", false, "file:///var/pkg"),
            s("bare", true, "http://bare.example/repo"),
        ]
    );
    let t = edited(Client::Pkg, f, PKG, "FreeBSD", on(false));
    assert_eq!(t, PKG.replacen("enabled: yes", "enabled: no", 1));
    let t = edited(Client::Pkg, f, PKG, "local", on(true));
    assert_eq!(t, PKG.replace("enabled: no }", "enabled: yes }"));
    let t = edited(
        Client::Pkg,
        f,
        PKG,
        "bare",
        Changes {
            enabled: Some(false),
            baseurl: Some("http://new.example/repo".into()),
            ..Default::default()
        },
    );
    assert_eq!(
        t,
        PKG.replace(
            "bare: {\n  url: http://bare.example/repo",
            "bare: {\n  enabled: no,\n  url: http://new.example/repo"
        )
    );
    let t = edited(
        Client::Pkg,
        f,
        PKG,
        "local",
        Changes {
            gpgcheck: Some(false),
            ..Default::default()
        },
    );
    assert_eq!(
        t,
        PKG.replace("local: { url", "local: { signature_type: \"none\", url")
    );
    let es = entries(Client::Pkg, f, PKG);
    assert_eq!(
        Client::Pkg.cut(PKG, &es[1]),
        PKG.replace("local: { url: \"file:///var/pkg\", enabled: no }\n", "")
    );
}

// ---------------------------------------------------------------------------------------
// add and remove against a canned server.

/// An ed25519 key, made once: (armored public key, fingerprint).
fn key() -> &'static (String, String) {
    static KEY: OnceLock<(String, String)> = OnceLock::new();
    KEY.get_or_init(|| {
        let k = reposmith_signing::PgpKey::generate_ed25519("host test <t@example.invalid>", None)
            .unwrap();
        (k.public_key_armored().unwrap(), k.fingerprint())
    })
}

/// The contract's listing and files for repo `demo` at `base`, the key announced as `fpr`.
fn demo_server(fpr: &str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let h = listener.local_addr().unwrap().to_string();
    let (armored, _) = key();
    let indented: String = armored
        .lines()
        .map(|l| {
            if l.is_empty() {
                " .\n".to_string()
            } else {
                format!(" {l}\n")
            }
        })
        .collect();
    let served: Vec<(&str, &str, String, bool)> = vec![
        ("apt", "demo.sources", format!("Types: deb\nURIs: http://{h}/repos/demo/dist\nSuites: stable\nComponents: main\nEnabled: yes\nSigned-By:\n{indented}"), true),
        ("dnf", "demo.repo", format!("[demo]\nname=Demo\nbaseurl=http://{h}/repos/demo/repodata\nenabled=1\ngpgcheck=0\nrepo_gpgcheck=1\ngpgkey=http://{h}/repos/demo/key.asc\n"), true),
        ("zypper", "demo-zypp.repo", format!("[demo]\nname=Demo\nbaseurl=http://{h}/repos/demo/repodata\ntype=rpm-md\nautorefresh=1\nenabled=1\ngpgcheck=0\nrepo_gpgcheck=1\n"), true),
        ("pacman", "demo.conf", format!("[demo]\nSigLevel = Required DatabaseRequired\nServer = http://{h}/repos/demo/pacman/$arch\n"), true),
        ("apk", "repositories", format!("http://{h}/repos/demo/apk\n"), true),
        ("apk", "demo-5f3a.rsa.pub", "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n".to_string(), false),
        ("pkg", "demo-pkg.conf", format!("demo: {{ url: \"http://{h}/repos/demo/freebsd\", signature_type: \"pubkey\", pubkey: \"/usr/local/etc/pkg/keys/demo.pub\", enabled: yes }}\n"), true),
        ("pkg", "demo.pub", "-----BEGIN PUBLIC KEY-----\nMIIC\n-----END PUBLIC KEY-----\n".to_string(), false),
    ];
    let configs: Vec<Value> = served
        .iter()
        .map(|(c, f, _, main)| {
            json!({ "client": c, "generator": "x", "file": f,
                    "url": format!("http://{h}/repos/demo/config/{f}"), "main": main })
        })
        .collect();
    let listing = json!({
        "repo": "demo", "enabled": true,
        "key": { "url": format!("http://{h}/repos/demo/key.asc"), "fingerprint": fpr },
        "configs": configs,
    });
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    files.insert(
        "/repos/demo/config/".into(),
        listing.to_string().into_bytes(),
    );
    files.insert("/repos/demo/key.asc".into(), armored.clone().into_bytes());
    for (_, f, text, _) in &served {
        files.insert(format!("/repos/demo/config/{f}"), text.clone().into_bytes());
    }
    std::thread::spawn(move || serve_loop(listener, files));
    format!("http://{h}/repos/demo")
}

/// Serves `files` (path -> body) over HTTP/1.1, one connection at a time; 404 for others.
fn serve_loop(listener: std::net::TcpListener, files: HashMap<String, Vec<u8>>) {
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut first = String::new();
        if reader.read_line(&mut first).is_err() {
            continue;
        }
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                break;
            }
        }
        let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
        let (status, body) = match files.get(&path) {
            Some(b) => ("200 OK", b.clone()),
            None => (
                "404 Not Found",
                br#"{"error":"not found","detail":"no route"}"#.to_vec(),
            ),
        };
        let _ = write!(
            conn,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = conn.write_all(&body);
    }
}

/// Every file and directory under `root`: path -> contents (None for a directory).
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for f in std::fs::read_dir(&d).unwrap().flatten() {
            let p = f.path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if p.is_dir() {
                out.insert(rel, None);
                todo.push(p);
            } else {
                out.insert(rel, Some(std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

/// A root as a host might have it: some of each client's files already there.
fn lived_in_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for (path, text) in [
        ("etc/apt/sources.list", LIST),
        ("etc/apt/sources.list.d/debian.sources", SOURCES),
        ("etc/yum.repos.d/base.repo", YUM),
        ("etc/zypp/repos.d/oss.repo", YUM),
        ("etc/pacman.conf", PACMAN),
        ("etc/apk/repositories", APK), // no final newline
        ("usr/local/etc/pkg/repos/FreeBSD.conf", PKG),
        ("var/lib/other/keep", "x"),
    ] {
        std::fs::create_dir_all(r.join(path).parent().unwrap()).unwrap();
        std::fs::write(r.join(path), text).unwrap();
    }
    root
}

#[test]
fn add_then_remove_restores_the_root_byte_for_byte() {
    let (_, fpr) = key();
    let url = demo_server(fpr);
    for lived_in in [false, true] {
        for client in [
            Client::Apt,
            Client::Dnf,
            Client::Zypper,
            Client::Pacman,
            Client::Apk,
            Client::Pkg,
        ] {
            let root = if lived_in {
                lived_in_root()
            } else {
                tempfile::tempdir().unwrap()
            };
            let r = root.path();
            let before = snapshot(r);
            let m = add(r, &url, client, None, Some(&fpr.to_lowercase())).unwrap();
            assert_eq!(m.fingerprint, *fpr);
            let what = format!("{client:?} lived_in={lived_in}");
            // What each client reads, where it reads it.
            let expect: &[&str] = match client {
                Client::Apt => &["etc/apt/sources.list.d/demo.sources"],
                Client::Dnf => &["etc/yum.repos.d/demo.repo"],
                Client::Zypper => &["etc/zypp/repos.d/demo.repo"],
                Client::Pacman => &["etc/pacman.conf"],
                Client::Apk => &["etc/apk/repositories", "etc/apk/keys/demo-5f3a.rsa.pub"],
                Client::Pkg => &[
                    "usr/local/etc/pkg/repos/demo.conf",
                    "usr/local/etc/pkg/keys/demo.pub",
                ],
                _ => unreachable!(),
            };
            for f in expect {
                assert!(r.join(f).is_file(), "{what}: {f}");
            }
            let listed = list(r, Some(client)).unwrap();
            let ours: Vec<&Entry> = listed.iter().filter(|e| e.managed.is_some()).collect();
            assert_eq!(ours.len(), 1, "{what}: {listed:?}");
            assert_eq!(ours[0].name, "demo", "{what}");
            assert!(ours[0].enabled, "{what}");
            assert!(
                ours[0].url.contains("/repos/demo/"),
                "{what}: {}",
                ours[0].url
            );
            if lived_in {
                assert!(listed.len() > 1, "{what}: the host's own are listed too");
            }
            // Adding it twice is refused.
            assert!(add(r, &url, client, None, None).is_err(), "{what}");
            // disable, update, enable: the definition changes, then remove restores the root.
            update(r, "demo", None, &on(false)).unwrap();
            let e = list(r, Some(client)).unwrap();
            let d = e.iter().find(|e| e.managed.is_some()).unwrap();
            assert!(!d.enabled, "{what}: disabled");
            let url_change = Changes {
                baseurl: Some("http://elsewhere.example/x".into()),
                enabled: Some(true),
                ..Default::default()
            };
            update(r, "demo", None, &url_change).unwrap();
            let e = list(r, Some(client)).unwrap();
            let d = e.iter().find(|e| e.managed.is_some()).unwrap();
            assert!(d.enabled, "{what}: enabled");
            assert_eq!(d.url, "http://elsewhere.example/x", "{what}");
            // A definition it did not add is not removed without --force.
            if lived_in {
                let other = e.iter().find(|e| e.managed.is_none()).unwrap();
                let err = remove(r, &other.name, Some(client), false).unwrap_err();
                assert!(err.to_string().contains("--force"), "{what}: {err}");
            }
            remove(r, "demo", None, false).unwrap();
            assert_eq!(snapshot(r), before, "{what}: the root is as before add");
        }
    }
}

#[test]
fn a_key_that_is_not_the_announced_one_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let url = demo_server("0123456789ABCDEF0123456789ABCDEF01234567");
    let err = add(root.path(), &url, Client::Dnf, None, None).unwrap_err();
    assert!(err.to_string().contains("refusing"), "{err}");
    // --fingerprint that is not the server's
    let (_, fpr) = key();
    let url = demo_server(fpr);
    let err = add(
        root.path(),
        &url,
        Client::Dnf,
        None,
        Some("0123 4567 89AB CDEF 0123  4567 89AB CDEF 0123 4567"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("refusing"), "{err}");
    assert!(snapshot(root.path()).is_empty(), "nothing written");
    // An unknown name lists the known ones.
    let err = update(root.path(), "nosuch", Some(Client::Dnf), &on(true)).unwrap_err();
    assert!(
        err.to_string()
            .contains("no repository definition named nosuch"),
        "{err}"
    );
}

#[test]
fn fingerprints_of_an_armored_key() {
    let (armored, fpr) = key();
    assert_eq!(fingerprints(armored).unwrap(), vec![fpr.clone()]);
    let two = format!("{armored}\n{armored}");
    assert_eq!(fingerprints(&two).unwrap().len(), 2);
    assert!(fingerprints("not a key").is_err());
    assert_eq!(
        check_key(armored, &fpr.to_lowercase(), Some(&format!("0x{fpr}"))).unwrap(),
        *fpr
    );
}

#[test]
fn the_detected_client_comes_from_path() {
    let dir = tempfile::tempdir().unwrap();
    for p in ["zypper", "pacman", "apk"] {
        let f = dir.path().join(p);
        std::fs::write(&f, "#!/bin/sh\n").unwrap();
        let mut perm = std::fs::metadata(&f).unwrap().permissions();
        let mode = if p == "zypper" { 0o644 } else { 0o755 }; // not executable: not there
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, mode);
        std::fs::set_permissions(&f, perm).unwrap();
    }
    assert_eq!(detect_in(dir.path().as_os_str()), Some(Client::Pacman));
    assert_eq!(detect_in(std::ffi::OsStr::new("/nonexistent")), None);
}
