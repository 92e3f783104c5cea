//! The `desc` member of a database entry (`NAME-VERSION/desc`), exactly as repo-add writes
//! it: `%FIELD%`, the value(s) one per line, an empty line; a field without a value is left
//! out. `%PGPSIG%` is left out too: the host publishes each package's detached signature as
//! `FILE.sig` next to it, which pacman fetches (repo-add only embeds it when a `.sig` file
//! lies next to the package, and no signature exists yet when a package is analyzed).

use crate::pkginfo::PkgInfo;
use crate::reposmith::generator::types::Facts;

/// The fragment name of a `.db` entry: the directory member and `desc`.
pub const FRAGMENT: &str = "desc";
/// The fragment holding the plain text of `desc`, for Vieter's desc route.
pub const TEXT_FRAGMENT: &str = "desc.txt";

/// The text of `desc`, in repo-add's field order.
pub fn render(info: &PkgInfo, facts: &Facts) -> String {
    let one = |k: &str| info.one(k).map(|v| vec![v]).unwrap_or_default();
    let size = facts.size.to_string();
    let fields = [
        ("FILENAME", vec![facts.filename.as_str()]),
        ("NAME", one("pkgname")),
        ("BASE", one("pkgbase")),
        ("VERSION", one("pkgver")),
        ("DESC", one("pkgdesc")),
        ("GROUPS", info.all("group")),
        ("CSIZE", vec![size.as_str()]),
        ("ISIZE", one("size")),
        ("MD5SUM", vec![facts.md5.as_str()]),
        ("SHA256SUM", vec![facts.sha256.as_str()]),
        ("URL", one("url")),
        ("LICENSE", info.all("license")),
        ("ARCH", one("arch")),
        ("BUILDDATE", one("builddate")),
        ("PACKAGER", one("packager")),
        ("REPLACES", info.all("replaces")),
        ("CONFLICTS", info.all("conflict")),
        ("PROVIDES", info.all("provides")),
        ("DEPENDS", info.all("depend")),
        ("OPTDEPENDS", info.all("optdepend")),
        ("MAKEDEPENDS", info.all("makedepend")),
        ("CHECKDEPENDS", info.all("checkdepend")),
    ];
    let mut out = String::new();
    for (field, values) in fields {
        // repo-add's format_entry: `[[ $1 ]]` — the first value decides.
        if values.first().is_none_or(|v| v.is_empty()) {
            continue;
        }
        out.push('%');
        out.push_str(field);
        out.push_str("%\n");
        for v in values {
            out.push_str(v);
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testpkg;

    #[test]
    fn renders_like_repo_add() {
        let info = PkgInfo::parse(testpkg::PKGINFO.as_bytes()).unwrap();
        let text = render(
            &info,
            &testpkg::facts("harness-1:2.0-3-x86_64.pkg.tar.zst", 1234),
        );
        assert_eq!(
            text,
            "%FILENAME%\nharness-1:2.0-3-x86_64.pkg.tar.zst\n\n%NAME%\nharness\n\n\
             %BASE%\nharness-base\n\n%VERSION%\n1:2.0-3\n\n%DESC%\nA test package\n\n\
             %GROUPS%\ng1\ng2\n\n%CSIZE%\n1234\n\n%ISIZE%\n4096\n\n\
             %MD5SUM%\n0123456789abcdef0123456789abcdef\n\n%SHA256SUM%\n{}\n\n\
             %URL%\nhttps://example.invalid/\n\n%LICENSE%\nMIT\nGPL-2.0-or-later\n\n\
             %ARCH%\nx86_64\n\n%BUILDDATE%\n1700000000\n\n%PACKAGER%\nHarness <h@example.invalid>\n\n\
             %REPLACES%\nold-harness\n\n%CONFLICTS%\nother\n\n%PROVIDES%\nharness-api=2\n\n\
             %DEPENDS%\nglibc\nharness-lib>=1.0\n\n%OPTDEPENDS%\nbash: for scripts\n\n\
             %MAKEDEPENDS%\ngcc\n\n%CHECKDEPENDS%\ncheck\n\n"
                .replace("{}", &"ab".repeat(32))
        );
    }

    #[test]
    fn empty_fields_are_left_out() {
        let info = PkgInfo::parse(b"pkgname = a\npkgver = 1-1\npkgdesc = \nlicense = \n").unwrap();
        let text = render(&info, &testpkg::facts("a-1-1-any.pkg.tar.gz", 1));
        assert!(
            !text.contains("%DESC%") && !text.contains("%LICENSE%"),
            "{text}"
        );
        assert!(text.starts_with("%FILENAME%\na-1-1-any.pkg.tar.gz\n\n%NAME%\na\n\n"));
    }
}
