//! The Lambda functions behind `cargo lambda watch --only-lambda-apis` (cargo-lambda's
//! runtime emulator, the same lambda_http event path as AWS) against moto (S3, DynamoDB,
//! Secrets Manager on the wire): no generator until one is `POST`ed to `/generators/` (bad
//! .wasm refused with 422), then a repo, a small .deb uploaded directly and an 8 MB one
//! through the presigned S3 flow (`manage-repo add` picks it by itself), then real apt
//! installs both through the read function's HTTP endpoint (the large file by a 307 to a
//! presigned S3 GET). A restarted write function (a cold instance) loads the generator from
//! its precompiled artifact.
mod common;
use common::moto::Moto;
use common::*;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A Secrets Manager call on moto's JSON wire protocol (the request is what the SDK sends,
/// minus a real signature, which moto does not check).
fn secrets(moto: &Moto, target: &str, body: serde_json::Value) -> serde_json::Value {
    let r = ureq::post(&moto.endpoint)
        .set("Content-Type", "application/x-amz-json-1.1")
        .set("X-Amz-Target", &format!("secretsmanager.{target}"))
        .set(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
        )
        .send_string(&body.to_string());
    match r {
        Ok(r) => r.into_json().unwrap(),
        Err(ureq::Error::Status(s, r)) => panic!("{target}: {s} {}", r.into_string().unwrap()),
        Err(e) => panic!("{target}: {e}"),
    }
}

/// `cargo lambda watch --only-lambda-apis` (the emulator alone), and both functions of
/// functions/lambda run from the binaries tests/build.sh built, each polling its runtime API
/// as Lambda's runtime does. Not `cargo lambda watch` building them itself: its `cargo run
/// --bin` selects the Lambda package alone, which resolves wasmtime, hyper and the AWS SDK
/// with other features than the workspace's build and rebuilt them all (minutes on a new
/// machine, and the binaries relinked in place).
struct Watch {
    child: Child,
    functions: Vec<Child>,
    port: u16,
    log: Arc<Mutex<String>>,
}

const FUNCTIONS: [&str; 2] = ["reposmith-read", "reposmith-write"];

/// Copies `out`'s lines to stderr and into `log`.
fn collect(out: impl std::io::Read + Send + 'static, log: &Arc<Mutex<String>>, tag: &str) {
    let (log, tag) = (log.clone(), tag.to_string());
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            eprintln!("[{tag}] {line}");
            let mut l = log.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
}

impl Watch {
    fn start(env: &[(String, String)]) -> Watch {
        built();
        let port = free_port();
        let mut cmd = Command::new("cargo");
        without_test_env(&mut cmd);
        cmd.args(["lambda", "watch", "--only-lambda-apis", "--quiet"])
            .args(["-A", "127.0.0.1", "-P"])
            .arg(port.to_string())
            .current_dir(workspace())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: Drop kills cargo and the emulator it runs.
            .process_group(0);
        let mut child = cmd
            .spawn()
            .expect("cargo lambda watch (pip install cargo-lambda)");
        let log = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take().unwrap(), &log, "watch");
        collect(child.stderr.take().unwrap(), &log, "watch");
        let deadline = Instant::now() + Duration::from_secs(120);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch did not start"
            );
            if let Some(st) = child.try_wait().unwrap() {
                panic!("cargo lambda watch exited: {st}\n{}", log.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        // The environment cargo-lambda gives a function it starts (one instance each).
        let functions = FUNCTIONS
            .iter()
            .map(|name| {
                let mut f = Command::new(target_release().join(name))
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .env("AWS_LAMBDA_FUNCTION_NAME", name)
                    .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
                    .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "4096")
                    .env("AWS_LAMBDA_MAX_CONCURRENCY", "1")
                    .env(
                        "AWS_LAMBDA_RUNTIME_API",
                        format!("http://127.0.0.1:{port}/.rt/{name}"),
                    )
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                collect(f.stdout.take().unwrap(), &log, name);
                collect(f.stderr.take().unwrap(), &log, name);
                f
            })
            .collect();
        Watch {
            child,
            functions,
            port,
            log,
        }
    }

    /// Base URL of a function: `http://127.0.0.1:PORT/lambda-url/FUNCTION`.
    fn url(&self, function: &str) -> String {
        format!("http://127.0.0.1:{}/lambda-url/{function}", self.port)
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        for f in &mut self.functions {
            let _ = f.kill();
            let _ = f.wait();
        }
        let _ = Command::new("kill")
            .args(["-9", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

fn call(method: &str, url: &str, token: Option<&str>, body: Option<&[u8]>) -> Resp {
    let mut req = ureq::request(method, url).timeout(Duration::from_secs(600));
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    if body.is_some() {
        // With a Content-Type, as clients send files (cargo-lambda 1.9.2's emulator drops
        // the connection on a binary body without one; API Gateway does not care).
        req = req.set("Content-Type", "application/octet-stream");
    }
    common::call(req, body)
}

fn manage_repo(server: &str, token: &str, args: &[&str]) -> std::process::Output {
    Command::new(&built().bin)
        .args(["--server", server, "--token", token])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn lambda_functions_serve_apt_with_uploads_of_any_size() {
    let b = built();
    let moto = Moto::start();
    let (packages, meta) = moto.stores("lambda");
    let token = "lambda-test-admin-token-0123456789";
    let t = secrets(
        &moto,
        "CreateSecret",
        serde_json::json!({ "Name": "reposmith/token", "SecretString": token }),
    );
    let token_arn = t["ARN"].as_str().unwrap().to_string();
    let k = secrets(
        &moto,
        "CreateSecret",
        serde_json::json!({ "Name": "reposmith/signing-keys" }),
    );
    let keys_arn = k["ARN"].as_str().unwrap().to_string();
    let mut env: Vec<(String, String)> = moto.env();
    env.push(("REPOSMITH_CHUNK_MEAN".into(), "2".into()));
    env.push(("REPOSMITH_PACKAGES".into(), packages.clone()));
    env.push(("REPOSMITH_META".into(), meta.clone()));
    env.push(("REPOSMITH_TOKEN_SECRET".into(), token_arn));
    env.push(("REPOSMITH_SIGNING_KEY_SECRET".into(), keys_arn.clone()));
    let cache = tmp().join("generator-cache");
    env.push((
        "REPOSMITH_GENERATOR_CACHE".into(),
        cache.display().to_string(),
    ));

    let mut watch = Watch::start(&env);
    let w = watch.url("reposmith-write");
    let r = watch.url("reposmith-read");

    // An authorized POST to the write function.
    let post =
        |path: &str, body: &[u8]| call("POST", &format!("{w}{path}"), Some(token), Some(body));

    // No generator yet: a .deb is claimed by nobody.
    let create = post("/repos/lam/", b"{}");
    assert_eq!(create.status, 201, "create: {}", create.text());
    let debs = fixture_debs();
    let lib = std::fs::read(debs.join("harness-lib_1.0-1_all.deb")).unwrap();
    let before = post(
        "/repos/lam/packages/?filename=harness-lib_1.0-1_all.deb",
        &lib,
    );
    assert_eq!(before.status, 422, "{}", before.text());

    // Generators: writes need the token; what breaks the contract is a clear 422.
    let deb_wasm = std::fs::read(b.generators.join("deb.wasm")).unwrap();
    let anon = call("POST", &format!("{w}/generators/"), None, Some(&deb_wasm));
    assert_eq!(anon.status, 401);
    for (bad, says) in [
        (&b"not wasm at all"[..], "not a WebAssembly component"),
        (&b"\0asm\x01\0\0\0"[..], "core WebAssembly module"),
    ] {
        let resp = post("/generators/", bad);
        assert_eq!(resp.status, 422, "{}", resp.text());
        assert!(resp.text().contains(says), "{}", resp.text());
    }
    let added = post("/generators/", &deb_wasm);
    assert_eq!(added.status, 201, "{}", added.text());
    // Another function (another instance) lists it at once, from the registry.
    let listed = call("GET", &format!("{r}/generators/"), None, None).json();
    let names: Vec<&str> = array(&listed, "generators")
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["deb"], "{listed}");

    // Small files straight in; the 8 MB one through the presigned flow.
    // 8 MiB: past Lambda's 6 MB request and response caps.
    let big = big_deb(&tmp(), 8);
    let small = fixture_deb_args();
    let mut args = vec!["add", "lam"];
    args.extend(small.iter().map(String::as_str));
    args.push(big.to_str().unwrap());
    let out = manage_repo(&w, token, &args);
    assert!(
        out.status.success(),
        "add: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let log = watch.log();
    assert!(
        log.contains("POST /repos/lam/uploads/ 201"),
        "the large file took the upload flow:\n{log}"
    );
    assert!(
        log.contains("POST /repos/lam/packages/ 201"),
        "small files went directly:\n{log}"
    );
    let list = call("GET", &format!("{r}/repos/lam/packages/"), None, None).json();
    assert_eq!(array(&list, "packages").len(), 4, "{list}");
    // Nothing went past Lambda's cap: the big package downloads by redirect to S3.
    let dl = ureq::AgentBuilder::new()
        .redirects(0)
        .build()
        .get(&format!(
            "{r}/repos/lam/packages/harness-big_1.0-1_amd64.deb"
        ))
        .call()
        .unwrap();
    assert_eq!(dl.status(), 307);
    assert!(dl.header("location").unwrap().starts_with(&moto.endpoint));

    // Real apt through the read function: signed metadata, dependencies, the 8 MB package.
    let key = tmp().join("lam.asc");
    let k = call("GET", &format!("{r}/repos/lam/key.asc"), None, None);
    assert_eq!(k.status, 200, "{}", k.text());
    std::fs::write(&key, &k.body).unwrap();
    let apt = Command::new("bash")
        .arg(workspace().join("tests/clients/apt.sh"))
        .arg(format!("{r}/repos/lam/dist"))
        .env("APT_KEY", &key)
        .env("APT_INSTALL", "harness-app harness-epoch harness-big")
        .env(
            "APT_EXPECT_FILES",
            "/usr/bin/harness-app /usr/share/harness-lib/VERSION /usr/share/harness-epoch/VERSION /usr/share/harness-big/blob",
        )
        .output()
        .unwrap();
    assert!(
        apt.status.success(),
        "apt via the read function:\n{}\n{}",
        String::from_utf8_lossy(&apt.stderr),
        watch.log()
    );

    // History across both functions: the read function lists the journal and serves a
    // snapshot's frozen tree; the write function snapshots, removes and rolls back.
    let h = call("GET", &format!("{r}/repos/lam/history"), None, None).json();
    let added: usize = array(&h, "entries")
        .iter()
        .map(|e| e["added"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(added, 4, "{h}");
    let snap = post("/repos/lam/snapshots/s1", b"");
    assert_eq!(snap.status, 201, "{}", snap.text());
    let epoch = format!("{w}/repos/lam/packages/harness-epoch_2.0+dfsg-1_amd64.deb");
    let del = call("DELETE", &epoch, Some(token), None);
    assert_eq!(del.status, 200, "{}", del.text());
    let index = "dist/dists/stable/main/binary-amd64/Packages";
    let listed = |repo: &str| {
        call("GET", &format!("{r}/repos/{repo}/{index}"), None, None)
            .text()
            .contains("Package: harness-epoch")
    };
    assert!(!listed("lam") && listed("lam@s1"));
    let back = format!("{{\"generation\": {}}}", snap.json()["generation"]);
    let rb = post("/repos/lam/rollback", back.as_bytes());
    assert_eq!(rb.status, 200, "{}", rb.text());
    assert!(
        listed("lam"),
        "the rollback did not bring harness-epoch back"
    );

    // Properties on the write function; the read function sees them at once (the pointer
    // carries the config's revision): a disabled repo's tree is 404 there, enabled again 200.
    let put = call(
        "PUT",
        &format!("{w}/repos/lam/"),
        Some(token),
        Some(br#"{"title": "Lambda Repo"}"#),
    );
    assert_eq!(put.status, 200, "{}", put.text());
    let apt = call("GET", &format!("{w}/repos/lam/config/apt"), None, None).text();
    assert!(apt.contains("X-Repolib-Name: Lambda Repo"), "{apt}");
    let inrelease = format!("{r}/repos/lam/dist/dists/stable/InRelease");
    assert!(call("GET", &inrelease, None, None)
        .text()
        .contains("Label: Lambda Repo"));
    let off = call(
        "POST",
        &format!("{w}/repos/lam/disable"),
        Some(token),
        Some(b""),
    );
    assert_eq!(off.status, 200, "{}", off.text());
    let gone = call("GET", &inrelease, None, None);
    assert_eq!(gone.status, 404, "{}", gone.text());
    assert_eq!(gone.json()["error"], "repo disabled");
    let on = call(
        "POST",
        &format!("{w}/repos/lam/enable"),
        Some(token),
        Some(b""),
    );
    assert_eq!(on.status, 200, "{}", on.text());
    assert_eq!(call("GET", &inrelease, None, None).status, 200);

    // The web interface: the repo list and its assets on the read function, the package
    // table (which asks the generators) on the write function, as template.yaml routes them.
    let list = call("GET", &format!("{r}/ui/"), None, None);
    assert_eq!(list.status, 200, "{}", list.text());
    assert!(list.text().contains("/ui/repos/lam"), "{}", list.text());
    let table = call("GET", &format!("{w}/ui/repos/lam"), None, None);
    assert_eq!(table.status, 200, "{}", table.text());
    assert!(table.text().contains("harness-lib"), "{}", table.text());
    let css = list
        .text()
        .split("href=\"/ui/assets/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(str::to_string)
        .expect("the page links its stylesheet");
    let asset = call("GET", &format!("{r}/ui/assets/{css}"), None, None);
    assert_eq!(asset.status, 200, "{css}: {}", asset.text());

    // A cold write instance (restarted, /tmp cache emptied) loads the generator from its
    // precompiled artifact in S3, and serves the next upload with it.
    drop(watch);
    std::fs::remove_dir_all(&cache).unwrap();
    watch = Watch::start(&env);
    let w = watch.url("reposmith-write");
    let again = manage_repo(&w, token, &["add", "lam", &small[0]]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let log = watch.log();
    assert!(
        log.contains("generator deb ready") && log.contains("precompiled artifact"),
        "{log}"
    );
    for line in log
        .lines()
        .filter(|l| l.contains("init ") || l.contains("instantiated") || l.contains("generators "))
    {
        eprintln!("TIMING {line}");
    }
}
