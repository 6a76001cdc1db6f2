//! Exception and interrupt delivery. Real mode (SDM vol. 3A, 20.1.4 "Interrupt and exception
//! handling"): the vector's 4-byte entry in the IVT (at IDTR.base, bounded by IDTR.limit) gives
//! CS:IP; FLAGS, CS and IP are pushed; IF, TF and AC are cleared. A fault while delivering is
//! combined with the first by the double-fault rules; a fault while delivering #DF shuts the
//! processor down (triple fault).
//!
//! Protected mode (SDM vol. 3A, 6.10-6.13): a task gate switches tasks (`task.rs`); an
//! interrupt or trap gate names a code segment; a non-conforming segment of higher privilege
//! gets the stack from the TSS (SS, ESP, EFLAGS, CS, EIP, error code pushed there), otherwise
//! EFLAGS, CS, EIP and the error code go on the current stack. From virtual-8086 mode the
//! handler must be at privilege 0 and GS, FS, DS, ES are pushed too and cleared. Interrupt
//! gates clear IF; both gate kinds clear TF, NT, RF and VM.

use super::descriptor::{sys, Descriptor};
use super::exception::Exception;
use super::state::{flag, reg, SegReg, Segment};
use super::task::TaskSwitch;
use super::Cpu;
use crate::bus::Bus;

/// Delivery could not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeliveryFailure {
    /// A fault while delivering a double fault.
    TripleFault,
    /// Delivery needs a feature vx86 does not have yet (see `Cpu::unsupported`).
    Unsupported,
}

impl Cpu {
    /// Delivers `e` (EIP must already be the address to return to).
    pub(crate) fn deliver(&mut self, bus: &mut Bus, e: Exception) -> Result<(), DeliveryFailure> {
        let mut current = e;
        // Each round either succeeds, escalates towards #DF/shutdown, or replaces a benign
        // exception with the fault it caused; a handful of rounds always suffices.
        for _ in 0..4 {
            match self.deliver_once(bus, current) {
                Ok(()) => return Ok(()),
                Err(Exception::Unsupported) => return Err(DeliveryFailure::Unsupported),
                Err(second) => {
                    if current == Exception::DoubleFault {
                        return Err(DeliveryFailure::TripleFault);
                    }
                    if current.is_trap() {
                        // INT n / INT3 / INTO whose delivery faults: the fault belongs to the
                        // instruction, so it returns to the instruction, not past it.
                        self.s.eip = self.insn_eip;
                    }
                    current = if current.makes_double_fault(second) {
                        Exception::DoubleFault
                    } else {
                        second
                    };
                }
            }
        }
        Err(DeliveryFailure::TripleFault)
    }

    fn deliver_once(&mut self, bus: &mut Bus, e: Exception) -> Result<(), Exception> {
        if let Exception::PageFault { addr, .. } = e {
            self.s.cr2 = addr;
        }
        if self.protected_mode() {
            return self.atomically(|cpu| cpu.deliver_protected(bus, e));
        }
        let v = e.vector() as u32;
        if v * 4 + 3 > self.s.idtr.limit as u32 {
            return Err(Exception::GeneralProtection((v * 8 + 2) as u16));
        }
        let entry = self.s.idtr.base.wrapping_add(v * 4);
        let ip = bus.read::<2>(entry);
        let cs = bus.read::<2>(entry.wrapping_add(2)) as u16;
        let old_sp = self.s.regs[super::state::reg::ESP as usize];
        let frame = [
            self.flags(),
            self.s.segs[SegReg::Cs as usize].selector as u32,
            self.s.eip,
        ];
        for v in frame {
            if let Err(f) = self.push::<2>(bus, v) {
                self.s.regs[super::state::reg::ESP as usize] = old_sp;
                return Err(f);
            }
        }
        self.commit_flags();
        self.s.eflags &= !(flag::IF | flag::TF | flag::AC | flag::RF);
        self.load_seg(bus, SegReg::Cs, cs)?;
        self.s.eip = ip;
        self.stop_block = true;
        Ok(())
    }

    fn deliver_protected(&mut self, bus: &mut Bus, e: Exception) -> Result<(), Exception> {
        let software = e.is_trap();
        let ext: u16 = if software { 0 } else { 1 };
        let v = e.vector() as u32;
        let idt_err = (v * 8 + 2) as u16 | ext;
        if v * 8 + 7 > self.s.idtr.limit as u32 {
            return Err(Exception::GeneralProtection(idt_err));
        }
        let at = self.s.idtr.base.wrapping_add(v * 8);
        let gate = Descriptor(
            self.read_sys::<4>(bus, at)? as u64
                | (self.read_sys::<4>(bus, at.wrapping_add(4))? as u64) << 32,
        );
        let typ = gate.typ();
        if gate.is_code_or_data()
            || !matches!(
                typ,
                sys::TASK_GATE
                    | sys::INT_GATE16
                    | sys::TRAP_GATE16
                    | sys::INT_GATE32
                    | sys::TRAP_GATE32
            )
        {
            return Err(Exception::GeneralProtection(idt_err));
        }
        let vm = self.s.eflags & flag::VM != 0;
        // INT n, INT3, INTO check the gate's privilege (from V86 mode INT n needs IOPL 3,
        // checked by the instruction).
        if software && gate.dpl() < self.cpl {
            return Err(Exception::GeneralProtection(idt_err));
        }
        if !gate.present() {
            return Err(Exception::SegmentNotPresent(idt_err));
        }
        if typ == sys::TASK_GATE {
            self.task_switch_inner(bus, gate.gate_selector(), TaskSwitch::Call)?;
            if let Some(code) = e.error_code() {
                // pushed on the new task's stack, with its stack size
                if self.stack32() {
                    self.push::<4>(bus, code as u32)?;
                } else {
                    self.push::<2>(bus, code as u32)?;
                }
            }
            return Ok(());
        }
        let sel = gate.gate_selector();
        if sel & !3 == 0 {
            return Err(Exception::GeneralProtection(ext));
        }
        let (d, addr) = self
            .read_descriptor(bus, sel)
            .map_err(|_| Exception::GeneralProtection((sel & !3) | ext))?;
        if !d.is_code() || d.dpl() > self.cpl {
            return Err(Exception::GeneralProtection((sel & !3) | ext));
        }
        if !d.present() {
            return Err(Exception::SegmentNotPresent((sel & !3) | ext));
        }
        let gate32 = typ & 0x8 != 0;
        let old_flags = self.flags();
        let old_cs = self.s.segs[SegReg::Cs as usize].selector as u32;
        let old_eip = self.s.eip;
        let old_ss = self.s.segs[SegReg::Ss as usize].selector as u32;
        let old_esp = self.s.regs[reg::ESP as usize];
        let inner = !d.is_conforming() && d.dpl() < self.cpl;
        if vm && !(inner && d.dpl() == 0) {
            return Err(Exception::GeneralProtection((sel & !3) | ext));
        }
        let new_cpl = if inner { d.dpl() } else { self.cpl };
        let mut frame: Vec<u32> = Vec::with_capacity(10);
        if inner {
            let (ss, esp) = self.tss_stack(bus, new_cpl)?;
            let (ssd, ssaddr) = self.stack_segment(bus, ss, new_cpl, Exception::InvalidTss)?;
            if vm {
                for seg in [SegReg::Gs, SegReg::Fs, SegReg::Ds, SegReg::Es] {
                    frame.push(self.s.segs[seg as usize].selector as u32);
                }
            }
            frame.extend([old_ss, old_esp]);
            self.commit_flags();
            self.s.eflags &= !flag::VM;
            self.refresh_mode();
            self.switch_stack(bus, ss, ssd, ssaddr, esp)?;
            if vm {
                for seg in [SegReg::Gs, SegReg::Fs, SegReg::Ds, SegReg::Es] {
                    self.set_segment(seg, Segment::NULL);
                }
            }
        }
        frame.extend([old_flags, old_cs, old_eip]);
        if let Some(code) = e.error_code() {
            frame.push(code as u32);
        }
        // Pushes happen at the handler's privilege.
        self.cpl = new_cpl;
        for v in frame {
            if gate32 {
                self.push::<4>(bus, v)?;
            } else {
                self.push::<2>(bus, v)?;
            }
        }
        self.commit_flags();
        self.s.eflags &= !(flag::TF | flag::NT | flag::RF | flag::VM);
        if typ == sys::INT_GATE16 || typ == sys::INT_GATE32 {
            self.s.eflags &= !flag::IF;
        }
        let cs = Descriptor(d.0 | 1 << 40);
        if gate.gate_offset() > cs.limit() {
            return Err(Exception::GeneralProtection(ext));
        }
        self.mark_accessed(bus, d, addr)?;
        self.s.segs[SegReg::Cs as usize] = cs.to_segment((sel & !3) | new_cpl as u16);
        self.s.eip = gate.gate_offset();
        self.refresh_mode();
        self.stop_block = true;
        Ok(())
    }
}
