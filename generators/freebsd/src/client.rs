//! `client`: pkg(8)'s `NAME.conf` (pkg.conf(5), "REPOSITORY CONFIGURATION"), to save in
//! /usr/local/etc/pkg/repos/, and the repo's key, to save as /usr/local/etc/pkg/keys/NAME.pub.
//!
//! - `url`: the tree + `/${ABI}` (pkg expands `${ABI}`; one tree per ABI here), plain
//!   `http(s)://` since `mirror_type` is `none`: pkg's mirrors are SRV or HTTP mirror-list
//!   lookups, not a list in the file, so the repo's mirrors are written as comments (each a
//!   drop-in `url`).
//! - `signature_type: "pubkey"` with the key file when the repo checks metadata signatures
//!   (`repo-gpgcheck`: pkg verifies the catalogue's RSA signature) and has an RSA key;
//!   `"none"` otherwise. pkg checks no per-package signature (`gpgcheck` has no equivalent).
//! - `enabled: yes|no`.
use reposmith_generator_sdk::client::{file, title};
use reposmith_generator_sdk::exports::reposmith::generator::client::{ClientFile, ClientRepo};

pub fn files(repo: &ClientRepo) -> Vec<ClientFile> {
    let mut out = vec![file("pkg", format!("{}.conf", repo.name), conf(repo))];
    if signed(repo) {
        let mut pem = repo.rsa_public_key.trim_end().to_string();
        pem.push('\n');
        out.push(file("pkg", format!("{}.pub", repo.name), pem));
    }
    out
}

fn signed(repo: &ClientRepo) -> bool {
    repo.repo_gpgcheck && !repo.rsa_public_key.trim().is_empty()
}

/// A UCL key: bare when it is a plain word, else quoted.
fn key(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_string()
    } else {
        format!("{name:?}")
    }
}

fn abi_url(url: &str) -> String {
    format!("{}/${{ABI}}", url.trim_end_matches('/'))
}

pub fn conf(repo: &ClientRepo) -> String {
    let title: String = title(repo).split_whitespace().collect::<Vec<_>>().join(" ");
    let mut s = format!("# {title}\n");
    for m in &repo.mirrors {
        s.push_str(&format!("# mirror: url: \"{}\"\n", abi_url(m)));
    }
    s.push_str(&format!("{}: {{\n", key(&repo.name)));
    s.push_str(&format!("  url: \"{}\",\n", abi_url(&repo.base_url)));
    s.push_str("  mirror_type: \"none\",\n");
    if signed(repo) {
        s.push_str("  signature_type: \"pubkey\",\n");
        s.push_str(&format!(
            "  pubkey: \"/usr/local/etc/pkg/keys/{}.pub\",\n",
            repo.name
        ));
    } else {
        s.push_str("  signature_type: \"none\",\n");
    }
    s.push_str(if repo.enabled {
        "  enabled: yes\n"
    } else {
        "  enabled: no\n"
    });
    s.push_str("}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use reposmith_generator_sdk::client::sample;

    #[test]
    fn signed_and_enabled() {
        let f = files(&sample("https://repo.example/repos/demo/freebsd"));
        let names = reposmith_generator_sdk::client::names(&f);
        assert_eq!(names, [("pkg", "demo.conf"), ("pkg", "demo.pub")]);
        assert_eq!(
            String::from_utf8(f[0].data.clone()).unwrap(),
            "# Demo packages
# mirror: url: \"https://mirror.example/repos/demo/freebsd/${ABI}\"
demo: {
  url: \"https://repo.example/repos/demo/freebsd/${ABI}\",
  mirror_type: \"none\",
  signature_type: \"pubkey\",
  pubkey: \"/usr/local/etc/pkg/keys/demo.pub\",
  enabled: yes
}
"
        );
        assert_eq!(
            String::from_utf8(f[1].data.clone()).unwrap(),
            "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"
        );
    }

    #[test]
    fn disabled_and_unsigned() {
        let mut repo = sample("https://repo.example/repos/demo/freebsd");
        repo.enabled = false;
        repo.repo_gpgcheck = false;
        repo.mirrors.clear();
        repo.name = "demo.x".into();
        let f = files(&repo);
        assert_eq!(f.len(), 1);
        assert_eq!(
            String::from_utf8(f[0].data.clone()).unwrap(),
            "# Demo packages
\"demo.x\": {
  url: \"https://repo.example/repos/demo/freebsd/${ABI}\",
  mirror_type: \"none\",
  signature_type: \"none\",
  enabled: no
}
"
        );
    }
}
