//! Python hooks with filters (DESIGN.md, "hooks/"): only events that match a filter cross
//! into Python. The registry is the core's `hooks::host::HostHooks`; this file makes the
//! Python side of it (arguments, return values, the `Hook` and decorator classes).
//!
//! Two ways a callback runs:
//! - **deferred** (code, interrupt, CR3): the core hook only stops the run; the binding then
//!   calls the Python callbacks whose filter matches the event, with the machine stopped at
//!   an instruction boundary and unlocked, so a callback may read registers and memory,
//!   change them, add or remove hooks, or call `stop()`. The run then goes on.
//! - **synchronous** (I/O, MMIO): the callback runs inside the instruction (it may replace the
//!   value a read returns), with only its arguments; the machine itself is busy.
//!
//! A callback that raises stops the run; the exception propagates from `run()`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::IntoPyObjectExt;
use vx86_core::hooks::host::{HostHookKind as Kind, HostHooks};
use vx86_core::hooks::{hook_fn, HookAction, HookEvent, HookFn};

use crate::errors;
use crate::machine::{Inner, Machine, Shared};

/// The Python callbacks of a machine.
pub(crate) type PyHooks = HostHooks<Py<PyAny>>;

/// The callback arguments of a deferred event.
fn deferred_args<'py>(py: Python<'py>, event: &HookEvent) -> PyResult<Bound<'py, PyTuple>> {
    match *event {
        HookEvent::Code { linear, .. } => (linear,).into_pyobject(py),
        HookEvent::Interrupt { vector, external } => (vector, external).into_pyobject(py),
        HookEvent::Cr3Write { old, new } => (old, new).into_pyobject(py),
        HookEvent::Io { port, .. } => (port,).into_pyobject(py),
        HookEvent::Mmio { addr, .. } => (addr,).into_pyobject(py),
    }
}

/// The callbacks (with their arguments) that a deferred event calls, in registration order.
pub(crate) fn deferred_calls(
    g: &Inner,
    py: Python<'_>,
    event: &HookEvent,
) -> PyResult<Vec<(Py<PyAny>, Py<PyTuple>)>> {
    let mut calls = g.hooks.deferred_matching(event).peekable();
    if calls.peek().is_none() {
        return Ok(Vec::new());
    }
    let args = deferred_args(py, event)?.unbind();
    Ok(calls
        .map(|h| (h.callback.clone_ref(py), args.clone_ref(py)))
        .collect())
}

/// A synchronous callback's answer as a core action.
fn sync_answer(py: Python<'_>, r: PyResult<Py<PyAny>>, shared: &Shared) -> HookAction {
    let fail = |e: PyErr| {
        if let Ok(mut slot) = shared.error.lock() {
            slot.get_or_insert(e);
        }
        HookAction::Stop
    };
    let stop = shared.stop.load(Ordering::Relaxed);
    match r {
        Err(e) => fail(e),
        Ok(v) if v.is_none(py) => {
            if stop {
                HookAction::Stop
            } else {
                HookAction::Continue
            }
        }
        Ok(v) => match v.extract::<u32>(py) {
            Ok(x) if !stop => HookAction::Replace(x),
            Ok(_) => HookAction::Stop,
            Err(_) => fail(errors::config(
                py,
                "an I/O or MMIO hook returns None or an int (the value the guest reads)",
            )),
        },
    }
}

/// The core callback of a synchronous (I/O, MMIO) Python hook.
pub(crate) fn sync_core<'a>(
    py: Python<'a>,
    shared: &'a Arc<Shared>,
) -> impl FnMut(&Py<PyAny>) -> HookFn + 'a {
    move |callback| {
        let cb = callback.clone_ref(py);
        let shared = shared.clone();
        hook_fn(move |e| {
            Python::attach(|py| {
                let r = match *e {
                    HookEvent::Io {
                        port,
                        size,
                        write,
                        value,
                    } => cb.call1(py, (port, size, write, value)),
                    HookEvent::Mmio {
                        addr,
                        size,
                        write,
                        value,
                    } => cb.call1(py, (addr, size, write, value)),
                    _ => return HookAction::Continue,
                };
                sync_answer(py, r, &shared)
            })
        })
    }
}

/// Registers a hook, or returns a decorator that does when `callback` is None.
pub(crate) fn register(
    slf: &Bound<'_, Machine>,
    kind: Kind,
    ranges: Vec<(u32, u32)>,
    callback: Option<Py<PyAny>>,
) -> PyResult<Py<PyAny>> {
    let py = slf.py();
    let Some(callback) = callback else {
        return HookDecorator {
            machine: slf.clone().unbind(),
            kind,
            ranges,
        }
        .into_py_any(py);
    };
    if !callback.bind(py).is_callable() {
        return Err(errors::config(py, "the hook callback must be callable"));
    }
    let m = slf.get();
    let mut g = m.lock(py)?;
    let Inner { m: core, hooks, .. } = &mut *g;
    let id = hooks.add(
        core,
        kind,
        ranges.clone(),
        callback.clone_ref(py),
        sync_core(py, &m.shared),
    );
    Hook {
        machine: slf.clone().unbind(),
        id,
        kind,
        ranges,
        callback,
    }
    .into_py_any(py)
}

/// Removes hook `id`; false if it is not registered.
pub(crate) fn remove(m: &Machine, py: Python<'_>, id: u64) -> PyResult<bool> {
    let mut g = m.lock(py)?;
    let Inner { m: core, hooks, .. } = &mut *g;
    Ok(hooks.remove(core, id))
}

/// A registered hook: `remove()` it, or call it like its callback.
#[pyclass(frozen, module = "vx86")]
pub struct Hook {
    machine: Py<Machine>,
    pub(crate) id: u64,
    kind: Kind,
    ranges: Vec<(u32, u32)>,
    callback: Py<PyAny>,
}

#[pymethods]
impl Hook {
    /// Unregisters the hook; False if it was removed already.
    fn remove(&self, py: Python<'_>) -> PyResult<bool> {
        remove(self.machine.get(), py, self.id)
    }

    /// "code", "io", "mmio", "interrupt" or "cr3".
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind.name()
    }

    /// The filter as inclusive (first, last) ranges.
    #[getter]
    fn ranges(&self) -> Vec<(u32, u32)> {
        self.ranges.clone()
    }

    /// The callback.
    #[getter]
    fn callback(&self, py: Python<'_>) -> Py<PyAny> {
        self.callback.clone_ref(py)
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, pyo3::types::PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        self.callback.call(py, args.clone(), kwargs)
    }

    fn __repr__(&self) -> String {
        let r: Vec<String> = self
            .ranges
            .iter()
            .map(|(a, b)| format!("{a:#x}..={b:#x}"))
            .collect();
        format!("<vx86.Hook {} [{}]>", self.kind.name(), r.join(", "))
    }
}

/// What `hook_*(..., callback=None)` returns: applied to a function, registers it.
#[pyclass(frozen, module = "vx86")]
pub struct HookDecorator {
    machine: Py<Machine>,
    kind: Kind,
    ranges: Vec<(u32, u32)>,
}

#[pymethods]
impl HookDecorator {
    fn __call__(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<Py<PyAny>> {
        register(
            self.machine.bind(py),
            self.kind,
            self.ranges.clone(),
            Some(callback),
        )
    }
}
