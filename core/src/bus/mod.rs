//! The machine's buses: guest physical memory plus the MMIO bus (sorted, non-overlapping
//! ranges) and the port-I/O bus, both dispatching statically to the closed set of
//! [`crate::devices::Device`]s.
//!
//! Physical accesses that hit plain RAM take a fast path in [`GuestMemory`]; everything else
//! (MMIO, holes, above RAM, page-crossing accesses) is split into bytes or dispatched here.
//! Unclaimed ports read as all ones and ignore writes, as on a PC's ISA bus.

mod entropy;
pub use entropy::Entropy;
mod interrupts;
mod range_map;
mod virtio;
pub use virtio::{pci_irq, BAR_BASE, FIRST_SLOT};

pub use range_map::{Mapping, RangeMap};

use crate::devices::{Device, DeviceId};
use crate::time::{TimerId, Timers, VirtualClock};

/// Default virtual instruction rate: 1 G instructions per virtual second (1 ns each).
pub const DEFAULT_HZ: u64 = 1_000_000_000;
use crate::memory::{GuestMemory, PAGE_HOLE, PAGE_MMIO};

/// Memory, devices and the maps that route accesses to them.
#[derive(Debug, Clone)]
pub struct Bus {
    /// Guest RAM (and ROM, holes) with its bitmaps.
    pub mem: GuestMemory,
    /// Port-I/O map (ports 0..=0xFFFF).
    pub ports: RangeMap,
    /// MMIO map (guest physical addresses).
    pub mmio: RangeMap,
    /// Devices, indexed by [`DeviceId`].
    pub devices: Vec<Device>,
    /// The interrupt controller, if the machine has one.
    pub pic: Option<DeviceId>,
    /// The interval timer, if the machine has one.
    pub pit: Option<DeviceId>,
    /// The keyboard controller (A20 gate, reset line), if the machine has one.
    pub kbc: Option<DeviceId>,
    /// The PCI configuration mechanism (with the 0xCF9 reset register), if present.
    pub pci: Option<DeviceId>,
    /// The guest asked for a CPU reset (keyboard controller, port 0x92, port 0xCF9).
    pub reset_requested: bool,
    /// The real-time clock, if the machine has one.
    pub rtc: Option<DeviceId>,
    /// The local APIC, if the machine has one.
    pub lapic: Option<DeviceId>,
    /// The I/O APIC, if the machine has one.
    pub ioapic: Option<DeviceId>,
    /// The ACPI PM registers, if the machine has them.
    pub acpi_pm: Option<DeviceId>,
    /// The guest asked for power-off (ACPI S5).
    pub poweroff_requested: bool,
    /// The count of the instruction being executed, kept by the CPU, so MMIO devices see
    /// the exact virtual time.
    pub icount: u64,
    /// COM1 and its IRQ line, if the machine has it.
    pub com1: Option<(DeviceId, u8)>,
    /// The other serial ports (COM2-COM4) and their IRQ lines; only COM1 is connected to the
    /// host (`serial_in`, `take_serial_output`).
    pub other_uarts: Vec<(DeviceId, u8)>,
    /// Bytes sent to COM1 by the host that did not fit in its receiver yet.
    pub serial_in: std::collections::VecDeque<u8>,
    /// Virtual time.
    pub clock: VirtualClock,
    /// Armed device timers.
    pub timers: Timers,
    /// The instruction count at which the earliest timer is due (`u64::MAX`: none); kept
    /// current by every change to the timers or the clock.
    pub timer_icount: u64,
    /// An interrupt waits for the CPU: the local APIC has a deliverable vector, or the
    /// 8259A's INTR reaches the CPU (directly or through LINT0). Kept current after every
    /// change to the interrupt controllers.
    pub intr: bool,
    /// The instruction count at which the running block stops (the budget, the next timer
    /// deadline), set when a block starts. Anything the run loop checks between blocks that
    /// changes during an instruction (the timers are re-armed, [`Bus::intr`] is raised, a hook
    /// asks to stop) sets it to 0, so the block ends after that instruction.
    pub(crate) block_end: u64,
    /// The seeded random source of RDRAND/RDSEED.
    pub entropy: entropy::Entropy,
    /// Host hooks on I/O, MMIO, interrupts and CR3 loads (see `hooks`).
    pub hooks: crate::hooks::Hooks,
    /// The virtio PCI functions, in slot order.
    pub virtio: Vec<DeviceId>,
    /// The disks virtio-blk devices use (media: base image and overlay).
    pub disks: Vec<crate::devices::virtio::disk::Disk>,
    /// Physical address mask applied by the A20 gate: all ones when A20 is enabled, bit 20
    /// clear when disabled (real-mode wrap at 1 MiB).
    pub a20_mask: u32,
}

impl Bus {
    /// A bus over `mem` with no devices and A20 enabled.
    pub fn new(mem: GuestMemory) -> Self {
        Self {
            mem,
            ports: RangeMap::default(),
            mmio: RangeMap::default(),
            devices: Vec::new(),
            pic: None,
            pit: None,
            com1: None,
            other_uarts: Vec::new(),
            rtc: None,
            lapic: None,
            ioapic: None,
            acpi_pm: None,
            poweroff_requested: false,
            icount: 0,
            kbc: None,
            pci: None,
            reset_requested: false,
            entropy: entropy::Entropy::new(0),
            hooks: crate::hooks::Hooks::default(),
            serial_in: std::collections::VecDeque::new(),
            clock: VirtualClock::new(DEFAULT_HZ),
            timers: Timers::default(),
            timer_icount: u64::MAX,
            intr: false,
            block_end: 0,
            virtio: Vec::new(),
            disks: Vec::new(),
            a20_mask: !0,
        }
    }

    /// Adds a device and returns its id.
    pub fn add_device(&mut self, dev: Device) -> DeviceId {
        self.devices.push(dev);
        DeviceId(self.devices.len() as u16 - 1)
    }

    /// Maps ports `[start, start+len)` to `dev`.
    pub fn map_ports(&mut self, start: u16, len: u16, dev: DeviceId) -> Result<(), crate::VmError> {
        if start as u32 + len as u32 > 0x1_0000 {
            return Err(crate::VmError::Config(format!(
                "port range {start:#x}+{len:#x} exceeds 0xffff"
            )));
        }
        self.ports.insert(start as u64, len as u64, dev)
    }

    /// Maps physical `[start, start+len)` to `dev`. Pages of RAM under the range stop being RAM.
    pub fn map_mmio(&mut self, start: u32, len: u32, dev: DeviceId) -> Result<(), crate::VmError> {
        if start as u64 + len as u64 > 1 << 32 {
            return Err(crate::VmError::Config(format!(
                "MMIO range {start:#x}+{len:#x} exceeds 4 GiB"
            )));
        }
        let ram = self.mem.size() as u64;
        if (start as u64) < ram {
            let page = crate::memory::PAGE_SIZE as u32;
            if start % page != 0 || len % page != 0 {
                return Err(crate::VmError::Config(format!(
                    "MMIO range {start:#x}+{len:#x} inside RAM must be page aligned"
                )));
            }
            let in_ram = (ram - start as u64).min(len as u64) as u32;
            self.mmio.insert(start as u64, len as u64, dev)?;
            self.mem.set_attr(start, in_ram, PAGE_MMIO)?;
            return Ok(());
        }
        self.mmio.insert(start as u64, len as u64, dev)
    }

    /// Physical byte read (after the A20 mask) from RAM, MMIO or nothing (0xFF).
    #[inline]
    pub fn read_u8(&mut self, addr: u32) -> u8 {
        let addr = addr & self.a20_mask;
        match self.mem.read_u8_ram(addr) {
            Some(v) => v,
            None => self.read_slow(addr, 1) as u8,
        }
    }

    /// Physical byte write (after the A20 mask) to RAM, MMIO or nothing.
    #[inline]
    pub fn write_u8(&mut self, addr: u32, v: u8) {
        let addr = addr & self.a20_mask;
        if !self.mem.write_u8_ram(addr, v) {
            self.write_slow(addr, 1, v as u32);
        }
    }

    /// Physical little-endian read of 1, 2 or 4 bytes.
    #[inline(always)]
    pub fn read<const N: usize>(&mut self, addr: u32) -> u32 {
        let a = addr & self.a20_mask;
        if let Some(b) = self.mem.read_fast::<N>(a) {
            let mut w = [0u8; 4];
            w[..N].copy_from_slice(&b);
            return u32::from_le_bytes(w);
        }
        self.read_split(addr, N)
    }

    /// Physical little-endian write of 1, 2 or 4 bytes.
    #[inline(always)]
    pub fn write<const N: usize>(&mut self, addr: u32, v: u32) {
        let a = addr & self.a20_mask;
        let mut b = [0u8; N];
        b.copy_from_slice(&v.to_le_bytes()[..N]);
        if !self.mem.write_fast::<N>(a, b) {
            self.write_split(addr, N, v);
        }
    }

    #[cold]
    fn read_split(&mut self, addr: u32, n: usize) -> u32 {
        let a = addr & self.a20_mask;
        // A whole aligned MMIO access goes to the device as one access of its size.
        if self.is_mmio(a) && self.is_mmio(a.wrapping_add(n as u32 - 1)) {
            return self.read_slow(a, n);
        }
        let mut v = 0u32;
        for i in 0..n {
            v |= (self.read_u8(addr.wrapping_add(i as u32)) as u32) << (8 * i);
        }
        v
    }

    #[cold]
    fn write_split(&mut self, addr: u32, n: usize, v: u32) {
        let a = addr & self.a20_mask;
        if self.is_mmio(a) && self.is_mmio(a.wrapping_add(n as u32 - 1)) {
            return self.write_slow(a, n, v);
        }
        for i in 0..n {
            self.write_u8(addr.wrapping_add(i as u32), (v >> (8 * i)) as u8);
        }
    }

    fn is_mmio(&self, addr: u32) -> bool {
        if (addr as usize) < self.mem.size() && self.mem.page_attr(addr) & PAGE_MMIO == 0 {
            return false;
        }
        self.mmio.find(addr as u64).is_some()
    }

    #[cold]
    fn read_slow(&mut self, addr: u32, n: usize) -> u32 {
        let all_ones = (u64::MAX >> (64 - 8 * n)) as u32;
        if (addr as usize) < self.mem.size() && self.mem.page_attr(addr) & PAGE_HOLE != 0 {
            return all_ones;
        }
        let now = self.clock.now_ns(self.icount);
        match self.mmio.find(addr as u64).copied() {
            Some(m) => {
                let v = self.devices[m.device.0 as usize].mmio_read(addr as u64 - m.start, n, now);
                self.after_access(m.device, now);
                if self.hooks.any_mmio {
                    let v = self.hooks.mmio(addr, n, false, v);
                    self.after_hook();
                    return v;
                }
                v
            }
            None => all_ones,
        }
    }

    /// After hooks ran: a hook that asked to stop ends the running block after this
    /// instruction (`block_end`) and a REP string instruction after this iteration (it stops
    /// at the timer deadline, which the run loop recomputes before the next block).
    pub(crate) fn after_hook(&mut self) {
        if self.hooks.stop.is_some() {
            self.timer_icount = 0;
            self.block_end = 0;
        }
    }

    #[cold]
    fn write_slow(&mut self, addr: u32, n: usize, v: u32) {
        if (addr as usize) < self.mem.size() && self.mem.page_attr(addr) & PAGE_HOLE != 0 {
            return;
        }
        if let Some(m) = self.mmio.find(addr as u64).copied() {
            let now = self.clock.now_ns(self.icount);
            self.devices[m.device.0 as usize].mmio_write(addr as u64 - m.start, n, v, now);
            self.after_access(m.device, now);
            if self.hooks.any_mmio {
                self.hooks.mmio(addr, n, true, v);
                self.after_hook();
            }
        }
    }

    /// After an access to `dev`: re-arm its timer (the PIT) or recompute INTR (the PIC).
    fn after_access(&mut self, dev: DeviceId, now: u64) {
        if Some(dev) == self.pit {
            self.arm_pit(now);
        }
        if self.com1.map(|c| c.0) == Some(dev) || self.other_uarts.iter().any(|u| u.0 == dev) {
            self.serial_update();
        }
        if Some(dev) == self.rtc {
            self.rtc_update(now);
        }
        if Some(dev) == self.kbc {
            self.kbc_update();
        }
        if Some(dev) == self.pci {
            if let Device::Pci(p) = &mut self.devices[dev.0 as usize] {
                self.reset_requested |= std::mem::take(&mut p.reset_requested);
            }
        }
        if let Device::Virtio(_) = self.devices[dev.0 as usize] {
            self.virtio_after_access(dev);
        }
        if Some(dev) == self.acpi_pm {
            if let Device::AcpiPm(a) = &mut self.devices[dev.0 as usize] {
                self.poweroff_requested |= std::mem::take(&mut a.poweroff_requested);
            }
        }
        if Some(dev) == self.lapic {
            self.lapic_update(now);
        }
        if Some(dev) == self.ioapic {
            self.ioapic_update();
        }
        if Some(dev) == self.pic {
            self.update_intr();
        }
    }

    /// Applies the keyboard controller's A20 gate and reset request, and drives IRQs 1 and 12.
    fn kbc_update(&mut self) {
        let Some(id) = self.kbc else { return };
        let (a20, reset, irq1, irq12) = match &mut self.devices[id.0 as usize] {
            Device::I8042(k) => (
                k.a20(),
                std::mem::take(&mut k.reset_requested),
                k.irq1(),
                k.irq12(),
            ),
            _ => return,
        };
        self.a20_mask = if a20 { !0 } else { !(1 << 20) };
        self.reset_requested |= reset;
        self.set_irq(1, irq1);
        self.set_irq(12, irq12);
    }

    /// Brings the RTC's interrupt flags up to `now`, drives IRQ 8 and re-arms its timer.
    fn rtc_update(&mut self, now: u64) {
        let Some(id) = self.rtc else { return };
        let (level, next) = match &mut self.devices[id.0 as usize] {
            Device::Rtc(r) => (r.update(now), r.next_event(now)),
            _ => return,
        };
        self.set_irq(8, level);
        match next {
            Some(t) => self.timers.set(TimerId::Rtc, t),
            None => self.timers.clear(TimerId::Rtc),
        }
        self.retime();
    }

    /// Moves waiting host bytes into COM1's receiver and updates the serial ports' interrupt
    /// lines (COM1/COM3 share IRQ 4 and COM2/COM4 IRQ 3: a shared line is the OR of its ports).
    pub fn serial_update(&mut self) {
        let Some((id, irq)) = self.com1 else { return };
        if let Device::Uart(u) = &mut self.devices[id.0 as usize] {
            while u.can_receive() {
                match self.serial_in.pop_front() {
                    Some(b) => {
                        u.receive(&[b]);
                    }
                    None => break,
                }
            }
        }
        // each line (0-15) the ports use, and whether any port on it asserts it
        let (mut used, mut asserted) = (0u16, 0u16);
        for (id, irq) in std::iter::once((id, irq)).chain(self.other_uarts.iter().copied()) {
            let bit = 1 << (irq & 15);
            used |= bit;
            if let Device::Uart(u) = &self.devices[id.0 as usize] {
                if u.irq_level() {
                    asserted |= bit;
                }
            }
        }
        for irq in (0..16u8).filter(|i| used & 1 << i != 0) {
            self.set_irq(irq, asserted & 1 << irq != 0);
        }
    }

    fn arm_pit(&mut self, now: u64) {
        let Some(id) = self.pit else { return };
        if let Device::Pit(p) = &self.devices[id.0 as usize] {
            match p.next_irq0(now) {
                Some(t) => self.timers.set(TimerId::Pit0, t),
                None => self.timers.clear(TimerId::Pit0),
            }
        }
        self.retime();
    }

    /// Recomputes `timer_icount`.
    pub fn retime(&mut self) {
        self.timer_icount = match self.timers.next() {
            Some((d, _)) => self.clock.icount_at(d),
            None => u64::MAX,
        };
        self.block_end = 0;
    }

    /// The next timer deadline (virtual ns), if any timer is armed.
    pub fn next_timer_ns(&self) -> Option<u64> {
        self.timers.next().map(|(d, _)| d)
    }

    /// While the CPU is halted: moves virtual time to the next timer deadline (idle time is
    /// skipped, not spent) and fires it. Returns false when no timer is armed.
    pub fn idle_to_next_timer(&mut self, icount: u64) -> bool {
        let Some((d, _)) = self.timers.next() else {
            return false;
        };
        self.clock.skip_to(icount, d);
        self.retime();
        self.fire_timers(icount);
        true
    }

    /// Runs the device callbacks of every timer due at the virtual time of `icount`.
    pub fn fire_timers(&mut self, icount: u64) {
        let now = self.clock.now_ns(icount);
        while let Some(id) = self.timers.pop_due(now) {
            match id {
                TimerId::Pit0 => {
                    let Some(pit) = self.pit else { continue };
                    let pulse = match &mut self.devices[pit.0 as usize] {
                        Device::Pit(p) => p.fire(now),
                        _ => false,
                    };
                    if pulse {
                        // an edge on IRQ 0
                        self.set_irq(0, false);
                        self.set_irq(0, true);
                    }
                    self.arm_pit(now);
                }
                TimerId::Rtc => self.rtc_update(now),
                TimerId::Lapic => self.lapic_timer(now),
            }
        }
        self.retime();
    }

    /// Port input of `n` (1, 2 or 4) bytes by the instruction retiring as number `icount`;
    /// unclaimed ports read as all ones.
    pub fn io_in(&mut self, port: u16, n: usize, icount: u64) -> u32 {
        let v = self.io_in_device(port, n, icount);
        if self.hooks.any_io {
            let v = self.hooks.io(port, n, false, v);
            self.after_hook();
            return v;
        }
        v
    }

    fn io_in_device(&mut self, port: u16, n: usize, icount: u64) -> u32 {
        let now = self.clock.now_ns(icount);
        match self.ports.find(port as u64).copied() {
            Some(m) => {
                if Some(m.device) == self.pci && port >= 0xCFC && !self.virtio.is_empty() {
                    self.pci_window_read(port);
                }
                let v =
                    self.devices[m.device.0 as usize].io_read(port, port - m.start as u16, n, now);
                self.after_access(m.device, now);
                v
            }
            None => (u64::MAX >> (64 - 8 * n)) as u32,
        }
    }

    /// Port output of `n` (1, 2 or 4) bytes by the instruction retiring as number `icount`;
    /// writes to unclaimed ports are ignored.
    pub fn io_out(&mut self, port: u16, n: usize, v: u32, icount: u64) {
        let now = self.clock.now_ns(icount);
        if let Some(m) = self.ports.find(port as u64).copied() {
            self.devices[m.device.0 as usize].io_write(port, port - m.start as u16, n, v, now);
            self.after_access(m.device, now);
            if Some(m.device) == self.pci && port >= 0xCFC && !self.virtio.is_empty() {
                self.pci_after_write(port);
            }
        }
        if self.hooks.any_io {
            self.hooks.io(port, n, true, v);
            self.after_hook();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::ScratchRegisters;

    fn bus() -> Bus {
        Bus::new(GuestMemory::new(0x2000).unwrap())
    }

    #[test]
    fn ram_reads_and_writes_cross_pages() {
        let mut b = bus();
        b.write::<4>(0xffe, 0xaabbccdd);
        assert_eq!(b.read::<4>(0xffe), 0xaabbccdd);
        assert_eq!(b.read::<2>(0x1000), 0xaabb);
    }

    #[test]
    fn above_ram_is_unmapped() {
        let mut b = bus();
        assert_eq!(b.read::<4>(0x10_0000), 0xffff_ffff);
        b.write::<2>(0x10_0000, 0x1234);
        assert_eq!(b.read::<2>(0x10_0000), 0xffff);
        // an access straddling the end of RAM reads RAM then nothing
        b.write_u8(0x1fff, 0x42);
        assert_eq!(b.read::<2>(0x1fff), 0xff42);
    }

    #[test]
    fn a20_mask_wraps_at_one_mib() {
        let mut b = Bus::new(GuestMemory::new(0x20_0000).unwrap());
        b.write_u8(0x10, 7);
        b.a20_mask = !(1 << 20);
        assert_eq!(b.read_u8(0x10_0010), 7);
        b.a20_mask = !0;
        assert_eq!(b.read_u8(0x10_0010), 0);
    }

    #[test]
    fn mmio_dispatch_whole_access() {
        let mut b = bus();
        let id = b.add_device(Device::Scratch(ScratchRegisters::new(16)));
        b.map_mmio(0xfee0_0000, 16, id).unwrap();
        b.write::<4>(0xfee0_0004, 0x1122_3344);
        assert_eq!(b.read::<4>(0xfee0_0004), 0x1122_3344);
        assert_eq!(b.read::<1>(0xfee0_0005), 0x33);
        // MMIO over RAM pages hides the RAM
        b.write_u8(0x1000, 9);
        let id2 = b.add_device(Device::Scratch(ScratchRegisters::new(0x1000)));
        b.map_mmio(0x1000, 0x1000, id2).unwrap();
        assert_eq!(b.read_u8(0x1000), 0);
        assert!(b.map_mmio(0x1800, 0x1000, id2).is_err());
    }

    #[test]
    fn unclaimed_ports_read_ones() {
        let mut b = bus();
        assert_eq!(b.io_in(0x1234, 1, 0), 0xff);
        assert_eq!(b.io_in(0x1234, 2, 0), 0xffff);
        assert_eq!(b.io_in(0x1234, 4, 0), 0xffff_ffff);
    }
}
