//! The bus side of the virtio PCI functions (`crate::devices::virtio`): attaching them as
//! firmware would (PCI slot, BAR address, interrupt line, ELCR), keeping each device's view of
//! its configuration space in step with [`crate::devices::pci::PciBus`] (BAR moves, memory
//! decoding, bus mastering, INTx disable, MSI-X enable and mask), the VIRTIO_PCI_CAP_PCI_CFG
//! window, running queue work after an access, and delivering interrupts: MSI-X messages to
//! the local APIC (SDM vol. 3A, 11.11: address 0xFEEx_xxxx, destination in bits 19:12,
//! destination mode in bit 2; data: vector in bits 7:0, delivery mode in bits 10:8) and INTA#
//! lines, ORed per ISA line because functions share them.

use super::Bus;
use crate::devices::virtio::{layout, VirtioKind, VirtioPci};
use crate::devices::{Device, DeviceId};

/// Where firmware puts the first function's BAR; each next one 64 KiB higher (below the
/// I/O APIC at 0xFEC0_0000).
pub const BAR_BASE: u32 = 0xFE00_0000;
const BAR_STRIDE: u32 = 0x1_0000;
/// The first PCI device number used (00:00.0 and 00:01.0 are the chipset).
pub const FIRST_SLOT: u16 = 2;
/// The ISA lines INTA# of consecutive slots go to (as a PC's PIRQ routing would leave them).
const PCI_IRQS: [u8; 2] = [10, 11];

/// The ISA line (and GSI) INTA# of PCI slot `slot` is wired to (the ACPI `_PRT` says the same).
pub fn pci_irq(slot: u16) -> u8 {
    PCI_IRQS[slot as usize % PCI_IRQS.len()]
}

impl Bus {
    /// Attaches virtio device `kind` in the next free slot, as firmware leaves it: BAR 0
    /// assigned and decoded, bus mastering on, the interrupt line in the configuration space
    /// and level-triggered in the ELCR.
    pub fn attach_virtio(&mut self, kind: VirtioKind) -> Result<DeviceId, crate::VmError> {
        let Some(pci) = self.pci else {
            return Err(crate::VmError::Config(
                "virtio devices need the PCI chipset (MachineConfig::chipset)".into(),
            ));
        };
        let index = self.virtio.len() as u16;
        if index >= 16 {
            return Err(crate::VmError::Config("at most 16 virtio devices".into()));
        }
        let slot = FIRST_SLOT + index;
        let bdf = slot << 3;
        let irq = pci_irq(slot);
        let bar = BAR_BASE + index as u32 * BAR_STRIDE;
        let dev = VirtioPci::new(bdf, irq, kind);
        let function = layout::pci_function(bdf, irq, bar, &dev.kind, dev.msix.len());
        let id = self.add_device(Device::Virtio(Box::new(dev)));
        if let Device::Pci(p) = &mut self.devices[pci.0 as usize] {
            let at = p.functions.partition_point(|f| f.bdf < bdf);
            p.functions.insert(at, function);
        }
        if let Some(pic) = self.pic {
            if let Device::Pic(p) = &mut self.devices[pic.0 as usize] {
                p.set_level_triggered(irq);
            }
        }
        self.virtio.push(id);
        self.sync_virtio_pci();
        Ok(id)
    }

    /// After a configuration write: brings every virtio device's PCI-level state and BAR
    /// mapping in line with its configuration space, then runs what that allows (pending
    /// notifications once bus mastering is on, MSI-X messages once unmasked).
    pub(crate) fn sync_virtio_pci(&mut self) {
        self.map_virtio_pci();
        for i in 0..self.virtio.len() {
            let id = self.virtio[i];
            if let Device::Virtio(v) = &mut self.devices[id.0 as usize] {
                v.msix_unmasked();
            }
            self.virtio_after_access(id);
        }
    }

    /// Brings every virtio device's PCI-level state and BAR mapping in line with its
    /// configuration space, and nothing else (a restored machine: its state is complete).
    pub(crate) fn map_virtio_pci(&mut self) {
        let Some(pci) = self.pci else { return };
        for i in 0..self.virtio.len() {
            let id = self.virtio[i];
            let Device::Virtio(v) = &self.devices[id.0 as usize] else {
                continue;
            };
            let state = match &self.devices[pci.0 as usize] {
                Device::Pci(p) => match p.functions.iter().find(|f| f.bdf == v.bdf) {
                    Some(f) => layout::pci_state(f),
                    None => continue,
                },
                _ => continue,
            };
            // a BAR inside RAM or past 4 GiB is not decoded (RAM wins, as in a chipset)
            let ram = self.mem.size() as u64;
            let bar = state
                .bar
                .filter(|&b| b as u64 >= ram && b as u64 + layout::BAR_SIZE as u64 <= 1 << 32);
            let mapped = self
                .mmio
                .iter()
                .find(|m| m.device == id)
                .map(|m| m.start as u32);
            if mapped != bar {
                self.mmio.remove_device(id);
                if let Some(b) = bar {
                    // overlapping another range (the APICs): not decoded
                    let _ = self.mmio.insert(b as u64, layout::BAR_SIZE as u64, id);
                }
            }
            let Device::Virtio(v) = &mut self.devices[id.0 as usize] else {
                continue;
            };
            v.bar = bar;
            v.bus_master = state.bus_master;
            v.intx_disabled = state.intx_disabled;
            v.msix_enabled = state.msix_enabled;
            v.msix_masked = state.msix_masked;
        }
    }

    /// After an access to virtio device `id`: its queue work, then its interrupts.
    pub(crate) fn virtio_after_access(&mut self, id: DeviceId) {
        let Bus {
            devices,
            mem,
            disks,
            ..
        } = self;
        let Device::Virtio(v) = &mut devices[id.0 as usize] else {
            return;
        };
        v.after_access(mem, disks);
        let messages = std::mem::take(&mut v.outbox);
        let irq = v.irq;
        for (addr, data) in messages {
            self.deliver_msi(addr, data);
        }
        self.update_pci_line(irq);
    }

    /// Delivers an MSI message to the local APIC (fixed and lowest-priority delivery; the
    /// other modes are not generated by these devices' drivers and are dropped).
    fn deliver_msi(&mut self, addr: u64, data: u32) {
        if addr >> 20 != 0xFEE || (data >> 8) & 7 > 1 {
            return;
        }
        let Some(l) = self.lapic else { return };
        if let Device::Lapic(l) = &mut self.devices[l.0 as usize] {
            let (dest, logical) = ((addr >> 12) as u8, addr & 4 != 0);
            if l.is_destination(dest, logical) {
                l.accept(data as u8, false);
            }
        }
        self.update_intr();
    }

    /// Drives ISA line `irq` with the OR of the INTA# of every virtio function on it.
    fn update_pci_line(&mut self, irq: u8) {
        let level = self
            .virtio
            .iter()
            .any(|id| match &self.devices[id.0 as usize] {
                Device::Virtio(v) => v.irq == irq && v.intx_level(),
                _ => false,
            });
        self.set_irq(irq, level);
    }

    /// The virtio function CONFIG_ADDRESS selects with its `pci_cfg_data` bytes under the
    /// data port `port`, with the window's BAR access: (device, offset, length).
    fn window_access(&self, port: u16) -> Option<(DeviceId, u64, usize)> {
        let Device::Pci(p) = &self.devices[self.pci?.0 as usize] else {
            return None;
        };
        if p.address & 0x8000_0000 == 0 {
            return None;
        }
        let bdf = ((p.address >> 8) & 0xFFFF) as u16;
        let reg = (p.address & 0xFC) as usize + (port - 0xCFC) as usize;
        if !(layout::PCI_CFG_DATA..layout::PCI_CFG_DATA + 4).contains(&reg) {
            return None;
        }
        let id = *self
            .virtio
            .iter()
            .find(|id| matches!(&self.devices[id.0 as usize], Device::Virtio(v) if v.bdf == bdf))?;
        let f = p.functions.iter().find(|f| f.bdf == bdf)?;
        let (offset, len) = layout::window(f)?;
        Some((id, offset, len))
    }

    /// Before a configuration-data read: fills `pci_cfg_data` from the BAR access the
    /// VIRTIO_PCI_CAP_PCI_CFG window describes (4.1.4.9.1).
    pub(crate) fn pci_window_read(&mut self, port: u16) {
        let Some((id, offset, len)) = self.window_access(port) else {
            return;
        };
        let value = match &mut self.devices[id.0 as usize] {
            Device::Virtio(v) => v.mmio_read(offset, len),
            _ => return,
        };
        let bdf = match &self.devices[id.0 as usize] {
            Device::Virtio(v) => v.bdf,
            _ => return,
        };
        if let Some(Device::Pci(p)) = self.pci.map(|p| &mut self.devices[p.0 as usize]) {
            if let Some(f) = p.functions.iter_mut().find(|f| f.bdf == bdf) {
                let at = layout::PCI_CFG_DATA;
                f.config[at..at + 4].copy_from_slice(&value.to_le_bytes());
            }
        }
        self.virtio_after_access(id);
    }

    /// After a configuration-data write: carries out a write through the window, then
    /// re-reads the PCI-level state of every virtio function.
    pub(crate) fn pci_after_write(&mut self, port: u16) {
        if let Some((id, offset, len)) = self.window_access(port) {
            let value = match self.pci.map(|p| &self.devices[p.0 as usize]) {
                Some(Device::Pci(p)) => {
                    let bdf = ((p.address >> 8) & 0xFFFF) as u16;
                    p.functions.iter().find(|f| f.bdf == bdf).map(|f| {
                        let at = layout::PCI_CFG_DATA;
                        u32::from_le_bytes([
                            f.config[at],
                            f.config[at + 1],
                            f.config[at + 2],
                            f.config[at + 3],
                        ])
                    })
                }
                _ => None,
            };
            if let (Some(value), Device::Virtio(v)) = (value, &mut self.devices[id.0 as usize]) {
                v.mmio_write(offset, len, value);
            }
            self.virtio_after_access(id);
        }
        self.sync_virtio_pci();
    }

    /// The `n`th virtio device with virtio device id `device_id` (see
    /// [`VirtioKind::device_id`]).
    fn virtio_index(&self, device_id: u16, n: usize) -> Option<DeviceId> {
        let of_kind = self.virtio.iter().filter(|id| {
            matches!(&self.devices[id.0 as usize], Device::Virtio(v) if v.kind.device_id() == device_id)
        });
        of_kind.copied().nth(n)
    }

    /// The `n`th virtio device with device id `device_id`, mutably, with its bus id.
    pub fn virtio_device(
        &mut self,
        device_id: u16,
        n: usize,
    ) -> Option<(DeviceId, &mut VirtioPci)> {
        let id = self.virtio_index(device_id, n)?;
        match &mut self.devices[id.0 as usize] {
            Device::Virtio(v) => Some((id, v)),
            _ => None,
        }
    }

    /// The `n`th virtio device with device id `device_id`.
    pub fn virtio_device_ref(&self, device_id: u16, n: usize) -> Option<&VirtioPci> {
        match &self.devices[self.virtio_index(device_id, n)?.0 as usize] {
            Device::Virtio(v) => Some(v),
            _ => None,
        }
    }

    /// Runs the work host input left for queues `queues` of device `id` (input was queued on
    /// it), then its interrupts.
    pub fn virtio_input(&mut self, id: DeviceId, queues: u32) {
        let Bus {
            devices,
            mem,
            disks,
            ..
        } = self;
        if let Device::Virtio(v) = &mut devices[id.0 as usize] {
            v.process(mem, disks, queues);
        }
        self.virtio_after_access(id);
    }
}
