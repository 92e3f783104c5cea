//! The REST API described: `openapi.json` (OpenAPI 3), served at `GET /openapi.json`. It is
//! written by hand and held to the code by the tests below: every path in it routes to the
//! route it names (`x-route`), every [`Route`] is documented (an exhaustive `match` and the
//! enum's own source), and the methods documented for a path are exactly those the
//! dispatcher takes (any other is a 405).
#[cfg(test)]
use crate::routes::Route;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// The name of `r`'s variant. Exhaustive on purpose: a new route does not compile until it
/// is named here, and the tests then want it documented.
#[cfg(test)]
fn variant(r: &Route) -> &'static str {
    match r {
        Route::Root => "Root",
        Route::Repos => "Repos",
        Route::Repo(_) => "Repo",
        Route::Rebuild(_) => "Rebuild",
        Route::Packages(_) => "Packages",
        Route::Package(_, _) => "Package",
        Route::Key(_) => "Key",
        Route::Keys(_) => "Keys",
        Route::RepoKey(_, _) => "RepoKey",
        Route::RepoEnable(_) => "RepoEnable",
        Route::RepoDisable(_) => "RepoDisable",
        Route::Configs(_) => "Configs",
        Route::Config(_, _) => "Config",
        Route::History(_) => "History",
        Route::Rollback(_) => "Rollback",
        Route::Transactions(_) => "Transactions",
        Route::Snapshots(_) => "Snapshots",
        Route::Snapshot(_, _) => "Snapshot",
        Route::Uploads(_) => "Uploads",
        Route::Upload(_, _) => "Upload",
        Route::Tree(_, _) => "Tree",
        Route::Generators => "Generators",
        Route::Generator(_) => "Generator",
        Route::GeneratorEnable(_) => "GeneratorEnable",
        Route::Metrics => "Metrics",
        Route::OpenApi => "OpenApi",
        Route::Tokens => "Tokens",
        Route::Token(_) => "Token",
        Route::VieterRepo(_) => "VieterRepo",
        Route::VieterPublish(_) => "VieterPublish",
        Route::VieterArch(_, _) => "VieterArch",
        Route::VieterFile(_, _, _) => "VieterFile",
        Route::UiRepos => "UiRepos",
        Route::UiAsset(_) => "UiAsset",
        Route::UiRepo(_) => "UiRepo",
        Route::UiPackage(_, _) => "UiPackage",
        Route::UiSetup(_) => "UiSetup",
        Route::UiHistory(_) => "UiHistory",
        Route::NotFound => "NotFound",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{need, Need};
    use crate::routes::route;
    use crate::testkit::{answer, app, req, FakeGen};
    use serde_json::Value;
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;

    /// Every HTTP method a client could send (OpenAPI's operations, CONNECT aside).
    const METHODS: &[&str] = &[
        "get", "head", "post", "put", "delete", "patch", "trace", "options",
    ];

    fn doc() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
    }

    fn paths(doc: &Value) -> &serde_json::Map<String, Value> {
        doc["paths"].as_object().expect("paths")
    }

    /// The path parameters of a path item (its own and its operations'), by name.
    fn path_params(item: &Value) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        let mut add = |list: &Value| {
            for p in list.as_array().into_iter().flatten() {
                if p["in"] == "path" {
                    out.insert(p["name"].as_str().unwrap().to_string(), p.clone());
                }
            }
        };
        add(&item["parameters"]);
        for m in METHODS {
            add(&item[*m]["parameters"]);
        }
        out
    }

    /// The path with each `{placeholder}` replaced by its parameter's `example`.
    fn filled(template: &str, item: &Value) -> String {
        let params = path_params(item);
        let mut out = template.to_string();
        while let Some(open) = out.find('{') {
            let close = open + out[open..].find('}').expect("closed placeholder");
            let name = &out[open + 1..close];
            let example = params
                .get(name)
                .unwrap_or_else(|| panic!("{template}: no path parameter {name}"))["example"]
                .as_str()
                .unwrap_or_else(|| panic!("{template}: parameter {name} has no example"))
                .to_string();
            out.replace_range(open..=close, &example);
        }
        out
    }

    fn methods_of(item: &Value) -> BTreeSet<&'static str> {
        METHODS
            .iter()
            .copied()
            .filter(|m| item.get(*m).is_some())
            .collect()
    }

    #[test]
    fn document_is_openapi_3_of_this_version() {
        let d = doc();
        assert!(d["openapi"].as_str().unwrap().starts_with("3."));
        assert_eq!(d["info"]["version"], env!("CARGO_PKG_VERSION"));
        let mut ids = BTreeSet::new();
        for (p, item) in paths(&d) {
            for m in methods_of(item) {
                let id = item[m]["operationId"].as_str().unwrap_or_default();
                assert!(
                    ids.insert(id.to_string()),
                    "{m} {p}: operationId {id:?} twice"
                );
            }
        }
    }

    /// (a) Every path routes, its placeholders filled, to the route it names.
    #[test]
    fn every_documented_path_routes_to_its_route() {
        let d = doc();
        for (template, item) in paths(&d) {
            let want = item["x-route"]
                .as_str()
                .unwrap_or_else(|| panic!("{template}: no x-route"));
            let path = filled(template, item);
            let got = route(&path);
            assert_ne!(got, Route::NotFound, "{template} ({path}) routes nowhere");
            assert_eq!(variant(&got), want, "{template} ({path}) routes to {got:?}");
        }
    }

    /// (b) Every route is documented: each variant of the enum (as `routes.rs` declares
    /// them, so a variant `variant` forgot would not compile) is some path's `x-route`.
    #[test]
    fn every_route_is_documented() {
        let d = doc();
        let documented: BTreeSet<&str> = paths(&d)
            .values()
            .map(|item| item["x-route"].as_str().unwrap())
            .collect();
        let src = include_str!("routes.rs");
        let body = src
            .split("pub enum Route {")
            .nth(1)
            .unwrap()
            .split("\n}")
            .next()
            .unwrap();
        let declared: Vec<&str> = body
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("//"))
            .map(|l| l.split(['(', ',']).next().unwrap())
            .filter(|v| !v.is_empty())
            .collect();
        assert!(declared.len() > 20, "parsed {declared:?}");
        for v in declared {
            if v == "NotFound" {
                continue;
            }
            assert!(
                documented.contains(v),
                "Route::{v} is not documented in openapi.json (no path with x-route {v:?})"
            );
        }
    }

    /// (c) The methods documented for each path are exactly the ones the dispatcher takes:
    /// every other one is a 405 (asked with the admin token, so that no 401 comes first).
    #[test]
    fn documented_methods_are_the_dispatched_ones() {
        let (app, _, _) = app(Arc::new(FakeGen::new()));
        let d = doc();
        let mut wrong = Vec::new();
        for (template, item) in paths(&d) {
            let path = filled(template, item);
            let documented = methods_of(item);
            for m in METHODS {
                let (status, body) = answer(&app, req(&m.to_uppercase(), &path, b""));
                let allowed = status != 405;
                if allowed != documented.contains(m) {
                    wrong.push(format!(
                        "{} {path} ({template}): {status} {}, documented: {}",
                        m.to_uppercase(),
                        body.trim(),
                        documented.contains(m)
                    ));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// Who may call each operation, as documented, is what `auth::need` asks: public
    /// operations (`security: [{}]`) need nothing, optional ones (`{}` among others) at
    /// most a repo's read scope, the rest a token; those answer 401 and 403.
    #[test]
    fn documented_security_is_what_auth_needs() {
        let d = doc();
        for (template, item) in paths(&d) {
            let r = route(&filled(template, item));
            for m in methods_of(item) {
                let op = &item[m];
                let sec = op.get("security").unwrap_or(&d["security"]);
                let sec = sec.as_array().unwrap();
                let anonymous = sec.iter().any(|s| s.as_object().unwrap().is_empty());
                let method = http::Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
                let need = need(&r, &method);
                let ok = match need {
                    Need::Nothing => anonymous && sec.len() == 1,
                    Need::Optional | Need::Read(_) => anonymous && sec.len() > 1,
                    Need::Scope(..) | Need::Known => !anonymous,
                };
                assert!(ok, "{m} {template}: documented {sec:?}, needs {need:?}");
                let codes = op["responses"].as_object().unwrap();
                if !matches!(need, Need::Nothing) {
                    assert!(
                        codes.contains_key("401"),
                        "{m} {template} needs {need:?}: document 401"
                    );
                }
                if matches!(need, Need::Read(_) | Need::Scope(..)) {
                    assert!(
                        codes.contains_key("403"),
                        "{m} {template} needs {need:?}: document 403"
                    );
                }
            }
        }
    }

    /// Every error a path documents is the one JSON error shape (`error::ApiError`).
    #[test]
    fn errors_are_the_error_shape() {
        let d = doc();
        let responses = &d["components"]["responses"];
        for (template, item) in paths(&d) {
            for m in methods_of(item) {
                for (code, r) in item[m]["responses"].as_object().unwrap() {
                    if code.as_str() < "400" {
                        continue;
                    }
                    let name = r["$ref"]
                        .as_str()
                        .and_then(|s| s.strip_prefix("#/components/responses/"))
                        .unwrap_or_else(|| panic!("{m} {template} {code}: not a shared error"));
                    let schema = &responses[name]["content"]["application/json"]["schema"];
                    assert_eq!(schema["$ref"], "#/components/schemas/Error", "{name}");
                }
            }
        }
    }

    /// The handler serves the document.
    #[test]
    fn served() {
        let (app, _, _) = app(Arc::new(FakeGen::new()));
        let (status, body) = answer(&app, req("GET", "/openapi.json", b""));
        assert_eq!(status, 200);
        assert_eq!(body, DOCUMENT);
    }
}
