//! Python hooks with filters (DESIGN.md, "hooks/"): only events that match a filter cross
//! into Python.
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

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::IntoPyObjectExt;
use vx86_core::hooks::{hook_fn, HookAction, HookEvent, HookId};

use crate::errors;
use crate::machine::Machine;

/// The kinds of Python hook.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Code,
    Io,
    Mmio,
    Interrupt,
    Cr3,
}

impl Kind {
    /// Whether callbacks run deferred (at an instruction boundary, machine available).
    pub(crate) fn deferred(self) -> bool {
        matches!(self, Kind::Code | Kind::Interrupt | Kind::Cr3)
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Code => "code",
            Kind::Io => "io",
            Kind::Mmio => "mmio",
            Kind::Interrupt => "interrupt",
            Kind::Cr3 => "cr3",
        }
    }
}

/// A registered Python hook.
pub(crate) struct HookEntry {
    pub(crate) id: u64,
    pub(crate) kind: Kind,
    /// Inclusive ranges of addresses, ports or vectors.
    pub(crate) ranges: Vec<(u32, u32)>,
    pub(crate) callback: Py<PyAny>,
    /// The core hooks behind it (one per range).
    core: Vec<HookId>,
}

impl HookEntry {
    fn matches(&self, key: u32) -> bool {
        self.ranges.iter().any(|&(a, b)| a <= key && key <= b)
    }
}

/// The kind, key and callback arguments of a deferred event.
fn deferred_args<'py>(py: Python<'py>, event: &HookEvent) -> PyResult<Option<(Kind, u32, Bound<'py, PyTuple>)>> {
    Ok(Some(match *event {
        HookEvent::Code { linear, .. } => (Kind::Code, linear, (linear,).into_pyobject(py)?),
        HookEvent::Interrupt { vector, external } => (
            Kind::Interrupt,
            vector.into(),
            (vector, external).into_pyobject(py)?,
        ),
        HookEvent::Cr3Write { old, new } => (Kind::Cr3, 0, (old, new).into_pyobject(py)?),
        _ => return Ok(None),
    }))
}

/// The callbacks (with their arguments) that a deferred event calls, in registration order.
pub(crate) fn deferred_calls(
    g: &crate::machine::Inner,
    py: Python<'_>,
    event: &HookEvent,
) -> Vec<(Py<PyAny>, Py<PyTuple>)> {
    let Ok(Some((kind, key, args))) = deferred_args(py, event) else {
        return Vec::new();
    };
    let args = args.unbind();
    g.hooks
        .iter()
        .filter(|h| h.kind == kind && h.matches(key))
        .map(|h| (h.callback.clone_ref(py), args.clone_ref(py)))
        .collect()
}

/// A synchronous callback's answer as a core action.
fn sync_answer(py: Python<'_>, r: PyResult<Py<PyAny>>, shared: &crate::machine::Shared) -> HookAction {
    let fail = |e: PyErr| {
        if let Ok(mut slot) = shared.error.lock() {
            slot.get_or_insert(e);
        }
        HookAction::Stop
    };
    match r {
        Err(e) => fail(e),
        Ok(v) if v.is_none(py) => {
            if shared.stop.load(Ordering::Relaxed) {
                HookAction::Stop
            } else {
                HookAction::Continue
            }
        }
        Ok(v) => match v.extract::<u32>(py) {
            Ok(x) if !shared.stop.load(Ordering::Relaxed) => HookAction::Replace(x),
            Ok(_) => HookAction::Stop,
            Err(_) => fail(errors::config(
                py,
                "an I/O or MMIO hook returns None or an int (the value the guest reads)",
            )),
        },
    }
}

/// Adds the core hooks for an entry.
fn add_core(m: &mut vx86_core::Machine, kind: Kind, ranges: &[(u32, u32)], callback: &Py<PyAny>, py: Python<'_>, shared: &std::sync::Arc<crate::machine::Shared>) -> Vec<HookId> {
    let hooks = m.hooks();
    let stop = || hook_fn(|_| HookAction::Stop);
    let sync = || {
        let cb = callback.clone_ref(py);
        let shared = shared.clone();
        hook_fn(move |e| {
            Python::attach(|py| {
                let r = match *e {
                    HookEvent::Io { port, size, write, value } => cb.call1(py, (port, size, write, value)),
                    HookEvent::Mmio { addr, size, write, value } => cb.call1(py, (addr, size, write, value)),
                    _ => return HookAction::Continue,
                };
                sync_answer(py, r, &shared)
            })
        })
    };
    let mut ids = Vec::new();
    for &(a, b) in ranges {
        ids.push(match kind {
            Kind::Code => hooks.add_code(a, b, stop()),
            Kind::Interrupt => hooks.add_interrupt(a as u8, b as u8, stop()),
            Kind::Cr3 => hooks.add_cr3(stop()),
            Kind::Io => hooks.add_io(a as u16, b as u16, sync()),
            Kind::Mmio => hooks.add_mmio(a, b, sync()),
        });
        if kind == Kind::Cr3 {
            break;
        }
    }
    ids
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
    let core = add_core(&mut g.m, kind, &ranges, &callback, py, &m.shared);
    let id = g.next_hook;
    g.next_hook += 1;
    g.hooks.push(HookEntry {
        id,
        kind,
        ranges: ranges.clone(),
        callback: callback.clone_ref(py),
        core,
    });
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
    let Some(i) = g.hooks.iter().position(|h| h.id == id) else {
        return Ok(false);
    };
    let entry = g.hooks.remove(i);
    for c in entry.core {
        g.m.hooks().remove(c);
    }
    Ok(true)
}

/// Re-adds the core hooks of every Python hook (after the core machine was replaced by a
/// restore).
pub(crate) fn reattach(g: &mut crate::machine::Inner, py: Python<'_>, shared: &std::sync::Arc<crate::machine::Shared>) {
    let mut entries = std::mem::take(&mut g.hooks);
    for e in &mut entries {
        e.core = add_core(&mut g.m, e.kind, &e.ranges, &e.callback, py, shared);
    }
    g.hooks = entries;
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
        let r: Vec<String> = self.ranges.iter().map(|(a, b)| format!("{a:#x}..={b:#x}")).collect();
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
        register(self.machine.bind(py), self.kind, self.ranges.clone(), Some(callback))
    }
}
