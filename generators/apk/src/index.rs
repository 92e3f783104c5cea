//! The repository: each package becomes one entry on the shelf of its architecture carrying
//! its APKINDEX stanza; at publish every architecture gets `ARCH/APKINDEX.tar.gz` (its own
//! shelf plus `noarch`, signed with the repo's RSA key), the package files linked into `ARCH/` under the name apk fetches
//! (`NAME-VERSION.apk`, apk-tools `src/package.c` `PKG_FILE_FMT`), and the repo's RSA public
//! key at `keys/NAME.rsa.pub`.

use std::collections::BTreeSet;
use std::io::Write;

use crate::apk;
use crate::pkginfo::{clip, PkgInfo, Stanza};
use crate::reposmith::generator::types::{
    Assembled, BulkFile, Concat, Content, Encoding, Entry, Facts, Fragment, Leaf, Link, Output,
    Part, Piece, PublishPlan, RepoInfo, Selection, ShelfSummary, TarMember,
};
use reposmith_generator_sdk::ustar;

/// The shelf of architecture-independent packages, folded into every architecture.
pub const NOARCH: &str = "noarch";
/// The architecture a repository without any gets.
pub const DEFAULT_ARCH: &str = "x86_64";
/// The APKINDEX stanza.
pub const STANZA: &str = "stanza";

/// One package → one entry with its stanza fragments.
pub fn analyze<R>(mut read: R, facts: &Facts) -> Result<Vec<Entry>, String>
where
    R: FnMut(u64, u32) -> Result<Vec<u8>, String>,
{
    let contents = apk::read_package(&mut read, facts.size)?;
    let info = PkgInfo::parse(&contents.pkginfo)?;
    let name = info.one("pkgname").ok_or(".PKGINFO has no pkgname")?;
    let version = info.one("pkgver").ok_or(".PKGINFO has no pkgver")?;
    let arch = info.one("arch").ok_or(".PKGINFO has no arch")?;
    check("pkgname", name, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-')
    })?;
    check("pkgver", version, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-' | b'~')
    })?;
    check("arch", arch, |b| b.is_ascii_alphanumeric() || b == b'_')?;
    if let Some(want) = info.one("datahash") {
        let data_size = facts.size - contents.data_start;
        if data_size <= apk::MAX_HASHED_DATA {
            let got = apk::data_hash(&mut read, contents.data_start, facts.size)?;
            if !got.eq_ignore_ascii_case(want) {
                return Err(format!(
                    "the data stream does not match .PKGINFO datahash (corrupt or truncated \
                     package): {} != {}",
                    clip(want),
                    got
                ));
            }
        }
    }
    let stanza = Stanza {
        info: &info,
        q1: &contents.q1,
        size: facts.size,
    }
    .render()?;
    Ok(vec![Entry {
        name: name.to_string(),
        version: version.to_string(),
        arch: arch.to_string(),
        path: format!("{arch}/{name}-{version}.apk"),
        shelf: arch.to_string(),
        fragments: vec![Fragment {
            name: STANZA.into(),
            data: stanza.into_bytes(),
        }],
    }])
}

fn check(what: &str, v: &str, ok: impl Fn(u8) -> bool) -> Result<(), String> {
    if v.is_empty() || v.len() > 128 || v.starts_with(['.', '-']) || !v.bytes().all(ok) {
        return Err(format!("invalid {what} {:?} in .PKGINFO", clip(v)));
    }
    Ok(())
}

/// A repo's `architectures` may be Debian's names (the default is `[amd64]`).
fn apk_arch(a: &str) -> Option<&str> {
    match a {
        "all" | "any" | "source" | "noarch" | "" => None,
        "amd64" => Some("x86_64"),
        "arm64" => Some("aarch64"),
        "i386" | "i686" => Some("x86"),
        "ppc64el" => Some("ppc64le"),
        other => Some(other),
    }
}

/// The architecture trees: every shelf but `noarch`, and the repo's architectures; a repo
/// without `architectures` always has `x86_64` too, so that its index does not vanish (and
/// `apk update` fail) when its last x86_64 package is removed.
pub fn arches(repo: &RepoInfo, shelves: &[ShelfSummary]) -> Vec<String> {
    let mut set = BTreeSet::new();
    if repo.architectures.is_empty() {
        set.insert(DEFAULT_ARCH.to_string());
    }
    for s in shelves.iter().filter(|s| s.entries > 0) {
        if let Some(a) = apk_arch(&s.shelf) {
            set.insert(a.to_string());
        }
    }
    for a in &repo.architectures {
        if let Some(a) = apk_arch(a) {
            set.insert(a.to_string());
        }
    }
    if set.is_empty() {
        set.insert(DEFAULT_ARCH.to_string());
    }
    set.into_iter().collect()
}

/// `DESCRIPTION`: apk shows it in `apk update`; apk-tools 3 ignores one over 160 bytes
/// (`src/extract_v2.c`).
pub fn description(repo: &RepoInfo) -> String {
    let d = if repo.description.is_empty() {
        &repo.name
    } else {
        &repo.description
    };
    let d: String = d.chars().filter(|c| !c.is_control()).collect();
    let mut out = String::new();
    for c in d.chars() {
        if out.len() + c.len_utf8() > 160 {
            break;
        }
        out.push(c);
    }
    out
}

/// The index members' mtime. apk reads no member times; a fixed one keeps the index the same
/// bytes until its packages change (`repo.now` made each publish of any format in the repo a
/// new index: stored, signed and served anew, and downloaded again by every apk client).
const INDEX_MTIME: u64 = 0;

/// Publish step 1: per architecture, the unsigned index tar (gzip-encoded by the host) and the
/// noarch links. The tar is `DESCRIPTION` and `APKINDEX` (every stanza of the architecture and
/// `noarch`; possibly empty: apk refuses an index without the member) with end-of-archive
/// blocks: gzip stream 2 of the final `APKINDEX.tar.gz`, which `finish` signs.
pub fn plan(repo: &RepoInfo, shelves: &[ShelfSummary]) -> Result<PublishPlan, String> {
    let mut files = Vec::new();
    let mut links = Vec::new();
    for arch in arches(repo, shelves) {
        files.push(BulkFile {
            path: format!("{arch}/{UNSIGNED}"),
            parts: vec![
                Part::TarMember(TarMember {
                    name: "DESCRIPTION".into(),
                    mtime: INDEX_MTIME,
                    parts: vec![Leaf::Literal(description(repo).into_bytes())],
                }),
                Part::TarMember(TarMember {
                    name: "APKINDEX".into(),
                    mtime: INDEX_MTIME,
                    parts: vec![Leaf::Entries(Selection {
                        shelves: vec![arch.clone(), NOARCH.into()],
                        fragment: STANZA.into(),
                        separator: Vec::new(),
                    })],
                }),
                Part::Literal(ustar::END.to_vec()),
            ],
            encodings: vec![Encoding::Gzip],
            history: None,
            media_type: None,
        });
        links.push(Link {
            shelves: vec![NOARCH.into()],
            prefix: format!("{arch}/"),
            signature: None,
        });
    }
    Ok(PublishPlan { files, links })
}

/// The bulk file `plan` asks for in every `ARCH/` (published gzipped, with `.gz`).
pub const UNSIGNED: &str = "APKINDEX.unsigned.tar";

use reposmith_generator_sdk::RsaDigest;
/// The host's signer (a trait, so tests sign without a host).
pub use reposmith_generator_sdk::Signer as Sign;

/// The key file name apk looks up in `/etc/apk/keys/` (and names in `.SIGN.RSA.<file>`).
pub fn key_file(signer: &dyn Sign) -> String {
    format!("{}.rsa.pub", signer.rsa_key_name())
}

/// Signatures are SHA-1 (`.SIGN.RSA.`, what every apk-tools 2.x verifies) unless the repo
/// option `apk.signature=sha256` asks for `.SIGN.RSA256.` (newer apk-tools only).
fn wants_sha256(repo: &RepoInfo) -> bool {
    repo.options
        .iter()
        .any(|h| h.key == "apk.signature" && h.value.eq_ignore_ascii_case("sha256"))
}

/// Publish step 2: every `ARCH/APKINDEX.tar.gz` = the signature stream over the assembled
/// `ARCH/APKINDEX.unsigned.tar.gz`, then those bytes; and the public key at
/// `keys/NAME.rsa.pub`.
pub fn finish(
    repo: &RepoInfo,
    files: &[Assembled],
    signer: &dyn Sign,
) -> Result<Vec<Output>, String> {
    let name = key_file(signer);
    if name.contains('/') || name.starts_with('.') || name.len() > 80 {
        return Err(format!("unusable RSA key name {name:?}"));
    }
    let sha256 = wants_sha256(repo);
    let digest = if sha256 {
        RsaDigest::Sha256
    } else {
        RsaDigest::Sha1
    };
    let suffix = format!("/{UNSIGNED}.gz");
    let mut out = Vec::new();
    for f in files.iter().filter(|f| f.encoding == Encoding::Gzip) {
        let Some(arch) = f.path.strip_suffix(&suffix) else {
            continue;
        };
        let sig = signer.rsa_sign_blob(&f.sha256, digest)?;
        out.push(Output {
            path: format!("{arch}/APKINDEX.tar.gz"),
            content: Content::Concat(Concat {
                pieces: vec![
                    Piece::Bytes(signature_stream(&name, sha256, &sig, repo.now)?),
                    Piece::File(f.path.clone()),
                ],
                encoding: Encoding::Identity,
            }),
            media_type: None,
        });
    }
    out.push(Output {
        path: format!("keys/{name}"),
        content: Content::Bytes(signer.rsa_public_key().into_bytes()),
        media_type: None,
    });
    Ok(out)
}

/// The signature stream apk expects first in APKINDEX.tar.gz: a gzip stream of one tar member
/// `.SIGN.RSA.<key file>` (SHA-1) or `.SIGN.RSA256.<key file>` (SHA-256) holding the raw
/// PKCS#1 v1.5 signature of the following gzip stream's compressed bytes, without end-of-archive
/// blocks (abuild-sign; apk-tools `src/package.c` `apk_sign_ctx_process_file()`).
pub fn signature_stream(
    key_file: &str,
    sha256: bool,
    sig: &[u8],
    mtime: u64,
) -> Result<Vec<u8>, String> {
    let kind = if sha256 { "RSA256" } else { "RSA" };
    let member = ustar::file(&format!(".SIGN.{kind}.{key_file}"), sig, mtime)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&member).map_err(|e| e.to_string())?;
    gz.finish().map_err(|e| e.to_string())
}
