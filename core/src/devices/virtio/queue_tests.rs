//! Split-virtqueue tests: rings laid out in guest memory by hand, as a driver would (Virtio
//! 1.2, 2.7), then taken apart by the device side.

use super::*;
use crate::memory::{GuestMemory, PAGE_MMIO};

const DESC: u64 = 0x1000;
const AVAIL: u64 = 0x2000;
const USED: u64 = 0x3000;
const SIZE: u16 = 8;

fn setup() -> (GuestMemory, SplitQueue) {
    let mem = GuestMemory::new(0x10_0000).unwrap();
    let mut q = SplitQueue::new(MAX_QUEUE_SIZE);
    q.size = SIZE;
    q.desc = DESC;
    q.avail = AVAIL;
    q.used = USED;
    q.ready = true;
    q.validate(&mem).unwrap();
    (mem, q)
}

fn put_desc(mem: &mut GuestMemory, table: u64, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
    let mut d = [0u8; 16];
    d[0..8].copy_from_slice(&addr.to_le_bytes());
    d[8..12].copy_from_slice(&len.to_le_bytes());
    d[12..14].copy_from_slice(&flags.to_le_bytes());
    d[14..16].copy_from_slice(&next.to_le_bytes());
    mem.write(table + 16 * i as u64, &d).unwrap();
}

/// Makes `heads` available (appended at the driver's index).
fn offer(mem: &mut GuestMemory, heads: &[u16]) {
    let mut idx = [0u8; 2];
    mem.read(AVAIL + 2, &mut idx).unwrap();
    let mut idx = u16::from_le_bytes(idx);
    for &h in heads {
        let slot = AVAIL + 4 + 2 * (idx % SIZE) as u64;
        mem.write(slot, &h.to_le_bytes()).unwrap();
        idx = idx.wrapping_add(1);
    }
    mem.write(AVAIL + 2, &idx.to_le_bytes()).unwrap();
}

fn u16_at(mem: &GuestMemory, a: u64) -> u16 {
    let mut b = [0u8; 2];
    mem.read(a, &mut b).unwrap();
    u16::from_le_bytes(b)
}

#[test]
fn a_chain_with_readable_then_writable_buffers() {
    let (mut mem, mut q) = setup();
    mem.write(0x8000, b"hello").unwrap();
    put_desc(&mut mem, DESC, 0, 0x8000, 5, DESC_F_NEXT, 3);
    put_desc(
        &mut mem,
        DESC,
        3,
        0x9000,
        100,
        DESC_F_WRITE | DESC_F_NEXT,
        5,
    );
    put_desc(&mut mem, DESC, 5, 0x9100, 1, DESC_F_WRITE, 0);
    offer(&mut mem, &[0]);
    let c = q.pop(&mut mem).unwrap().unwrap();
    assert_eq!(c.head, 0);
    assert_eq!(c.read_all(&mem), b"hello");
    assert_eq!((c.readable_len(), c.writable_len()), (5, 101));
    // a write spanning the two writable buffers
    let data: Vec<u8> = (0..101).collect();
    assert_eq!(c.write_at(&mut mem, 0, &data), 101);
    let mut last = [0u8];
    mem.read(0x9100, &mut last).unwrap();
    assert_eq!(last[0], 100);
    assert!(q.pop(&mut mem).unwrap().is_none());
    q.push_used(&mut mem, c.head, 101).unwrap();
    assert_eq!(u16_at(&mem, USED + 2), 1);
    let mut elem = [0u8; 8];
    mem.read(USED + 4, &mut elem).unwrap();
    assert_eq!(elem, [0, 0, 0, 0, 101, 0, 0, 0]);
}

#[test]
fn indirect_tables() {
    let (mut mem, mut q) = setup();
    let table = 0x5000;
    put_desc(&mut mem, table, 0, 0x8000, 16, DESC_F_NEXT, 2);
    put_desc(&mut mem, table, 2, 0x8100, 32, DESC_F_NEXT, 1);
    put_desc(&mut mem, table, 1, 0x9000, 8, DESC_F_WRITE, 0);
    put_desc(&mut mem, DESC, 4, table, 48, DESC_F_INDIRECT, 0);
    offer(&mut mem, &[4]);
    let c = q.pop(&mut mem).unwrap().unwrap();
    assert_eq!(c.head, 4);
    assert_eq!(c.readable.len(), 2);
    assert_eq!(
        c.writable,
        vec![Buffer {
            addr: 0x9000,
            len: 8
        }]
    );
}

/// Each malformed layout the module header promises to catch.
#[test]
fn malformed_chains_are_errors() {
    type Layout = fn(&mut GuestMemory);
    let cases: [(&str, Layout); 10] = [
        ("loops", |m| {
            put_desc(m, DESC, 0, 0x8000, 4, DESC_F_NEXT, 1);
            put_desc(m, DESC, 1, 0x8000, 4, DESC_F_NEXT, 0);
        }),
        ("outside the table", |m| {
            put_desc(m, DESC, 0, 0x8000, 4, DESC_F_NEXT, SIZE)
        }),
        ("not guest RAM", |m| {
            put_desc(m, DESC, 0, 0xFF_F000, 0x2000, 0, 0)
        }),
        ("0xfffffffffffffffe+0x4 is not", |m| {
            put_desc(m, DESC, 0, u64::MAX - 1, 4, 0, 0)
        }),
        ("readable buffer after", |m| {
            put_desc(m, DESC, 0, 0x8000, 4, DESC_F_WRITE | DESC_F_NEXT, 1);
            put_desc(m, DESC, 1, 0x8000, 4, 0, 0);
        }),
        ("indirect and chained", |m| {
            put_desc(m, DESC, 0, 0x5000, 16, DESC_F_INDIRECT | DESC_F_NEXT, 1)
        }),
        ("indirect table of", |m| {
            put_desc(m, DESC, 0, 0x5000, 24, DESC_F_INDIRECT, 0)
        }),
        ("inside an indirect", |m| {
            put_desc(m, 0x5000, 0, 0x6000, 16, DESC_F_INDIRECT, 0);
            put_desc(m, DESC, 0, 0x5000, 16, DESC_F_INDIRECT, 0);
        }),
        ("indirect table at", |m| {
            put_desc(m, 0x5000, 0, 0x8000, 4, DESC_F_NEXT, 1);
            put_desc(m, 0x5000, 1, 0x8000, 4, DESC_F_NEXT, 0);
            put_desc(m, DESC, 0, 0x5000, 32, DESC_F_INDIRECT, 0);
        }),
        ("more than", |m| {
            put_desc(m, DESC, 0, 0x0, MAX_CHAIN_BYTES as u32 + 1, 0, 0)
        }),
    ];
    for (expect, layout) in cases {
        let (mut mem, mut q) = setup();
        if expect == "more than" {
            // a big buffer needs big RAM
            mem = GuestMemory::new(80 << 20).unwrap();
        }
        layout(&mut mem);
        offer(&mut mem, &[0]);
        let e = q.pop(&mut mem).expect_err(expect);
        assert!(e.0.contains(expect), "{expect}: {e}");
    }
}

#[test]
fn a_driver_index_too_far_ahead_and_mmio_buffers_are_errors() {
    let (mut mem, mut q) = setup();
    mem.write(AVAIL + 2, &(SIZE + 1).to_le_bytes()).unwrap();
    assert!(q.pop(&mut mem).unwrap_err().0.contains("ahead"));
    let (mut mem, mut q) = setup();
    mem.set_attr(0x8000, 0x1000, PAGE_MMIO).unwrap();
    put_desc(&mut mem, DESC, 0, 0x8000, 4, 0, 0);
    offer(&mut mem, &[0]);
    assert!(q.pop(&mut mem).is_err());
}

#[test]
fn queue_configuration_is_checked() {
    let (mem, mut q) = setup();
    q.size = 6;
    assert!(q.validate(&mem).is_err(), "not a power of two");
    q.size = SIZE;
    q.used = USED + 2;
    assert!(q.validate(&mem).is_err(), "misaligned used ring");
    q.used = 0xFF_FFF0;
    assert!(q.validate(&mem).is_err(), "used ring past RAM");
}

#[test]
fn interrupt_suppression_with_and_without_event_idx() {
    let (mut mem, mut q) = setup();
    put_desc(&mut mem, DESC, 0, 0x8000, 4, 0, 0);
    put_desc(&mut mem, DESC, 1, 0x8000, 4, 0, 0);
    offer(&mut mem, &[0]);
    let c = q.pop(&mut mem).unwrap().unwrap();
    q.push_used(&mut mem, c.head, 0).unwrap();
    assert!(q.should_interrupt(&mem).unwrap());
    assert!(!q.should_interrupt(&mem).unwrap(), "nothing new");
    // NO_INTERRUPT
    mem.write(AVAIL, &AVAIL_F_NO_INTERRUPT.to_le_bytes())
        .unwrap();
    offer(&mut mem, &[1]);
    let c = q.pop(&mut mem).unwrap().unwrap();
    q.push_used(&mut mem, c.head, 0).unwrap();
    assert!(!q.should_interrupt(&mem).unwrap());

    // EVENT_IDX: interrupt only when used_event is crossed
    let (mut mem, mut q) = setup();
    q.event_idx = true;
    for i in 0..4 {
        put_desc(&mut mem, DESC, i, 0x8000, 4, 0, 0);
    }
    let used_event = AVAIL + 4 + 2 * SIZE as u64;
    mem.write(used_event, &1u16.to_le_bytes()).unwrap(); // wake me after the second
    offer(&mut mem, &[0, 1, 2]);
    let mut wants = Vec::new();
    while let Some(c) = q.pop(&mut mem).unwrap() {
        q.push_used(&mut mem, c.head, 0).unwrap();
        wants.push(q.should_interrupt(&mem).unwrap());
    }
    assert_eq!(wants, vec![false, true, false]);
    // the device published avail_event = its next entry
    assert_eq!(u16_at(&mem, USED + 4 + 8 * SIZE as u64), 3);
}
