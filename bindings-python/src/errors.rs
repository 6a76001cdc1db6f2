//! Python exceptions for vx86's errors. The classes live in `vx86/errors.py` (so they can
//! derive from two bases and carry attributes); this file builds instances of them.

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::IntoPyObjectExt;
use vx86_core::VmError;

/// `vx86.errors.<class>(*args)` as a `PyErr` (if the class cannot be found, that error).
pub(crate) fn raise(py: Python<'_>, class: &str, args: Vec<Bound<'_, PyAny>>) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let cls = py.import("vx86.errors")?.getattr(class)?;
        Ok(PyErr::from_value(cls.call1(PyTuple::new(py, args)?)?))
    };
    build().unwrap_or_else(|e| e)
}

/// An exception of `class` with just a message.
pub(crate) fn error(py: Python<'_>, class: &str, msg: impl Into<String>) -> PyErr {
    let msg: String = msg.into();
    match msg.into_bound_py_any(py) {
        Ok(m) => raise(py, class, vec![m]),
        Err(e) => e,
    }
}

/// `vx86.ConfigError(msg)`.
pub(crate) fn config(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    error(py, "ConfigError", msg)
}

/// The Python exception for a core error (see `vx86/errors.py` for the classes).
pub(crate) fn vm(py: Python<'_>, e: VmError) -> PyErr {
    let msg = e.to_string();
    let with = |class: &str, extra: Vec<PyResult<Bound<'_, PyAny>>>| -> PyErr {
        let mut args = vec![msg.clone().into_bound_py_any(py)];
        args.extend(extra);
        match args.into_iter().collect::<PyResult<Vec<_>>>() {
            Ok(a) => raise(py, class, a),
            Err(e) => e,
        }
    };
    match e {
        VmError::Config(_) | VmError::Overlap { .. } => error(py, "ConfigError", msg),
        VmError::Image(_) => error(py, "ImageError", msg),
        VmError::Snapshot(_) => error(py, "SnapshotError", msg),
        VmError::Replay(_) => error(py, "ReplayError", msg),
        VmError::PhysRange { addr, .. } => with("GuestFault", vec![addr.into_bound_py_any(py)]),
        VmError::NotMapped(addr) => with("GuestFault", vec![addr.into_bound_py_any(py)]),
        VmError::Unsupported {
            cs,
            eip,
            bytes,
            mnemonic,
            ..
        } => with(
            "UnsupportedInstruction",
            vec![
                cs.into_bound_py_any(py),
                eip.into_bound_py_any(py),
                mnemonic.into_bound_py_any(py),
                bytes.into_bound_py_any(py),
            ],
        ),
    }
}

/// Extension: `.py_err(py)?` on core results.
pub(crate) trait VmResult<T> {
    /// Converts the error with [`vm`].
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> VmResult<T> for Result<T, VmError> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| vm(py, e))
    }
}
