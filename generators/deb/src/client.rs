//! `client`: apt's `NAME.sources`, a deb822 stanza (sources.list(5), "DEB822-STYLE FORMAT").
//!
//! - `URIs:` the tree (`…/repos/NAME/dist`) and each mirror, space-separated: apt reads the
//!   indexes of each and, a version being the same on all, fetches it from the first listed.
//! - `Suites:`/`Components:` the repo's `url-args` `suites`/`components` (words separated by
//!   spaces or commas), else its defaults (`stable`, `main`).
//! - `Signed-By:` the repo's armored key embedded (apt ≥ 2.3): a multi-line field, each line
//!   of the key indented by one space and an empty line written ` .` (apt 2.6 verified to take
//!   it, and to refuse a Release signed by another key). Without `repo-gpgcheck`
//!   the stanza says `Trusted: yes` instead (no signature is checked). apt checks the Release
//!   signature only: `gpgcheck` (package signatures) has no apt equivalent.
//! - `X-Repolib-Name:` the title (apt ignores `X-` fields; repolib and desktop tools show it).
use reposmith_generator_sdk::client::{arg, file, title, urls};
use reposmith_generator_sdk::deb822;
use reposmith_generator_sdk::exports::reposmith::generator::client::{ClientFile, ClientRepo};

pub fn files(repo: &ClientRepo) -> Vec<ClientFile> {
    vec![file("apt", format!("{}.sources", repo.name), sources(repo))]
}

/// `suites`-like `url-args` as deb822 wants them: words separated by one space.
fn words(value: &str) -> String {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn or<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.trim().is_empty() {
        default
    } else {
        value.trim()
    }
}

pub fn sources(repo: &ClientRepo) -> String {
    let suites = words(arg(repo, "suites").unwrap_or(or(&repo.default_suite, "stable")));
    let components = words(arg(repo, "components").unwrap_or(or(&repo.default_component, "main")));
    let mut s = String::new();
    deb822::field(&mut s, "X-Repolib-Name", title(repo));
    s.push_str("Types: deb\n");
    s.push_str(&format!("URIs: {}\n", urls(repo).join(" ")));
    s.push_str(&format!("Suites: {suites}\n"));
    s.push_str(&format!("Components: {components}\n"));
    if !repo.architectures.is_empty() {
        s.push_str(&format!(
            "Architectures: {}\n",
            repo.architectures.join(" ")
        ));
    }
    s.push_str(if repo.enabled {
        "Enabled: yes\n"
    } else {
        "Enabled: no\n"
    });
    if !repo.repo_gpgcheck {
        s.push_str("Trusted: yes\n");
    } else if !repo.public_key.trim().is_empty() {
        deb822::multiline(&mut s, "Signed-By", "", repo.public_key.trim());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use reposmith_generator_sdk::client::sample;
    use reposmith_generator_sdk::reposmith::generator::types::Hint;

    #[test]
    fn signed_and_enabled() {
        let repo = sample("https://repo.example/repos/demo/dist");
        let f = files(&repo);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].client.as_str(), f[0].file_name.as_str()),
            ("apt", "demo.sources")
        );
        assert_eq!(
            String::from_utf8(f[0].data.clone()).unwrap(),
            "X-Repolib-Name: Demo packages
Types: deb
URIs: https://repo.example/repos/demo/dist https://mirror.example/repos/demo/dist
Suites: stable
Components: main
Architectures: amd64 arm64
Enabled: yes
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mDMEZx
 AAAA
 =abcd
 -----END PGP PUBLIC KEY BLOCK-----
"
        );
    }

    #[test]
    fn unsigned_disabled_with_url_args() {
        let mut repo = sample("https://repo.example/repos/demo/dist");
        repo.enabled = false;
        repo.repo_gpgcheck = false;
        repo.title = String::new();
        repo.mirrors.clear();
        repo.architectures.clear();
        repo.url_args = vec![
            Hint {
                key: "suites".into(),
                value: "bookworm, bookworm-updates".into(),
            },
            Hint {
                key: "components".into(),
                value: "main contrib".into(),
            },
        ];
        assert_eq!(
            sources(&repo),
            "X-Repolib-Name: demo
Types: deb
URIs: https://repo.example/repos/demo/dist
Suites: bookworm bookworm-updates
Components: main contrib
Enabled: no
Trusted: yes
"
        );
    }
}
