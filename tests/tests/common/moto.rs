//! A real S3 + DynamoDB wire protocol for the tests: `moto_server` (PyPI `moto[s3,dynamodb]`,
//! installed by `.ci/run`) on a free loopback port, one per test, stopped on drop.
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let port = super::free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (pip install 'moto[s3,dynamodb]' flask flask-cors)");
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if ureq::get(&format!("{endpoint}/moto-api/")).call().is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { child, endpoint }
    }

    /// What a process needs to reach this endpoint with the AWS SDK.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Creates bucket `NAME` and table `NAME` with `manage-repo init-stores`; answers the
    /// (package store, metadata store) URLs.
    pub fn stores(&self, name: &str) -> (String, String) {
        let urls = (format!("s3://{name}/repo"), format!("dynamodb://{name}"));
        super::run_ok(
            Command::new(&super::built().bin)
                .args(["init-stores", "--packages", &urls.0, "--meta", &urls.1])
                .envs(self.env()),
        );
        urls
    }

    /// `serve` arguments and environment for a server on these stores.
    pub fn server_opts(&self, name: &str) -> super::Opts {
        let (packages, meta) = self.stores(name);
        super::Opts {
            args: vec!["--packages".into(), packages, "--meta".into(), meta],
            env: self.env(),
        }
    }

    /// A server on fresh stores `NAME` here (the shipped generators, a fresh data dir).
    pub fn server(&self, name: &str) -> super::Server {
        let data = super::tmp().join("data");
        super::Server::start_opts(&data, &super::built().generators, self.server_opts(name))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
