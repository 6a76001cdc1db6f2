//! The I/O APIC (Intel 82093AA datasheet, sections 3.0-3.2): 24 input pins, the indirect
//! register window (IOREGSEL at +0x00, IOWIN at +0x10) at 0xFEC0_0000, the ID, version and
//! arbitration registers and the redirection table. Edge-triggered pins deliver on a rising
//! edge; level-triggered pins deliver while asserted and then wait for the local APIC's EOI
//! (Remote IRR, cleared by [`Ioapic::eoi`]). Devices drive a pin's *assertion*, not its
//! electrical level: the polarity bit is stored but does not invert anything, since every
//! line's polarity is the one the ACPI tables give the guest (an undriven active-low PCI line
//! is deasserted, as its pull-up makes it on a real board).
//!
//! Wiring (vx86's PC, described to the guest by the ACPI MADT): ISA IRQ n drives pin n, except
//! IRQ 0 (the PIT), which drives pin 2. Left out: delivery modes other than fixed and lowest
//! priority (SMI, NMI, INIT and ExtINT entries are accepted but never deliver) and the
//! delivery-status bit (deliveries are immediate, so it reads 0).

/// Physical address of the register window.
pub const BASE: u32 = 0xFEC0_0000;
/// Number of input pins.
pub const PINS: usize = 24;

/// Redirection-entry bits.
mod entry {
    pub const REMOTE_IRR: u64 = 1 << 14;
    pub const LEVEL: u64 = 1 << 15;
    pub const MASKED: u64 = 1 << 16;
    /// Bits the guest can write (vector, delivery/destination mode, polarity, trigger,
    /// mask, destination).
    pub const WRITABLE: u64 = 0xFF00_0000_0001_AFFF;
}

/// An interrupt message for the local APIC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Message {
    /// Vector.
    pub vector: u8,
    /// Level-triggered (the local APIC must report its EOI).
    pub level: bool,
    /// Destination field.
    pub dest: u8,
    /// Logical destination mode.
    pub logical: bool,
}

/// The I/O APIC's registers and pin levels.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Ioapic {
    id: u8,
    select: u8,
    redirection: [u64; PINS],
    /// Input pins asserted by their devices.
    pins: u32,
    /// Messages produced by register writes, for the bus to deliver.
    pub outbox: Vec<Message>,
}

impl Default for Ioapic {
    /// After reset: every entry masked.
    fn default() -> Self {
        Ioapic {
            id: 1,
            select: 0,
            redirection: [entry::MASKED; PINS],
            pins: 0,
            outbox: Vec::new(),
        }
    }
}

impl Ioapic {
    /// The pin an ISA IRQ drives.
    pub fn pin_of_isa_irq(irq: u8) -> usize {
        if irq == 0 {
            2
        } else {
            irq as usize
        }
    }

    fn asserted(&self, pin: usize) -> bool {
        self.pins & (1 << pin) != 0
    }

    fn message(&self, pin: usize) -> Option<Message> {
        let e = self.redirection[pin];
        let mode = (e >> 8) & 7;
        if e & entry::MASKED != 0 || mode > 1 {
            return None;
        }
        Some(Message {
            vector: e as u8,
            level: e & entry::LEVEL != 0,
            dest: (e >> 56) as u8,
            logical: e & (1 << 11) != 0,
        })
    }

    /// For a level-triggered pin: deliver if asserted and not waiting for an EOI.
    fn poll_level(&mut self, pin: usize, out: &mut Vec<Message>) {
        let e = self.redirection[pin];
        if e & entry::LEVEL != 0 && e & entry::REMOTE_IRR == 0 && self.asserted(pin) {
            if let Some(m) = self.message(pin) {
                self.redirection[pin] |= entry::REMOTE_IRR;
                out.push(m);
            }
        }
    }

    /// Asserts (`high`) or deasserts input `pin`; messages to deliver are appended to `out`.
    pub fn set_pin(&mut self, pin: usize, high: bool, out: &mut Vec<Message>) {
        if pin >= PINS {
            return;
        }
        let was = self.asserted(pin);
        if high {
            self.pins |= 1 << pin;
        } else {
            self.pins &= !(1 << pin);
        }
        if self.redirection[pin] & entry::LEVEL != 0 {
            self.poll_level(pin, out);
        } else if !was && self.asserted(pin) {
            out.extend(self.message(pin));
        }
    }

    /// The local APIC ended a level-triggered `vector`: clear Remote IRR of the pins using it
    /// and deliver again those still asserted.
    pub fn eoi(&mut self, vector: u8, out: &mut Vec<Message>) {
        for pin in 0..PINS {
            let e = self.redirection[pin];
            if e as u8 == vector && e & entry::LEVEL != 0 && e & entry::REMOTE_IRR != 0 {
                self.redirection[pin] &= !entry::REMOTE_IRR;
                self.poll_level(pin, out);
            }
        }
    }

    fn read_register(&self) -> u32 {
        match self.select {
            0 => (self.id as u32) << 24,
            1 => 0x0017_0011, // 24 entries (maximum index 23), version 0x11
            2 => (self.id as u32) << 24,
            r @ 0x10..=0x3F => {
                let e = self.redirection[(r as usize - 0x10) / 2];
                if r & 1 == 0 {
                    e as u32
                } else {
                    (e >> 32) as u32
                }
            }
            _ => 0,
        }
    }

    fn write_register(&mut self, v: u32, out: &mut Vec<Message>) {
        match self.select {
            0 => self.id = (v >> 24) as u8 & 0xF,
            r @ 0x10..=0x3F => {
                let pin = (r as usize - 0x10) / 2;
                let old = self.redirection[pin];
                let new = if r & 1 == 0 {
                    (old & !0xFFFF_FFFF) | v as u64
                } else {
                    (old & 0xFFFF_FFFF) | (v as u64) << 32
                };
                let kept = old & entry::REMOTE_IRR;
                self.redirection[pin] = (new & entry::WRITABLE) | kept;
                // unmasking a level-triggered pin that is asserted delivers it
                self.poll_level(pin, out);
            }
            _ => {}
        }
    }

    /// MMIO read at `offset` in the window.
    pub fn mmio_read(&self, offset: u64) -> u32 {
        match offset & 0xFF {
            0x00 => self.select as u32,
            0x10 => self.read_register(),
            _ => 0,
        }
    }

    /// MMIO write at `offset`; messages to deliver are appended to `out`.
    pub fn mmio_write(&mut self, offset: u64, v: u32, out: &mut Vec<Message>) {
        match offset & 0xFF {
            0x00 => self.select = v as u8,
            0x10 => self.write_register(v, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(io: &mut Ioapic, pin: usize, low: u32, out: &mut Vec<Message>) {
        io.mmio_write(0, 0x10 + 2 * pin as u32, out);
        io.mmio_write(0x10, low, out);
    }

    #[test]
    fn edge_pin_delivers_on_rising_edge_only() {
        let (mut io, mut out) = (Ioapic::default(), Vec::new());
        io.set_pin(2, true, &mut out);
        assert!(out.is_empty(), "masked after reset");
        io.set_pin(2, false, &mut out);
        program(&mut io, 2, 0x30, &mut out);
        io.set_pin(2, true, &mut out);
        io.set_pin(2, true, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].vector, 0x30);
        assert!(!out[0].level);
    }

    #[test]
    fn level_pin_waits_for_eoi() {
        let (mut io, mut out) = (Ioapic::default(), Vec::new());
        program(&mut io, 9, 0x8000 | 0x49, &mut out);
        io.set_pin(9, true, &mut out);
        assert_eq!(out.len(), 1);
        io.set_pin(9, true, &mut out);
        assert_eq!(out.len(), 1, "Remote IRR holds it");
        io.mmio_write(0, 0x10 + 18, &mut out);
        assert_ne!(io.mmio_read(0x10) & (1 << 14), 0, "Remote IRR visible");
        io.eoi(0x49, &mut out);
        assert_eq!(
            out.len(),
            2,
            "still asserted: delivered again after the EOI"
        );
        io.set_pin(9, false, &mut out);
        io.eoi(0x49, &mut out);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn active_low_line_and_version() {
        let (mut io, mut out) = (Ioapic::default(), Vec::new());
        program(&mut io, 11, 0xA000 | 0x51, &mut out); // level, active low
        assert!(
            out.is_empty(),
            "an undriven line is deasserted whatever its polarity"
        );
        io.set_pin(11, true, &mut out);
        assert_eq!(out.len(), 1);
        io.mmio_write(0, 1, &mut out);
        assert_eq!(io.mmio_read(0x10), 0x0017_0011);
        assert_eq!(Ioapic::pin_of_isa_irq(0), 2);
    }
}
