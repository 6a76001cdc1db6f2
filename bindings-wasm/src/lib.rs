//! WebAssembly bindings of vx86 (a wasm-bindgen `Machine` class for browsers and Node).
//!
//! Not implemented yet: the WebAssembly issue (#7) adds the bindings. Until then this crate
//! only links the core so the workspace builds as one.
