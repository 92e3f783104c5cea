//! apt's PDiffs: `Packages.diff/Index` next to each `Packages`, listing patches (ed scripts,
//! gzip'd) from earlier versions to the current one, so `apt-get update` fetches a patch, not
//! the whole index. The host makes the patches (the plan's `history` request); this file only
//! asks for them and writes the Index, as Debian's archive (dak) does with merged patches:
//! every patch leads straight to the current file (`X-Patch-Precedence: merged`), so a client
//! N versions behind downloads one.
use crate::reposmith::generator::types::{Assembled, Encoding, History, RepoInfo};
use sha2::Digest as _;

/// Patches kept per Packages file unless the repo's `pdiffs` option says otherwise (Debian's
/// archive keeps about two weeks of daily ones).
pub const DEFAULT_KEEP: u32 = 14;

/// The `history` request for the Packages file at `path`: `pdiffs` = how many versions
/// back (0 or `no` turns PDiffs off).
pub fn history(repo: &RepoInfo, path: &str) -> Option<History> {
    let keep = match repo.options.iter().find(|o| o.key == "pdiffs") {
        None => DEFAULT_KEEP,
        Some(o) => match o.value.trim() {
            "no" | "false" | "off" => 0,
            v => v.parse().unwrap_or(DEFAULT_KEEP),
        },
    };
    (keep > 0).then(|| History {
        keep,
        dir: format!("{path}.diff/"),
        // apt fetches only `NAME.gz` (see acquire-item.cc: "all of pdiff supports only .gz").
        encodings: vec![Encoding::Gzip],
    })
}

/// Is this assembled file one of the host's patches (not listed in Release: the Index is)?
pub fn is_patch(f: &Assembled) -> bool {
    f.patch.is_some()
}

/// The Index for the Packages file at `path`, when it has patches: `(index path, text)`.
pub fn index(path: &str, files: &[Assembled]) -> Option<(String, String)> {
    let current = files
        .iter()
        .filter(|f| !is_patch(f))
        .find(|f| f.path == path || f.path.starts_with(&format!("{path}.")))?;
    let dir = format!("{path}.diff/");
    // Oldest first, as dak writes them (apt looks for the client's version among them).
    let mut patches: Vec<(&str, &Assembled)> = files
        .iter()
        .filter(|f| f.patch.as_ref().is_some_and(|p| p.file == path))
        .filter_map(|f| {
            let name = f.path.strip_prefix(&dir)?.strip_suffix(".gz")?;
            Some((name, f))
        })
        .collect();
    if patches.is_empty() {
        return None;
    }
    patches.sort_by_key(|(name, _)| from_generation(name));
    let mut text = format!(
        "SHA256-Current: {} {}\n",
        current.open_sha256, current.open_size
    );
    let mut section = |title: &str, line: &dyn Fn(&str, &Assembled) -> String| {
        text.push_str(title);
        text.push_str(":\n");
        for (name, f) in &patches {
            text.push_str(&line(name, f));
        }
    };
    section("SHA256-History", &|name, f| {
        let p = f.patch.as_ref().expect("filtered on patch");
        format!(" {} {:>7} {name}\n", p.from_sha256, p.from_size)
    });
    section("SHA256-Patches", &|name, f| {
        format!(" {} {:>7} {name}\n", f.open_sha256, f.open_size)
    });
    section("SHA256-Download", &|name, f| {
        format!(" {} {:>7} {name}.gz\n", f.sha256, f.size)
    });
    text.push_str("X-Patch-Precedence: merged\n");
    Some((format!("{dir}Index"), text))
}

/// `T-<to>-F-<from>` → from (names sort by the version they start from).
fn from_generation(name: &str) -> u64 {
    name.rsplit_once("-F-")
        .and_then(|(_, g)| g.parse().ok())
        .unwrap_or(0)
}

/// The Index as Release lists it: its size and the digests Release names.
pub fn listed(path: String, text: &str) -> Assembled {
    let b = text.as_bytes();
    let sha256 = hex(&sha2::Sha256::digest(b));
    Assembled {
        path,
        encoding: Encoding::Identity,
        size: b.len() as u64,
        md5: hex(&md5::Md5::digest(b)),
        sha1: String::new(),
        sha256: sha256.clone(),
        sha512: String::new(),
        open_size: b.len() as u64,
        open_sha256: sha256,
        patch: None,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reposmith::generator::types::{Hint, PatchOf};

    fn file(path: &str, sha: char, patch: Option<PatchOf>) -> Assembled {
        Assembled {
            open_size: 20,
            open_sha256: sha.to_string().repeat(64),
            patch,
            ..crate::testdeb::assembled(path, 10, sha)
        }
    }

    #[test]
    fn index_lists_patches_oldest_first() {
        let p = "dists/s/main/binary-amd64/Packages";
        let from = |s: char| PatchOf {
            file: p.into(),
            from_size: 5,
            from_sha256: s.to_string().repeat(64),
        };
        let files = vec![
            file(p, 'a', None),
            file(&format!("{p}.xz"), 'b', None),
            file(&format!("{p}.diff/T-9-F-8.gz"), 'c', Some(from('8'))),
            file(&format!("{p}.diff/T-9-F-10.gz"), 'd', Some(from('7'))),
        ];
        let (path, text) = index(p, &files).unwrap();
        assert_eq!(path, format!("{p}.diff/Index"));
        assert!(text.starts_with(&format!("SHA256-Current: {} 20\n", "a".repeat(64))));
        let hist = text.find(&"8".repeat(64)).unwrap();
        assert!(hist < text.find(&"7".repeat(64)).unwrap(), "{text}");
        assert!(text.contains(&format!(" {}      10 T-9-F-8.gz\n", "c".repeat(64))));
        assert!(text.ends_with("X-Patch-Precedence: merged\n"));
        // No patches, no Index.
        assert!(index(p, &files[..2]).is_none());
    }

    #[test]
    fn pdiffs_option() {
        let mut repo = RepoInfo {
            name: "r".into(),
            description: String::new(),
            default_suite: "s".into(),
            default_component: "main".into(),
            architectures: vec![],
            options: vec![],
            now: 0,
            generation: 1,
            base_url: String::new(),
        };
        assert_eq!(history(&repo, "P").unwrap().keep, DEFAULT_KEEP);
        repo.options = vec![Hint {
            key: "pdiffs".into(),
            value: "3".into(),
        }];
        assert_eq!(history(&repo, "P").unwrap().dir, "P.diff/");
        assert_eq!(history(&repo, "P").unwrap().keep, 3);
        repo.options[0].value = "0".into();
        assert!(history(&repo, "P").is_none());
    }
}
