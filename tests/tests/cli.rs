//! `manage-repo` as scripts and people meet it: exit code 2 for a usage error, 1 for a
//! server refusal (its JSON error in words), never a Rust panic or debug output; `--json` on
//! stdout; shell completion (the generated bash script run in a real bash, zsh and fish
//! loading theirs) with repo and file names from a live server.
mod common;
use common::*;
use std::process::{Command, Output, Stdio};

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// No panic report, backtrace hint or `{:?}` of an error reaches the user.
fn assert_plain(stderr: &str) {
    for bad in ["panicked", "RUST_BACKTRACE", "Error {", "Os {", "kind:"] {
        assert!(!stderr.contains(bad), "{bad:?} in {stderr}");
    }
}

#[test]
fn usage_errors_exit_2_refusals_exit_1_in_words() {
    let server = Server::start(&tmp().join("data"));
    server.create_repo("r");
    let deb = fixture_debs().join(FIXTURE_DEBS[0]);
    let deb = deb.to_str().unwrap();

    // Usage: clap's own, and ours (no server, a missing file, a bad glob, a bad hint).
    for (out, says) in [
        (bare_cli(&["add", "r"]), "required"),
        (bare_cli(&["list"]), "give --server URL"),
        (
            bare_cli(&["download", "r", "x", "--jobs", "many"]),
            "invalid value",
        ),
        (
            server.cli(&["add", "r", "/nonexistent/x.deb"]),
            "/nonexistent/x.deb",
        ),
        (
            server.cli(&["download", "r", "gcc-["]),
            "not a valid pattern",
        ),
        (
            server.cli(&["add", "r", deb, "--hint", "nokey"]),
            "KEY=VALUE",
        ),
    ] {
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(stderr.contains(says), "{says:?} not in {stderr}");
        assert_plain(&stderr);
    }

    // Refusals: exit 1 and the server's error in words.
    let out = server.cli(&["delete", "nosuch"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: 404 not found: "), "{stderr}");
    assert_plain(&stderr);
    let out = server.cli(&["add", "r", "/etc/passwd"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stdout.starts_with("failed passwd: 422 unknown package format: "),
        "{stdout}"
    );
    assert!(
        stderr.contains("error: 1 of the uploads failed"),
        "{stderr}"
    );
    assert_plain(&stderr);

    // A server that is not there: exit 1, in words.
    let out = bare_cli(&["--server", "http://127.0.0.1:9", "list"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_plain(&stderr);

    // A reader that goes away (`| head -1`) ends the command quietly.
    let mut child = Command::new(&built().bin)
        .args(["--server", &server.url, "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_plain(&text(&out).1);

    // A stdout that takes nothing more (a full disk): exit 1, in words; with stderr on the
    // same full disk, still exit 1 (a panic while reporting the panic aborted, status 134).
    let full = || std::fs::File::create("/dev/full").unwrap();
    let out = Command::new(&built().bin)
        .args(["--server", &server.url, "list"])
        .stdout(full())
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "error: writing to stdout: No space left on device (os error 28)"
    );
    let st = Command::new(&built().bin)
        .args(["--server", &server.url, "list"])
        .stdout(full())
        .stderr(full())
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(1));
    // An error with stderr full: exit 1 all the same.
    let st = Command::new(&built().bin)
        .args(["--server", "http://127.0.0.1:9", "list"])
        .stderr(full())
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(1));
}

#[test]
fn json_on_stdout_for_scripts() {
    let server = Server::start(&tmp().join("data"));
    let out = server.cli_ok(&["create", "r", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["generation"].is_u64(), "{v}");

    // add: one object per file, on stdout, whatever the outcome.
    let mut args = vec![
        "add".to_string(),
        "r".into(),
        "--json".into(),
        "/etc/passwd".into(),
    ];
    args.extend(fixture_deb_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = server.cli(&args);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    for l in &lines {
        let file = l["file"].as_str().unwrap();
        if file == "passwd" {
            assert_eq!(l["result"], "failed");
            assert!(l["error"].as_str().unwrap().starts_with("422 "), "{l}");
        } else {
            assert!(FIXTURE_DEBS.contains(&file), "{l}");
            assert_eq!(l["result"], "added", "{l}");
            assert!(l["generation"].is_u64(), "{l}");
        }
    }

    // The others: one document each.
    let doc = |args: &[&str]| -> serde_json::Value {
        let out = server.cli_ok(args);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
    };
    assert_eq!(array(&doc(&["list", "r", "--json"]), "packages").len(), 3);
    assert!(array(&doc(&["list", "--json"]), "repos")
        .iter()
        .any(|r| r["name"] == "r"));
    assert!(doc(&["remove", "r", FIXTURE_DEBS[0], "--json"])["generation"].is_u64());
    assert!(doc(&["token", "create", "ci", "--scope", "upload", "--json"])["token"].is_string());
    assert!(array(&doc(&["token", "list", "--json"]), "tokens")
        .iter()
        .any(|t| t["name"] == "ci"));
    assert!(doc(&["key", "list", "r", "--json"])["keys"].is_array());
    assert!(doc(&["rebuild", "r", "--json"])["generation"].is_u64());
    let gc = Command::new(&built().bin)
        .args(["gc", "--json", "--data"])
        .arg(&server.data)
        .output()
        .unwrap();
    let gc: serde_json::Value = serde_json::from_slice(&gc.stdout).unwrap();
    assert!(gc["blobs"].is_u64(), "{gc}");
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn completion_offers_subcommands_flags_and_names_from_the_server() {
    let server = Server::start(&tmp().join("data"));
    for repo in ["myrepo", "myother", "zeta"] {
        server.create_repo(repo);
    }
    for f in FIXTURE_DEBS {
        assert_eq!(server.upload("myrepo", &fixture_debs().join(f)).status, 201);
    }
    let dir = tmp();
    let script = dir.join("manage-repo.bash");
    let out = server.cli_ok(&["completions", "bash"]);
    std::fs::write(&script, &out.stdout).unwrap();
    let cache = dir.join("cache");
    let cache = cache.to_str().unwrap();
    let env = [
        ("REPOSMITH_URL", server.url.as_str()),
        ("REPOSMITH_TOKEN", server.token.as_str()),
        ("XDG_CACHE_HOME", cache),
    ];
    let complete = |line: &str| bash_complete(&script, &env, line);

    assert_eq!(complete("manage-repo download my"), ["myother", "myrepo"]);
    assert_eq!(complete("manage-repo show z"), ["zeta"]);
    assert_eq!(
        complete("manage-repo remove myrepo harness-"),
        [
            "harness-app_1.0-1_amd64.deb",
            "harness-epoch_2.0+dfsg-1_amd64.deb",
            "harness-lib_1.0-1_all.deb"
        ]
    );
    assert_eq!(complete("manage-repo key list myr"), ["myrepo"]);
    // Subcommands and flags: clap's completion.
    assert_eq!(complete("manage-repo dow"), ["download"]);
    let flags = complete("manage-repo download myrepo --a");
    assert!(
        flags.contains(&"--arch".to_string()) && flags.contains(&"--all-versions".to_string()),
        "{flags:?}"
    );
    // The server named on the line, without the environment.
    let no_env = [("XDG_CACHE_HOME", cache)];
    let line = format!("manage-repo --server {} list ze", server.url);
    assert_eq!(bash_complete(&script, &no_env, &line), ["zeta"]);

    // zsh and fish load their scripts; fish completes a subcommand and repo names.
    if have("zsh") {
        let zsh = dir.join("_manage-repo");
        std::fs::write(&zsh, script_for("zsh")).unwrap();
        // Loaded, then its function run as a completion would (compadd stubbed: it only
        // works inside a completion widget).
        let program = r#"autoload -U compinit && compinit -u && source "$1"
            compadd() { [[ $1 == -a ]] && print -rl -- "${(@P)2}"; }
            words=(manage-repo download my); CURRENT=3; _manage-repo_dynamic"#;
        let out = Command::new("zsh")
            .args(["-c", program, "zsh"])
            .arg(&zsh)
            .env("ZDOTDIR", &dir)
            .env("PATH", path_with_bin())
            .envs(env)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success() && stderr.is_empty(), "{stderr}");
        assert_eq!(stdout, "myother\nmyrepo\n");
    } else {
        eprintln!("zsh not installed: its script is not loaded");
    }
    if have("fish") {
        let fish = dir.join("manage-repo.fish");
        std::fs::write(&fish, script_for("fish")).unwrap();
        let fish_complete = |line: &str| {
            let out = Command::new("fish")
                .args(["--no-config", "-c", "source $argv[1]; complete -C $argv[2]"])
                .arg(&fish)
                .arg(line)
                .env("PATH", path_with_bin())
                .envs(env)
                .output()
                .unwrap();
            let (stdout, stderr) = text(&out);
            assert!(out.status.success() && stderr.is_empty(), "{stderr}");
            // `candidate<TAB>description`
            let mut found: Vec<String> = stdout
                .lines()
                .map(|l| l.split('\t').next().unwrap().to_string())
                .collect();
            found.sort();
            found
        };
        assert_eq!(fish_complete("manage-repo dow"), ["download"]);
        assert_eq!(
            fish_complete("manage-repo download my"),
            ["myother", "myrepo"]
        );
    } else {
        eprintln!("fish not installed: its script is not loaded");
    }

    // One request, then the cache for a few seconds; silent (and exit 0) on any error.
    let helper = |url: &str, args: &[&str]| {
        Command::new(&built().bin)
            .args(["__complete", "--server", url])
            .args(args)
            .env("XDG_CACHE_HOME", cache)
            .output()
            .unwrap()
    };
    let out = helper(&server.url, &["repos", "my"]);
    assert_eq!(text(&out).0, "myother\nmyrepo\n");
    let url = server.url.clone();
    drop(server); // killed
    let out = helper(&url, &["repos", "my"]);
    assert_eq!(text(&out).0, "myother\nmyrepo\n", "from the cache");
    for args in [
        &["repos", "my"][..],
        &["packages", "r", "x"],
        &["nonsense"],
        &["--bad-flag"],
    ] {
        let out = helper("http://127.0.0.1:9", args);
        assert!(out.status.success(), "{args:?}");
        assert_eq!(text(&out), (String::new(), String::new()), "{args:?}");
    }
}

fn script_for(shell: &str) -> Vec<u8> {
    run_ok(Command::new(&built().bin).args(["completions", shell])).stdout
}
