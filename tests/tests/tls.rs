//! `serve --tls-cert --tls-key`: real clients over HTTPS. A throwaway CA (openssl) signs the
//! server's certificate; curl checks it over HTTP/1.1 and HTTP/2 (the negotiated protocol is
//! checked), real apt installs through `Acquire::https::CaInfo`, and a client that stays
//! silent (before, during or after the handshake) is dropped within the header timeout.
mod common;
use common::*;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A CA and a certificate it signs for 127.0.0.1 and localhost: (ca.pem, cert.pem, key.pem).
fn throwaway_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        run_ok(Command::new("openssl").args(args).current_dir(dir));
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let ca = [
        "req",
        "-x509",
        "-days",
        "1",
        "-subj",
        "/CN=reposmith-test-ca",
    ];
    openssl(&[&ca[..], &ec, &["-keyout", "ca.key", "-out", "ca.pem"]].concat());
    let csr = [
        "req",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "key.pem",
        "-out",
        "req.csr",
    ];
    openssl(&[&csr[..], &ec].concat());
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "req.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "1",
        "-extfile",
        "ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}

struct Tls {
    server: Server,
    ca: PathBuf,
}

fn start(extra: &[&str]) -> Tls {
    let dir = tmp();
    let (ca, cert, key) = throwaway_ca(&dir);
    let mut args: Vec<String> = vec![
        "--tls-cert".into(),
        cert.display().to_string(),
        "--tls-key".into(),
        key.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let opts = Opts {
        args,
        env: Vec::new(),
    };
    let server = Server::start_opts(&dir.join("data"), &built().generators, opts);
    assert!(server.url.starts_with("https://"), "{}", server.url);
    Tls { server, ca }
}

impl Tls {
    /// curl with the CA: (HTTP status, negotiated HTTP version, body).
    fn curl(&self, args: &[&str], path: &str) -> (u16, String, String) {
        let out = Command::new("curl")
            .args(["-sS", "--cacert"])
            .arg(&self.ca)
            .args(["-o", "-", "-w", "\n%{http_code} %{http_version}"])
            .args(args)
            .arg(self.server.u(path))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "curl {args:?} {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, tail) = text.rsplit_once('\n').unwrap();
        let (code, version) = tail.split_once(' ').unwrap();
        (code.parse().unwrap(), version.to_string(), body.to_string())
    }

    fn auth(&self) -> String {
        format!("Authorization: Bearer {}", self.server.token)
    }
}

#[test]
fn curl_over_http1_and_http2() {
    let t = start(&[]);
    let (code, version, body) = t.curl(&["--http1.1"], "/repos/");
    assert_eq!((code, version.as_str()), (200, "1.1"), "{body}");
    let (code, version, body) = t.curl(&["--http2"], "/repos/");
    assert_eq!((code, version.as_str()), (200, "2"), "{body}");

    // Writes over HTTP/2 too: create, upload, read back the package and the index.
    let auth = t.auth();
    let (code, _, body) = t.curl(&["--http2", "-X", "POST", "-H", &auth], "/repos/tls/");
    assert_eq!(code, 201, "{body}");
    let deb = fixture_debs().join(FIXTURE_DEBS[0]);
    let at = format!("@{}", deb.display());
    let name = deb.file_name().unwrap().to_str().unwrap().to_string();
    let (code, version, body) = t.curl(
        &["--http2", "-H", &auth, "--data-binary", &at],
        &format!("/repos/tls/packages/?filename={name}"),
    );
    assert_eq!((code, version.as_str()), (201, "2"), "{body}");
    let (code, _, body) = t.curl(
        &["--http2"],
        "/repos/tls/dist/dists/stable/main/binary-amd64/Packages",
    );
    assert_eq!(code, 200);
    assert!(body.contains("Package: harness-lib"), "{body}");
    let (code, version, _) = t.curl(&["--http1.1", "-I"], &format!("/repos/tls/packages/{name}"));
    assert_eq!((code, version.as_str()), (200, "1.1"));

    // A client that does not trust the CA is refused by curl, not served in the clear.
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null"])
        .arg(t.server.u("/repos/"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    // Plain HTTP on the TLS port is no way in either.
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-m", "5"])
        .arg(t.server.u("/repos/").replacen("https", "http", 1))
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn apt_installs_over_https() {
    let t = start(&[]);
    fill_over_https(&t);
    let key = tmp().join("repo.asc");
    let (code, _, body) = t.curl(&[], "/repos/https-repo/key.asc");
    assert_eq!(code, 200);
    std::fs::write(&key, body).unwrap();
    let out = Command::new("bash")
        .arg(workspace().join("tests/clients/apt.sh"))
        .arg(t.server.u("/repos/https-repo/dist"))
        .env("APT_KEY", &key)
        .env("APT_CAINFO", &t.ca)
        .env("APT_INSTALL", "harness-app harness-epoch")
        .env(
            "APT_EXPECT_FILES",
            "/usr/bin/harness-app /usr/share/harness-lib/VERSION /usr/share/harness-epoch/VERSION",
        )
        .env("APT_DOWNLOAD", "")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "apt over https failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&t.server.log).unwrap_or_default()
    );
    t.server
        .assert_logged("/InRelease 200", "apt fetched InRelease");

    // Without the CA apt refuses the server.
    let out = Command::new("bash")
        .arg(workspace().join("tests/clients/apt.sh"))
        .arg(t.server.u("/repos/https-repo/dist"))
        .env("APT_KEY", &key)
        .env("APT_INSTALL", "harness-app")
        .env("APT_EXPECT_FILES", "/usr/bin/harness-app")
        .env("APT_DOWNLOAD", "")
        .output()
        .unwrap();
    assert!(!out.status.success(), "apt must not trust an unknown CA");
}

/// Creates `https-repo` and uploads the fixture debs over HTTPS with curl.
fn fill_over_https(t: &Tls) {
    let auth = t.auth();
    let curl = |args: &[&str], path: &str| {
        let (code, _, body) = t.curl(&[&["-H", &auth][..], args].concat(), path);
        assert!(code == 200 || code == 201, "{path}: {code} {body}");
    };
    curl(&["-X", "POST"], "/repos/https-repo/");
    for f in fixture_deb_args() {
        let name = Path::new(&f).file_name().unwrap().to_str().unwrap();
        curl(
            &["--data-binary", &format!("@{f}")],
            &format!(
                "/repos/https-repo/packages/?filename={}",
                name.replace('+', "%2B")
            ),
        );
    }
}

/// Reads until the server closes: how long that took (None: still open after `limit`).
fn closed_within(mut s: impl Read, limit: Duration) -> Option<Duration> {
    let t = Instant::now();
    let mut buf = [0u8; 4096];
    while t.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return Some(t.elapsed()),
            Ok(_) => {}
        }
    }
    None
}

#[test]
fn silent_clients_are_dropped() {
    let t = start(&["--header-timeout", "2", "--max-connections", "4"]);
    let addr = t.server.url.trim_start_matches("https://").to_string();
    let limit = Duration::from_secs(10);

    // Silent before the handshake: never says hello.
    let tcp = std::net::TcpStream::connect(&addr).unwrap();
    tcp.set_read_timeout(Some(limit)).unwrap();
    let took = closed_within(&tcp, limit).expect("a silent TCP client is dropped");
    assert!(took >= Duration::from_millis(1500), "{took:?}");

    // Silent after the handshake, on HTTP/1.1 and on HTTP/2 (after its preface, so a
    // connection the server has started speaking HTTP/2 on), and half-way through a handshake.
    let script = r#"
import socket, ssl, sys, time
ca, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
def wait(s):
    t = time.time(); s.settimeout(10)
    try:
        while s.recv(4096): pass
    except Exception: pass
    return time.time() - t
for alpn in ("http/1.1", "h2"):
    ctx = ssl.create_default_context(cafile=ca); ctx.set_alpn_protocols([alpn])
    c = ctx.wrap_socket(socket.create_connection((host, port)), server_hostname="localhost")
    assert c.selected_alpn_protocol() == alpn, c.selected_alpn_protocol()
    if alpn == "h2":
        c.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
    print(alpn, round(wait(c), 1))
raw = socket.create_connection((host, port))
raw.sendall(bytes.fromhex("160301"))  # the start of a ClientHello, then nothing
print("half-hello", round(wait(raw), 1))
"#;
    let (host, port) = addr.rsplit_once(':').unwrap();
    let out = run_ok(
        Command::new("python3")
            .args(["-c", script])
            .arg(&t.ca)
            .args([host, port]),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in text.lines() {
        let secs: f64 = line.rsplit_once(' ').unwrap().1.parse().unwrap();
        // Dropped after the 2 s timeout (h2: idle, then once more for the PING it ignores).
        assert!((1.5..9.0).contains(&secs), "{line}\n{text}");
    }
    assert_eq!(text.lines().count(), 3, "{text}");

    // The slots came back: all four connections are usable at once.
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let ca = t.ca.clone();
            let url = t.server.u("/repos/");
            std::thread::spawn(move || {
                Command::new("curl")
                    .args(["-fsS", "-m", "10", "--http2", "--cacert"])
                    .arg(ca)
                    .arg(url)
                    .output()
                    .unwrap()
                    .status
                    .success()
            })
        })
        .collect();
    for c in clients {
        assert!(c.join().unwrap());
    }
}

#[test]
fn a_bad_certificate_stops_serve_at_start() {
    let dir = tmp();
    let (_, cert, _) = throwaway_ca(&dir);
    let out = Command::new(&built().bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.join("data"))
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&cert) // a certificate is no key
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("private key"), "{err}");
    assert!(
        !dir.join("data").exists(),
        "nothing written before the TLS check"
    );
    let out = Command::new(&built().bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .output()
        .unwrap();
    assert!(!out.status.success(), "--tls-cert needs --tls-key");
}
