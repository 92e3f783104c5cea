//! The web interface (docs/ui.md) in a real browser: a live server with 300 packages in 3
//! formats (the query set's debs and pacman packages and 60 rpms, 99 more debs and one whose
//! description holds `<script>`), then `tests/ui/browse.py` drives headless Chromium
//! (Debian's `chromium` + `chromium-driver`, Selenium): the repo list and the repo page load
//! (50 of 300 entries, the next page), search as you type finds a package by part of its name,
//! a package page's sha256 is the served file's, the description with `<script>` renders as
//! text, the Set up tab's apt snippet written to a throwaway root makes real `apt-get update`
//! (and an install) succeed, a .deb dropped on the page uploads with a progress bar and is
//! listed and in the apt index (a 5 MiB one through an upload session), every control named,
//! the drop zone reached by the keyboard, body text at WCAG AA contrast, removal after a
//! confirmation, creating a repo, and reading without JavaScript; no console error (a CSP violation would be one) on any page.
//! Screenshots of every page go to `$CARGO_TARGET_DIR/ui-screenshots/`, each checked to be
//! no blank image. Here: every page's security headers, and the repo page's size and time
//! (printed; the 50,000-package figures are `bench/ui.sh`'s).
mod common;
use common::*;
use std::process::Command;
use std::time::Instant;

const REPO: &str = "web";

fn quick_deb(dir: &std::path::Path, file: &str, name: &str, summary: &str) -> std::path::PathBuf {
    let py = "import importlib.util,sys\n\
         s=importlib.util.spec_from_file_location('q',sys.argv[1]);q=importlib.util.module_from_spec(s);s.loader.exec_module(q)\n\
         open(sys.argv[2],'wb').write(q.deb_package(sys.argv[3],'1.0-1','amd64','',sys.argv[4]))\n";
    let out = dir.join(file);
    run_ok(
        Command::new("python3")
            .args(["-c", py])
            .arg(workspace().join("tests/fixtures/make-many-quick.py"))
            .arg(&out)
            .args([name, summary]),
    );
    out
}

/// GET as a browser does.
fn page(server: &Server, path: &str) -> (u16, ureq::Response) {
    match ureq::get(&server.u(path))
        .set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .call()
    {
        Ok(r) => (r.status(), r),
        Err(ureq::Error::Status(s, r)) => (s, r),
        Err(e) => panic!("GET {path}: {e}"),
    }
}

#[test]
fn the_web_interface_in_a_real_browser() {
    let server = Server::start(&tmp().join("data"));
    let r = server.send(
        "POST",
        &format!("/repos/{REPO}/"),
        Some(br#"{"description": "the web interface's test repo"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());

    // 300 packages in 3 formats.
    let mut files = query_set();
    let extra = tmp();
    run_ok(
        Command::new("python3")
            .arg(workspace().join("tests/fixtures/make-many-quick.py"))
            .args(["deb", extra.to_str().unwrap(), "99", "uiextra"]),
    );
    for e in std::fs::read_dir(&extra).unwrap() {
        files.push(e.unwrap().path());
    }
    let xss = quick_deb(
        &extra,
        "xss-demo_1.0-1_amd64.deb",
        "xss-demo",
        "<script>window.pwned=1</script> & <b>bold</b>",
    );
    files.push(xss);
    assert_eq!(files.len(), 300);
    let mut args = vec!["add".to_string(), REPO.to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    server.cli_ok(&args);
    assert_eq!(server.package_count(REPO), 300);
    let drop_dir = tmp();
    let dropped = quick_deb(
        &drop_dir,
        "dropped-by-browser_1.0-1_amd64.deb",
        "dropped-by-browser",
        "uploaded by drag and drop",
    );

    // Every page: HTML with the security headers; the repo page's weight and time.
    for path in [
        "/ui/",
        "/ui/repos/web",
        "/ui/repos/web?q=gcc",
        "/ui/repos/web/packages/xss-demo_1.0-1_amd64.deb",
        "/ui/repos/web/setup",
        "/ui/repos/web/history",
    ] {
        let (status, r) = page(&server, path);
        assert_eq!(status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("referrer-policy"), Some("same-origin"), "{path}");
        let body = r.into_string().unwrap();
        assert!(!body.contains("<script>window"), "{path}: unescaped");
    }
    let (status, r) = page(&server, "/ui/repos/nothing-here");
    assert_eq!(status, 404);
    assert!(r.header("content-security-policy").is_some());
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..7 {
        let t = Instant::now();
        let (_, r) = page(&server, "/ui/repos/web");
        bytes = r.into_string().unwrap().len();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "repo page, 300 packages: first page {:.1} ms (median of 7), {bytes} bytes",
        times[3]
    );
    assert!(bytes < 200_000, "the repo page is {bytes} bytes");

    // The browser.
    let shots = target_release().parent().unwrap().join("ui-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    let out = Command::new("python3")
        .arg(workspace().join("tests/ui/browse.py"))
        .env("UI_URL", &server.url)
        .env("UI_TOKEN", &server.token)
        .env("UI_REPO", REPO)
        .env("UI_FIND", "gcc-fort")
        .env("UI_FOUND", "gcc-fortran")
        .env("UI_XSS", "xss-demo_1.0-1_amd64.deb")
        .env("UI_DROP", &dropped)
        .env("UI_DROP_NAME", "dropped-by-browser")
        .env("UI_DROP_BIG", big_deb(&drop_dir, 5))
        .env("UI_SHOTS", &shots)
        .env("UI_APT", workspace().join("tests/clients/apt.sh"))
        .output()
        .expect("python3 tests/ui/browse.py (needs selenium, chromium, chromium-driver)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browse.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The screenshots are there, and not blank (browse.py counted their colours).
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(shots.join("index.json")).unwrap()).unwrap();
    let shots_taken = index.as_array().unwrap();
    assert_eq!(shots_taken.len(), 10, "{index}");
    for s in shots_taken {
        let path = s["path"].as_str().unwrap();
        let png = std::fs::read(path).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000, "{path}");
        assert!(s["colours"].as_u64().unwrap() >= 8, "{s}");
    }
}
