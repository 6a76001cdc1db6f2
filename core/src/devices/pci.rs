//! PCI configuration space through configuration mechanism #1 (PCI Local Bus Specification
//! 3.0, 3.2.2.3.2: CONFIG_ADDRESS at 0xCF8, CONFIG_DATA at 0xCFC-0xCFF), with the functions of
//! an i440FX-class PC: the host bridge at 00:00.0 (Intel 82441FX, 8086:1237) and the PIIX3
//! ISA bridge at 00:01.0 (8086:7000).
//!
//! Port 0xCF9 is the PIIX reset control register: writing bit 2 (reset CPU) requests a reset.
//!
//! Each function is 256 bytes of configuration space with a mask of the bits software may
//! write; reads of absent functions return all ones. Left out: configuration mechanism #2,
//! PCI Express extended space, the chipset registers' effects (PAM shadowing, PIRQ routing),
//! which later devices add as they need them.

/// One PCI function.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct PciFunction {
    /// Bus/device/function as `bus << 8 | dev << 3 | fn`.
    pub bdf: u16,
    /// Configuration space.
    pub config: [u8; 256],
    /// Writable bits of each configuration byte.
    pub writable: [u8; 256],
}

impl PciFunction {
    /// A function with the standard header fields; `class` is class << 16 | subclass << 8 |
    /// prog-if.
    pub fn new(bdf: u16, vendor: u16, device: u16, class: u32, header_type: u8) -> Self {
        let mut config = [0u8; 256];
        config[0..2].copy_from_slice(&vendor.to_le_bytes());
        config[2..4].copy_from_slice(&device.to_le_bytes());
        config[0x09..0x0C].copy_from_slice(&class.to_le_bytes()[..3]);
        config[0x0E] = header_type;
        let mut writable = [0u8; 256];
        // command register (I/O, memory, bus master, ...) and the interrupt line
        writable[0x04] = 0xFF;
        writable[0x05] = 0x07;
        writable[0x0C] = 0xFF; // cache line size
        writable[0x0D] = 0xFF; // latency timer
        writable[0x3C] = 0xFF;
        // device-specific registers (0x40-0xFF) are plain read/write storage
        writable[0x40..].fill(0xFF);
        Self {
            bdf,
            config,
            writable,
        }
    }
}

/// The configuration-space access mechanism and the functions behind it.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct PciBus {
    /// CONFIG_ADDRESS.
    pub address: u32,
    /// Functions, sorted by `bdf`.
    pub functions: Vec<PciFunction>,
    /// The guest wrote the reset bit of port 0xCF9.
    pub reset_requested: bool,
}

impl Default for PciBus {
    /// The i440FX host bridge and the PIIX3 ISA bridge.
    fn default() -> Self {
        Self {
            address: 0,
            functions: vec![
                PciFunction::new(0x0000, 0x8086, 0x1237, 0x06_00_00, 0x00),
                PciFunction::new(0x0008, 0x8086, 0x7000, 0x06_01_00, 0x80),
            ],
            reset_requested: false,
        }
    }
}

impl PciBus {
    /// The function and register offset CONFIG_ADDRESS selects for a data-port access at
    /// byte `lane` (0-3), if enabled and present.
    fn target(&mut self, lane: u16) -> Option<(&mut PciFunction, usize)> {
        if self.address & 0x8000_0000 == 0 {
            return None;
        }
        let bdf = ((self.address >> 8) & 0xFFFF) as u16;
        let reg = (self.address & 0xFC) as usize + lane as usize;
        self.functions
            .iter_mut()
            .find(|f| f.bdf == bdf)
            .map(|f| (f, reg))
    }

    /// Port read of `size` bytes at `port` (0xCF8-0xCFF).
    pub fn io_read(&mut self, port: u16, size: usize) -> u32 {
        if (0xCF8..0xCFC).contains(&port) {
            return if port == 0xCF8 && size == 4 {
                self.address
            } else {
                (u64::MAX >> (64 - 8 * size)) as u32
            };
        }
        let lane = port - 0xCFC;
        match self.target(lane) {
            Some((f, reg)) => (0..size).fold(0u32, |v, i| {
                v | (f.config[(reg + i) & 0xFF] as u32) << (8 * i)
            }),
            None => (u64::MAX >> (64 - 8 * size)) as u32,
        }
    }

    /// Port write of `size` bytes at `port`.
    pub fn io_write(&mut self, port: u16, size: usize, v: u32) {
        if port == 0xCF8 {
            if size == 4 {
                self.address = v & 0x80FF_FFFC;
            }
            return;
        }
        if port == 0xCF9 && size == 1 {
            self.reset_requested |= v & 0x04 != 0;
            return;
        }
        if (0xCF9..0xCFC).contains(&port) {
            return;
        }
        let lane = port - 0xCFC;
        if let Some((f, reg)) = self.target(lane) {
            for i in 0..size {
                let r = (reg + i) & 0xFF;
                let b = (v >> (8 * i)) as u8;
                f.config[r] = (f.config[r] & !f.writable[r]) | (b & f.writable[r]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(bdf: u16, reg: u8) -> u32 {
        0x8000_0000 | (bdf as u32) << 8 | reg as u32
    }

    #[test]
    fn host_bridge_identity_and_absent_functions() {
        let mut p = PciBus::default();
        p.io_write(0xCF8, 4, addr(0, 0));
        assert_eq!(p.io_read(0xCFC, 4), 0x1237_8086);
        p.io_write(0xCF8, 4, addr(0, 8));
        assert_eq!(p.io_read(0xCFC, 4) >> 8, 0x06_00_00, "class: host bridge");
        p.io_write(0xCF8, 4, addr(0x0008, 0x0C));
        assert_eq!(
            (p.io_read(0xCFE, 1)),
            0x80,
            "PIIX3 is multi-function (header type bit 7)"
        );
        p.io_write(0xCF8, 4, addr(0x0010, 0)); // device 2: absent
        assert_eq!(p.io_read(0xCFC, 4), 0xFFFF_FFFF);
        p.io_write(0xCF8, 4, 0x0000_0000); // enable bit clear
        assert_eq!(p.io_read(0xCFC, 2), 0xFFFF);
    }

    #[test]
    fn only_writable_bits_change() {
        let mut p = PciBus::default();
        p.io_write(0xCF8, 4, addr(0, 0));
        p.io_write(0xCFC, 4, 0xFFFF_FFFF); // vendor/device are read-only
        assert_eq!(p.io_read(0xCFC, 4), 0x1237_8086);
        p.io_write(0xCF8, 4, addr(0, 4));
        p.io_write(0xCFC, 2, 0xFFFF);
        assert_eq!(p.io_read(0xCFC, 2), 0x07FF);
        p.io_write(0xCF8, 4, addr(0, 0x3C));
        p.io_write(0xCFC, 1, 11);
        assert_eq!(p.io_read(0xCFC, 1), 11);
        p.io_write(0xCF9, 1, 0x06);
        assert!(p.reset_requested);
    }
}
