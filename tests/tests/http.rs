//! HTTP semantics of published files over real HTTP (ureq and curl against the local
//! server): `ETag` / `Last-Modified`, 304 for `If-None-Match` and `If-Modified-Since`, single
//! byte ranges (206, 416, `curl -C -` resuming), HEAD like GET; and the read cache never
//! serving a stale answer: every write is seen by the next read, in the same server and in
//! another server process on the same data directory, with the caches warm. Also the
//! connection limits: running out of file descriptors, stalled clients, the connection cap.
mod common;
use common::*;
use std::path::Path;
use std::process::Command;

const IN_RELEASE: &str = "/dists/stable/InRelease";
const PACKAGES: &str = "/dists/stable/main/binary-amd64/Packages";

/// Status, headers (lower-case names) and body of a request with extra headers.
fn req(method: &str, url: &str, headers: &[(&str, &str)]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut r = ureq::request(method, url);
    for (k, v) in headers {
        r = r.set(k, v);
    }
    let resp = match r.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let hs = resp
        .headers_names()
        .into_iter()
        .map(|n| {
            (
                n.to_lowercase(),
                resp.header(&n).unwrap_or_default().to_string(),
            )
        })
        .collect();
    let mut body = Vec::new();
    resp.into_reader().read_to_end(&mut body).unwrap();
    (status, hs, body)
}

fn header<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    hs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `curl ARGS URL` into a fresh file: (status, the file's bytes).
fn curl(args: &[&str], url: &str, out: &Path) -> (u16, Vec<u8>) {
    let o = run_ok(
        Command::new("curl")
            .args(["-sS", "-o"])
            .arg(out)
            .args(["-w", "%{http_code}"])
            .args(args)
            .arg(url),
    );
    let status = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
    (status, std::fs::read(out).unwrap_or_default())
}

#[test]
fn conditional_and_range_requests() {
    let server = Server::start(&tmp().join("data"));
    server.create_repo("h");
    let debs = many_debs(3, "http");
    assert_eq!(server.upload("h", &debs[0]).status, 201);
    // Generations in different seconds: Last-Modified names one generation's bytes.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(server.upload("h", &debs[1]).status, 201);

    let url = server.u(&format!("/repos/h/dist{IN_RELEASE}"));
    let (status, hs, whole) = req("GET", &url, &[]);
    assert_eq!(status, 200);
    let etag = header(&hs, "etag").unwrap().to_string();
    assert_eq!(etag, format!("\"{}\"", sha256_hex(&whole)));
    let lm = header(&hs, "last-modified")
        .expect("Last-Modified")
        .to_string();
    assert_eq!(header(&hs, "accept-ranges"), Some("bytes"));

    // 304 with no body, for GET and HEAD, by ETag or by date.
    for method in ["GET", "HEAD"] {
        for h in [
            ("If-None-Match", etag.as_str()),
            ("If-Modified-Since", lm.as_str()),
        ] {
            let (status, hs, body) = req(method, &url, &[h]);
            assert_eq!(status, 304, "{method} with {h:?}");
            assert!(body.is_empty());
            assert_eq!(header(&hs, "etag"), Some(etag.as_str()));
        }
    }
    let (status, _, body) = req("GET", &url, &[("If-None-Match", "\"other\"")]);
    assert_eq!((status, body.len()), (200, whole.len()));
    let (status, _, _) = req(
        "GET",
        &url,
        &[("If-Modified-Since", "Thu, 01 Jan 2004 00:00:00 GMT")],
    );
    assert_eq!(status, 200);
    // A client holding the previous generation's copy asks right after a write: 200, even
    // when both generations were published within the same second.
    let (_, hs, _) = req("GET", &url, &[]);
    let before = header(&hs, "last-modified").unwrap().to_string();
    assert_eq!(server.upload("h", &debs[2]).status, 201);
    let (status, _, fresh) = req("GET", &url, &[("If-Modified-Since", &before)]);
    assert_eq!(
        status, 200,
        "a write is not hidden by a date in the same second"
    );
    assert_ne!(fresh, whole);

    // Ranges, compared with the whole file as curl fetches it, on a package in the pool
    // (tree route) and on the package route.
    let packages = server.get(&format!("/repos/h/dist{PACKAGES}")).text();
    let pool = stanzas(&packages)
        .iter()
        .map(|s| field(s, "Filename").unwrap().to_string())
        .next()
        .unwrap();
    let name = pool.rsplit('/').next().unwrap().to_string();
    let dir = tmp();
    for url in [
        server.u(&format!("/repos/h/dist/{pool}")),
        server.u(&format!("/repos/h/packages/{name}")),
    ] {
        let (status, whole) = curl(&[], &url, &dir.join("whole"));
        assert_eq!(status, 200);
        let n = whole.len();
        assert!(n > 200);
        for (range, want) in [
            ("0-99", &whole[..100]),
            ("100-", &whole[100..]),
            ("-50", &whole[n - 50..]),
            ("10-10", &whole[10..11]),
            (&format!("{}-{}", n - 5, n + 100), &whole[n - 5..]),
        ] {
            let (status, got) = curl(&["-r", range], &url, &dir.join("part"));
            assert_eq!((status, got.as_slice()), (206, want), "{url} -r {range}");
        }
        let (status, hs, body) = req("GET", &url, &[("Range", "bytes=100-199")]);
        assert_eq!(status, 206);
        assert_eq!(
            header(&hs, "content-range"),
            Some(format!("bytes 100-199/{n}").as_str())
        );
        assert_eq!(body, &whole[100..200]);
        // HEAD: the same status and headers, no body.
        let (hstatus, hhs, hbody) = req("HEAD", &url, &[("Range", "bytes=100-199")]);
        assert_eq!(hstatus, 206);
        assert!(hbody.is_empty());
        for h in ["content-range", "content-length", "etag", "content-type"] {
            assert_eq!(header(&hhs, h), header(&hs, h), "HEAD {h}");
        }
        // Past the end: 416 with a JSON body; a changed file (If-Range): the whole of it.
        let (status, hs, body) = req("GET", &url, &[("Range", &format!("bytes={n}-"))]);
        assert_eq!(status, 416);
        assert_eq!(
            header(&hs, "content-range"),
            Some(format!("bytes */{n}").as_str())
        );
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(
            v["detail"].as_str().unwrap().contains(&n.to_string()),
            "{v}"
        );
        let (status, _, body) = req(
            "GET",
            &url,
            &[("Range", "bytes=0-9"), ("If-Range", "\"other\"")],
        );
        assert_eq!((status, body.len()), (200, n));
        // An interrupted download resumed by curl.
        let part = dir.join("resumed");
        std::fs::write(&part, &whole[..n / 3]).unwrap();
        let (status, got) = curl(&["-C", "-"], &url, &part);
        assert_eq!(status, 206);
        assert_eq!(got, whole, "resumed download");
    }
}

#[test]
fn every_write_is_seen_by_the_next_read_in_both_servers_on_one_data_dir() {
    let data = tmp().join("data");
    let a = Server::start(&data);
    let b = Server::start(&data);
    a.create_repo("rw");
    let debs = many_debs(4, "rw");
    let listed = |s: &Server| {
        let r = s.get(&format!("/repos/rw/dist{PACKAGES}"));
        assert_eq!(r.status, 200);
        stanzas(&r.text()).len()
    };
    for (i, deb) in debs.iter().enumerate() {
        // Warm both caches on the current generation.
        for s in [&a, &b] {
            for _ in 0..3 {
                assert_eq!(listed(s), i);
            }
        }
        let (_, hs, _) = req("GET", &b.u(&format!("/repos/rw/dist{IN_RELEASE}")), &[]);
        let etag = header(&hs, "etag").unwrap().to_string();
        // Writes alternate between the servers; both read the new generation at once.
        let writer = if i % 2 == 0 { &a } else { &b };
        assert_eq!(writer.upload("rw", deb).status, 201);
        for s in [&a, &b] {
            assert_eq!(
                listed(s),
                i + 1,
                "the upload is in the next read's Packages"
            );
            let (status, _, _) = req(
                "GET",
                &s.u(&format!("/repos/rw/dist{IN_RELEASE}")),
                &[("If-None-Match", &etag)],
            );
            assert_eq!(status, 200, "the old InRelease's ETag no longer matches");
        }
    }
    // A deleted repo is gone for both at once; created again, it is the new one.
    assert_eq!(a.send("DELETE", "/repos/rw/", None).status, 200);
    for s in [&a, &b] {
        assert_eq!(s.get(&format!("/repos/rw/dist{IN_RELEASE}")).status, 404);
        assert_eq!(s.get(&format!("/repos/rw/dist{PACKAGES}")).status, 404);
    }
    b.create_repo("rw");
    for s in [&a, &b] {
        assert_eq!(listed(s), 0);
    }
}

#[test]
fn a_cached_get_on_dynamodb_reads_one_item_and_no_object() {
    let moto = common::moto::Moto::start();
    let server = moto.server("cached");
    server.create_repo("d");
    assert_eq!(server.upload("d", &many_debs(1, "ddb")[0]).status, 201);
    for path in [IN_RELEASE, PACKAGES] {
        let url = format!("/repos/d/dist{path}");
        for _ in 0..3 {
            assert_eq!(server.get(&url).status, 200);
        }
        // The server logs the store requests each request sent (they do not overlap here).
        let log = std::fs::read_to_string(&server.log).unwrap();
        let line = log
            .lines()
            .rfind(|l| l.starts_with(&format!("GET {url} 200")))
            .unwrap();
        assert!(
            line.ends_with("[DynamoDB.GetItem=1]"),
            "a cached GET checks the published pointer once and reads nothing else: {line}"
        );
    }
}

/// `--read-lease-ms` on DynamoDB: GETs within a lease read no item, and a write on another
/// server answers only once every lease on the pointer before it is over, so the next GET on
/// either server sees it (its pointer was held meanwhile: nobody leased it).
#[test]
fn a_read_lease_reads_no_item_and_hides_no_write_from_another_server() {
    const LEASE_MS: u64 = 1000;
    let moto = common::moto::Moto::start();
    let mut opts = moto.server_opts("lease");
    opts.args
        .extend(["--read-lease-ms".into(), LEASE_MS.to_string()]);
    let data = tmp().join("data");
    let a = Server::start_opts(&data, &built().generators, opts.clone());
    let b = Server::start_opts(&data, &built().generators, opts);
    a.create_repo("l");
    let url = format!("/repos/l/dist{PACKAGES}");
    let listed = |s: &Server| {
        let r = s.get(&url);
        assert_eq!(r.status, 200);
        stanzas(&r.text()).len()
    };
    let items = |s: &Server| {
        let log = std::fs::read_to_string(&s.log).unwrap();
        let lines: Vec<String> = log
            .lines()
            .filter(|l| l.starts_with(&format!("GET {url} 200")))
            .map(str::to_string)
            .collect();
        lines
    };
    for (i, deb) in many_debs(3, "lease").iter().enumerate() {
        // Both servers lease the current generation: past the first GET, no GetItem.
        for s in [&a, &b] {
            let before = items(s).len();
            for _ in 0..5 {
                assert_eq!(listed(s), i);
            }
            let read: Vec<String> = items(s)[before..]
                .iter()
                .filter(|l| l.contains("DynamoDB.GetItem"))
                .cloned()
                .collect();
            assert!(read.len() <= 1, "GETs in a lease read the table: {read:?}");
        }
        let writer = if i % 2 == 0 { &a } else { &b };
        let began = std::time::Instant::now();
        assert_eq!(writer.upload("l", deb).status, 201);
        assert!(
            began.elapsed() >= std::time::Duration::from_millis(LEASE_MS),
            "the upload answered inside the other server's lease"
        );
        for s in [&a, &b] {
            assert_eq!(listed(s), i + 1, "a read missed the upload");
        }
    }
}

/// A read lease past the longest (every write would wait as long) is refused before the
/// server starts, naming the bound.
#[test]
fn a_read_lease_past_the_longest_is_refused() {
    let out = Command::new(&built().bin)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--read-lease-ms",
            "20000",
            "--data",
        ])
        .arg(tmp().join("data"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("--read-lease-ms") && err.contains("0..=10000"),
        "{err}"
    );
}

/// Holds `n` TCP connections to the server open, each having sent `sent` (maybe nothing).
fn hold(url: &str, n: usize, sent: &[u8]) -> Vec<std::net::TcpStream> {
    use std::io::Write;
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    (0..n)
        .filter_map(|_| std::net::TcpStream::connect(addr).ok())
        .map(|mut s| {
            let _ = s.write_all(sent);
            s
        })
        .collect()
}

/// A GET of `/` answered 200 within `within` (retried: a server at its limits may be slow).
fn answers_within(server: &Server, within: std::time::Duration) -> bool {
    let until = std::time::Instant::now() + within;
    while std::time::Instant::now() < until {
        if ureq::get(&server.u("/"))
            .timeout(std::time::Duration::from_secs(2))
            .call()
            .is_ok_and(|r| r.status() == 200)
        {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}

/// More connections than the server has file descriptors: accept fails with "Too many open
/// files", and the server must log it and go on (it used to exit), then serve once they close.
#[test]
fn running_out_of_file_descriptors_does_not_stop_the_server() {
    let mut server = Server::start(&tmp().join("data"));
    let pid = server.child.id().to_string();
    let limited = Command::new("prlimit")
        .args(["--pid", &pid, "--nofile=96:96"])
        .status()
        .expect("prlimit (util-linux)");
    assert!(limited.success());
    let held = hold(&server.url, 300, b"");
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server exited with {} connections open: {}",
        held.len(),
        std::fs::read_to_string(&server.log).unwrap_or_default()
    );
    drop(held);
    assert!(
        answers_within(&server, std::time::Duration::from_secs(20)),
        "no answer after the connections closed"
    );
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(log.contains("accept: "), "accept errors not logged: {log}");
}

/// A client that sends part of its headers and stalls (slowloris), or connects and sends
/// nothing, is cut off after `--header-timeout`; and `--max-connections` only makes others
/// wait, it does not turn them away.
#[test]
fn stalled_connections_are_closed_and_the_cap_only_queues() {
    use std::io::Read;
    let opts = Opts {
        args: ["--header-timeout", "1", "--max-connections", "8"]
            .map(String::from)
            .to_vec(),
        ..Default::default()
    };
    let server = Server::start_opts(&tmp().join("data"), &built().generators, opts);
    let stalled = hold(&server.url, 12, b"GET / HTTP/1.1\r\nHost: x\r\n");
    assert_eq!(stalled.len(), 12);
    // 8 are being served, 4 wait to be accepted: all are cut off within a few timeouts.
    for mut s in stalled {
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 256];
        let closed = match s.read(&mut buf) {
            Ok(_) => true, // EOF, or hyper's 408 before it closes
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        };
        assert!(closed, "a stalled connection stayed open for 10 s");
    }
    assert!(answers_within(&server, std::time::Duration::from_secs(5)));
}

/// Lets this test process hold as many sockets as its hard limit allows.
fn raise_own_fd_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let hard: u64 = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let pid = std::process::id().to_string();
    let set = format!("--nofile={hard}:{hard}");
    run_ok(Command::new("prlimit").args(["--pid", &pid, &set]));
    hard
}

/// 5,000 idle connections and 300 slowloris ones (headers trickling in) held at once: the
/// server stays up, answers a GET of InRelease within 100 ms (median of 20) meanwhile, and
/// its memory is back (within 20% of before, or 3/4 of the growth given back) once they are gone.
#[test]
fn idle_and_slowloris_connections_do_not_slow_a_get() {
    use std::time::{Duration, Instant};
    assert!(
        raise_own_fd_limit() > 5_400,
        "the hard open-file limit is too low for 5,300 sockets"
    );
    let server = Server::start(&tmp().join("data"));
    server.create_repo("a");
    let r = server.upload("a", &fixture_debs().join(FIXTURE_DEBS[0]));
    assert_eq!(r.status, 201, "{}", r.text());
    let url = server.u(&format!("/repos/a/dist{IN_RELEASE}"));
    let get = || {
        let t = Instant::now();
        let r = ureq::get(&url).timeout(Duration::from_secs(10)).call();
        assert_eq!(r.map(|r| r.status()).ok(), Some(200));
        t.elapsed()
    };
    for _ in 0..50 {
        get();
    }
    let rss_before = server.rss_kib();

    let idle = hold(&server.url, 5_000, b"");
    let mut slow = hold(&server.url, 300, b"GET / HTTP/1.1\r\nHost: x\r\n");
    assert_eq!((idle.len(), slow.len()), (5_000, 300));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let trickle = std::thread::spawn(move || {
        use std::io::Write;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            for s in &mut slow {
                let _ = s.write_all(b"X");
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        slow
    });
    std::thread::sleep(Duration::from_secs(1));
    let mut took: Vec<Duration> = (0..20)
        .map(|_| {
            let t = get();
            std::thread::sleep(Duration::from_millis(100));
            t
        })
        .collect();
    took.sort();
    let rss_during = server.rss_kib();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let slow = trickle.join().unwrap();
    println!(
        "under 5,000 idle + 300 slowloris: GET median {:?}, max {:?}; RSS {rss_before} KiB before, {rss_during} KiB during",
        took[10], took[19]
    );
    let mut server = server;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server exited under the flood"
    );
    assert!(
        took[10] < Duration::from_millis(100),
        "GET median {:?}",
        took[10]
    );
    drop(idle);
    drop(slow);
    // Memory back: once the connections are gone (closed by the clients now).
    // Back within 20% of before, or at least three quarters of what the flood took given
    // back (a busy machine leaves the allocator some pages; a leak per connection keeps most).
    let back = |rss: u64| {
        rss * 10 <= rss_before * 12
            || rss_during.saturating_sub(rss) * 4 >= rss_during.saturating_sub(rss_before) * 3
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let rss_after = loop {
        std::thread::sleep(Duration::from_millis(500));
        let rss = server.rss_kib();
        if back(rss) || Instant::now() > deadline {
            break rss;
        }
    };
    println!("RSS after: {rss_after} KiB");
    assert!(
        back(rss_after),
        "RSS {rss_after} KiB after the flood, {rss_before} KiB before, {rss_during} KiB during"
    );
    get();
}
