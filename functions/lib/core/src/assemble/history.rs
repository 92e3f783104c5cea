//! A bulk file's `history` (see the WIT): patches from its last `keep` versions to the current
//! one. What a render keeps for the next is a small JSON blob per file, named by the manifest
//! (`Manifest::histories`): the current version's decoded blob, and for each earlier version
//! its size, sha256 and the patch from it to the current one.
//!
//! When the file changes, the host diffs the previous version against the new one (the
//! pieces both start and end with are neither read nor split into lines, so an upload costs
//! the size of what changed; only the lines between the common prefix and suffix go through
//! Myers), then composes every kept patch with that diff: the work is the
//! size of what changed, never the old versions again. Each patch is published under the
//! request's `dir` as `T-<generation of the current version>-F-<generation of the earlier
//! one>`, so a name never stands for two different files.
use super::chunks::{ChunkCache, Made, Open};
use super::codec::encode_quick;
use super::held::{concat, Held};
use super::invalid;
use super::patch;
use crate::app::App;
use crate::digest::Digests;
use crate::error::{ApiError, ApiResult};
use crate::generator::{Assembled, Encoding, History, PatchOf};
use crate::model::{BlobRef, Piece};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Patches a file keeps at most, whatever the generator asks.
pub const MAX_KEEP: u32 = 64;

/// One published version of a file (decoded bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub generation: u64,
    pub size: u64,
    pub sha256: String,
}

/// An earlier version and the patch (an ed script blob) from it to the current one, with
/// the patch as published in each encoding (made once: an unchanged file publishes its
/// patches again without reading or encoding them).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Older {
    pub from: Version,
    /// The ed script's digest; stored whole only if no gzip file of it is (see `advance`).
    /// Stored as `script`: an older host expects a stored `patch` blob and, finding none
    /// named, starts the history again instead of failing to read it (rolling upgrades).
    #[serde(rename = "script", alias = "patch")]
    pub patch: BlobRef,
    #[serde(default)]
    pub files: Vec<PatchFile>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PatchFile {
    pub encoding: Encoding,
    pub digests: Digests,
    pub blob: BlobRef,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileHistory {
    pub current: Version,
    /// The current version's decoded bytes, to diff against the next.
    pub blob: BlobRef,
    /// Newest first.
    pub older: Vec<Older>,
}

/// What a render leaves a file's next one: the sha256 of the history's blob, the history,
/// the line count of each piece of its current version (when known), and its patches' ed
/// scripts by sha256 (those at hand), so the next change composes them without reading them.
pub struct Carried {
    sha: String,
    history: FileHistory,
    lines: Vec<usize>,
    scripts: Scripts,
}

/// Ed scripts by their sha256.
type Scripts = HashMap<String, bytes::Bytes>;

/// The history of `file` after this render, and the sha256 of the blob that holds it: the
/// one the last manifest named (`prev`) advanced to the file as assembled now. The repo's
/// render cache keeps the last one, so an unchanged file costs no store call.
pub async fn carry(
    app: &App,
    cache: &mut ChunkCache,
    key: String,
    req: &History,
    prev: Option<&String>,
    open: &Open,
    generation: u64,
) -> ApiResult<(String, FileHistory)> {
    let (last, lines, scripts) = match (prev, cache.histories.remove(&key)) {
        (None, _) => (None, Vec::new(), Scripts::new()),
        (Some(sha), Some(c)) if c.sha == *sha => (Some(c.history), c.lines, c.scripts),
        (Some(sha), _) => {
            let raw = app.packages.get_bytes(sha).await?.unwrap_or_default();
            // Unreadable (written by another version): start again.
            (
                serde_json::from_slice(&raw).ok(),
                Vec::new(),
                Scripts::new(),
            )
        }
    };
    // The patch files and scripts this render makes, staged with the history that names
    // them (nothing else names them before the manifest).
    let mut writes = Vec::new();
    let (h, changed, lines, scripts) = advance(
        app,
        cache,
        req,
        last,
        &lines,
        scripts,
        open,
        generation,
        &mut writes,
    )
    .await?;
    let sha = match prev {
        Some(sha) if !changed => sha.clone(),
        _ => {
            let json = bytes::Bytes::from(crate::commit::to_json(&h)?);
            let sha = crate::digest::sha256_hex(&json);
            writes.push(json);
            sha
        }
    };
    for w in writes {
        cache.stage(w);
    }
    let carried = Carried {
        sha: sha.clone(),
        history: h.clone(),
        lines,
        scripts,
    };
    cache.histories.insert(key, carried);
    Ok((sha, h))
}

/// `prev` advanced to the file as assembled now, whether that changed it, the line count
/// of each of the file's pieces when they were worked out (`lines` are `prev`'s, or empty),
/// and the scripts of its patches (`scripts`: `prev`'s at hand).
/// A file that cannot be patched by line starts a new history. The blobs it makes go to
/// `writes`, for the caller to store.
#[allow(clippy::too_many_arguments)]
async fn advance(
    app: &App,
    cache: &ChunkCache,
    req: &History,
    prev: Option<FileHistory>,
    lines: &[usize],
    mut scripts: Scripts,
    open: &Open,
    generation: u64,
    writes: &mut Vec<bytes::Bytes>,
) -> ApiResult<(FileHistory, bool, Vec<usize>, Scripts)> {
    let now = Version {
        generation,
        size: open.digests.size,
        sha256: open.digests.sha256.clone(),
    };
    let keep = req.keep.min(MAX_KEEP) as usize;
    let fresh = FileHistory {
        current: now.clone(),
        blob: open.blob.clone(),
        older: Vec::new(),
    };
    let Some(prev) = prev else {
        return Ok((fresh, true, Vec::new(), Scripts::new()));
    };
    if prev.current.sha256 == now.sha256 {
        let mut same = prev;
        let mut changed = same.older.len() > keep;
        same.older.truncate(keep);
        for o in &mut same.older {
            changed |= encoded(app, req, o, &mut scripts, writes).await?;
        }
        return Ok((same, changed, lines.to_vec(), scripts));
    }
    if keep == 0 {
        return Ok((fresh, true, Vec::new(), Scripts::new()));
    }
    // The pieces both versions start and end with (by sha256) are neither read nor diffed.
    let (was, now_pieces) = (prev.blob.stored_blobs(), open.blob.stored_blobs());
    // (Only when `open.bytes` lines up with the new version's pieces, as assembling makes it.)
    let n = open.bytes.len();
    let (pre, suf) = if n == now_pieces.len() {
        patch::shared_ends(&was, &now_pieces, |a, b| a.sha256 == b.sha256)
    } else {
        (0, 0)
    };
    let old_mid = decoded(app, cache, &was[pre..was.len() - suf], &now_pieces, open).await?;
    let new_mid: Vec<u8> = concat(&open.bytes[pre..n - suf]);
    let prefix: Vec<Held> = open.bytes[..pre].to_vec();
    let suffix: Vec<Held> = open.bytes[n - suf..].to_vec();
    let ends = |mid: &[u8]| patch::unpatchable(&last_part(&prefix, mid, &suffix));
    if ends(&old_mid).or(ends(&new_mid)).is_some() {
        return Ok((fresh, true, Vec::new(), Scripts::new()));
    }
    // Lines the shared prefix skips: counted once per piece, then carried from render to
    // render (the prefix is most of the file; counting it again was O(file) per upload).
    let carried = lines.len() == was.len() && n == now_pieces.len();
    let counts: Vec<usize> = (0..n)
        .map(|i| match carried {
            true if i < pre => lines[i],
            true if i >= n - suf => lines[was.len() - (n - i)],
            _ => patch::line_count(&open.bytes[i].bytes()),
        })
        .collect();
    let skipped: usize = counts[..pre].iter().sum();
    let mut earlier = Vec::new();
    for o in prev.older.iter().take(keep - 1) {
        let script = script_of(app, o, &mut scripts).await?;
        let hunks = patch::from_ed(&script).map_err(ApiError::internal)?;
        earlier.push((o.from.clone(), hunks));
    }
    // Diff and compose off the executor: a big file's diff is CPU work.
    let patches = app
        .blocking(move || {
            let before = prefix.iter().rev().find(|p| !p.is_empty());
            let before = before.map(Held::bytes).unwrap_or_default();
            let step =
                patch::diff_middle(&before, skipped, &old_mid, &new_mid).unwrap_or_else(|| {
                    // A shared run ends mid-line: diff the whole files.
                    let whole =
                        |mid: &[u8]| [&concat(&prefix)[..], mid, &concat(&suffix)[..]].concat();
                    patch::diff(&whole(&old_mid), &whole(&new_mid))
                });
            let mut out = vec![(prev.current.clone(), step.clone())];
            for (from, hunks) in earlier {
                out.push((from, patch::compose(&hunks, &step)));
            }
            Ok::<_, ApiError>(out)
        })
        .await?;
    let mut older = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut made = Scripts::new();
    for (from, hunks) in patches {
        // A version equal to the current one needs no patch; a lone `.` cannot be written.
        if from.sha256 == now.sha256 || !seen.insert(from.sha256.clone()) {
            continue;
        }
        if !patch::writable(&hunks) {
            return Ok((fresh, true, Vec::new(), Scripts::new()));
        }
        let script = bytes::Bytes::from(patch::to_ed(&hunks));
        let sha256 = crate::digest::sha256_hex(&script);
        let mut o = Older {
            from,
            patch: BlobRef::stored(sha256.clone(), script.len() as u64),
            files: Vec::new(),
        };
        made.insert(sha256, script.clone());
        encoded(app, req, &mut o, &mut made, writes).await?;
        // The script is stored whole (its identity file is) only if no gzip file of it can
        // be decoded back (`script_of`): a PUT saved per patch on every publish (deb: 14).
        let files = |e: Encoding| o.files.iter().any(|f| f.encoding == e);
        if !files(Encoding::Gzip) && !files(Encoding::Identity) {
            writes.push(script);
        }
        older.push(o);
    }
    let h = FileHistory {
        current: now,
        blob: open.blob.clone(),
        older,
    };
    Ok((h, true, counts, made))
}

/// A patch's ed script: at hand, or stored whole, or else decoded from its gzip file (a
/// script is stored whole only when it has none: see `encoded`).
async fn script_of(app: &App, o: &Older, scripts: &mut Scripts) -> ApiResult<bytes::Bytes> {
    if let Some(s) = scripts.get(&o.patch.sha256) {
        return Ok(s.clone());
    }
    let script = match o.files.iter().find(|f| f.encoding == Encoding::Gzip) {
        Some(gz) => {
            use std::io::Read;
            let data = crate::commit::read_blob(app, &gz.blob).await?;
            let mut out = Vec::with_capacity(o.patch.size as usize);
            // At most its known size (and a byte to tell a longer one).
            flate2::read::MultiGzDecoder::new(&data[..])
                .take(o.patch.size + 1)
                .read_to_end(&mut out)
                .map_err(|e| ApiError::internal(format!("patch {}: {e}", gz.blob.sha256)))?;
            bytes::Bytes::from(out)
        }
        None => crate::commit::read_blob(app, &o.patch).await?,
    };
    if crate::digest::sha256_hex(&script) != o.patch.sha256 {
        return Err(ApiError::internal(format!(
            "patch {} does not decode to its script",
            o.patch.sha256
        )));
    }
    scripts.insert(o.patch.sha256.clone(), script.clone());
    Ok(script)
}

/// These pieces of the previous version, decoded: those the new version shares come from
/// memory, only the others from the store.
async fn decoded(
    app: &App,
    cache: &ChunkCache,
    pieces: &[Piece],
    now_pieces: &[Piece],
    open: &Open,
) -> ApiResult<Vec<u8>> {
    // Pieces are named by sha256; a blob stored whole is its own one piece.
    let have: HashMap<&str, &Held> = now_pieces
        .iter()
        .map(|p| p.sha256.as_str())
        .zip(&open.bytes)
        .collect();
    let mut out = Vec::with_capacity(pieces.iter().map(|p| p.size as usize).sum());
    for p in pieces.iter().cloned() {
        // The version before's own chunks are still in the cache (this render sweeps it
        // after): read from the store only after a restart or a rebuild.
        match have.get(p.sha256.as_str()) {
            Some(b) => out.extend_from_slice(&b.bytes()),
            None => match cache.identity(&p.sha256) {
                Some(b) => out.extend_from_slice(&b.bytes()),
                None => out.extend_from_slice(
                    &crate::commit::read_blob(app, &BlobRef::stored(p.sha256, p.size)).await?,
                ),
            },
        }
    }
    Ok(out)
}

/// Makes the encodings `req` asks for that `o` lacks (its script from `scripts`, or read),
/// their bytes to `writes`. Whether it made any.
async fn encoded(
    app: &App,
    req: &History,
    o: &mut Older,
    scripts: &mut Scripts,
    writes: &mut Vec<bytes::Bytes>,
) -> ApiResult<bool> {
    let mut made = false;
    for &enc in &req.encodings {
        if o.files.iter().any(|f| f.encoding == enc) {
            continue;
        }
        let script = script_of(app, o, scripts).await?;
        let data = if enc == Encoding::Identity {
            script.clone()
        } else {
            encode_quick(&script, enc).map_err(ApiError::from)?.into()
        };
        let digests = crate::digest::digests(&data);
        writes.push(data);
        o.files.push(PatchFile {
            encoding: enc,
            blob: BlobRef::stored(digests.sha256.clone(), digests.size),
            digests,
        });
        made = true;
    }
    Ok(made)
}

/// The patches of `h` as files under `req.dir`, in every encoding asked, for `finish`.
pub fn publish(gname: &str, file: &str, req: &History, h: &FileHistory) -> ApiResult<Vec<Made>> {
    let mut out = Vec::new();
    for o in &h.older {
        let name = format!(
            "{}T-{}-F-{}",
            req.dir, h.current.generation, o.from.generation
        );
        super::check_path(&name).map_err(|e| invalid(gname, e))?;
        for f in o
            .files
            .iter()
            .filter(|f| req.encodings.contains(&f.encoding))
        {
            let d = f.digests.clone();
            out.push(Made {
                assembled: Assembled {
                    path: format!("{name}{}", f.encoding.suffix()),
                    encoding: f.encoding,
                    size: d.size,
                    md5: d.md5,
                    sha1: d.sha1,
                    sha256: d.sha256,
                    sha512: d.sha512,
                    open_size: o.patch.size,
                    open_sha256: o.patch.sha256.clone(),
                    patch: Some(PatchOf {
                        file: file.to_string(),
                        from_size: o.from.size,
                        from_sha256: o.from.sha256.clone(),
                    }),
                },
                blob: f.blob.clone(),
                // Stored whole: `finish` never needs them from memory.
                bytes: Vec::new(),
            });
        }
    }
    Ok(out)
}

/// The last byte of a file made of `prefix`, `mid` and `suffix`, if it has one (all that
/// `unpatchable` looks at).
fn last_part(prefix: &[Held], mid: &[u8], suffix: &[Held]) -> Vec<u8> {
    let last = |parts: &[Held]| {
        let part = parts.iter().rev().find(|b| !b.is_empty())?;
        part.bytes().last().copied()
    };
    last(suffix)
        .or(mid.last().copied())
        .or_else(|| last(prefix))
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A history this host writes names no `patch` blob, so a host from before (which reads
    /// every script back from it) fails to parse it and starts the history again, rather than
    /// failing every publish on a blob that is not there; this host reads the old form.
    #[test]
    fn an_older_host_starts_a_history_again_and_this_one_reads_the_old_form() {
        let v = |g| Version {
            generation: g,
            size: 1,
            sha256: "a".repeat(64),
        };
        let h = FileHistory {
            current: v(2),
            blob: BlobRef::stored("b".repeat(64), 1),
            older: vec![Older {
                from: v(1),
                patch: BlobRef::stored("c".repeat(64), 3),
                files: Vec::new(),
            }],
        };
        let json = serde_json::to_value(&h).unwrap();
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Before {
            current: Version,
            blob: BlobRef,
            older: Vec<OlderBefore>,
        }
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct OlderBefore {
            from: Version,
            patch: BlobRef,
        }
        assert!(serde_json::from_value::<Before>(json.clone()).is_err());
        let mut old = json;
        let o = old["older"][0].as_object_mut().unwrap();
        let script = o.remove("script").unwrap();
        o.insert("patch".into(), script);
        assert!(serde_json::from_value::<Before>(old.clone()).is_ok());
        let read: FileHistory = serde_json::from_value(old).unwrap();
        assert_eq!(read.older[0].patch.sha256, "c".repeat(64));
    }
}
