//! Python bindings of vx86 (`import vx86`), built with pyo3 and maturin.
//!
//! Not implemented yet: the Python-bindings issue (#6) adds the pyo3 module. Until then this
//! crate only links the core so the workspace builds as one.
