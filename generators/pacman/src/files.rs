//! The `files` member of a `.files` database entry: `%FILES%` and every installed path, as
//! repo-add lists them (`bsdtar --exclude='^.*' -tf PKG | LC_ALL=C sort -u`): byte order,
//! no duplicates, directories with a trailing `/`, the package's dot-files left out.

/// The fragment name of a `.files` entry: the directory member, `desc` and `files`.
pub const FRAGMENT: &str = "files";

pub fn render(files: &[String]) -> String {
    let mut sorted: Vec<&str> = files.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::from("%FILES%\n");
    for f in sorted {
        out.push_str(f);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn sorted_bytewise_without_duplicates() {
        let files: Vec<String> = ["usr/share/b", "usr/", "usr/Z", "usr/share/b", "usr/share/"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            super::render(&files),
            "%FILES%\nusr/\nusr/Z\nusr/share/\nusr/share/b\n"
        );
        assert_eq!(super::render(&[]), "%FILES%\n");
    }
}
