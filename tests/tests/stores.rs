//! One conformance suite that every store runs: the metadata store contract on `file://`,
//! `dynamodb://` (moto), `redis://` and `postgres://` (real servers started here), and the
//! package store contract on `file://` and `s3://` (moto). Each backend is one test; the
//! network ones talk through a proxy that loses replies (`common/cut.rs`), so a connection
//! dropped after a write landed is part of the contract too. Prints each suite's time.
mod common;
use bytes::Bytes;
use common::cut::Cut;
use common::moto::Moto;
use futures::StreamExt;
use reposmith_core::store::{Conflict, Fresh, MetaStore, PackageStore, Write};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

/// A value larger than any backend keeps inline here (DynamoDB spills over 300 KB, and the
/// Redis and PostgreSQL stores are opened with `spill=65536`).
const BIG: usize = 600_000;

async fn read_all(store: &dyn PackageStore, sha: &str, offset: u64, len: Option<u64>) -> Vec<u8> {
    let mut s = store.get(sha, offset, len).await.unwrap().expect("blob");
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c.unwrap());
    }
    out
}

async fn package_semantics(packages: &dyn PackageStore) {
    // Small: one PUT, ranged reads.
    let small = Bytes::from_static(b"0123456789abcdef");
    let d = packages.put_bytes(small.clone()).await.unwrap();
    assert_eq!(packages.size(&d.sha256).await.unwrap(), Some(16));
    assert_eq!(read_all(packages, &d.sha256, 4, Some(3)).await, b"456");
    assert_eq!(read_all(packages, &d.sha256, 10, None).await, b"abcdef");
    assert!(read_all(packages, &d.sha256, 16, None).await.is_empty());
    // Several small blobs at once, in the order asked, an absent one as None.
    let other = packages.put_bytes(b("another small blob")).await.unwrap();
    let absent = "0".repeat(64);
    let many = [other.sha256.clone(), absent, d.sha256.clone()];
    assert_eq!(
        packages.get_many(&many).await.unwrap(),
        vec![Some(b("another small blob")), None, Some(small.clone())]
    );

    // Large: a multipart upload (parts of 8 MiB) streamed in odd-sized chunks.
    let data: Vec<u8> = (0..20_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let chunks: Vec<std::io::Result<Bytes>> = data
        .chunks(999_983)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let d = packages
        .put(futures::stream::iter(chunks).boxed())
        .await
        .unwrap();
    assert_eq!(d, reposmith_core::digest::digests(&data));
    assert_eq!(packages.size(&d.sha256).await.unwrap(), Some(20_000_000));
    assert_eq!(
        read_all(packages, &d.sha256, 8_388_600, Some(10)).await,
        &data[8_388_600..8_388_610]
    );
    // The generators' synchronous reader, across a window boundary.
    let facts = reposmith_core::generator::Facts {
        sha256: d.sha256.clone(),
        size: d.size,
        ..Default::default()
    };
    let reader = packages.reader(facts.clone()).await.unwrap();
    let got = tokio::task::spawn_blocking(move || reader.read((1 << 20) - 5, 10).unwrap())
        .await
        .unwrap();
    assert_eq!(got, &data[(1 << 20) - 5..(1 << 20) + 5]);
    // ...and from its start, across the end of the first bytes S3 asks for ahead (256 KiB),
    // and past the end of the blob.
    let reader = packages.reader(facts).await.unwrap();
    let got = tokio::task::spawn_blocking(move || {
        [
            reader.read(0, 100).unwrap(),
            reader.read((256 << 10) - 5, 10).unwrap(),
            reader.read(19_999_995, 10).unwrap(),
        ]
    })
    .await
    .unwrap();
    assert_eq!(got[0], &data[..100]);
    assert_eq!(got[1], &data[(256 << 10) - 5..(256 << 10) + 5]);
    assert_eq!(got[2], &data[19_999_995..]);
    let listed = packages.list().await.unwrap();
    assert!(listed.iter().any(|(s, _)| *s == d.sha256));

    // A large upload: PUT to the presigned URL, then adopted under its sha256 (where the
    // backend can presign).
    let Some(url) = packages.presigned_put("abc123").await.unwrap() else {
        assert!(packages.adopt("abc123").await.unwrap().is_none());
        packages.delete(&d.sha256).await.unwrap();
        assert_eq!(packages.size(&d.sha256).await.unwrap(), None);
        return;
    };
    let body = b"bytes a client PUT straight into storage".to_vec();
    let r = ureq::put(&url).send_bytes(&body).expect("presigned PUT");
    assert_eq!(r.status(), 200);
    let d = packages.adopt("abc123").await.unwrap().expect("adopted");
    assert_eq!(d.sha256, common::sha256_hex(&body));
    assert_eq!(read_all(packages, &d.sha256, 0, None).await, body);
    assert!(
        packages.adopt("abc123").await.unwrap().is_none(),
        "moved, not copied"
    );

    packages.delete(&d.sha256).await.unwrap();
    assert_eq!(packages.size(&d.sha256).await.unwrap(), None);
    assert!(packages.get(&d.sha256, 0, None).await.unwrap().is_none());
}

/// S3: a reader asks for its package's start when it is made, so a batch of readers waits on
/// one round trip together (a rebuild on S3 was one GET after another per analysing thread),
/// and reading that start later sends nothing more.
async fn readers_ask_ahead(packages: &dyn PackageStore) {
    let gets = || {
        reposmith_stores::request_counts()
            .get("S3.GET")
            .copied()
            .unwrap_or(0)
    };
    let mut blobs = Vec::new();
    for i in 0..8u8 {
        let body = Bytes::from(vec![i; 3000 + i as usize]);
        let d = packages.put_bytes(body.clone()).await.unwrap();
        blobs.push((d, body));
    }
    let before = gets();
    let mut readers = Vec::new();
    for (d, _) in &blobs {
        let facts = reposmith_core::generator::Facts {
            sha256: d.sha256.clone(),
            size: d.size,
            ..Default::default()
        };
        readers.push(packages.reader(facts).await.unwrap());
    }
    let t = Instant::now();
    while gets() < before + 8 {
        assert!(
            t.elapsed().as_secs() < 20,
            "8 readers made and not read: {} GETs asked, not 8",
            gets() - before
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let asked = gets();
    let got = tokio::task::spawn_blocking(move || {
        readers
            .iter()
            .map(|r| r.read(0, 10_000).unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for ((_, body), got) in blobs.iter().zip(got) {
        assert_eq!(&got[..], &body[..]);
    }
    assert_eq!(gets(), asked, "reading what was asked ahead sent more GETs");

    // A start that could not be read is asked for again by the next read, not kept failed.
    let body = Bytes::from_static(b"stored after its reader was made");
    let facts = reposmith_core::generator::Facts {
        sha256: common::sha256_hex(&body),
        size: body.len() as u64,
        ..Default::default()
    };
    let reader = packages.reader(facts).await.unwrap();
    let r = reader.clone();
    let missing = tokio::task::spawn_blocking(move || r.read(0, 100)).await;
    assert!(missing.unwrap().is_err(), "read a blob that is not stored");
    packages.put_bytes(body.clone()).await.unwrap();
    let again = tokio::task::spawn_blocking(move || reader.read(0, 100)).await;
    assert_eq!(again.expect("the second read panicked").unwrap(), body);
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Create, update, stale writes, reads, freshness.
async fn basics(meta: &dyn MetaStore) {
    let k = "repo/t/head";
    assert!(meta.get(k).await.unwrap().is_none());
    let v1 = meta.put_if(k, b("one"), None).await.unwrap().unwrap();
    // Create-if-absent loses to the existing key; a stale version loses too.
    assert_eq!(meta.put_if(k, b("x"), None).await.unwrap(), Err(Conflict));
    let v2 = meta.put_if(k, b("two"), Some(v1)).await.unwrap().unwrap();
    assert_ne!(v1, v2);
    assert_eq!(
        meta.put_if(k, b("x"), Some(v1)).await.unwrap(),
        Err(Conflict)
    );
    let got = meta.get(k).await.unwrap().unwrap();
    assert_eq!((got.value.as_ref(), got.version), (&b"two"[..], v2));
    assert!(matches!(
        meta.get_fresh(k, &got).await.unwrap(),
        Fresh::Unchanged
    ));
    let v3 = meta.put_if(k, b("three"), Some(v2)).await.unwrap().unwrap();
    match meta.get_fresh(k, &got).await.unwrap() {
        Fresh::Changed(Some(now)) => assert_eq!((now.value, now.version), (b("three"), v3)),
        other => panic!("{other:?}"),
    }
}

/// 32 tasks increment one counter by compare-and-set, 3 times each: none is lost.
async fn cas_race(meta: Arc<dyn MetaStore>) {
    let k = "race/counter";
    meta.put_if(k, b("0"), None).await.unwrap().unwrap();
    let tasks = (0..32).map(|_| {
        let meta = meta.clone();
        tokio::spawn(async move {
            for _ in 0..3 {
                loop {
                    let cur = meta.get(k).await.unwrap().unwrap();
                    let n: u64 = std::str::from_utf8(&cur.value).unwrap().parse().unwrap();
                    let next = Bytes::from((n + 1).to_string());
                    if meta
                        .put_if(k, next, Some(cur.version))
                        .await
                        .unwrap()
                        .is_ok()
                    {
                        break;
                    }
                }
            }
        })
    });
    futures::future::try_join_all(tasks).await.unwrap();
    assert_eq!(&meta.get(k).await.unwrap().unwrap().value[..], b"96");
}

/// 16 creates of one key at once: exactly one wins, and its value is there.
async fn create_race(meta: Arc<dyn MetaStore>) {
    let k = "race/new";
    let tries = (0..16).map(|i| {
        let meta = meta.clone();
        tokio::spawn(async move { (i, meta.put_if(k, Bytes::from(format!("c{i}")), None).await) })
    });
    let done = futures::future::try_join_all(tries).await.unwrap();
    let wins: Vec<_> = done
        .iter()
        .filter(|(_, r)| matches!(r, Ok(Ok(_))))
        .collect();
    assert_eq!(wins.len(), 1, "{done:?}");
    let got = meta.get(k).await.unwrap().unwrap();
    assert_eq!(got.value, Bytes::from(format!("c{}", wins[0].0)));
}

/// Several keys change together or not at all, also when transactions race.
async fn transactions(meta: Arc<dyn MetaStore>) {
    let put = |key: &str, value: String, expected| Write::Put {
        key: key.into(),
        value: value.into(),
        expected,
    };
    let head = meta.put_if("tx/a", b("a0"), None).await.unwrap().unwrap();
    // One stale condition: nothing is applied.
    let stale = vec![
        put("tx/b", "b1".into(), None),
        put("tx/a", "a1".into(), Some(head + 1000)),
    ];
    assert_eq!(meta.transact(stale).await.unwrap(), Err(Conflict));
    assert!(meta.get("tx/b").await.unwrap().is_none());
    assert_eq!(meta.get("tx/a").await.unwrap().unwrap().version, head);
    let ok = vec![
        put("tx/b", "b1".into(), None),
        put("tx/a", "a1".into(), Some(head)),
    ];
    assert_eq!(meta.transact(ok).await.unwrap(), Ok(()));
    let (a, bk) = (
        meta.get("tx/a").await.unwrap().unwrap(),
        meta.get("tx/b").await.unwrap().unwrap(),
    );
    assert_eq!(
        (a.value.as_ref(), bk.value.as_ref()),
        (&b"a1"[..], &b"b1"[..])
    );
    // 8 transactions over the same two keys, from the same versions: one wins, whole.
    let racers = (0..8).map(|i| {
        let meta = meta.clone();
        let ops = vec![
            put("tx/a", format!("a-{i}"), Some(a.version)),
            put("tx/b", format!("b-{i}"), Some(bk.version)),
        ];
        tokio::spawn(async move { (i, meta.transact(ops).await.unwrap()) })
    });
    let done = futures::future::try_join_all(racers).await.unwrap();
    let wins: Vec<_> = done.iter().filter(|(_, r)| r.is_ok()).collect();
    assert_eq!(wins.len(), 1, "{done:?}");
    let w = wins[0].0;
    assert_eq!(
        meta.get("tx/a").await.unwrap().unwrap().value,
        Bytes::from(format!("a-{w}"))
    );
    assert_eq!(
        meta.get("tx/b").await.unwrap().unwrap().value,
        Bytes::from(format!("b-{w}"))
    );
    // A delete and a put together.
    let b_now = meta.get("tx/b").await.unwrap().unwrap();
    let a_now = meta.get("tx/a").await.unwrap().unwrap();
    let ops = vec![
        Write::Delete {
            key: "tx/b".into(),
            expected: b_now.version,
        },
        put("tx/a", "a-last".into(), Some(a_now.version)),
    ];
    assert_eq!(meta.transact(ops).await.unwrap(), Ok(()));
    assert!(meta.get("tx/b").await.unwrap().is_none());
    assert_eq!(
        &meta.get("tx/a").await.unwrap().unwrap().value[..],
        b"a-last"
    );
}

/// 2,500 keys under one prefix (more than a page of every backend), some beside it. A prefix
/// names at least the key's first segment (`repo/`, `upload/r/`): DynamoDB lists by partition.
async fn listing(meta: Arc<dyn MetaStore>) {
    let keys: Vec<String> = (0..2500).map(|i| format!("many/{i:05}")).collect();
    futures::stream::iter(keys.clone())
        .map(|k| {
            let meta = meta.clone();
            async move { meta.put_if(&k, b("x"), None).await.unwrap().unwrap() }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    // (No key is another's first segments: the file store keeps keys as paths.)
    for k in ["man", "manx/1", "many-more/1", "manz/2"] {
        meta.put_if(k, b("y"), None).await.unwrap().unwrap();
    }
    assert_eq!(meta.list("many/").await.unwrap(), keys);
    let sub = meta.list("many/01").await.unwrap();
    assert_eq!(sub, keys[1000..2000].to_vec());
    assert!(meta.list("nothing/").await.unwrap().is_empty());
    let tail = meta.list("many/024").await.unwrap();
    assert_eq!(tail, keys[2400..].to_vec());
}

/// A large value is kept (spilled, where the backend spills) and read back whole; GC learns
/// the spilled blob, and forgets it once the key holds a small value again.
async fn spill(meta: &dyn MetaStore, spills: bool) {
    let k = "big/value";
    let before: BTreeSet<String> = meta.spilled().await.unwrap().into_iter().collect();
    let big = Bytes::from((0..BIG as u32).map(|i| (i % 251) as u8).collect::<Vec<_>>());
    let v = meta.put_if(k, big.clone(), None).await.unwrap().unwrap();
    let got = meta.get(k).await.unwrap().unwrap();
    assert_eq!((got.value.len(), got.version), (BIG, v));
    assert!(got.value == big, "the large value came back changed");
    let with: BTreeSet<String> = meta.spilled().await.unwrap().into_iter().collect();
    let new: Vec<_> = with.difference(&before).collect();
    assert_eq!(
        new.len(),
        usize::from(spills),
        "spilled blobs GC must keep: {new:?}"
    );
    meta.put_if(k, b("small"), Some(v)).await.unwrap().unwrap();
    let after: BTreeSet<String> = meta.spilled().await.unwrap().into_iter().collect();
    assert_eq!(
        after, before,
        "a replaced spilled value is no longer referenced"
    );
}

/// Deletes happen at the expected version only; a gone key counts as deleted; a key made
/// again is news to a reader that knew the old one.
async fn deletes(meta: &dyn MetaStore) {
    let k = "del/key";
    let v = meta.put_if(k, b("old"), None).await.unwrap().unwrap();
    let old = meta.get(k).await.unwrap().unwrap();
    assert_eq!(meta.delete_if(k, v + 1000).await.unwrap(), Err(Conflict));
    assert_eq!(meta.get(k).await.unwrap().unwrap().value, b("old"));
    assert_eq!(meta.delete_if(k, v).await.unwrap(), Ok(()));
    assert!(meta.get(k).await.unwrap().is_none());
    assert!(!meta.list("del/").await.unwrap().contains(&k.to_string()));
    assert_eq!(meta.delete_if(k, v).await.unwrap(), Ok(()), "gone already");
    assert!(matches!(
        meta.get_fresh(k, &old).await.unwrap(),
        Fresh::Changed(None)
    ));
    meta.put_if(k, b("new"), None).await.unwrap().unwrap();
    match meta.get_fresh(k, &old).await.unwrap() {
        Fresh::Changed(Some(now)) => assert_eq!(now.value, b("new")),
        other => panic!("made again, but {other:?}"),
    }
}

/// The connection drops after the backend ran a write, before its reply: the store's retry
/// must find its own write and answer success, applying it once. Then it works on.
async fn lost_replies(meta: &dyn MetaStore, cut: &Cut, base64: bool) {
    let marker = |what: &str| format!("lost-reply-{what}-{}", hex::encode(rand_bytes()));
    // How a value travels: DynamoDB's JSON carries binary attributes in base64.
    let wire = |value: &str| match base64 {
        true => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .encode(value)
                .into_bytes()
        }
        false => value.as_bytes().to_vec(),
    };
    // A create.
    let value = marker("create");
    cut.arm(&wire(&value));
    let v1 = meta.put_if("cut/k", b(&value), None).await.unwrap();
    assert_eq!(cut.cuts(), 1, "the proxy did not cut");
    let v1 = v1.expect("a create whose reply was lost is still ours");
    // An update.
    let value = marker("update");
    cut.arm(&wire(&value));
    let v2 = meta.put_if("cut/k", b(&value), Some(v1)).await.unwrap();
    assert_eq!(cut.cuts(), 2);
    let v2 = v2.expect("an update whose reply was lost is still ours");
    let got = meta.get("cut/k").await.unwrap().unwrap();
    assert_eq!((got.value, got.version), (b(&value), v2), "applied once");
    assert_eq!(
        meta.put_if("cut/k", b("late"), Some(v1)).await.unwrap(),
        Err(Conflict)
    );
    // A transaction.
    let value = marker("transact");
    cut.arm(&wire(&value));
    let ops = vec![
        Write::Put {
            key: "cut/t".into(),
            value: b(&value),
            expected: None,
        },
        Write::Put {
            key: "cut/k".into(),
            value: b("with-t"),
            expected: Some(v2),
        },
    ];
    let done = meta.transact(ops).await.unwrap();
    assert_eq!(cut.cuts(), 3);
    assert_eq!(
        done,
        Ok(()),
        "a transaction whose reply was lost is still ours"
    );
    assert_eq!(meta.get("cut/t").await.unwrap().unwrap().value, b(&value));
    let k = meta.get("cut/k").await.unwrap().unwrap();
    assert_eq!(k.value, b("with-t"));
    // A delete (the key name is in the request).
    let key = marker("delete");
    meta.put_if(&key, b("x"), None).await.unwrap().unwrap();
    let v = meta.get(&key).await.unwrap().unwrap().version;
    cut.arm(key.as_bytes());
    assert_eq!(meta.delete_if(&key, v).await.unwrap(), Ok(()));
    assert_eq!(cut.cuts(), 4);
    assert!(meta.get(&key).await.unwrap().is_none());
}

fn rand_bytes() -> [u8; 6] {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mut out = [0u8; 6];
    out.copy_from_slice(&t.to_le_bytes()[..6]);
    out
}

/// The whole metadata contract on one store; `cut` is the proxy its connections go through.
async fn meta_conformance(name: &str, meta: Arc<dyn MetaStore>, spills: bool, cut: Option<&Cut>) {
    let base64 = name == "dynamodb";
    let t = Instant::now();
    basics(meta.as_ref()).await;
    cas_race(meta.clone()).await;
    create_race(meta.clone()).await;
    transactions(meta.clone()).await;
    listing(meta.clone()).await;
    spill(meta.as_ref(), spills).await;
    deletes(meta.as_ref()).await;
    if let Some(cut) = cut {
        lost_replies(meta.as_ref(), cut, base64).await;
    }
    println!(
        "metadata conformance on {name}: {:.2} s",
        t.elapsed().as_secs_f64()
    );
}

async fn package_store(url: &str) -> Arc<dyn PackageStore> {
    reposmith_stores::open_package_store(url).await.unwrap()
}

#[test]
fn file_stores_conform() {
    let dir = common::tmp();
    rt().block_on(async {
        let packages = package_store(&format!("file://{}", dir.join("p").display())).await;
        let t = Instant::now();
        package_semantics(packages.as_ref()).await;
        println!(
            "package conformance on file: {:.2} s",
            t.elapsed().as_secs_f64()
        );
        let url = format!("file://{}", dir.join("m").display());
        let meta = reposmith_stores::open_meta_store(&url, packages)
            .await
            .unwrap();
        meta_conformance("file", meta, false, None).await;
    });
}

/// S3 and DynamoDB on moto, through the reply-losing proxy. One test: the AWS SDK reads its
/// endpoint from the environment, which is per process.
#[test]
fn s3_and_dynamodb_stores_conform_on_the_wire() {
    let moto = Moto::start();
    let port: u16 = moto.endpoint.rsplit(':').next().unwrap().parse().unwrap();
    let cut = Cut::start(port);
    for (k, v) in moto.env() {
        std::env::set_var(k, v);
    }
    std::env::set_var("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{}", cut.port));
    let (purl, murl) = ("s3://conformance/repo", "dynamodb://conformance");
    rt().block_on(async {
        for url in [purl, murl] {
            reposmith_stores::create_backing(url).await.unwrap();
        }
        let packages = package_store(purl).await;
        let t = Instant::now();
        package_semantics(packages.as_ref()).await;
        readers_ask_ahead(packages.as_ref()).await;
        println!(
            "package conformance on s3: {:.2} s",
            t.elapsed().as_secs_f64()
        );
        let meta = reposmith_stores::open_meta_store(murl, packages)
            .await
            .unwrap();
        meta_conformance("dynamodb", meta, true, Some(&cut)).await;
        let counts = reposmith_stores::request_counts();
        println!("requests: {counts:?}");
        assert!(counts.get("DynamoDB.PutItem").copied().unwrap_or(0) >= 10);
        assert!(counts.get("S3.PUT").copied().unwrap_or(0) >= 3);
    });
}

#[test]
fn redis_store_conforms() {
    let redis = common::redis::Redis::start();
    let cut = Cut::start(redis.port);
    let dir = common::tmp();
    rt().block_on(async {
        let packages = package_store(&format!("file://{}", dir.display())).await;
        let url = format!("redis://127.0.0.1:{}/0?prefix=conf:&spill=65536", cut.port);
        let meta = reposmith_stores::open_meta_store(&url, packages)
            .await
            .unwrap();
        meta_conformance("redis", meta, true, Some(&cut)).await;
    });
}

#[test]
fn postgres_store_conforms() {
    let pg = common::postgres::Postgres::start();
    let cut = Cut::start(pg.port);
    let dir = common::tmp();
    rt().block_on(async {
        let packages = package_store(&format!("file://{}", dir.display())).await;
        let url = format!(
            "postgres://reposmith@127.0.0.1:{}/postgres?table=conf&spill=65536",
            cut.port
        );
        // Before `init-stores`: a clear refusal, not a failure at the first request.
        let early = reposmith_stores::open_meta_store(&url, packages.clone()).await;
        let err = format!("{:#}", early.err().expect("refused without its table"));
        assert!(err.contains("init-stores"), "{err}");
        reposmith_stores::create_backing(&url).await.unwrap();
        reposmith_stores::create_backing(&url).await.unwrap(); // again: nothing to migrate
        let meta = reposmith_stores::open_meta_store(&url, packages)
            .await
            .unwrap();
        meta_conformance("postgres", meta, true, Some(&cut)).await;
    });
}
