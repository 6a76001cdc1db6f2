//! Where a virtio function's registers are: its PCI configuration space (Virtio 1.2, 4.1.2
//! identification, 4.1.4 capabilities; PCI Local Bus 3.0, 6.8.2 MSI-X) and the layout of its
//! memory BAR.
//!
//! Configuration space: the standard type-0 header with one 32-bit memory BAR (BAR 0), the
//! capability list at 0x40: MSI-X, then the vendor capabilities for the common
//! configuration, notifications (multiplier 4: queue `n` at `NOTIFY + 4n`), the ISR status,
//! the device configuration and the VIRTIO_PCI_CAP_PCI_CFG window (4.1.4.9). Writable:
//! the command register, BAR 0 (its size bits read back as zero), the interrupt line, the
//! MSI-X enable and function-mask bits and the window's bar/offset/length/data fields.

use super::VirtioKind;
use crate::devices::pci::PciFunction;

/// Size of BAR 0 (a power of two).
pub const BAR_SIZE: u32 = 0x4000;
/// Common configuration structure offset in the BAR.
pub const COMMON: u64 = 0x0000;
/// Its length (through queue_device).
pub const COMMON_LEN: u64 = 0x38;
/// ISR status offset.
pub const ISR: u64 = 0x0800;
/// ISR region length.
pub const ISR_LEN: u64 = 4;
/// Device configuration offset.
pub const DEVICE: u64 = 0x0C00;
/// Device configuration region length.
pub const DEVICE_LEN: u64 = 0x100;
/// Notification region offset.
pub const NOTIFY: u64 = 0x1000;
/// notify_off_multiplier.
pub const NOTIFY_MULTIPLIER: u32 = 4;
/// MSI-X table offset.
pub const MSIX_TABLE: u64 = 0x2000;
/// MSI-X pending-bit array offset.
pub const MSIX_PBA: u64 = 0x3000;

/// Capability offsets in configuration space.
pub const CAP_MSIX: usize = 0x40;
const CAP_COMMON: usize = 0x50;
const CAP_NOTIFY: usize = 0x60;
const CAP_ISR: usize = 0x74;
const CAP_DEVICE: usize = 0x84;
/// The VIRTIO_PCI_CAP_PCI_CFG capability (the window into the BAR).
pub const CAP_PCI_CFG: usize = 0x94;
/// Offset of its `pci_cfg_data` field.
pub const PCI_CFG_DATA: usize = CAP_PCI_CFG + 16;

/// The PCI vendor of virtio devices.
pub const VENDOR: u16 = 0x1AF4;

/// The configuration space of a virtio function at `bdf` with INTA# on line `irq`, BAR 0
/// at `bar` with memory decoding and bus mastering on (as firmware leaves it).
pub fn pci_function(bdf: u16, irq: u8, bar: u32, kind: &VirtioKind, vectors: usize) -> PciFunction {
    let mut f = PciFunction::new(bdf, VENDOR, 0x1040 + kind.device_id(), kind.class_code(), 0);
    let c = &mut f.config;
    c[0x04] = 0x06; // memory space + bus master
    c[0x06] = 0x10; // status: capabilities list
    c[0x08] = 1; // revision 1: a non-transitional device (4.1.2.1)
    c[0x10..0x14].copy_from_slice(&bar.to_le_bytes());
    c[0x2C..0x2E].copy_from_slice(&VENDOR.to_le_bytes()); // subsystem vendor
    c[0x2E..0x30].copy_from_slice(&(0x40 + kind.device_id()).to_le_bytes());
    c[0x34] = CAP_MSIX as u8;
    c[0x3C] = irq;
    c[0x3D] = 1; // INTA#
                 // MSI-X: table size N-1, table and PBA in BAR 0
    c[CAP_MSIX] = 0x11;
    c[CAP_MSIX + 1] = CAP_COMMON as u8;
    c[CAP_MSIX + 2..CAP_MSIX + 4].copy_from_slice(&(vectors as u16 - 1).to_le_bytes());
    c[CAP_MSIX + 4..CAP_MSIX + 8].copy_from_slice(&(MSIX_TABLE as u32).to_le_bytes());
    c[CAP_MSIX + 8..CAP_MSIX + 12].copy_from_slice(&(MSIX_PBA as u32).to_le_bytes());
    let caps = [
        (CAP_COMMON, CAP_NOTIFY, 1, COMMON, COMMON_LEN),
        (
            CAP_NOTIFY,
            CAP_ISR,
            2,
            NOTIFY,
            NOTIFY_MULTIPLIER as u64 * vectors as u64,
        ),
        (CAP_ISR, CAP_DEVICE, 3, ISR, ISR_LEN),
        (CAP_DEVICE, CAP_PCI_CFG, 4, DEVICE, DEVICE_LEN),
        (CAP_PCI_CFG, 0, 5, 0, 0),
    ];
    for (at, next, cfg_type, offset, len) in caps {
        let cap_len = if cfg_type == 2 || cfg_type == 5 {
            20
        } else {
            16
        };
        c[at] = 0x09; // vendor-specific
        c[at + 1] = next as u8;
        c[at + 2] = cap_len;
        c[at + 3] = cfg_type;
        c[at + 4] = 0; // BAR 0
        c[at + 8..at + 12].copy_from_slice(&(offset as u32).to_le_bytes());
        c[at + 12..at + 16].copy_from_slice(&(len as u32).to_le_bytes());
    }
    c[CAP_NOTIFY + 16..CAP_NOTIFY + 20].copy_from_slice(&NOTIFY_MULTIPLIER.to_le_bytes());
    // what software may write
    let w = &mut f.writable;
    w[0x40..].fill(0);
    w[0x04] = 0x06; // memory space, bus master (no I/O BAR)
    w[0x05] = 0x04; // INTx disable
    w[0x10] = 0;
    w[0x11] = (!(BAR_SIZE - 1) >> 8) as u8;
    w[0x12] = 0xFF;
    w[0x13] = 0xFF;
    w[CAP_MSIX + 3] = 0xC0; // MSI-X enable, function mask
    w[CAP_PCI_CFG + 4] = 0xFF; // window: bar
    w[CAP_PCI_CFG + 8..CAP_PCI_CFG + 20].fill(0xFF); // offset, length, data
    f
}

/// The PCI-level settings the device needs from its configuration space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciState {
    /// BAR 0 while memory decoding is on.
    pub bar: Option<u32>,
    /// Bus mastering.
    pub bus_master: bool,
    /// INTx disabled.
    pub intx_disabled: bool,
    /// MSI-X enabled.
    pub msix_enabled: bool,
    /// MSI-X function mask.
    pub msix_masked: bool,
}

/// Reads [`PciState`] out of a virtio function's configuration space.
pub fn pci_state(f: &PciFunction) -> PciState {
    let c = &f.config;
    let command = u16::from_le_bytes([c[0x04], c[0x05]]);
    let bar = u32::from_le_bytes([c[0x10], c[0x11], c[0x12], c[0x13]]) & !0xF;
    PciState {
        bar: (command & 2 != 0).then_some(bar),
        bus_master: command & 4 != 0,
        intx_disabled: command & 0x400 != 0,
        msix_enabled: c[CAP_MSIX + 3] & 0x80 != 0,
        msix_masked: c[CAP_MSIX + 3] & 0x40 != 0,
    }
}

/// The access the VIRTIO_PCI_CAP_PCI_CFG window describes: (offset into BAR 0, length), if
/// it names BAR 0 with a length of 1, 2 or 4 and an offset aligned to it (4.1.4.9.1).
pub fn window(f: &PciFunction) -> Option<(u64, usize)> {
    let c = &f.config;
    let at = |i: usize| u32::from_le_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
    let (bar, offset, len) = (
        c[CAP_PCI_CFG + 4],
        at(CAP_PCI_CFG + 8),
        at(CAP_PCI_CFG + 12),
    );
    let ok = bar == 0 && matches!(len, 1 | 2 | 4) && offset % len == 0 && offset < BAR_SIZE;
    ok.then_some((offset as u64, len as usize))
}
