//! Exception and interrupt delivery. Real mode (SDM vol. 3A, 20.1.4 "Interrupt and exception
//! handling"): the vector's 4-byte entry in the IVT (at IDTR.base, bounded by IDTR.limit) gives
//! CS:IP; FLAGS, CS and IP are pushed; IF, TF and AC are cleared. A fault while delivering is
//! combined with the first by the double-fault rules; a fault while delivering #DF shuts the
//! processor down (triple fault). Protected-mode delivery arrives with the protected-mode issue.

use super::exception::Exception;
use super::state::{flag, SegReg};
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
        if self.protected_mode() {
            return Err(self.unsupported(
                bus,
                "protected-mode interrupt delivery arrives with the protected-mode issue",
            ));
        }
        if let Exception::PageFault { addr, .. } = e {
            self.s.cr2 = addr;
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
}
