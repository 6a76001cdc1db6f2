//! The PCI configuration space and the virtio registers are written by the guest: any
//! sequence of configuration cycles (0xCF8/0xCFC-0xCFF, every width) and BAR accesses (at
//! wherever the guest moved the BARs) must leave a machine that hashes, snapshots and
//! restores to the same state hash, and never panic.
//!
//! Input: 10-byte operations: kind (port write / port read / MMIO write / MMIO read), size
//! (1, 2, 4), a 32-bit address (for MMIO: an offset from the first virtio BAR region, 0xFE00_0000;
//! for ports: 0xCF8 + the low 3 bits) and a 32-bit value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vx86_core::{DiskConfig, DiskImage, Machine, MachineConfig, VirtioConfig};

fuzz_target!(|data: &[u8]| {
    let disk = DiskImage::new(vec![0x11; 8 * 512]).unwrap();
    let config = MachineConfig {
        ram_size: 2 << 20,
        virtio: VirtioConfig {
            disks: vec![DiskConfig::for_image(&disk, false)],
            net: Some(vx86_core::DEFAULT_MAC),
            console: true,
            rng: true,
            balloon: true,
        },
        ..MachineConfig::default()
    };
    let mut m = Machine::with_disks(config, vec![disk.clone()]).unwrap();
    for op in data.chunks_exact(10) {
        let size = [1usize, 2, 4][op[1] as usize % 3];
        let addr = u32::from_le_bytes([op[2], op[3], op[4], op[5]]);
        let value = u32::from_le_bytes([op[6], op[7], op[8], op[9]]);
        let bus = m.bus_mut();
        match op[0] % 4 {
            0 => bus.io_out(0xCF8 + (addr & 7) as u16, size, value, 0),
            1 => drop(bus.io_in(0xCF8 + (addr & 7) as u16, size, 0)),
            2 | 3 => {
                let at = 0xFE00_0000u32.wrapping_add(addr % 0x8_0000);
                match (op[0] % 4, size) {
                    (2, 1) => bus.write::<1>(at, value),
                    (2, 2) => bus.write::<2>(at, value),
                    (2, _) => bus.write::<4>(at, value),
                    (_, 1) => drop(bus.read::<1>(at)),
                    (_, 2) => drop(bus.read::<2>(at)),
                    _ => drop(bus.read::<4>(at)),
                }
            }
            _ => unreachable!(),
        }
    }
    let hash = m.state_hash();
    let bytes = m.save_snapshot(Default::default()).unwrap();
    let r = Machine::from_snapshot_with_disks(&bytes, vec![disk]).unwrap();
    assert_eq!(r.state_hash(), hash, "a snapshot of this state restores to it");
});
