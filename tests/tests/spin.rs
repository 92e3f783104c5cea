//! The Spin build, end to end, without the `spin` CLI (none installs here): the handler
//! component (spin-sdk 5.2, wasm32-wasip2) composed with the wrapped generator .wasm files as
//! Spin composes `[component.reposmith.dependencies]` (wac-graph), served under
//! wasmtime-wasi-http by `reposmith-spin-compose` from the project's own spin.toml, against moto
//! for S3 and DynamoDB. Real apt installs from it; the same upload and metadata GET are timed
//! against the local server.
mod common;
use common::moto::Moto;
use common::*;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn target() -> PathBuf {
    target_release().parent().unwrap().to_path_buf()
}

/// functions/spin/build.sh, once per test binary: target/spin/*.wasm, from the components
/// and spin-compose that tests/build.sh built (`built()`).
fn spin_built() -> &'static PathBuf {
    static B: OnceLock<PathBuf> = OnceLock::new();
    B.get_or_init(|| {
        built();
        let st = without_test_env(&mut Command::new(
            workspace().join("functions/spin/build.sh"),
        ))
        .env("CARGO_TARGET_DIR", target())
        .env("PREBUILT", "1")
        .status()
        .expect("functions/spin/build.sh");
        assert!(st.success(), "functions/spin/build.sh failed");
        target().join("spin")
    })
}

struct SpinHost {
    child: Child,
    url: String,
    token: String,
}

impl SpinHost {
    fn start(moto: &Moto, bucket: &str, keys_from: &std::path::Path) -> SpinHost {
        spin_built();
        let token = "spin-test-token".to_string();
        let read = |f: &str| std::fs::read_to_string(keys_from.join(f)).unwrap();
        let log = tmp().join("spin-compose.log");
        let mut child = Command::new(target().join("release/reposmith-spin-compose"))
            .args(["serve", "--listen", "127.0.0.1:0", "--manifest"])
            .arg(workspace().join("spin.toml"))
            .env("CARGO_TARGET_DIR", target())
            .env("SPIN_VARIABLE_TOKEN", &token)
            .env("SPIN_VARIABLE_SIGNING_KEY", read("signing-key.asc"))
            .env("SPIN_VARIABLE_RSA_KEY", read("rsa-key.pem"))
            .env("SPIN_VARIABLE_BUCKET", bucket)
            .env("SPIN_VARIABLE_PREFIX", "repo")
            .env("SPIN_VARIABLE_TABLE", bucket)
            .env("SPIN_VARIABLE_REGION", "us-east-1")
            .env("SPIN_VARIABLE_AWS_ACCESS_KEY_ID", "testing")
            .env("SPIN_VARIABLE_AWS_SECRET_ACCESS_KEY", "testing")
            .env("SPIN_VARIABLE_AWS_ENDPOINT_URL", &moto.endpoint)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("reposmith-spin-compose serve");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = match lines.next() {
            Some(Ok(l)) if l.starts_with("spin-compose listening on ") => l
                .trim_start_matches("spin-compose listening on ")
                .trim()
                .to_string(),
            other => panic!(
                "spin-compose did not start ({other:?}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        };
        std::thread::spawn(move || for _ in lines {});
        SpinHost { child, url, token }
    }

    fn u(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    fn send(&self, method: &str, path: &str, body: Option<&[u8]>) -> (u16, Vec<u8>) {
        let req = ureq::request(method, &self.u(path))
            .set("Authorization", &format!("Bearer {}", self.token));
        let r = common::call(req, body);
        (r.status, r.body)
    }

    fn upload(&self, repo: &str, file: &std::path::Path) -> (u16, Vec<u8>) {
        let name = file
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .replace('+', "%2B");
        let data = std::fs::read(file).unwrap();
        self.send(
            "POST",
            &format!("/repos/{repo}/packages/?filename={name}"),
            Some(&data),
        )
    }
}

impl Drop for SpinHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
fn spin_app_serves_apt_from_s3_and_dynamodb() {
    // The local server makes the signing keys (as on first start) and is the baseline.
    let local = Server::start(&tmp().join("local"));
    let moto = Moto::start();
    let (packages, _) = moto.stores("spinrepo");
    assert_eq!(packages, "s3://spinrepo/repo");
    let spin = SpinHost::start(&moto, "spinrepo", &local.data);

    // Writes need the token.
    let r = ureq::post(&spin.u("/repos/main/")).call();
    match r {
        Err(ureq::Error::Status(401, _)) => {}
        Err(ureq::Error::Status(st, r)) => panic!("{st}: {}", r.into_string().unwrap_or_default()),
        other => panic!("{other:?}"),
    }

    let (st, body) = spin.send("POST", "/repos/main/", None);
    assert_eq!(st, 201, "create: {}", text(&body));
    let (st, body) = spin.send("GET", "/generators/", None);
    assert_eq!(st, 200);
    let gens = text(&body);
    for g in [
        "deb", "rpm", "pacman", "apk", "freebsd", "cargo", "npm", "go",
    ] {
        assert!(gens.contains(&format!("\"{g}\"")), "{g} missing: {gens}");
    }

    let debs = fixture_debs();
    for f in FIXTURE_DEBS {
        let (st, body) = spin.upload("main", &debs.join(f));
        assert_eq!(st, 201, "upload {f}: {}", text(&body));
    }
    // Same bytes again: 200, nothing changes. Garbage: 422.
    let (st, _) = spin.upload("main", &debs.join("harness-lib_1.0-1_all.deb"));
    assert_eq!(st, 200);
    let (st, body) = spin.send(
        "POST",
        "/repos/main/packages/?filename=x.deb",
        Some(b"junk"),
    );
    assert_eq!(st, 422, "{}", text(&body));

    // Read-your-writes: the Packages index already lists all three.
    let (st, body) = spin.send(
        "GET",
        "/repos/main/dist/dists/stable/main/binary-amd64/Packages",
        None,
    );
    assert_eq!(st, 200);
    let packages = text(&body);
    for p in ["harness-lib", "harness-app", "harness-epoch"] {
        assert!(packages.contains(&format!("Package: {p}\n")), "{packages}");
    }

    // The package query through the slots: the deb generator's `inspect` (dependencies,
    // summary) crosses the slot; the stand-in's defaults would list no dependencies.
    let (st, body) = spin.send(
        "GET",
        "/repos/main/packages/?name=harness-app&latest=1&details=1&resolve=1",
        None,
    );
    assert_eq!(st, 200, "{}", text(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let names: Vec<&str> = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["harness-app", "harness-lib"], "{v}");
    assert!(
        !v["packages"][0]["summary"].as_str().unwrap().is_empty(),
        "{v}"
    );
    assert_eq!(v["unsatisfied"], serde_json::json!([]), "{v}");

    // Real apt, signed-by the served key, installs with dependency resolution.
    let (st, key) = spin.send("GET", "/repos/main/key.asc", None);
    assert_eq!(st, 200);
    let key_file = tmp().join("spin-key.asc");
    std::fs::write(&key_file, &key).unwrap();
    let out = Command::new("bash")
        .arg(workspace().join("tests/clients/apt.sh"))
        .arg(spin.u("/repos/main/dist"))
        .env("APT_KEY", &key_file)
        .env("APT_INSTALL", "harness-app harness-epoch")
        .env(
            "APT_EXPECT_PKGS",
            "harness-lib=1.0-1 harness-app harness-epoch=1:2.0+dfsg-1",
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "apt: {}", text(&out.stderr));

    // A foreign key makes apt fail.
    let out = Command::new("bash")
        .arg(workspace().join("tests/clients/apt.sh"))
        .arg(spin.u("/repos/main/dist"))
        .env("APT_KEY", foreign_key())
        .env("APT_INSTALL", "harness-app")
        .output()
        .unwrap();
    assert!(!out.status.success(), "apt accepted a foreign key");

    // History on Spin's executor: the journal names the caller, a snapshot stays frozen, a
    // rollback brings a removed package back, a transaction is one generation.
    let json = |method: &str, path: &str, body: Option<&[u8]>| {
        let (st, b) = spin.send(method, path, body);
        (
            st,
            serde_json::from_slice::<serde_json::Value>(&b).unwrap_or_default(),
        )
    };
    let (st, h) = json("GET", "/repos/main/history", None);
    assert_eq!(st, 200, "{h}");
    assert_eq!(h["entries"].as_array().unwrap().len(), 3, "{h}");
    assert_eq!(h["entries"][0]["who"], serde_json::json!(["admin"]), "{h}");
    let (st, snap) = json("POST", "/repos/main/snapshots/s1", None);
    assert_eq!(st, 201, "{snap}");
    let epoch = "/repos/main/packages/harness-epoch_2.0+dfsg-1_amd64.deb";
    let (st, body) = spin.send("DELETE", epoch, None);
    assert_eq!(st, 200, "{}", text(&body));
    let index = "dist/dists/stable/main/binary-amd64/Packages";
    let listed = |path: &str| text(&spin.send("GET", path, None).1).contains("harness-epoch");
    assert!(!listed(&format!("/repos/main/{index}")));
    assert!(listed(&format!("/repos/main@s1/{index}")));
    let back = format!("{{\"generation\": {}}}", snap["generation"]);
    let (st, rb) = json("POST", "/repos/main/rollback", Some(back.as_bytes()));
    assert_eq!(st, 200, "{rb}");
    assert!(listed(&format!("/repos/main/{index}")));
    let ops =
        br#"{"operations": [{"op": "remove", "filename": "harness-epoch_2.0+dfsg-1_amd64.deb"}]}"#;
    let (st, done) = json("POST", "/repos/main/transactions", Some(ops));
    assert_eq!(st, 200, "{done}");
    assert_eq!(done["generation"], rb["generation"].as_u64().unwrap() + 1);

    // Properties and client files on Spin: the generators' client-config through their
    // slots; a disabled repo's tree answers 404, enabling serves it again.
    let (st, up) = json("PUT", "/repos/main/", Some(br#"{"title": "Spin Main"}"#));
    assert_eq!(st, 200, "{up}");
    let sources = text(&spin.send("GET", "/repos/main/config/apt", None).1);
    assert!(sources.contains("Types: deb"), "{sources}");
    assert!(sources.contains("/repos/main/dist"), "{sources}");
    let dnf = text(&spin.send("GET", "/repos/main/config/dnf", None).1);
    assert!(dnf.contains("name=Spin Main"), "{dnf}");
    let inrelease = "/repos/main/dist/dists/stable/InRelease";
    assert_eq!(json("POST", "/repos/main/disable", None).0, 200);
    let (st, off) = json("GET", inrelease, None);
    assert_eq!((st, off["error"].as_str()), (404, Some("repo disabled")));
    assert_eq!(json("POST", "/repos/main/enable", None).0, 200);
    assert_eq!(spin.send("GET", inrelease, None).0, 200);

    // The web interface on Spin (docs/ui.md): the repo page is HTML with its own CSP and
    // lists the packages; its script is served by its hashed name.
    let page = ureq::get(&spin.u("/ui/repos/main"))
        .set("Accept", "text/html")
        .call()
        .expect("GET /ui/repos/main on Spin");
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    let html = page.into_string().unwrap();
    assert!(html.contains("harness-app"), "{html}");
    let js = html
        .split("src=\"/ui/assets/")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the page names its script");
    assert_eq!(spin.send("GET", &format!("/ui/assets/{js}"), None).0, 200);

    // The same upload and the same metadata GET, timed (median of 5) on the Spin build, the
    // local server on the same moto stores, and the local server on its embedded stores.
    let local_moto = Server::start_opts(
        &tmp().join("local-moto"),
        &built().generators,
        moto.server_opts("localmoto"),
    );
    local.create_repo("main");
    local_moto.create_repo("main");
    let fresh = many_debs(5, "latency");
    let release = "/repos/main/dist/dists/stable/InRelease";
    let mut report = Vec::new();
    for (name, server) in [
        ("local (file stores)", Some(&local)),
        ("local (moto)", Some(&local_moto)),
        ("spin-compose (moto)", None),
    ] {
        let (mut up, mut get) = (Vec::new(), Vec::new());
        for f in &fresh {
            let t = Instant::now();
            let st = match server {
                Some(s) => s.upload("main", f).status,
                None => spin.upload("main", f).0,
            };
            up.push(t.elapsed());
            assert_eq!(st, 201, "{name}: upload {}", f.display());
        }
        for _ in 0..5 {
            let t = Instant::now();
            let st = match server {
                Some(s) => s.get(release).status,
                None => spin.send("GET", release, None).0,
            };
            get.push(t.elapsed());
            assert_eq!(st, 200, "{name}: GET {release}");
        }
        report.push(format!(
            "{name}: upload {:.1} ms, GET InRelease {:.1} ms",
            median(up).as_secs_f64() * 1e3,
            median(get).as_secs_f64() * 1e3
        ));
    }
    println!("latency, median of 5: {}", report.join("; "));
    for f in [
        "reposmith.wasm",
        "services.wasm",
        "deb.wasm",
        "rpm.wasm",
        "pacman.wasm",
        "apk.wasm",
        "freebsd.wasm",
        "cargo.wasm",
    ] {
        let size = std::fs::metadata(spin_built().join(f)).unwrap().len();
        println!("component {f}: {size} bytes");
    }
}

/// Every component source and dependency in spin.toml exists after the build, every slot
/// names the slot export, and every route of the API reaches a component.
#[test]
fn spin_toml_is_complete() {
    let dir = spin_built();
    let text = std::fs::read_to_string(workspace().join("spin.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(doc["spin_manifest_version"].as_integer(), Some(2));
    let resolve = |p: &str| match p.strip_prefix("target/") {
        Some(rest) => target().join(rest),
        None => workspace().join(p),
    };
    let components = doc["component"].as_table().unwrap();
    let mut slots = Vec::new();
    for (id, c) in components {
        let src = c["source"].as_str().unwrap();
        assert!(resolve(src).is_file(), "component {id}: {src} missing");
        if let Some(deps) = c.get("dependencies").and_then(|d| d.as_table()) {
            for (name, d) in deps {
                let p = d["path"].as_str().unwrap();
                assert!(resolve(p).is_file(), "{id} dependency {name}: {p} missing");
                assert_eq!(d["export"].as_str(), Some("reposmith:spin/slot@0.1.0"));
                slots.push(name.clone());
            }
        }
        // Every variable the handler reads is declared and passed through.
        let vars = c["variables"].as_table().unwrap();
        for v in [
            "token",
            "signing_key",
            "rsa_key",
            "bucket",
            "prefix",
            "table",
            "region",
            "aws_access_key_id",
            "aws_secret_access_key",
            "aws_session_token",
            "aws_endpoint_url",
        ] {
            assert!(vars.contains_key(v), "component {id} lacks variable {v}");
            assert!(
                doc["variables"].get(v).is_some(),
                "application lacks variable {v}"
            );
        }
        let hosts = c["allowed_outbound_hosts"].as_array().unwrap();
        assert!(hosts
            .iter()
            .any(|h| h.as_str() == Some("https://*.amazonaws.com")));
    }
    // The handler imports generator-a ... generator-l (wit/spin/spin.wit): all are mapped.
    slots.sort();
    let want: Vec<String> = "abcdefghijkl"
        .chars()
        .map(|c| format!("generator-{c}"))
        .collect();
    assert_eq!(slots, want);
    assert!(dir.join("reposmith.wasm").is_file());

    // One example path per route of functions/lib/core/src/routes.rs.
    let routes: Vec<(String, String)> = doc["trigger"]["http"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["route"].as_str().unwrap().to_string(),
                t["component"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let routed = |path: &str| {
        routes.iter().any(|(r, c)| {
            components.contains_key(c)
                && match r.strip_suffix("/...") {
                    Some(prefix) => {
                        prefix.is_empty()
                            || path == prefix
                            || path.starts_with(&format!("{prefix}/"))
                    }
                    None => r == path,
                }
        })
    };
    let src =
        std::fs::read_to_string(workspace().join("functions/lib/core/src/routes.rs")).unwrap();
    for (variant, path) in [
        ("Root", "/"),
        ("Repos", "/repos/"),
        ("Repo", "/repos/r/"),
        ("Rebuild", "/repos/r/rebuild"),
        ("Packages", "/repos/r/packages/"),
        ("Package", "/repos/r/packages/x_1.0_all.deb"),
        ("Key", "/repos/r/key.asc"),
        ("Keys", "/repos/r/keys/"),
        ("RepoKey", "/repos/r/keys/AB12"),
        ("RepoEnable", "/repos/r/enable"),
        ("RepoDisable", "/repos/r/disable"),
        ("Configs", "/repos/r/config/"),
        ("Config", "/repos/r/config/apt"),
        ("History", "/repos/r/history"),
        ("Rollback", "/repos/r/rollback"),
        ("Transactions", "/repos/r/transactions"),
        ("Snapshots", "/repos/r/snapshots/"),
        ("Snapshot", "/repos/r/snapshots/s1"),
        ("Uploads", "/repos/r/uploads/"),
        ("Upload", "/repos/r/uploads/id"),
        ("Tree", "/repos/r/dist/dists/stable/InRelease"),
        ("Generators", "/generators/"),
        ("Generator", "/generators/deb"),
        ("GeneratorEnable", "/generators/deb/enable"),
        ("Tokens", "/tokens/"),
        ("Token", "/tokens/ci"),
        ("Metrics", "/metrics"),
        ("OpenApi", "/openapi.json"),
        ("VieterRepo", "/r"),
        ("VieterPublish", "/r/publish"),
        ("VieterArch", "/r/x86_64"),
        ("VieterFile", "/r/x86_64/r.db"),
        ("UiRepos", "/ui/"),
        ("UiAsset", "/ui/assets/app.js"),
        ("UiRepo", "/ui/repos/r"),
        ("UiPackage", "/ui/repos/r/packages/x_1.0_all.deb"),
        ("UiSetup", "/ui/repos/r/setup"),
        ("UiHistory", "/ui/repos/r/history"),
    ] {
        assert!(
            src.contains(&format!("Route::{variant}")),
            "routes.rs has no {variant}"
        );
        assert!(
            routed(path),
            "{variant} ({path}) is not routed by spin.toml"
        );
    }
    // Every variant of `Route` is in the list above (NotFound needs no route).
    let variants = src
        .split("pub enum Route {")
        .nth(1)
        .unwrap()
        .split("\n}")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            (!l.starts_with("//") && !l.is_empty())
                .then(|| l.split(['(', ',']).next().unwrap().to_string())
        })
        .filter(|v| !v.is_empty() && v != "NotFound")
        .count();
    assert_eq!(variants, 38, "a route was added to routes.rs: list it here");
}
