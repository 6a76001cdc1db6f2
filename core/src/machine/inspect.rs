//! Stepping, breakpoints, hooks and introspection: what a debugger or a test harness uses.
//!
//! Addresses for breakpoints and code hooks are linear (CS base + EIP), as the CPU fetches
//! them; `translate` shows the page walk from a linear address to a physical one without
//! side effects (no Accessed/Dirty updates, no TLB fill), and `read_virt`/`write_virt` access
//! memory through that walk with a debugger's rights (no permission checks).

use super::{ExitReason, Machine};
use crate::cpu::SegReg;
use crate::hooks::{HookEvent, Hooks};
use crate::mmu::{Translation, Walk, WalkStep};
use crate::VmError;

impl Machine {
    /// The hook registry: add and remove hooks (see [`crate::hooks`]).
    pub fn hooks(&mut self) -> &mut Hooks {
        &mut self.bus.hooks
    }

    /// The event that made the last run return [`ExitReason::Hooked`].
    pub fn last_hook_event(&self) -> Option<HookEvent> {
        self.last_hook
    }

    /// Stops runs before the instruction at linear address `linear` executes.
    pub fn add_breakpoint(&mut self, linear: u32) {
        self.breakpoints.insert(linear);
    }

    /// Removes a breakpoint; false if there was none.
    pub fn remove_breakpoint(&mut self, linear: u32) -> bool {
        self.breakpoints.remove(&linear)
    }

    /// The breakpoints, ascending.
    pub fn breakpoints(&self) -> Vec<u32> {
        self.breakpoints.iter().copied().collect()
    }

    /// Reads model-specific register `index` as RDMSR would (the TSC as the guest sees it
    /// now); `None` for an MSR vx86 does not implement (RDMSR would raise #GP).
    pub fn read_msr(&self, index: u32) -> Option<u64> {
        self.cpu.read_msr(index, &self.bus).ok()
    }

    /// Writes model-specific register `index` as WRMSR would, with its checks: an MSR vx86
    /// does not implement or a value WRMSR would refuse (#GP) is a [`VmError::Config`] error
    /// and changes nothing.
    pub fn write_msr(&mut self, index: u32, value: u64) -> Result<(), VmError> {
        self.cpu
            .write_msr(index, value, &mut self.bus)
            .map_err(|_| {
                VmError::Config(format!(
                    "WRMSR {index:#x} <- {value:#x} would raise #GP (not implemented, or a \
                     reserved bit or invalid value)"
                ))
            })
    }

    /// Runs like [`Machine::run`], and also stops (with [`ExitReason::Breakpoint`]) before
    /// the instruction at linear address `until` if given.
    pub fn run_until(
        &mut self,
        max_instructions: u64,
        until: Option<u32>,
    ) -> Result<ExitReason, VmError> {
        let temporary = until.filter(|a| !self.breakpoints.contains(a));
        if let Some(a) = temporary {
            self.breakpoints.insert(a);
        }
        let r = self.run(max_instructions);
        if let Some(a) = temporary {
            self.breakpoints.remove(&a);
        }
        r
    }

    /// Before an instruction while breakpoints or code hooks exist: the exit reason if the
    /// run must stop here.
    pub(super) fn code_stop(&mut self) -> Option<ExitReason> {
        let eip = self.cpu.s.eip;
        let linear = self.cpu.s.segs[SegReg::Cs as usize].base.wrapping_add(eip);
        if self.breakpoints.contains(&linear) {
            return Some(ExitReason::Breakpoint);
        }
        if self.bus.hooks.any_code && self.bus.hooks.code(linear, eip) {
            self.last_hook = self.bus.hooks.stop.take();
            return Some(ExitReason::Hooked);
        }
        None
    }

    /// The translation of linear address `linear` as the CPU would do it now, with every
    /// paging-structure entry read. With paging off: no steps, and the physical address is
    /// the linear one (with the A20 mask applied).
    pub fn translate(&mut self, linear: u32) -> Walk {
        if !self.cpu.mmu.enabled {
            return Walk {
                steps: [WalkStep::default(); 3],
                len: 0,
                outcome: Ok(Translation {
                    phys: (linear & self.bus.a20_mask) as u64,
                    page_size: 4096,
                    writable: true,
                    user: true,
                    no_exec: false,
                    global: false,
                    dirty: true,
                }),
            };
        }
        let mode = self.cpu.mmu.mode;
        crate::mmu::walk::walk(&mut self.bus, &mode, linear)
    }

    /// Applies `f` to each page-sized piece of `len` bytes at `linear` with its physical
    /// address; a linear address that is not mapped is an error naming it.
    fn each_piece(
        &mut self,
        linear: u32,
        len: usize,
        mut f: impl FnMut(&mut Self, u64, std::ops::Range<usize>) -> Result<(), VmError>,
    ) -> Result<(), VmError> {
        let mut done = 0;
        while done < len {
            let lin = linear.wrapping_add(done as u32);
            let phys = match self.translate(lin).outcome {
                Ok(t) => t.phys,
                Err(_) => return Err(VmError::NotMapped(lin)),
            };
            let n = (4096 - (lin & 0xFFF) as usize).min(len - done);
            f(self, phys, done..done + n)?;
            done += n;
        }
        Ok(())
    }

    /// Reads guest memory at a linear address through the page tables (debugger access:
    /// no permission checks, no Accessed bits set). RAM only.
    pub fn read_virt(&mut self, linear: u32, buf: &mut [u8]) -> Result<(), VmError> {
        let len = buf.len();
        self.each_piece(linear, len, |m, phys, r| m.bus.mem.read(phys, &mut buf[r]))
    }

    /// Writes guest memory at a linear address through the page tables (debugger access; code
    /// decoded from the written pages is dropped, as for any host write). RAM only.
    pub fn write_virt(&mut self, linear: u32, data: &[u8]) -> Result<(), VmError> {
        self.each_piece(linear, data.len(), |m, phys, r| {
            m.bus.mem.write(phys, &data[r])
        })
    }
}

#[cfg(test)]
#[path = "inspect_tests.rs"]
mod tests;

/// Whether a breakpoint or a code hook is on a linear address in `first..=last` (`first >
/// last`: the range wraps around 4 GiB): the run loop then runs that block one instruction at
/// a time so each is checked before it runs.
pub(super) fn code_watched(
    breakpoints: &std::collections::BTreeSet<u32>,
    hooks: &Hooks,
    first: u32,
    last: u32,
) -> bool {
    let bp = if first <= last {
        breakpoints.range(first..=last).next().is_some()
    } else {
        breakpoints.range(first..).next().is_some() || breakpoints.range(..=last).next().is_some()
    };
    bp || (hooks.any_code && hooks.code_in(first, last))
}
