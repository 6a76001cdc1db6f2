//! Record and replay from Python: `m.record(path)` / `m.stop_recording()` and
//! `vx86.replay(path)`, over the core's replay log (`vx86_core::machine::replay`).

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3::IntoPyObjectExt;
use vx86_core::vx86_snapshots::replay_log::{ImageRef, Start};
use vx86_core::{RecordStart, Replay, ReplayStatus, DEFAULT_CHECKPOINT_INTERVAL};

use crate::args;
use crate::errors::{self, VmResult};
use crate::machine::Machine;

fn fspath(py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<String> {
    py.import("os")?.call_method1("fspath", (path,))?.extract()
}

/// A recording in progress; as a context manager it stops (and writes the log) when the block
/// ends.
#[pyclass(frozen, module = "vx86")]
pub struct Recording {
    machine: Py<Machine>,
    /// Where the log goes.
    #[pyo3(get)]
    path: String,
}

#[pymethods]
impl Recording {
    /// Stops recording and writes the log; returns the number of events.
    fn stop(&self, py: Python<'_>) -> PyResult<usize> {
        stop_recording(self.machine.get(), py)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        // the log is written also when the block raised: it reproduces the failure
        self.stop(py)?;
        Ok(false)
    }
}

pub(crate) fn record(
    slf: &Bound<'_, Machine>,
    path: &Bound<'_, PyAny>,
    interval: Option<u64>,
) -> PyResult<Recording> {
    let py = slf.py();
    let path = fspath(py, path)?;
    let m = slf.get();
    let mut g = m.lock(py)?;
    if g.m.is_recording() {
        return Err(errors::error(
            py,
            "ReplayError",
            "this machine is already recording",
        ));
    }
    // fail now rather than at the end if the file cannot be written
    std::fs::write(&path, b"")
        .map_err(|e| errors::error(py, "ReplayError", format!("{path}: {e}")))?;
    let start = match g.linux_paths.clone() {
        Some((kernel_path, initrd_path)) if g.m.instruction_count() == 0 => RecordStart::Boot {
            kernel_path,
            initrd_path,
        },
        _ => RecordStart::Snapshot,
    };
    let interval = interval.unwrap_or(DEFAULT_CHECKPOINT_INTERVAL);
    g.m.start_recording(start, interval).py_err(py)?;
    g.recording = Some(path.clone());
    Ok(Recording {
        machine: slf.clone().unbind(),
        path,
    })
}

pub(crate) fn stop_recording(m: &Machine, py: Python<'_>) -> PyResult<usize> {
    let mut g = m.lock(py)?;
    let (Some(log), Some(path)) = (g.m.finish_recording(), g.recording.take()) else {
        return Err(errors::error(
            py,
            "ReplayError",
            "this machine is not recording",
        ));
    };
    std::fs::write(&path, log.to_bytes())
        .map_err(|e| errors::error(py, "ReplayError", format!("{path}: {e}")))?;
    Ok(log.events.len())
}

/// What a replay that matched its log gives back.
#[pyclass(frozen, get_all, module = "vx86")]
pub struct ReplayResult {
    /// The machine at the end of the log (it can run on).
    pub machine: Py<Machine>,
    /// Its instruction count.
    pub instruction_count: u64,
    /// Its state hash (hex), equal to the log's.
    pub state_hash: String,
    /// The serial (COM1) output of the whole replay.
    pub serial: Py<PyBytes>,
    /// The virtio-console output of the whole replay.
    pub console: Py<PyBytes>,
    /// Checkpoints verified on the way (the end included).
    pub checkpoints: usize,
}

#[pymethods]
impl ReplayResult {
    fn __repr__(&self) -> String {
        format!(
            "<vx86.ReplayResult instruction_count={} state_hash={}… checkpoints={}>",
            self.instruction_count,
            &self.state_hash[..12],
            self.checkpoints
        )
    }
}

/// Replays a log (a path or its bytes) and checks every recorded state hash.
///
/// A log that starts from a Linux boot needs its images: `kernel`/`initrd` (paths or bytes)
/// override the paths stored in the log; each is checked against the recorded SHA-256. A
/// machine with virtio disks needs their images as they were attached: `disks` (paths,
/// bytes or `vx86.Disk`s, in the machine's order) override the paths stored in the log
/// (disks given as bytes when recording have none); the replayed machine keeps its disks in
/// memory. `perturb_input=k` flips a bit of the k-th serial input first (to see a divergence
/// being caught). Returns a `ReplayResult`; raises `ReplayDivergence` (with the instruction
/// count and both hashes) at the first state that differs, `ReplayError` for a bad log or
/// images.
#[pyfunction]
#[pyo3(signature = (log, kernel = None, initrd = None, perturb_input = None, disks = None))]
pub(crate) fn replay(
    py: Python<'_>,
    log: &Bound<'_, PyAny>,
    kernel: Option<&Bound<'_, PyAny>>,
    initrd: Option<&Bound<'_, PyAny>>,
    perturb_input: Option<usize>,
    disks: Option<&Bound<'_, PyAny>>,
) -> PyResult<ReplayResult> {
    let bytes = if log.cast::<PyBytes>().is_ok() || log.cast::<pyo3::types::PyByteArray>().is_ok() {
        args::bytes_of(log)?
    } else {
        let path = fspath(py, log)?;
        std::fs::read(&path)
            .map_err(|e| errors::error(py, "ReplayError", format!("{path}: {e}")))?
    };
    let mut r = Replay::from_bytes(&bytes).py_err(py)?;
    if let Some(k) = perturb_input {
        if r.perturb_input(k).is_none() {
            return Err(errors::config(
                py,
                format!("the log has no serial input #{k}"),
            ));
        }
    }
    let kernel = kernel
        .map(|k| args::image_of(k, "kernel"))
        .transpose()?
        .map(|x| x.0);
    let initrd = initrd
        .map(|i| args::image_of(i, "initrd"))
        .transpose()?
        .map(|x| x.0);
    let given_disks = match disks.filter(|d| !d.is_none()) {
        Some(d) => Some(crate::virtio::disks_arg(Some(d))?),
        None => None,
    };
    if let Some(d) = &given_disks {
        let want = r.log().disks.len();
        if d.len() != want {
            return Err(errors::error(
                py,
                "ReplayError",
                format!("the log's machine has {want} disks, {} were given", d.len()),
            ));
        }
    }
    // which image the core asks for: one of the log's disks (by position), or the kernel
    // or initrd of a boot log
    let log_ref = r.log();
    let mut load = |i: &ImageRef| -> Result<Vec<u8>, String> {
        if let Some(k) = log_ref.disks.iter().position(|d| std::ptr::eq(d, i)) {
            return match &given_disks {
                Some(d) => Ok(d[k].image.bytes().to_vec()),
                None if i.path.is_empty() => Err(format!(
                    "disk {k} was attached as bytes: pass disks= to replay() to give the images"
                )),
                None => std::fs::read(&i.path).map_err(|e| {
                    format!(
                        "{}: {e} (pass disks= to replay() to give the images)",
                        i.path
                    )
                }),
            };
        }
        let is_initrd = match &log_ref.start {
            Start::Boot(b) => b.initrd.as_ref().is_some_and(|x| std::ptr::eq(x, i)),
            Start::Snapshot(_) => false,
        };
        let given = if is_initrd { &initrd } else { &kernel };
        match given {
            Some(b) => Ok(b.clone()),
            None => std::fs::read(&i.path).map_err(|e| {
                format!(
                    "{}: {e} (pass kernel=/initrd= to replay() to give the images)",
                    i.path
                )
            }),
        }
    };
    let mut m = r.start_machine(&mut load).py_err(py)?;
    let checkpoints = r
        .log()
        .events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                vx86_core::vx86_snapshots::replay_log::EventKind::Checkpoint(_)
                    | vx86_core::vx86_snapshots::replay_log::EventKind::End(_)
            )
        })
        .count();
    let (mut serial, mut console) = (Vec::new(), Vec::new());
    loop {
        let status = py
            .detach(|| r.advance(&mut m, crate::machine::SLICE))
            .py_err(py)?;
        serial.extend(m.take_serial_output());
        console.extend(m.take_console_output());
        match status {
            ReplayStatus::Running => py.check_signals()?,
            ReplayStatus::Finished => break,
            ReplayStatus::Diverged(d) => {
                let hex = vx86_core::vx86_snapshots::hex;
                let args = vec![
                    d.to_string().into_bound_py_any(py)?,
                    d.icount.into_bound_py_any(py)?,
                    hex(&d.expected).into_bound_py_any(py)?,
                    hex(&d.actual).into_bound_py_any(py)?,
                ];
                return Err(errors::raise(py, "ReplayDivergence", args));
            }
        }
    }
    let result = ReplayResult {
        instruction_count: m.instruction_count(),
        state_hash: m.state_hash_hex(),
        serial: PyBytes::new(py, &serial).unbind(),
        console: PyBytes::new(py, &console).unbind(),
        checkpoints,
        machine: Py::new(py, Machine::from_core(m))?,
    };
    Ok(result)
}
