//! Go module proxy, end to end with the real go command: module zips (made here with Python's
//! zipfile, laid out as `go mod download` keeps them) are uploaded through the API and
//! `manage-repo add`; a `main` module requiring them is downloaded, built and run with
//! `GOPROXY` set to the repo's `go` tree only (no proxy.golang.org, no checksum database,
//! a throwaway GOPATH and caches); a second version uploaded shows in `go list -m -versions`
//! and `go get` takes it; the same through the repo's own client file as `GOENV`. Every file
//! go reads is checked against what was uploaded, and a zip whose go.mod names another
//! module answers 422 changing nothing.
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const REPO: &str = "gomods";

/// The go command, or a failure saying where it comes from (never a silent skip).
fn go_version() -> String {
    let out = Command::new("go")
        .arg("version")
        .output()
        .unwrap_or_else(|e| {
            panic!("the go command is missing ({e}): .ci/run installs golang-go (apt)")
        });
    assert!(out.status.success(), "go version failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A `go` in `dir` with its own GOPATH, module cache and build cache under `home`, no user
/// configuration (`GOENV` is `env_file`, or off), and `env` on top.
fn go_cmd(home: &Path, dir: &Path, env_file: Option<&Path>, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new("go");
    without_test_env(&mut cmd);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().to_string();
        if k.starts_with("GO") || k == "CGO_ENABLED" {
            cmd.env_remove(k);
        }
    }
    let goenv = env_file.map_or_else(|| "off".into(), |p| p.display().to_string());
    cmd.current_dir(dir)
        .env("HOME", home)
        .env("GOENV", goenv)
        .env("GOPATH", home.join("gopath"))
        .env("GOMODCACHE", home.join("gopath/pkg/mod"))
        .env("GOCACHE", home.join("cache"))
        .env("GOFLAGS", "-mod=mod")
        .env("GO111MODULE", "on")
        .env("GOWORK", "off")
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0")
        .envs(env.iter().copied());
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A module zip as go's module cache holds it: every file under `MODULE@VERSION/`, deflated.
fn module_zip(out: &Path, module: &str, version: &str, files: &[(&str, &str)]) -> PathBuf {
    let spec = serde_json::json!({
        "out": out,
        "prefix": format!("{module}@{version}/"),
        "files": files,
    });
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(
            "import json, sys, zipfile\n\
             a = json.load(sys.stdin)\n\
             with zipfile.ZipFile(a['out'], 'w', zipfile.ZIP_DEFLATED) as z:\n\
             \x20   for name, data in a['files']:\n\
             \x20       z.writestr(a['prefix'] + name, data)\n",
        )
        .stdin(Stdio::piped())
        .spawn()
        .expect("python3 (the test makes module zips with its zipfile)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "zipping {module}@{version}"
    );
    out.to_path_buf()
}

fn greet(dir: &Path, version: &str) -> PathBuf {
    let src = format!(
        "package greet\n\n// Hello says which version it is.\n\
         func Hello() string {{ return \"hello from Greet {version}\" }}\n"
    );
    module_zip(
        &dir.join(format!("greet-{version}.zip")),
        "example.com/Greet",
        version,
        &[
            ("go.mod", "module example.com/Greet\n\ngo 1.19\n"),
            ("greet.go", src.as_str()),
            ("LICENSE", "MIT\n"),
        ],
    )
}

/// `GET /repos/REPO/go/PATH`, which must be served.
fn served(server: &Server, path: &str) -> Vec<u8> {
    let r = server.get(&format!("/repos/{REPO}/go/{path}"));
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.body
}

#[test]
fn go_builds_from_the_module_proxy() {
    let version = go_version();
    eprintln!("using {version}");
    let dir = tmp();
    let home = dir.join("go-home");
    std::fs::create_dir_all(&home).unwrap();
    let server = Server::start(&dir.join("data"));
    server.create_repo(REPO);
    let proxy = format!("{}/repos/{REPO}/go", server.url);
    let env = [
        ("GOPROXY", proxy.as_str()),
        ("GOSUMDB", "off"),
        ("GONOSUMDB", "example.com"),
        ("GOPRIVATE", ""),
        ("GONOPROXY", ""),
    ];
    let go = |dir: &Path, args: &[&str]| run_ok(go_cmd(&home, dir, None, &env).args(args));
    let zips = dir.join("zips");
    std::fs::create_dir_all(&zips).unwrap();

    // A module with an upper-case letter in its path, through the API.
    let greet_100 = greet(&zips, "v1.0.0");
    let r = server.upload(REPO, &greet_100);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.claimed_by(), ["go"]);
    // What go reads, at the case-escaped path; `!` as go sends it (`%21`) and as is.
    assert_eq!(served(&server, "example.com/!greet/@v/list"), b"v1.0.0\n");
    assert_eq!(served(&server, "example.com/%21greet/@v/list"), b"v1.0.0\n");
    assert_eq!(
        served(&server, "example.com/!greet/@v/v1.0.0.info"),
        b"{\"Version\":\"v1.0.0\"}\n"
    );
    assert_eq!(
        served(&server, "example.com/!greet/@v/v1.0.0.mod"),
        b"module example.com/Greet\n\ngo 1.19\n"
    );
    assert_eq!(
        served(&server, "example.com/!greet/@v/v1.0.0.zip"),
        std::fs::read(&greet_100).unwrap()
    );
    assert_eq!(
        served(&server, "example.com/!greet/@latest"),
        b"{\"Version\":\"v1.0.0\"}\n"
    );
    // The unescaped path is not the module's.
    let r = server.get(&format!("/repos/{REPO}/go/example.com/Greet/@v/list"));
    assert_eq!(r.status, 404);

    // A module depending on it, through `manage-repo add`, with its time as a hint.
    let mid = module_zip(
        &zips.join("mid-v0.1.0.zip"),
        "example.com/mid",
        "v0.1.0",
        &[
            (
                "go.mod",
                "module example.com/mid\n\ngo 1.19\n\nrequire example.com/Greet v1.0.0\n",
            ),
            (
                "mid.go",
                "package mid\n\nimport \"example.com/Greet\"\n\n\
                 // Message passes greet's on.\n\
                 func Message() string { return \"mid says \" + greet.Hello() }\n",
            ),
        ],
    );
    server.cli_ok(&[
        "add",
        "--hint",
        "time=2024-05-06T07:08:09Z",
        REPO,
        mid.to_str().unwrap(),
    ]);
    assert_eq!(
        served(&server, "example.com/mid/@v/v0.1.0.info"),
        b"{\"Version\":\"v0.1.0\",\"Time\":\"2024-05-06T07:08:09Z\"}\n"
    );

    // The main module: downloaded, verified into go.sum, built and run by go.
    let app = dir.join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("go.mod"),
        "module example.com/app\n\ngo 1.19\n\nrequire example.com/mid v0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        app.join("main.go"),
        "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/mid\"\n)\n\n\
         func main() { fmt.Println(mid.Message()) }\n",
    )
    .unwrap();
    let dl = go(&app, &["mod", "download", "-json", "all"]);
    let downloaded = String::from_utf8_lossy(&dl.stdout).to_string();
    for m in [
        "\"Path\": \"example.com/mid\"",
        "\"Path\": \"example.com/Greet\"",
    ] {
        assert!(downloaded.contains(m), "{m} not downloaded:\n{downloaded}");
    }
    go(&app, &["build", "-o", "app", "."]);
    let run = run_ok(&mut Command::new(app.join("app")));
    let said = String::from_utf8_lossy(&run.stdout).trim().to_string();
    eprintln!("app says: {said}");
    assert_eq!(said, "mid says hello from Greet v1.0.0");
    let sum = std::fs::read_to_string(app.join("go.sum")).unwrap();
    eprintln!("go.sum:\n{sum}");
    for line in [
        "example.com/Greet v1.0.0 h1:",
        "example.com/mid v0.1.0 h1:",
        "example.com/mid v0.1.0/go.mod h1:",
    ] {
        assert!(sum.contains(line), "go.sum lacks {line}:\n{sum}");
    }
    let listed = go(&app, &["list", "-m", "-json", "example.com/mid"]);
    assert!(
        text(&listed).contains("\"Time\": \"2024-05-06T07:08:09Z\""),
        "{}",
        text(&listed)
    );
    // The module cache holds the very bytes that were uploaded.
    let cached = home.join("gopath/pkg/mod/cache/download/example.com/!greet/@v/v1.0.0.zip");
    assert_eq!(
        std::fs::read(&cached).unwrap(),
        std::fs::read(&greet_100).unwrap()
    );

    // A second version: in @v/list and @latest, seen by go, taken by `go get`.
    let greet_110 = greet(&zips, "v1.1.0");
    let r = server.upload(REPO, &greet_110);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        served(&server, "example.com/!greet/@v/list"),
        b"v1.0.0\nv1.1.0\n"
    );
    assert_eq!(
        served(&server, "example.com/!greet/@latest"),
        b"{\"Version\":\"v1.1.0\"}\n"
    );
    let versions = go(&app, &["list", "-m", "-versions", "example.com/Greet"]);
    let versions = String::from_utf8_lossy(&versions.stdout).trim().to_string();
    eprintln!("go list -m -versions: {versions}");
    assert_eq!(versions, "example.com/Greet v1.0.0 v1.1.0");
    let latest = go(&app, &["list", "-m", "example.com/Greet@latest"]);
    assert_eq!(
        String::from_utf8_lossy(&latest.stdout).trim(),
        "example.com/Greet v1.1.0"
    );
    go(&app, &["get", "example.com/Greet@v1.1.0"]);
    go(&app, &["build", "-o", "app", "."]);
    let run = run_ok(&mut Command::new(app.join("app")));
    let said = String::from_utf8_lossy(&run.stdout).trim().to_string();
    eprintln!("after go get: {said}");
    assert_eq!(said, "mid says hello from Greet v1.1.0");

    // The package query: the newest version per module in go's order, and what go.mod says.
    let q = server
        .get(&format!(
            "/repos/{REPO}/packages/?name=example.com/*&latest=1&details=1"
        ))
        .json();
    let latest: Vec<(&str, &str)> = array(&q, "packages")
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["version"].as_str().unwrap()))
        .collect();
    assert_eq!(
        latest,
        [
            ("example.com/Greet", "v1.1.0"),
            ("example.com/mid", "v0.1.0")
        ]
    );
    let mid_details = &array(&q, "packages")[1];
    assert_eq!(mid_details["summary"], "Go module example.com/mid");
    assert_eq!(
        mid_details["depends"][0][0],
        serde_json::json!({"name": "example.com/Greet", "op": ">=", "version": "v1.0.0"})
    );

    // The repo's own client file as go's environment file, in a fresh GOPATH: it sets
    // GOPROXY to the tree (checked before go fetches anything) and turns the checksum
    // database off.
    let listing = server.get(&format!("/repos/{REPO}/config/")).json();
    let files: Vec<&str> = array(&listing, "configs")
        .iter()
        .filter(|c| c["client"] == "go")
        .map(|c| c["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, [format!("{REPO}-go.env")]);
    let env_file = dir.join("go.env");
    let conf = server.get(&format!("/repos/{REPO}/config/go"));
    assert_eq!(conf.status, 200);
    std::fs::write(&env_file, &conf.body).unwrap();
    let home2 = dir.join("go-home-2");
    std::fs::create_dir_all(&home2).unwrap();
    let go2 = |args: &[&str]| run_ok(go_cmd(&home2, &app, Some(&env_file), &[]).args(args));
    let goproxy = go2(&["env", "GOPROXY", "GOSUMDB"]);
    assert_eq!(
        String::from_utf8_lossy(&goproxy.stdout),
        format!("{proxy}\noff\n"),
        "the client file:\n{}",
        conf.text()
    );
    go2(&["build", "-o", "app2", "."]);
    let run = run_ok(&mut Command::new(app.join("app2")));
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        "mid says hello from Greet v1.1.0"
    );

    // A zip whose go.mod names another module: 422 with the reason, nothing published.
    let before = served(&server, "example.com/!greet/@v/list");
    let bad = module_zip(
        &zips.join("greet-v1.2.0.zip"),
        "example.com/Greet",
        "v1.2.0",
        &[
            ("go.mod", "module example.com/greet\n"),
            ("greet.go", "package greet\n"),
        ],
    );
    let r = server.upload(REPO, &bad);
    assert_eq!(r.status, 422, "{}", r.text());
    let v = r.json();
    assert!(v["error"].is_string(), "{v}");
    let detail = v["detail"].as_str().unwrap_or_default();
    eprintln!("bad zip: 422 {v}");
    assert!(
        detail.contains("go.mod declares module \"example.com/greet\"")
            && detail.contains("example.com/Greet"),
        "{detail}"
    );
    // A v2 module without /v2 in its path, and a zip that is not a module's.
    let v2 = module_zip(
        &zips.join("greet-v2.0.0.zip"),
        "example.com/Greet",
        "v2.0.0",
        &[("go.mod", "module example.com/Greet\n")],
    );
    let r = server.upload(REPO, &v2);
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text().contains("should be v0 or v1, not v2"),
        "{}",
        r.text()
    );
    assert_eq!(served(&server, "example.com/!greet/@v/list"), before);
    assert_eq!(
        server
            .get(&format!(
                "/repos/{REPO}/go/example.com/!greet/@v/v1.2.0.info"
            ))
            .status,
        404
    );

    // The same module version in other bytes under another file name publishes the same
    // path: a conflict (a version's zip never changes: go.sum pins it).
    let mut other = std::fs::read(&greet_110).unwrap();
    let n = other.len();
    other[n - 2..].copy_from_slice(&1u16.to_le_bytes()); // the zip comment: one byte
    other.push(b'x');
    let copy = zips.join("copy.zip");
    std::fs::write(&copy, &other).unwrap();
    let r = server.upload(REPO, &copy);
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(
        r.text().contains("already published by greet-v1.1.0.zip"),
        "{}",
        r.text()
    );

    // Removing a version takes it out of the list.
    server.cli_ok(&["remove", REPO, "greet-v1.1.0.zip"]);
    assert_eq!(served(&server, "example.com/!greet/@v/list"), b"v1.0.0\n");
}
