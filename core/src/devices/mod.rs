//! The closed set of devices. Dispatch is a `match` on [`Device`]: no trait objects, no shared
//! pointers, and every device's state is plain data.
//!
//! Devices present so far: the debug console (port 0xE9, the Bochs/QEMU "debugcon" convention)
//! and a scratch register block used to test MMIO dispatch. The PC platform devices (PIC, PIT,
//! RTC, UART, …) arrive with the Linux-boot issue.

mod debugcon;
mod scratch;

pub use debugcon::DebugConsole;
pub use scratch::ScratchRegisters;

/// Index of a device in [`crate::bus::Bus::devices`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceId(pub u16);

/// Every device vx86 can attach.
#[derive(Debug, Clone)]
pub enum Device {
    /// Port 0xE9 byte sink.
    DebugConsole(DebugConsole),
    /// Read/write register block (MMIO test device).
    Scratch(ScratchRegisters),
}

impl Device {
    /// Port read at `offset` from the start of the device's port range.
    pub fn io_read(&mut self, offset: u16, size: usize) -> u32 {
        match self {
            Device::DebugConsole(d) => d.io_read(offset, size),
            Device::Scratch(d) => d.read(offset as u64, size),
        }
    }

    /// Port write at `offset` from the start of the device's port range.
    pub fn io_write(&mut self, offset: u16, size: usize, value: u32) {
        match self {
            Device::DebugConsole(d) => d.io_write(offset, size, value),
            Device::Scratch(d) => d.write(offset as u64, size, value),
        }
    }

    /// MMIO read at `offset` from the start of the device's MMIO range.
    pub fn mmio_read(&mut self, offset: u64, size: usize) -> u32 {
        match self {
            Device::DebugConsole(_) => (u64::MAX >> (64 - 8 * size)) as u32,
            Device::Scratch(d) => d.read(offset, size),
        }
    }

    /// MMIO write at `offset` from the start of the device's MMIO range.
    pub fn mmio_write(&mut self, offset: u64, size: usize, value: u32) {
        match self {
            Device::DebugConsole(_) => {}
            Device::Scratch(d) => d.write(offset, size, value),
        }
    }
}
