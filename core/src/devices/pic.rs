//! The 8259A programmable interrupt controller pair of a PC (Intel 8259A datasheet; the PC/AT
//! cascade: master at ports 0x20-0x21 with the slave on its IR2, slave at 0xA0-0xA1; the
//! edge/level control registers ELCR at 0x4D0-0x4D1 of PIIX-class chipsets).
//!
//! Modelled: the ICW1-ICW4 initialisation sequence, OCW1 (mask), OCW2 (non-specific and
//! specific EOI, rotation commands are accepted as EOIs), OCW3 (read IRR/ISR, poll, special
//! mask mode), fully nested priority with IR0 highest, automatic EOI, edge and level triggering
//! (ELCR), and the spurious IR7 when a request goes away before the acknowledge. An edge
//! request stays latched in IRR until acknowledged even if the input falls again (this is how
//! PC emulators and the spurious IRQ 7/15 handling of operating systems treat it).
//! Left out: 8080/8085 mode, buffered mode, special fully nested mode and priority rotation.

/// One 8259A.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Pic8259 {
    /// Interrupt request register.
    pub irr: u8,
    /// In-service register.
    pub isr: u8,
    /// Interrupt mask register (OCW1).
    pub imr: u8,
    /// Current input line levels (for edge detection).
    pub lines: u8,
    /// Level-triggered inputs (ELCR).
    pub elcr: u8,
    /// Vector of IR0 (ICW2, low 3 bits clear).
    pub base: u8,
    /// Position in the initialisation sequence: 0 = initialised, 2..=4 = next ICW expected.
    pub icw_step: u8,
    /// ICW4 will follow (ICW1 bit 0).
    pub icw4_needed: bool,
    /// Single (no cascade) mode (ICW1 bit 1).
    pub single: bool,
    /// Automatic EOI (ICW4 bit 1).
    pub auto_eoi: bool,
    /// OCW3 read selects ISR (else IRR).
    pub read_isr: bool,
    /// Special mask mode (OCW3).
    pub special_mask: bool,
    /// The next read of the command port returns the poll result.
    pub poll: bool,
}

impl Default for Pic8259 {
    fn default() -> Self {
        Self {
            irr: 0,
            isr: 0,
            imr: 0xFF,
            lines: 0,
            elcr: 0,
            base: 0,
            icw_step: 0,
            icw4_needed: false,
            single: false,
            auto_eoi: false,
            read_isr: false,
            special_mask: false,
            poll: false,
        }
    }
}

impl Pic8259 {
    /// Drives input `irq` (0-7) to `level`. An edge-triggered input requests on a rising
    /// edge; a level-triggered one requests while high.
    pub fn set_line(&mut self, irq: u8, level: bool) {
        let bit = 1u8 << (irq & 7);
        let was = self.lines & bit != 0;
        if level {
            self.lines |= bit;
            if self.elcr & bit != 0 || !was {
                self.irr |= bit;
            }
        } else {
            self.lines &= !bit;
            if self.elcr & bit != 0 {
                self.irr &= !bit;
            }
        }
    }

    /// The highest-priority unmasked request that may interrupt the current service, as an
    /// IR number.
    pub fn pending(&self) -> Option<u8> {
        let req = self.irr & !self.imr;
        if req == 0 {
            return None;
        }
        let irq = req.trailing_zeros() as u8;
        // Fully nested: a request needs higher priority than every in-service level (special
        // mask mode ignores in-service levels that are masked).
        let blocking = if self.special_mask {
            self.isr & !self.imr
        } else {
            self.isr
        };
        let higher = (1u8 << irq).wrapping_sub(1) | (1 << irq);
        if blocking & higher != 0 {
            return None;
        }
        Some(irq)
    }

    /// The INTA cycle: moves the request to in-service and returns its IR number, or 7 for a
    /// spurious interrupt (no request left).
    pub fn acknowledge(&mut self) -> u8 {
        match self.pending() {
            Some(irq) => {
                let bit = 1 << irq;
                if self.elcr & bit == 0 {
                    self.irr &= !bit;
                }
                if !self.auto_eoi {
                    self.isr |= bit;
                }
                irq
            }
            None => 7,
        }
    }

    /// Port read: `command` is the even port (IRR/ISR/poll), else the data port (IMR).
    pub fn read(&mut self, command: bool) -> u8 {
        if !command {
            return self.imr;
        }
        if self.poll {
            self.poll = false;
            return match self.pending() {
                Some(irq) => {
                    self.acknowledge();
                    0x80 | irq
                }
                None => 0,
            };
        }
        if self.read_isr {
            self.isr
        } else {
            self.irr
        }
    }

    /// Port write (ICWs, OCWs).
    pub fn write(&mut self, command: bool, v: u8) {
        if command {
            if v & 0x10 != 0 {
                // ICW1: start initialisation
                self.icw_step = 2;
                self.icw4_needed = v & 1 != 0;
                self.single = v & 2 != 0;
                self.elcr_keep_and_reset();
                if v & 8 != 0 {
                    // LTIM: all inputs level-triggered
                    self.elcr = 0xFF;
                }
            } else if v & 0x08 != 0 {
                // OCW3
                if v & 0x02 != 0 {
                    self.read_isr = v & 1 != 0;
                }
                if v & 0x04 != 0 {
                    self.poll = true;
                }
                if v & 0x40 != 0 {
                    self.special_mask = v & 0x20 != 0;
                }
            } else {
                // OCW2: EOI commands (rotation variants are treated as the matching EOI)
                let eoi = v & 0x20 != 0;
                let specific = v & 0x40 != 0;
                if eoi {
                    if specific {
                        self.isr &= !(1 << (v & 7));
                    } else if self.isr != 0 {
                        let highest = self.isr.trailing_zeros();
                        self.isr &= !(1 << highest);
                    }
                }
            }
            return;
        }
        match self.icw_step {
            2 => {
                self.base = v & 0xF8;
                self.icw_step = if !self.single {
                    3
                } else if self.icw4_needed {
                    4
                } else {
                    0
                };
            }
            3 => {
                // ICW3: cascade wiring (fixed by the PC: slave on IR2)
                self.icw_step = if self.icw4_needed { 4 } else { 0 };
            }
            4 => {
                self.auto_eoi = v & 2 != 0;
                self.icw_step = 0;
            }
            _ => self.imr = v, // OCW1
        }
    }

    /// ICW1 clears the mask and in-service registers, edge-sense latches and the read
    /// selection; the ELCR (a chipset register) survives.
    fn elcr_keep_and_reset(&mut self) {
        self.imr = 0;
        self.isr = 0;
        self.irr &= self.elcr & self.lines;
        self.read_isr = false;
        self.special_mask = false;
        self.auto_eoi = false;
        self.poll = false;
    }
}

/// The master/slave pair.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct DualPic {
    /// Master (IRQ 0-7).
    pub master: Pic8259,
    /// Slave (IRQ 8-15), cascaded on the master's IR2.
    pub slave: Pic8259,
}

/// The master's input the slave is wired to.
const CASCADE: u8 = 2;

impl DualPic {
    /// Drives IRQ `irq` (0-15).
    pub fn set_irq(&mut self, irq: u8, level: bool) {
        if irq < 8 {
            self.master.set_line(irq, level);
        } else {
            self.slave.set_line(irq - 8, level);
        }
        self.update_cascade();
    }

    fn update_cascade(&mut self) {
        let slave_out = self.slave.pending().is_some();
        self.master.set_line(CASCADE, slave_out);
    }

    /// Whether the INTR output is asserted.
    pub fn intr(&self) -> bool {
        self.master.pending().is_some()
    }

    /// The INTA cycle: the vector to deliver.
    pub fn acknowledge(&mut self) -> u8 {
        let irq = self.master.acknowledge();
        let vector = if irq == CASCADE && !self.master.single {
            let s = self.slave.acknowledge();
            self.slave.base | s
        } else {
            self.master.base | irq
        };
        self.update_cascade();
        vector
    }

    /// Marks IRQ `irq` level-triggered in the ELCR, as firmware does for the lines PCI
    /// interrupts are routed to.
    pub fn set_level_triggered(&mut self, irq: u8) {
        if irq < 8 {
            self.io_write(0x4D0, self.master.elcr | 1 << irq);
        } else {
            self.io_write(0x4D1, self.slave.elcr | 1 << (irq - 8));
        }
    }

    /// Port read (0x20/0x21, 0xA0/0xA1, 0x4D0/0x4D1).
    pub fn io_read(&mut self, port: u16) -> u8 {
        let v = match port {
            0x20 | 0x21 => self.master.read(port == 0x20),
            0xA0 | 0xA1 => self.slave.read(port == 0xA0),
            0x4D0 => self.master.elcr,
            0x4D1 => self.slave.elcr,
            _ => 0xFF,
        };
        self.update_cascade();
        v
    }

    /// Port write.
    pub fn io_write(&mut self, port: u16, v: u8) {
        match port {
            0x20 | 0x21 => self.master.write(port == 0x20, v),
            0xA0 | 0xA1 => self.slave.write(port == 0xA0, v),
            // IRQ 0, 1, 2 (master) and 8, 13 (slave) are always edge-triggered on a PIIX
            0x4D0 => self.master.elcr = v & 0xF8,
            0x4D1 => self.slave.elcr = v & 0xDE,
            _ => {}
        }
        self.update_cascade();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sequence a PC BIOS or Linux uses: ICW1 0x11, ICW2 base, ICW3, ICW4 0x01.
    fn init(p: &mut DualPic) {
        for (port, v) in [
            (0x20, 0x11),
            (0x21, 0x20),
            (0x21, 0x04),
            (0x21, 0x01),
            (0xA0, 0x11),
            (0xA1, 0x28),
            (0xA1, 0x02),
            (0xA1, 0x01),
        ] {
            p.io_write(port, v);
        }
    }

    #[test]
    fn initialisation_unmasks_and_sets_bases() {
        let mut p = DualPic::default();
        init(&mut p);
        assert_eq!((p.master.base, p.slave.base), (0x20, 0x28));
        assert_eq!(p.io_read(0x21), 0, "ICW1 clears the mask");
        p.io_write(0x21, 0xFB);
        assert_eq!(p.io_read(0x21), 0xFB);
    }

    #[test]
    fn edge_request_priority_and_eoi() {
        let mut p = DualPic::default();
        init(&mut p);
        p.set_irq(4, true);
        p.set_irq(1, true);
        assert!(p.intr());
        // IR1 has priority over IR4
        assert_eq!(p.acknowledge(), 0x21);
        // IR4 waits while IR1 is in service (fully nested)
        assert!(!p.intr());
        p.io_write(0x20, 0x0B); // OCW3: read ISR
        assert_eq!(p.io_read(0x20), 0x02);
        p.io_write(0x20, 0x20); // non-specific EOI
        assert!(p.intr());
        assert_eq!(p.acknowledge(), 0x24);
        // an edge input requests again only after going low and high
        p.io_write(0x20, 0x64); // specific EOI for IR4
        p.set_irq(4, true);
        assert!(!p.intr());
        p.set_irq(4, false);
        p.set_irq(4, true);
        assert!(p.intr());
    }

    #[test]
    fn slave_interrupts_through_the_cascade() {
        let mut p = DualPic::default();
        init(&mut p);
        p.set_irq(14, true);
        assert!(p.intr());
        assert_eq!(p.acknowledge(), 0x2E);
        // both in service: master IR2 and slave IR6
        p.io_write(0x20, 0x0B);
        p.io_write(0xA0, 0x0B);
        assert_eq!((p.io_read(0x20), p.io_read(0xA0)), (0x04, 0x40));
    }

    #[test]
    fn level_triggered_input_keeps_requesting() {
        let mut p = DualPic::default();
        init(&mut p);
        p.io_write(0x4D1, 0x08); // IRQ 11 level-triggered
        p.set_irq(11, true);
        assert_eq!(p.acknowledge(), 0x2B);
        p.io_write(0xA0, 0x20);
        p.io_write(0x20, 0x20);
        assert!(p.intr(), "still high: requests again");
        p.set_irq(11, false);
        assert!(
            p.slave.pending().is_none(),
            "level input low: the slave request is gone"
        );
        // the master latched the cascade edge: INTA now finds no slave request and the slave
        // answers with its spurious IR7 (vector 0x2F), which it does not put in service
        assert_eq!(p.acknowledge(), 0x2F);
        p.io_write(0xA0, 0x0B);
        assert_eq!(p.io_read(0xA0), 0);
    }

    #[test]
    fn masked_and_spurious() {
        let mut p = DualPic::default();
        init(&mut p);
        p.io_write(0x21, 0x01); // mask IR0
        p.set_irq(0, true);
        assert!(!p.intr());
        // a request that disappears before INTA gives the spurious IR7 (vector base + 7)
        assert_eq!(p.acknowledge(), 0x27);
        p.io_write(0x20, 0x0B);
        assert_eq!(p.io_read(0x20), 0, "a spurious IR7 is not put in service");
    }
}
