//! template.yaml (AWS SAM): `cfn-lint` passes, and every API route the core dispatches is an
//! HttpApi event of the right function. The route table is read from the code itself:
//! the URL shapes from `route()` in functions/lib/core/src/routes.rs, the methods from `dispatch`
//! in functions/lib/core/src/handlers/mod.rs; so a route added there and not here fails.
mod common;
use common::workspace;
use std::collections::BTreeSet;
use std::process::Command;

/// A path with its parameter names dropped: `/repos/{}/packages/{}`; a greedy parameter
/// (`{path+}`, `rest @ ..`) is `{+}`.
fn shape(path: &str) -> String {
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.starts_with('{') && s.ends_with("+}") {
                "{+}".to_string()
            } else if s.starts_with('{') {
                "{}".to_string()
            } else {
                s.to_string()
            }
        })
        .collect();
    format!("/{}", segs.join("/"))
}

/// Route variant → URL shape, from the slice patterns of `route()`.
fn route_shapes() -> Vec<(String, String)> {
    let src =
        std::fs::read_to_string(workspace().join("functions/lib/core/src/routes.rs")).unwrap();
    let body = &src[src.find("pub fn route(").expect("route() in routes.rs")..];
    let lines: Vec<&str> = body.lines().map(str::trim).collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let Some(open) = l.strip_prefix('[') else {
            continue;
        };
        let Some((pattern, rest)) = open.split_once(']') else {
            continue;
        };
        // The arm's value: on this line, or the first `Route::` of its block that is not an
        // early `return`.
        let value = std::iter::once(rest)
            .chain(lines[i + 1..].iter().copied())
            .find(|t| t.contains("Route::") && !t.contains("return"))
            .unwrap_or("");
        let Some(variant) = value.split("Route::").nth(1) else {
            continue;
        };
        let variant: String = variant
            .chars()
            .take_while(|c| c.is_alphanumeric())
            .collect();
        let segs: Vec<String> = pattern
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                if let Some(lit) = s.strip_prefix('"') {
                    lit.trim_end_matches('"').to_string()
                } else if s.ends_with("..") {
                    "{+}".to_string()
                } else {
                    "{}".to_string()
                }
            })
            .collect();
        out.push((variant, format!("/{}", segs.join("/"))));
        if l.starts_with("_ =>") {
            break;
        }
    }
    out
}

/// (variant, method) pairs `dispatch` handles.
fn dispatched() -> Vec<(String, String)> {
    let src = std::fs::read_to_string(workspace().join("functions/lib/core/src/handlers/mod.rs"))
        .unwrap();
    let mut out = Vec::new();
    for line in src.lines() {
        let l = line.trim();
        let Some(rest) = l.strip_prefix("(Route::") else {
            continue;
        };
        let variant: String = rest.chars().take_while(|c| c.is_alphanumeric()).collect();
        let head = l.split("=>").next().unwrap();
        let methods: Vec<String> = head
            .split("Method::")
            .skip(1)
            .map(|m| m.chars().take_while(|c| c.is_ascii_uppercase()).collect())
            .collect();
        if methods.is_empty() && head.contains("trace") {
            out.push((variant.clone(), "TRACE".into()));
        }
        for m in methods {
            out.push((variant.clone(), m));
        }
    }
    out
}

/// (function, METHOD, path) of every HttpApi event in template.yaml.
fn template_events() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(workspace().join("template.yaml")).unwrap();
    let mut out = Vec::new();
    let mut function = String::new();
    let mut method: Option<String> = None;
    for line in text.lines() {
        // Resources are indented two spaces.
        if line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':') {
            function = line.trim().trim_end_matches(':').to_string();
        }
        let l = line.trim();
        if let Some(m) = l.strip_prefix("Method: ") {
            method = Some(m.trim().to_uppercase());
        } else if let Some(p) = l.strip_prefix("Path: ") {
            let m = method.take().expect("Method before Path in every event");
            out.push((function.clone(), m, p.trim().to_string()));
        }
    }
    out
}

#[test]
fn cfn_lint_passes() {
    let out = Command::new("cfn-lint")
        .arg("template.yaml")
        .current_dir(workspace())
        .output()
        .expect("cfn-lint (pip install cfn-lint) must be installed");
    assert!(
        out.status.success(),
        "cfn-lint template.yaml:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_route_is_in_the_template_on_the_right_function() {
    let shapes = route_shapes();
    assert!(
        shapes.len() >= 15,
        "parsed too few routes from routes.rs: {shapes:?}"
    );
    let dispatch = dispatched();
    assert!(
        dispatch.len() >= 25,
        "parsed too few dispatch arms from handlers/mod.rs: {dispatch:?}"
    );
    let events = template_events();
    let have: BTreeSet<(String, String, String)> = events
        .iter()
        .map(|(f, m, p)| (f.clone(), m.clone(), shape(p)))
        .collect();
    let mut missing = Vec::new();
    for (variant, method) in &dispatch {
        if variant == "NotFound" {
            continue;
        }
        let path = &shapes
            .iter()
            .find(|(v, _)| v == variant)
            .unwrap_or_else(|| panic!("no URL pattern for Route::{variant} in routes.rs"))
            .1;
        if method == "TRACE" {
            // HTTP APIs do not route TRACE: the same rebuild is `POST /repos/{repo}/rebuild`.
            assert!(
                have.contains(&(
                    "WriteFunction".into(),
                    "POST".into(),
                    "/repos/{}/rebuild".into()
                )),
                "TRACE rebuild needs its POST twin in the template"
            );
            continue;
        }
        // Reads go to the read function (no wasmtime); everything else to the write one, and
        // the package query too (it asks the generators for version orders and details), and
        // the client configuration files (generators render them), and the web interface's
        // pages that show either (docs/ui.md).
        let by_generators = [
            "Packages",
            "Configs",
            "Config",
            "UiRepo",
            "UiPackage",
            "UiSetup",
        ]
        .contains(&variant.as_str());
        let function = if (method == "GET" || method == "HEAD") && !by_generators {
            "ReadFunction"
        } else {
            "WriteFunction"
        };
        let key = (function.to_string(), method.clone(), path.clone());
        if !have.contains(&key) {
            missing.push(format!("{method} {path} ({function}, Route::{variant})"));
        }
    }
    assert!(
        missing.is_empty(),
        "routes missing from template.yaml:\n{}",
        missing.join("\n")
    );
    // Nothing else: every event is a dispatched route, or the write function's catch-all
    // (trailing-slash spellings and anything unrouted reach the full handler set there).
    for (f, m, p) in &events {
        if p == "$default" {
            assert_eq!((f.as_str(), m.as_str()), ("WriteFunction", "ANY"));
            continue;
        }
        let s = shape(p);
        let known = dispatch
            .iter()
            .any(|(v, dm)| dm == m && shapes.iter().any(|(sv, sp)| sv == v && *sp == s));
        assert!(
            known,
            "template route {m} {p} ({f}) is no route of the core"
        );
    }
}
