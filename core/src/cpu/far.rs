//! Protected-mode far transfers (SDM vol. 2, "JMP", "CALL", "RET", "IRET"; vol. 3A, 5.8
//! "Privilege level checking when transferring program control between code segments"):
//! jumps and calls to code segments and through call gates (with the stack switch from the TSS
//! and parameter copying for calls to a more privileged level), far returns to the same or an
//! outer level, and IRET in protected mode, including the return to virtual-8086 mode.
//!
//! Every transfer either completes or leaves the registers as they were (the state is saved
//! and restored around the multi-step ones); stack bytes written before a fault may remain,
//! as on hardware. Task gates and TSS targets switch tasks (`task.rs`).

use super::descriptor::{sys, Descriptor};
use super::exception::Exception;
use super::regs::mask;
use super::state::{attr, flag, reg, SegReg, Segment};
use super::task::TaskSwitch;
use super::Cpu;
use crate::bus::Bus;

/// How a far transfer reached the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transfer {
    /// JMP: no return address.
    Jump,
    /// CALL with an `S`-byte return frame.
    Call,
}

impl Cpu {
    /// Runs `f`; if it fails, restores the registers (not memory) as they were.
    pub(crate) fn atomically<T>(
        &mut self,
        f: impl FnOnce(&mut Cpu) -> Result<T, Exception>,
    ) -> Result<T, Exception> {
        let saved = (self.s, self.lazy, self.cpl, self.bounds);
        let r = f(self);
        if r.is_err() {
            (self.s, self.lazy, self.cpl, self.bounds) = saved;
        }
        r
    }

    /// Loads CS from a code descriptor at privilege `cpl` (the selector's RPL becomes CPL).
    fn enter_code(
        &mut self,
        bus: &mut Bus,
        d: Descriptor,
        addr: u32,
        selector: u16,
        cpl: u8,
        eip: u32,
    ) -> Result<(), Exception> {
        if eip > d.limit() {
            return Err(Exception::GeneralProtection(0));
        }
        self.mark_accessed(bus, d, addr)?;
        let cs = Descriptor(d.0 | 1 << 40).to_segment((selector & !3) | cpl as u16);
        self.s.segs[SegReg::Cs as usize] = cs;
        self.s.eip = eip;
        self.refresh_mode();
        self.stop_block = true;
        Ok(())
    }

    /// The stack for privilege `dpl` from the current TSS: (SS, ESP).
    pub(crate) fn tss_stack(&mut self, bus: &mut Bus, dpl: u8) -> Result<(u16, u32), Exception> {
        let tr = self.s.tr;
        let tss32 = tr.attr & 0x8 != 0;
        let (esp_off, ss_off, width) = if tss32 {
            (4 + dpl as u32 * 8, 8 + dpl as u32 * 8, 4)
        } else {
            (2 + dpl as u32 * 4, 4 + dpl as u32 * 4, 2)
        };
        if ss_off + 1 > tr.limit || esp_off + width - 1 > tr.limit {
            return Err(Exception::InvalidTss(tr.selector & !3));
        }
        let esp = if tss32 {
            self.read_sys::<4>(bus, tr.base.wrapping_add(esp_off))?
        } else {
            self.read_sys::<2>(bus, tr.base.wrapping_add(esp_off))?
        };
        let ss = self.read_sys::<2>(bus, tr.base.wrapping_add(ss_off))? as u16;
        Ok((ss, esp))
    }

    /// Validates a stack segment for privilege `dpl` during a privilege change; `fault`
    /// builds the exception for a bad selector (#TS on calls/interrupts, #GP on returns).
    pub(crate) fn stack_segment(
        &mut self,
        bus: &mut Bus,
        sel: u16,
        dpl: u8,
        fault: fn(u16) -> Exception,
    ) -> Result<(Descriptor, u32), Exception> {
        if sel & !3 == 0 {
            return Err(fault(0));
        }
        let (d, addr) = self
            .read_descriptor(bus, sel)
            .map_err(|_| fault(sel & !3))?;
        if (sel & 3) as u8 != dpl
            || d.dpl() != dpl
            || !d.is_code_or_data()
            || d.is_code()
            || !d.rw()
        {
            return Err(fault(sel & !3));
        }
        if !d.present() {
            return Err(Exception::StackFault(sel & !3));
        }
        Ok((d, addr))
    }

    /// Loads SS:ESP for a privilege change.
    pub(crate) fn switch_stack(
        &mut self,
        bus: &mut Bus,
        sel: u16,
        d: Descriptor,
        addr: u32,
        esp: u32,
    ) -> Result<(), Exception> {
        self.mark_accessed(bus, d, addr)?;
        self.set_segment(SegReg::Ss, Descriptor(d.0 | 1 << 40).to_segment(sel));
        self.s.regs[reg::ESP as usize] = esp;
        Ok(())
    }

    /// Far JMP or CALL to `selector:offset` in protected mode; `S` is the operand size.
    pub(crate) fn far_transfer<const S: usize>(
        &mut self,
        bus: &mut Bus,
        selector: u16,
        offset: u32,
        how: Transfer,
    ) -> Result<(), Exception> {
        self.atomically(|cpu| cpu.far_transfer_inner::<S>(bus, selector, offset, how))
    }

    fn far_transfer_inner<const S: usize>(
        &mut self,
        bus: &mut Bus,
        selector: u16,
        offset: u32,
        how: Transfer,
    ) -> Result<(), Exception> {
        if selector & !3 == 0 {
            return Err(Exception::GeneralProtection(0));
        }
        let cpl = self.cpl;
        let rpl = (selector & 3) as u8;
        let err = selector & !3;
        let (d, addr) = self.read_descriptor(bus, selector)?;
        let ret_cs = self.s.segs[SegReg::Cs as usize].selector as u32;
        let ret_eip = self.s.eip;
        if d.is_code() {
            let ok = if d.is_conforming() {
                d.dpl() <= cpl
            } else {
                rpl <= cpl && d.dpl() == cpl
            };
            if !ok {
                return Err(Exception::GeneralProtection(err));
            }
            if !d.present() {
                return Err(Exception::SegmentNotPresent(err));
            }
            if how == Transfer::Call {
                self.push::<S>(bus, ret_cs)?;
                self.push::<S>(bus, ret_eip)?;
            }
            return self.enter_code(bus, d, addr, selector, cpl, offset & mask::<S>());
        }
        if d.is_code_or_data() {
            return Err(Exception::GeneralProtection(err));
        }
        match d.typ() {
            sys::CALL_GATE16 | sys::CALL_GATE32 => {}
            sys::TASK_GATE | sys::TSS16_AVAILABLE | sys::TSS32_AVAILABLE => {
                if d.dpl() < cpl || d.dpl() < rpl {
                    return Err(Exception::GeneralProtection(err));
                }
                if !d.present() {
                    return Err(Exception::SegmentNotPresent(err));
                }
                let tss = if d.typ() == sys::TASK_GATE {
                    d.gate_selector()
                } else {
                    selector
                };
                let how = if how == Transfer::Call {
                    TaskSwitch::Call
                } else {
                    TaskSwitch::Jump
                };
                return self.task_switch_inner(bus, tss, how);
            }
            _ => return Err(Exception::GeneralProtection(err)),
        }
        // Call gate.
        if d.dpl() < cpl || d.dpl() < rpl {
            return Err(Exception::GeneralProtection(err));
        }
        if !d.present() {
            return Err(Exception::SegmentNotPresent(err));
        }
        let target = d.gate_selector();
        if target & !3 == 0 {
            return Err(Exception::GeneralProtection(0));
        }
        let (t, taddr) = self.read_descriptor(bus, target)?;
        let terr = target & !3;
        if !t.is_code()
            || t.dpl() > cpl
            || (how == Transfer::Jump && !t.is_conforming() && t.dpl() != cpl)
        {
            return Err(Exception::GeneralProtection(terr));
        }
        if !t.present() {
            return Err(Exception::SegmentNotPresent(terr));
        }
        let gate32 = d.typ() == sys::CALL_GATE32;
        let eip = d.gate_offset();
        if how == Transfer::Jump {
            return self.enter_code(bus, t, taddr, target, cpl, eip);
        }
        if !t.is_conforming() && t.dpl() < cpl {
            // More privileged: new stack from the TSS, then old SS:ESP, the parameters, CS:EIP.
            let new_cpl = t.dpl();
            let (ss_sel, esp) = self.tss_stack(bus, new_cpl)?;
            let (ssd, ssaddr) = self.stack_segment(bus, ss_sel, new_cpl, Exception::InvalidTss)?;
            let old_ss = self.s.segs[SegReg::Ss as usize].selector as u32;
            let old_esp = self.s.regs[reg::ESP as usize];
            let params = d.gate_params();
            let mut copied = Vec::with_capacity(params as usize);
            for i in 0..params {
                let v = if gate32 {
                    self.stack_peek::<4>(bus, i * 4)?
                } else {
                    self.stack_peek::<2>(bus, i * 2)?
                };
                copied.push(v);
            }
            self.switch_stack(bus, ss_sel, ssd, ssaddr, esp)?;
            self.cpl = new_cpl; // pushes to the new stack are made at the new privilege
            let mut push = |cpu: &mut Cpu, v: u32| {
                if gate32 {
                    cpu.push::<4>(bus, v)
                } else {
                    cpu.push::<2>(bus, v)
                }
            };
            push(self, old_ss)?;
            push(self, old_esp)?;
            for &v in copied.iter().rev() {
                push(self, v)?;
            }
            push(self, ret_cs)?;
            push(self, ret_eip)?;
            return self.enter_code(bus, t, taddr, target, new_cpl, eip);
        }
        if gate32 {
            self.push::<4>(bus, ret_cs)?;
            self.push::<4>(bus, ret_eip)?;
        } else {
            self.push::<2>(bus, ret_cs)?;
            self.push::<2>(bus, ret_eip)?;
        }
        self.enter_code(bus, t, taddr, target, cpl, eip)
    }

    /// Checks the code segment a far return or IRET goes back to; returns its descriptor.
    fn return_code_segment(
        &mut self,
        bus: &mut Bus,
        sel: u16,
    ) -> Result<(Descriptor, u32), Exception> {
        if sel & !3 == 0 {
            return Err(Exception::GeneralProtection(0));
        }
        let err = sel & !3;
        let (d, addr) = self.read_descriptor(bus, sel)?;
        let rpl = (sel & 3) as u8;
        if !d.is_code() || rpl < self.cpl {
            return Err(Exception::GeneralProtection(err));
        }
        let ok = if d.is_conforming() {
            d.dpl() <= rpl
        } else {
            d.dpl() == rpl
        };
        if !ok {
            return Err(Exception::GeneralProtection(err));
        }
        if !d.present() {
            return Err(Exception::SegmentNotPresent(err));
        }
        Ok((d, addr))
    }

    /// After a return to an outer level: data segment registers the new level may not use
    /// are made null (SDM "RET": "FOR each of segment register (ES, FS, GS, and DS)").
    fn drop_inaccessible_segments(&mut self) {
        for seg in [SegReg::Es, SegReg::Ds, SegReg::Fs, SegReg::Gs] {
            let s = self.s.segs[seg as usize];
            let dpl = ((s.attr >> 5) & 3) as u8;
            let data_or_nonconforming = s.attr & attr::CODE == 0 || s.attr & 0x4 == 0;
            if s.attr & attr::P != 0 && data_or_nonconforming && dpl < self.cpl {
                self.set_segment(seg, Segment::NULL);
            }
        }
    }

    /// Far RET (`release` bytes of parameters) in protected mode.
    pub(crate) fn far_return<const S: usize>(
        &mut self,
        bus: &mut Bus,
        release: u32,
    ) -> Result<(), Exception> {
        self.atomically(|cpu| {
            let eip = cpu.stack_peek::<S>(bus, 0)?;
            let sel = cpu.stack_peek::<S>(bus, S as u32)? as u16;
            let (d, addr) = cpu.return_code_segment(bus, sel)?;
            let rpl = (sel & 3) as u8;
            if rpl == cpu.cpl {
                cpu.enter_code(bus, d, addr, sel, rpl, eip & mask::<S>())?;
                cpu.set_sp(cpu.sp_offset(2 * S as u32 + release));
                return Ok(());
            }
            let esp = cpu.stack_peek::<S>(bus, 2 * S as u32 + release)?;
            let ss = cpu.stack_peek::<S>(bus, 3 * S as u32 + release)? as u16;
            let (ssd, ssaddr) = cpu.stack_segment(bus, ss, rpl, Exception::GeneralProtection)?;
            cpu.enter_code(bus, d, addr, sel, rpl, eip & mask::<S>())?;
            cpu.switch_stack(bus, ss, ssd, ssaddr, esp)?;
            if !cpu.stack32() {
                cpu.s.regs[reg::ESP as usize] &= 0xFFFF;
            }
            cpu.set_sp(cpu.sp_offset(release));
            cpu.drop_inaccessible_segments();
            Ok(())
        })
    }

    /// EFLAGS bits an IRET/POPF at the current privilege may change (SDM "POPF", "IRET").
    pub(crate) fn writable_flags<const S: usize>(&self) -> u32 {
        let mut m = flag::ARITH | flag::TF | flag::DF | flag::NT;
        if S == 4 {
            m |= flag::AC | flag::ID;
        }
        let iopl = ((self.s.eflags & flag::IOPL) >> 12) as u8;
        if self.cpl <= iopl {
            m |= flag::IF;
        }
        if self.cpl == 0 {
            m |= flag::IOPL;
        }
        m
    }

    /// IRET/IRETD in protected mode (not from V86 mode, which the caller handles).
    pub(crate) fn iret_protected<const S: usize>(
        &mut self,
        bus: &mut Bus,
    ) -> Result<(), Exception> {
        if self.s.eflags & flag::NT != 0 {
            let link = self.read_sys::<2>(bus, self.s.tr.base)? as u16;
            return self.task_switch(bus, link, TaskSwitch::Return);
        }
        self.atomically(|cpu| {
            let eip = cpu.stack_peek::<S>(bus, 0)?;
            let sel = cpu.stack_peek::<S>(bus, S as u32)? as u16;
            let fl = cpu.stack_peek::<S>(bus, 2 * S as u32)?;
            if S == 4 && fl & flag::VM != 0 && cpu.cpl == 0 {
                return cpu.iret_to_v86(bus, eip, sel, fl);
            }
            let (d, addr) = cpu.return_code_segment(bus, sel)?;
            let rpl = (sel & 3) as u8;
            let writable = cpu.writable_flags::<S>();
            let same = rpl == cpu.cpl;
            let outer = if same {
                None
            } else {
                let esp = cpu.stack_peek::<S>(bus, 3 * S as u32)?;
                let ss = cpu.stack_peek::<S>(bus, 4 * S as u32)? as u16;
                Some((
                    esp,
                    ss,
                    cpu.stack_segment(bus, ss, rpl, Exception::GeneralProtection)?,
                ))
            };
            cpu.enter_code(bus, d, addr, sel, rpl, eip & mask::<S>())?;
            cpu.commit_flags();
            cpu.s.eflags = (cpu.s.eflags & !writable & !flag::RF) | (fl & writable) | flag::FIXED1;
            cpu.refresh_alignment_check();
            match outer {
                None => cpu.set_sp(cpu.sp_offset(3 * S as u32)),
                Some((esp, ss, (ssd, ssaddr))) => {
                    cpu.switch_stack(bus, ss, ssd, ssaddr, esp)?;
                    if !cpu.stack32() {
                        cpu.s.regs[reg::ESP as usize] &= 0xFFFF;
                    }
                    cpu.drop_inaccessible_segments();
                }
            }
            cpu.stop_block = true;
            Ok(())
        })
    }

    /// IRETD from CPL 0 to virtual-8086 mode: pops ESP, SS, ES, DS, FS, GS after EIP, CS, EFLAGS.
    fn iret_to_v86(&mut self, bus: &mut Bus, eip: u32, cs: u16, fl: u32) -> Result<(), Exception> {
        let mut v = [0u32; 6];
        for (i, x) in v.iter_mut().enumerate() {
            *x = self.stack_peek::<4>(bus, 12 + 4 * i as u32)?;
        }
        let [esp, ss, es, ds, fs, gs] = v;
        self.commit_flags();
        self.s.eflags = (fl & !(flag::RF)) | flag::VM | flag::FIXED1;
        self.refresh_mode();
        for (seg, sel) in [
            (SegReg::Cs, cs),
            (SegReg::Ss, ss as u16),
            (SegReg::Es, es as u16),
            (SegReg::Ds, ds as u16),
            (SegReg::Fs, fs as u16),
            (SegReg::Gs, gs as u16),
        ] {
            self.load_seg(bus, seg, sel)?;
        }
        self.s.eip = eip & 0xFFFF;
        self.s.regs[reg::ESP as usize] = esp;
        self.stop_block = true;
        Ok(())
    }
}
