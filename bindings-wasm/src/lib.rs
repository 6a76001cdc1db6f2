//! WebAssembly bindings of vx86 (wasm-bindgen): the JS `Machine` class for browsers (run it
//! in a Web Worker) and Node. Built by `bindings-wasm/build.sh` into `pkg-web` and
//! `pkg-node`; TypeScript types come with them. Thin by design (DESIGN.md, "Workspace"): every
//! feature is in `vx86-core`.
//!
//! Files: `machine.rs` (the class, its run loop, memory, serial), `regs.rs` (`regs`),
//! `hooks.rs` (hooks with filters), `state.rs` (snapshots, checkpoints, record/replay,
//! `translate`), `virtio.rs` (the virtio devices' options and host ends, `NetLink`),
//! `convert.rs` (JS values and errors).

mod convert;
mod hooks;
mod machine;
mod regs;
mod state;
mod virtio;

pub use hooks::Hook;
pub use machine::Machine;
pub use regs::Registers;
pub use state::Checkpoint;
pub use virtio::NetLink;
