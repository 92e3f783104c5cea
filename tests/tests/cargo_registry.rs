//! Cargo sparse registries, end to end with the real cargo: crates made with `cargo package`
//! are uploaded through the API and `manage-repo add`; a project that depends on them builds
//! through `[registries]` pointing at `sparse+URL/repos/REPO/cargo/` (network on, a throwaway
//! `CARGO_HOME`); a second version uploaded is what `cargo update` picks; the same through
//! crates.io source replacement (the repo's own client file). Every index line is checked
//! against the crate it came from, and bad `.crate` files answer 422 changing nothing.
mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const REPO: &str = "crates";

/// The real cargo (the one running the tests), in `dir`, with its own `CARGO_HOME` and
/// target dir, and none of the test run's cargo environment.
fn cargo(home: &Path, dir: &Path, args: &[&str]) -> Output {
    let bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(bin);
    without_test_env(&mut cmd);
    for k in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_NET_OFFLINE",
        "CARGO_REGISTRIES_CRATES_IO_PROTOCOL",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(k);
    }
    run_ok(
        cmd.args(args)
            .current_dir(dir)
            .env("CARGO_HOME", home)
            .env("CARGO_TARGET_DIR", dir.join("target"))
            .env("CARGO_TERM_COLOR", "never")
            .env("CARGO_NET_RETRY", "0"),
    )
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `cargo new` of a crate under `parent`, with `deps` appended to `[dependencies]` and `src`
/// as its `lib.rs` (or `main.rs` for a binary); its version set to `version`.
fn new_crate(
    home: &Path,
    parent: &Path,
    name: &str,
    version: &str,
    bin: bool,
    deps: &str,
    src: &str,
) -> PathBuf {
    let kind = if bin { "--bin" } else { "--lib" };
    cargo(home, parent, &["new", kind, "--vcs", "none", "-q", name]);
    let dir = parent.join(name);
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml"))
        .unwrap()
        .replacen(
            "version = \"0.1.0\"",
            &format!("version = \"{version}\""),
            1,
        );
    std::fs::write(dir.join("Cargo.toml"), format!("{manifest}{deps}")).unwrap();
    let file = if bin { "src/main.rs" } else { "src/lib.rs" };
    std::fs::write(dir.join(file), src).unwrap();
    dir
}

/// `cargo package --no-verify` in `dir`: the `.crate` it leaves.
fn package(home: &Path, dir: &Path, name: &str, version: &str) -> PathBuf {
    cargo(home, dir, &["package", "--no-verify", "--allow-dirty"]);
    let file = dir.join(format!("target/package/{name}-{version}.crate"));
    assert!(file.exists(), "{} not made", file.display());
    file
}

/// The lines of an index file, parsed; `None` when it is not served.
fn index(server: &Server, path: &str) -> Option<Vec<Value>> {
    let r = server.get(&format!("/repos/{REPO}/cargo/{path}"));
    if r.status == 404 {
        return None;
    }
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    let t = r.text();
    assert!(t.ends_with('\n'), "{path}: {t:?}");
    Some(
        t.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}: {e}: {l}")))
            .collect(),
    )
}

/// The line of `name` `vers` checked against its `.crate`: cksum is its sha256, and the
/// fields every line has.
fn line_of(server: &Server, path: &str, vers: &str, file: &Path) -> Value {
    let lines = index(server, path).unwrap_or_else(|| panic!("{path} not served"));
    let line = lines
        .into_iter()
        .find(|l| l["vers"] == vers)
        .unwrap_or_else(|| panic!("{path} has no {vers}"));
    assert_eq!(
        line["cksum"],
        sha256_hex(&std::fs::read(file).unwrap()),
        "{line}"
    );
    assert_eq!(line["yanked"], false);
    assert!(
        line["features"].is_object() && line["deps"].is_array(),
        "{line}"
    );
    line
}

fn lock_version(app: &Path, name: &str) -> String {
    let lock = std::fs::read_to_string(app.join("Cargo.lock")).unwrap();
    let at = lock
        .find(&format!("name = \"{name}\"\n"))
        .unwrap_or_else(|| panic!("{name} not in Cargo.lock:\n{lock}"));
    let rest = &lock[at..];
    let v = rest.lines().nth(1).unwrap();
    v.strip_prefix("version = \"")
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or_else(|| panic!("{v}"))
        .to_string()
}

#[test]
fn cargo_builds_from_the_sparse_registry() {
    let dir = tmp();
    let home = dir.join("cargo-home");
    std::fs::create_dir_all(&home).unwrap();
    let server = Server::start(&dir.join("data"));
    let index_url = format!("{}/repos/{REPO}/cargo/", server.url);
    // No option: the generator is told where its tree is served (`repo-info.base-url`).
    server.create_repo(REPO);

    // config.json: where the crates are downloaded from, absolute, as JSON.
    let config = server.get(&format!("/repos/{REPO}/cargo/config.json"));
    assert_eq!(config.status, 200);
    assert_eq!(
        config.json(),
        serde_json::json!({
            "dl": format!("{index_url}crates/{{crate}}/{{crate}}-{{version}}.crate")
        })
    );
    let typed = ureq::get(&server.u(&format!("/repos/{REPO}/cargo/config.json")))
        .call()
        .unwrap();
    assert_eq!(typed.header("content-type"), Some("application/json"));

    // The crates are made where the registry is configured (mid's packaging resolves leaf).
    let work = dir.join("work");
    std::fs::create_dir_all(work.join(".cargo")).unwrap();
    std::fs::write(
        work.join(".cargo/config.toml"),
        format!("[registries.rs]\nindex = \"sparse+{index_url}\"\n"),
    )
    .unwrap();

    let leaf_src = |v: &str| format!("pub fn greeting() -> String {{ \"leaf {v}\".into() }}\n");
    let leaf = new_crate(&home, &work, "leaf", "0.1.0", false, "", &leaf_src("0.1.0"));
    let leaf_010 = package(&home, &leaf, "leaf", "0.1.0");
    let r = server.upload(REPO, &leaf_010);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.claimed_by(), ["cargo"]);
    let l = line_of(&server, "le/af/leaf", "0.1.0", &leaf_010);
    assert_eq!(l["name"], "leaf");
    assert_eq!(l["deps"], serde_json::json!([]));
    // The crate itself where `dl` says.
    let got = server.get(&format!("/repos/{REPO}/cargo/crates/leaf/leaf-0.1.0.crate"));
    assert_eq!(got.status, 200);
    assert_eq!(got.body, std::fs::read(&leaf_010).unwrap());

    let mid = new_crate(
        &home,
        &work,
        "mid",
        "0.1.0",
        false,
        "leaf = { version = \"0.1\", registry = \"rs\" }\n",
        "pub fn greeting() -> String { format!(\"mid says {}\", leaf::greeting()) }\n",
    );
    let mid_010 = package(&home, &mid, "mid", "0.1.0");
    server.cli_ok(&["add", REPO, mid_010.to_str().unwrap()]);
    let l = line_of(&server, "3/m/mid", "0.1.0", &mid_010);
    // A dependency on the registry's own crate names the registry by its index URL.
    assert_eq!(
        l["deps"],
        serde_json::json!([{
            "name": "leaf", "req": "^0.1", "features": [], "optional": false,
            "default_features": true, "target": null, "kind": "normal",
            "registry": format!("sparse+{index_url}")
        }])
    );

    // A project depending on mid: resolved, downloaded, checked and built by cargo.
    let app = new_crate(
        &home,
        &work,
        "app",
        "0.1.0",
        true,
        "mid = { version = \"0.1\", registry = \"rs\" }\n",
        "fn main() { println!(\"{}\", mid::greeting()); }\n",
    );
    cargo(&home, &app, &["build"]);
    let run = cargo(&home, &app, &["run", "-q"]);
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        "mid says leaf 0.1.0"
    );
    assert_eq!(lock_version(&app, "leaf"), "0.1.0");

    // A second version: listed next to the first, and `cargo update` takes it.
    std::fs::write(leaf.join("src/lib.rs"), leaf_src("0.1.1")).unwrap();
    let manifest = std::fs::read_to_string(leaf.join("Cargo.toml")).unwrap();
    std::fs::write(
        leaf.join("Cargo.toml"),
        manifest.replacen("version = \"0.1.0\"", "version = \"0.1.1\"", 1),
    )
    .unwrap();
    let leaf_011 = package(&home, &leaf, "leaf", "0.1.1");
    server.cli_ok(&["add", REPO, leaf_011.to_str().unwrap()]);
    let vers: Vec<Value> = index(&server, "le/af/leaf")
        .unwrap()
        .iter()
        .map(|l| l["vers"].clone())
        .collect();
    assert_eq!(vers, ["0.1.0", "0.1.1"]);
    line_of(&server, "le/af/leaf", "0.1.1", &leaf_011);
    let update = cargo(&home, &app, &["update"]);
    assert!(
        text(&update).contains("leaf v0.1.0 (registry `rs`) -> v0.1.1"),
        "{}",
        text(&update)
    );
    let run = cargo(&home, &app, &["run", "-q"]);
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        "mid says leaf 0.1.1"
    );

    // crates.io replaced by the repo, with the repo's own client file: a crate whose
    // dependency is "from crates.io" (no registry) and a version with build metadata.
    let repl = dir.join("replaced");
    std::fs::create_dir_all(repl.join(".cargo")).unwrap();
    let listing = server.get(&format!("/repos/{REPO}/config/")).json();
    let files: Vec<&str> = array(&listing, "configs")
        .iter()
        .filter(|c| c["client"] == "cargo")
        .map(|c| c["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["crates-cargo.toml", "crates-cargo-replace.toml"]);
    let main = server.get(&format!("/repos/{REPO}/config/cargo")).text();
    assert!(
        main.contains(&format!(
            "[registries.crates]\nindex = \"sparse+{index_url}\"\n"
        )),
        "{main}"
    );
    let replace = server.get(&format!("/repos/{REPO}/config/crates-cargo-replace.toml"));
    assert_eq!(replace.status, 200);
    std::fs::write(repl.join(".cargo/config.toml"), &replace.body).unwrap();
    let top = new_crate(
        &home,
        &repl,
        "top",
        "0.3.0+meta.7",
        false,
        "leaf = \"0.1\"\n",
        "pub fn greeting() -> String { format!(\"top says {}\", leaf::greeting()) }\n",
    );
    let top_030 = package(&home, &top, "top", "0.3.0+meta.7");
    server.cli_ok(&["add", REPO, top_030.to_str().unwrap()]);
    let l = line_of(&server, "3/t/top", "0.3.0+meta.7", &top_030);
    assert_eq!(
        l["deps"][0]["registry"],
        "https://github.com/rust-lang/crates.io-index"
    );
    let app2 = new_crate(
        &home,
        &repl,
        "app2",
        "0.1.0",
        true,
        "top = \"0.3\"\n",
        "fn main() { println!(\"{}\", top::greeting()); }\n",
    );
    let run = cargo(&home, &app2, &["run", "-q"]);
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        "top says leaf 0.1.1"
    );

    // Bad uploads: 422 with the reason, the index unchanged.
    let before = server.get(&format!("/repos/{REPO}/cargo/le/af/leaf")).body;
    let bad = dir.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let good = std::fs::read(&leaf_011).unwrap();
    std::fs::write(bad.join("junk.crate"), b"not a crate").unwrap();
    std::fs::write(bad.join("cut-0.1.2.crate"), &good[..good.len() / 2]).unwrap();
    // leaf 0.1.1's files under another directory name: cargo would refuse to unpack it.
    run_ok(
        Command::new("sh")
            .arg("-ec")
            .arg(
                "mkdir x && tar -xzf \"$1\" -C x && mv x/leaf-0.1.1 x/leaf-9.9.9 && \
                 tar -czf wrongdir.crate -C x leaf-9.9.9",
            )
            .arg("sh")
            .arg(&leaf_011)
            .current_dir(&bad),
    );
    for (file, says) in [
        ("junk.crate", "known formats"),
        ("cut-0.1.2.crate", "corrupt or truncated"),
        ("wrongdir.crate", "is not leaf-0.1.1"),
    ] {
        let r = server.upload(REPO, &bad.join(file));
        assert_eq!(r.status, 422, "{file}: {}", r.text());
        assert!(r.text().contains(says), "{file}: {}", r.text());
    }
    assert_eq!(
        server.get(&format!("/repos/{REPO}/cargo/le/af/leaf")).body,
        before
    );

    // A removed version leaves the index.
    server.cli_ok(&["remove", REPO, "leaf-0.1.1.crate"]);
    let vers: Vec<Value> = index(&server, "le/af/leaf")
        .unwrap()
        .iter()
        .map(|l| l["vers"].clone())
        .collect();
    assert_eq!(vers, ["0.1.0"]);
    // The last version of a name: the current generation has no index file for it (the
    // retired generation's stays readable for the host's grace period, as every file does).
    server.cli_ok(&["remove", REPO, "top-0.3.0+meta.7.crate"]);
    let listed = server
        .get(&format!("/repos/{REPO}/packages/?name=top"))
        .json();
    assert!(array(&listed, "packages").is_empty(), "{listed}");
    // Other paths of the tree are not index files.
    assert_eq!(
        server
            .get(&format!("/repos/{REPO}/cargo/ab/cd/nothing"))
            .status,
        404
    );
}
