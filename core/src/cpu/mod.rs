//! The x86 CPU: architectural state, lazy flags, memory access through segments, decoding with
//! `iced-x86` into cached blocks of micro-ops, and the instruction handlers in `exec/`.
//!
//! Scope today: everything a 386+ runs in real mode (SDM vol. 3A, 20.1 "Real-address mode
//! operation"), including 32-bit operands/addresses via 66/67 prefixes, FS/GS and the 486/P6
//! integer additions. Protected mode, paging and the x87 arrive with later issues; until then
//! entering protected mode or executing an x87 instruction with CR0.EM clear stops the run with
//! a clear `VmError::Unsupported`.

mod access;
mod block;
mod control;
mod cpuid;
mod debug;
mod decode;
mod decode_fp;
mod descriptor;
mod exception;
mod exec;
mod far;
mod flags;
mod interrupt;
mod linear;
mod msr;
pub mod named;
mod regs;
mod segment;
mod state;
mod task;
mod uop;
pub mod x87;

pub(crate) use block::Fetch;
pub use block::{BlockCache, BlockStats};
pub use descriptor::{sys, Descriptor};
pub use exception::Exception;
pub use flags::{LazyFlags, LazyKind};
pub(crate) use interrupt::DeliveryFailure;
pub use state::{attr, cr0, cr4, efer, flag, reg, CpuState, Msrs, SegReg, Segment, TableReg};

use crate::bus::Bus;
use crate::VmError;

/// The CPU: architectural state plus the interpreter's bookkeeping.
#[derive(Debug, Clone)]
pub struct Cpu {
    /// Pending arithmetic flags.
    pub(crate) lazy: LazyFlags,
    /// EIP of the instruction being executed.
    pub(crate) insn_eip: u32,
    /// The instruction count at which the current run slice ends (REP loops stop there).
    pub(crate) run_end: u64,
    /// Instructions retired since power-on (each REP iteration counts as one).
    pub(crate) icount: u64,
    /// Set by a handler when execution must leave the current block after it (mode change,
    /// HLT, descriptor-table change).
    pub(crate) stop_block: bool,
    /// Current privilege level (derived: see `refresh_mode`).
    pub(crate) cpl: u8,
    /// `ac_check || dr_data`: memory operands take the slow path through `check_access`.
    pub(crate) access_checks: bool,
    /// Alignment checking is on: CPL 3, CR0.AM and EFLAGS.AC (derived: see `refresh_mode`).
    pub(crate) ac_check: bool,
    /// An instruction breakpoint is armed in DR7 (derived: see `refresh_debug`).
    pub(crate) dr_exec: bool,
    /// A data breakpoint is armed in DR7 (derived).
    pub(crate) dr_data: bool,
    /// An external interrupt vector waiting for IF (the INTR line; the interrupt controllers
    /// of the platform set it).
    pub(crate) pending_irq: Option<u8>,
    /// Interrupts are inhibited for one instruction (after STI that set IF, MOV SS, POP SS).
    pub(crate) irq_shadow: bool,
    /// The instruction just run loaded SS (MOV SS / POP SS): besides interrupts, the
    /// single-step trap waits for the end of the next instruction.
    pub(crate) ss_shadow: bool,
    /// The processor shut down (triple fault); only a reset leaves this state.
    pub(crate) shutdown: bool,
    /// Data breakpoints hit by the current instruction (B0-B3).
    pub(crate) dr_hits: u32,
    /// Access bounds of each segment register (derived from the caches and the mode).
    pub(crate) bounds: [segment::Bounds; segment::BOUNDS_SLOTS],
    /// Architectural state; `s.eflags` arithmetic bits are stale while `lazy.kind != None`.
    pub(crate) s: CpuState,
    /// Paging and the TLB.
    pub(crate) mmu: crate::mmu::Mmu,
    /// Why the last `Exception::Unsupported` was raised.
    pub(crate) unsupported: Option<VmError>,
}

impl Cpu {
    /// A CPU in the given state.
    pub fn new(state: CpuState) -> Self {
        let mut cpu = Self {
            s: state,
            lazy: LazyFlags::default(),
            cpl: 0,
            ac_check: false,
            access_checks: false,
            dr_exec: false,
            dr_data: false,
            dr_hits: 0,
            bounds: [segment::Bounds::NO_SEGMENT; segment::BOUNDS_SLOTS],
            mmu: crate::mmu::Mmu::default(),
            icount: 0,
            run_end: 0,
            stop_block: false,
            insn_eip: state.eip,
            shutdown: false,
            pending_irq: None,
            irq_shadow: false,
            ss_shadow: false,
            unsupported: None,
        };
        cpu.set_state(state);
        cpu
    }

    /// The architectural state with EFLAGS materialised.
    pub fn state(&self) -> CpuState {
        let mut s = self.s;
        s.eflags = self.flags();
        s
    }

    /// Replaces the architectural state.
    pub fn set_state(&mut self, s: CpuState) {
        self.s = s;
        self.s.eflags = (s.eflags | flag::FIXED1) & !(1 << 3 | 1 << 5 | 1 << 15 | 0xFFC0_0000);
        self.lazy.kind = LazyKind::None;
        self.sync_paging();
        self.refresh_mode();
        self.refresh_debug();
    }

    /// Instructions retired since power-on.
    pub fn instruction_count(&self) -> u64 {
        self.icount
    }

    /// Whether the CPU is in protected mode (CR0.PE).
    #[inline]
    pub fn protected_mode(&self) -> bool {
        self.s.cr0 & cr0::PE != 0
    }

    /// Mask applied to EIP after each instruction: 16 bits for a 16-bit code segment.
    #[inline]
    pub(crate) fn ip_mask(&self) -> u32 {
        if self.s.segs[SegReg::Cs as usize].is_32() {
            u32::MAX
        } else {
            0xFFFF
        }
    }

    /// Records an unsupported-instruction error and returns the exception that carries it out.
    pub(crate) fn unsupported(&mut self, bus: &mut Bus, reason: &'static str) -> Exception {
        let start_eip = self.insn_eip;
        let cs = self.s.segs[SegReg::Cs as usize];
        // the instruction's bytes through the TLB (its page was just fetched); bytes on a
        // page the TLB does not hold are shown as zeros
        let mut bytes = [0u8; 15];
        for (i, b) in bytes.iter_mut().enumerate() {
            let lin = cs.base.wrapping_add(start_eip.wrapping_add(i as u32));
            if let Some(p) = self.mmu.peek(lin) {
                *b = bus.read_u8(p);
            }
        }
        let (mnemonic, len) = decode::describe(&bytes, self.bitness(), start_eip);
        self.unsupported = Some(VmError::Unsupported {
            cs: cs.selector,
            eip: start_eip,
            bytes: bytes[..len.max(1)]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" "),
            mnemonic,
            reason,
        });
        Exception::Unsupported
    }

    /// #GP(0) unless CPL is 0 (privileged instructions; V86 mode runs at CPL 3).
    #[inline]
    pub(crate) fn require_cpl0(&self) -> Result<(), Exception> {
        if self.cpl == 0 {
            Ok(())
        } else {
            Err(Exception::GeneralProtection(0))
        }
    }

    /// Decoder bitness for the current code segment.
    #[inline]
    pub(crate) fn bitness(&self) -> u32 {
        if self.s.segs[SegReg::Cs as usize].is_32() {
            32
        } else {
            16
        }
    }
}

/// How a run of a block ended.
pub(crate) enum BlockExit {
    /// Normally (end of block, branch, budget, or a handler asked to stop).
    Done,
    /// An instruction raised an exception; EIP is set for delivery.
    Exception(Exception),
}

impl Cpu {
    /// Runs the micro-ops of `block` from its start until the instruction count reaches
    /// `end` (> the current count). `icount` advances per instruction, so RDTSC and the like
    /// see the exact count.
    #[inline]
    pub(crate) fn run_block(&mut self, bus: &mut Bus, block: &block::Block, end: u64) -> BlockExit {
        let ip_mask = self.ip_mask();
        self.stop_block = false;
        self.run_end = end;
        // Blocks end exactly where an event is due, so where a run is sliced never changes
        // when timers fire or interrupts are taken (the determinism contract).
        // An interrupt already waiting with IF set is taken after the first instruction, one
        // raised during the block after the instruction that raised it (`Bus::block_end`);
        // the instructions that set IF end the block.
        bus.block_end = if bus.intr && self.s.eflags & flag::IF != 0 {
            self.icount + 1
        } else {
            end.min(bus.timer_icount.max(self.icount + 1))
        };
        for u in &block.uops {
            let start = self.s.eip;
            let next = start.wrapping_add(u.len as u32) & ip_mask;
            // where the block goes on: the next instruction, or a followed jump's target
            let expected = start.wrapping_add(u.advance) & ip_mask;
            self.insn_eip = start;
            self.s.eip = next;
            bus.icount = self.icount;
            let r = (u.run)(self, bus, u);
            self.icount += 1;
            if let Err(e) = r {
                if !e.is_trap() {
                    self.s.eip = start;
                }
                return BlockExit::Exception(e);
            }
            if self.stop_block || self.s.eip != expected || self.icount >= bus.block_end {
                break;
            }
        }
        if let Some(e) = self.take_data_breakpoints() {
            return BlockExit::Exception(e);
        }
        BlockExit::Done
    }
}
