//! Many server processes on one S3 bucket and one DynamoDB table (a moto server on the
//! wire), on one Redis, on one PostgreSQL: the compare-and-set commit keeps them correct. Also storage that misbehaves
//! (injected faults), downloads by presigned redirect, and an unreachable endpoint.
mod common;
use common::moto::Moto;
use common::*;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PACKAGES: &str = "/dists/stable/main/binary-amd64/Packages";

/// Every package of the repo as the API and the index see it, each fetched (following a
/// presigned redirect) and checked against the sha256 the index promises.
fn verify_repo(server: &Server, repo: &str) -> BTreeSet<String> {
    assert!(check_release(server, repo, "stable") >= 3);
    let text = server.get(&format!("/repos/{repo}/dist{PACKAGES}")).text();
    let mut names = BTreeSet::new();
    for s in stanzas(&text) {
        let file = field(&s, "Filename").unwrap();
        let r = server.get(&format!("/repos/{repo}/dist/{file}"));
        assert_eq!(r.status, 200, "{file} listed but not served");
        assert_eq!(
            sha256_hex(&r.body),
            field(&s, "SHA256").unwrap(),
            "{file}: bytes differ from the index"
        );
        names.insert(file.rsplit('/').next().unwrap().to_string());
    }
    let list = server.get(&format!("/repos/{repo}/packages/")).json();
    let api: BTreeSet<String> = list["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["filename"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(api, names, "the API and the published index disagree");
    names
}

fn pct(lat: &mut [f64], p: f64) -> f64 {
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    lat[((lat.len() as f64 * p).ceil() as usize).saturating_sub(1)]
}

#[test]
fn four_servers_on_one_bucket_and_table_publish_all_64_uploads() {
    let moto = Moto::start();
    four_servers(moto.server_opts("four"), "moto");
}

/// The same with the metadata on one Redis (packages on the file store they share).
#[test]
fn four_servers_on_one_redis_publish_all_64_uploads() {
    let backend = backends::Backend::start("redis");
    four_servers(backend.opts("four"), "redis");
}

/// The same with the metadata on one PostgreSQL.
#[test]
fn four_servers_on_one_postgres_publish_all_64_uploads() {
    let backend = backends::Backend::start("postgres");
    four_servers(backend.opts("four"), "postgres");
}

/// The same on one Redis with read leases (`--read-lease-ms`): every publish holds the
/// pointer and waits the leases out, and still no upload is lost or unread.
#[test]
fn four_servers_with_read_leases_publish_all_64_uploads() {
    let backend = backends::Backend::start("redis");
    let mut opts = backend.opts("four");
    opts.args.extend(["--read-lease-ms".into(), "200".into()]);
    four_servers(opts, "redis with read leases of 200 ms");
}

fn four_servers(opts: Opts, on: &str) {
    // One data directory: the four share the token and signing keys (and, but on S3, the
    // package store), as instances of one deployment share their secrets.
    let data = tmp().join("data");
    let servers: Vec<Arc<Server>> = (0..4)
        .map(|_| Arc::new(Server::start_opts(&data, &built().generators, opts.clone())))
        .collect();
    servers[0].create_repo("shared");
    let debs = many_debs(64, "dist");
    let barrier = Arc::new(std::sync::Barrier::new(debs.len()));
    let handles: Vec<_> = debs
        .into_iter()
        .enumerate()
        .map(|(i, deb)| {
            let server = servers[i % 4].clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let name = deb.file_name().unwrap().to_str().unwrap().to_string();
                barrier.wait();
                let t = Instant::now();
                let r = server.upload("shared", &deb);
                let took = t.elapsed().as_secs_f64() * 1000.0;
                assert_eq!(r.status, 201, "{name}: {}", r.text());
                // Read your writes, from the server that answered.
                let p = server.get(&format!("/repos/shared/dist{PACKAGES}")).text();
                assert!(
                    p.contains(&format!("/{name}\n")),
                    "{name} answered 201 but is not in its server's Packages"
                );
                took
            })
        })
        .collect();
    let mut lat: Vec<f64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    println!(
        "64 uploads over 4 servers on {on}: p50 {:.0} ms, p99 {:.0} ms",
        pct(&mut lat, 0.50),
        pct(&mut lat, 0.99)
    );
    // Every server serves the same, complete, consistent tree.
    let first = verify_repo(&servers[0], "shared");
    assert_eq!(first.len(), 64);
    for s in &servers[1..] {
        assert_eq!(verify_repo(s, "shared"), first);
    }
    let generation = servers[0].get("/repos/shared/packages/").json()["generation"]
        .as_u64()
        .unwrap();
    println!(
        "64 uploads over 4 servers published in {} generations",
        generation - 1
    );
}

#[test]
fn injected_store_faults_lose_no_package_and_leave_no_dangling_blob() {
    let moto = Moto::start();
    injected_faults(moto.server_opts("faults"));
}

/// The same with the metadata on Redis, and on PostgreSQL (one test: the faults hit the
/// metadata calls, whatever answers them).
#[test]
fn injected_faults_on_redis_and_postgres_lose_nothing() {
    for kind in ["redis", "postgres"] {
        let backend = backends::Backend::start(kind);
        injected_faults(backend.opts("faults"));
    }
}

fn injected_faults(mut opts: Opts) {
    let data = tmp().join("data");
    // Set up the repo on a well-behaved server first.
    {
        let clean = Server::start_opts(&data, &built().generators, opts.clone());
        clean.create_repo("shaky");
    }
    opts.env.push((
        "REPOSMITH_FAULTS".into(),
        [
            "meta.put_if=lost-reply@0.15",
            "meta.put_if=conflict@0.15",
            "meta.get=error@0.03",
            "packages.put=lost-reply@0.1",
            "packages.put_bytes=lost-reply@0.05",
            "packages.put_bytes=error@0.03",
            "packages.put=delay:100@0.2",
        ]
        .join(","),
    ));
    let servers: Vec<Arc<Server>> = (0..2)
        .map(|_| Arc::new(Server::start_opts(&data, &built().generators, opts.clone())))
        .collect();
    let debs = many_debs(24, "shaky");
    let handles: Vec<_> = debs
        .into_iter()
        .enumerate()
        .map(|(i, deb)| {
            let server = servers[i % 2].clone();
            std::thread::spawn(move || {
                // A client that retries on 5xx, as apt-ftparchive users' scripts do.
                for attempt in 0.. {
                    let r = server.upload("shaky", &deb);
                    if r.status < 300 {
                        return attempt;
                    }
                    assert!(
                        r.status >= 500,
                        "{}: {} {}",
                        deb.display(),
                        r.status,
                        r.text()
                    );
                    // Each attempt makes progress (stored, committed, then published), and a
                    // publish writes a score of blobs, each under the faults: allow many.
                    assert!(attempt < 200, "{} never got through", deb.display());
                    std::thread::sleep(Duration::from_millis(20));
                }
                unreachable!()
            })
        })
        .collect();
    let retries: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    // Counted on the servers' logs: how many of them reach a client as a 5xx depends on how
    // the uploads batched into publishes, and can be none on a loaded machine.
    let injected: usize = servers
        .iter()
        .map(|s| {
            let log = std::fs::read_to_string(&s.log).unwrap();
            log.matches("injected fault: ").count()
        })
        .sum();
    println!("24 uploads through {injected} injected faults: {retries} retries after 5xx");
    assert!(injected > 0, "the faults were not injected");
    drop(servers);
    // A well-behaved server on the same bucket and table sees all 24, every blob present.
    opts.env.retain(|(k, _)| k != "REPOSMITH_FAULTS");
    let clean = Server::start_opts(&data, &built().generators, opts);
    assert_eq!(verify_repo(&clean, "shaky").len(), 24);
}

#[test]
fn download_redirects_to_a_presigned_url_curl_follows() {
    let moto = Moto::start();
    let opts = moto.server_opts("redirect");
    let server = Server::start_opts(&tmp().join("data"), &built().generators, opts);
    server.create_repo("r");
    let deb = fixture_debs().join("harness-app_1.0-1_amd64.deb");
    assert_eq!(server.upload("r", &deb).status, 201);
    let url = server.u("/repos/r/packages/harness-app_1.0-1_amd64.deb");
    let head = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
            &url,
        ])
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&head.stdout).to_string();
    assert!(head.starts_with("307 "), "{head}");
    assert!(
        head.contains(&moto.endpoint) && head.contains("X-Amz-Signature="),
        "not a presigned storage URL: {head}"
    );
    let body = std::process::Command::new("curl")
        .args(["-sfL", &url])
        .output()
        .unwrap();
    assert!(body.status.success());
    let want = sha256_hex(&std::fs::read(&deb).unwrap());
    assert_eq!(sha256_hex(&body.stdout), want);
    drop(server);

    // Presigning off (`?presign=0`): the same download streams through the server.
    let mut opts = moto.server_opts("redirect");
    opts.args[1].push_str("?presign=0");
    let server = Server::start_opts(&tmp().join("data2"), &built().generators, opts);
    let r = server.get("/repos/r/packages/harness-app_1.0-1_amd64.deb");
    assert_eq!(r.status, 200, "no redirect when presigning is off");
    assert_eq!(sha256_hex(&r.body), want);
}

#[test]
fn an_unreachable_endpoint_is_a_clear_error_not_a_hang() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bin = &built().bin;
    let t = Instant::now();
    let out = std::process::Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(tmp().join("data"))
        .args([
            "--packages",
            "s3://nowhere/x",
            "--meta",
            "dynamodb://nowhere",
        ])
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    let took = t.elapsed();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("s3://nowhere/x"), "{err}");
    assert!(
        err.to_lowercase().contains("connect") || err.contains("refused"),
        "{err}"
    );
    assert!(took < Duration::from_secs(60), "took {took:?}");
}
