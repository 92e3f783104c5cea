//! `client`: the `.repo` files of dnf (dnf.conf(5)), yum (yum.conf(5)) and zypper (libzypp's
//! repo files), and a mirror list.
//!
//! The tree is served at `…/repos/NAME/repodata` (the mount) and clients look for
//! `BASEURL/repodata/repomd.xml`, so `baseurl` is the mount's parent. Every URL (the tree,
//! then each mirror) goes in one `baseurl`, one per continuation line: dnf, yum and zypper try
//! them in order. The `url-args` entry `query` (`token=…`, with or without the `?`) is appended
//! to each. `gpgcheck` checks package signatures, `repo_gpgcheck` repomd.xml's; `gpgkey`
//! lists every key URL.
//!
//! File names must be unique among the repo's files though all three are `.repo` files saved
//! under the user's name of choice: dnf's is `NAME.repo`, yum's `NAME-yum.repo`, zypper's
//! `NAME-zypper.repo` (its text adds `type=rpm-md` and `autorefresh=1`). With mirrors, client
//! `mirrorlist` gets `NAME.mirrorlist`: one URL per line, what a `mirrorlist=` URL serves.
use reposmith_generator_sdk::client::{arg, file, title, urls};
use reposmith_generator_sdk::exports::reposmith::generator::client::{ClientFile, ClientRepo};

pub fn files(repo: &ClientRepo) -> Vec<ClientFile> {
    let name = &repo.name;
    let mut out = vec![
        file("dnf", format!("{name}.repo"), repo_file(repo, false)),
        file("yum", format!("{name}-yum.repo"), repo_file(repo, false)),
        file(
            "zypper",
            format!("{name}-zypper.repo"),
            repo_file(repo, true),
        ),
    ];
    if !repo.mirrors.is_empty() {
        let list: String = baseurls(repo).iter().map(|u| format!("{u}\n")).collect();
        out.push(file("mirrorlist", format!("{name}.mirrorlist"), list));
    }
    out
}

/// The URLs clients use as `baseurl`: each tree URL without its mount segment, with the query.
fn baseurls(repo: &ClientRepo) -> Vec<String> {
    let query = arg(repo, "query").map(|q| q.trim_start_matches('?'));
    urls(repo)
        .into_iter()
        .map(|u| {
            let u = u.trim_end_matches('/');
            let u = u.strip_suffix("/repodata").unwrap_or(u);
            match query {
                Some(q) if !q.is_empty() => format!("{u}?{q}"),
                _ => u.to_string(),
            }
        })
        .collect()
}

/// `key=` the first value, then one indented continuation line per further value.
fn list(key: &str, values: &[String]) -> String {
    let mut s = String::new();
    for (i, v) in values.iter().enumerate() {
        if i == 0 {
            s.push_str(&format!("{key}={v}\n"));
        } else {
            s.push_str(&format!("{}{v}\n", " ".repeat(key.len() + 1)));
        }
    }
    s
}

fn flag(b: bool) -> u8 {
    u8::from(b)
}

pub fn repo_file(repo: &ClientRepo, zypper: bool) -> String {
    let mut s = format!("[{}]\n", repo.name);
    let name: String = title(repo).split_whitespace().collect::<Vec<_>>().join(" ");
    s.push_str(&format!("name={name}\n"));
    s.push_str(&list("baseurl", &baseurls(repo)));
    s.push_str(&format!("enabled={}\n", flag(repo.enabled)));
    if zypper {
        s.push_str("autorefresh=1\ntype=rpm-md\n");
    }
    s.push_str(&format!("gpgcheck={}\n", flag(repo.gpgcheck)));
    s.push_str(&format!("repo_gpgcheck={}\n", flag(repo.repo_gpgcheck)));
    s.push_str(&list("gpgkey", &repo.gpgkeys));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use reposmith_generator_sdk::client::sample;
    use reposmith_generator_sdk::reposmith::generator::types::Hint;

    fn text(f: &ClientFile) -> String {
        String::from_utf8(f.data.clone()).unwrap()
    }

    #[test]
    fn every_client_with_mirrors() {
        let f = files(&sample("https://repo.example/repos/demo/repodata"));
        let names = reposmith_generator_sdk::client::names(&f);
        assert_eq!(
            names,
            [
                ("dnf", "demo.repo"),
                ("yum", "demo-yum.repo"),
                ("zypper", "demo-zypper.repo"),
                ("mirrorlist", "demo.mirrorlist")
            ]
        );
        let dnf = "[demo]
name=Demo packages
baseurl=https://repo.example/repos/demo
        https://mirror.example/repos/demo
enabled=1
gpgcheck=1
repo_gpgcheck=1
gpgkey=https://repo.example/repos/demo/key.asc
       https://keys.example/extra.asc
";
        assert_eq!(text(&f[0]), dnf);
        assert_eq!(text(&f[1]), dnf);
        assert_eq!(
            text(&f[2]),
            "[demo]
name=Demo packages
baseurl=https://repo.example/repos/demo
        https://mirror.example/repos/demo
enabled=1
autorefresh=1
type=rpm-md
gpgcheck=1
repo_gpgcheck=1
gpgkey=https://repo.example/repos/demo/key.asc
       https://keys.example/extra.asc
"
        );
        assert_eq!(
            text(&f[3]),
            "https://repo.example/repos/demo\nhttps://mirror.example/repos/demo\n"
        );
    }

    #[test]
    fn disabled_unsigned_with_query() {
        let mut repo = sample("https://repo.example/repos/demo/repodata");
        repo.enabled = false;
        repo.gpgcheck = false;
        repo.repo_gpgcheck = false;
        repo.title = String::new();
        repo.mirrors.clear();
        repo.gpgkeys.truncate(1);
        repo.url_args.push(Hint {
            key: "query".into(),
            value: "?token=abc".into(),
        });
        let f = files(&repo);
        assert_eq!(f.len(), 3, "no mirror list without mirrors");
        assert_eq!(
            text(&f[0]),
            "[demo]
name=demo
baseurl=https://repo.example/repos/demo?token=abc
enabled=0
gpgcheck=0
repo_gpgcheck=0
gpgkey=https://repo.example/repos/demo/key.asc
"
        );
    }
}
