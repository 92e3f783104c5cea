//! `GET /metrics`: the store calls counted by kind, in Prometheus' text format, and moving by
//! what an upload does (the scale benchmark reads them as store requests per upload).
mod common;
use common::*;

#[test]
fn metrics_count_store_calls_by_kind() {
    let server = Server::start(&tmp().join("data"));
    let m = server.get("/metrics");
    assert_eq!(m.status, 200, "{}", m.text());
    assert!(m
        .text()
        .contains("# TYPE reposmith_store_calls_total counter"));
    let before = metrics(&m.text());
    assert!(before.contains_key("meta.put_if") && before.contains_key("packages.put"));

    server.create_repo("m");
    let r = server.upload("m", &fixture_debs().join(FIXTURE_DEBS[0]));
    assert_eq!(r.status, 201, "{}", r.text());
    let after = metrics(&server.get("/metrics/").text());
    let moved = |k: &str| after[k] - before[k];
    // The upload stored the package and committed metadata by compare-and-set.
    assert!(
        moved("packages.put") + moved("packages.put_bytes") >= 1,
        "{after:?}"
    );
    assert!(
        moved("meta.put_if") + moved("meta.transact") >= 1,
        "{after:?}"
    );
    assert!(after.values().sum::<u64>() > before.values().sum::<u64>());

    // "metrics" is a route, so it is not a repo name.
    assert_eq!(server.send("POST", "/repos/metrics/", None).status, 400);
}
