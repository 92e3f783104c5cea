//! The repository: each package becomes one entry on the shelf of its ABI carrying its
//! catalogue line; at publish every ABI gets the tree `pkg` fetches from
//! `URL/repos/REPO/freebsd/${ABI}` (pkg `libpkg/repo/binary/update.c`,
//! `pkg_repo_binary_update_proceed()`): `meta.conf`, `packagesite.pkg` (and `.txz`),
//! `data.pkg`, and the packages under `All/`. The catalogues are signed the way
//! `signature_type: pubkey` verifies (README, "Signing").

use std::collections::BTreeSet;

use crate::manifest::{self, clip};
use crate::pkg;
use crate::reposmith::generator::types::{
    Assembled, BulkFile, Concat, Content, Encoding, Entry, Facts, Fragment, Link, Output, Part,
    Piece, PublishPlan, RepoInfo, Selection, ShelfSummary,
};
use reposmith_generator_sdk::ustar;

/// The catalogue line for `packagesite.yaml` (JSON + `\n`).
pub const YAML: &str = "yaml";
/// The same object for `data`'s `packages` array.
pub const DATA: &str = "data";
/// Where the host publishes each package once; `ABI/All/` links make it reachable per ABI.
pub const POOL: &str = "pool/";
/// The repo's RSA public key, for `pubkey:` in the client's repo config.
pub const KEY_PATH: &str = "keys/repo.pub";
/// The ABI a repository without a concrete one gets for its `OS:VERSION:*` packages.
pub const DEFAULT_ARCH: &str = "amd64";
/// `data` before and after the packages (pkg `pkg_repo_create()`: a streamline UCL object
/// `{"groups":[],"expired_packages":[],"packages":[...]}`).
pub const DATA_HEAD: &str = "{\"groups\":[],\"expired_packages\":[],\"packages\":[";
pub const DATA_TAIL: &str = "]}";

/// One package → one entry with its catalogue fragments.
pub fn analyze<R>(read: R, facts: &Facts) -> Result<Vec<Entry>, String>
where
    R: FnMut(u64, u32) -> Result<Vec<u8>, String>,
{
    let f = &facts.filename;
    if f.is_empty()
        || f.len() > 200
        || f.starts_with('.')
        || f.contains(['/', '\\'])
        || f.chars().any(|c| c.is_control())
    {
        return Err(format!("unusable package file name {:?}", clip(f)));
    }
    let m = pkg::read_package(read, facts.size)?;
    let man = manifest::parse(m.compact.as_deref(), m.full.as_deref())?;
    let repopath = format!("All/{f}");
    let line = manifest::compact(&man.catalogue(&facts.sha256, facts.size, &repopath));
    Ok(vec![Entry {
        name: man.name.clone(),
        version: man.version.clone(),
        arch: man.abi.clone(),
        path: format!("{POOL}{f}"),
        shelf: man.abi.clone(),
        fragments: vec![
            Fragment {
                name: YAML.into(),
                data: format!("{line}\n").into_bytes(),
            },
            Fragment {
                name: DATA.into(),
                data: line.into_bytes(),
            },
        ],
    }])
}

fn is_wild(abi: &str) -> bool {
    abi.split(':').any(|p| p == "*")
}

fn matches(pattern: &str, abi: &str) -> bool {
    let (p, a): (Vec<&str>, Vec<&str>) = (pattern.split(':').collect(), abi.split(':').collect());
    p.len() == a.len() && p.iter().zip(&a).all(|(p, a)| *p == "*" || p == a)
}

/// pkg's ABI architecture names for a repo's `architectures` (Debian's by default).
fn pkg_arch(a: &str) -> Option<&str> {
    match a {
        "all" | "any" | "source" | "noarch" | "" | "*" => None,
        "x86_64" => Some("amd64"),
        "arm64" => Some("aarch64"),
        "i686" | "x86" => Some("i386"),
        other if other.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => Some(other),
        _ => None,
    }
}

/// The ABI trees: every concrete shelf, plus, for `OS:VERSION:*` shelves, `OS:VERSION:ARCH`
/// for each of the repo's architectures (amd64 when it has none).
pub fn abis(repo: &RepoInfo, shelves: &[ShelfSummary]) -> Vec<String> {
    let live: Vec<&str> = shelves
        .iter()
        .filter(|s| s.entries > 0 && manifest::check_abi(&s.shelf).is_ok())
        .map(|s| s.shelf.as_str())
        .collect();
    let mut set: BTreeSet<String> = live
        .iter()
        .filter(|s| !is_wild(s))
        .map(|s| s.to_string())
        .collect();
    let mut arches: Vec<&str> = repo
        .architectures
        .iter()
        .filter_map(|a| pkg_arch(a))
        .collect();
    if arches.is_empty() {
        arches.push(DEFAULT_ARCH);
    }
    for w in live.iter().filter(|s| is_wild(s)) {
        let parts: Vec<&str> = w.split(':').collect();
        let (last, head) = parts.split_last().expect("an ABI has parts");
        if *last == "*" && !head.contains(&"*") {
            for a in &arches {
                set.insert(format!("{}:{a}", head.join(":")));
            }
        }
    }
    set.into_iter().collect()
}

/// The shelves an ABI tree lists: its own and the wildcard ones that match it.
fn selected(abi: &str, shelves: &[ShelfSummary]) -> Vec<String> {
    let mut v = vec![abi.to_string()];
    for s in shelves {
        if s.shelf != abi && is_wild(&s.shelf) && matches(&s.shelf, abi) {
            v.push(s.shelf.clone());
        }
    }
    v
}

/// Publish step 1: per ABI, the two catalogues as plain files (`finish` packs and signs
/// them) and the package links under `ABI/All/`.
pub fn plan(repo: &RepoInfo, shelves: &[ShelfSummary]) -> Result<PublishPlan, String> {
    let mut files = Vec::new();
    let mut links = Vec::new();
    for abi in abis(repo, shelves) {
        let sel = selected(&abi, shelves);
        files.push(BulkFile {
            path: format!("{abi}/packagesite.yaml"),
            parts: vec![Part::Entries(Selection {
                shelves: sel.clone(),
                fragment: YAML.into(),
                separator: Vec::new(),
            })],
            encodings: vec![Encoding::Identity],
            history: None,
            media_type: None,
        });
        files.push(BulkFile {
            path: format!("{abi}/data"),
            parts: vec![
                Part::Literal(DATA_HEAD.as_bytes().to_vec()),
                Part::Entries(Selection {
                    shelves: sel.clone(),
                    fragment: DATA.into(),
                    separator: b",".to_vec(),
                }),
                Part::Literal(DATA_TAIL.as_bytes().to_vec()),
            ],
            encodings: vec![Encoding::Identity],
            history: None,
            media_type: None,
        });
        // Assembled by the host, so the host can vouch for its signature in `meta.txz`.
        files.push(BulkFile {
            path: format!("{abi}/meta.conf"),
            parts: vec![Part::Literal(meta_conf().into_bytes())],
            encodings: vec![Encoding::Identity],
            history: None,
            media_type: None,
        });
        links.push(Link {
            shelves: sel,
            prefix: format!("{abi}/All/"),
            signature: None,
        });
    }
    Ok(PublishPlan { files, links })
}

use reposmith_generator_sdk::RsaDigest;
/// The host's signer (a trait, so tests sign without a host).
pub use reposmith_generator_sdk::Signer as Sign;

/// `meta.conf` as `pkg repo` writes it (pkg `libpkg/pkg_repo_meta.c` `pkg_repo_meta_to_ucl()`,
/// emitted as UCL config; the defaults of `pkg_repo_meta_set_default()`).
pub fn meta_conf() -> String {
    [
        "version = 2;",
        "packing_format = \"tzst\";",
        "manifests = \"packagesite.yaml\";",
        "data = \"data\";",
        "manifests_archive = \"packagesite\";",
        "data_archive = \"data\";",
        "",
    ]
    .join("\n")
}

/// pkg's archive members: ustar, root:wheel, mode 0644 (libarchive reads any ustar).
fn wheel(mtime: u64) -> ustar::Meta<'static> {
    ustar::Meta::file(mtime).group("wheel")
}

/// The `signature` member: the raw RSA signature plus one NUL byte. pkg has always written
/// `siglen + 1` bytes (`packing_append_buffer(pack, sigret, "signature", siglen + 1)` in
/// `pkg_repo_pack_db()`, the buffer being `calloc(max_len + 1)`), and the client verifies the
/// first `siglen - 1` bytes of the member (`libpkg/pkg_repo.c`
/// `pkg_repo_archive_extract_check_archive()`: "siglen must be reduced by one to support this
/// legacy method").
pub fn signature_member(sig: &[u8], mtime: u64) -> Result<Vec<u8>, String> {
    let mut data = sig.to_vec();
    data.push(0);
    ustar::file_with("signature", &data, wheel(mtime))
}

/// The signed archive of one catalogue (pkg `pkg_repo_pack_db()`): a `signature` member, then
/// the catalogue itself; the host joins and compresses.
fn signed_archive(
    member: &str,
    file: &Assembled,
    sig: &[u8],
    mtime: u64,
    encoding: Encoding,
) -> Result<Content, String> {
    let mut head = signature_member(sig, mtime)?;
    head.extend_from_slice(&ustar::header(
        member,
        file.open_size,
        ustar::Kind::File,
        wheel(mtime),
    )?);
    let mut tail = vec![0; ustar::padding(file.open_size)];
    tail.extend_from_slice(&ustar::END);
    Ok(Content::Concat(Concat {
        pieces: vec![
            Piece::Bytes(head),
            Piece::File(file.path.clone()),
            Piece::Bytes(tail),
        ],
        encoding,
    }))
}

/// What `pkg` verifies for `signature_type: pubkey` (pkg `libpkg/pkgsign_ossl.c`
/// `ossl_sign()` / `ossl_verify_cert_cb()`): an RSA/SHA-256 signature of the lower-case hex
/// SHA-256 of the catalogue, i.e. of those 64 ASCII characters.
pub fn sign_catalogue(file: &Assembled, signer: &dyn Sign) -> Result<Vec<u8>, String> {
    let hex = file.open_sha256.to_ascii_lowercase();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{}: unusable sha256 {hex:?}", file.path));
    }
    signer.rsa_sign(hex.as_bytes(), RsaDigest::Sha256)
}

/// `meta.txz`, which pkg fetches first (`pkg_repo_fetch_meta()`: `meta` + `.txz`, checked
/// like the catalogues), before falling back to `meta.conf`: `signature` and `meta`.
/// `file` is the assembled `meta.conf`, whose bytes are `meta`.
fn meta_archive(
    file: &Assembled,
    meta: &[u8],
    signer: &dyn Sign,
    mtime: u64,
) -> Result<Content, String> {
    let sig = sign_catalogue(file, signer)?;
    let mut tar = signature_member(&sig, mtime)?;
    tar.extend(ustar::file_with("meta", meta, wheel(mtime))?);
    tar.extend_from_slice(&ustar::END);
    Ok(Content::Concat(Concat {
        pieces: vec![Piece::Bytes(tar)],
        encoding: Encoding::Xz,
    }))
}

/// Publish step 2: per ABI `meta.conf`, the signed `packagesite.pkg`/`.txz` and `data.pkg`;
/// the RSA public key at `keys/repo.pub`.
pub fn finish(
    repo: &RepoInfo,
    files: &[Assembled],
    signer: &dyn Sign,
) -> Result<Vec<Output>, String> {
    let mut out = Vec::new();
    let find = |p: &str| {
        files
            .iter()
            .find(|a| a.path == p && a.encoding == Encoding::Identity)
    };
    let abis: BTreeSet<&str> = files
        .iter()
        .filter_map(|a| a.path.strip_suffix("/packagesite.yaml"))
        .collect();
    for abi in abis {
        let site = find(&format!("{abi}/packagesite.yaml"))
            .ok_or_else(|| format!("{abi}/packagesite.yaml was not assembled"))?;
        let data =
            find(&format!("{abi}/data")).ok_or_else(|| format!("{abi}/data was not assembled"))?;
        let site_sig = sign_catalogue(site, signer)?;
        let data_sig = sign_catalogue(data, signer)?;
        let meta = find(&format!("{abi}/meta.conf"))
            .ok_or_else(|| format!("{abi}/meta.conf was not assembled"))?;
        out.push(Output {
            path: format!("{abi}/meta.txz"),
            content: meta_archive(meta, meta_conf().as_bytes(), signer, repo.now)?,
            media_type: None,
        });
        out.push(Output {
            path: format!("{abi}/meta"),
            content: Content::SameAs(format!("{abi}/meta.conf")),
            media_type: None,
        });
        out.push(Output {
            path: format!("{abi}/packagesite.pkg"),
            content: signed_archive(
                "packagesite.yaml",
                site,
                &site_sig,
                repo.now,
                Encoding::Zstd,
            )?,
            media_type: None,
        });
        // Earlier pkg asks for the catalogue by its packing format (`packagesite.tzst`,
        // `pkg_repo_fetch_remote_extract_fd()`); older ones, defaulting to txz, `.txz`.
        out.push(Output {
            path: format!("{abi}/packagesite.tzst"),
            content: Content::SameAs(format!("{abi}/packagesite.pkg")),
            media_type: None,
        });
        out.push(Output {
            path: format!("{abi}/packagesite.txz"),
            content: signed_archive("packagesite.yaml", site, &site_sig, repo.now, Encoding::Xz)?,
            media_type: None,
        });
        out.push(Output {
            path: format!("{abi}/data.pkg"),
            content: signed_archive("data", data, &data_sig, repo.now, Encoding::Zstd)?,
            media_type: None,
        });
        out.push(Output {
            path: format!("{abi}/data.tzst"),
            content: Content::SameAs(format!("{abi}/data.pkg")),
            media_type: None,
        });
    }
    out.push(Output {
        path: KEY_PATH.into(),
        content: Content::Bytes(signer.rsa_public_key().into_bytes()),
        media_type: None,
    });
    Ok(out)
}
