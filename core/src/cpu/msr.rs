//! Model-specific registers (SDM vol. 4, table 2-2 "IA-32 architectural MSRs"): the ones vx86
//! implements, each matching a CPUID feature it advertises. Anything else raises #GP(0), as a
//! processor does for an MSR it does not have.

use super::exception::Exception;
use super::Cpu;
use crate::bus::Bus;

/// IA32_TIME_STAMP_COUNTER.
pub const TSC: u32 = 0x10;
/// IA32_APIC_BASE (only with a local APIC).
pub const APIC_BASE: u32 = 0x1B;
/// IA32_SYSENTER_CS.
pub const SYSENTER_CS: u32 = 0x174;
/// IA32_SYSENTER_ESP.
pub const SYSENTER_ESP: u32 = 0x175;
/// IA32_SYSENTER_EIP.
pub const SYSENTER_EIP: u32 = 0x176;
/// IA32_PAT.
pub const PAT: u32 = 0x277;
/// IA32_EFER.
pub const EFER: u32 = 0xC000_0080;

impl Cpu {
    /// Reads an MSR.
    pub(crate) fn read_msr(&self, n: u32, bus: &Bus) -> Result<u64, Exception> {
        let m = &self.s.msr;
        Ok(match n {
            TSC => self.tsc(&bus.clock),
            APIC_BASE => bus.apic_base_msr().ok_or(Exception::GeneralProtection(0))?,
            SYSENTER_CS => m.sysenter_cs as u64,
            SYSENTER_ESP => m.sysenter_esp as u64,
            SYSENTER_EIP => m.sysenter_eip as u64,
            PAT => m.pat,
            EFER => m.efer,
            _ => return Err(Exception::GeneralProtection(0)),
        })
    }

    /// Writes an MSR (reserved bits raise #GP(0)).
    pub(crate) fn write_msr(&mut self, n: u32, v: u64, bus: &mut Bus) -> Result<(), Exception> {
        match n {
            TSC => self.s.tsc_offset = v.wrapping_sub(bus.clock.ticks(self.icount)),
            APIC_BASE => {
                // the base address is fixed (relocation is not implemented): only the enable
                // bit may change; reserved bits and another base raise #GP(0)
                let old = bus.apic_base_msr().ok_or(Exception::GeneralProtection(0))?;
                if (v ^ old) & !crate::devices::lapic::BASE_ENABLE != 0 {
                    return Err(Exception::GeneralProtection(0));
                }
                let now = bus.clock.now_ns(self.icount);
                bus.write_apic_base_msr(v, now);
            }
            SYSENTER_CS => self.s.msr.sysenter_cs = v as u32 & 0xFFFF,
            SYSENTER_ESP => self.s.msr.sysenter_esp = v as u32,
            SYSENTER_EIP => self.s.msr.sysenter_eip = v as u32,
            PAT => {
                // each of the 8 entries must be a valid memory type: 0, 1, 4, 5, 6, 7
                if (0..8).any(|i| matches!((v >> (8 * i)) & 0xFF, 2 | 3 | 8..=255)) {
                    return Err(Exception::GeneralProtection(0));
                }
                self.s.msr.pat = v;
            }
            EFER => self.write_efer(v)?,
            _ => return Err(Exception::GeneralProtection(0)),
        }
        Ok(())
    }
}
