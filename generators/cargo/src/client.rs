//! `client`: cargo's configuration (`.cargo/config.toml`, or `$CARGO_HOME/config.toml`,
//! <https://doc.rust-lang.org/cargo/reference/config.html>), two files:
//!
//! - `NAME-cargo.toml`, the main one: `[registries.NAME] index = "sparse+URL/"`, so a project
//!   depends on `crate = { version = "...", registry = "NAME" }`; the mirrors as commented
//!   alternatives (cargo has no mirror list for a registry);
//! - `NAME-cargo-replace.toml`: the same registry replacing crates.io (`[source.crates-io]
//!   replace-with`), for builds that must take every crate from this repo.
//!
//! The trailing `/` matters: cargo appends index paths to the URL. A disabled repo's lines are
//! commented out. Metadata signatures have no cargo equivalent (the index is not signed;
//! each `.crate` is checked against the index's `cksum`).
use reposmith_generator_sdk::client::{file, title};
use reposmith_generator_sdk::exports::reposmith::generator::client::{ClientFile, ClientRepo};

/// A TOML key: bare when it is a plain word, else quoted.
fn key(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_string()
    } else {
        toml_string(name)
    }
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The index URL cargo is given: `sparse+` and the tree with a trailing `/`.
pub fn index_url(tree: &str) -> String {
    format!("sparse+{}/", tree.trim_end_matches('/'))
}

fn header(repo: &ClientRepo, what: &str) -> String {
    let title: String = title(repo).split_whitespace().collect::<Vec<_>>().join(" ");
    format!("# {title}: {what}\n")
}

fn body(repo: &ClientRepo, lines: &[String]) -> String {
    let prefix = if repo.enabled { "" } else { "# " };
    let mut s = String::new();
    if !repo.enabled {
        s.push_str("# (the repository is disabled)\n");
    }
    for l in lines {
        s.push_str(prefix);
        s.push_str(l);
        s.push('\n');
    }
    s
}

pub fn files(repo: &ClientRepo) -> Vec<ClientFile> {
    let name = key(&repo.name);
    let index = toml_string(&index_url(&repo.base_url));
    let mut main = header(
        repo,
        &format!(
            "add to .cargo/config.toml; depend with `CRATE = {{ version = \"...\", registry = {} }}`",
            toml_string(&repo.name)
        ),
    );
    for m in &repo.mirrors {
        main.push_str(&format!(
            "# mirror: index = {}\n",
            toml_string(&index_url(m))
        ));
    }
    main.push_str(&body(
        repo,
        &[format!("[registries.{name}]"), format!("index = {index}")],
    ));
    let mut replace = header(
        repo,
        "add to .cargo/config.toml to take every crate from it",
    );
    replace.push_str(&body(
        repo,
        &[
            "[source.crates-io]".to_string(),
            format!("replace-with = {}", toml_string(&repo.name)),
            String::new(),
            format!("[source.{name}]"),
            format!("registry = {index}"),
        ],
    ));
    vec![
        file("cargo", format!("{}-cargo.toml", repo.name), main),
        file(
            "cargo",
            format!("{}-cargo-replace.toml", repo.name),
            replace,
        ),
    ]
}
