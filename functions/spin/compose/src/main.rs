//! spin-compose: the Spin build's test host and build helper (no `spin` CLI can be installed
//! here). It does what Spin does at app load, with the same crates:
//!
//!   spin-compose wrap --services S.wasm --adapter A.wasm GENERATOR.wasm OUT.wasm
//!       an unchanged generator component made into a `reposmith:spin/slot` (wit/spin)
//!   spin-compose compose --manifest spin.toml [--component ID] OUT.wasm
//!       the component with its `[component.ID.dependencies]` plugged in (wac-graph)
//!   spin-compose serve --manifest spin.toml [--listen 127.0.0.1:0]
//!       composes every routed component and serves it under wasmtime-wasi-http, with the
//!       manifest's variables (`SPIN_VARIABLE_NAME` from the environment, as Spin reads them)
//!       behind `fermyon:spin/variables`.
mod compose;
mod manifest;
mod serve;

use anyhow::{bail, Context, Result};
use std::path::PathBuf;

fn flag(args: &mut Vec<String>, name: &str) -> Option<String> {
    let i = args.iter().position(|a| a == name)?;
    if i + 1 >= args.len() {
        return None;
    }
    let v = args.remove(i + 1);
    args.remove(i);
    Some(v)
}

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        bail!("usage: spin-compose wrap|compose|serve ...");
    }
    let cmd = args.remove(0);
    match cmd.as_str() {
        "wrap" => {
            let services = flag(&mut args, "--services").context("--services S.wasm")?;
            let adapter = flag(&mut args, "--adapter").context("--adapter A.wasm")?;
            let [generator, out] = <[String; 2]>::try_from(args)
                .map_err(|_| anyhow::anyhow!("wrap: GENERATOR.wasm OUT.wasm"))?;
            let read = |p: &str| std::fs::read(p).with_context(|| p.to_string());
            let bytes = compose::wrap(&read(&services)?, &read(&generator)?, &read(&adapter)?)
                .with_context(|| format!("wrapping {generator}"))?;
            std::fs::write(&out, bytes).with_context(|| out.clone())?;
            Ok(())
        }
        "compose" => {
            let manifest = flag(&mut args, "--manifest").unwrap_or_else(|| "spin.toml".into());
            let id = flag(&mut args, "--component");
            let [out] =
                <[String; 1]>::try_from(args).map_err(|_| anyhow::anyhow!("compose: OUT.wasm"))?;
            let m = manifest::Manifest::load(&PathBuf::from(manifest))?;
            let id = match id {
                Some(id) => id,
                None => m.routes()?.first().context("no trigger")?.1.clone(),
            };
            let c = m.component(&id)?;
            std::fs::write(&out, serve::composed(&c)?)?;
            Ok(())
        }
        "serve" => {
            let manifest = flag(&mut args, "--manifest").unwrap_or_else(|| "spin.toml".into());
            let listen = flag(&mut args, "--listen").unwrap_or_else(|| "127.0.0.1:3000".into());
            let m = manifest::Manifest::load(&PathBuf::from(manifest))?;
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(serve::run(m, listen.parse()?))
        }
        other => bail!("unknown command {other}"),
    }
}
