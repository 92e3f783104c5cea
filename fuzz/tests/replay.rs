//! The stable smoke of every fuzz target: each file of `corpus/TARGET/` (the seeds) and
//! `regressions/TARGET/` (every crash found, fixed) runs through the target's body, as
//! libFuzzer would run it. Seconds, no nightly: `cargo test --manifest-path fuzz/Cargo.toml
//! --no-default-features --release`.
use std::path::Path;

fn inputs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file());
    files.sort();
    files
}

#[test]
fn every_seed_and_regression_runs_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, body) in reposmith_fuzz::TARGETS {
        let seeds = inputs(&root.join("corpus").join(name));
        assert!(!seeds.is_empty(), "fuzz target {name} has no seed corpus");
        for file in seeds
            .iter()
            .chain(&inputs(&root.join("regressions").join(name)))
        {
            let data = std::fs::read(file).unwrap();
            // A panic names the input that caused it.
            if std::panic::catch_unwind(|| body(&data)).is_err() {
                panic!("fuzz target {name} failed on {}", file.display());
            }
        }
    }
}

#[test]
fn every_target_has_a_fuzz_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, _) in reposmith_fuzz::TARGETS {
        assert!(
            root.join("fuzz_targets")
                .join(format!("{name}.rs"))
                .is_file(),
            "no fuzz_targets/{name}.rs"
        );
    }
}
