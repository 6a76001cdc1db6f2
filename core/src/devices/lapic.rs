//! The local APIC of the single CPU, xAPIC mode (SDM vol. 3A, chapter 11 "Advanced
//! Programmable Interrupt Controller"): the register page at IA32_APIC_BASE (0xFEE0_0000),
//! interrupt acceptance through IRR/ISR/TMR with the task and processor priorities (11.8),
//! EOI with the broadcast of level-triggered EOIs to the I/O APIC (11.8.5), the local vector
//! table, the timer in one-shot and periodic modes (11.5.4), the spurious-vector register and
//! software enable (11.9), and IPIs to itself through the ICR (11.6).
//!
//! At power-up vx86 leaves the APIC the way a PC BIOS does before booting an OS (MP spec 1.4,
//! 3.6.2.2 "virtual wire mode"): software-enabled, LINT0 in ExtINT mode so the 8259A's INTR
//! reaches the CPU through it, LINT1 in NMI mode, every other entry masked. A guest that never
//! touches the APIC therefore sees a plain PIC system.
//!
//! The timer counts at 1 GHz (one count per virtual nanosecond) divided by the divide
//! configuration. Left out: x2APIC, TSC-deadline mode (not advertised), relocation of the
//! register page (IA32_APIC_BASE keeps 0xFEE0_0000), NMI/SMI/INIT/SIPI delivery, thermal and
//! performance-counter interrupts (never raised), error reporting (ESR reads 0), and the
//! arbitration priority register (reads 0).

/// Default physical address of the register page.
pub const BASE: u32 = 0xFEE0_0000;
/// IA32_APIC_BASE: bootstrap processor.
pub const BASE_BSP: u64 = 1 << 8;
/// IA32_APIC_BASE: global enable.
pub const BASE_ENABLE: u64 = 1 << 11;

/// Local vector table entries, in register order 0x320..=0x370.
mod lvt {
    pub const TIMER: usize = 0;
    pub const LINT0: usize = 3;
    /// Mask bit.
    pub const MASKED: u32 = 1 << 16;
    /// Delivery mode field.
    pub const MODE: u32 = 7 << 8;
    /// ExtINT delivery mode.
    pub const EXTINT: u32 = 7 << 8;
    /// NMI delivery mode.
    pub const NMI: u32 = 4 << 8;
    /// Timer mode: periodic.
    pub const PERIODIC: u32 = 1 << 17;
    /// Writable bits of each entry (timer, thermal, performance, LINT0, LINT1, error).
    pub const WRITABLE: [u32; 6] = [
        0x0003_00FF,
        0x0001_07FF,
        0x0001_07FF,
        0x0001_A7FF,
        0x0001_A7FF,
        0x0001_00FF,
    ];
}

/// The register state of one local APIC.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Lapic {
    /// IA32_APIC_BASE.
    pub base_msr: u64,
    /// APIC ID.
    pub id: u8,
    tpr: u32,
    ldr: u32,
    dfr: u32,
    svr: u32,
    isr: [u32; 8],
    tmr: [u32; 8],
    irr: [u32; 8],
    icr: u64,
    lvt: [u32; 6],
    timer_initial: u32,
    timer_divide: u32,
    /// Virtual time the current timer count started from.
    timer_start: u64,
    /// The vector of a level-triggered interrupt just ended by an EOI, for the I/O APIC.
    pub eoi_broadcast: Option<u8>,
}

impl Default for Lapic {
    /// The state a PC BIOS leaves (virtual wire mode; see the module header).
    fn default() -> Self {
        Lapic {
            base_msr: BASE as u64 | BASE_BSP | BASE_ENABLE,
            id: 0,
            tpr: 0,
            ldr: 0,
            dfr: 0xFFFF_FFFF,
            svr: 0x1FF,
            isr: [0; 8],
            tmr: [0; 8],
            irr: [0; 8],
            icr: 0,
            lvt: [
                lvt::MASKED,
                lvt::MASKED,
                lvt::MASKED,
                lvt::EXTINT,
                lvt::NMI,
                lvt::MASKED,
            ],
            timer_initial: 0,
            timer_divide: 0,
            timer_start: 0,
            eoi_broadcast: None,
        }
    }
}

fn highest(bits: &[u32; 8]) -> Option<u8> {
    (0..8)
        .rev()
        .find(|&i| bits[i] != 0)
        .map(|i| (i * 32 + 31 - bits[i].leading_zeros() as usize) as u8)
}

fn set_bit(bits: &mut [u32; 8], v: u8, on: bool) {
    let (i, b) = (v as usize / 32, 1u32 << (v % 32));
    if on {
        bits[i] |= b;
    } else {
        bits[i] &= !b;
    }
}

impl Lapic {
    /// Globally enabled through IA32_APIC_BASE.
    pub fn hw_enabled(&self) -> bool {
        self.base_msr & BASE_ENABLE != 0
    }

    fn sw_enabled(&self) -> bool {
        self.hw_enabled() && self.svr & 0x100 != 0
    }

    /// Whether the 8259A's INTR reaches the CPU: directly when the APIC is globally
    /// disabled, else through LINT0 programmed for ExtINT and unmasked.
    pub fn passes_extint(&self) -> bool {
        if !self.hw_enabled() {
            return true;
        }
        let l = self.lvt[lvt::LINT0];
        self.sw_enabled() && l & lvt::MASKED == 0 && l & lvt::MODE == lvt::EXTINT
    }

    /// Writes IA32_APIC_BASE (the enable bit; the base and BSP bits are fixed). Clearing
    /// the enable bit resets the APIC to its power-up state, as the SDM describes.
    pub fn write_base_msr(&mut self, v: u64) {
        let enable = v & BASE_ENABLE != 0;
        if !enable && self.hw_enabled() {
            *self = Lapic {
                base_msr: BASE as u64 | BASE_BSP,
                svr: 0xFF,
                lvt: [lvt::MASKED; 6],
                ..Lapic::default()
            };
        } else if enable {
            self.base_msr |= BASE_ENABLE;
        }
    }

    /// Takes a fixed interrupt (from the I/O APIC, the timer or an IPI) into IRR; `level`:
    /// level-triggered (its EOI is broadcast).
    pub fn accept(&mut self, vector: u8, level: bool) {
        if vector < 16 || !self.hw_enabled() {
            return; // illegal vector (ESR.receive-illegal-vector, not reported)
        }
        set_bit(&mut self.irr, vector, true);
        set_bit(&mut self.tmr, vector, level);
    }

    fn ppr(&self) -> u32 {
        let isrv = highest(&self.isr).map_or(0, |v| v as u32);
        if (self.tpr >> 4) >= (isrv >> 4) {
            self.tpr & 0xFF
        } else {
            isrv & 0xF0
        }
    }

    /// The vector the APIC would deliver now: the highest requested one whose priority
    /// class is above the processor priority.
    pub fn deliverable(&self) -> Option<u8> {
        if !self.sw_enabled() {
            return None;
        }
        let v = highest(&self.irr)?;
        (v as u32 >> 4 > self.ppr() >> 4).then_some(v)
    }

    /// The CPU takes the deliverable interrupt: IRR → ISR.
    pub fn acknowledge(&mut self) -> Option<u8> {
        let v = self.deliverable()?;
        set_bit(&mut self.irr, v, false);
        set_bit(&mut self.isr, v, true);
        Some(v)
    }

    fn eoi(&mut self) {
        if let Some(v) = highest(&self.isr) {
            set_bit(&mut self.isr, v, false);
            if self.tmr[v as usize / 32] & (1 << (v % 32)) != 0 {
                self.eoi_broadcast = Some(v);
            }
        }
    }

    /// Whether a fixed interrupt with destination `dest` in `logical` mode is for this APIC
    /// (SDM vol. 3A, 11.6.2: physical ID or broadcast; logical flat or cluster model).
    pub fn is_destination(&self, dest: u8, logical: bool) -> bool {
        if !logical {
            return dest == self.id || dest == 0xFF;
        }
        let ldr = (self.ldr >> 24) as u8;
        if self.dfr >> 28 == 0xF {
            dest & ldr != 0
        } else {
            (dest >> 4 == ldr >> 4 || dest >> 4 == 0xF) && dest & ldr & 0xF != 0
        }
    }

    /// Checks state restored from a snapshot (untrusted) at virtual time `now`: the timer
    /// did not start in the future.
    pub fn validate(&self, now: u64) -> Result<(), String> {
        if self.timer_start > now {
            return Err(format!(
                "local APIC timer started at {} ns, after the current time {now} ns",
                self.timer_start
            ));
        }
        Ok(())
    }

    fn divisor(&self) -> u64 {
        let v = ((self.timer_divide & 8) >> 1) | (self.timer_divide & 3);
        if v == 7 {
            1
        } else {
            2 << v
        }
    }

    fn timer_period(&self) -> u64 {
        self.timer_initial as u64 * self.divisor()
    }

    /// The current-count register at virtual time `now`.
    fn current_count(&self, now: u64) -> u32 {
        if self.timer_initial == 0 {
            return 0;
        }
        let ticks = now.saturating_sub(self.timer_start) / self.divisor();
        if self.lvt[lvt::TIMER] & lvt::PERIODIC != 0 {
            self.timer_initial - (ticks % self.timer_initial as u64) as u32
        } else {
            (self.timer_initial as u64).saturating_sub(ticks) as u32
        }
    }

    /// The virtual time of the next timer expiry, if the timer runs.
    pub fn next_timer(&self, now: u64) -> Option<u64> {
        if self.timer_initial == 0 || !self.hw_enabled() {
            return None;
        }
        let p = self.timer_period();
        if self.lvt[lvt::TIMER] & lvt::PERIODIC != 0 {
            let k = now.saturating_sub(self.timer_start) / p + 1;
            return Some(self.timer_start + k * p);
        }
        // one-shot: `timer_initial` drops to 0 when it fires
        Some(self.timer_start + p)
    }

    /// The timer reached zero at `now`: raise its interrupt (unless masked); a periodic timer
    /// restarts, a one-shot one stays at zero.
    pub fn timer_expired(&mut self, now: u64) {
        if self.timer_initial == 0 {
            return;
        }
        let entry = self.lvt[lvt::TIMER];
        if entry & lvt::MASKED == 0 {
            self.accept(entry as u8, false);
        }
        if entry & lvt::PERIODIC != 0 {
            let p = self.timer_period();
            self.timer_start += (now.saturating_sub(self.timer_start) / p) * p;
        } else {
            self.timer_initial = 0;
        }
    }

    /// A 32-bit register read at `offset` in the register page.
    pub fn read(&self, offset: u32, now: u64) -> u32 {
        let r = offset & 0xFF0;
        let bank = |a: &[u32; 8]| a[((r >> 4) & 7) as usize];
        match r {
            0x20 => (self.id as u32) << 24,
            0x30 => 0x0005_0014, // version 0x14, six LVT entries
            0x80 => self.tpr,
            0xA0 => self.ppr(),
            0xD0 => self.ldr,
            0xE0 => self.dfr | 0x0FFF_FFFF,
            0xF0 => self.svr,
            0x100..=0x170 => bank(&self.isr),
            0x180..=0x1F0 => bank(&self.tmr),
            0x200..=0x270 => bank(&self.irr),
            0x300 => self.icr as u32 & !(1 << 12), // delivery status: idle
            0x310 => (self.icr >> 32) as u32,
            0x320..=0x370 => self.lvt[((r - 0x320) >> 4) as usize],
            0x380 => self.timer_initial,
            0x390 => self.current_count(now),
            0x3E0 => self.timer_divide,
            _ => 0, // APR, ESR, reserved
        }
    }

    /// A 32-bit register write at `offset`.
    pub fn write(&mut self, offset: u32, v: u32, now: u64) {
        let r = offset & 0xFF0;
        match r {
            0x20 => self.id = (v >> 24) as u8,
            0x80 => self.tpr = v & 0xFF,
            0xB0 => self.eoi(),
            0xD0 => self.ldr = v & 0xFF00_0000,
            0xE0 => self.dfr = v | 0x0FFF_FFFF,
            0xF0 => {
                self.svr = v & 0x3FF;
                if v & 0x100 == 0 {
                    self.lvt.iter_mut().for_each(|e| *e |= lvt::MASKED);
                }
            }
            0x300 => {
                self.icr = (self.icr & !0xFFFF_FFFF) | (v & 0x000C_CFFF) as u64;
                self.send_ipi();
            }
            0x310 => self.icr = (self.icr & 0xFFFF_FFFF) | ((v & 0xFF00_0000) as u64) << 32,
            0x320..=0x370 => {
                let i = ((r - 0x320) >> 4) as usize;
                let mut e = v & lvt::WRITABLE[i];
                if !self.sw_enabled() {
                    e |= lvt::MASKED;
                }
                self.lvt[i] = e;
            }
            0x380 => {
                self.timer_initial = v;
                self.timer_start = now;
            }
            0x3E0 => {
                // keep the current count continuous across a divisor change
                let count = self.current_count(now);
                self.timer_divide = v & 0xB;
                if self.timer_initial != 0 {
                    let elapsed = (self.timer_initial - count) as u64 * self.divisor();
                    self.timer_start = now.saturating_sub(elapsed);
                }
            }
            _ => {} // read-only or reserved; ESR writes just re-arm it
        }
    }

    /// An IPI written to the ICR: fixed and lowest-priority IPIs that include this CPU
    /// are accepted; INIT, SIPI, NMI and SMI have no other CPU to reach and are dropped.
    fn send_ipi(&mut self) {
        let icr = self.icr;
        let vector = icr as u8;
        let mode = (icr >> 8) & 7;
        let logical = icr & (1 << 11) != 0;
        let dest = (icr >> 56) as u8;
        let to_self = match (icr >> 18) & 3 {
            0 => self.is_destination(dest, logical),
            1 | 2 => true,
            _ => false,
        };
        if to_self && mode <= 1 {
            self.accept(vector, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_and_eoi() {
        let mut a = Lapic::default();
        a.accept(0x31, false);
        a.accept(0x52, true);
        assert_eq!(a.deliverable(), Some(0x52));
        assert_eq!(a.acknowledge(), Some(0x52));
        // 0x31 is in a lower priority class than the one in service
        assert_eq!(a.deliverable(), None);
        assert_eq!(a.read(0xA0, 0), 0x50, "PPR = class of the ISR");
        a.write(0xB0, 0, 0);
        assert_eq!(
            a.eoi_broadcast,
            Some(0x52),
            "level-triggered: EOI broadcast"
        );
        assert_eq!(a.acknowledge(), Some(0x31));
        // TPR masks classes at or below it
        a.write(0xB0, 0, 0);
        a.write(0x80, 0x40, 0);
        a.accept(0x45, false);
        assert_eq!(a.deliverable(), None);
        a.accept(0x51, false);
        assert_eq!(a.deliverable(), Some(0x51));
    }

    #[test]
    fn virtual_wire_after_reset_and_software_disable() {
        let mut a = Lapic::default();
        assert!(a.passes_extint());
        a.write(0xF0, 0xFF, 0); // software disable: every LVT masked
        assert!(!a.passes_extint());
        assert_eq!(a.read(0x350, 0) & lvt::MASKED, lvt::MASKED);
        a.write_base_msr(BASE as u64 | BASE_BSP); // global disable: the PIC goes direct
        assert!(a.passes_extint());
        assert_eq!(a.read(0x30, 0), 0x0005_0014);
    }

    #[test]
    fn one_shot_and_periodic_timer() {
        let mut a = Lapic::default();
        a.write(0x3E0, 0x3, 0); // divide by 16
        a.write(0x320, 0x40, 0); // one-shot, vector 0x40
        a.write(0x380, 100, 1000);
        assert_eq!(a.read(0x390, 1000 + 16 * 10), 90);
        assert_eq!(a.next_timer(1000), Some(1000 + 1600));
        a.timer_expired(2600);
        assert_eq!(a.deliverable(), Some(0x40));
        assert_eq!(a.read(0x390, 3000), 0);
        assert_eq!(a.next_timer(3000), None);
        // periodic with divide by 1: expiries every 50 ns, the count reloads
        a.write(0x3E0, 0xB, 0);
        a.write(0x320, 0x41 | lvt::PERIODIC, 0);
        a.write(0x380, 50, 10_000);
        assert_eq!(a.next_timer(10_000), Some(10_050));
        a.timer_expired(10_050);
        assert_eq!(a.next_timer(10_050), Some(10_100));
        assert_eq!(a.read(0x390, 10_060), 40);
    }

    #[test]
    fn self_ipi_and_destinations() {
        let mut a = Lapic::default();
        a.write(0x300, 0x0004_0061, 0); // shorthand self, fixed, vector 0x61
        assert_eq!(a.deliverable(), Some(0x61));
        a.write(0xD0, 0x0100_0000, 0); // logical ID bit 0, flat model
        assert!(a.is_destination(0x01, true));
        assert!(!a.is_destination(0x02, true));
        assert!(a.is_destination(0, false) && a.is_destination(0xFF, false));
        assert!(!a.is_destination(1, false));
    }
}
