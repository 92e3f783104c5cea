//! Composition with wac-graph: wrapping a generator into a slot, and plugging a component's
//! `spin.toml` dependencies into it the way Spin's composer (spin-compose) does.
use anyhow::{anyhow, Context, Result};
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions, NodeId};

const TYPES: &str = "reposmith:generator/types@0.2.0";
const SIGNER: &str = "reposmith:generator/signer@0.2.0";
const GENERATOR: &str = "reposmith:generator/generator@0.2.0";
const INSPECT: &str = "reposmith:generator/inspect@0.2.0";
const CLIENT: &str = "reposmith:generator/client@0.2.0";
const SERVICES: &str = "reposmith:spin/services@0.1.0";
pub const SLOT: &str = "reposmith:spin/slot@0.1.0";

fn instance(graph: &mut CompositionGraph, name: &str, bytes: &[u8]) -> Result<NodeId> {
    Ok(instance_imports(graph, name, bytes)?.0)
}

/// An instance of a component, and the names of what it imports.
fn instance_imports(
    graph: &mut CompositionGraph,
    name: &str,
    bytes: &[u8],
) -> Result<(NodeId, Vec<String>)> {
    let pkg = Package::from_bytes(name, None, bytes.to_vec(), graph.types_mut())
        .with_context(|| format!("reading component {name}"))?;
    let imports = graph.types()[pkg.ty()].imports.keys().cloned().collect();
    let id = graph.register_package(pkg)?;
    Ok((graph.instantiate(id), imports))
}

fn connect(graph: &mut CompositionGraph, from: NodeId, to: NodeId, name: &str) -> Result<()> {
    let export = graph
        .alias_instance_export(from, name)
        .with_context(|| format!("no export {name}"))?;
    graph
        .set_instantiation_argument(to, name, export)
        .with_context(|| format!("plugging {name}"))?;
    Ok(())
}

/// An unchanged generator component made into a self-contained `reposmith:spin/slot`:
/// services → generator (`types`, `signer`, those it imports), services + generator → adapter (`inspect` and
/// `client` from the generator when it exports them, else the services' stand-ins), export the
/// adapter's slot. What remains imported is WASI, which Spin's host provides.
pub fn wrap(services: &[u8], generator: &[u8], adapter: &[u8]) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let s = instance(&mut graph, "reposmith:services", services)?;
    let (g, imports) = instance_imports(&mut graph, "reposmith:generator", generator)?;
    let a = instance(&mut graph, "reposmith:adapter", adapter)?;
    // A generator that signs nothing (or uses no shared type) does not import them.
    for name in [TYPES, SIGNER] {
        if imports.iter().any(|i| i == name) {
            connect(&mut graph, s, g, name)?;
        }
    }
    connect(&mut graph, s, a, TYPES)?;
    connect(&mut graph, s, a, SERVICES)?;
    connect(&mut graph, g, a, GENERATOR)?;
    // `inspect` and `client` are optional: a generator without one gets the services'
    // stand-in.
    for name in [INSPECT, CLIENT] {
        let export = match graph.alias_instance_export(g, name) {
            Ok(export) => export,
            Err(_) => graph.alias_instance_export(s, name)?,
        };
        graph
            .set_instantiation_argument(a, name, export)
            .with_context(|| format!("plugging {name}"))?;
    }
    let slot = graph.alias_instance_export(a, SLOT)?;
    graph.export(slot, SLOT)?;
    graph
        .encode(EncodeOptions::default())
        .map_err(|e| anyhow!("encoding the wrapped generator: {e:#}"))
}

/// One `[component.X.dependencies]` entry: the import it satisfies (a plain name or a fully
/// qualified interface name), the component, and which of its exports to plug in.
pub struct Dependency {
    pub import: String,
    pub bytes: Vec<u8>,
    pub export: Option<String>,
}

/// What Spin does at app load: instantiate each dependency with no arguments, plug its export
/// (`export = ...`, else the export named like the import) into the matching import of the
/// component, export everything the component exports. Dependencies' own imports stay imports
/// of the result (the host provides them). Spin also plugs its deny-all adapter into
/// dependencies that do not inherit configuration; the slots use no capability, so that is
/// left out here.
pub fn compose(main: &[u8], deps: &[Dependency]) -> Result<Vec<u8>> {
    if deps.is_empty() {
        return Ok(main.to_vec());
    }
    let mut graph = CompositionGraph::new();
    let pkg = Package::from_bytes("root:component", None, main.to_vec(), graph.types_mut())?;
    let world = pkg.ty();
    let root_pkg = graph.register_package(pkg)?;
    let root = graph.instantiate(root_pkg);
    let imports = graph.types()[world].imports.clone();
    for (i, d) in deps.iter().enumerate() {
        if !imports.contains_key(&d.import) {
            anyhow::bail!("dependency '{}' doesn't match any imports", d.import);
        }
        // Spin names a dependency's package after the dependency (plain name or package).
        let name = format!("dep{i}:{}", d.import.replace([':', '/', '@', '.'], "-"));
        let inst = instance(&mut graph, &name, &d.bytes)?;
        let export = d.export.clone().unwrap_or_else(|| d.import.clone());
        let node = graph
            .alias_instance_export(inst, &export)
            .with_context(|| format!("dependency '{}' doesn't export '{export}'", d.import))?;
        graph
            .set_instantiation_argument(root, &d.import, node)
            .with_context(|| {
                format!(
                    "dependency '{}' exports '{export}', not compatible with the import",
                    d.import
                )
            })?;
    }
    let exports: Vec<String> = graph.types()[world].exports.keys().cloned().collect();
    for name in exports {
        let node = graph.alias_instance_export(root, &name)?;
        graph.export(node, &name)?;
    }
    graph
        .encode(EncodeOptions::default())
        .map_err(|e| anyhow!("encoding the composition: {e:#}"))
}
