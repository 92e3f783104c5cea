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
            hooks: Default::default(),
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
            }),
        ));
    }
    let apps = Arc::new(apps);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("spin-host listening on http://{}", listener.local_addr()?);
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
