//! Serving composed components under wasmtime-wasi-http (WASI 0.2 `incoming-handler`), one
//! fresh instance per request as Spin does, with `fermyon:spin/variables@2.0.0` from the
//! manifest.
use crate::compose::{compose, Dependency};
use crate::manifest::{route_matches, Component, Manifest};
use anyhow::{Context, Result};
use hyper::server::conn::http1;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

mod variables {
    wasmtime::component::bindgen!({
        inline: "
            package fermyon:spin@2.0.0;
            interface variables {
                get: func(name: string) -> result<string, error>;
                variant error { invalid-name(string), undefined(string), provider(string), other(string) }
            }
            world vars { import variables; }
        ",
        world: "vars",
    });
}
use variables::fermyon::spin::variables as vars;

pub struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    variables: Arc<BTreeMap<String, String>>,
    outbound: Outbound,
}

/// Spin's `allowed_outbound_hosts`: `scheme://host[:port]` with `*` for a host's first
/// labels (`*.amazonaws.com`) or for the port. Anything else is denied.
#[derive(Clone)]
struct Outbound(Arc<Vec<String>>);

impl Outbound {
    fn allows(&self, uri: &http::Uri) -> bool {
        let scheme = uri.scheme_str().unwrap_or("http");
        let host = uri.host().unwrap_or("");
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        self.0.iter().any(|pattern| {
            let Some((s, rest)) = pattern.split_once("://") else {
                return false;
            };
            let (h, p) = match rest.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            };
            let default = if s == "https" { 443 } else { 80 };
            let port_ok = match p {
                Some("*") => true,
                Some(p) => p.parse::<u16>().ok() == Some(port),
                None => port == default,
            };
            let host_ok = match h.strip_prefix("*.") {
                Some(suffix) => host.ends_with(&format!(".{suffix}")),
                None => h == "*" || h == host,
            };
            (s == "*" || s == scheme) && host_ok && port_ok
        })
    }
}

impl wasmtime_wasi_http::WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn std::future::Future<
                Output = Result<
                    (
                        http::Response<wasmtime_wasi_http::WasiBody>,
                        Box<
                            dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>>
                                + Send,
                        >,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        if !self.allows(request.uri()) {
            eprintln!(
                "outbound request denied (allowed_outbound_hosts): {}",
                request.uri()
            );
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        wasmtime_wasi_http::default_hooks().send_request(request, options, fut)
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

impl vars::Host for State {
    fn get(&mut self, name: String) -> Result<String, vars::Error> {
        self.variables
            .get(&name)
            .cloned()
            .ok_or(vars::Error::Undefined(name))
    }
}

/// The component's bytes with its dependencies plugged in, as Spin composes them.
pub fn composed(c: &Component) -> Result<Vec<u8>> {
    let main =
        std::fs::read(&c.source).with_context(|| format!("source {}", c.source.display()))?;
    let deps = c
        .dependencies
        .iter()
        .map(|(import, path, export)| {
            Ok(Dependency {
                import: import.clone(),
                bytes: std::fs::read(path)
                    .with_context(|| format!("dependency {import}: {}", path.display()))?,
                export: export.clone(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    compose(&main, &deps).with_context(|| format!("composing component {}", c.id))
}

struct App {
    pre: ProxyPre<State>,
    variables: Arc<BTreeMap<String, String>>,
    outbound: Outbound,
}

pub async fn run(m: Manifest, listen: SocketAddr) -> Result<()> {
    let engine = Engine::new(&Config::new())?;
    let mut linker: Linker<State> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    vars::add_to_linker::<State, wasmtime::component::HasSelf<State>>(&mut linker, |s| s)?;

    let mut apps: Vec<(String, Arc<App>)> = Vec::new();
    for (route, id) in m.routes()? {
        let c = m.component(&id)?;
        let started = Instant::now();
        let bytes = composed(&c)?;
        let component = wasmtime::component::Component::from_binary(&engine, &bytes)
            .map_err(|e| anyhow::anyhow!("compiling component {id}: {e:?}"))?;
        let pre = ProxyPre::new(linker.instantiate_pre(&component)?)?;
        eprintln!(
            "component {id}: {} bytes composed, ready in {} ms",
            bytes.len(),
            started.elapsed().as_millis()
        );
        apps.push((
            route,
            Arc::new(App {
                pre,
                variables: Arc::new(c.variables),
                outbound: Outbound(Arc::new(c.allowed_outbound_hosts)),
            }),
        ));
    }
    let apps = Arc::new(apps);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("spin-compose listening on http://{}", listener.local_addr()?);
    loop {
        let (client, _) = listener.accept().await?;
        let apps = apps.clone();
        tokio::task::spawn(async move {
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(
                    TokioIo::new(client),
                    hyper::service::service_fn(move |req| {
                        let apps = apps.clone();
                        async move { handle(apps, req).await }
                    }),
                )
                .await;
        });
    }
}

async fn handle(
    apps: Arc<Vec<(String, Arc<App>)>>,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<HyperOutgoingBody>> {
    let started = Instant::now();
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    // The most specific route wins, as in Spin.
    let app = apps
        .iter()
        .filter(|(r, _)| route_matches(r, &path))
        .max_by_key(|(r, _)| r.len())
        .map(|(_, a)| a.clone())
        .context("no route")?;
    let mut store = Store::new(
        app.pre.engine(),
        State {
            wasi: WasiCtx::builder().inherit_stderr().build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            variables: app.variables.clone(),
            outbound: app.outbound.clone(),
        },
    );
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let req = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, req)?;
    let out = store.data_mut().http().new_response_outparam(sender)?;
    let pre = app.pre.clone();
    let task = tokio::task::spawn(async move {
        let proxy = pre.instantiate_async(&mut store).await?;
        proxy
            .wasi_http_incoming_handler()
            .call_handle(store, req, out)
            .await
    });
    let resp = match receiver.await {
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => {
            let e = match task.await {
                Ok(Ok(())) => anyhow::anyhow!("guest never set a response"),
                Ok(Err(e)) => anyhow::anyhow!("{e:?}"),
                Err(e) => e.into(),
            };
            Err(e.context("guest never set a response"))
        }
    };
    match &resp {
        Ok(r) => eprintln!(
            "{method} {path} {} {}ms",
            r.status().as_u16(),
            started.elapsed().as_millis()
        ),
        Err(e) => eprintln!("{method} {path} failed: {e:#}"),
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::Outbound;
    use std::sync::Arc;

    #[test]
    fn outbound_hosts_follow_spin_patterns() {
        let o = Outbound(Arc::new(vec![
            "https://*.amazonaws.com".into(),
            "http://127.0.0.1:*".into(),
        ]));
        let ok = |u: &str| o.allows(&u.parse().unwrap());
        assert!(ok("https://s3.eu-west-1.amazonaws.com/b/k"));
        assert!(ok("https://dynamodb.us-east-1.amazonaws.com:443/"));
        assert!(!ok("http://s3.eu-west-1.amazonaws.com/b/k"));
        assert!(!ok("https://amazonaws.com.evil.example/"));
        assert!(!ok("https://s3.amazonaws.com:8443/"));
        assert!(ok("http://127.0.0.1:5000/"));
        assert!(!ok("http://10.0.0.1:5000/"));
    }
}
