//! Debug-register breakpoints (SDM vol. 3A, 18.2 "Debug registers", 18.3.1 "Debug exception
//! (#DB)"): instruction breakpoints (a fault before the instruction, suppressed by EFLAGS.RF)
//! and data write / read-write breakpoints (a trap after the accessing instruction), with the
//! B0-B3 bits reported in DR6. Breakpoint lengths are 1, 2 or 4 bytes (8 is undefined on
//! 32-bit processors and treated as 4). Left out: I/O breakpoints (they need CR4.DE, not
//! advertised) and general-detect (DR7.GD).

use super::exception::Exception;
use super::state::flag;
use super::Cpu;

/// DR7 condition for breakpoint `i`: 0 execute, 1 write, 3 read/write.
fn condition(dr7: u32, i: usize) -> u32 {
    (dr7 >> (16 + 4 * i)) & 3
}

/// Breakpoint `i`'s length in bytes.
fn length(dr7: u32, i: usize) -> u32 {
    match (dr7 >> (18 + 4 * i)) & 3 {
        0 => 1,
        1 => 2,
        _ => 4,
    }
}

fn enabled(dr7: u32, i: usize) -> bool {
    dr7 & (3 << (2 * i)) != 0
}

impl Cpu {
    /// Recomputes which kinds of breakpoints are armed (after DR7 changes).
    pub(crate) fn refresh_debug(&mut self) {
        let dr7 = self.s.dr[7];
        self.dr_exec = (0..4).any(|i| enabled(dr7, i) && condition(dr7, i) == 0);
        self.dr_data = (0..4).any(|i| enabled(dr7, i) && matches!(condition(dr7, i), 1 | 3));
        self.access_checks = self.ac_check || self.dr_data;
    }

    /// An instruction breakpoint on the instruction at CS:EIP: the #DB fault to raise, with
    /// DR6 updated. EFLAGS.RF set suppresses it (and is cleared here for the next one).
    pub(crate) fn exec_breakpoint(&mut self) -> Option<Exception> {
        if self.s.eflags & flag::RF != 0 {
            self.s.eflags &= !flag::RF;
            return None;
        }
        let lin = self.s.segs[super::state::SegReg::Cs as usize]
            .base
            .wrapping_add(self.s.eip);
        let dr7 = self.s.dr[7];
        let hits = (0..4)
            .filter(|&i| enabled(dr7, i) && condition(dr7, i) == 0 && self.s.dr[i] == lin)
            .fold(0u32, |m, i| m | 1 << i);
        if hits == 0 {
            return None;
        }
        self.s.dr[6] = (self.s.dr[6] & !0xF) | hits;
        Some(Exception::Debug)
    }

    /// Records data breakpoints hit by an access of `n` bytes at `lin`.
    #[cold]
    pub(crate) fn data_breakpoint(&mut self, lin: u32, n: u32, write: bool) {
        let dr7 = self.s.dr[7];
        for i in 0..4 {
            let c = condition(dr7, i);
            if !enabled(dr7, i) || !(c == 3 || (c == 1 && write)) {
                continue;
            }
            let len = length(dr7, i);
            let start = self.s.dr[i] & !(len - 1);
            let overlaps = lin < start.wrapping_add(len) && start < lin.wrapping_add(n);
            if overlaps {
                self.dr_hits |= 1 << i;
                self.stop_block = true;
            }
        }
    }

    /// After an instruction: the #DB trap for data breakpoints it hit, with DR6 updated.
    pub(crate) fn take_data_breakpoints(&mut self) -> Option<Exception> {
        if self.dr_hits == 0 {
            return None;
        }
        self.s.dr[6] = (self.s.dr[6] & !0xF) | std::mem::take(&mut self.dr_hits);
        Some(Exception::Debug)
    }
}
