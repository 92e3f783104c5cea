//! The generator contract as the core sees it: the one Rust mirror of `wit/generator.wit`
//! lives in `reposmith-contract`. The wasmtime host (functions/lib/generator-host) and the
//! Spin slots implement [`Generator`]; the core never knows how a generator runs.
pub use reposmith_contract::*;
