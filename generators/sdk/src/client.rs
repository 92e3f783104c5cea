//! What the generators' `client.client-config` answers share: reading a repo's `url-args`,
//! its display title, and making a file.
use crate::exports::reposmith::generator::client::{ClientFile, ClientRepo};

/// The value of the repo's `url-args` entry `key`, if set and not blank.
pub fn arg<'a>(repo: &'a ClientRepo, key: &str) -> Option<&'a str> {
    repo.url_args
        .iter()
        .find(|h| h.key == key)
        .map(|h| h.value.trim())
        .filter(|v| !v.is_empty())
}

/// The repo's title, else its name.
pub fn title(repo: &ClientRepo) -> &str {
    if repo.title.trim().is_empty() {
        &repo.name
    } else {
        repo.title.trim()
    }
}

/// `base-url` and then each mirror: every URL the repo's tree is served at.
pub fn urls(repo: &ClientRepo) -> Vec<&str> {
    std::iter::once(repo.base_url.as_str())
        .chain(repo.mirrors.iter().map(String::as_str))
        .collect()
}

/// One client file of text.
pub fn file(client: &str, file_name: impl Into<String>, text: String) -> ClientFile {
    ClientFile {
        client: client.into(),
        file_name: file_name.into(),
        data: text.into_bytes(),
    }
}

/// What the host serves for a generator without `client-config` (functions/lib/core
/// `client.rs`, `default_file`): one text file naming the tree and the key, for client
/// `generator`. The host's key URL is the first of `gpgkeys` (the served key).
pub fn default_files(repo: &ClientRepo, generator: &str) -> Vec<ClientFile> {
    let key_url = repo.gpgkeys.first().map_or("", String::as_str);
    vec![file(
        generator,
        format!("{}-{generator}.txt", repo.name),
        format!(
            "# {}: the {generator} tree (its generator gives no client configuration)\n\
             url: {}\nkey: {key_url}\nenabled: {}\n",
            repo.name,
            repo.base_url,
            if repo.enabled { "yes" } else { "no" }
        ),
    )]
}

/// (client, file name) of each file, in order: what tests compare a generator's answer with.
#[cfg(feature = "testing")]
pub fn names(files: &[ClientFile]) -> Vec<(&str, &str)> {
    files
        .iter()
        .map(|f| (f.client.as_str(), f.file_name.as_str()))
        .collect()
}

/// A `client-repo` for tests: `demo`, every property set, served at `base_url` (its mirror:
/// the same path on `mirror.example`).
#[cfg(feature = "testing")]
pub fn sample(base_url: &str) -> ClientRepo {
    use crate::reposmith::generator::types::Hint;
    ClientRepo {
        name: "demo".into(),
        title: "Demo packages".into(),
        description: "What the demo ships".into(),
        enabled: true,
        gpgcheck: true,
        repo_gpgcheck: true,
        gpgkeys: vec![
            "https://repo.example/repos/demo/key.asc".into(),
            "https://keys.example/extra.asc".into(),
        ],
        base_url: base_url.into(),
        mirrors: vec![base_url.replace("repo.example", "mirror.example")],
        url_args: vec![Hint {
            key: "unrelated".into(),
            value: "x".into(),
        }],
        default_suite: "stable".into(),
        default_component: "main".into(),
        architectures: vec!["amd64".into(), "arm64".into()],
        public_key: "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZx\nAAAA\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n".into(),
        rsa_key_name: "0123abcd".into(),
        rsa_public_key: "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n".into(),
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    #[test]
    fn the_default_file_is_the_hosts() {
        let repo = super::sample("https://repo.example/repos/demo/min");
        let files = super::default_files(&repo, "min");
        assert_eq!(files[0].file_name, "demo-min.txt");
        assert_eq!(
            String::from_utf8_lossy(&files[0].data),
            "# demo: the min tree (its generator gives no client configuration)\n\
             url: https://repo.example/repos/demo/min\n\
             key: https://repo.example/repos/demo/key.asc\nenabled: yes\n"
        );
    }
}
