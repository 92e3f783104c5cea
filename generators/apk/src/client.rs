//! `client`: apk's repository line(s) and the repo's key.
//!
//! - `NAME.repositories`: lines to add to /etc/apk/repositories: the tree (`…/repos/NAME/apk`;
//!   apk appends `/ARCH/APKINDEX.tar.gz`), then each mirror; each line commented out (`#`)
//!   when the repo is disabled. apk has no per-repository signature switch: it always checks
//!   APKINDEX's signature (unless run with `--allow-untrusted`).
//! - `KEYNAME.rsa.pub`: the RSA public key, to save in /etc/apk/keys/ under exactly this name:
//!   apk looks the signer up by the name in the index's `.SIGN.RSA.KEYNAME.rsa.pub` member
//!   (`index::key_file`), which this is. Only when the repo has an RSA key.
use reposmith_generator_sdk::client::{file, title, urls};
use reposmith_generator_sdk::exports::reposmith::generator::client::{ClientFile, ClientRepo};

pub fn files(repo: &ClientRepo) -> Vec<ClientFile> {
    let mut out = vec![file(
        "apk",
        format!("{}.repositories", repo.name),
        repositories(repo),
    )];
    if !repo.rsa_key_name.is_empty() && !repo.rsa_public_key.trim().is_empty() {
        let mut pem = repo.rsa_public_key.trim_end().to_string();
        pem.push('\n');
        out.push(file("apk", format!("{}.rsa.pub", repo.rsa_key_name), pem));
    }
    out
}

pub fn repositories(repo: &ClientRepo) -> String {
    let title: String = title(repo).split_whitespace().collect::<Vec<_>>().join(" ");
    let mut s = format!("# {title}\n");
    let prefix = if repo.enabled { "" } else { "#" };
    for url in urls(repo) {
        s.push_str(&format!("{prefix}{}\n", url.trim_end_matches('/')));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use reposmith_generator_sdk::client::sample;

    #[test]
    fn enabled_with_key() {
        let f = files(&sample("https://repo.example/repos/demo/apk"));
        let names = reposmith_generator_sdk::client::names(&f);
        assert_eq!(
            names,
            [("apk", "demo.repositories"), ("apk", "0123abcd.rsa.pub")]
        );
        assert_eq!(
            String::from_utf8(f[0].data.clone()).unwrap(),
            "# Demo packages
https://repo.example/repos/demo/apk
https://mirror.example/repos/demo/apk
"
        );
        assert_eq!(
            String::from_utf8(f[1].data.clone()).unwrap(),
            "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"
        );
    }

    #[test]
    fn disabled_without_key() {
        let mut repo = sample("https://repo.example/repos/demo/apk");
        repo.enabled = false;
        repo.rsa_key_name.clear();
        repo.rsa_public_key.clear();
        let f = files(&repo);
        assert_eq!(f.len(), 1);
        assert_eq!(
            String::from_utf8(f[0].data.clone()).unwrap(),
            "# Demo packages
#https://repo.example/repos/demo/apk
#https://mirror.example/repos/demo/apk
"
        );
    }
}
