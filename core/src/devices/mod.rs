//! The closed set of devices. Dispatch is a `match` on [`Device`]: no trait objects, no shared
//! pointers, and every device's state is plain data.
//!
//! The PC platform: the 8259A pair, the 8254 PIT, the MC146818 RTC, a 16550A UART, the 8042,
//! the PCI configuration mechanism, the local APIC and the I/O APIC, the ACPI PM registers; plus
//! the debug console (port 0xE9, the Bochs/QEMU "debugcon" convention) and a scratch register
//! block used to test MMIO dispatch.

pub mod acpi_pm;
mod debugcon;
pub mod i8042;
pub mod ioapic;
pub mod lapic;
pub mod pci;
pub mod pic;
pub mod pit;
pub mod rtc;
mod scratch;
pub mod uart;
pub mod virtio;

pub use debugcon::DebugConsole;
pub use scratch::ScratchRegisters;

/// Index of a device in [`crate::bus::Bus::devices`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub struct DeviceId(pub u16);

/// Every device vx86 can attach.
#[derive(Debug, Clone, bincode::Encode, bincode::Decode)]
pub enum Device {
    /// Port 0xE9 byte sink.
    DebugConsole(DebugConsole),
    /// Read/write register block (MMIO test device).
    Scratch(ScratchRegisters),
    /// The master/slave 8259A pair (ports 0x20-0x21, 0xA0-0xA1, ELCR 0x4D0-0x4D1).
    Pic(pic::DualPic),
    /// The 8254 timer (ports 0x40-0x43) and port 0x61.
    Pit(pit::Pit),
    /// A 16550A serial port.
    Uart(uart::Uart),
    /// The MC146818 real-time clock and CMOS RAM (ports 0x70-0x71).
    Rtc(rtc::Rtc),
    /// The 8042 keyboard controller (0x60, 0x64) with port 0x92 and port 0x80.
    I8042(i8042::I8042),
    /// PCI configuration mechanism #1 (0xCF8-0xCFF) and the chipset's PCI functions.
    Pci(pci::PciBus),
    /// The CPU's local APIC (MMIO 0xFEE0_0000).
    Lapic(lapic::Lapic),
    /// The I/O APIC (MMIO 0xFEC0_0000).
    Ioapic(ioapic::Ioapic),
    /// The ACPI PM1 and PM-timer registers (ports 0x600-0x60B).
    AcpiPm(acpi_pm::AcpiPm),
    /// A virtio PCI function (MMIO: its BAR).
    Virtio(Box<virtio::VirtioPci>),
}

impl Device {
    /// A copy without the output already sent towards the host (a UART's transmitted bytes,
    /// the debug console's text): the guest cannot observe it, and when the host collects it
    /// must not change the state hash.
    pub fn without_host_output(&self) -> Device {
        match self {
            Device::Uart(u) => {
                let mut u = u.clone();
                u.tx.clear();
                Device::Uart(u)
            }
            Device::DebugConsole(_) => Device::DebugConsole(DebugConsole::default()),
            Device::Virtio(v) => {
                let mut v = v.clone();
                match &mut v.kind {
                    virtio::VirtioKind::Console(c) => c.output.clear(),
                    virtio::VirtioKind::Net(n) => n.output.clear(),
                    _ => {}
                }
                v.error.clear();
                Device::Virtio(v)
            }
            other => other.clone(),
        }
    }

    /// Checks state decoded from a snapshot (untrusted input) at virtual time `now` (ns) for
    /// values the device code assumes never occur: times in the future, FIFOs beyond their
    /// depth, initialisation steps that do not exist.
    pub fn validate(&self, now: u64) -> Result<(), String> {
        let future = |what: &str, t: u64| {
            if t > now {
                Err(format!("{what} at {t} ns, after the current time {now} ns"))
            } else {
                Ok(())
            }
        };
        match self {
            Device::Pit(p) => {
                p.ch.iter()
                    .try_for_each(|c| future("PIT channel start", c.start_ns))
            }
            Device::Rtc(r) => future("RTC update", r.last_ns),
            Device::Lapic(l) => l.validate(now),
            Device::Uart(u) => u.validate(),
            Device::Virtio(v) => v.validate(),
            Device::Pic(p) => match (p.master.icw_step, p.slave.icw_step) {
                (0..=4, 0..=4) => Ok(()),
                steps => Err(format!("8259A initialisation steps {steps:?}")),
            },
            _ => Ok(()),
        }
    }

    /// Port read of `port`, `offset` bytes into the device's port range, at virtual time `now`.
    pub fn io_read(&mut self, port: u16, offset: u16, size: usize, now: u64) -> u32 {
        match self {
            Device::DebugConsole(d) => d.io_read(offset, size),
            Device::Pic(p) => p.io_read(port) as u32,
            Device::Pit(p) => p.io_read(port, now) as u32,
            Device::Uart(u) => u.read(offset) as u32,
            Device::Rtc(r) => r.io_read(port, now) as u32,
            Device::I8042(k) => k.io_read(port) as u32,
            Device::Pci(p) => p.io_read(port, size),
            Device::AcpiPm(a) => a.io_read(port, size, now),
            Device::Scratch(d) => d.read(offset as u64, size),
            Device::Lapic(_) | Device::Ioapic(_) | Device::Virtio(_) => u32::MAX >> (32 - 8 * size),
        }
    }

    /// Port write of `port`, `offset` bytes into the device's port range, at virtual time `now`.
    pub fn io_write(&mut self, port: u16, offset: u16, size: usize, value: u32, now: u64) {
        match self {
            Device::DebugConsole(d) => d.io_write(offset, size, value),
            Device::Pic(p) => p.io_write(port, value as u8),
            Device::Pit(p) => p.io_write(port, value as u8, now),
            Device::Uart(u) => u.write(offset, value as u8),
            Device::Rtc(r) => r.io_write(port, value as u8, now),
            Device::I8042(k) => k.io_write(port, value as u8),
            Device::Pci(p) => p.io_write(port, size, value),
            Device::AcpiPm(a) => a.io_write(port, size, value),
            Device::Scratch(d) => d.write(offset as u64, size, value),
            Device::Lapic(_) | Device::Ioapic(_) | Device::Virtio(_) => {}
        }
    }

    /// MMIO read at `offset` from the start of the device's MMIO range, at virtual time `now`.
    /// APIC registers are 32 bits wide: narrower reads get the bytes of the register.
    pub fn mmio_read(&mut self, offset: u64, size: usize, now: u64) -> u32 {
        let narrow = |v: u32| (v >> (8 * (offset & 3))) & (u64::MAX >> (64 - 8 * size)) as u32;
        match self {
            Device::Scratch(d) => d.read(offset, size),
            Device::Lapic(l) => narrow(l.read(offset as u32 & !3, now)),
            Device::Ioapic(i) => narrow(i.mmio_read(offset & !3)),
            Device::Virtio(v) => v.mmio_read(offset, size),
            // port-only devices never get an MMIO range
            _ => (u64::MAX >> (64 - 8 * size)) as u32,
        }
    }

    /// MMIO write at `offset` from the start of the device's MMIO range, at virtual time `now`.
    /// APIC registers take 32-bit writes (the IOAPIC's select register also a byte write).
    pub fn mmio_write(&mut self, offset: u64, size: usize, value: u32, now: u64) {
        match self {
            Device::Scratch(d) => d.write(offset, size, value),
            Device::Virtio(v) => v.mmio_write(offset, size, value),
            Device::Lapic(l) if size == 4 => l.write(offset as u32, value, now),
            Device::Ioapic(i) if size == 4 || offset & 0xFF == 0 => {
                let mut out = std::mem::take(&mut i.outbox);
                i.mmio_write(offset, value, &mut out);
                i.outbox = out;
            }
            _ => {}
        }
    }
}
