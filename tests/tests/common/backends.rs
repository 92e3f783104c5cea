//! The metadata backends a server can run on, each started fresh for one test: the local file
//! store, DynamoDB (with S3 for packages, on moto), Redis and PostgreSQL (packages on file://
//! under the data directory). `on_every_meta_store!` runs one check on each.
use super::{moto::Moto, postgres::Postgres, redis::Redis};
use std::process::Command;

pub enum Backend {
    File,
    Dynamo(Moto),
    Redis(Redis),
    Postgres(Postgres),
}

impl Backend {
    pub fn start(kind: &str) -> Backend {
        match kind {
            "file" => Backend::File,
            "dynamodb" => Backend::Dynamo(Moto::start()),
            "redis" => Backend::Redis(Redis::start()),
            "postgres" => Backend::Postgres(Postgres::start()),
            k => panic!("no backend {k}"),
        }
    }

    /// `serve` options for a server whose stores are named `name` here (made if needed).
    pub fn opts(&self, name: &str) -> super::Opts {
        let meta = |url: String| super::Opts {
            args: vec!["--meta".into(), url],
            env: Vec::new(),
        };
        match self {
            Backend::File => super::Opts::default(),
            Backend::Dynamo(moto) => moto.server_opts(name),
            Backend::Redis(r) => meta(r.url(0, &format!("?prefix={name}:"))),
            Backend::Postgres(pg) => {
                let url = pg.url(&format!("&table={}", name.replace('-', "_")));
                super::run_ok(Command::new(&super::built().bin).args([
                    "init-stores",
                    "--meta",
                    &url,
                ]));
                meta(url)
            }
        }
    }

    /// A server on fresh stores `name` here (the shipped generators, a fresh data dir).
    pub fn server(&self, name: &str) -> super::Server {
        let data = super::tmp().join("data");
        super::Server::start_opts(&data, &super::built().generators, self.opts(name))
    }
}

/// One test per metadata backend, each running `check(&Server)` on a server whose metadata
/// store is that backend (stores named `$stores`).
#[macro_export]
macro_rules! on_every_meta_store {
    ($check:ident, $stores:literal, $($kind:ident: $name:ident),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                let backend = $crate::common::backends::Backend::start(stringify!($kind));
                $check(&backend.server($stores));
            }
        )+
    };
}
