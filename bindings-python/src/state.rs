//! Saved states: `Snapshot` (bytes, portable across processes and hosts) and `Checkpoint`
//! (in memory, restored in time proportional to the pages written since), and
//! `Machine.restore`.
//!
//! Restoring clears the unconsumed serial, debug and console output (it belongs to the
//! abandoned timeline); hooks and breakpoints stay, as they are host configuration, not
//! machine state. A machine's virtio disk images stay too (a snapshot names them by hash and
//! holds only what the guest wrote); write-through files are brought to the restored content.

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use vx86_core::vx86_snapshots::container::{read_header, SnapshotKind};

use crate::args;
use crate::errors::{self, VmResult};
use crate::machine::Machine;

/// Snapshot bytes with their header read (see `vx86_snapshots::container` for the format).
#[pyclass(frozen, module = "vx86")]
pub struct Snapshot {
    bytes: Vec<u8>,
    incremental: bool,
    compressed: bool,
}

impl Snapshot {
    /// Checks the header (magic, version, flags) and wraps the bytes; the rest is checked
    /// when restoring.
    pub(crate) fn new(py: Python<'_>, bytes: Vec<u8>) -> PyResult<Self> {
        let h = read_header(&bytes)
            .map_err(|e| errors::error(py, "SnapshotError", format!("bad snapshot: {e}")))?;
        if bytes.len() < 32 {
            return Err(errors::error(
                py,
                "SnapshotError",
                "bad snapshot: truncated",
            ));
        }
        Ok(Self {
            incremental: matches!(h.kind, SnapshotKind::Incremental { .. }),
            compressed: h.compressed,
            bytes,
        })
    }
}

#[pymethods]
impl Snapshot {
    /// Wraps snapshot bytes (from `to_bytes()`, a file, the CLI's `--snapshot-out`).
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Self> {
        Self::new(py, args::bytes_of(data)?)
    }

    /// Reads a snapshot file.
    #[staticmethod]
    fn load(py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<Self> {
        let path: String = py
            .import("os")?
            .call_method1("fspath", (path,))?
            .extract()?;
        let bytes = std::fs::read(&path)
            .map_err(|e| errors::error(py, "SnapshotError", format!("{path}: {e}")))?;
        Self::new(py, bytes)
    }

    /// The snapshot's bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.bytes)
    }

    /// Writes the bytes to a file.
    fn save(&self, py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<()> {
        let path: String = py
            .import("os")?
            .call_method1("fspath", (path,))?
            .extract()?;
        std::fs::write(&path, &self.bytes)
            .map_err(|e| errors::error(py, "SnapshotError", format!("{path}: {e}")))
    }

    /// "full" or "incremental".
    #[getter]
    fn kind(&self) -> &'static str {
        if self.incremental {
            "incremental"
        } else {
            "full"
        }
    }

    /// Whether the body is LZ4-compressed.
    #[getter]
    fn compressed(&self) -> bool {
        self.compressed
    }

    /// The snapshot's id: SHA-256 (hex) of its bytes before the trailer, which is the trailer.
    #[getter]
    fn id(&self) -> String {
        vx86_core::vx86_snapshots::hex(&self.bytes[self.bytes.len() - 32..])
    }

    fn __len__(&self) -> usize {
        self.bytes.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "<vx86.Snapshot {} {} bytes id={}…>",
            self.kind(),
            self.bytes.len(),
            &self.id()[..12]
        )
    }
}

/// An in-memory saved state of one machine. `restore()` it (or `m.restore(cp)`), or use it as
/// a context manager: `with m.checkpoint(): ...` restores when the block ends, also on an
/// exception. Restoring costs time proportional to the RAM pages written since it was taken
/// (when it is the newest checkpoint; otherwise all of RAM is copied).
#[pyclass(frozen, module = "vx86")]
pub struct Checkpoint {
    machine: Py<Machine>,
    cp: vx86_core::Checkpoint,
}

impl Checkpoint {
    pub(crate) fn take(slf: &Bound<'_, Machine>) -> PyResult<Self> {
        let py = slf.py();
        let cp = slf.get().lock(py)?.m.checkpoint();
        Ok(Self {
            machine: slf.clone().unbind(),
            cp,
        })
    }

    fn restore_into(&self, py: Python<'_>, m: &Machine) -> PyResult<usize> {
        let mut g = m.lock(py)?;
        let pages = g.m.restore_checkpoint(&self.cp).py_err(py)?;
        g.clear_output();
        crate::virtio::write_back(py, &mut g)?;
        Ok(pages)
    }
}

#[pymethods]
impl Checkpoint {
    /// Returns the machine to this checkpoint; returns how many RAM pages were copied.
    fn restore(&self, py: Python<'_>) -> PyResult<usize> {
        self.restore_into(py, self.machine.get())
    }

    /// The instruction count at which it was taken.
    #[getter]
    fn instruction_count(&self) -> u64 {
        self.cp.instruction_count()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.restore(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "<vx86.Checkpoint at instruction {}>",
            self.cp.instruction_count()
        )
    }
}

/// `Machine.restore(state)`: a Checkpoint of this machine, a Snapshot, or snapshot bytes.
pub(crate) fn restore(m: &Machine, py: Python<'_>, state: &Bound<'_, PyAny>) -> PyResult<()> {
    if let Ok(cp) = state.cast::<Checkpoint>() {
        let cp = cp.get();
        if !std::ptr::eq(cp.machine.get(), m) {
            return Err(errors::error(
                py,
                "SnapshotError",
                "this checkpoint belongs to another machine (restore it there, or use a Snapshot)",
            ));
        }
        cp.restore_into(py, m)?;
        return Ok(());
    }
    let owned;
    let (bytes, incremental) = match state.cast::<Snapshot>() {
        Ok(s) => {
            let s = s.get();
            (&s.bytes, s.incremental)
        }
        Err(_) => {
            owned = Snapshot::new(py, args::bytes_of(state)?)?;
            (&owned.bytes, owned.incremental)
        }
    };
    let mut g = m.lock(py)?;
    let mut rewrite = Vec::new();
    if incremental {
        g.m.apply_incremental_snapshot(bytes).py_err(py)?;
    } else {
        let images = crate::virtio::machine_images(&g.m);
        let mut fresh = py
            .detach(|| vx86_core::Machine::from_snapshot_with_disks(bytes, images))
            .py_err(py)?;
        rewrite = crate::virtio::written_chunks(&g);
        for b in g.m.breakpoints() {
            fresh.add_breakpoint(b);
        }
        g.m = fresh;
        g.linux_paths = None;
        g.recording = None;
        let crate::machine::Inner { m: core, hooks, .. } = &mut *g;
        hooks.reattach(core, crate::hooks::sync_core(py, &m.shared));
    }
    g.clear_output();
    crate::virtio::rewrite_chunks(py, &mut g, rewrite)
}
