//! `vx86.NetLink`: two machines joined by a virtio-net cable, over `vx86_core::NetLink`
//! (each step runs both machines to the next quantum of virtual time, then hands each the
//! frames the other sent; deterministic, and each machine's recording replays alone).
//!
//! A step needs both machines at once: it takes both locks without waiting (a machine in use
//! raises MachineBusy), and a link of a machine to itself is refused when it is made. The GIL
//! is released while the machines run.

use std::sync::atomic::Ordering;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;
use vx86_core::ExitReason;

use crate::errors::{self, VmResult};
use crate::machine::{Exit, Inner, Machine};

/// A network cable between two machines with virtio-net (`Machine(net=True)`).
///
/// `NetLink(a, b, quantum_ns=1_000_000)`: `step()` runs both machines to the same virtual
/// time, `quantum_ns` later, then delivers the Ethernet frames each one transmitted to the
/// other (a frame crosses with at most one quantum of latency). Both machines stay usable
/// between steps (send input, inspect, snapshot). Machines with code, interrupt or CR3
/// hooks cannot be stepped (their callbacks would stop the quantum short); I/O and MMIO hooks
/// are fine.
#[pyclass(frozen, module = "vx86")]
pub struct NetLink {
    a: Py<Machine>,
    b: Py<Machine>,
    link: Mutex<vx86_core::NetLink>,
}

fn exit(g: &Inner, reason: ExitReason, start: u64) -> Exit {
    Exit {
        reason: reason.name(),
        instructions: g.m.instruction_count() - start,
        instruction_count: g.m.instruction_count(),
        eip: g.m.cpu_state().eip,
    }
}

impl NetLink {
    fn state(&self, py: Python<'_>) -> PyResult<std::sync::MutexGuard<'_, vx86_core::NetLink>> {
        self.link.try_lock().map_err(|_| {
            errors::error(
                py,
                "MachineBusy",
                "this link is stepping (in another thread)",
            )
        })
    }
}

#[pymethods]
impl NetLink {
    /// Joins machines `a` and `b` (two different ones) from now on (the later of their
    /// virtual times); each step is `quantum_ns` of virtual time.
    #[new]
    #[pyo3(signature = (a, b, quantum_ns = vx86_core::DEFAULT_QUANTUM_NS))]
    fn new(py: Python<'_>, a: Py<Machine>, b: Py<Machine>, quantum_ns: u64) -> PyResult<Self> {
        if a.is(&b) {
            return Err(errors::config(py, "a NetLink joins two different machines"));
        }
        if quantum_ns == 0 {
            return Err(errors::config(py, "quantum_ns must be at least 1"));
        }
        let link = {
            let (ga, gb) = (a.get().lock(py)?, b.get().lock(py)?);
            vx86_core::NetLink::new(&ga.m, &gb.m, quantum_ns)
        };
        Ok(Self {
            a,
            b,
            link: Mutex::new(link),
        })
    }

    /// Runs both machines to the next quantum boundary and exchanges their frames. Returns
    /// the two `Exit`s (a's, b's): reason "budget" or "idle" when the machine got there,
    /// anything else when it stopped on the way (e.g. "halted", "poweroff").
    fn step(&self, py: Python<'_>) -> PyResult<(Exit, Exit)> {
        let (ma, mb) = (self.a.get(), self.b.get());
        let mut link = self.state(py)?;
        let mut ga = ma.lock(py)?;
        let mut gb = mb.lock(py)?;
        if ga.hooks.any_deferred() || gb.hooks.any_deferred() {
            return Err(errors::config(
                py,
                "NetLink cannot step a machine with code, interrupt or CR3 hooks",
            ));
        }
        ma.shared.stop.store(false, Ordering::Relaxed);
        mb.shared.stop.store(false, Ordering::Relaxed);
        let (sa, sb) = (ga.m.instruction_count(), gb.m.instruction_count());
        let (ia, ib): (&mut Inner, &mut Inner) = (&mut ga, &mut gb);
        let cable: &mut vx86_core::NetLink = &mut link;
        let r = py.detach(|| cable.step(&mut ia.m, &mut ib.m));
        ga.collect_output();
        gb.collect_output();
        for m in [ma, mb] {
            let raised = m.shared.error.lock().map(|mut e| e.take()).unwrap_or(None);
            if let Some(e) = raised {
                return Err(e);
            }
        }
        let (ea, eb) = r.py_err(py)?;
        crate::virtio::write_back(py, &mut ga)?;
        crate::virtio::write_back(py, &mut gb)?;
        Ok((exit(&ga, ea, sa), exit(&gb, eb, sb)))
    }

    /// Steps until `predicate()` (called with no arguments before the first step and after
    /// each one) is true; returns the number of steps taken. Raises LinkTimeout (with
    /// `steps`) if it is still false after `max_steps` steps.
    #[pyo3(signature = (predicate, max_steps = 10_000))]
    fn run_until(&self, py: Python<'_>, predicate: Py<PyAny>, max_steps: u64) -> PyResult<u64> {
        let mut steps = 0;
        loop {
            if predicate.call0(py)?.is_truthy(py)? {
                return Ok(steps);
            }
            if steps == max_steps {
                let msg = format!("the predicate stayed false for {steps} steps");
                let args = vec![msg.into_bound_py_any(py)?, steps.into_bound_py_any(py)?];
                return Err(errors::raise(py, "LinkTimeout", args));
            }
            self.step(py)?;
            steps += 1;
            py.check_signals()?;
        }
    }

    /// The first machine.
    #[getter]
    fn a(&self, py: Python<'_>) -> Py<Machine> {
        self.a.clone_ref(py)
    }

    /// The second machine.
    #[getter]
    fn b(&self, py: Python<'_>) -> Py<Machine> {
        self.b.clone_ref(py)
    }

    /// Frames delivered: (a to b, b to a).
    #[getter]
    fn delivered(&self, py: Python<'_>) -> PyResult<(u64, u64)> {
        Ok(self.state(py)?.delivered)
    }

    /// Frames that could not be delivered (the receiver had no virtio-net, or 256 frames
    /// already waited for its guest).
    #[getter]
    fn dropped(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.state(py)?.dropped)
    }

    /// The virtual time (ns) both machines have reached.
    #[getter]
    fn now_ns(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.state(py)?.now_ns)
    }

    /// Virtual time per step (ns).
    #[getter]
    fn quantum_ns(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.state(py)?.quantum_ns)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let l = self.state(py)?;
        Ok(format!(
            "<vx86.NetLink now_ns={} quantum_ns={} delivered={:?} dropped={}>",
            l.now_ns, l.quantum_ns, l.delivered, l.dropped
        ))
    }
}
