//! `Machine.translate(address)`: the page walk as data (the entries read, outermost first, and
//! the outcome), computed without side effects.

use pyo3::prelude::*;
use vx86_core::mmu::{Walk as CoreWalk, WalkFault};

/// One paging-structure entry read by a walk.
#[pyclass(frozen, get_all, skip_from_py_object, module = "vx86")]
#[derive(Clone)]
pub struct WalkStep {
    /// 3 = PDPTE, 2 = PDE, 1 = PTE (32-bit paging: 2 = PDE, 1 = PTE).
    pub level: u8,
    /// Physical address of the entry.
    pub entry_address: u64,
    /// The entry's value.
    pub entry: u64,
}

#[pymethods]
impl WalkStep {
    fn __repr__(&self) -> String {
        format!(
            "<WalkStep level={} entry_address={:#x} entry={:#x}>",
            self.level, self.entry_address, self.entry
        )
    }
}

/// The translation of a linear address as the CPU would do it now.
#[pyclass(frozen, get_all, module = "vx86")]
pub struct Walk {
    /// The linear address translated.
    pub address: u32,
    /// The entries read, outermost first (empty with paging off).
    pub steps: Vec<WalkStep>,
    /// The physical address, or None if the walk faulted.
    pub physical: Option<u64>,
    /// None, "not_present" or "reserved" (a reserved bit set in an entry).
    pub fault: Option<&'static str>,
    /// The page size (4096, 2 MiB or 4 MiB), when mapped.
    pub page_size: Option<u32>,
    /// Writable at every level.
    pub writable: bool,
    /// User-accessible at every level.
    pub user: bool,
    /// Execute-disabled at some level (with EFER.NXE).
    pub no_exec: bool,
    /// The leaf entry is global.
    pub global_: bool,
    /// The leaf's Dirty bit is set.
    pub dirty: bool,
}

impl Walk {
    pub(crate) fn from_core(address: u32, w: &CoreWalk) -> Self {
        let steps = w
            .entries()
            .iter()
            .map(|s| WalkStep {
                level: s.level,
                entry_address: s.entry_addr,
                entry: s.entry,
            })
            .collect();
        match w.outcome {
            Ok(t) => Self {
                address,
                steps,
                physical: Some(t.phys),
                fault: None,
                page_size: Some(t.page_size),
                writable: t.writable,
                user: t.user,
                no_exec: t.no_exec,
                global_: t.global,
                dirty: t.dirty,
            },
            Err(f) => Self {
                address,
                steps,
                physical: None,
                fault: Some(match f {
                    WalkFault::NotPresent => "not_present",
                    WalkFault::Reserved => "reserved",
                }),
                page_size: None,
                writable: false,
                user: false,
                no_exec: false,
                global_: false,
                dirty: false,
            },
        }
    }
}

#[pymethods]
impl Walk {
    fn __repr__(&self) -> String {
        let outcome = match (self.physical, self.fault) {
            (Some(p), _) => format!("physical={p:#x}"),
            (None, Some(f)) => format!("fault={f}"),
            _ => String::new(),
        };
        format!(
            "<Walk {:#010x} {} steps={}>",
            self.address,
            outcome,
            self.steps.len()
        )
    }
}
