//! Publish, host side: a generator's plan is assembled here natively from the stored
//! fragments (no per-package data crosses into wasm), encoded, hashed and stored; then the
//! generator's `finish` renders the files that list them.
use crate::app::App;
use crate::digest::digests;
use crate::error::{ApiError, ApiResult};
use crate::generator::{
    Assembled, BulkFile, Content, Encoding, Entry, GenError, Generator, Link, Part, Piece,
    RepoInfo, ShelfSummary,
};

/// An entry with the blobs of its package and of the package's upload-time signature.
#[derive(Clone)]
pub struct Filed {
    pub entry: Entry,
    pub package: BlobRef,
    pub signature: Option<BlobRef>,
}
use crate::model::BlobRef;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Arc;

/// The generator asked for something impossible (a bad path, an unknown file).
fn invalid(name: &str, detail: String) -> ApiError {
    ApiError::from_publishing_generator(name, GenError::Failed(detail))
}

/// Generators write paths under their mount; refuse anything that could escape it.
pub fn check_path(p: &str) -> Result<(), String> {
    if p.is_empty()
        || p.starts_with('/')
        || p.split('/').any(|s| s.is_empty() || s == "." || s == "..")
        || p.chars().any(|c| c.is_control() || c == '\\')
    {
        return Err(format!("invalid published path {p:?}"));
    }
    Ok(())
}

pub fn encode(data: &[u8], enc: Encoding) -> std::io::Result<Vec<u8>> {
    Ok(match enc {
        Encoding::Identity => data.to_vec(),
        Encoding::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data)?;
            e.finish()?
        }
        Encoding::Xz => {
            // Preset 6, but a dictionary no larger than the input: the same output size,
            // without allocating ~90 MiB of match-finder tables for a small index.
            let mut opts = lzma_rust2::XzOptions::with_preset(6);
            let fit = (data.len() as u32).max(64 << 10).next_power_of_two();
            opts.lzma_options.dict_size = opts.lzma_options.dict_size.min(fit);
            let mut w = lzma_rust2::XzWriter::new(Vec::new(), opts)?;
            w.write_all(data)?;
            w.finish()?
        }
        Encoding::Zstd => {
            ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
        }
    })
}

/// Builds one bulk file's identity bytes from literal parts and selected fragments.
/// Entries come grouped by shelf, each group already in the stable order.
fn assemble_identity(
    file: &BulkFile,
    shelves: &HashMap<String, Vec<Filed>>,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    append_parts(&mut out, &file.parts, shelves)?;
    Ok(out)
}

fn append_parts(
    out: &mut Vec<u8>,
    parts: &[Part],
    shelves: &HashMap<String, Vec<Filed>>,
) -> Result<(), String> {
    for part in parts {
        match part {
            Part::Literal(b) => out.extend_from_slice(b),
            Part::Entries(sel) => {
                // Several shelves merge into one ordered run (e.g. amd64 + all).
                let mut picked: Vec<&Entry> = sel
                    .shelves
                    .iter()
                    .filter_map(|s| shelves.get(s))
                    .flatten()
                    .map(|f| &f.entry)
                    .collect();
                if sel.shelves.len() > 1 {
                    picked.sort_by(|a, b| entry_order(a, b));
                }
                let mut first = true;
                for e in picked {
                    let Some(f) = e.fragments.iter().find(|f| f.name == sel.fragment) else {
                        continue;
                    };
                    if !first {
                        out.extend_from_slice(&sel.separator);
                    }
                    first = false;
                    out.extend_from_slice(&f.data);
                }
            }
            Part::TarMember { name, mtime, parts } => {
                let mut content = Vec::new();
                append_parts(&mut content, parts, shelves)?;
                out.extend_from_slice(&ustar_header(name, content.len() as u64, *mtime)?);
                out.extend_from_slice(&content);
                out.resize(out.len().div_ceil(512) * 512, 0);
            }
        }
    }
    Ok(())
}

/// A ustar header for a regular file: mode 0644, root:root, checksum filled in (the
/// generators' writer, so host-built and generator-built members match).
pub fn ustar_header(name: &str, size: u64, mtime: u64) -> Result<[u8; 512], String> {
    use reposmith_generator_sdk::ustar;
    ustar::header(name, size, ustar::Kind::File, ustar::Meta::file(mtime))
}

fn entry_order(a: &Entry, b: &Entry) -> std::cmp::Ordering {
    (&a.name, &a.version, &a.path).cmp(&(&b.name, &b.version, &b.path))
}

/// Renders one generator's tree: returns (path under the mount, blob) pairs, blobs stored.
/// Plan and assemble the bulk files (off the executor), store them, then `finish`.
pub async fn render_generator(
    app: &App,
    g: Arc<dyn Generator>,
    info: &RepoInfo,
    entries: Vec<Filed>,
) -> ApiResult<Vec<(String, BlobRef)>> {
    let shelves = by_shelf(entries);
    let summaries = summarize(&shelves);
    let (g2, info2, sum2) = (g.clone(), info.clone(), summaries.clone());
    let (built, linked) = app
        .blocking(move || build(g2.as_ref(), &info2, &sum2, &shelves))
        .await?;
    let mut files: BTreeMap<String, BlobRef> = linked.into_iter().collect();
    let mut assembled = Vec::with_capacity(built.len());
    for (a, data) in built {
        files.insert(a.path.clone(), store(app, data).await?);
        assembled.push(a);
    }
    finish(app, g, info, summaries, assembled, files).await
}

/// Entries grouped by shelf, each group in the stable order.
fn by_shelf(entries: Vec<Filed>) -> HashMap<String, Vec<Filed>> {
    let mut shelves: HashMap<String, Vec<Filed>> = HashMap::new();
    for f in entries {
        shelves.entry(f.entry.shelf.clone()).or_default().push(f);
    }
    for v in shelves.values_mut() {
        v.sort_by(|a, b| entry_order(&a.entry, &b.entry));
    }
    shelves
}

fn summarize(shelves: &HashMap<String, Vec<Filed>>) -> Vec<ShelfSummary> {
    let mut summaries: Vec<ShelfSummary> = shelves
        .iter()
        .map(|(s, v)| ShelfSummary {
            shelf: s.clone(),
            entries: v.len() as u32,
        })
        .collect();
    summaries.sort_by(|a, b| a.shelf.cmp(&b.shelf));
    summaries
}

/// Each bulk file in each encoding with its bytes, and the linked package files.
type Built = (Vec<(Assembled, Vec<u8>)>, Vec<(String, BlobRef)>);

/// Plan, assembly and encoding: CPU work.
fn build(
    g: &dyn Generator,
    info: &RepoInfo,
    summaries: &[ShelfSummary],
    shelves: &HashMap<String, Vec<Filed>>,
) -> ApiResult<Built> {
    let gname = &g.info().name;
    let plan = g
        .plan(info, summaries)
        .map_err(|e| ApiError::from_publishing_generator(gname, e))?;
    let mut out = Vec::new();
    for file in &plan.files {
        out.extend(assemble_file(gname, file, shelves)?);
    }
    Ok((out, links(gname, &plan.links, shelves)?))
}

/// One bulk file: its identity bytes, then each encoding of them with its digests.
fn assemble_file(
    gname: &str,
    file: &BulkFile,
    shelves: &HashMap<String, Vec<Filed>>,
) -> ApiResult<Vec<(Assembled, Vec<u8>)>> {
    check_path(&file.path).map_err(|e| invalid(gname, e))?;
    let identity = assemble_identity(file, shelves).map_err(|e| invalid(gname, e))?;
    let open = digests(&identity);
    let mut encs = file.encodings.clone();
    encs.dedup();
    let mut out = Vec::new();
    for enc in encs {
        let data = encode(&identity, enc)?;
        let d = digests(&data);
        let a = Assembled {
            path: format!("{}{}", file.path, enc.suffix()),
            encoding: enc,
            size: d.size,
            md5: d.md5,
            sha1: d.sha1,
            sha256: d.sha256,
            sha512: d.sha512,
            open_size: open.size,
            open_sha256: open.sha256.clone(),
        };
        out.push((a, data));
    }
    Ok(out)
}

/// Links: each selected package (and its signature) again under the link's prefix.
fn links(
    gname: &str,
    links: &[Link],
    shelves: &HashMap<String, Vec<Filed>>,
) -> ApiResult<Vec<(String, BlobRef)>> {
    let mut linked = Vec::new();
    for link in links {
        for f in link.shelves.iter().filter_map(|s| shelves.get(s)).flatten() {
            let base = f.entry.path.rsplit('/').next().unwrap_or_default();
            if base.is_empty() {
                continue;
            }
            let path = format!("{}{base}", link.prefix);
            check_path(&path).map_err(|e| invalid(gname, e))?;
            linked.push((path.clone(), f.package.clone()));
            if let (Some(suffix), Some(sig)) = (&link.signature, &f.signature) {
                linked.push((format!("{path}{suffix}"), sig.clone()));
            }
        }
    }
    Ok(linked)
}

/// The generator's `finish` over the assembled files, its outputs stored next to `files`.
/// Same generator, same shelves, same assembled files as last time: its finish would only
/// differ by the date, so what it made then is kept (no re-signing of unchanged formats).
async fn finish(
    app: &App,
    g: Arc<dyn Generator>,
    info: &RepoInfo,
    summaries: Vec<ShelfSummary>,
    assembled: Vec<Assembled>,
    mut files: BTreeMap<String, BlobRef>,
) -> ApiResult<Vec<(String, BlobRef)>> {
    let gname = g.info().name.clone();
    let cache_key = finish_key(&g, info, &summaries, &assembled);
    let slot = format!("{}/{gname}", info.name);
    if let Some((key, made)) = app.finished.lock().get(&slot) {
        if *key == cache_key {
            files.extend(made.iter().cloned());
            return Ok(files.into_iter().collect());
        }
    }
    let before: std::collections::BTreeSet<String> = files.keys().cloned().collect();
    let (info2, signer) = (info.clone(), app.signer.clone());
    let outputs = app
        .blocking(move || g.finish(&info2, &summaries, &assembled, signer))
        .await
        .map_err(|e| ApiError::from_publishing_generator(&gname, e))?;
    for o in outputs {
        check_path(&o.path).map_err(|e| invalid(&gname, e))?;
        let blob = output_blob(app, &gname, &o.path, o.content, &files).await?;
        files.insert(o.path, blob);
    }
    let made: Vec<(String, BlobRef)> = files
        .iter()
        .filter(|(p, _)| !before.contains(*p))
        .map(|(p, b)| (p.clone(), b.clone()))
        .collect();
    app.finished.lock().insert(slot, (cache_key, made));
    Ok(files.into_iter().collect())
}

/// One `finish` output as a stored blob: its bytes, a file published earlier in the tree,
/// or pieces of both joined and encoded.
async fn output_blob(
    app: &App,
    gname: &str,
    path: &str,
    content: Content,
    files: &BTreeMap<String, BlobRef>,
) -> ApiResult<BlobRef> {
    let known = |p: &str, verb: &str| {
        files
            .get(p)
            .cloned()
            .ok_or_else(|| invalid(gname, format!("{path} {verb} unknown path {p}")))
    };
    match content {
        Content::Bytes(b) => store(app, b).await,
        Content::SameAs(p) => known(&p, "is same-as"),
        Content::Concat(pieces, enc) => {
            let mut joined = Vec::new();
            for piece in pieces {
                match piece {
                    Piece::Bytes(b) => joined.extend_from_slice(&b),
                    Piece::File(p) => {
                        let blob = known(&p, "concatenates")?;
                        let bytes = crate::commit::read_blob(app, &blob).await?;
                        joined.extend_from_slice(&bytes);
                    }
                }
            }
            let data = app
                .blocking(move || encode(&joined, enc).map_err(ApiError::from))
                .await?;
            store(app, data).await
        }
    }
}

async fn store(app: &App, data: Vec<u8>) -> ApiResult<BlobRef> {
    let d = app.packages.put_bytes(data.into()).await?;
    Ok(BlobRef::stored(d.sha256, d.size))
}

/// Everything `finish` depends on but the clock: the generator instance, the repo's
/// settings, the shelves and the assembled files' digests.
fn finish_key(
    g: &Arc<dyn Generator>,
    info: &RepoInfo,
    summaries: &[ShelfSummary],
    assembled: &[Assembled],
) -> String {
    let mut text = format!(
        "{:p}|{}|{}|{}|{}|{:?}|{:?}\n",
        Arc::as_ptr(g),
        info.name,
        info.description,
        info.default_suite,
        info.default_component,
        info.architectures,
        info.options
    );
    for s in summaries {
        text.push_str(&format!("{} {}\n", s.shelf, s.entries));
    }
    for a in assembled {
        text.push_str(&format!("{} {}\n", a.path, a.sha256));
    }
    crate::digest::sha256_hex(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{Fragment, Selection};
    use std::io::Read;

    fn entry(name: &str, version: &str, shelf: &str) -> Filed {
        let entry = Entry {
            name: name.into(),
            version: version.into(),
            arch: "amd64".into(),
            path: format!("pool/{name}.deb"),
            shelf: shelf.into(),
            fragments: vec![Fragment {
                name: "P".into(),
                data: format!("Package: {name}\n").into_bytes(),
            }],
        };
        Filed {
            entry,
            package: BlobRef::stored("0".repeat(64), 0),
            signature: None,
        }
    }

    #[test]
    fn assembles_selected_shelves_in_stable_order_with_separators() {
        let mut shelves: HashMap<String, Vec<Filed>> = HashMap::new();
        shelves.insert(
            "s/amd64".into(),
            vec![entry("b", "1", "s/amd64"), entry("d", "1", "s/amd64")],
        );
        shelves.insert(
            "s/all".into(),
            vec![entry("a", "1", "s/all"), entry("c", "1", "s/all")],
        );
        shelves.insert("other".into(), vec![entry("z", "1", "other")]);
        let file = BulkFile {
            path: "Packages".into(),
            parts: vec![
                Part::Literal(b"# head\n".to_vec()),
                Part::Entries(Selection {
                    shelves: vec!["s/amd64".into(), "s/all".into(), "missing".into()],
                    fragment: "P".into(),
                    separator: b"\n".to_vec(),
                }),
            ],
            encodings: vec![Encoding::Identity],
        };
        let out = String::from_utf8(assemble_identity(&file, &shelves).unwrap()).unwrap();
        assert_eq!(
            out,
            "# head\nPackage: a\n\nPackage: b\n\nPackage: c\n\nPackage: d\n"
        );
    }

    #[test]
    fn tar_members_read_back_with_bsdtar() {
        let mut shelves: HashMap<String, Vec<Filed>> = HashMap::new();
        shelves.insert("s".into(), vec![entry("a", "1", "s"), entry("b", "1", "s")]);
        let file = BulkFile {
            path: "x.tar".into(),
            parts: vec![
                Part::TarMember {
                    name: "DESCRIPTION".into(),
                    mtime: 1_700_000_000,
                    parts: vec![Part::Literal(b"test repo".to_vec())],
                },
                Part::TarMember {
                    name: "APKINDEX".into(),
                    mtime: 1_700_000_000,
                    parts: vec![Part::Entries(Selection {
                        shelves: vec!["s".into()],
                        fragment: "P".into(),
                        separator: b"\n".to_vec(),
                    })],
                },
                Part::Literal(vec![0; 1024]),
            ],
            encodings: vec![Encoding::Identity],
        };
        let tar = assemble_identity(&file, &shelves).unwrap();
        assert_eq!(tar.len() % 512, 0);
        let dir = std::env::temp_dir().join(format!("reposmith-tar-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.tar");
        std::fs::write(&path, &tar).unwrap();
        match std::process::Command::new("bsdtar")
            .arg("-xOf")
            .arg(&path)
            .arg("APKINDEX")
            .output()
        {
            Ok(out) => {
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert_eq!(out.stdout, b"Package: a\n\nPackage: b\n");
            }
            Err(_) => eprintln!("bsdtar missing: skipped the independent read"),
        }
        assert!(ustar_header(&"n".repeat(101), 0, 0).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn encodings_round_trip() {
        let data = b"Package: x\nVersion: 1\n".repeat(500);
        let gz = encode(&data, Encoding::Gzip).unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        let xz = encode(&data, Encoding::Xz).unwrap();
        let mut back = Vec::new();
        lzma_rust2::XzReader::new(&xz[..], false)
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        assert!(xz.len() < data.len() / 10);
        let zst = encode(&data, Encoding::Zstd).unwrap();
        let mut back = Vec::new();
        ruzstd::decoding::StreamingDecoder::new(&zst[..])
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn published_paths_cannot_escape_the_mount() {
        for bad in ["", "/abs", "a/../b", "a//b", "./a", "a\\b", "a\nb"] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
        assert!(check_path("dists/stable/main/binary-amd64/Packages.xz").is_ok());
    }
}
