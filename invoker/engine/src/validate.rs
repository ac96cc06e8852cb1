//! Upload validation: is this a component Flint can run?

use wasmtime::component::{Component, Linker};

use crate::{HANDLER_EXPORT, Host};

/// The first 4 bytes of every WebAssembly binary.
const WASM_MAGIC: &[u8; 4] = b"\0asm";
/// Bytes 4..8 of a core module: version 1.
const CORE_VERSION: [u8; 4] = [1, 0, 0, 0];

/// Why an upload cannot run on Flint. The messages are meant for the person
/// who uploaded it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Invalid {
    /// Nothing was uploaded.
    #[error("the upload is empty")]
    Empty,
    /// The bytes are not WebAssembly at all.
    #[error("not a WebAssembly binary: it does not start with the `\\0asm` magic bytes")]
    NotWasm,
    /// A core module, not a component.
    #[error(
        "this is a core WebAssembly module, not a component: build for the `wasm32-wasip2` target (or wrap the module with `wasm-tools component new`)"
    )]
    CoreModule,
    /// The component does not validate or compile.
    #[error("invalid WebAssembly component: {0}")]
    Compile(String),
    /// The component has no HTTP handler.
    #[error(
        "the component does not export `wasi:http/incoming-handler@0.2.x`: a Flint function is a component of the `wasi:http/proxy` world (its exports: {exports})"
    )]
    NoHandler {
        /// What it exports instead, comma separated.
        exports: String,
    },
    /// The export exists but is not the `wasi:http/incoming-handler` interface.
    #[error(
        "the component's `wasi:http/incoming-handler` export does not match the interface: {0}"
    )]
    BadHandler(String),
    /// The component imports something the invoker does not link.
    #[error("the component imports `{name}`, which Flint does not provide: {reason}")]
    UnknownImport {
        /// The import's name, e.g. `wasi:keyvalue/store@0.2.0-draft`.
        name: String,
        /// What wasmtime said.
        reason: String,
    },
}

/// Checks that `wasm` is a component Flint can run: a `wasi:http/proxy`
/// component whose every import the [`linker`](crate::linker) provides.
/// Compiles it with the linker's engine to find out; returns the compiled
/// component.
pub fn validate(linker: &Linker<Host>, wasm: &[u8]) -> Result<Component, Invalid> {
    if wasm.is_empty() {
        return Err(Invalid::Empty);
    }
    if wasm.len() < 8 || &wasm[..4] != WASM_MAGIC {
        return Err(Invalid::NotWasm);
    }
    if wasm[4..8] == CORE_VERSION {
        return Err(Invalid::CoreModule);
    }
    let engine = linker.engine();
    let component = Component::new(engine, wasm).map_err(|e| Invalid::Compile(format!("{e:#}")))?;
    let ty = component.component_type();

    let exports: Vec<String> = ty.exports(engine).map(|(name, _)| name.to_owned()).collect();
    if !exports.iter().any(|name| name.starts_with(HANDLER_EXPORT)) {
        let exports = if exports.is_empty() { "none".to_owned() } else { exports.join(", ") };
        return Err(Invalid::NoHandler { exports });
    }

    let pre = match linker.instantiate_pre(&component) {
        Ok(pre) => pre,
        Err(error) => {
            let reason = format!("{error:#}");
            // wasmtime names the import in its message; find which one it is so
            // the error leads with it.
            let name = ty
                .imports(engine)
                .map(|(name, _)| name)
                .find(|name| reason.contains(name))
                .unwrap_or("an unknown import")
                .to_owned();
            return Err(Invalid::UnknownImport { name, reason });
        }
    };
    crate::ProxyPre::new(pre).map_err(|e| Invalid::BadHandler(format!("{e:#}")))?;
    Ok(component)
}
