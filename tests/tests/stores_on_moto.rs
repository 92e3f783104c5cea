//! The S3 package store and the DynamoDB metadata store on a real wire protocol (moto):
//! compare-and-set, transactions, spilled values, listing, multipart uploads, ranged reads,
//! the presigned PUT of a large upload and its adoption. One test function: the AWS SDK
//! reads its endpoint from the environment, which is per process.
mod common;
use bytes::Bytes;
use common::moto::Moto;
use futures::StreamExt;
use reposmith_core::store::{MetaStore, PackageStore, Write};
use std::sync::Arc;

async fn read_all(store: &dyn PackageStore, sha: &str, offset: u64, len: Option<u64>) -> Vec<u8> {
    let mut s = store.get(sha, offset, len).await.unwrap().expect("blob");
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c.unwrap());
    }
    out
}

/// A transaction's put of `value` at `key`, if its version is `expected` (None: absent).
fn put(key: &str, value: &'static str, expected: Option<u64>) -> Write {
    Write::Put {
        key: key.into(),
        value: Bytes::from(value),
        expected,
    }
}

async fn meta_semantics(meta: &dyn MetaStore) {
    let k = "repo/t/head";
    assert!(meta.get(k).await.unwrap().is_none());
    let v1 = meta.put_if(k, Bytes::from("one"), None).await.unwrap();
    assert_eq!(v1, Ok(1));
    // Create-if-absent loses to the existing item; a stale version loses too.
    assert!(meta
        .put_if(k, Bytes::from("x"), None)
        .await
        .unwrap()
        .is_err());
    let v2 = meta.put_if(k, Bytes::from("two"), Some(1)).await.unwrap();
    assert_eq!(v2, Ok(2));
    assert!(meta
        .put_if(k, Bytes::from("x"), Some(1))
        .await
        .unwrap()
        .is_err());
    let got = meta.get(k).await.unwrap().unwrap();
    assert_eq!((got.value.as_ref(), got.version), (&b"two"[..], 2));

    // A value larger than an item holds is spilled to the package store and read back.
    let big = Bytes::from((0..600_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>());
    assert_eq!(meta.put_if(k, big.clone(), Some(2)).await.unwrap(), Ok(3));
    assert_eq!(meta.get(k).await.unwrap().unwrap().value, big);
    let spilled = meta.spilled().await.unwrap();
    assert_eq!(spilled.len(), 1, "GC must keep the spilled value");

    // A transaction with one stale condition applies nothing.
    let ops = vec![put("repo/t/config", "c", None), put(k, "y", Some(1))];
    assert!(meta.transact(ops).await.unwrap().is_err());
    assert!(meta.get("repo/t/config").await.unwrap().is_none());
    let ops = vec![
        put("repo/t/config", "c", None),
        put("repo/u/config", "d", None),
    ];
    assert!(meta.transact(ops).await.unwrap().is_ok());
    assert_eq!(
        meta.list("repo/").await.unwrap(),
        vec!["repo/t/config", "repo/t/head", "repo/u/config"]
    );
    assert_eq!(meta.list("repo/u/").await.unwrap(), vec!["repo/u/config"]);
    assert!(meta.list("upload/").await.unwrap().is_empty());

    // Delete only at the expected version.
    assert!(meta.delete_if(k, 2).await.unwrap().is_err());
    assert!(meta.delete_if(k, 3).await.unwrap().is_ok());
    assert!(meta.get(k).await.unwrap().is_none());

    // Racing writers: exactly one of 8 compare-and-sets from the same version wins.
    let meta_wins = futures::future::join_all(
        (0..8).map(|i| meta.put_if("repo/u/config", Bytes::from(format!("w{i}")), Some(1))),
    )
    .await;
    let wins = meta_wins.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    assert_eq!(wins, 1, "{meta_wins:?}");
}

async fn package_semantics(packages: &dyn PackageStore) {
    // Small: one PUT, ranged reads.
    let small = Bytes::from_static(b"0123456789abcdef");
    let d = packages.put_bytes(small.clone()).await.unwrap();
    assert_eq!(packages.size(&d.sha256).await.unwrap(), Some(16));
    assert_eq!(read_all(packages, &d.sha256, 4, Some(3)).await, b"456");
    assert_eq!(read_all(packages, &d.sha256, 10, None).await, b"abcdef");
    assert!(read_all(packages, &d.sha256, 16, None).await.is_empty());

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
    let reader = packages.reader(facts).await.unwrap();
    let got = tokio::task::spawn_blocking(move || reader.read((1 << 20) - 5, 10).unwrap())
        .await
        .unwrap();
    assert_eq!(got, &data[(1 << 20) - 5..(1 << 20) + 5]);
    let listed = packages.list().await.unwrap();
    assert!(listed.iter().any(|(s, _)| *s == d.sha256));

    // A large upload: PUT to the presigned URL, then adopted under its sha256.
    let url = packages
        .presigned_put("abc123")
        .await
        .unwrap()
        .expect("url");
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

#[test]
fn s3_and_dynamodb_stores_keep_their_contracts_on_the_wire() {
    let moto = Moto::start();
    for (k, v) in moto.env() {
        std::env::set_var(k, v);
    }
    let (purl, murl) = moto.stores("contract");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let packages: Arc<dyn PackageStore> =
            reposmith_stores::open_package_store(&purl).await.unwrap();
        let meta = reposmith_stores::open_meta_store(&murl, packages.clone())
            .await
            .unwrap();
        meta_semantics(meta.as_ref()).await;
        package_semantics(packages.as_ref()).await;
        let counts = reposmith_stores::request_counts();
        println!("requests: {counts:?}");
        assert!(counts.get("DynamoDB.PutItem").copied().unwrap_or(0) >= 10);
        assert!(counts.get("S3.PUT").copied().unwrap_or(0) >= 3);
    });
}
