//! 64 concurrent uploads to one repo: every 2xx answer comes after its package is
//! published (read your writes: the Packages file fetched right after lists it), and all
//! 64 end up listed by the API and in Packages. Prints p50/p99 upload latency.
mod common;
use common::*;
use std::sync::Arc;
use std::time::Instant;

#[test]
fn sixty_four_concurrent_uploads_all_published() {
    let debs = many_debs(64, "conc");
    let server = Arc::new(Server::start(&tmp().join("data")));
    server.create_repo("busy");
    let barrier = Arc::new(std::sync::Barrier::new(debs.len()));
    let handles: Vec<_> = debs
        .into_iter()
        .map(|deb| {
            let (server, barrier) = (server.clone(), barrier.clone());
            std::thread::spawn(move || {
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
                took
            })
        })
        .collect();
    let mut lat: Vec<f64> = handles
        .into_iter()
        .map(|h| h.join().expect("upload thread").as_secs_f64() * 1000.0)
        .collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).saturating_sub(1)];
    println!(
        "64 concurrent uploads: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        pct(0.50),
        pct(0.99),
        lat[lat.len() - 1]
    );
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
}
