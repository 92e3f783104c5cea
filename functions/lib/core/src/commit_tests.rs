//! Unit tests of the commit protocol on in-memory stores (the file, S3 and DynamoDB
//! backends are proven end to end in `tests/`).
use crate::commit::*;
use crate::digest::digests;
use crate::model::keys;
use crate::testkit::*;
use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The status of one request.
async fn send(app: &crate::App, method: &str, path: &str, body: &[u8]) -> u16 {
    crate::handle(app, req(method, path, body))
        .await
        .status()
        .as_u16()
}

/// The status of adding a package to repo `r`.
async fn add(app: &crate::App, name: &str, body: &[u8]) -> u16 {
    let path = format!("/repos/r/packages/?filename={name}");
    send(app, "POST", &path, body).await
}

/// A package stored and analyzed for repo `r`, not yet committed.
async fn analyzed(
    app: &crate::App,
    name: &str,
    body: &'static [u8],
) -> crate::model::PackageRecord {
    let d = app
        .packages
        .put(crate::Body::Bytes(Bytes::from_static(body)).into_stream())
        .await
        .unwrap();
    let config = load_config(app, "r").await.unwrap();
    analyze(app, &config, name, &d, &[]).await.unwrap()
}

/// How many `call`s the app made to `store` ("meta" or "packages") so far.
fn calls(app: &crate::App, store: &str, call: &str) -> u64 {
    app.store_counts
        .counts()
        .into_iter()
        .filter(|(s, c, _)| *s == store && *c == call)
        .map(|(_, _, n)| n)
        .sum()
}

async fn text(app: &crate::App, path: &str) -> (u16, String) {
    let r = crate::handle(app, req("GET", path, b"")).await;
    let s = r.status().as_u16();
    let b = r.into_body().collect(1 << 20).await.unwrap();
    (s, String::from_utf8_lossy(&b).into_owned())
}

#[test]
fn concurrent_adds_all_publish_and_coalesce() {
    let gen = Arc::new(FakeGen::new());
    let (app, _, _) = app(gen.clone());
    futures::executor::block_on(async {
        assert_eq!(send(&app, "POST", "/repos/r/", b"").await, 201);
        let plans_before = gen.plans.load(Ordering::SeqCst);
        let uploads = (0..24).map(|i| {
            let app = app.clone();
            async move {
                let r = crate::handle(
                    &app,
                    req(
                        "POST",
                        &format!("/repos/r/packages/?filename=p{i:02}"),
                        format!("PKG {i}").as_bytes(),
                    ),
                )
                .await;
                assert_eq!(r.status(), 201);
                // Read your writes.
                let (s, idx) = text(&app, "/repos/r/fake/index").await;
                assert_eq!(s, 200);
                assert!(
                    idx.contains(&format!("p{i:02}\n")),
                    "p{i:02} not published on 201"
                );
            }
        });
        futures::future::join_all(uploads).await;
        let (_, idx) = text(&app, "/repos/r/fake/index").await;
        assert_eq!(idx.lines().count(), 24);
        assert_eq!(
            text(&app, "/repos/r/fake/alias").await.1,
            idx,
            "same-as serves the same bytes"
        );
        assert_eq!(
            text(&app, "/repos/r/fake/joined").await.1,
            format!("head\n{idx}"),
            "concat joins bytes and published files"
        );
        let plans = gen.plans.load(Ordering::SeqCst) - plans_before;
        assert!(
            plans < 24,
            "24 commits took {plans} publishes: no coalescing"
        );
        let (_, release) = text(&app, "/repos/r/fake/Release").await;
        assert!(release.starts_with("SIGNED\n"));
        // The package file is published at its entry path, and again under the link's
        // prefix with its upload-time signature.
        assert_eq!(text(&app, "/repos/r/fake/pool/p07").await.1, "PKG 7");
        assert_eq!(text(&app, "/repos/r/fake/linked/p07").await.1, "PKG 7");
        assert_eq!(text(&app, "/repos/r/fake/linked/p07.sig").await.1, "sig");
    });
}

/// A generator that publishes no package signatures costs no signing at upload: the record
/// has none, and its link's signature suffix serves nothing.
#[test]
fn packages_are_signed_only_for_generators_that_publish_signatures() {
    let (app, _, _) = app(Arc::new(FakeGen::unsigned()));
    futures::executor::block_on(async {
        assert_eq!(send(&app, "POST", "/repos/r/", b"").await, 201);
        assert_eq!(add(&app, "p01", b"PKG 1").await, 201);
        let (head, _) = load_head(&app, "r").await.unwrap();
        assert_eq!(head.packages.get("p01").unwrap().signature, None);
        assert_eq!(text(&app, "/repos/r/fake/linked/p01").await.1, "PKG 1");
        assert_eq!(text(&app, "/repos/r/fake/linked/p01.sig").await.0, 404);
    });
}

/// A head written before buckets (every record inline) is still read, and a generation
/// rendered from it names bucket blobs that serve its package files.
#[test]
fn a_head_with_inline_records_is_read_and_published() {
    let gen = Arc::new(FakeGen::new());
    let (app, _, _) = app(gen);
    futures::executor::block_on(async {
        assert_eq!(send(&app, "POST", "/repos/r/", b"").await, 201);
        let rec = analyzed(&app, "old", b"PKG old").await;
        let (_, version) = load_head(&app, "r").await.unwrap();
        let legacy = serde_json::json!({ "seq": 7, "packages": { "old": rec } });
        app.meta
            .put_if(&keys::head("r"), legacy.to_string().into(), version)
            .await
            .unwrap()
            .unwrap();
        let (head, _) = load_head(&app, "r").await.unwrap();
        assert_eq!(head.seq, 7);
        assert!(head.packages.get("old").is_some());
        assert_eq!(recover(&app).await.unwrap(), vec!["r".to_string()]);
        assert_eq!(text(&app, "/repos/r/fake/index").await.1, "old\n");
        assert_eq!(
            text(&app, "/repos/r/fake/pool/old").await,
            (200, "PKG old".into())
        );
    });
}

#[test]
fn a_commit_left_unpublished_by_a_crash_is_published_by_recover() {
    let gen = Arc::new(FakeGen::new());
    let (app, _, _) = app(gen);
    futures::executor::block_on(async {
        assert_eq!(send(&app, "POST", "/repos/r/", b"").await, 201);
        // Steps 1-3 only, as if the process died before publishing.
        let rec = analyzed(&app, "crash", b"PKG crash").await;
        let seq = update_head(&app, "r", crate::commit::Kind::Add, |h| {
            insert_record(h, &rec, &[])
        })
        .await
        .unwrap();
        let (p, _) = load_published(&app, "r").await.unwrap().unwrap();
        assert!(p.covers < seq);
        assert_eq!(
            text(&app, "/repos/r/fake/index").await.1,
            "",
            "not visible before its publish"
        );
        assert_eq!(recover(&app).await.unwrap(), vec!["r".to_string()]);
        assert_eq!(text(&app, "/repos/r/fake/index").await.1, "crash\n");
        assert!(
            recover(&app).await.unwrap().is_empty(),
            "nothing left to recover"
        );
    });
}

#[test]
fn clashes_are_refused_and_repeats_are_idempotent() {
    let gen = Arc::new(FakeGen::new());
    let (app, meta, _) = app(gen);
    futures::executor::block_on(async {
        send(&app, "POST", "/repos/r/", b"").await;
        assert_eq!(add(&app, "a", b"PKG a").await, 201);
        let head_before = meta.map_snapshot(&keys::head("r"));
        assert_eq!(add(&app, "a", b"PKG a").await, 200, "same bytes again");
        assert_eq!(
            add(&app, "a", b"PKG other").await,
            409,
            "same name, other bytes"
        );
        assert_eq!(add(&app, "b", b"garbage").await, 422, "nobody claims it");
        assert_eq!(
            meta.map_snapshot(&keys::head("r")),
            head_before,
            "refusals changed the head"
        );
        assert_eq!(digests(b"").size, 0);
    });
}

impl MemMeta {
    fn map_snapshot(&self, key: &str) -> Option<(Vec<u8>, u64)> {
        self.map
            .lock()
            .unwrap()
            .get(key)
            .map(|v| (v.value.to_vec(), v.version))
    }
}

#[test]
fn a_dropped_leader_hands_publishing_on() {
    let gen = Arc::new(FakeGen::new());
    let (app, _, _) = app(gen);
    futures::executor::block_on(async {
        send(&app, "POST", "/repos/r/", b"").await;
        let rec = analyzed(&app, "x", b"PKG x").await;
        let seq = update_head(&app, "r", crate::commit::Kind::Add, |h| {
            insert_record(h, &rec, &[])
        })
        .await
        .unwrap();
        // A leader polled once (mid-render), then dropped, as when its client hangs up.
        let mut leader = Box::pin(ensure_published(&app, "r", seq));
        let _ = futures::poll!(leader.as_mut());
        drop(leader);
        // The next publisher is not stuck behind it.
        let p = ensure_published(&app, "r", seq).await.unwrap();
        assert!(p.covers >= seq);
    });
}

#[test]
fn one_version_generators_replace_the_same_name() {
    let gen = Arc::new(FakeGen::one_version());
    let (app, _, _) = app(gen);
    futures::executor::block_on(async {
        send(&app, "POST", "/repos/r/", b"").await;
        assert_eq!(add(&app, "lib-1", b"PKG lib 1").await, 201);
        assert_eq!(add(&app, "other-1", b"PKG other 1").await, 201);
        assert_eq!(add(&app, "lib-2", b"PKG lib 2").await, 201);
        let (_, idx) = text(&app, "/repos/r/fake/index").await;
        assert_eq!(idx, "lib-2\nother-1\n", "lib-2 replaced lib-1; other stays");
        let (_, list) = text(&app, "/repos/r/packages/").await;
        assert!(!list.contains("\"lib-1\""), "{list}");
    });
}

/// A package file removed from the current generation is still served from the retired one
/// within the grace period (clients mid-update), each generation read through its own paths.
#[test]
fn a_removed_package_is_served_from_the_retired_generation() {
    let (app, _, _) = app(Arc::new(FakeGen::new()));
    futures::executor::block_on(async {
        send(&app, "POST", "/repos/r/", b"").await;
        assert_eq!(add(&app, "p01", b"PKG 1").await, 201);
        assert_eq!(text(&app, "/repos/r/fake/linked/p01").await.1, "PKG 1");
        assert_eq!(
            send(&app, "DELETE", "/repos/r/packages/p01", b"").await,
            200
        );
        assert_eq!(add(&app, "p02", b"PKG 2").await, 201);
        assert_eq!(text(&app, "/repos/r/fake/linked/p02").await.1, "PKG 2");
        assert_eq!(text(&app, "/repos/r/fake/linked/p01").await.1, "PKG 1");
        assert_eq!(text(&app, "/repos/r/fake/linked/p03").await.0, 404);
    });
}

/// The status, `Content-Type` and body of a GET.
async fn typed(app: &crate::App, path: &str) -> (u16, String, String) {
    let r = crate::handle(app, req("GET", path, b"")).await;
    let s = r.status().as_u16();
    let t = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let b = r.into_body().collect(1 << 20).await.unwrap();
    (s, t, String::from_utf8_lossy(&b).into_owned())
}

#[test]
fn media_types_directory_indexes_and_the_base_url_are_the_generators() {
    let (app, _, _) = app(Arc::new(FakeGen::served()));
    futures::executor::block_on(async {
        send(&app, "POST", "/repos/r/", b"").await;
        assert_eq!(add(&app, "p01", b"PKG 1").await, 201);
        // The bulk file's identity copy has the generator's type; encoded copies their own.
        let (s, t, body) = typed(&app, "/repos/r/fake/index").await;
        assert_eq!(
            (s, t.as_str(), body.as_str()),
            (200, "text/x-fake", "p01\n")
        );
        assert_eq!(
            typed(&app, "/repos/r/fake/index.gz").await.1,
            "application/gzip"
        );
        // A same-as copy goes by its own name unless its output names a type.
        assert_eq!(
            typed(&app, "/repos/r/fake/alias").await.1,
            "application/octet-stream"
        );
        // Directories serve their index document, typed by its name or by the generator.
        for dir in ["/repos/r/fake", "/repos/r/fake/"] {
            let (s, t, body) = typed(&app, dir).await;
            assert_eq!((s, body.as_str()), (200, "<p>root</p>"), "{dir}");
            assert_eq!(t, "text/html; charset=utf-8", "{dir}");
        }
        let (s, t, body) = typed(&app, "/repos/r/fake/sub/").await;
        assert_eq!(
            (s, t.as_str(), body.as_str()),
            (200, "application/xhtml+xml", "<p>sub</p>")
        );
        assert_eq!(typed(&app, "/repos/r/fake/none/").await.0, 404);
        // No `baseurl` set: the URL the publishing request came in on, and the mount.
        assert_eq!(
            typed(&app, "/repos/r/fake/base").await.2,
            "http://localhost/repos/r/fake"
        );
        // With one: that, and the mount, at once (no package changed: its own publish).
        let set = br#"{"baseurl": "https://cdn.example/pkgs/r"}"#;
        assert_eq!(send(&app, "PUT", "/repos/r/", set).await, 200);
        assert_eq!(
            typed(&app, "/repos/r/fake/base").await.2,
            "https://cdn.example/pkgs/r/fake"
        );
        assert_eq!(add(&app, "p02", b"PKG 2").await, 201);
        assert_eq!(
            typed(&app, "/repos/r/fake/base").await.2,
            "https://cdn.example/pkgs/r/fake"
        );
    });
}

#[test]
fn unchanged_formats_are_not_finished_again() {
    let gen = Arc::new(FakeGen::new());
    let (app, _, _) = app(gen.clone());
    futures::executor::block_on(async {
        send(&app, "POST", "/repos/r/", b"").await;
        assert_eq!(add(&app, "a", b"PKG a").await, 201);
        let (_, release) = text(&app, "/repos/r/fake/Release").await;
        let finishes = gen.finishes.load(Ordering::SeqCst);
        // A rebuild publishes a new generation, but the fake format's inputs are unchanged.
        assert_eq!(send(&app, "POST", "/repos/r/rebuild", b"").await, 200);
        assert_eq!(
            gen.finishes.load(Ordering::SeqCst),
            finishes,
            "finish ran again"
        );
        assert_eq!(text(&app, "/repos/r/fake/Release").await.1, release);
        // New content: finish runs.
        assert_eq!(add(&app, "b", b"PKG b").await, 201);
        assert_eq!(gen.finishes.load(Ordering::SeqCst), finishes + 1);
    });
}

#[test]
fn a_format_whose_inputs_are_unchanged_is_not_planned_again() {
    let gen = Arc::new(FakeGen::one_version());
    let (app, _, _) = app(gen.clone());
    futures::executor::block_on(async {
        send(&app, "POST", "/repos/r/", b"").await;
        assert_eq!(add(&app, "lib-1", b"PKG lib 1").await, 201);
        let plans = gen.plans.load(Ordering::SeqCst);
        // lib-2 replaces lib-1: one entry on the shelf as before, so the same plan, but
        // the files it assembles change.
        assert_eq!(add(&app, "lib-2", b"PKG lib 2").await, 201);
        assert_eq!(gen.plans.load(Ordering::SeqCst), plans, "planned again");
        assert_eq!(text(&app, "/repos/r/fake/index").await.1, "lib-2\n");
        assert_eq!(text(&app, "/repos/r/fake/pool/lib-2").await.1, "PKG lib 2");
        // A new count, new settings: each planned again.
        assert_eq!(add(&app, "other-1", b"PKG other 1").await, 201);
        assert_eq!(gen.plans.load(Ordering::SeqCst), plans + 1);
        let (s, up) = json(&app, "PUT", "/repos/r/", br#"{"description": "new"}"#).await;
        assert_eq!(s, 200, "{up}");
        assert_eq!(gen.plans.load(Ordering::SeqCst), plans + 2);
        // A rebuild forgets what the renders kept, the plans with it.
        assert_eq!(send(&app, "POST", "/repos/r/rebuild", b"").await, 200);
        assert_eq!(gen.plans.load(Ordering::SeqCst), plans + 3);
        // Another generator of that name, made once the first is gone (where the allocator
        // likes to reuse its address), with the same inputs: planned anew.
        crate::registry::replace_all(&app, Vec::new());
        drop(gen);
        let again = Arc::new(FakeGen::one_version());
        crate::registry::replace_all(&app, vec![again.clone()]);
        assert_eq!(add(&app, "lib-3", b"PKG lib 3").await, 201);
        assert_eq!(
            again.plans.load(Ordering::SeqCst),
            1,
            "the old plan was reused"
        );
    });
}

#[test]
fn gc_deletes_only_what_nothing_references() {
    let gen = Arc::new(FakeGen::new());
    let (app, _, blobs) = app_with_grace(gen, std::time::Duration::ZERO);
    futures::executor::block_on(async {
        // Only the current generation kept (retention: `gc_keeps_what_retention_...`).
        send(&app, "POST", "/repos/r/", br#"{"keep_generations": 1}"#).await;
        for (f, body) in [("a", &b"PKG a"[..]), ("b", &b"PKG b"[..])] {
            assert_eq!(add(&app, f, body).await, 201);
        }
        assert_eq!(send(&app, "DELETE", "/repos/r/packages/a", b"").await, 200);
        let a_sha = digests(b"PKG a").sha256;
        let b_sha = digests(b"PKG b").sha256;
        assert!(blobs.blobs.lock().unwrap().contains_key(&a_sha));

        let report = crate::gc::collect(&app, 0).await.unwrap();
        assert!(report.deleted > 0, "{report:?}");
        let left = blobs.blobs.lock().unwrap().clone();
        assert!(
            !left.contains_key(&a_sha),
            "the removed package's blob is garbage"
        );
        assert!(left.contains_key(&b_sha), "a listed package's blob stays");
        // Everything the current generation serves is still there.
        let (p, _) = load_published(&app, "r").await.unwrap().unwrap();
        let m = manifest_of(&app, &p.manifest).await.unwrap();
        for b in m.files.values() {
            for piece in b.stored_blobs() {
                assert!(left.contains_key(&piece.sha256));
            }
        }
        assert_eq!(text(&app, "/repos/r/fake/index").await.1, "b\n");
        assert_eq!(text(&app, "/repos/r/fake/pool/b").await.1, "PKG b");
        // Nothing left to collect; and a young blob is never touched.
        assert_eq!(crate::gc::collect(&app, 0).await.unwrap().deleted, 0);
    });
}

#[test]
fn gc_keeps_the_blobs_a_deployment_keeps_its_generators_in() {
    use crate::store::MetaStore;
    let gen = Arc::new(FakeGen::new());
    let (app, meta, blobs) = app_with_grace(gen, std::time::Duration::ZERO);
    futures::executor::block_on(async {
        let wasm = app
            .packages
            .put_bytes(b"WASM".to_vec().into())
            .await
            .unwrap();
        let artifact = app
            .packages
            .put_bytes(b"CWASM".to_vec().into())
            .await
            .unwrap();
        let stray = app
            .packages
            .put_bytes(b"STRAY".to_vec().into())
            .await
            .unwrap();
        let registry = serde_json::json!({ "generators": [{
            "info": { "name": "x" },
            "wasm": wasm.sha256,
            "artifacts": { "x.cwasm": artifact.sha256 },
        }]});
        meta.put_if(
            "generators/registry",
            serde_json::to_vec(&registry).unwrap().into(),
            None,
        )
        .await
        .unwrap()
        .unwrap();
        crate::gc::collect(&app, 0).await.unwrap();
        let left = blobs.blobs.lock().unwrap().clone();
        assert!(left.contains_key(&wasm.sha256), "the .wasm stays");
        assert!(left.contains_key(&artifact.sha256), "its artifact stays");
        assert!(!left.contains_key(&stray.sha256), "an unnamed blob goes");
    });
}

#[test]
fn a_generator_panic_fails_its_request_only() {
    let gen = Arc::new(FakeGen::new());
    let (app, _, _) = app(gen);
    futures::executor::block_on(async {
        send(&app, "POST", "/repos/r/", b"").await;
        let r = crate::handle(
            &app,
            req("POST", "/repos/r/packages/?filename=panic", b"PKG p"),
        )
        .await;
        assert_eq!(r.status(), 500);
        let body = r.into_body().collect(1 << 20).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(v["detail"].as_str().unwrap().contains("panicked"), "{v}");
        // The repo, and the app, go on.
        assert_eq!(add(&app, "a", b"PKG a").await, 201);
        assert_eq!(text(&app, "/repos/r/fake/index").await.1, "a\n");
    });
}

#[test]
fn malformed_names_in_urls_are_4xx_without_store_keys() {
    let gen = Arc::new(FakeGen::new());
    let (app, _, _) = app(gen);
    futures::executor::block_on(async {
        send(&app, "POST", "/repos/r/", b"").await;
        for path in [
            "/repos/a%2Fb/",
            "/repos/..%2Fr/packages/",
            "/repos/%2E%2E/dist/x",
            "/repos/r%2F..%2Fr/key.asc",
        ] {
            let (s, body) = text(&app, path).await;
            assert_eq!(s, 404, "{path}: {body}");
            assert!(!body.contains("repo/"), "{path} names a store key: {body}");
        }
        for id in ["nope", "..%2F..%2Fx", "ABCDEF"] {
            let path = format!("/repos/r/uploads/{id}");
            assert_eq!(send(&app, "POST", &path, b"").await, 400, "upload id {id}");
        }
    });
}

/// Adapters spawn `handle` on multi-threaded executors: its future must stay `Send` (a
/// closure over borrowed records in a stream once broke that, caught only by manage-repo).
// `async fn` would not state the `Send` bound this checks.
#[allow(dead_code, clippy::manual_async_fn)]
fn handle_is_send(
    app: Arc<crate::App>,
    req: crate::Request,
) -> impl std::future::Future<Output = crate::Response> + Send + 'static {
    async move { crate::handle(&app, req).await }
}

#[test]
fn a_rebuild_reanalyzes_every_package_and_reports_a_lost_blob_as_missing() {
    let (app, _, blobs) = app(Arc::new(FakeGen::new()));
    futures::executor::block_on(async {
        send(&app, "POST", "/repos/r/", b"").await;
        for (f, body) in [
            ("a", &b"PKG a"[..]),
            ("b", &b"PKG b"[..]),
            ("c", &b"PKG c"[..]),
        ] {
            assert_eq!(add(&app, f, body).await, 201);
        }
        let rebuild = || async {
            let r = crate::handle(&app, req("POST", "/repos/r/rebuild", b"")).await;
            assert_eq!(r.status(), 200);
            let b = r.into_body().collect(1 << 20).await.unwrap();
            serde_json::from_slice::<serde_json::Value>(&b).unwrap()
        };
        let (_, before) = text(&app, "/repos/r/fake/index").await;
        let writes = calls(&app, "packages", "put_bytes");
        let v = rebuild().await;
        assert_eq!(
            (
                v["analyzed"].as_u64(),
                v["missing"].as_array().map(Vec::len)
            ),
            (Some(3), Some(0)),
            "{v}"
        );
        assert_eq!(text(&app, "/repos/r/fake/index").await.1, before);
        // The records came out as they were: no bucket of them is written again, only the
        // new generation and its logs (7 here; 10 with the three buckets).
        let writes = calls(&app, "packages", "put_bytes") - writes;
        assert!(writes <= 7, "the rebuild wrote {writes} blobs");

        blobs
            .blobs
            .lock()
            .unwrap()
            .remove(&digests(b"PKG b").sha256);
        let v = rebuild().await;
        assert_eq!(v["analyzed"], 2, "{v}");
        assert_eq!(v["missing"], serde_json::json!(["b"]), "{v}");
        assert_eq!(v["unclaimed"], serde_json::json!([]), "{v}");
    });
}

/// The answer's JSON.
async fn json(app: &crate::App, method: &str, path: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let r = crate::handle(app, req(method, path, body)).await;
    let s = r.status().as_u16();
    let b = r.into_body().collect(1 << 20).await.unwrap();
    (
        s,
        serde_json::from_slice(&b).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn the_journal_records_each_commit_and_rollback_restores_a_generation() {
    let (app, _, _) = app(Arc::new(FakeGen::new()));
    futures::executor::block_on(async {
        assert_eq!(send(&app, "POST", "/repos/r/", b"").await, 201);
        assert_eq!(add(&app, "p1", b"PKG p1").await, 201);
        assert_eq!(add(&app, "p2", b"PKG p2").await, 201);
        assert_eq!(send(&app, "DELETE", "/repos/r/packages/p1", b"").await, 200);
        let (s, h) = json(&app, "GET", "/repos/r/history", b"").await;
        assert_eq!(s, 200, "{h}");
        let kinds: Vec<&str> = h["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["remove", "add", "add"]);
        let e = &h["entries"];
        assert_eq!(e[0]["removed"][0]["filename"], "p1");
        assert_eq!(e[1]["added"][0]["filename"], "p2");
        assert_eq!(e[1]["added"][0]["name"], "p2");
        assert_eq!(e[0]["who"][0], "admin");
        let gens: Vec<u64> = (0..3)
            .map(|i| e[i]["generation"].as_u64().unwrap())
            .collect();
        assert!(gens[0] > gens[1] && gens[1] > gens[2], "{gens:?}");
        // Paging.
        let (_, page) = json(&app, "GET", "/repos/r/history?limit=2", b"").await;
        assert_eq!(page["entries"].as_array().unwrap().len(), 2);
        let next = page["next"].as_u64().unwrap();
        let (_, rest) = json(&app, "GET", &format!("/repos/r/history?before={next}"), b"").await;
        assert_eq!(rest["entries"][0]["kind"], "add");
        assert_eq!(rest["entries"][0]["added"][0]["filename"], "p1");

        // Back to the generation that held both.
        let body = format!("{{\"generation\": {}}}", gens[1]);
        let (s, rb) = json(&app, "POST", "/repos/r/rollback", body.as_bytes()).await;
        assert_eq!(s, 200, "{rb}");
        assert_eq!(rb["added"][0]["filename"], "p1");
        assert_eq!(text(&app, "/repos/r/fake/index").await.1, "p1\np2\n");
        let (_, h) = json(&app, "GET", "/repos/r/history?limit=1", b"").await;
        assert_eq!(h["entries"][0]["kind"], "rollback");
        assert_eq!(h["entries"][0]["rollback_to"], gens[1]);
        // Rolling back the rollback.
        let body = format!("{{\"generation\": {}}}", gens[0]);
        assert_eq!(
            json(&app, "POST", "/repos/r/rollback", body.as_bytes())
                .await
                .0,
            200
        );
        assert_eq!(text(&app, "/repos/r/fake/index").await.1, "p2\n");
        for bad in [&b"{\"generation\": 999}"[..], b"{\"at\": 5}"] {
            assert_eq!(json(&app, "POST", "/repos/r/rollback", bad).await.0, 404);
        }
        for bad in [
            &b"{}"[..],
            b"{\"generation\": 1, \"at\": 1}",
            b"{\"at\": \"soon\"}",
        ] {
            assert_eq!(json(&app, "POST", "/repos/r/rollback", bad).await.0, 400);
        }
    });
}

/// Starts a large upload of `body` as `name` and stores its bytes; answers its id.
async fn uploaded(app: &crate::App, name: &str, body: &[u8]) -> String {
    let (s, started) = json(
        app,
        "POST",
        &format!("/repos/r/uploads/?filename={name}"),
        b"",
    )
    .await;
    assert_eq!(s, 201, "{started}");
    let id = started["id"].as_str().unwrap().to_string();
    assert_eq!(
        send(app, "PUT", &format!("/repos/r/uploads/{id}"), body).await,
        200
    );
    id
}

#[test]
fn a_transaction_is_all_or_nothing() {
    let (app, _, _) = app(Arc::new(FakeGen::new()));
    futures::executor::block_on(async {
        assert_eq!(send(&app, "POST", "/repos/r/", b"").await, 201);
        assert_eq!(add(&app, "old", b"PKG old").await, 201);
        let a = uploaded(&app, "a", b"PKG a").await;
        // Bytes no generator claims (an upload's PUT would refuse them already).
        let junk = app
            .packages
            .put_bytes(Bytes::from_static(b"junk"))
            .await
            .unwrap();
        let ops = |second: &str| {
            format!(
                r#"{{"operations": [{{"op": "add", "upload": "{a}"}}, {second}, {{"op": "remove", "filename": "old"}}]}}"#
            )
        };
        let bad = format!(
            r#"{{"op": "add", "sha256": "{}", "filename": "junk"}}"#,
            junk.sha256
        );
        let before = text(&app, "/repos/r/fake/index").await.1;
        let (_, h_before) = json(&app, "GET", "/repos/r/history", b"").await;
        let (s, e) = json(&app, "POST", "/repos/r/transactions", ops(&bad).as_bytes()).await;
        assert_eq!(s, 422, "{e}");
        assert_eq!(e["items"].as_array().unwrap().len(), 1, "{e}");
        assert_eq!(e["items"][0]["index"], 1);
        assert_eq!(text(&app, "/repos/r/fake/index").await.1, before);
        assert_eq!(json(&app, "GET", "/repos/r/history", b"").await.1, h_before);

        let b = uploaded(&app, "b", b"PKG b").await;
        let good = format!(r#"{{"op": "add", "upload": "{b}"}}"#);
        let gen_before = json(&app, "GET", "/repos/r/", b"").await.1["generation"].clone();
        let (s, done) = json(&app, "POST", "/repos/r/transactions", ops(&good).as_bytes()).await;
        assert_eq!(s, 200, "{done}");
        assert_eq!(done["generation"], gen_before.as_u64().unwrap() + 1);
        assert_eq!(done["added"], serde_json::json!(["a", "b"]));
        assert_eq!(done["removed"], serde_json::json!(["old"]));
        assert_eq!(text(&app, "/repos/r/fake/index").await.1, "a\nb\n");
        // The uploads it committed are gone.
        assert_eq!(
            send(&app, "POST", &format!("/repos/r/uploads/{a}"), b"").await,
            404
        );
        // A clash inside one transaction: the same file name twice, other bytes.
        let c1 = uploaded(&app, "c", b"PKG c one").await;
        let c2 = uploaded(&app, "c", b"PKG c two").await;
        let body = format!(
            r#"{{"operations": [{{"op": "add", "upload": "{c1}"}}, {{"op": "add", "upload": "{c2}"}}]}}"#
        );
        let (s, e) = json(&app, "POST", "/repos/r/transactions", body.as_bytes()).await;
        assert_eq!(s, 422, "{e}");
        assert_eq!(e["items"][0]["index"], 1);
        assert_eq!(text(&app, "/repos/r/fake/index").await.1, "a\nb\n");
        let bad = br#"{"operations": [{"op": "frobnicate"}]}"#;
        assert_eq!(
            json(&app, "POST", "/repos/r/transactions", bad).await.0,
            400
        );
    });
}

#[test]
fn snapshots_and_generations_are_served_frozen_and_copied_by_record() {
    let (app, _, _) = app(Arc::new(FakeGen::new()));
    futures::executor::block_on(async {
        assert_eq!(send(&app, "POST", "/repos/r/", b"").await, 201);
        assert_eq!(send(&app, "POST", "/repos/prod/", b"").await, 201);
        assert_eq!(add(&app, "p1", b"PKG p1").await, 201);
        let (s, snap) = json(&app, "POST", "/repos/r/snapshots/s1", b"").await;
        assert_eq!(s, 201, "{snap}");
        assert_eq!(snap["packages"], 1);
        let g = snap["generation"].as_u64().unwrap();
        assert_eq!(
            json(&app, "POST", "/repos/r/snapshots/s1", b"").await.0,
            409
        );
        assert_eq!(
            json(&app, "POST", "/repos/r/snapshots/g12", b"").await.0,
            400
        );
        assert_eq!(add(&app, "p2", b"PKG p2").await, 201);
        assert_eq!(text(&app, "/repos/r/fake/index").await.1, "p1\np2\n");
        assert_eq!(text(&app, "/repos/r@s1/fake/index").await.1, "p1\n");
        assert_eq!(
            text(&app, &format!("/repos/r@g{g}/fake/index")).await.1,
            "p1\n"
        );
        assert_eq!(text(&app, "/repos/r@s1/fake/pool/p1").await.1, "PKG p1");
        assert_eq!(text(&app, "/repos/r@s1/fake/pool/p2").await.0, 404);
        let (_, listing) = json(&app, "GET", "/repos/r@s1/packages/", b"").await;
        assert_eq!(listing["packages"].as_array().unwrap().len(), 1);
        assert_eq!(text(&app, "/repos/r@nope/fake/index").await.0, 404);
        assert_eq!(text(&app, "/repos/r@g999/fake/index").await.0, 404);
        assert_eq!(
            send(&app, "POST", "/repos/r@s1/packages/?filename=x", b"PKG x").await,
            405
        );
        let (_, list) = json(&app, "GET", "/repos/r/snapshots/", b"").await;
        assert_eq!(list["snapshots"][0]["name"], "s1");

        // Promote the snapshot's state into prod: records copied, no byte read.
        let readers = || calls(&app, "packages", "reader");
        let reads = readers();
        let body =
            br#"{"operations": [{"op": "copy", "from": "r@s1", "pattern": "*"}], "replace": true}"#;
        let (s, done) = json(&app, "POST", "/repos/prod/transactions", body).await;
        assert_eq!(s, 200, "{done}");
        assert_eq!(done["added"], serde_json::json!(["p1"]));
        assert_eq!(readers(), reads, "a copy read a package");
        assert_eq!(text(&app, "/repos/prod/fake/index").await.1, "p1\n");

        assert_eq!(
            json(&app, "DELETE", "/repos/r/snapshots/s1", b"").await.0,
            200
        );
        assert_eq!(text(&app, "/repos/r@s1/fake/index").await.0, 404);
    });
}

#[test]
fn gc_keeps_what_retention_and_snapshots_keep() {
    let (app, _, blobs) = app_with_grace(Arc::new(FakeGen::new()), std::time::Duration::ZERO);
    futures::executor::block_on(async {
        let settings = br#"{"keep_generations": 2}"#;
        assert_eq!(send(&app, "POST", "/repos/r/", settings).await, 201);
        assert_eq!(add(&app, "gone", b"PKG only in old generations").await, 201);
        assert_eq!(
            json(&app, "POST", "/repos/r/snapshots/s1", b"").await.0,
            201
        );
        assert_eq!(add(&app, "dropped", b"PKG dropped").await, 201);
        let (_, l) = json(&app, "GET", "/repos/r/", b"").await;
        let dropped_gen = l["generation"].as_u64().unwrap();
        assert_eq!(
            send(&app, "DELETE", "/repos/r/packages/dropped", b"").await,
            200
        );
        assert_eq!(
            send(&app, "DELETE", "/repos/r/packages/gone", b"").await,
            200
        );
        assert_eq!(add(&app, "p3", b"PKG p3").await, 201);
        let (_, l) = json(&app, "GET", "/repos/r/", b"").await;
        let current = l["generation"].as_u64().unwrap();
        let report = crate::gc::collect(&app, 0).await.unwrap();
        assert!(
            report.deleted > 0 && report.generations_dropped > 0,
            "{report:?}"
        );
        assert_eq!(report.snapshots, 1);
        // Kept: the current generation, the one before it, the snapshot.
        assert_eq!(
            text(&app, &format!("/repos/r@g{}/fake/index", current - 1))
                .await
                .0,
            200
        );
        assert_eq!(
            text(&app, "/repos/r@s1/fake/pool/gone").await.1,
            "PKG only in old generations"
        );
        // Past retention: 410, and the package only it held is gone.
        assert_eq!(
            text(&app, &format!("/repos/r@g{dropped_gen}/fake/index"))
                .await
                .0,
            410
        );
        let sha = crate::digest::sha256_hex(b"PKG dropped");
        assert!(
            !blobs.blobs.lock().unwrap().contains_key(&sha),
            "the dropped generation's package is still stored"
        );
        let body = format!("{{\"generation\": {dropped_gen}}}");
        assert_eq!(
            json(&app, "POST", "/repos/r/rollback", body.as_bytes())
                .await
                .0,
            410
        );
        // A second GC finds nothing more to free.
        assert_eq!(crate::gc::collect(&app, 0).await.unwrap().deleted, 0);
    });
}

#[test]
fn properties_republish_disable_keeps_the_generation_and_bad_input_changes_nothing() {
    let (app, _, _) = app(Arc::new(FakeGen::new()));
    futures::executor::block_on(async {
        assert_eq!(send(&app, "POST", "/repos/r/", b"").await, 201);
        assert_eq!(add(&app, "p1", b"PKG p1").await, 201);
        let (_, before) = json(&app, "GET", "/repos/r/", b"").await;
        let g0 = before["generation"].as_u64().unwrap();
        assert_eq!(before["repo"]["enabled"], true);
        assert_eq!(before["repo"]["repo_gpgcheck"], true);

        // A bad PUT: 422 naming the field; nothing changes, nothing is published.
        for (body, field) in [
            (&br#"{"title": "ok", "colour": "red"}"#[..], "colour"),
            (br#"{"title": "ok", "gpgcheck": "yes"}"#, "gpgcheck"),
            (br#"{"title": "two\nlines"}"#, "title"),
            (br#"{"mirrors": ["ftp://m/x"]}"#, "mirrors"),
            (br#"{"url_args": {"evil": "1"}}"#, "url_args"),
        ] {
            let (s, e) = json(&app, "PUT", "/repos/r/", body).await;
            assert_eq!(s, 422, "{e}");
            assert_eq!(e["field"], field, "{e}");
        }
        let (_, same) = json(&app, "GET", "/repos/r/", b"").await;
        assert_eq!(same, before);

        // No repo has a name like that: 404 for each way of changing properties.
        for (method, path) in [
            ("PUT", "/repos/.%C2%B0%C2%B8/"),
            ("POST", "/repos/.%C2%B0%C2%B8/enable"),
            ("POST", "/repos/.%C2%B0%C2%B8/disable"),
        ] {
            let (s, e) = json(&app, method, path, br#"{"title": "x"}"#).await;
            assert_eq!(s, 404, "{method} {path}: {e}");
        }

        // A title: a new generation, a `settings` history entry naming it.
        let (s, up) = json(&app, "PUT", "/repos/r/", br#"{"title": "The R"}"#).await;
        assert_eq!(s, 200, "{up}");
        assert_eq!(up["changed"], serde_json::json!(["title"]));
        let g1 = up["generation"].as_u64().unwrap();
        assert!(g1 > g0);
        let (_, h) = json(&app, "GET", "/repos/r/history", b"").await;
        assert_eq!(h["entries"][0]["kind"], "settings", "{h}");
        assert_eq!(h["entries"][0]["changed"], serde_json::json!(["title"]));
        // The same again: nothing changes, nothing is published.
        let (_, again) = json(&app, "PUT", "/repos/r/", br#"{"title": "The R"}"#).await;
        assert_eq!(again["changed"], serde_json::json!([]));
        assert_eq!(again["generation"].as_u64(), Some(g1));

        // Disabled: the trees answer 404 with a JSON body; the API stays.
        let (s, off) = json(&app, "POST", "/repos/r/disable", b"").await;
        assert_eq!(s, 200, "{off}");
        assert_eq!(off["generation"].as_u64(), Some(g1));
        let (s, body) = text(&app, "/repos/r/fake/index").await;
        assert_eq!(s, 404);
        assert!(body.contains("repo disabled"), "{body}");
        let (s, _) = json(&app, "GET", "/repos/r/packages/", b"").await;
        assert_eq!(s, 200);
        // Enabled again: the same generation, served.
        let (_, on) = json(&app, "POST", "/repos/r/enable", b"").await;
        assert_eq!(on["generation"].as_u64(), Some(g1));
        assert_eq!(
            text(&app, "/repos/r/fake/index").await,
            (200, "p1\n".into())
        );

        // The client files: the default for a generator without client-config.
        let (s, list) = json(&app, "GET", "/repos/r/config/", b"").await;
        assert_eq!(s, 200, "{list}");
        assert_eq!(list["configs"][0]["client"], "fake");
        let (s, file) = text(&app, "/repos/r/config/fake").await;
        assert_eq!(s, 200);
        assert!(file.contains("/repos/r/fake"), "{file}");
        assert_eq!(text(&app, "/repos/r/config/nope").await.0, 404);
        // A baseurl goes into them.
        let body = br#"{"baseurl": "https://cdn.example/r/"}"#;
        assert_eq!(json(&app, "PUT", "/repos/r/", body).await.0, 200);
        let (_, file) = text(&app, "/repos/r/config/fake").await;
        assert!(file.contains("url: https://cdn.example/r/fake\n"), "{file}");
    });
}

/// A publish waits while uploads are arriving: every way out of an upload (added, repeated,
/// refused, failed) must end its arrival, or each later publish of the repo would wait.
#[test]
fn no_upload_stays_arriving() {
    let (app, _, _) = app(Arc::new(FakeGen::new()));
    futures::executor::block_on(async {
        send(&app, "POST", "/repos/r/", b"").await;
        assert_eq!(add(&app, "a", b"PKG a").await, 201);
        assert_eq!(add(&app, "a", b"PKG a").await, 200, "the same file again");
        assert_eq!(
            add(&app, "a", b"PKG b").await,
            409,
            "other bytes, same name"
        );
        assert_eq!(add(&app, "x", b"not claimed").await, 422);
        let r = crate::handle(
            &app,
            req("POST", "/repos/r/packages/?filename=panic", b"PKG p"),
        )
        .await;
        assert_eq!(r.status(), 500);
        assert!(app.arriving.lock().is_empty(), "{:?}", app.arriving.lock());
    });
}

/// The statuses of adding p0 to p7 to repo `r`, all at once.
async fn eight_together(app: &crate::App) -> Vec<u16> {
    let uploads = (0..8)
        .map(|i| async move { add(app, &format!("p{i}"), format!("PKG {i}").as_bytes()).await });
    futures::future::join_all(uploads).await
}

/// Two processes on the same stores, with a generator that signs no package, like deb's
/// (signing one reads the head for its keys).
fn two_processes() -> (Arc<crate::App>, crate::App) {
    let (app, other, _) = two_processes_and_meta();
    (app, other)
}

/// [`two_processes`], and their metadata store (to look at its keys, or serve one stale).
fn two_processes_and_meta() -> (Arc<crate::App>, crate::App, Arc<MemMeta>) {
    let gen = Arc::new(FakeGen::unsigned());
    let (app, meta, blobs) = app(gen.clone());
    let other = process(&meta, &blobs, gen);
    (app, other, meta)
}

/// Repo `r`, made with package `a` in it.
async fn repo_with_a(app: &crate::App) {
    send(app, "POST", "/repos/r/", b"").await;
    assert_eq!(add(app, "a", b"PKG a").await, 201);
}

/// Uploads sent together commit together: the first one analyzed waits for the others
/// still arriving (`let_queue`) instead of committing alone, so 8 make one head change.
#[test]
fn uploads_sent_together_commit_in_one_round() {
    let (app, _, _) = app(Arc::new(FakeGen::new()));
    futures::executor::block_on(async {
        send(&app, "POST", "/repos/r/", b"").await;
        let before = load_head(&app, "r").await.unwrap().0.seq;
        let statuses = eight_together(&app).await;
        assert!(statuses.iter().all(|&s| s == 201), "{statuses:?}");
        let rounds = load_head(&app, "r").await.unwrap().0.seq - before;
        assert_eq!(rounds, 1, "8 uploads sent together took {rounds} commits");
    });
}

/// An upload takes the settings this process last knew without reading them: the commit
/// checks them once for its batch, and an upload analyzed under settings another process
/// changed since is analyzed again under the current ones.
#[test]
fn uploads_take_known_settings_and_their_commit_checks_them() {
    let (app, other) = two_processes();
    futures::executor::block_on(async {
        repo_with_a(&app).await;
        // 8 together: one check of the settings for the batch, not one per upload.
        let gets = || calls(&app, "meta", "get");
        let before = gets();
        let statuses = eight_together(&app).await;
        assert!(statuses.iter().all(|&s| s == 201), "{statuses:?}");
        let n = gets() - before;
        assert!(n <= 6, "8 uploads read the metadata store {n} times");

        // Another process changes a property: this one's settings are behind, the commit
        // finds it and sends the upload back to be analyzed again.
        let mut put = req("PUT", "/repos/r/", br#"{"title": "T"}"#);
        put.headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        assert_eq!(crate::handle(&other, put).await.status(), 200);
        assert_eq!(add(&app, "b", b"PKG b").await, 201);
        let (_, listing) = json(&app, "GET", "/repos/r/", b"").await;
        assert_eq!(listing["repo"]["title"], "T", "{listing}");

        // It deletes the repo and makes it again with a quota of one package: two uploads
        // here that took the cached settings are checked against the new ones.
        assert_eq!(send(&other, "DELETE", "/repos/r/", b"").await, 200);
        let mut create = req("POST", "/repos/r/", br#"{"quota_packages": 1}"#);
        create
            .headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        assert_eq!(crate::handle(&other, create).await.status(), 201);
        let (c, d) = futures::join!(add(&app, "c", b"PKG c"), add(&app, "d", b"PKG d"));
        let mut statuses = [c, d];
        statuses.sort();
        assert_eq!(statuses, [201, 507], "the new quota was missed");
        let index = text(&other, "/repos/r/fake/index").await.1;
        assert!(index == "c\n" || index == "d\n", "{index:?}");
    });
}

/// Repo `r` with `n` packages, p000 and on, added one at a time.
async fn repo_of(app: &crate::App, n: usize) {
    send(app, "POST", "/repos/r/", b"").await;
    for i in 0..n {
        let name = format!("p{i:03}");
        assert_eq!(add(app, &name, format!("PKG {name}").as_bytes()).await, 201);
    }
}

/// Rebuilds repo `r` in a process that has no analysis cached, as after a restart.
async fn rebuild_cold(app: &crate::App) {
    *app.analyses.lock() = Default::default();
    assert_eq!(send(app, "POST", "/repos/r/rebuild", b"").await, 200);
}

/// The lines of repo `r`'s fake index, as served.
async fn index_lines(app: &crate::App) -> usize {
    text(app, "/repos/r/fake/index").await.1.lines().count()
}

/// A rebuild's re-analysis and its render from scratch read every analysis once: cached, they
/// would fill the analyses cache (4,096 of them) at the rebuild's peak, for nothing. A render
/// that follows an earlier one keeps what it reads: the next publishes' changed runs.
#[test]
fn a_rebuild_reads_analyses_through_the_cache() {
    let (app, _, _) = app(Arc::new(FakeGen::new()));
    futures::executor::block_on(async {
        repo_of(&app, 200).await;
        // As after a restart: nothing cached.
        rebuild_cold(&app).await;
        let kept = app.analyses.lock().len();
        assert_eq!(kept, 0, "a rebuild left {kept} analyses cached");
        // The next render is incremental: its own and its run's neighbours stay cached.
        assert_eq!(add(&app, "p100a", b"PKG p100a").await, 201);
        assert!(app.analyses.lock().len() > 1);
        assert_eq!(index_lines(&app).await, 201);
    });
}

/// Where each read is a round trip (S3), a render from scratch reads the analyses of the runs
/// ahead with the run whose turn it is, many runs a round: read a run a round, a rebuild's
/// render of 10,000 debs on S3 took 25 s, nine tenths of the rebuild. Here a process's first
/// render (a rebuild's hands its render what it analyzed, below).
#[test]
fn a_render_from_scratch_on_a_remote_store_reads_many_runs_a_round() {
    let gen = Arc::new(FakeGen::new());
    let (app, meta, blobs) = app(gen.clone());
    futures::executor::block_on(async {
        repo_of(&app, 640).await; // ~10 runs of 64 entries on average
                                  // Another process, which has read the head (its buckets) but rendered nothing.
        let other = process(&meta, &blobs, gen);
        assert_eq!(json(&other, "GET", "/repos/r/", b"").await.0, 200);
        blobs.remote_reads.store(true, Ordering::SeqCst);
        assert_eq!(add(&other, "p999", b"PKG p999").await, 201);
        let rounds = blobs.gets.rounds.load(Ordering::SeqCst);
        // the last manifest, the head's changed buckets, then the analyses 256 at a time:
        // 6 (a run a round: 12)
        assert!(rounds <= 7, "the first render read in {rounds} rounds");
        let (_, idx) = text(&app, "/repos/r/fake/index").await;
        assert_eq!(idx.lines().count(), 641);
    });
}

/// Where each read is a round trip (S3), a rebuild hands what it analyzed to its render, which
/// then reads no analysis back (a GET a package), and lets go of them when it ends.
#[test]
fn a_rebuild_on_a_remote_store_hands_its_analyses_to_its_render() {
    let (app, _, blobs) = app(Arc::new(FakeGen::new()));
    futures::executor::block_on(async {
        repo_of(&app, 640).await;
        blobs.remote_reads.store(true, Ordering::SeqCst);
        blobs.gets.rounds.store(0, Ordering::SeqCst);
        rebuild_cold(&app).await;
        let rounds = blobs.gets.rounds.load(Ordering::SeqCst);
        assert_eq!(rounds, 0, "the rebuild's render read analyses back");
        assert!(app.handed.lock().is_empty(), "analyses held after it");
        assert_eq!(index_lines(&app).await, 640);
    });
}

/// A render from scratch (a rebuild, a process's first render) packs its chunks as it makes
/// them: no render has hashed the file yet, so it is not hot, and holding it unpacked after
/// the rebuild (pacman's databases at 10,000 packages: 39 MiB) saves nothing. A file found
/// hot later is unpacked as its next render hashes it.
#[test]
fn a_render_from_scratch_leaves_its_chunks_packed() {
    let (app, _, _) = app(Arc::new(FakeGen::new()));
    futures::executor::block_on(async {
        send(&app, "POST", "/repos/r/", b"").await;
        // Index lines of ~100 bytes: chunks of ~64 lines are big enough to pack.
        for i in 0..300 {
            let name = format!("{i:03}-{}", "x".repeat(96));
            assert_eq!(add(&app, &name, format!("PKG p{i}").as_bytes()).await, 201);
        }
        assert_eq!(send(&app, "POST", "/repos/r/rebuild", b"").await, 200);
        let unpacked = app.chunks.lock()["r"].unpacked();
        assert_eq!(unpacked, 0, "{unpacked} bytes left unpacked by a rebuild");
        // The rebuild hashed the whole file: the next render that re-hashes most of it (a
        // name that sorts first) finds it hot and keeps what it hashed unpacked.
        let first = format!("000-{}", "a".repeat(96));
        assert_eq!(add(&app, &first, b"PKG first").await, 201);
        assert!(app.chunks.lock()["r"].unpacked() > 0);
        let (_, idx) = text(&app, "/repos/r/fake/index").await;
        assert_eq!(idx.lines().count(), 301);
        assert!(idx.starts_with(&first));
    });
}

#[test]
fn an_upload_reads_few_keys_and_a_stale_head_never_answers_for_the_store() {
    let (app, other) = two_processes();
    futures::executor::block_on(async {
        repo_with_a(&app).await;
        let gets = || calls(&app, "meta", "get");
        let before = gets();
        assert_eq!(add(&app, "b", b"PKG b").await, 201);
        // The commit round's check of the settings (the published pointer's freshness) and
        // the head it replaces; then the check of the pointer by the publish rendered beside
        // the commit's writes (not the head again: its compare-and-set says): each a GetItem
        // on DynamoDB.
        let n = gets() - before;
        assert!(n <= 3, "an upload read the metadata store {n} times");

        // The other process removes `a`: this one's head still lists it, and must not
        // answer "already there" from it.
        assert_eq!(
            send(&other, "DELETE", "/repos/r/packages/a", b"").await,
            200
        );
        assert_eq!(add(&app, "a", b"PKG a").await, 201, "a stale head answered");
        assert_eq!(text(&app, "/repos/r/fake/index").await.1, "a\nb\n");
        // It adds `c`, which this one's head does not list yet: the same bytes again are
        // a repeat, other bytes a clash, as the commit finds on the current head.
        assert_eq!(add(&other, "c", b"PKG c").await, 201);
        assert_eq!(add(&app, "c", b"PKG c").await, 200);
        assert_eq!(add(&app, "c", b"PKG other c").await, 409);
        assert_eq!(text(&app, "/repos/r/fake/index").await.1, "a\nb\nc\n");
    });
}

#[test]
fn a_small_upload_is_analyzed_from_its_body_and_a_large_one_from_the_store() {
    let (app, _, _) = app(Arc::new(FakeGen::unsigned()));
    futures::executor::block_on(async {
        send(&app, "POST", "/repos/r/", b"").await;
        let before = calls(&app, "packages", "reader");
        assert_eq!(add(&app, "small", b"PKG small").await, 201);
        assert_eq!(
            calls(&app, "packages", "reader"),
            before,
            "a small upload was read back from the store"
        );
        let mut big = b"PKG big ".to_vec();
        big.resize((1 << 20) + 1, b'x');
        assert_eq!(add(&app, "big", &big).await, 201);
        assert_eq!(calls(&app, "packages", "reader"), before + 1);
        assert_eq!(text(&app, "/repos/r/fake/index").await.1, "big\nsmall\n");
        assert_eq!(text(&app, "/repos/r/fake/pool/small").await.1, "PKG small");
    });
}

/// A publish whose write of `lost` (a blob its render made) fails answers 5xx; the same
/// upload again publishes the committed head, and `path` serves `want`: what the failed
/// render made is made and written again, not taken from what that render left behind.
fn a_lost_write_is_made_again(lost: &[u8], path: &str, want: &str) {
    let (app, _, blobs) = app(Arc::new(FakeGen::unsigned()));
    futures::executor::block_on(async {
        send(&app, "POST", "/repos/r/", b"").await;
        assert_eq!(add(&app, "a", b"PKG a").await, 201);
        *blobs.fail_put_of.lock().unwrap() = Some(lost.to_vec());
        let s = add(&app, "boom", b"PKG boom").await;
        assert!(s >= 500, "the publish wrote {path}: {s}");
        *blobs.fail_put_of.lock().unwrap() = None;
        assert_eq!(add(&app, "boom", b"PKG boom").await, 200);
        assert_eq!(text(&app, path).await, (200, want.into()));
    });
}

#[test]
fn a_chunk_whose_write_failed_is_not_named_by_a_later_generation() {
    // The render's chunk of both packages: the render cache keeps it.
    a_lost_write_is_made_again(b"a\nboom\n", "/repos/r/fake/index", "a\nboom\n");
}

#[test]
fn a_finished_file_whose_write_failed_is_written_by_the_next_publish() {
    // `joined`, a finish output: same head, same assembled files, so a finish kept from the
    // failed render would name the blob that was never written.
    let joined = "head\na\nboom\n";
    a_lost_write_is_made_again(joined.as_bytes(), "/repos/r/fake/joined", joined);
}

/// A publish renders settings as new as the head and the pointer it follows: those this
/// process holds when they are (then it reads none), else it reads them, and again when what
/// it read is older than either.
#[test]
fn a_publish_that_read_the_config_before_a_property_change_reads_it_again() {
    use crate::model::{keys, Published, RepoConfig};
    let (app, other, meta) = two_processes_and_meta();
    let stored = |key: String| meta.map.lock().unwrap()[&key].clone();
    let title = |t: &str| {
        let mut put = req(
            "PUT",
            "/repos/r/",
            format!(r#"{{"title": "{t}"}}"#).as_bytes(),
        );
        put.headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        put
    };
    let published =
        || -> Published { serde_json::from_slice(&stored(keys::published("r")).value).unwrap() };
    let revision = || -> u64 {
        let c: RepoConfig = serde_json::from_slice(&stored(keys::config("r")).value).unwrap();
        c.revision
    };
    futures::executor::block_on(async {
        send(&app, "POST", "/repos/r/", b"").await;
        assert_eq!(add(&app, "a", b"PKG a").await, 201);
        // Changed here: this process holds the new settings with the pointer it wrote, and
        // its next publish reads no settings at all (a stale read would go unmet).
        let before = stored(keys::config("r"));
        assert_eq!(crate::handle(&app, title("T")).await.status(), 200);
        assert!(revision() > 0);
        assert_eq!(text(&app, "/repos/r/fake/index").await.1, "a\n");
        meta.stale
            .lock()
            .unwrap()
            .insert(keys::config("r"), before.clone());
        assert_eq!(add(&app, "b", b"PKG b").await, 201);
        assert!(
            !meta.stale.lock().unwrap().is_empty(),
            "a publish from known settings read them"
        );
        meta.stale.lock().unwrap().clear();
        assert_eq!(published().config_revision, revision());

        // Changed by another process: the settings read here are served from before the
        // change, older than the pointer: the publish reads them again.
        assert_eq!(crate::handle(&other, title("U")).await.status(), 200);
        meta.stale.lock().unwrap().insert(keys::config("r"), before);
        assert_eq!(add(&app, "c", b"PKG c").await, 201);
        assert!(
            meta.stale.lock().unwrap().is_empty(),
            "no read met the stale config"
        );
        assert_eq!(
            published().config_revision,
            revision(),
            "published with the settings from before the change"
        );
        assert_eq!(text(&app, "/repos/r/fake/index").await.1, "a\nb\nc\n");
    });
}

/// A publish renders from the pointer and head its process holds, and checks them with two
/// reads beside the render: when another process has published since, the check finds it,
/// the render is made again from what is read (covering the other's packages too), and the
/// miss makes the next publishes here go the plain way for a while (`publish::Misses`).
#[test]
fn a_publish_from_known_state_that_missed_a_write_renders_again() {
    use crate::model::keys;
    let (app, other, meta) = two_processes_and_meta();
    futures::executor::block_on(async {
        repo_with_a(&app).await;
        assert_eq!(add(&app, "b", b"PKG b").await, 201);
        assert!(
            app.misses.lock().is_empty(),
            "a process writing alone missed"
        );
        let mine = meta.map.lock().unwrap()[&keys::published("r")].clone();
        assert_eq!(add(&other, "c", b"PKG c").await, 201);
        // The commit's check of the settings is served the pointer from before `c`: the
        // publish starts from it, and its own check finds the pointer `c` moved.
        meta.stale
            .lock()
            .unwrap()
            .insert(keys::published("r"), mine);
        assert_eq!(add(&app, "d", b"PKG d").await, 201);
        assert!(meta.stale.lock().unwrap().is_empty());
        assert!(!app.misses.lock().is_empty(), "the miss went unnoticed");
        assert_eq!(text(&other, "/repos/r/fake/index").await.1, "a\nb\nc\nd\n");
    });
}

/// A commit round's publish renders beside the round's writes, from the head they write
/// (`group::publish_beside`; that it reads no head after the commit:
/// `an_upload_reads_few_keys_and_a_stale_head_never_answers_for_the_store`). When another
/// process moved the head under it, the compare-and-set fails and the render beside it publishes nothing (no
/// generation lists a head that was never committed); the commit takes on the current head,
/// and the upload publishes the usual way.
#[test]
fn a_publish_beside_its_commit_waits_for_the_head_it_renders() {
    use crate::model::Published;
    let (app, other, meta) = two_processes_and_meta();
    let stored = |key: String| meta.map.lock().unwrap()[&key].clone();
    let generation = || {
        let p: Published = serde_json::from_slice(&stored(keys::published("r")).value).unwrap();
        p.generation
    };
    futures::executor::block_on(async {
        repo_with_a(&app).await;
        assert_eq!(add(&app, "b", b"PKG b").await, 201);
        // Another process moves the head and has not published yet; the commit here reads
        // the head from before, and its compare-and-set fails.
        let mine = stored(keys::head("r"));
        let generation_before = generation();
        update_head(&other, "r", Kind::Add, |_| Ok(Change::Changed))
            .await
            .unwrap();
        meta.stale.lock().unwrap().insert(keys::head("r"), mine);
        assert_eq!(add(&app, "d", b"PKG d").await, 201);
        assert!(meta.stale.lock().unwrap().is_empty());
        assert!(
            !app.misses.lock().is_empty(),
            "the lost head went unnoticed"
        );
        assert_eq!(
            generation(),
            generation_before + 1,
            "a generation rendered from a head that was never committed"
        );
        assert_eq!(text(&other, "/repos/r/fake/index").await.1, "a\nb\nd\n");
    });
}

#[test]
fn an_upload_writes_its_blobs_in_three_rounds() {
    let (app, _, blobs) = app(Arc::new(FakeGen::unsigned()));
    let rounds = || blobs.puts.rounds.load(Ordering::SeqCst);
    futures::executor::block_on(async {
        send(&app, "POST", "/repos/r/", b"").await;
        for name in ["a", "b", "c"] {
            let body = format!("PKG {name}");
            assert_eq!(add(&app, name, body.as_bytes()).await, 201);
        }
        let before = rounds();
        assert_eq!(add(&app, "d", b"PKG d").await, 201);
        // The package; its analysis, the head's buckets and journal segment together; then
        // the publish's chunks, finished files, manifest and log segment together: on S3
        // each round is a round trip.
        assert_eq!(rounds() - before, 3, "rounds of writes for one upload");
        assert_eq!(text(&app, "/repos/r/fake/index").await.1, "a\nb\nc\nd\n");
        // Every analysis the head names is stored (a process without this one's caches
        // renders from them), and a lost write of one fails its upload, which lists nothing.
        let (head, _) = crate::commit::load_head(&app, "r").await.unwrap();
        let d = head.packages.get("d").unwrap().analysis.clone();
        let analysis = blobs.blobs.lock().unwrap().get(&d).cloned();
        let analysis = analysis.expect("the analysis of d is not stored");
        send(&app, "POST", "/repos/s/", b"").await;
        *blobs.fail_put_of.lock().unwrap() = Some(analysis.to_vec());
        let s = send(&app, "POST", "/repos/s/packages/?filename=d", b"PKG d").await;
        assert!(s >= 500, "committed without storing its analysis: {s}");
        *blobs.fail_put_of.lock().unwrap() = None;
        let (head, _) = crate::commit::load_head(&app, "s").await.unwrap();
        assert!(head.packages.get("d").is_none());
    });
}

#[test]
fn concurrent_reads_share_a_freshness_check_that_began_after_them() {
    use std::future::Future;
    let gen = Arc::new(FakeGen::unsigned());
    let (app, meta, blobs) = app(gen.clone());
    // Another process on the same stores.
    let other = process(&meta, &blobs, gen);
    let get = || Box::pin(text(&app, "/repos/r/fake/index"));
    futures::executor::block_on(async {
        send(&app, "POST", "/repos/r/", b"").await;
        assert_eq!(add(&app, "a", b"PKG a").await, 201);
        assert_eq!(get().await.1, "a\n");
    });
    // As on DynamoDB: a check is a round trip, worth sharing.
    meta.remote.store(true, Ordering::SeqCst);
    let checks = || meta.fresh_calls.load(Ordering::SeqCst);
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    // A GET whose check has read the pointer and not answered yet...
    let release = meta.hold_next_fresh();
    let before = checks();
    let mut first = get();
    assert!(first.as_mut().poll(&mut cx).is_pending());
    assert_eq!(
        checks(),
        before + 1,
        "the first GET did not reach its check"
    );
    // ...another process publishes `b`, and then three more GETs come: each must see `b`,
    // so none may take the answer of the check under way, which read the pointer before.
    assert_eq!(futures::executor::block_on(add(&other, "b", b"PKG b")), 201);
    let before = checks();
    let mut rest: Vec<_> = (0..3).map(|_| get()).collect();
    for r in &mut rest {
        assert!(r.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(
        checks(),
        before,
        "GETs during a check read the store themselves"
    );
    release.send(()).unwrap();
    futures::executor::block_on(async {
        assert_eq!(first.await, (200, "a\n".to_string()));
        for (status, body) in futures::future::join_all(rest).await {
            assert_eq!(
                (status, body.as_str()),
                (200, "a\nb\n"),
                "a read missed a write"
            );
        }
    });
    assert_eq!(
        checks(),
        before + 1,
        "three GETs queued together shared one check"
    );

    // A GET whose client goes away mid-check leaves no one waiting for it.
    let _release = meta.hold_next_fresh();
    let mut gone = get();
    assert!(gone.as_mut().poll(&mut cx).is_pending());
    let mut queued = get();
    assert!(queued.as_mut().poll(&mut cx).is_pending());
    drop(gone);
    let answer = futures::executor::block_on(queued);
    assert_eq!(answer, (200, "a\nb\n".to_string()));

    // No round is kept once nobody waits: not for a repo that is there, nor for any name a
    // GET makes up.
    futures::executor::block_on(async {
        for i in 0..3 {
            assert_eq!(text(&app, &format!("/repos/none{i}/x")).await.0, 404);
        }
    });
    assert_eq!(app.checks.lock().len(), 0, "idle rounds kept");
}

/// With a read lease, a process answers GETs from the pointer its last check read, with no
/// check of their own, for one lease; every write that changes what GETs see waits the
/// leases out, so a GET in another process after the write returned sees it, even a write from
/// a process without leases; and a publish holds the pointer first, so no process serves the
/// new generation while another's lease on the old one may be current. Where reads are local,
/// no lease and no hold.
#[test]
fn a_read_lease_saves_checks_and_never_hides_a_write() {
    use std::time::{Duration, Instant};
    const LEASE: Duration = Duration::from_millis(800);
    let gen = Arc::new(FakeGen::unsigned());
    let (_, meta, blobs) = app(gen.clone());
    let with_lease = |lease| {
        let mut app = process(&meta, &blobs, gen.clone());
        app.read_lease = lease;
        Arc::new(app)
    };
    // Two processes with leases, and one without (it checks on every GET).
    let (reader, writer, plain) = (
        with_lease(LEASE),
        with_lease(LEASE),
        with_lease(Duration::ZERO),
    );
    meta.remote.store(true, Ordering::SeqCst);
    let checks = || meta.fresh_calls.load(Ordering::SeqCst);
    let pointer = || meta.map.lock().unwrap()[&keys::published("r")].version;
    let get = |app: &crate::App| futures::executor::block_on(text(app, "/repos/r/fake/index"));
    futures::executor::block_on(async {
        send(&writer, "POST", "/repos/r/", b"").await;
        assert_eq!(add(&writer, "a", b"PKG a").await, 201);
    });

    // The first GET checks and takes the lease; those in it do not check.
    assert_eq!(get(&reader), (200, "a\n".to_string()));
    let before = checks();
    for _ in 0..20 {
        assert_eq!(get(&reader), (200, "a\n".to_string()));
    }
    // (One more check if this machine stalled past the lease; 20 without leases.)
    assert!(
        checks() - before <= 1,
        "{} checks in the lease",
        checks() - before
    );

    // A write elsewhere holds the pointer, moves it once the reader's lease is over, and
    // only then answers: the reader's next GET sees it.
    let (version, began) = (pointer(), Instant::now());
    assert_eq!(
        futures::executor::block_on(add(&writer, "b", b"PKG b")),
        201
    );
    assert!(
        began.elapsed() >= LEASE,
        "the write did not wait out the lease"
    );
    assert_eq!(pointer(), version + 2, "a hold, then the move");
    assert_eq!(
        get(&reader),
        (200, "a\nb\n".to_string()),
        "a read missed a write"
    );

    // While the reader's lease on `a b` may be current, no process serves `a b c`.
    let leased_at = Instant::now();
    assert_eq!(get(&reader), (200, "a\nb\n".to_string()));
    let w = writer.clone();
    let write = std::thread::spawn(move || {
        futures::executor::block_on(add(&w, "c", b"PKG c"));
    });
    let seen = loop {
        let (_, body) = get(&plain);
        if body == "a\nb\nc\n" {
            break leased_at.elapsed();
        }
        assert_eq!(body, "a\nb\n");
        assert!(
            leased_at.elapsed() < Duration::from_secs(60),
            "c never published"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    write.join().unwrap();
    assert!(
        seen >= LEASE,
        "the new generation was served {seen:?} into a lease"
    );
    // Nobody leased the held pointer: the reader's lease ran out, so it checked and saw `c`.
    assert_eq!(get(&reader), (200, "a\nb\nc\n".to_string()));

    // A process without leases (as Lambda's functions) writing beside them still waits out
    // the lease the pointer allows; the pointer it writes allows none, so GETs check again.
    let began = Instant::now();
    assert_eq!(futures::executor::block_on(add(&plain, "d", b"PKG d")), 201);
    assert!(
        began.elapsed() >= LEASE,
        "a write without leases answered inside one"
    );
    let before = checks();
    for _ in 0..3 {
        assert_eq!(get(&reader), (200, "a\nb\nc\nd\n".to_string()));
    }
    assert_eq!(
        checks() - before,
        3,
        "a pointer that allows no lease was leased"
    );
    // Nobody could lease it: the next publish neither holds nor waits, and allows leases again.
    let version = pointer();
    assert_eq!(
        futures::executor::block_on(add(&writer, "e", b"PKG e")),
        201
    );
    assert_eq!(pointer(), version + 1, "a hold of a pointer nobody leased");
    assert_eq!(get(&reader), (200, "a\nb\nc\nd\ne\n".to_string()));
    let before = checks();
    assert_eq!(get(&reader).0, 200);
    assert_eq!(checks(), before, "the lease is back");

    // Disabling, enabling and deleting wait after their write.
    for (method, path, was, status) in [
        ("POST", "/repos/r/disable", 200, 404),
        ("POST", "/repos/r/enable", 404, 200),
        ("DELETE", "/repos/r/", 200, 404),
    ] {
        assert_eq!(get(&reader).0, was, "before {method} {path}");
        let began = Instant::now();
        let s = futures::executor::block_on(send(&writer, method, path, b""));
        assert!(s < 300, "{method} {path}: {s}");
        assert!(
            began.elapsed() >= LEASE,
            "{path} did not wait out the lease"
        );
        assert_eq!(get(&reader).0, status, "after {method} {path}");
    }

    // Where reads are local, a publish takes no lease into account: no hold, no wait.
    meta.remote.store(false, Ordering::SeqCst);
    futures::executor::block_on(async {
        send(&writer, "POST", "/repos/r/", b"").await;
        assert_eq!(add(&writer, "a", b"PKG a").await, 201);
        let version = pointer();
        assert_eq!(add(&writer, "b", b"PKG b").await, 201);
        assert_eq!(pointer(), version + 1, "a hold without leases");
    });
}

/// The part blobs bucket `b` of repo `r`'s head is stored in, or None if it is stored whole.
async fn bucket_parts(app: &crate::App, blobs: &MemBlobs, b: usize) -> Option<Vec<String>> {
    let (head, _) = load_head(app, "r").await.unwrap();
    let sha = head.packages.bucket(b).1.expect("stored").to_string();
    let raw = blobs.blobs.lock().unwrap()[&sha].clone();
    serde_json::from_slice(&raw).ok()
}

/// A bucket of `SPLIT_FROM` records or more is stored in parts: an upload into it writes
/// its part and the list, not every record of the bucket; a process that did not write it
/// reads it whole, or only the part changed when it held the version before; GC keeps the
/// parts; a bucket that shrinks below is stored whole again.
#[test]
fn a_big_bucket_is_stored_in_parts() {
    use crate::records::{bucket_of, part_of, PARTS, SPLIT_FROM};
    let gen = Arc::new(FakeGen::new());
    let (app, meta, blobs) = app_with_grace(gen.clone(), std::time::Duration::ZERO);
    let other = || process(&meta, &blobs, gen.clone());
    let b = bucket_of("p0");
    let names: Vec<String> = (0..)
        .map(|i| format!("p{i}"))
        .filter(|n| bucket_of(n) == b)
        .take(SPLIT_FROM + 1)
        .collect();
    // What a process that did not write the head serves: every name, and their files.
    let served = |count: usize| {
        let app = other();
        let names = names.clone();
        async move {
            let (status, index) = text(&app, "/repos/r/fake/index").await;
            assert_eq!((status, index.lines().count()), (200, count), "{index}");
            for n in names
                .iter()
                .filter(|n| index.lines().any(|l| l == n.as_str()))
            {
                let path = format!("/repos/r/fake/pool/{n}");
                assert_eq!(text(&app, &path).await, (200, format!("PKG {n}")));
            }
        }
    };
    futures::executor::block_on(async {
        send(&app, "POST", "/repos/r/", br#"{"keep_generations": 1}"#).await;
        for n in &names[..SPLIT_FROM - 1] {
            assert_eq!(add(&app, n, format!("PKG {n}").as_bytes()).await, 201);
        }
        assert_eq!(
            bucket_parts(&app, &blobs, b).await,
            None,
            "below SPLIT_FROM"
        );
        let n = &names[SPLIT_FROM - 1];
        assert_eq!(add(&app, n, format!("PKG {n}").as_bytes()).await, 201);
        let before = bucket_parts(&app, &blobs, b)
            .await
            .expect("stored in parts");
        assert_eq!(before.len(), PARTS);

        // A process that read the head before reads back only the list and the part changed.
        let reader = other();
        load_head(&reader, "r").await.unwrap();
        let last = &names[SPLIT_FROM];
        assert_eq!(add(&app, last, format!("PKG {last}").as_bytes()).await, 201);
        let read = calls(&reader, "packages", "get_bytes");
        let (head, _) = load_head(&reader, "r").await.unwrap();
        let read = calls(&reader, "packages", "get_bytes") - read;
        assert_eq!(read, 2, "the list and the part that changed");
        assert_eq!(head.packages.len(), SPLIT_FROM + 1);
        assert!(head.packages.get(last).is_some());
        let after = bucket_parts(&app, &blobs, b).await.unwrap();
        let differ: Vec<usize> = (0..PARTS).filter(|&p| before[p] != after[p]).collect();
        assert_eq!(
            differ,
            vec![part_of(last)],
            "only the changed part is written again"
        );
        let part = blobs.blobs.lock().unwrap()[&after[part_of(last)]].clone();
        let part: std::collections::BTreeMap<String, serde_json::Value> =
            serde_json::from_slice(&part).unwrap();
        assert!(part.contains_key(last.as_str()));
        assert!(part.keys().all(|k| part_of(k) == part_of(last)));
        assert!(
            part.len() < SPLIT_FROM / 2,
            "a part, not the bucket: {}",
            part.len()
        );
        served(SPLIT_FROM + 1).await;

        crate::gc::collect(&app, 0).await.unwrap();
        for p in &after {
            assert!(
                blobs.blobs.lock().unwrap().contains_key(p),
                "GC took part {p}"
            );
        }
        served(SPLIT_FROM + 1).await;

        for n in &names[..2] {
            let path = format!("/repos/r/packages/{n}");
            assert_eq!(send(&app, "DELETE", &path, b"").await, 200);
        }
        assert_eq!(bucket_parts(&app, &blobs, b).await, None, "whole again");
        crate::gc::collect(&app, 0).await.unwrap();
        served(SPLIT_FROM - 1).await;
    });
}
