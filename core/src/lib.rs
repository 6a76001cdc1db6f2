//! `vx86-core`: the whole deterministic x86 machine.
//!
//! The crate owns the CPU (decoded with `iced-x86`, executed by an interpreter over a cache of
//! decoded basic blocks), guest physical memory, the port-I/O and MMIO buses and the devices.
//! It never touches host I/O, threads or the wall clock: a run is a pure function of the
//! configuration, the images and the inputs (see `DESIGN.md`, "Time and determinism").
//!
//! Start with [`Machine`]: build one from a [`MachineConfig`], load code with
//! [`Machine::load_flat`], and call [`Machine::run`] with an instruction budget.

pub mod bus;
pub mod cpu;
pub mod devices;
pub mod error;
pub mod loader;
pub mod machine;
pub mod memory;
pub mod mmu;
pub mod softfloat;
pub mod time;

pub use cpu::{CpuState, Exception, SegReg, Segment};
pub use error::VmError;
pub use loader::linux::KernelEntry;
pub mod hooks;
pub use machine::{
    first_difference, Checkpoint, Disk, DiskConfig, DiskImage, Divergence, ExitReason, Machine,
    MachineConfig, NetLink, RecordStart, Replay, ReplayStatus, SnapshotOptions, VirtioConfig,
    DEFAULT_CHECKPOINT_INTERVAL, DEFAULT_MAC, DEFAULT_QUANTUM_NS,
};
pub use memory::GuestMemory;
pub use vx86_snapshots;
