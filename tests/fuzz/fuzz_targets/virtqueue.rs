//! Virtqueues are guest-controlled data: whatever the descriptor table and the rings hold,
//! processing a queue must return buffers or put the device into DEVICE_NEEDS_RESET, never
//! panic, loop without bound or touch memory outside guest RAM.
//!
//! Input: byte 0 picks the device (net, blk, console, rng, balloon), byte 1 the queue size
//! (a power of two up to 256, or not), byte 2 flags (EVENT_IDX, host input waiting), then the
//! bytes of guest RAM from address 0 (64 KiB; the descriptor table is at 0x1000, the driver
//! ring at 0x2000, the device ring at 0x3000; buffers anywhere, including outside RAM).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vx86_core::devices::virtio::disk::{Disk, DiskImage};
use vx86_core::devices::virtio::{balloon, blk, console, net, rng, VirtioKind, VirtioPci, STATUS_DRIVER_OK};
use vx86_core::GuestMemory;

const RAM: usize = 64 << 10;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (kind, size, flags) = (data[0] % 5, data[1], data[2]);
    let kind = match kind {
        0 => VirtioKind::Net(net::Net::new([2, 0, 0, 0, 0, 1])),
        1 => VirtioKind::Blk(blk::Blk { disk: 0, sectors: 16, read_only: flags & 4 != 0 }),
        2 => VirtioKind::Console(console::Console::default()),
        3 => VirtioKind::Rng(rng::Rng::new(1)),
        _ => VirtioKind::Balloon(balloon::Balloon::new(RAM / 4096)),
    };
    let mut mem = GuestMemory::new(RAM).unwrap();
    let n = (data.len() - 3).min(RAM);
    mem.write(0, &data[3..3 + n]).unwrap();
    let mut disks = vec![Disk::new(DiskImage::new(vec![0x5A; 16 * 512]).unwrap())];
    let mut d = VirtioPci::new(0x10, 10, kind);
    d.status = STATUS_DRIVER_OK;
    d.bus_master = true;
    if flags & 1 != 0 {
        d.driver_features |= vx86_core::devices::virtio::F_EVENT_IDX;
    }
    if flags & 2 != 0 {
        match &mut d.kind {
            VirtioKind::Net(n) => drop(n.send(&[0xAB; 60])),
            VirtioKind::Console(c) => drop(c.send(b"input")),
            _ => {}
        }
    }
    for q in &mut d.queues {
        q.size = (size as u16).max(1).min(q.max_size);
        q.desc = 0x1000;
        q.avail = 0x2000;
        q.used = 0x3000;
        q.event_idx = flags & 1 != 0;
        q.ready = q.validate(&mem).is_ok();
    }
    let all = (1u32 << d.queues.len()) - 1;
    // twice: the second pass starts from where the first left the rings
    d.process(&mut mem, &mut disks, all);
    d.process(&mut mem, &mut disks, all);
    assert_eq!(d.error.is_empty(), d.status & 0x40 == 0, "an error sets DEVICE_NEEDS_RESET");
});
