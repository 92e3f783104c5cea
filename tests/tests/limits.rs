//! Bounded resources and a tight data directory: request bodies over `--max-upload` and
//! oversized multipart parts are refused (413) without being buffered, a file no generator
//! claims is refused before any of it is stored, a body that breaks off is the client's fault,
//! half-written uploads are swept, and the data directory is the server user's alone.
mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

fn connect(server: &Server) -> TcpStream {
    let s = TcpStream::connect(server.url.trim_start_matches("http://")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s
}

/// Sends `head` (request line and headers), then up to `body_len` bytes of `chunk` over and
/// over from another thread (chunked when `chunked`) while this one reads the answer: the
/// status line and the body.
fn send_streaming(
    server: &Server,
    head: String,
    first: &[u8],
    body_len: u64,
    chunked: bool,
) -> (u16, String) {
    let mut s = connect(server);
    s.write_all(head.as_bytes()).unwrap();
    let mut w = s.try_clone().unwrap();
    let first = first.to_vec();
    let writer = std::thread::spawn(move || {
        let block = vec![b'x'; 1 << 20];
        let mut sent = 0u64;
        let mut piece = |data: &[u8]| -> std::io::Result<()> {
            if chunked {
                w.write_all(format!("{:x}\r\n", data.len()).as_bytes())?;
                w.write_all(data)?;
                w.write_all(b"\r\n")
            } else {
                w.write_all(data)
            }
        };
        let _ = (|| {
            piece(&first)?;
            sent += first.len() as u64;
            while sent < body_len {
                let n = (body_len - sent).min(block.len() as u64) as usize;
                piece(&block[..n])?;
                sent += n as u64;
            }
            if chunked {
                piece(b"")?; // the last chunk
            }
            Ok::<_, std::io::Error>(())
        })();
        sent
    });
    let text = read_answer(&mut s);
    drop(s);
    let sent = writer.join().unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer after {sent} bytes sent: {text:?}"));
    (status, text)
}

/// An answer's head and JSON body, read until the body is complete (or the server closes).
fn read_answer(s: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&answer);
                if text.contains("\r\n\r\n") && text.trim_end().ends_with('}') {
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Files under `dir` (recursively).
fn files_under(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| {
                let p = e.unwrap().path();
                if p.is_dir() {
                    files_under(&p)
                } else {
                    1
                }
            })
            .sum()
        })
        .unwrap_or(0)
}

/// The start of a .deb: the generators claim it by these bytes.
fn deb_head() -> Vec<u8> {
    let deb = std::fs::read(fixture_debs().join(FIXTURE_DEBS[0])).unwrap();
    deb[..deb.len().min(4096)].to_vec()
}

#[test]
fn oversized_bodies_are_refused_without_buffering_and_leave_nothing() {
    let opts = Opts {
        args: ["--max-upload", "16M"].map(String::from).to_vec(),
        ..Default::default()
    };
    let server = Server::start_opts(&tmp().join("data"), &built().generators, opts);
    server.create_repo("r");
    let blobs = server.data.join("packages/blobs");
    let before_blobs = files_under(&blobs);
    let rss_before = server.rss_kib();
    let auth = format!("Authorization: Bearer {}\r\n", server.token);

    // Declared too large: 413 before a byte of the body is read.
    let t = Instant::now();
    let (status, text) = send_streaming(
        &server,
        format!(
            "POST /repos/r/packages/?filename=big.deb HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 3221225472\r\n\r\n"
        ),
        &deb_head(),
        0,
        false,
    );
    println!("3 GiB declared: {status} in {:?}", t.elapsed());
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("larger than"), "{text}");
    assert!(t.elapsed() < Duration::from_secs(5));

    // Streamed (chunked) past the limit: 413 once it passes, the bytes so far deleted.
    let t = Instant::now();
    let (status, text) = send_streaming(
        &server,
        format!(
            "POST /repos/r/packages/?filename=big.deb HTTP/1.1\r\nHost: x\r\n{auth}Transfer-Encoding: chunked\r\n\r\n"
        ),
        &deb_head(),
        64 << 20,
        true,
    );
    println!("64 MiB chunked: {status} in {:?}", t.elapsed());
    assert_eq!(status, 413, "{text}");

    // A 1 GiB multipart `hints` part: refused at 64 KiB, never held.
    let t = Instant::now();
    let (status, text) = send_streaming(
        &server,
        format!(
            "POST /repos/r/packages/ HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: multipart/form-data; boundary=XX\r\nTransfer-Encoding: chunked\r\n\r\n"
        ),
        b"--XX\r\nContent-Disposition: form-data; name=\"hints\"\r\n\r\n",
        1 << 30,
        true,
    );
    println!("1 GiB hints part: {status} in {:?}", t.elapsed());
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("hints"), "{text}");

    // A file no generator claims: 422 after its first bytes, with nothing stored.
    let (status, text) = send_streaming(
        &server,
        format!(
            "POST /repos/r/packages/?filename=noise.deb HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {}\r\n\r\n",
            5 << 20
        ),
        &[7u8; 4096],
        5 << 20,
        false,
    );
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("no generator claims"), "{text}");

    let rss_after = server.rss_kib();
    println!("RSS: {rss_before} KiB before, {rss_after} KiB after");
    assert!(
        rss_after < rss_before + 64 * 1024,
        "RSS grew from {rss_before} to {rss_after} KiB"
    );
    assert_eq!(files_under(&blobs), before_blobs, "refused bytes were kept");
    assert_eq!(files_under(&server.data.join("packages/tmp")), 0);
    assert_eq!(server.package_count("r"), 0);
    // Still serving, and a real package still goes in.
    let r = server.upload("r", &fixture_debs().join(FIXTURE_DEBS[0]));
    assert_eq!(r.status, 201, "{}", r.text());
}

#[test]
fn a_body_that_breaks_off_is_the_clients_fault_and_leftovers_are_swept() {
    let mut server = Server::start(&tmp().join("data"));
    server.create_repo("r");
    // Half a body, then the client goes away.
    let mut s = connect(&server);
    let deb = std::fs::read(fixture_debs().join(FIXTURE_DEBS[0])).unwrap();
    write!(
        s,
        "POST /repos/r/packages/?filename=cut.deb HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\n\r\n",
        server.token,
        deb.len() * 4
    )
    .unwrap();
    s.write_all(&deb).unwrap();
    drop(s);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(&server.log).unwrap();
        if let Some(line) = log
            .lines()
            .find(|l| l.starts_with("POST /repos/r/packages/ "))
        {
            assert!(line.contains(" 400 "), "{line}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no log line for the cut upload:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(server.package_count("r"), 0);

    // What a crash leaves in tmp/: an old file goes at the next start, a fresh one stays.
    let tmp_dir = server.data.join("packages/tmp");
    std::fs::write(tmp_dir.join("old"), b"half an upload").unwrap();
    std::fs::write(tmp_dir.join("fresh"), b"an upload in flight").unwrap();
    run_ok(
        std::process::Command::new("touch")
            .args(["-d", "2 hours ago"])
            .arg(tmp_dir.join("old")),
    );
    server.restart();
    assert!(!tmp_dir.join("old").exists());
    assert!(tmp_dir.join("fresh").exists());
    // GC sweeps by its own age threshold.
    let out = run_ok(
        std::process::Command::new(&built().bin)
            .args(["--data"])
            .arg(&server.data)
            .args(["gc", "--min-age", "0"]),
    );
    assert!(
        !tmp_dir.join("fresh").exists(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_data_directory_is_private_and_a_given_token_is_not_written() {
    use std::os::unix::fs::PermissionsExt;
    let data = tmp().join("data");
    let opts = Opts {
        env: vec![("REPOSMITH_TOKEN".into(), "given-token-123".into())],
        ..Default::default()
    };
    // The harness reads DATA/token: start once without a token, then with one given.
    drop(Server::start(&data));
    let stored = std::fs::read_to_string(data.join("token")).unwrap();
    std::fs::remove_file(data.join("token")).unwrap();
    let log = data.with_extension("given.log");
    let mut child = std::process::Command::new(&built().bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .arg("--generators")
        .arg(&built().generators)
        .envs(opts.env.iter().map(|(k, v)| (k, v)))
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut out = String::new();
    let mut stdout = child.stdout.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut buf = [0u8; 1024];
    while !out.contains("token:") {
        assert!(Instant::now() < deadline, "{out}");
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "server exited: {out}");
        out.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        !out.contains("given-token-123"),
        "printed the given token: {out}"
    );
    assert!(out.contains("as given"), "{out}");
    assert!(
        !data.join("token").exists(),
        "wrote a token file though one was given"
    );
    assert!(!stored.trim().is_empty());
    for dir in [data.clone(), data.join("cache")] {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} is {mode:o}", dir.display());
    }
}

#[test]
fn token_guessing_and_write_floods_are_throttled_per_client() {
    let opts = Opts {
        args: ["--auth-failures-per-minute", "5"]
            .map(String::from)
            .to_vec(),
        ..Default::default()
    };
    let server = Server::start_opts(&tmp().join("data"), &built().generators, opts);
    let guess = |token: &str| match ureq::post(&server.u("/repos/g/"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
    {
        Ok(r) => (r.status(), None),
        Err(ureq::Error::Status(s, r)) => (s, r.header("retry-after").map(str::to_string)),
        Err(e) => panic!("{e}"),
    };
    for i in 0..5 {
        assert_eq!(guess(&format!("wrong-{i}")).0, 401);
    }
    let (status, retry) = guess("wrong-5");
    assert_eq!(status, 429);
    assert!(retry.is_some_and(|s| s.parse::<u64>().unwrap() >= 1));
    // Out of attempts, even the right token is refused: a guesser learns nothing.
    assert_eq!(guess(&server.token).0, 429);
    // Reads are never throttled.
    assert_eq!(server.get("/").status, 200);

    let opts = Opts {
        args: ["--writes-per-minute", "20"].map(String::from).to_vec(),
        ..Default::default()
    };
    let server = Server::start_opts(&tmp().join("data"), &built().generators, opts);
    // Cheap writes (a repo create makes its keys: a fifth of a second each would let the
    // bucket refill a token meanwhile): each counts, whatever its answer.
    for i in 0..20 {
        let r = server.send("DELETE", &format!("/repos/r{i}/"), None);
        assert_eq!(r.status, 404, "{}", r.text());
    }
    let r = server.send("POST", "/repos/r20/", None);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("write requests"), "{}", r.text());
}

#[test]
fn a_stalled_upload_is_cut_off_and_leaves_nothing() {
    let opts = Opts {
        args: ["--body-timeout", "1"].map(String::from).to_vec(),
        ..Default::default()
    };
    let server = Server::start_opts(&tmp().join("data"), &built().generators, opts);
    server.create_repo("r");
    let deb = std::fs::read(fixture_debs().join(FIXTURE_DEBS[0])).unwrap();
    let mut s = connect(&server);
    write!(
        s,
        "POST /repos/r/packages/?filename=slow.deb HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\n\r\n",
        server.token,
        deb.len() * 4
    )
    .unwrap();
    s.write_all(&deb).unwrap();
    let t = Instant::now();
    let answer = read_answer(&mut s);
    println!("stalled upload answered in {:?}", t.elapsed());
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("no body bytes"), "{answer}");
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_eq!(files_under(&server.data.join("packages/tmp")), 0);
    assert_eq!(server.package_count("r"), 0);
}

/// Per-repo limits in the repo's settings: `max_upload` (413 naming it, nothing stored),
/// `quota_packages` and `quota_bytes` (507 naming the quota, nothing committed; concurrent
/// uploads never overshoot), `generators` (others neither claim nor publish: 422), and
/// settings fields that are unknown or ill-typed (400 naming the field).
#[test]
fn per_repo_limits_and_generators() {
    let server = Server::start(&tmp().join("data"));
    let create = |repo: &str, json: &str| {
        server.send("POST", &format!("/repos/{repo}/"), Some(json.as_bytes()))
    };
    let debs = fixture_deb_args();
    let size = |f: &str| std::fs::metadata(f).unwrap().len();
    let blobs = server.data.join("packages/blobs");

    // Settings refused, naming the field.
    for (json, field) in [
        (r#"{"quota": 1}"#, "quota"),
        (r#"{"quota_bytes": "10"}"#, "quota_bytes"),
        (r#"{"max_upload": -1}"#, "max_upload"),
        (r#"{"max_upload": 0}"#, "max_upload"),
        (r#"{"generators": "deb"}"#, "generators"),
        (r#"{"generators": ["nope"]}"#, "generators"),
    ] {
        let r = create("bad", json);
        assert_eq!(r.status, 400, "{json}: {}", r.text());
        let detail = r.json()["detail"].as_str().unwrap().to_string();
        assert!(detail.contains(&format!("\"{field}\"")), "{json}: {detail}");
    }
    assert_eq!(server.get("/repos/bad/").status, 404);

    // max_upload: a body past it is cut off (413 naming the limit), nothing stored.
    let r = create("small", r#"{"max_upload": 1000}"#);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["repo"]["max_upload"], 1000);
    let before = files_under(&blobs);
    let auth = format!("Authorization: Bearer {}\r\n", server.token);
    let (status, text) = send_streaming(
        &server,
        format!("POST /repos/small/packages/?filename=big.deb HTTP/1.1\r\nHost: x\r\n{auth}Transfer-Encoding: chunked\r\n\r\n"),
        &deb_head(),
        8 << 20,
        true,
    );
    assert_eq!(status, 413, "{text}");
    assert!(
        text.contains("max_upload") && text.contains("1000"),
        "{text}"
    );
    assert_eq!(files_under(&blobs), before, "nothing stored");
    assert!(size(&debs[0]) < 1000);
    let r = server.upload("small", Path::new(&debs[0]));
    assert_eq!(r.status, 201, "{}", r.text());

    // quota_packages: the third package is refused, nothing lost.
    assert_eq!(create("q", r#"{"quota_packages": 2}"#).status, 201);
    for f in &debs[..2] {
        assert_eq!(server.upload("q", Path::new(f)).status, 201);
    }
    let r = server.upload("q", Path::new(&debs[2]));
    assert_eq!(r.status, 507, "{}", r.text());
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .contains("quota_packages"));
    assert_eq!(server.package_count("q"), 2);
    // The same file again is no new package: it fits.
    assert_eq!(server.upload("q", Path::new(&debs[0])).status, 200);

    // quota_bytes.
    let quota = size(&debs[0]) + size(&debs[1]) - 1;
    assert_eq!(
        create("qb", &format!(r#"{{"quota_bytes": {quota}}}"#)).status,
        201
    );
    assert_eq!(server.upload("qb", Path::new(&debs[0])).status, 201);
    let r = server.upload("qb", Path::new(&debs[1]));
    assert_eq!(r.status, 507, "{}", r.text());
    assert!(r.json()["detail"].as_str().unwrap().contains("quota_bytes"));
    assert_eq!(server.package_count("qb"), 1);

    // Concurrent uploads cannot overshoot: the quota is checked on the head each
    // compare-and-set replaces.
    assert_eq!(create("qc", r#"{"quota_packages": 5}"#).status, 201);
    let files = many_debs(16, "quota");
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let jobs: Vec<_> = files
            .iter()
            .map(|f| s.spawn(|| server.upload("qc", f).status))
            .collect();
        jobs.into_iter().map(|j| j.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        5,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 507),
        "{statuses:?}"
    );
    assert_eq!(server.package_count("qc"), 5);

    // generators: only the allowed ones claim and publish.
    let r = create("rpm-only", r#"{"generators": ["rpm"]}"#);
    assert_eq!(r.status, 201, "{}", r.text());
    let r = server.upload("rpm-only", Path::new(&debs[0]));
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(
        server
            .get("/repos/rpm-only/dist/dists/stable/InRelease")
            .status,
        404,
        "the deb generator publishes nothing for this repo"
    );
    assert_eq!(
        server.get("/repos/rpm-only/repodata/repomd.xml").status,
        200
    );
    assert_eq!(create("deb-only", r#"{"generators": ["deb"]}"#).status, 201);
    let r = server.upload("deb-only", Path::new(&debs[0]));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.claimed_by(), vec!["deb".to_string()]);
    assert_eq!(
        server.get("/repos/deb-only/repodata/repomd.xml").status,
        404
    );
    // The same settings again are a no-op; others a conflict.
    assert_eq!(create("deb-only", r#"{"generators": ["deb"]}"#).status, 200);
    assert_eq!(
        create("deb-only", r#"{"generators": ["deb", "rpm"]}"#).status,
        409
    );
}
