//! Repository properties and client configuration files (docs/properties.md), end to end on
//! the local server with the real generators:
//! - `GET /repos/R/config/` lists a file for apt, dnf, yum, zypper, pacman, apk and pkg, and
//!   announces the key's fingerprint (the one `GET /repos/R/keys/` lists);
//! - each property `PUT` changes the served files, and the published metadata where it
//!   matters (title and description: apt's Release `Label:` and `Description:`), through a new
//!   generation and a `settings` history entry;
//! - `baseurl` and `X-Forwarded-Proto`/`-Host` decide the URLs in the files;
//! - a disabled repo's trees answer 404 with a JSON body and its files say so; enabling
//!   serves the same generation, byte for byte;
//! - a bad `PUT` (unknown field, wrong type, a newline in a title, a bad URL) is a 422 naming
//!   the field and changes nothing: the repo's JSON and its InRelease stay byte for byte.
//!
//! Real apt, dnf, zypper and pacman configured only from these files: `host.rs`.
mod common;
use common::*;
use serde_json::{json, Value};

const REPO: &str = "props";
const INRELEASE: &str = "/repos/props/dist/dists/stable/InRelease";

fn put(server: &Server, body: Value) -> Resp {
    server.send(
        "PUT",
        &format!("/repos/{REPO}/"),
        Some(body.to_string().as_bytes()),
    )
}

fn file(server: &Server, name: &str) -> String {
    let r = server.get(&format!("/repos/{REPO}/config/{name}"));
    assert_eq!(r.status, 200, "config/{name}: {}", r.text());
    r.text()
}

fn release_field(server: &Server, name: &str) -> Option<String> {
    let r = server.get(INRELEASE);
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_string))
}

#[test]
fn properties_reach_the_client_files_and_the_metadata() {
    let server = Server::start(&tmp().join("data"));
    server.create_repo(REPO);
    for f in FIXTURE_DEBS {
        assert_eq!(server.upload(REPO, &fixture_debs().join(f)).status, 201);
    }

    // The listing: every client, the key's fingerprint.
    let list = server.get(&format!("/repos/{REPO}/config/")).json();
    let clients: Vec<&str> = array(&list, "configs")
        .iter()
        .filter(|c| c["main"] == true)
        .map(|c| c["client"].as_str().unwrap())
        .collect();
    for c in ["apt", "dnf", "yum", "zypper", "pacman", "apk", "pkg"] {
        assert!(clients.contains(&c), "no {c} file: {list:#}");
    }
    let keys = server.get(&format!("/repos/{REPO}/keys/")).json();
    assert_eq!(list["key"]["fingerprint"], keys["keys"][0]["fingerprint"]);
    assert!(list["key"]["url"]
        .as_str()
        .unwrap()
        .ends_with("/repos/props/key.asc"));
    for c in array(&list, "configs") {
        let url = c["url"].as_str().unwrap();
        let path = &url[url.find("/repos/").unwrap()..];
        assert_eq!(server.get(path).status, 200, "{url}");
    }
    // The URLs are those the request came in on.
    let sources = file(&server, "apt");
    assert!(
        sources.contains(&format!("{}/repos/props/dist", server.url)),
        "{sources}"
    );
    assert!(sources.contains("Enabled: yes"), "{sources}");
    assert!(sources.contains("BEGIN PGP PUBLIC KEY BLOCK"), "{sources}");
    let proxied = call(
        ureq::get(&server.u("/repos/props/config/dnf"))
            .set("X-Forwarded-Proto", "https")
            .set("X-Forwarded-Host", "pkgs.example.org"),
        None,
    )
    .text();
    assert!(
        proxied.contains("https://pkgs.example.org/repos/props/"),
        "{proxied}"
    );

    // A bad PUT changes nothing.
    let before = (
        server.get(&format!("/repos/{REPO}/")).text(),
        server.get(INRELEASE).body,
    );
    for (body, field) in [
        (json!({"title": "fine", "colour": "red"}), "colour"),
        (json!({"gpgcheck": "yes"}), "gpgcheck"),
        (json!({"title": "two\nlines"}), "title"),
        (json!({"baseurl": "ftp://x/y"}), "baseurl"),
        (json!({"mirrors": "http://one"}), "mirrors"),
        (
            json!({"url_args": {"suites": "a b", "nope": "1"}}),
            "url_args",
        ),
    ] {
        let r = put(&server, body.clone());
        assert_eq!(r.status, 422, "{body}: {}", r.text());
        assert_eq!(r.json()["field"], field, "{}", r.text());
        assert!(r.json()["detail"].as_str().unwrap().contains(field));
    }
    let after = (
        server.get(&format!("/repos/{REPO}/")).text(),
        server.get(INRELEASE).body,
    );
    assert!(before == after, "a refused PUT changed the repo");

    // Title and description: the files and apt's Release.
    let g0 = server.get(&format!("/repos/{REPO}/")).json()["generation"]
        .as_u64()
        .unwrap();
    let r = put(
        &server,
        json!({"title": "Props Test Repo", "description": "for the properties test"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["generation"].as_u64().unwrap() > g0);
    assert_eq!(
        release_field(&server, "Label").as_deref(),
        Some("Props Test Repo")
    );
    assert_eq!(
        release_field(&server, "Description").as_deref(),
        Some("for the properties test")
    );
    assert!(file(&server, "dnf").contains("Props Test Repo"));
    let h = server.get(&format!("/repos/{REPO}/history")).json();
    assert_eq!(h["entries"][0]["kind"], "settings", "{h:#}");
    assert_eq!(
        h["entries"][0]["changed"],
        json!(["title", "description"]),
        "{h:#}"
    );

    // gpgcheck, repo_gpgcheck, gpgkey.
    let dnf = file(&server, "dnf");
    assert!(dnf.contains("gpgcheck=0"), "{dnf}");
    assert!(dnf.contains("repo_gpgcheck=1"), "{dnf}");
    let r = put(
        &server,
        json!({"gpgcheck": true, "gpgkey": ["https://vendor.example/key.asc"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let dnf = file(&server, "dnf");
    assert!(dnf.lines().any(|l| l == "gpgcheck=1"), "{dnf}");
    assert!(dnf.contains("https://vendor.example/key.asc"), "{dnf}");
    assert!(dnf.contains("/repos/props/key.asc"), "{dnf}");
    let zypper = file(&server, "zypper");
    assert!(zypper.lines().any(|l| l == "gpgcheck=1"), "{zypper}");
    assert!(zypper.contains("type=rpm-md"), "{zypper}");
    let r = put(&server, json!({"repo_gpgcheck": false}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(file(&server, "dnf").lines().any(|l| l == "repo_gpgcheck=0"));
    let pacman = file(&server, "pacman");
    assert!(!pacman.contains("DatabaseRequired"), "{pacman}");
    put(&server, json!({"repo_gpgcheck": true}));

    // baseurl and mirrors: every file uses them.
    let r = put(
        &server,
        json!({"baseurl": "https://cdn.example/props/", "mirrors": ["https://mirror.example/props"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    for c in ["apt", "dnf", "zypper", "pacman", "apk", "pkg"] {
        let text = file(&server, c);
        assert!(text.contains("https://cdn.example/props/"), "{c}: {text}");
        assert!(
            !text.contains(&server.url),
            "{c} names the API's URL: {text}"
        );
    }
    let sources = file(&server, "apt");
    assert!(
        sources.contains("https://mirror.example/props/dist"),
        "{sources}"
    );
    let r = put(&server, json!({"baseurl": null, "mirrors": []}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(file(&server, "apt").contains(&server.url));

    // url_args: apt's suites and components.
    let r = put(&server, json!({"url_args": {"suites": "stable testing"}}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(file(&server, "apt").contains("Suites: stable testing"));

    // Disabled: trees 404 with a JSON body, files say so; enabled: the same generation.
    let listing = server.get(&format!("/repos/{REPO}/")).json();
    let (g, inrelease) = (listing["generation"].clone(), server.get(INRELEASE).body);
    let r = server.send("POST", &format!("/repos/{REPO}/disable"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    let off = server.get(INRELEASE);
    assert_eq!(off.status, 404);
    assert_eq!(off.json()["error"], "repo disabled", "{}", off.text());
    let pool = server.get("/repos/props/dist/pool/main/h/harness-lib/harness-lib_1.0-1_all.deb");
    assert_eq!(pool.status, 404);
    assert_eq!(
        server
            .get(&format!("/repos/{REPO}/packages/harness-lib_1.0-1_all.deb"))
            .status,
        200,
        "the API stays"
    );
    assert!(file(&server, "apt").contains("Enabled: no"));
    assert!(file(&server, "dnf").lines().any(|l| l == "enabled=0"));
    assert!(file(&server, "zypper").lines().any(|l| l == "enabled=0"));
    let r = server.send("POST", &format!("/repos/{REPO}/enable"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["generation"], g);
    let on = server.get(INRELEASE);
    assert_eq!(on.status, 200);
    assert!(on.body == inrelease, "enabling served other bytes");
    assert!(file(&server, "apt").contains("Enabled: yes"));
}
