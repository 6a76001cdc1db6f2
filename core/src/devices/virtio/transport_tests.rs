//! Transport tests: a minimal driver written from the specification (Virtio 1.2, 3.1.1
//! "Driver Requirements: Device Initialization", 4.1.5 "PCI-specific Initialization") drives
//! the devices through PCI configuration cycles and BAR accesses on a real bus.

use super::layout;
use super::queue::{DESC_F_NEXT, DESC_F_WRITE};
use crate::devices::Device;
use crate::machine::{DiskConfig, DiskImage, Machine, MachineConfig, VirtioConfig};

/// Guest-physical scratch areas of the test driver.
const RINGS: u64 = 0x10_0000;
const BUFS: u64 = 0x20_0000;
const QSIZE: u16 = 16;

struct Driver {
    bdf: u16,
    bar: u64,
}

fn cfg_addr(bdf: u16, reg: u8) -> u32 {
    0x8000_0000 | (bdf as u32) << 8 | (reg as u32 & 0xFC)
}

fn cfg_read(m: &mut Machine, bdf: u16, reg: u8, size: usize) -> u32 {
    let b = m.bus_mut();
    b.io_out(0xCF8, 4, cfg_addr(bdf, reg), 0);
    b.io_in(0xCFC + (reg as u16 & 3), size, 0)
}

fn cfg_write(m: &mut Machine, bdf: u16, reg: u8, size: usize, v: u32) {
    let b = m.bus_mut();
    b.io_out(0xCF8, 4, cfg_addr(bdf, reg), 0);
    b.io_out(0xCFC + (reg as u16 & 3), size, v, 0);
}

impl Driver {
    /// Finds the `n`th virtio function with device id `id` by scanning bus 0.
    fn find(m: &mut Machine, id: u16) -> Driver {
        for dev in 0..32u16 {
            let bdf = dev << 3;
            if cfg_read(m, bdf, 0, 4) == (0x1040 + id as u32) << 16 | 0x1AF4 {
                let bar = (cfg_read(m, bdf, 0x10, 4) & !0xF) as u64;
                return Driver { bdf, bar };
            }
        }
        panic!("no virtio device {id}");
    }

    fn r(&self, m: &mut Machine, off: u64, size: usize) -> u32 {
        let b = m.bus_mut();
        match size {
            1 => b.read::<1>((self.bar + off) as u32),
            2 => b.read::<2>((self.bar + off) as u32),
            _ => b.read::<4>((self.bar + off) as u32),
        }
    }

    fn w(&self, m: &mut Machine, off: u64, size: usize, v: u32) {
        let b = m.bus_mut();
        match size {
            1 => b.write::<1>((self.bar + off) as u32, v),
            2 => b.write::<2>((self.bar + off) as u32, v),
            _ => b.write::<4>((self.bar + off) as u32, v),
        }
    }

    /// Status, features (everything offered but EVENT_IDX when `plain`), queues, DRIVER_OK.
    fn init(&self, m: &mut Machine, queues: u16) -> u8 {
        self.w(m, 0x14, 1, 0);
        self.w(m, 0x14, 1, 1 | 2);
        self.w(m, 0x00, 4, 0);
        let lo = self.r(m, 0x04, 4);
        self.w(m, 0x00, 4, 1);
        let hi = self.r(m, 0x04, 4);
        assert_eq!(hi & 1, 1, "VERSION_1 offered");
        self.w(m, 0x08, 4, 0);
        self.w(m, 0x0C, 4, lo & !(1 << 29));
        self.w(m, 0x08, 4, 1);
        self.w(m, 0x0C, 4, hi);
        self.w(m, 0x14, 1, 1 | 2 | 8);
        assert_ne!(self.r(m, 0x14, 1) & 8, 0, "FEATURES_OK kept");
        assert_eq!(self.r(m, 0x12, 2), queues as u32);
        for q in 0..queues {
            let base = RINGS + q as u64 * 0x1000 + self.slot() * 0x10_000;
            self.w(m, 0x16, 2, q as u32);
            assert_eq!(self.r(m, 0x18, 2), 256, "max size offered");
            self.w(m, 0x18, 2, QSIZE as u32);
            for (off, addr) in [(0x20, base), (0x28, base + 0x400), (0x30, base + 0x800)] {
                self.w(m, off, 4, addr as u32);
                self.w(m, off + 4, 4, 0);
            }
            self.w(m, 0x1C, 2, 1);
        }
        self.w(m, 0x14, 1, 1 | 2 | 8 | 4);
        self.r(m, 0x14, 1) as u8
    }

    fn slot(&self) -> u64 {
        (self.bdf >> 3) as u64
    }

    fn ring(&self, q: u16) -> u64 {
        RINGS + q as u64 * 0x1000 + self.slot() * 0x10_000
    }

    /// Puts a chain of (len, writable) buffers at BUFS.. on queue `q` and notifies.
    fn submit(&self, m: &mut Machine, q: u16, bufs: &[(u32, bool, &[u8])]) -> u16 {
        let ring = self.ring(q);
        let mut addr = BUFS + self.slot() * 0x10_000;
        for (i, (len, writable, data)) in bufs.iter().enumerate() {
            m.write_phys(addr, data).unwrap();
            let mut d = [0u8; 16];
            d[0..8].copy_from_slice(&addr.to_le_bytes());
            d[8..12].copy_from_slice(&len.to_le_bytes());
            let mut flags = if *writable { DESC_F_WRITE } else { 0 };
            if i + 1 < bufs.len() {
                flags |= DESC_F_NEXT;
            }
            d[12..14].copy_from_slice(&flags.to_le_bytes());
            d[14..16].copy_from_slice(&(i as u16 + 1).to_le_bytes());
            m.write_phys(ring + 16 * i as u64, &d).unwrap();
            addr += *len as u64;
        }
        let mut idx = [0u8; 2];
        m.read_phys(ring + 0x402, &mut idx).unwrap();
        let idx = u16::from_le_bytes(idx);
        m.write_phys(ring + 0x404 + 2 * (idx % QSIZE) as u64, &0u16.to_le_bytes())
            .unwrap();
        m.write_phys(ring + 0x402, &idx.wrapping_add(1).to_le_bytes())
            .unwrap();
        self.w(m, layout::NOTIFY + 4 * q as u64, 2, q as u32);
        idx.wrapping_add(1)
    }

    /// (used index, length of the latest used element) of queue `q`.
    fn used(&self, m: &mut Machine, q: u16) -> (u16, u32) {
        let ring = self.ring(q);
        let mut b = [0u8; 2];
        m.read_phys(ring + 0x802, &mut b).unwrap();
        let idx = u16::from_le_bytes(b);
        let mut e = [0u8; 8];
        let slot = (idx.wrapping_sub(1) % QSIZE) as u64;
        m.read_phys(ring + 0x804 + 8 * slot, &mut e).unwrap();
        (idx, u32::from_le_bytes(e[4..8].try_into().unwrap()))
    }
}

fn machine(v: VirtioConfig, disks: Vec<DiskImage>) -> Machine {
    Machine::with_disks(
        MachineConfig {
            ram_size: 32 << 20,
            virtio: v,
            ..MachineConfig::default()
        },
        disks,
    )
    .unwrap()
}

#[test]
fn identity_capabilities_and_bar() {
    let mut m = machine(
        VirtioConfig {
            rng: true,
            ..Default::default()
        },
        vec![],
    );
    let d = Driver::find(&mut m, 4);
    assert_eq!(d.bdf, 2 << 3);
    assert_eq!(d.bar, crate::bus::BAR_BASE as u64);
    assert_eq!(cfg_read(&mut m, d.bdf, 0x08, 1), 1, "revision 1");
    assert_ne!(
        cfg_read(&mut m, d.bdf, 0x06, 2) & 0x10,
        0,
        "capability list"
    );
    // walk the capability list: MSI-X, then the five vendor capabilities in type order
    let mut at = cfg_read(&mut m, d.bdf, 0x34, 1) as u8;
    let mut seen = Vec::new();
    while at != 0 {
        let id = cfg_read(&mut m, d.bdf, at, 1);
        seen.push(if id == 9 {
            cfg_read(&mut m, d.bdf, at + 3, 1)
        } else {
            0x100 | id
        });
        at = cfg_read(&mut m, d.bdf, at + 1, 1) as u8;
    }
    assert_eq!(seen, vec![0x111, 1, 2, 3, 4, 5]);
    // BAR sizing: all ones reads back the size mask
    cfg_write(&mut m, d.bdf, 0x04, 2, 0);
    cfg_write(&mut m, d.bdf, 0x10, 4, 0xFFFF_FFFF);
    assert_eq!(cfg_read(&mut m, d.bdf, 0x10, 4), !(layout::BAR_SIZE - 1));
    // move the BAR: the registers follow
    cfg_write(&mut m, d.bdf, 0x10, 4, 0xE000_0000);
    cfg_write(&mut m, d.bdf, 0x04, 2, 6);
    let moved = Driver {
        bdf: d.bdf,
        bar: 0xE000_0000,
    };
    assert_eq!(moved.r(&mut m, 0x12, 2), 1, "num_queues at the new address");
    assert_eq!(d.r(&mut m, 0x12, 2), 0xFFFF, "nothing at the old one");
}

#[test]
fn rng_fills_buffers_with_seeded_bytes_and_interrupts_via_intx() {
    let run = |seed| {
        let mut m = Machine::new(MachineConfig {
            ram_size: 32 << 20,
            seed,
            virtio: VirtioConfig {
                rng: true,
                ..Default::default()
            },
            ..MachineConfig::default()
        })
        .unwrap();
        let d = Driver::find(&mut m, 4);
        assert_eq!(d.init(&mut m, 1) & 4, 4);
        d.submit(&mut m, 0, &[(16, true, &[0; 16])]);
        assert_eq!(d.used(&mut m, 0), (1, 16));
        let mut bytes = [0u8; 16];
        m.read_phys(BUFS + d.slot() * 0x10_000, &mut bytes).unwrap();
        // INTx: ISR bit 0 set until read; reading clears it
        assert_eq!(d.r(&mut m, layout::ISR, 1), 1);
        assert_eq!(d.r(&mut m, layout::ISR, 1), 0);
        bytes
    };
    let (a, b, c) = (run(1), run(1), run(2));
    assert_eq!(a, b, "same seed, same bytes");
    assert_ne!(a, c);
    assert_ne!(a, [0; 16]);
}

#[test]
fn a_malformed_chain_sets_needs_reset_and_reset_recovers() {
    let mut m = machine(
        VirtioConfig {
            rng: true,
            ..Default::default()
        },
        vec![],
    );
    let d = Driver::find(&mut m, 4);
    d.init(&mut m, 1);
    // a buffer outside RAM
    let ring = d.ring(0);
    let mut desc = [0u8; 16];
    desc[0..8].copy_from_slice(&0xFFFF_0000u64.to_le_bytes());
    desc[8..12].copy_from_slice(&16u32.to_le_bytes());
    desc[12..14].copy_from_slice(&DESC_F_WRITE.to_le_bytes());
    m.write_phys(ring, &desc).unwrap();
    m.write_phys(ring + 0x402, &1u16.to_le_bytes()).unwrap();
    d.w(&mut m, layout::NOTIFY, 2, 0);
    assert_ne!(d.r(&mut m, 0x14, 1) & 0x40, 0, "DEVICE_NEEDS_RESET");
    assert_eq!(
        d.r(&mut m, layout::ISR, 1),
        2,
        "configuration-change interrupt"
    );
    let errors = m.virtio_errors();
    assert!(errors[0].1.contains("not writable guest RAM"), "{errors:?}");
    // reset and start again: works
    m.write_phys(ring + 0x402, &0u16.to_le_bytes()).unwrap();
    assert_eq!(d.init(&mut m, 1), 1 | 2 | 8 | 4);
    d.submit(&mut m, 0, &[(8, true, &[0; 8])]);
    assert_eq!(d.used(&mut m, 0), (1, 8));
}

#[test]
fn msix_messages_reach_the_local_apic() {
    let mut m = machine(
        VirtioConfig {
            rng: true,
            ..Default::default()
        },
        vec![],
    );
    let d = Driver::find(&mut m, 4);
    // enable MSI-X (message control at CAP_MSIX + 2), program vector 0: APIC 0, vector 0x41
    let ctrl = layout::CAP_MSIX as u8 + 2;
    cfg_write(&mut m, d.bdf, ctrl, 2, 0x8000);
    d.w(&mut m, layout::MSIX_TABLE, 4, 0xFEE0_0000);
    d.w(&mut m, layout::MSIX_TABLE + 8, 4, 0x41);
    d.w(&mut m, layout::MSIX_TABLE + 12, 4, 0); // unmask
    d.init(&mut m, 1);
    d.w(&mut m, 0x16, 2, 0);
    d.w(&mut m, 0x1A, 2, 0);
    assert_eq!(d.r(&mut m, 0x1A, 2), 0);
    d.w(&mut m, 0x1A, 2, 9);
    assert_eq!(
        d.r(&mut m, 0x1A, 2),
        0xFFFF,
        "no vector 9: NO_VECTOR reads back"
    );
    d.w(&mut m, 0x1A, 2, 0);
    // the local APIC must be software-enabled to accept (SVR bit 8)
    let lapic = crate::devices::lapic::BASE;
    m.bus_mut().write::<4>(lapic + 0xF0, 0x1FF);
    d.submit(&mut m, 0, &[(8, true, &[0; 8])]);
    assert_eq!(d.r(&mut m, layout::ISR, 1), 0, "no ISR bit with MSI-X");
    assert!(m.bus().intr, "vector 0x41 pending at the local APIC");
    assert_eq!(m.bus_mut().acknowledge_interrupt(), Some(0x41));
    m.bus_mut().write::<4>(lapic + 0xB0, 0); // EOI
                                             // masked: the pending bit is set instead, and the message goes out on unmask
    d.w(&mut m, layout::MSIX_TABLE + 12, 4, 1);
    d.submit(&mut m, 0, &[(8, true, &[0; 8])]);
    assert_eq!(d.r(&mut m, layout::MSIX_PBA, 4), 1);
    d.w(&mut m, layout::MSIX_TABLE + 12, 4, 0);
    assert_eq!(d.r(&mut m, layout::MSIX_PBA, 4), 0);
    assert_eq!(m.bus_mut().acknowledge_interrupt(), Some(0x41));
}

#[test]
fn pci_cfg_window_reaches_the_bar() {
    let mut m = machine(
        VirtioConfig {
            rng: true,
            ..Default::default()
        },
        vec![],
    );
    let d = Driver::find(&mut m, 4);
    let cap = layout::CAP_PCI_CFG as u8;
    cfg_write(&mut m, d.bdf, cap + 4, 1, 0); // BAR 0
    cfg_write(&mut m, d.bdf, cap + 8, 4, 0x12); // num_queues
    cfg_write(&mut m, d.bdf, cap + 12, 4, 2);
    assert_eq!(
        cfg_read(&mut m, d.bdf, layout::PCI_CFG_DATA as u8, 4) & 0xFFFF,
        1
    );
    // write device_status = ACKNOWLEDGE through the window
    cfg_write(&mut m, d.bdf, cap + 8, 4, 0x14);
    cfg_write(&mut m, d.bdf, cap + 12, 4, 1);
    cfg_write(&mut m, d.bdf, layout::PCI_CFG_DATA as u8, 4, 1);
    assert_eq!(d.r(&mut m, 0x14, 1), 1);
}

#[test]
fn blk_reads_writes_and_reports_errors() {
    let image: Vec<u8> = (0..64 * 512).map(|i| (i / 512) as u8).collect();
    let img = DiskImage::new(image.clone()).unwrap();
    let v = VirtioConfig {
        disks: vec![DiskConfig::for_image(&img, false)],
        ..Default::default()
    };
    let mut m = machine(v, vec![img]);
    let d = Driver::find(&mut m, 2);
    d.init(&mut m, 1);
    assert_eq!(d.r(&mut m, layout::DEVICE, 4), 64, "capacity in sectors");
    let header = |t: u32, sector: u64| {
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&t.to_le_bytes());
        h[8..16].copy_from_slice(&sector.to_le_bytes());
        h
    };
    // read sector 3
    d.submit(
        &mut m,
        0,
        &[
            (16, false, &header(0, 3)),
            (512, true, &[0; 512]),
            (1, true, &[9]),
        ],
    );
    assert_eq!(d.used(&mut m, 0).1, 513);
    let base = BUFS + d.slot() * 0x10_000;
    let mut got = [0u8; 513];
    m.read_phys(base + 16, &mut got).unwrap();
    assert!(got[..512].iter().all(|&b| b == 3));
    assert_eq!(got[512], 0, "VIRTIO_BLK_S_OK");
    // write sector 5, then read it back through the host API
    d.submit(
        &mut m,
        0,
        &[
            (16, false, &header(1, 5)),
            (512, false, &[0xAB; 512]),
            (1, true, &[9]),
        ],
    );
    assert_eq!(d.used(&mut m, 0).1, 1);
    let disk = &m.disks()[0];
    assert_eq!(disk.contents()[5 * 512], 0xAB);
    assert_eq!(
        disk.base().bytes(),
        &image[..],
        "the base image is untouched"
    );
    // past the end: IOERR; unknown type: UNSUPP
    d.submit(
        &mut m,
        0,
        &[
            (16, false, &header(0, 64)),
            (512, true, &[0; 512]),
            (1, true, &[9]),
        ],
    );
    let mut status = [0u8];
    m.read_phys(base + 16 + 512, &mut status).unwrap();
    assert_eq!(status[0], 1);
    d.submit(&mut m, 0, &[(16, false, &header(99, 0)), (1, true, &[9])]);
    m.read_phys(base + 16, &mut status).unwrap();
    assert_eq!(status[0], 2);
    assert_eq!(m.take_disk_writes(0).len(), 1, "one chunk written");
}

#[test]
fn console_and_net_carry_host_data_both_ways() {
    let v = VirtioConfig {
        console: true,
        net: Some(crate::machine::DEFAULT_MAC),
        ..Default::default()
    };
    let mut m = machine(v, vec![]);
    let c = Driver::find(&mut m, 3);
    c.init(&mut m, 2);
    c.submit(&mut m, 1, &[(5, false, b"hello")]);
    assert_eq!(m.take_console_output(), b"hello");
    m.send_console(b"typed").unwrap();
    c.submit(&mut m, 0, &[(64, true, &[0; 64])]);
    assert_eq!(c.used(&mut m, 0), (1, 5));
    let n = Driver::find(&mut m, 1);
    n.init(&mut m, 2);
    let mut mac = [0u8; 6];
    for (i, b) in mac.iter_mut().enumerate() {
        *b = n.r(&mut m, layout::DEVICE + i as u64, 1) as u8;
    }
    assert_eq!(mac, crate::machine::DEFAULT_MAC);
    let frame = [0x11u8; 60];
    let mut tx = vec![0u8; 12];
    tx.extend_from_slice(&frame);
    n.submit(&mut m, 1, &[(72, false, &tx)]);
    assert_eq!(m.take_net_frames(), vec![frame.to_vec()]);
    m.send_net_frame(&frame).unwrap();
    assert_eq!(
        n.used(&mut m, 0).0,
        0,
        "no receive buffer yet: the frame waits"
    );
    n.submit(&mut m, 0, &[(1600, true, &[0; 1600])]);
    assert_eq!(n.used(&mut m, 0), (1, 72));
    assert!(m.send_net_frame(&[0; 10]).is_err(), "runt frame refused");
    assert!(matches!(
        m.bus()
            .devices
            .iter()
            .find(|d| matches!(d, Device::Virtio(_))),
        Some(_)
    ));
}

#[test]
fn balloon_zeroes_inflated_pages_and_counts_them() {
    let mut m = machine(
        VirtioConfig {
            balloon: true,
            ..Default::default()
        },
        vec![],
    );
    let d = Driver::find(&mut m, 5);
    d.init(&mut m, 2);
    m.write_phys(0x50_0000, &[0xEE; 4096]).unwrap();
    m.set_balloon_target(2).unwrap();
    assert_eq!(d.r(&mut m, layout::DEVICE, 4), 2, "num_pages");
    assert_eq!(d.r(&mut m, layout::ISR, 1), 2, "configuration change");
    let pfns: Vec<u8> = [0x500u32, 0x501]
        .iter()
        .flat_map(|p| p.to_le_bytes())
        .collect();
    d.submit(&mut m, 0, &[(8, false, &pfns)]);
    d.w(&mut m, layout::DEVICE + 4, 4, 2);
    assert_eq!(m.balloon_status(), Some((2, 2, 2)));
    let mut page = [1u8; 4096];
    m.read_phys(0x50_0000, &mut page).unwrap();
    assert!(page.iter().all(|&b| b == 0), "inflated page zeroed");
    d.submit(&mut m, 1, &[(4, false, &0x500u32.to_le_bytes())]);
    assert_eq!(m.balloon_status(), Some((2, 2, 1)));
}

#[test]
fn snapshots_restore_devices_disks_and_mappings() {
    let img = DiskImage::new(vec![7; 8 * 512]).unwrap();
    let v = VirtioConfig {
        disks: vec![DiskConfig::for_image(&img, false)],
        rng: true,
        ..Default::default()
    };
    let mut m = machine(v, vec![img.clone()]);
    let d = Driver::find(&mut m, 2);
    d.init(&mut m, 1);
    let mut h = [0u8; 16];
    h[0] = 1;
    h[8] = 2;
    d.submit(
        &mut m,
        0,
        &[(16, false, &h), (512, false, &[0x5A; 512]), (1, true, &[9])],
    );
    let bytes = m.save_snapshot(Default::default()).unwrap();
    assert!(Machine::from_snapshot(&bytes)
        .unwrap_err()
        .to_string()
        .contains("1 virtio disk(s) and 0 image(s) were given: pass the disk images"));
    let other = DiskImage::new(vec![8; 8 * 512]).unwrap();
    assert!(Machine::from_snapshot_with_disks(&bytes, vec![other]).is_err());
    let mut r = Machine::from_snapshot_with_disks(&bytes, vec![img]).unwrap();
    assert_eq!(r.state_hash(), m.state_hash());
    assert_eq!(r.disks()[0].contents()[2 * 512], 0x5A);
    // the restored device keeps working at its BAR
    let d2 = Driver::find(&mut r, 2);
    d2.submit(
        &mut r,
        0,
        &[
            (16, false, &[0; 16]),
            (512, true, &[0; 512]),
            (1, true, &[9]),
        ],
    );
    assert_eq!(d2.used(&mut r, 0), (2, 513));
    // checkpoints bring the overlay back
    let c = r.checkpoint();
    h[8] = 3;
    d2.submit(
        &mut r,
        0,
        &[(16, false, &h), (512, false, &[0x33; 512]), (1, true, &[9])],
    );
    assert_eq!(r.disks()[0].contents()[3 * 512], 0x33);
    r.restore_checkpoint(&c).unwrap();
    assert_eq!(r.disks()[0].contents()[3 * 512], 7);
}
