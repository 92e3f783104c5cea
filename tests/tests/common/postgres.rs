//! A real PostgreSQL for the tests: Debian's server binaries (installed by `.ci/run`), a
//! cluster made by `initdb` in a temp dir and served on a free loopback port, stopped on drop.
//! PostgreSQL refuses to run as root: as root it runs as the `postgres` user (`setpriv`).
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Postgres {
    child: Child,
    pub port: u16,
}

/// The newest `/usr/lib/postgresql/N/bin` (Debian does not put the server on PATH).
fn bin_dir() -> PathBuf {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server (apt install postgresql)")
        .filter_map(|e| {
            let e = e.ok()?;
            let n = e.file_name().to_str()?.parse().ok()?;
            Some((n, e.path().join("bin")))
        })
        .collect();
    dirs.sort();
    dirs.pop()
        .expect("a PostgreSQL version under /usr/lib/postgresql")
        .1
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8_lossy(&super::run_ok(cmd).stdout).into_owned()
}

/// `bin` as the `postgres` user when we are root, else as ourselves.
fn command(bin: &Path, dir: &Path) -> Command {
    let root = stdout(Command::new("id").arg("-u")).trim() == "0";
    if !root {
        return Command::new(bin);
    }
    let id = |flag: &str| -> u32 {
        stdout(Command::new("id").args([flag, "postgres"]))
            .trim()
            .parse()
            .expect("a postgres user")
    };
    std::os::unix::fs::chown(dir, Some(id("-u")), Some(id("-g"))).unwrap();
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid=postgres",
        "--regid=postgres",
        "--init-groups",
        "--",
    ])
    .arg(bin);
    c
}

impl Postgres {
    pub fn start() -> Postgres {
        let bin = bin_dir();
        let dir = super::tmp();
        let data = dir.join("data");
        let out = command(&bin.join("initdb"), &dir)
            .args([
                "-U",
                "reposmith",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = super::free_port();
        let child = command(&bin.join("postgres"), &dir)
            .args(["-p", &port.to_string(), "-k"])
            .arg(&dir)
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = Command::new(bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "postgres did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Postgres { child, port }
    }

    /// A metadata store URL, with extra query options (`&table=...`).
    pub fn url(&self, query: &str) -> String {
        format!(
            "postgres://reposmith@127.0.0.1:{}/postgres?connect_timeout=5{query}",
            self.port
        )
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGQUIT: immediate shutdown of the postmaster and its backends.
        let _ = Command::new("kill")
            .args(["-QUIT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}
