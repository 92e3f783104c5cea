//! Host bindings of `wit/generator.wit`; the conversions to the contract types are
//! `reposmith_contract::wit_conversions!` (the same ones the Spin slot adapter uses).

wasmtime::component::bindgen!({
    path: "../../../wit",
    // The richest world only for its types: a generator's `inspect`, `client`, `digests` and
    // `sniff` exports are optional, so instances are made with [`Pre`] (the interfaces' own
    // indices), never this world's Pre.
    world: "generator-full-world",
    // The `package` resource is a host object in the store's ResourceTable.
    with: {
        "reposmith:generator/types.package": crate::state::PackageHandle,
    },
});

pub use self::reposmith::generator::types as wit;

reposmith_contract::wit_conversions!(reposmith::generator::types);
reposmith_contract::inspect_conversions!(exports::reposmith::generator::inspect);
reposmith_contract::client_conversions!(exports::reposmith::generator::client);

use exports::reposmith::generator::{
    client as client_iface, digests as digests_iface, generator as gen_iface,
    inspect as inspect_iface, sniff as sniff_iface,
};
use wasmtime::component::InstancePre;

/// A component ready to instantiate: `generator` is required; `inspect`, `client`, `digests`
/// and `sniff` optional.
pub struct Pre<T: 'static> {
    pre: InstancePre<T>,
    generator: gen_iface::GuestIndices,
    inspect: Option<inspect_iface::GuestIndices>,
    client: Option<client_iface::GuestIndices>,
    digests: Option<digests_iface::GuestIndices>,
    sniff: Option<sniff_iface::GuestIndices>,
}

impl<T: 'static> Pre<T> {
    pub fn new(pre: InstancePre<T>) -> wasmtime::Result<Self> {
        let generator = gen_iface::GuestIndices::new(&pre)?;
        // Absent, or not of this contract's shape: the host's defaults answer instead.
        let inspect = inspect_iface::GuestIndices::new(&pre).ok();
        let client = client_iface::GuestIndices::new(&pre).ok();
        let digests = digests_iface::GuestIndices::new(&pre).ok();
        let sniff = sniff_iface::GuestIndices::new(&pre).ok();
        Ok(Pre {
            pre,
            generator,
            inspect,
            client,
            digests,
            sniff,
        })
    }

    /// Whether the component exports `inspect`.
    pub fn has_inspect(&self) -> bool {
        self.inspect.is_some()
    }

    /// Whether the component exports `client`.
    pub fn has_client(&self) -> bool {
        self.client.is_some()
    }

    /// Whether the component exports `digests`.
    pub fn has_digests(&self) -> bool {
        self.digests.is_some()
    }

    pub fn engine(&self) -> &wasmtime::Engine {
        self.pre.engine()
    }

    pub fn instantiate(
        &self,
        mut store: impl wasmtime::AsContextMut<Data = T>,
    ) -> wasmtime::Result<Exports> {
        let instance = self.pre.instantiate(&mut store)?;
        let generator = self.generator.load(&mut store, &instance)?;
        let inspect = match &self.inspect {
            Some(i) => i.load(&mut store, &instance).ok(),
            None => None,
        };
        let client = match &self.client {
            Some(c) => c.load(&mut store, &instance).ok(),
            None => None,
        };
        let digests = match &self.digests {
            Some(d) => d.load(&mut store, &instance).ok(),
            None => None,
        };
        let sniff = match &self.sniff {
            Some(s) => s.load(&mut store, &instance).ok(),
            None => None,
        };
        Ok(Exports {
            generator,
            inspect,
            client,
            digests,
            sniff,
        })
    }
}

/// An instance's exports.
pub struct Exports {
    generator: gen_iface::Guest,
    pub inspect: Option<inspect_iface::Guest>,
    pub client: Option<client_iface::Guest>,
    pub digests: Option<digests_iface::Guest>,
    pub sniff: Option<sniff_iface::Guest>,
}

impl Exports {
    /// Named as the world bindgen names it, so calls read the same.
    pub fn reposmith_generator_generator(&self) -> &gen_iface::Guest {
        &self.generator
    }
}

/// The interface name a generator must export (checked at load for a clear error).
pub const EXPORT_NAME: &str = "reposmith:generator/generator@0.2.0";

/// Contract values as the bindgen's, for a call's arguments.
pub fn to_wit<C: Clone + Into<W>, W>(values: &[C]) -> Vec<W> {
    values.iter().cloned().map(Into::into).collect()
}
