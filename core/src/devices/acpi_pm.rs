//! The ACPI fixed-hardware registers the FADT points at (ACPI 6.5, section 4.8 "ACPI Hardware
//! Features"): the PM1a event block (status and enable, 4 bytes at [`PM1_EVT`]), the PM1a
//! control block (2 bytes at [`PM1_CNT`]) and the 32-bit power-management timer (4 bytes at
//! [`PM_TMR`], 3.579545 MHz, from the virtual clock).
//!
//! SCI_EN reads as set (the FADT has no SMI command port: the machine is always in ACPI
//! mode). Writing SLP_EN with SLP_TYP = [`SLP_TYP_S5`] (the value the DSDT's `\_S5` package
//! gives) requests power-off. Left out: the other sleep states (S1-S4 writes are ignored), the
//! fixed power and sleep buttons, the RTC alarm event, timer-overflow events (TMR_STS stays 0
//! and no SCI is ever raised), GPE blocks.

/// I/O port of PM1a_EVT_BLK.
pub const PM1_EVT: u16 = 0x600;
/// I/O port of PM1a_CNT_BLK.
pub const PM1_CNT: u16 = 0x604;
/// I/O port of PM_TMR_BLK.
pub const PM_TMR: u16 = 0x608;
/// Ports covered, from [`PM1_EVT`].
pub const PORTS: u16 = 12;
/// The SLP_TYP value meaning soft-off (S5).
pub const SLP_TYP_S5: u16 = 5;
/// PM timer frequency in Hz.
pub const PM_TIMER_HZ: u64 = 3_579_545;

const SCI_EN: u16 = 1;
const SLP_EN: u16 = 1 << 13;

/// PM1 and PM-timer register state.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct AcpiPm {
    pm1_enable: u16,
    pm1_control: u16,
    /// The guest asked for soft-off.
    pub poweroff_requested: bool,
}

impl AcpiPm {
    /// The PM timer's count at virtual time `now` (ns): 32 bits, wrapping.
    pub fn timer(now: u64) -> u32 {
        (now as u128 * PM_TIMER_HZ as u128 / 1_000_000_000) as u32
    }

    fn register(&self, port: u16, now: u64) -> u32 {
        match port {
            PM1_EVT => 0, // PM1 status: no events
            p if p == PM1_EVT + 2 => self.pm1_enable as u32,
            PM1_CNT => (self.pm1_control | SCI_EN) as u32,
            PM_TMR => Self::timer(now),
            _ => 0,
        }
    }

    /// Port read of `size` bytes (registers are read as a whole, then the bytes asked for).
    pub fn io_read(&self, port: u16, size: usize, now: u64) -> u32 {
        let (base, width) = match port {
            PM1_EVT..=0x601 => (PM1_EVT, 2),
            0x602..=0x603 => (PM1_EVT + 2, 2),
            PM1_CNT..=0x605 => (PM1_CNT, 2),
            PM_TMR..=0x60B => (PM_TMR, 4),
            _ => return u32::MAX >> (32 - 8 * size),
        };
        let shift = 8 * (port - base) as u32;
        let v = (self.register(base, now) as u64) >> shift;
        let bytes = size.min(width - (port - base) as usize);
        (v & ((1u64 << (8 * bytes)) - 1)) as u32
    }

    /// Port write (PM1 status bits are write-one-to-clear and none is ever set).
    pub fn io_write(&mut self, port: u16, size: usize, v: u32) {
        match (port, size) {
            (0x602, _) => self.pm1_enable = v as u16,
            (PM1_CNT, 2 | 4) => self.write_control(v as u16),
            (PM1_CNT, 1) => self.write_control((self.pm1_control & 0xFF00) | v as u16 & 0xFF),
            (0x605, 1) => self.write_control((self.pm1_control & 0xFF) | (v as u16) << 8),
            _ => {}
        }
    }

    fn write_control(&mut self, v: u16) {
        self.pm1_control = v & !SLP_EN & 0x1C07; // SCI_EN, BM_RLD, GBL_RLS, SLP_TYP
        if v & SLP_EN != 0 && (v >> 10) & 7 == SLP_TYP_S5 {
            self.poweroff_requested = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_runs_at_3_58_mhz() {
        let pm = AcpiPm::default();
        assert_eq!(pm.io_read(PM_TMR, 4, 0), 0);
        assert_eq!(pm.io_read(PM_TMR, 4, 1_000_000_000), 3_579_545);
        // wraps at 32 bits after 2^32 / 3.579545 MHz ≈ 1199.86 s
        assert_eq!(AcpiPm::timer(1_199_864_000_000), 0xFFFF_FF8D);
        assert_eq!(AcpiPm::timer(1_199_865_000_000), 0xD89);
        assert_eq!(pm.io_read(PM_TMR + 2, 2, 1_000_000_000), 0x36);
    }

    #[test]
    fn s5_powers_off_and_sci_en_reads_set() {
        let mut pm = AcpiPm::default();
        assert_eq!(pm.io_read(PM1_CNT, 2, 0) & 1, 1);
        pm.io_write(PM1_CNT, 2, (SLP_TYP_S5 << 10) as u32);
        assert!(!pm.poweroff_requested, "SLP_TYP alone does nothing");
        pm.io_write(PM1_CNT, 2, (SLP_EN | 1 << 10) as u32);
        assert!(!pm.poweroff_requested, "S1 is not implemented");
        pm.io_write(PM1_CNT, 2, (SLP_EN | SLP_TYP_S5 << 10) as u32);
        assert!(pm.poweroff_requested);
    }
}
