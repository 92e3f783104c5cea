//! Host bindings of `wit/generator.wit`; the conversions to the contract types are
//! `reposmith_contract::wit_conversions!` (the same ones the Spin slot adapter uses).

wasmtime::component::bindgen!({
    path: "../../../wit",
    world: "generator-world",
    // The `package` resource is a host object in the store's ResourceTable.
    with: {
        "reposmith:generator/types.package": crate::state::PackageHandle,
    },
});

pub use self::reposmith::generator::types as wit;

reposmith_contract::wit_conversions!(reposmith::generator::types);

/// The interface name a generator must export (checked at load for a clear error).
pub const EXPORT_NAME: &str = "reposmith:generator/generator@0.1.0";

/// Contract values as the bindgen's, for a call's arguments.
pub fn to_wit<C: Clone + Into<W>, W>(values: &[C]) -> Vec<W> {
    values.iter().cloned().map(Into::into).collect()
}
