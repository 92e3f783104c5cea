//! 64 concurrent uploads to one repo, on every metadata store (file, DynamoDB, Redis,
//! PostgreSQL): every 2xx answer comes after its package is published (read your writes: the
//! Packages file fetched right after lists it), and all 64 end up listed by the API and in
//! Packages; the PDiff Index made meanwhile chains (every patch applies, with apt's rred, to
//! the version it names). Prints p50/p99 upload latency and the store requests per upload.
mod common;
use common::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

on_every_meta_store!(
    all_published,
    "busy",
    file: sixty_four_concurrent_uploads_all_published,
    dynamodb: sixty_four_concurrent_uploads_on_dynamodb,
    redis: sixty_four_concurrent_uploads_on_redis,
    postgres: sixty_four_concurrent_uploads_on_postgres,
);

/// Metadata store calls and backend requests so far (`GET /metrics`; package store calls
/// left out).
fn counters(server: &Server) -> BTreeMap<String, u64> {
    let mut all = metrics(&server.get("/metrics").text());
    all.retain(|k, _| !k.starts_with("packages."));
    all
}

fn all_published(server: &Server) {
    let debs = many_debs(64, "conc");
    let server = Arc::new(server);
    server.create_repo("busy");
    let before = counters(&server);
    let barrier = Arc::new(std::sync::Barrier::new(debs.len()));
    let lat: Vec<f64> = std::thread::scope(|scope| {
        let handles: Vec<_> = debs
            .into_iter()
            .map(|deb| {
                let (server, barrier) = (server.clone(), barrier.clone());
                scope.spawn(move || {
                    let name = deb.file_name().unwrap().to_str().unwrap().to_string();
                    barrier.wait();
                    let t = Instant::now();
                    let r = server.upload("busy", &deb);
                    let took = t.elapsed();
                    assert_eq!(r.status, 201, "{name}: {}", r.text());
                    // Read your writes: already in the published Packages, no polling.
                    let p = server.get("/repos/busy/dist/dists/stable/main/binary-amd64/Packages");
                    assert_eq!(p.status, 200);
                    assert!(
                        p.text().contains(&format!("/{name}\n")),
                        "{name} answered 201 but is not in Packages yet"
                    );
                    took.as_secs_f64() * 1000.0
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let after = counters(&server);
    let mut lat = lat;
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).saturating_sub(1)];
    println!(
        "64 concurrent uploads: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        pct(0.50),
        pct(0.99),
        lat[lat.len() - 1]
    );
    // Per upload, with the 64 read-your-writes GETs included.
    let per_upload: Vec<String> = after
        .iter()
        .map(|(k, n)| (k, n - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, d)| *d > 0)
        .map(|(k, d)| format!("{k} {:.1}", d as f64 / 64.0))
        .collect();
    println!("store requests per upload: {}", per_upload.join(", "));
    let list = server.get("/repos/busy/packages/").json();
    assert_eq!(list["packages"].as_array().unwrap().len(), 64);
    // Publishers coalesce: one generation covers many commits (create = generation 1,
    // so 65 would mean one publish per upload).
    let generation = list["generation"].as_u64().unwrap();
    println!("64 uploads published in {} generations", generation - 1);
    assert!(generation < 65, "no coalescing: {generation} generations");
    let packages = server
        .get("/repos/busy/dist/dists/stable/main/binary-amd64/Packages")
        .text();
    assert_eq!(stanzas(&packages).len(), 64);
    assert!(check_release(&server, "busy", "stable") >= 3);
    // The PDiff Index published under that concurrency chains: each patch turns its version
    // (served by hash from the generation that published it) into the current Packages.
    let chained = check_pdiffs(&server, "busy", "dists/stable/main/binary-amd64");
    println!("{} PDiff patches applied with rred", chained.len());
}
