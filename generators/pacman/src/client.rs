//! `client`: pacman's `NAME.conf`, a pacman.conf(5) repository section to `Include` (or
//! append to /etc/pacman.conf).
//!
//! - The section is the repo's name: pacman fetches `SERVER/NAME.db`, the database this
//!   generator names after the repo, in one tree per architecture (`…/pacman/x86_64/`), so each
//!   `Server` is a tree URL + `/$arch` (pacman substitutes `$arch`); one line per URL (the tree,
//!   then each mirror), tried in order.
//! - `SigLevel`: package signatures (`gpgcheck`) and database signatures (`repo-gpgcheck`)
//!   each `Required` or `Never` (`PackageRequired DatabaseRequired`, ..., `Never` when both are
//!   off). The key must be known to pacman (`pacman-key --add` of the key URL, then
//!   `pacman-key --lsign-key`): a comment says where it is.
//! - pacman has no per-repository switch (`Usage` takes `Sync`, `Search`, `Install`,
//!   `Upgrade`, `All`, not "none"), so a disabled repo's section is written commented out.
use reposmith_generator_sdk::client::{file, title, urls};
use reposmith_generator_sdk::exports::reposmith::generator::client::{ClientFile, ClientRepo};

pub fn files(repo: &ClientRepo) -> Vec<ClientFile> {
    vec![file(
        "pacman",
        format!("{}-pacman.conf", repo.name),
        section(repo),
    )]
}

fn sig_level(repo: &ClientRepo) -> &'static str {
    match (repo.gpgcheck, repo.repo_gpgcheck) {
        (true, true) => "PackageRequired DatabaseRequired",
        (true, false) => "PackageRequired DatabaseNever",
        (false, true) => "PackageNever DatabaseRequired",
        (false, false) => "Never",
    }
}

pub fn section(repo: &ClientRepo) -> String {
    let title: String = title(repo).split_whitespace().collect::<Vec<_>>().join(" ");
    let mut s = format!("# {title}\n");
    if !repo.enabled {
        s.push_str("# Disabled: uncomment the section to use it.\n");
    }
    if let Some(key) = repo.gpgkeys.first() {
        s.push_str(&format!(
            "# Signing key: {key} (pacman-key --add it, then pacman-key --lsign-key it)\n"
        ));
    }
    let mut body = format!("[{}]\nSigLevel = {}\n", repo.name, sig_level(repo));
    for url in urls(repo) {
        body.push_str(&format!("Server = {}/$arch\n", url.trim_end_matches('/')));
    }
    if repo.enabled {
        s.push_str(&body);
    } else {
        for line in body.lines() {
            s.push_str(&format!("#{line}\n"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use reposmith_generator_sdk::client::sample;

    #[test]
    fn signed_and_enabled() {
        let f = files(&sample("https://repo.example/repos/demo/pacman"));
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].client.as_str(), f[0].file_name.as_str()),
            ("pacman", "demo-pacman.conf")
        );
        assert_eq!(
            String::from_utf8(f[0].data.clone()).unwrap(),
            "# Demo packages
# Signing key: https://repo.example/repos/demo/key.asc (pacman-key --add it, then pacman-key --lsign-key it)
[demo]
SigLevel = PackageRequired DatabaseRequired
Server = https://repo.example/repos/demo/pacman/$arch
Server = https://mirror.example/repos/demo/pacman/$arch
"
        );
    }

    #[test]
    fn disabled_and_unsigned() {
        let mut repo = sample("https://repo.example/repos/demo/pacman");
        repo.enabled = false;
        repo.gpgcheck = false;
        repo.repo_gpgcheck = false;
        repo.gpgkeys.clear();
        repo.mirrors.clear();
        assert_eq!(
            section(&repo),
            "# Demo packages
# Disabled: uncomment the section to use it.
#[demo]
#SigLevel = Never
#Server = https://repo.example/repos/demo/pacman/$arch
"
        );
        repo.enabled = true;
        repo.gpgcheck = true;
        assert!(section(&repo).contains("SigLevel = PackageRequired DatabaseNever\n"));
    }
}
