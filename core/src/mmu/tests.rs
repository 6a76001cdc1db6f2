//! Tests of the page walkers and the TLB: a property test against a slow reference walker
//! written from the SDM's tables (vol. 3A, tables 4-4..4-10 and 4-15..4-20) in a different
//! style (a generic level loop over field descriptions), and targeted permission/A/D/flush cases.

use super::walk::{pte, walk, PagingMode, WalkFault};
use super::*;
use crate::memory::GuestMemory;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Reference result: (physical address, writable, user, no-exec) or the fault.
type RefResult = Result<(u64, bool, bool, bool), WalkFault>;

/// The reference walker: a loop over levels described by (index shift, index bits).
fn reference(mem: &[u8], m: &PagingMode, lin: u32) -> RefResult {
    let read = |addr: u64, bytes: usize| -> u64 {
        let mut v = 0u64;
        for i in 0..bytes {
            let b = *mem.get(addr as usize + i).unwrap_or(&0xFF) as u64;
            v |= b << (8 * i);
        }
        v
    };
    let bit = |e: u64, n: u32| (e >> n) & 1 == 1;
    let lin = lin as u64;
    let (entry_bytes, levels): (usize, &[(u32, u32)]) = if m.pae {
        (8, &[(30, 2), (21, 9), (12, 9)])
    } else {
        (4, &[(22, 10), (12, 10)])
    };
    let mut table = if m.pae {
        (m.cr3 & !0x1F) as u64
    } else {
        (m.cr3 & !0xFFF) as u64
    };
    let (mut w, mut u, mut nx) = (true, true, false);
    for (depth, &(shift, bits)) in levels.iter().enumerate() {
        let index = (lin >> shift) & ((1 << bits) - 1);
        let e = if m.pae && depth == 0 {
            m.pdpte[index as usize]
        } else {
            read(table + index * entry_bytes as u64, entry_bytes)
        };
        if !bit(e, 0) {
            return Err(WalkFault::NotPresent);
        }
        let is_pdpte = m.pae && depth == 0;
        if m.pae && !is_pdpte {
            // bits 32..62 are above the 32-bit physical width; bit 63 needs NXE
            if (32..63).any(|n| bit(e, n)) || (bit(e, 63) && !m.nxe) {
                return Err(WalkFault::Reserved);
            }
        }
        if !is_pdpte {
            w &= bit(e, 1);
            u &= bit(e, 2);
            nx |= m.nxe && bit(e, 63);
        }
        let last = depth == levels.len() - 1;
        let large = !last && !is_pdpte && bit(e, 7) && (m.pae || m.pse);
        if large {
            let first_free = if m.pae { 13 } else { 13 };
            let up_to = if m.pae { 21 } else { 22 };
            if (first_free..up_to).any(|n| bit(e, n)) {
                return Err(WalkFault::Reserved);
            }
            let low = (1u64 << shift) - 1;
            let base = e & 0xFFFF_FFFF & !low;
            return Ok((base | (lin & low), w, u, nx));
        }
        table = e & 0xFFFF_F000;
        if last {
            return Ok((table | (lin & 0xFFF), w, u, nx));
        }
    }
    unreachable!()
}

/// Fills `pages` pages of memory with random entries biased towards present entries that
/// point back into the same memory.
fn random_tables(rng: &mut Rng, mem: &mut [u8], pae: bool) {
    let pages = (mem.len() / 4096) as u64;
    let entry = |rng: &mut Rng| -> u64 {
        let mut e = (rng.below(pages) << 12) | rng.below(1 << 12);
        if rng.below(8) != 0 {
            e |= pte::P;
        }
        if rng.below(3) != 0 {
            e &= !pte::PS; // mostly small pages
        }
        if pae {
            if rng.below(10) == 0 {
                e |= 1 << (32 + rng.below(31));
            }
            if rng.below(4) == 0 {
                e |= pte::XD;
            }
        }
        e
    };
    let step = if pae { 8 } else { 4 };
    for off in (0..mem.len()).step_by(step) {
        let e = entry(rng);
        mem[off..off + step].copy_from_slice(&e.to_le_bytes()[..step]);
    }
}

#[test]
fn walker_matches_reference_walker() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut compared = 0;
    // (translated, not present, reserved, large page) tallies: every kind must occur
    let mut kinds = [0u32; 4];
    for round in 0..64 {
        let pae = round % 2 == 1;
        let mem_size = 64 * 4096;
        let mut bus = Bus::new(GuestMemory::new(mem_size).unwrap());
        let mut mem = vec![0u8; mem_size];
        random_tables(&mut rng, &mut mem, pae);
        bus.mem.write(0, &mem).unwrap();
        let mut mode = PagingMode {
            cr3: (rng.below(64) << 12) as u32
                | if pae {
                    (rng.below(128) as u32) << 5 & 0xFE0
                } else {
                    0
                },
            pae,
            pse: rng.below(2) == 1,
            nxe: rng.below(2) == 1,
            pdpte: [0; 4],
        };
        if pae {
            for i in 0..4 {
                let mut e = (rng.below(64) << 12) | pte::P;
                if rng.below(8) == 0 {
                    e = 0;
                }
                mode.pdpte[i] = e;
            }
        }
        for _ in 0..500 {
            let lin = rng.next() as u32;
            let outcome = walk(&mut bus, &mode, lin).outcome;
            match outcome {
                Ok(t) if t.page_size > 4096 => kinds[3] += 1,
                Ok(_) => kinds[0] += 1,
                Err(WalkFault::NotPresent) => kinds[1] += 1,
                Err(WalkFault::Reserved) => kinds[2] += 1,
            }
            let got = outcome.map(|t| (t.phys, t.writable, t.user, t.no_exec));
            let want = reference(&mem, &mode, lin);
            assert_eq!(got, want, "lin {lin:#x} mode {mode:x?}");
            compared += 1;
        }
    }
    assert_eq!(compared, 64 * 500);
    assert!(
        kinds.iter().all(|&k| k > 100),
        "walk outcomes not all exercised: {kinds:?}"
    );
}

/// Builds 32-bit paging: page directory at 0x1000, one page table at 0x2000.
fn legacy_bus() -> (Bus, Mmu) {
    let bus = Bus::new(GuestMemory::new(0x40_0000).unwrap());
    let mut mmu = Mmu::default();
    mmu.enabled = true;
    mmu.mode = PagingMode {
        cr3: 0x1000,
        ..PagingMode::default()
    };
    (bus, mmu)
}

fn set(bus: &mut Bus, addr: u32, v: u32) {
    bus.write::<4>(addr, v);
}

#[test]
fn permissions_and_accessed_dirty() {
    let (mut bus, mut mmu) = legacy_bus();
    // PDE 0 → table at 0x2000, user+writable; PTE 5 → frame 0x9000, user, read-only
    set(&mut bus, 0x1000, 0x2000 | 0x7);
    set(&mut bus, 0x2000 + 5 * 4, 0x9000 | 0x5);
    let lin = 0x5123;
    // supervisor read: allowed, sets A on PDE and PTE, not D
    assert_eq!(
        mmu.translate(&mut bus, lin, Access::Read, false),
        Ok(0x9123)
    );
    assert_eq!(bus.read::<4>(0x1000) & 0x20, 0x20);
    assert_eq!(bus.read::<4>(0x2014) & 0x60, 0x20);
    // user write to a read-only page: protection fault, error code P|W|U = 7
    assert_eq!(
        mmu.translate(&mut bus, lin, Access::Write, true),
        Err(Exception::PageFault { addr: lin, code: 7 })
    );
    // supervisor write without CR0.WP: allowed, sets D
    assert_eq!(
        mmu.translate(&mut bus, lin, Access::Write, false),
        Ok(0x9123)
    );
    assert_eq!(bus.read::<4>(0x2014) & 0x40, 0x40);
    // with CR0.WP the same write faults (P|W = 3) once the TLB no longer holds the entry
    mmu.wp = true;
    mmu.flush(false);
    assert_eq!(
        mmu.translate(&mut bus, lin, Access::Write, false),
        Err(Exception::PageFault { addr: lin, code: 3 })
    );
    // not present: error code has P clear (user read: U = 4)
    assert_eq!(
        mmu.translate(&mut bus, 0x6000, Access::Read, true),
        Err(Exception::PageFault {
            addr: 0x6000,
            code: 4
        })
    );
}

#[test]
fn first_write_to_clean_page_walks_to_set_dirty() {
    let (mut bus, mut mmu) = legacy_bus();
    set(&mut bus, 0x1000, 0x2000 | 0x3);
    set(&mut bus, 0x2000, 0x8000 | 0x3);
    mmu.translate(&mut bus, 0x10, Access::Read, false).unwrap();
    assert_eq!(bus.read::<4>(0x2000) & 0x40, 0, "a read must not set D");
    let misses = mmu.stats().misses;
    mmu.translate(&mut bus, 0x10, Access::Write, false).unwrap();
    assert_eq!(mmu.stats().misses, misses + 1, "the first write must walk");
    assert_eq!(bus.read::<4>(0x2000) & 0x40, 0x40);
    mmu.translate(&mut bus, 0x20, Access::Write, false).unwrap();
    assert_eq!(mmu.stats().misses, misses + 1, "later writes hit the TLB");
}

#[test]
fn cr3_flush_keeps_global_pages_and_invlpg_drops_them() {
    let (mut bus, mut mmu) = legacy_bus();
    mmu.pge = true;
    set(&mut bus, 0x1000, 0x2000 | 0x3);
    set(&mut bus, 0x2000, 0x8000 | 0x103); // global
    set(&mut bus, 0x2004, 0x9000 | 0x3); // not global
    mmu.translate(&mut bus, 0x0, Access::Read, false).unwrap();
    mmu.translate(&mut bus, 0x1000, Access::Read, false)
        .unwrap();
    // remap both in memory: the TLB keeps the old translations until flushed
    set(&mut bus, 0x2000, 0xA000 | 0x103);
    set(&mut bus, 0x2004, 0xB000 | 0x3);
    assert_eq!(
        mmu.translate(&mut bus, 0x0, Access::Read, false),
        Ok(0x8000)
    );
    mmu.flush(true);
    assert_eq!(
        mmu.translate(&mut bus, 0x0, Access::Read, false),
        Ok(0x8000),
        "global survives CR3 load"
    );
    assert_eq!(
        mmu.translate(&mut bus, 0x1000, Access::Read, false),
        Ok(0xB000)
    );
    mmu.invlpg(0x0);
    assert_eq!(
        mmu.translate(&mut bus, 0x0, Access::Read, false),
        Ok(0xA000)
    );
}

#[test]
fn invlpg_drops_every_piece_of_a_large_page() {
    let (mut bus, mut mmu) = legacy_bus();
    mmu.mode.pse = true;
    set(&mut bus, 0x1000 + 4, 0x0040_0000 | 0x83); // 4 MiB page at 4 MiB, PS
    assert_eq!(
        mmu.translate(&mut bus, 0x0040_1234, Access::Read, false),
        Ok(0x0040_1234)
    );
    assert_eq!(
        mmu.translate(&mut bus, 0x0070_0000, Access::Read, false),
        Ok(0x0070_0000)
    );
    set(&mut bus, 0x1000 + 4, 0x0080_0000 | 0x83);
    mmu.invlpg(0x0040_0000);
    assert_eq!(
        mmu.translate(&mut bus, 0x0070_0000, Access::Read, false),
        Ok(0x00B0_0000)
    );
}

#[test]
fn pae_nx_and_reserved_bits() {
    let mut bus = Bus::new(GuestMemory::new(0x40_0000).unwrap());
    let mut mmu = Mmu::default();
    mmu.enabled = true;
    mmu.mode = PagingMode {
        cr3: 0x1000,
        pae: true,
        pse: false,
        nxe: true,
        pdpte: [0x2000 | 1, 0, 0, 0],
    };
    // PDE 0 → PT at 0x3000; PTE 0: frame 0x5000, NX; PTE 1: bit 40 set (reserved)
    bus.write::<4>(0x2000, 0x3000 | 0x7);
    bus.write::<4>(0x3000, 0x5000 | 0x7);
    bus.write::<4>(0x3004, 0x8000_0000);
    bus.write::<4>(0x3008, 0x6000 | 0x7);
    bus.write::<4>(0x300C, 1 << 8);
    assert_eq!(
        mmu.translate(&mut bus, 0x10, Access::Read, true),
        Ok(0x5010)
    );
    // instruction fetch from an NX page: P|U|ID
    assert_eq!(
        mmu.translate(&mut bus, 0x10, Access::Execute, true),
        Err(Exception::PageFault {
            addr: 0x10,
            code: 0x15
        })
    );
    // reserved bit: P|RSVD (+U)
    assert_eq!(
        mmu.translate(&mut bus, 0x1000, Access::Read, true),
        Err(Exception::PageFault {
            addr: 0x1000,
            code: 0xD
        })
    );
}
