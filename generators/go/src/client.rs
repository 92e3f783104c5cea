//! `client`: the go command's environment file (`go env GOENV`, which `go env -w` writes:
//! `KEY=VALUE` lines, others ignored), one file `NAME-go.env`:
//!
//! - `GOPROXY` = the tree, then each mirror after a `|` (go tries the next on any error); with
//!   the url-arg `fallback` (`https://proxy.golang.org,direct`) appended after a `,` (go
//!   falls back only on 404/410, i.e. for modules the repo does not have);
//! - the repo's modules are not in sum.golang.org, so `GOSUMDB=off`, or with the url-arg
//!   `nosumdb` (module path patterns) `GONOSUMDB=` those patterns, the checksum database
//!   staying on for the rest.
//!
//! A disabled repo's lines are commented out. Nothing is signed: go checks downloads
//! against `go.sum`.
use reposmith_generator_sdk::client::{arg, file, title, urls};
use reposmith_generator_sdk::exports::reposmith::generator::client::{ClientFile, ClientRepo};

pub fn files(repo: &ClientRepo) -> Vec<ClientFile> {
    let title: String = title(repo).split_whitespace().collect::<Vec<_>>().join(" ");
    let mut proxy = urls(repo)
        .iter()
        .map(|u| u.trim_end_matches('/'))
        .collect::<Vec<_>>()
        .join("|");
    if let Some(f) = arg(repo, "fallback") {
        proxy = format!("{proxy},{f}");
    }
    let sum = match arg(repo, "nosumdb") {
        Some(patterns) => format!("GONOSUMDB={patterns}"),
        None => "GOSUMDB=off".to_string(),
    };
    let mut text = format!(
        "# {title}: Go module proxy. Append to the file `go env GOENV` names, or run\n\
         # `go env -w` with each line.\n"
    );
    let prefix = if repo.enabled {
        ""
    } else {
        text.push_str("# (the repository is disabled)\n");
        "# "
    };
    text.push_str(&format!("{prefix}GOPROXY={proxy}\n{prefix}{sum}\n"));
    vec![file("go", format!("{}-go.env", repo.name), text)]
}
