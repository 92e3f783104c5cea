//! A component built against `reposmith:generator@0.0.9` (`wit/generator.wit` here), for the
//! tests of how a host refuses a generator of another contract version
//! (`tests/tests/generator_cli.rs`). Build:
//! `cargo build --release --target wasm32-wasip2 -p reposmith-test-old-contract`.

wit_bindgen::generate!({ path: "wit", world: "old-generator" });

struct Old;

impl exports::reposmith::generator::generator::Guest for Old {
    fn info() -> String {
        "old".into()
    }
}

export!(Old);
