//! kill -9 the server during a burst of uploads, restart on the same data: every listed
//! package has its blob, every index file matches its Release hash, and every upload that
//! got a 2xx is published.
mod common;
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[test]
fn kill_nine_mid_burst_loses_nothing_acknowledged() {
    let debs = many_debs(48, "crash");
    let mut server = Server::start(&tmp().join("data"));
    server.create_repo("crashy");
    let url = server.url.clone();
    let token = server.token.clone();
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let next = Arc::new(AtomicUsize::new(0));
    let debs = Arc::new(debs);
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let (acked, next, debs, url, token) = (
                acked.clone(),
                next.clone(),
                debs.clone(),
                url.clone(),
                token.clone(),
            );
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(deb) = debs.get(i) else { return };
                let name = deb.file_name().unwrap().to_str().unwrap().to_string();
                let r = ureq::post(&format!("{url}/repos/crashy/packages/?filename={name}"))
                    .set("Authorization", &format!("Bearer {token}"))
                    .send_bytes(&std::fs::read(deb).unwrap());
                match r {
                    Ok(resp) if resp.status() == 201 => acked.lock().unwrap().push(name),
                    Ok(resp) => panic!("{name}: unexpected {}", resp.status()),
                    Err(_) => return, // the server died under us: stop this worker
                }
            })
        })
        .collect();
    // Let part of the burst land, then kill -9 while uploads are in flight.
    while acked.lock().unwrap().len() < 12 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    server.kill9();
    for w in workers {
        let _ = w.join();
    }
    let acked = acked.lock().unwrap().clone();
    println!("acknowledged before the kill: {}", acked.len());
    assert!(
        acked.len() < 48,
        "the kill came after the burst; the test proved nothing"
    );

    server.restart();
    let list = server.get("/repos/crashy/packages/").json();
    let listed: Vec<serde_json::Value> = list["packages"].as_array().unwrap().clone();
    // Every listed package has its blob, byte for byte.
    for p in &listed {
        let name = p["filename"].as_str().unwrap();
        let r = server.get(&format!("/repos/crashy/packages/{name}"));
        assert_eq!(r.status, 200, "{name} listed but its blob is gone");
        assert_eq!(sha256_hex(&r.body), p["sha256"].as_str().unwrap());
    }
    // Every index file matches its Release hash.
    check_release(&server, "crashy", "stable");
    // Every acknowledged upload is published (the Packages file served now lists it).
    let packages = server
        .get("/repos/crashy/dist/dists/stable/main/binary-amd64/Packages")
        .text();
    for name in &acked {
        assert!(
            listed.iter().any(|p| p["filename"] == name.as_str()),
            "{name} got 201 but is not listed after the crash"
        );
        assert!(
            packages.contains(&format!("/{name}\n")),
            "{name} got 201 but is not published"
        );
    }
    // The repo keeps working: the rest uploads fine after the restart.
    for deb in debs.iter() {
        let r = server.upload("crashy", deb);
        assert!(r.status == 201 || r.status == 200, "{}", r.text());
    }
    assert_eq!(server.package_count("crashy"), 48);
    check_release(&server, "crashy", "stable");
}
