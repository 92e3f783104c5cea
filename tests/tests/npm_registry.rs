//! npm registries, end to end with the real npm (Debian's nodejs + npm; `.ci/run` installs
//! them): packages made with `npm pack` are uploaded through the API and `manage-repo add`;
//! `npm install --registry URL/repos/REPO/npm/` installs one with a dependency (a scoped
//! package, asked for as `@scope%2fname`) into a throwaway project with its own cache, and
//! node runs it; a second version is listed by `npm view` and picked by a fresh install. The
//! packuments are JSON (`Content-Type` included), and a bad tarball answers 422 changing
//! nothing.
mod common;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const REPO: &str = "js";

/// The real npm in `dir`, with its own cache and config: nothing from the machine's.
fn npm(home: &Path, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new("npm");
    without_test_env(&mut cmd);
    let out = cmd
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env("npm_config_cache", home.join("cache"))
        .env("npm_config_userconfig", home.join("npmrc"))
        .env("npm_config_update_notifier", "false")
        .env("npm_config_audit", "false")
        .env("npm_config_fund", "false")
        .env("npm_config_fetch_retries", "0")
        .output()
        .unwrap_or_else(|e| panic!("npm (`.ci/run` installs Debian's npm) must be installed: {e}"));
    assert!(
        out.status.success(),
        "npm {args:?} in {}: {}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A package directory `name` under `parent` with `package.json` and `index.js`, packed by
/// `npm pack`: the tarball's path.
fn pack(home: &Path, parent: &Path, manifest: Value, index_js: &str) -> PathBuf {
    let name = manifest["name"].as_str().unwrap().replace(['@', '/'], "_");
    let dir = parent.join(format!("{name}-{}", manifest["version"].as_str().unwrap()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("package.json"), manifest.to_string()).unwrap();
    std::fs::write(dir.join("index.js"), index_js).unwrap();
    let out = npm(home, &dir, &["pack", "--silent"]);
    let file = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let tgz = dir.join(file.lines().last().unwrap());
    assert!(tgz.exists(), "npm pack made {}", tgz.display());
    tgz
}

fn node(dir: &Path, script: &str) -> String {
    let out = Command::new("node")
        .args(["-e", script])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn npm_installs_from_the_registry() {
    let dir = tmp();
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("npmrc"), "").unwrap();
    let server = Server::start(&dir.join("data"));
    server.create_repo(REPO);
    let registry = format!("{}/repos/{REPO}/npm/", server.url);
    let work = dir.join("work");

    // A scoped library and a package depending on it.
    let lib = |v: &str| {
        pack(
            &home,
            &work,
            json!({"name": "@acme/greet", "version": v, "main": "index.js"}),
            &format!("module.exports = (w) => 'hello ' + w + ' from greet {v}';\n"),
        )
    };
    let greet_100 = lib("1.0.0");
    let app = pack(
        &home,
        &work,
        json!({
            "name": "hello-npm", "version": "1.0.0", "main": "index.js",
            "description": "says hello", "dependencies": {"@acme/greet": "^1.0.0"}
        }),
        "module.exports = () => require('@acme/greet')('npm');\n",
    );
    let r = server.upload(REPO, &greet_100);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.claimed_by(), ["npm"]);
    let sha1 = r.json()["package"]["sha1"].clone();
    server.cli_ok(&["add", REPO, app.to_str().unwrap()]);

    // The packuments: JSON, typed as JSON, at the name (scoped: `@scope%2fname`).
    let url = |p: &str| server.u(&format!("/repos/{REPO}/npm/{p}"));
    let got = ureq::get(&url("@acme%2fgreet")).call().unwrap();
    assert_eq!(got.header("content-type"), Some("application/json"));
    let p: Value = got.into_json().unwrap();
    assert_eq!(p["name"], "@acme/greet");
    assert_eq!(p["dist-tags"], json!({"latest": "1.0.0"}));
    let dist = &p["versions"]["1.0.0"]["dist"];
    assert_eq!(
        dist["tarball"],
        format!("{registry}@acme/greet/-/greet-1.0.0.tgz")
    );
    let bytes = std::fs::read(&greet_100).unwrap();
    assert_eq!(dist["shasum"], sha1);
    assert!(dist["integrity"].as_str().unwrap().starts_with("sha512-"));
    let tarball = server.get(&format!("/repos/{REPO}/npm/@acme/greet/-/greet-1.0.0.tgz"));
    assert_eq!(tarball.status, 200);
    assert_eq!(tarball.body, bytes);

    // A project installs the app, and with it the scoped library, from the registry only.
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("package.json"),
        json!({"name": "project", "version": "0.0.0", "private": true}).to_string(),
    )
    .unwrap();
    npm(
        &home,
        &project,
        &["install", "hello-npm", "--registry", &registry],
    );
    assert_eq!(
        node(&project, "console.log(require('hello-npm')())"),
        "hello npm from greet 1.0.0"
    );
    let lock: Value =
        serde_json::from_slice(&std::fs::read(project.join("package-lock.json")).unwrap()).unwrap();
    assert_eq!(
        lock["packages"]["node_modules/@acme/greet"]["resolved"],
        format!("{registry}@acme/greet/-/greet-1.0.0.tgz")
    );

    // A second version: listed by npm, `latest`, and what a fresh install resolves.
    let greet_110 = lib("1.1.0");
    server.cli_ok(&["add", REPO, greet_110.to_str().unwrap()]);
    let view = npm(
        &home,
        &project,
        &[
            "view",
            "@acme/greet",
            "versions",
            "--json",
            "--registry",
            &registry,
        ],
    );
    let versions: Value = serde_json::from_slice(&view.stdout).unwrap();
    assert_eq!(versions, json!(["1.0.0", "1.1.0"]));
    let fresh = dir.join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    std::fs::write(
        fresh.join("package.json"),
        r#"{"name":"fresh","version":"0.0.0"}"#,
    )
    .unwrap();
    npm(
        &home,
        &fresh,
        &["install", "hello-npm", "--registry", &registry],
    );
    assert_eq!(
        node(&fresh, "console.log(require('hello-npm')())"),
        "hello npm from greet 1.1.0"
    );

    // A bad tarball (a name npm refuses) answers 422 and changes nothing.
    let before = server.get(&format!("/repos/{REPO}/npm/hello-npm")).body;
    let bad = pack(
        &home,
        &work,
        json!({"name": "Bad_Name", "version": "1.0.0"}),
        "module.exports = 1;\n",
    );
    let r = server.upload(REPO, &bad);
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text().contains("not a valid npm package name"),
        "{}",
        r.text()
    );
    assert_eq!(
        server.get(&format!("/repos/{REPO}/npm/hello-npm")).body,
        before
    );
}
