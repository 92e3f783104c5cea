//! The fuzz targets' bodies, one plain function each: `fuzz_targets/NAME.rs` hands libFuzzer's
//! input to `NAME`, and `tests/replay.rs` (stable, no libFuzzer) runs every file of
//! `corpus/NAME/` and `regressions/NAME/` through the same function. A body returns normally
//! on any input; a panic, an abort or an unbounded allocation is the crash being looked for.
use reposmith_generator_sdk::reposmith::generator::types::{Entry, Hint};

mod app;

/// A target's body: any input, never a panic.
pub type Body = fn(&[u8]);

/// Every target by name, for the replay test.
pub const TARGETS: &[(&str, Body)] = &[
    ("deb", deb),
    ("rpm", rpm),
    ("pacman", pacman),
    ("apk", apk),
    ("freebsd", freebsd),
    ("go", go),
    ("router", router),
    ("multipart", multipart),
    ("records", records),
];

type Parse = fn(&str, &[u8], &[Hint]) -> (bool, Result<Vec<Entry>, String>);

/// An upload through one generator's `claims` and `analyze`, with the hints the host adds.
fn package(parse: Parse, filename: &str, data: &[u8], extra: &[(&str, &str)]) {
    let mut hints: Vec<Hint> = [
        ("repo.default-suite", "stable"),
        ("repo.default-component", "main"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| Hint {
        key: (*k).into(),
        value: (*v).into(),
    })
    .collect();
    hints.shrink_to_fit();
    let (_claimed, analyzed) = parse(filename, data, &hints);
    if let Ok(entries) = analyzed {
        // What the host checks of an answer must hold for whatever the generator accepted.
        for e in entries {
            assert!(!e.name.is_empty(), "an entry without a name: {e:?}");
        }
    }
}

/// `.deb`: the ar archive, the control tarball (plain, gzip, xz, zstd) and the control file.
pub fn deb(data: &[u8]) {
    package(
        reposmith_generator_sdk::parse_package::<reposmith_gen_deb::Deb>,
        "fuzz_1.0_amd64.deb",
        data,
        &[],
    );
}

/// `.rpm`: the lead, the signature and main headers, their tags and the payload's head.
pub fn rpm(data: &[u8]) {
    package(
        reposmith_generator_sdk::parse_package::<reposmith_gen_rpm::Rpm>,
        "fuzz-1.0-1.x86_64.rpm",
        data,
        &[],
    );
}

/// pacman: the compressed tar (zstd, xz, gzip), `.PKGINFO` and `.MTREE`; named from its
/// content as Vieter's publish route asks.
pub fn pacman(data: &[u8]) {
    package(
        reposmith_generator_sdk::parse_package::<reposmith_gen_pacman::Pacman>,
        "fuzz-1.0-1-x86_64.pkg.tar.zst",
        data,
        &[("pacman.name-from-content", "1")],
    );
}

/// Alpine `.apk`: the concatenated gzip streams, the signature, control and data tars,
/// `.PKGINFO`.
pub fn apk(data: &[u8]) {
    package(
        reposmith_generator_sdk::parse_package::<reposmith_gen_apk::Apk>,
        "fuzz-1.0-r0.apk",
        data,
        &[],
    );
}

/// FreeBSD `.pkg`: the compressed tar and the `+COMPACT_MANIFEST`/`+MANIFEST` JSON.
pub fn freebsd(data: &[u8]) {
    package(
        reposmith_generator_sdk::parse_package::<reposmith_gen_freebsd::FreeBsd>,
        "fuzz-1.0.pkg",
        data,
        &[],
    );
}

/// A Go module zip: the zip's central directory, each member's name, go.mod's syntax, every
/// member inflated and its CRC checked; with a `time` hint.
pub fn go(data: &[u8]) {
    package(
        reposmith_generator_sdk::parse_package::<reposmith_gen_go::Go>,
        "fuzz-v1.0.0.zip",
        data,
        &[("time", "2024-05-06T07:08:09Z")],
    );
}

/// The router and what reads a request's head: the path's segments and route, the query's
/// pairs, then the whole request (method, target, headers: Range, If-None-Match,
/// If-Modified-Since, If-Range, Content-Length, hints...) through `handle` on a repo with a
/// published package. See `app::request` for the input's layout.
pub fn router(data: &[u8]) {
    let text = String::from_utf8_lossy(data.get(1..).unwrap_or_default());
    let target = text.split('\n').next().unwrap_or("");
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let _ = reposmith_core::routes::route(path);
    let _ = reposmith_core::routes::query_pairs(query);
    let Some(req) = app::request(data) else {
        return;
    };
    // A write with the token changes the repo: it gets an App of its own.
    if req.headers().contains_key("authorization") {
        app::run(&app::empty(), req);
    } else {
        app::run(app::published(), req);
    }
}

/// A package upload's multipart body (boundary `fuzz`), with the admin token, streamed in
/// chunks whose sizes the input's first byte picks: parts, their headers, `hints` JSON,
/// `filename`, the file part and its claim.
pub fn multipart(data: &[u8]) {
    let (first, body) = data.split_first().unwrap_or((&0, data));
    let chunk = usize::from(*first).max(1);
    let chunks: Vec<_> = body
        .chunks(chunk)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let req = http::Request::builder()
        .method("POST")
        .uri("/repos/r/packages/")
        .header("authorization", format!("Bearer {}", app::TOKEN))
        .header("content-type", "multipart/form-data; boundary=fuzz")
        .body(reposmith_core::Body::Stream(Box::pin(
            futures::stream::iter(chunks),
        )))
        .expect("a valid request");
    app::run(&app::empty(), req);
}

/// The records the stores hold, read back: the first byte picks which one the rest of the
/// input replaces (an upload in flight, the head, a head bucket, the published pointer, a
/// repo's config), then the request that reads it runs; corrupt records must be an error
/// (500), never a panic. Every record type is also decoded directly.
pub fn records(data: &[u8]) {
    let (first, rest) = data.split_first().unwrap_or((&0, data));
    app::decode_all(rest);
    app::stored(*first, rest);
}
