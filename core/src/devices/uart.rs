//! A 16550A UART (National Semiconductor PC16550D datasheet) at the PC COM ports (COM1 0x3F8
//! with IRQ 4, COM2 0x2F8 with IRQ 3, COM3 0x3E8 IRQ 4, COM4 0x2E8 IRQ 3).
//!
//! The host side is a byte buffer each way: bytes the guest transmits accumulate for
//! `take_output`, bytes the host delivers go into the receive FIFO (the input queue of the
//! determinism contract feeds it at defined instruction counts). Transmission is immediate
//! (the transmitter is always empty again before the guest can look), so no timing depends on
//! the host. Modelled: RBR/THR, IER, IIR/FCR (16-byte FIFOs, trigger levels), LCR (DLAB),
//! MCR (loopback, OUT2 gating the interrupt line as on a PC), LSR, MSR, SCR, the divisor
//! latch, and the interrupt priorities of the datasheet (line status, received data,
//! transmitter empty, modem status). Left out: the character timeout interrupt (a partial FIFO
//! interrupts at once), break and parity/framing errors.

use std::collections::VecDeque;

/// FIFO depth.
const FIFO: usize = 16;

/// Interrupt enable bits.
/// Interrupt enable register bits.
pub mod ier {
    /// Received data available.
    pub const RDA: u8 = 1;
    /// Transmitter holding register empty.
    pub const THRE: u8 = 2;
    /// Receiver line status.
    pub const RLS: u8 = 4;
    /// Modem status.
    pub const MS: u8 = 8;
}

/// A 16550A.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Uart {
    /// Receive FIFO (or holding register when FIFOs are off).
    pub rx: VecDeque<u8>,
    /// Transmitted bytes not yet taken by the host.
    pub tx: Vec<u8>,
    /// Interrupt enable register.
    pub ier: u8,
    /// Line control register.
    pub lcr: u8,
    /// Modem control register.
    pub mcr: u8,
    /// Scratch register.
    pub scr: u8,
    /// Divisor latch.
    pub divisor: u16,
    /// FIFO control: enabled.
    pub fifo_enabled: bool,
    /// Receive trigger level in bytes (1, 4, 8, 14).
    pub trigger: u8,
    /// A THRE interrupt is pending (cleared by reading IIR or writing THR).
    pub thre_pending: bool,
    /// Overrun error seen (cleared by reading LSR).
    pub overrun: bool,
    /// Delta bits of the modem status register.
    pub msr_delta: u8,
}

impl Default for Uart {
    fn default() -> Self {
        Self {
            rx: VecDeque::new(),
            tx: Vec::new(),
            ier: 0,
            lcr: 0,
            mcr: 0,
            scr: 0,
            divisor: 12, // 9600 baud
            fifo_enabled: false,
            trigger: 1,
            thre_pending: false,
            overrun: false,
            msr_delta: 0,
        }
    }
}

impl Uart {
    fn dlab(&self) -> bool {
        self.lcr & 0x80 != 0
    }

    fn loopback(&self) -> bool {
        self.mcr & 0x10 != 0
    }

    /// Checks state restored from a snapshot (untrusted): the receive FIFO within its depth,
    /// a trigger level the FCR can select.
    pub fn validate(&self) -> Result<(), String> {
        if self.rx.len() > self.capacity() || ![1, 4, 8, 14].contains(&self.trigger) {
            return Err(format!(
                "UART receive FIFO of {} bytes (capacity {}), trigger {}",
                self.rx.len(),
                self.capacity(),
                self.trigger
            ));
        }
        Ok(())
    }

    fn capacity(&self) -> usize {
        if self.fifo_enabled {
            FIFO
        } else {
            1
        }
    }

    /// Host → guest: queues received bytes; returns how many fit (the rest would overrun).
    pub fn receive(&mut self, data: &[u8]) -> usize {
        let mut n = 0;
        for &b in data {
            if self.rx.len() >= self.capacity() {
                self.overrun = true;
                break;
            }
            self.rx.push_back(b);
            n += 1;
        }
        n
    }

    /// Whether the receiver has room for another byte.
    pub fn can_receive(&self) -> bool {
        self.rx.len() < self.capacity()
    }

    /// Guest → host: the transmitted bytes, removed.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.tx)
    }

    /// Modem status: CTS, DSR, DCD asserted (a connected terminal); in loopback the inputs
    /// follow MCR (RTS → CTS, DTR → DSR, OUT1 → RI, OUT2 → DCD).
    fn msr(&self) -> u8 {
        let lines = if self.loopback() {
            let m = self.mcr;
            (m & 2) << 3 | (m & 1) << 5 | (m & 4) << 4 | (m & 8) << 4
        } else {
            0x10 | 0x20 | 0x80
        };
        lines | self.msr_delta
    }

    fn lsr(&self) -> u8 {
        let dr = !self.rx.is_empty() as u8;
        // THRE and TEMT: always empty (transmission is immediate)
        dr | (self.overrun as u8) << 1 | 0x60
    }

    fn data_ready_interrupt(&self) -> bool {
        let level = if self.fifo_enabled {
            self.trigger as usize
        } else {
            1
        };
        // without a character-timeout model, any waiting byte interrupts
        self.rx.len() >= level || !self.rx.is_empty()
    }

    /// The interrupt identification value (priority order of the datasheet).
    fn iir(&self) -> u8 {
        let fifo_bits = if self.fifo_enabled { 0xC0 } else { 0 };
        let id = if self.ier & ier::RLS != 0 && self.overrun {
            0x06
        } else if self.ier & ier::RDA != 0 && self.data_ready_interrupt() {
            0x04
        } else if self.ier & ier::THRE != 0 && self.thre_pending {
            0x02
        } else if self.ier & ier::MS != 0 && self.msr_delta != 0 {
            0x00
        } else {
            0x01
        };
        id | fifo_bits
    }

    /// The level of the interrupt line towards the PIC: an interrupt is pending and OUT2 is
    /// set (the PC gates the UART's INTR through OUT2).
    pub fn irq_level(&self) -> bool {
        self.iir() & 1 == 0 && self.mcr & 0x08 != 0
    }

    /// Register read at `offset` (0-7).
    pub fn read(&mut self, offset: u16) -> u8 {
        match offset {
            0 if self.dlab() => self.divisor as u8,
            0 => self.rx.pop_front().unwrap_or(0),
            1 if self.dlab() => (self.divisor >> 8) as u8,
            1 => self.ier,
            2 => {
                let v = self.iir();
                if v & 0x0F == 0x02 {
                    self.thre_pending = false; // reading IIR acknowledges THRE
                }
                v
            }
            3 => self.lcr,
            4 => self.mcr,
            5 => {
                let v = self.lsr();
                self.overrun = false;
                v
            }
            6 => {
                let v = self.msr();
                self.msr_delta = 0;
                v
            }
            _ => self.scr,
        }
    }

    /// Register write at `offset` (0-7).
    pub fn write(&mut self, offset: u16, v: u8) {
        match offset {
            0 if self.dlab() => self.divisor = (self.divisor & 0xFF00) | v as u16,
            0 => {
                if self.loopback() {
                    if self.can_receive() {
                        self.rx.push_back(v);
                    } else {
                        self.overrun = true;
                    }
                } else {
                    self.tx.push(v);
                }
                self.thre_pending = true; // sent at once: the holding register is empty again
            }
            1 if self.dlab() => self.divisor = (self.divisor & 0x00FF) | (v as u16) << 8,
            1 => {
                // enabling THRE with an empty transmitter raises it (datasheet note)
                if v & ier::THRE != 0 && self.ier & ier::THRE == 0 {
                    self.thre_pending = true;
                }
                self.ier = v & 0x0F;
            }
            2 => {
                self.fifo_enabled = v & 1 != 0;
                if v & 2 != 0 || !self.fifo_enabled {
                    self.rx.clear();
                }
                self.trigger = [1, 4, 8, 14][(v >> 6) as usize];
            }
            3 => self.lcr = v,
            4 => {
                let old = self.msr();
                self.mcr = v & 0x1F;
                let new = self.msr();
                // delta CTS/DSR/DCD and trailing-edge RI
                let changed = (old ^ new) & 0xB0;
                self.msr_delta |= (changed >> 4) & 0x0B | ((old & !new & 0x40) >> 4);
            }
            5 | 6 => {} // LSR/MSR are read-only
            _ => self.scr = v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transmit_and_receive() {
        let mut u = Uart::default();
        u.write(3, 0x03); // 8N1
        for b in b"hi" {
            u.write(0, *b);
        }
        assert_eq!(u.take_output(), b"hi");
        assert_eq!(u.read(5) & 0x61, 0x60, "transmitter empty, no data");
        u.receive(b"x");
        assert_eq!(u.read(5) & 1, 1);
        assert_eq!(u.read(0), b'x');
        assert_eq!(u.read(5) & 1, 0);
    }

    #[test]
    fn divisor_latch_behind_dlab() {
        let mut u = Uart::default();
        u.write(3, 0x80);
        u.write(0, 0x01);
        u.write(1, 0x00);
        u.write(3, 0x03);
        assert_eq!(u.divisor, 1, "115200 baud");
        u.write(1, 0x05);
        assert_eq!(u.read(1), 0x05, "IER again once DLAB is clear");
    }

    #[test]
    fn interrupt_priorities_and_out2() {
        let mut u = Uart::default();
        u.write(1, ier::RDA | ier::THRE);
        assert_eq!(u.read(2) & 0x0F, 0x02, "THRE pending after enabling it");
        assert_eq!(u.read(2) & 0x0F, 0x01, "reading IIR acknowledged THRE");
        u.receive(b"ab");
        assert_eq!(u.read(2) & 0x0F, 0x04, "received data");
        assert!(!u.irq_level(), "OUT2 clear: no interrupt to the PIC");
        u.write(4, 0x08);
        assert!(u.irq_level());
        u.read(0);
        u.read(0);
        assert!(!u.irq_level());
    }

    #[test]
    fn fifo_and_loopback() {
        let mut u = Uart::default();
        u.write(2, 0x07); // enable and clear FIFOs, trigger 1
        u.write(4, 0x10); // loopback
        for b in 0..20u8 {
            u.write(0, b);
        }
        assert!(u.take_output().is_empty(), "loopback keeps bytes inside");
        assert_eq!(u.rx.len(), 16);
        assert_eq!(u.read(5) & 0x02, 0x02, "overrun");
        assert_eq!(u.read(0), 0);
        assert_eq!(u.read(2) & 0xC0, 0xC0, "FIFOs enabled");
    }
}
