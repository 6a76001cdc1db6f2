//! Python bindings of vx86 (`import vx86`), built with pyo3 and maturin (`pip install
//! ./bindings-python`). Thin by design (DESIGN.md, "Workspace"): every feature is in
//! `vx86-core`; this crate converts types, maps errors to the exceptions of
//! `python/vx86/errors.py`, releases the GIL while the guest runs and routes hook callbacks.
//!
//! Files: `machine.rs` (the `Machine` class and its run loop), `regs.rs` (`Machine.regs`),
//! `hooks.rs` (hooks with filters), `state.rs` (snapshots, checkpoints, restore),
//! `replay.rs` (record/replay), `walk.rs` (`translate`), `virtio.rs` (`Disk` and the virtio
//! devices' host ends), `link.rs` (`NetLink`), `args.rs` (argument conversion), `errors.rs`
//! (exceptions).

use pyo3::prelude::*;

mod args;
mod errors;
mod hooks;
mod link;
mod machine;
mod regs;
mod replay;
mod state;
mod virtio;
mod walk;

/// The native part of the `vx86` package (import `vx86`, not this).
#[pymodule]
fn _vx86(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<machine::Machine>()?;
    m.add_class::<machine::Exit>()?;
    m.add_class::<regs::Registers>()?;
    m.add_class::<regs::Segment>()?;
    m.add_class::<hooks::Hook>()?;
    m.add_class::<hooks::HookDecorator>()?;
    m.add_class::<state::Snapshot>()?;
    m.add_class::<state::Checkpoint>()?;
    m.add_class::<replay::Recording>()?;
    m.add_class::<replay::ReplayResult>()?;
    m.add_class::<walk::Walk>()?;
    m.add_class::<walk::WalkStep>()?;
    m.add_class::<virtio::Disk>()?;
    m.add_class::<link::NetLink>()?;
    m.add_function(wrap_pyfunction!(replay::replay, m)?)?;
    Ok(())
}
