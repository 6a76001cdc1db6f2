//! The decoded-block cache (DESIGN.md, "The CPU"): a block is decoded once into micro-ops and
//! cached by (physical address, code-segment size). A block goes on past a conditional branch
//! (when the branch is taken, the run leaves the block there) and through a direct JMP/CALL
//! whose target lies in the block's first page ([`Uop::advance`]). A block never spans more than two
//! guest pages; it remembers the code generation of each, and writes to a page that holds
//! decoded code bump its generation (see [`crate::memory::GuestMemory`]), so a stale block is
//! simply not found again. Self-modifying code within the running block is caught by the write
//! path, which ends the block after the writing instruction.
//!
//! Each block remembers where its last successor lives (slot, block and micro-ops addresses),
//! and fetching a block asks the host CPU to prefetch those cache lines while the block runs:
//! a hint that only hides the latency of the next lookup and never changes what runs.

use super::decode::{decode, Decoded, Flow, MAX_INSN_LEN};
use super::exception::Exception;
use super::state::SegReg;
use super::uop::Uop;
use super::Cpu;
use crate::bus::Bus;
use crate::memory::{PAGE_HOLE, PAGE_MMIO, PAGE_SHIFT};
use crate::mmu::Access;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Most instructions in one block.
const MAX_BLOCK_INSNS: usize = 64;
/// Number of cache slots (direct-mapped, power of two).
const SLOTS: usize = 1 << 18;

/// A decoded basic block.
#[derive(Debug, Clone)]
pub struct Block {
    /// Cache key: physical address | bitness flag.
    key: u64,
    /// First and last guest page the block's bytes occupy, with their code generations.
    pages: [(u32, u32); 2],
    /// The micro-ops, in program order.
    pub(crate) uops: Vec<Uop>,
    /// Where the block that ran after this one last time lives (host addresses to prefetch).
    successor: SuccessorHint,
}

/// Host addresses of a block's last successor: its cache slot, its header and its micro-ops.
/// Only ever used as prefetch addresses (never dereferenced), so stale values are harmless.
#[derive(Debug, Default)]
struct SuccessorHint {
    slot: AtomicUsize,
    block: AtomicUsize,
    uops: AtomicUsize,
}

impl Clone for SuccessorHint {
    /// A copy starts without a hint (the addresses belong to the original's cache).
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl SuccessorHint {
    fn record(&self, slot: &Option<Box<Block>>, block: &Block) {
        self.slot.store(slot as *const _ as usize, Relaxed);
        self.block.store(block as *const Block as usize, Relaxed);
        self.uops.store(block.uops.as_ptr() as usize, Relaxed);
    }

    fn prefetch(&self) {
        prefetch(self.slot.load(Relaxed));
        prefetch(self.block.load(Relaxed));
        prefetch(self.uops.load(Relaxed));
    }
}

/// Asks the host CPU to start loading the cache line at `addr` into its caches: a hint with no
/// effect on behaviour (a no-op where there is no prefetch instruction).
#[inline(always)]
fn prefetch(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 never faults and has no architectural effect whatever the address
    // (Intel SDM vol. 2B, "PREFETCHh"); nothing is dereferenced. Measured: bench/virtio-blk.sh.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(addr as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

impl Block {
    /// The linear addresses of the instructions after the first, `(first, last)` inclusive
    /// (a range that may also hold bytes the block skips), for a block whose first
    /// instruction is at `linear`; `None` for a one-instruction block.
    pub(crate) fn rest_range(&self, linear: u32) -> Option<(u32, u32)> {
        let (first, rest) = self.uops.split_first()?;
        // offsets from `linear` stay within the block's page and the next one (followed
        // jumps never leave the first page), so they are compared as signed numbers
        let mut at = first.advance as i32;
        let (mut lo, mut hi) = (i32::MAX, i32::MIN);
        for u in rest {
            lo = lo.min(at);
            hi = hi.max(at + i32::from(u.len) - 1);
            at = at.wrapping_add(u.advance as i32);
        }
        (!rest.is_empty()).then(|| {
            (
                linear.wrapping_add(lo as u32),
                linear.wrapping_add(hi as u32),
            )
        })
    }
}

/// Counters of the block cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockStats {
    /// Lookups that found a valid block.
    pub hits: u64,
    /// Blocks decoded.
    pub decoded: u64,
    /// Blocks found stale (their code was written) and decoded again.
    pub invalidated: u64,
}

/// Direct-mapped cache of decoded blocks.
#[derive(Debug, Clone)]
pub struct BlockCache {
    slots: Vec<Option<Box<Block>>>,
    /// A block decoded for one use (not cacheable: MMIO code, code near the segment limit).
    scratch: Option<Box<Block>>,
    stats: BlockStats,
    /// Slot of the block fetched last (to record its successor), if it was cached.
    last: Option<usize>,
}

impl Default for BlockCache {
    fn default() -> Self {
        Self {
            slots: vec![None; SLOTS],
            scratch: None,
            stats: BlockStats::default(),
            last: None,
        }
    }
}

/// What fetching the next block produced.
pub(crate) enum Fetch<'a> {
    /// A block to run.
    Block(&'a Block),
    /// The first instruction faults when fetched/decoded.
    Fault(Exception),
}

impl BlockCache {
    /// Counters.
    pub fn stats(&self) -> BlockStats {
        self.stats
    }

    /// Drops every cached block.
    pub fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
        self.last = None;
    }

    #[inline(always)]
    fn slot(phys: u32) -> usize {
        ((phys ^ (phys >> 14)) as usize) & (SLOTS - 1)
    }

    /// Records the block in slot `i` as the successor of the one fetched before it, and
    /// prefetches the block that followed it last time.
    #[inline]
    fn chain(&mut self, i: usize) {
        let Some(b) = self.slots[i].as_deref() else {
            return;
        };
        if let Some(prev) = self.last.and_then(|l| self.slots[l].as_deref()) {
            prev.successor.record(&self.slots[i], b);
        }
        b.successor.prefetch();
        self.last = Some(i);
    }

    /// Returns the block starting at CS:EIP, decoding it on a miss.
    #[inline]
    pub(crate) fn fetch<'a>(&'a mut self, cpu: &mut Cpu, bus: &mut Bus) -> Fetch<'a> {
        let cs = cpu.s.segs[SegReg::Cs as usize];
        if cpu.s.eip > cs.limit {
            return Fetch::Fault(Exception::GeneralProtection(0));
        }
        let lin = cs.base.wrapping_add(cpu.s.eip);
        let phys = match cpu.phys(bus, lin, Access::Execute, cpu.cpl == 3) {
            Ok(p) => p & bus.a20_mask,
            Err(e) => return Fetch::Fault(e),
        };
        let key = phys as u64 | ((cs.is_32() as u64) << 32);
        let i = Self::slot(phys);
        let valid = match &self.slots[i] {
            Some(b) => {
                b.key == key
                    && b.pages
                        .iter()
                        .all(|&(p, g)| bus.mem.code_gen(p << PAGE_SHIFT) == g)
            }
            None => false,
        };
        if valid {
            self.stats.hits += 1;
            self.chain(i);
            return Fetch::Block(self.slots[i].as_deref().expect("checked"));
        }
        if self.slots[i].as_ref().is_some_and(|b| b.key == key) {
            self.stats.invalidated += 1;
        }
        self.stats.decoded += 1;
        match build(cpu, bus, key) {
            Err(e) => Fetch::Fault(e),
            Ok((block, cacheable)) => {
                if !cacheable {
                    self.last = None;
                    self.scratch = Some(Box::new(block));
                    return Fetch::Block(self.scratch.as_deref().expect("just stored"));
                }
                self.slots[i] = Some(Box::new(block));
                self.chain(i);
                Fetch::Block(self.slots[i].as_deref().expect("just stored"))
            }
        }
    }
}

/// The bytes of one instruction's fetch window.
struct Window {
    bytes: [u8; MAX_INSN_LEN],
    /// How many bytes could be fetched (the segment limit or a fault stops the window).
    len: usize,
    /// All bytes came from plain RAM.
    plain: bool,
    /// Why the window stopped early, if a translation faulted.
    fault: Option<Exception>,
}

/// Fetches up to 15 bytes at CS:`eip`, stopping at the segment limit or at a page that
/// cannot be executed.
fn fetch_window(cpu: &mut Cpu, bus: &mut Bus, eip: u32) -> Window {
    let cs = cpu.s.segs[SegReg::Cs as usize];
    let mut w = Window {
        bytes: [0; MAX_INSN_LEN],
        len: 0,
        plain: true,
        fault: None,
    };
    let mut frame: Option<(u32, u32)> = None; // (linear page, physical page) last translated
    while w.len < MAX_INSN_LEN {
        let off = eip as u64 + w.len as u64;
        if off > cs.limit as u64 {
            break;
        }
        let lin = cs.base.wrapping_add(off as u32);
        let page = match frame {
            Some((l, p)) if l == lin & !0xFFF => p,
            _ => match cpu.phys(bus, lin & !0xFFF, Access::Execute, cpu.cpl == 3) {
                Ok(p) => {
                    frame = Some((lin & !0xFFF, p));
                    p
                }
                Err(e) => {
                    w.fault = Some(e);
                    break;
                }
            },
        };
        let phys = (page | (lin & 0xFFF)) & bus.a20_mask;
        if (phys as usize) >= bus.mem.size()
            || bus.mem.page_attr(phys) & (PAGE_HOLE | PAGE_MMIO) != 0
        {
            w.plain = false;
        }
        w.bytes[w.len] = bus.read_u8(phys);
        w.len += 1;
    }
    w
}

/// Decodes a block at CS:EIP. The second value says whether it may be cached.
fn build(cpu: &mut Cpu, bus: &mut Bus, key: u64) -> Result<(Block, bool), Exception> {
    let cs = cpu.s.segs[SegReg::Cs as usize];
    let bitness = cpu.bitness();
    let start_phys = key as u32;
    let start_page = start_phys >> PAGE_SHIFT;
    let mut eip = cpu.s.eip;
    let mut uops = Vec::with_capacity(16);
    let mut last_byte_phys = start_phys;
    let mut cacheable = true;
    let paging = cpu.mmu.enabled;
    let start_lin = cs.base.wrapping_add(cpu.s.eip);
    loop {
        let w = fetch_window(cpu, bus, eip);
        let near_limit = w.len < MAX_INSN_LEN;
        if !uops.is_empty() && (near_limit || !w.plain) {
            break; // decode such an instruction as the first of its own (uncached) block
        }
        let (mut uop, flow) = match decode(&w.bytes[..w.len], bitness, eip) {
            Decoded::Op(u, e) => (u, e),
            Decoded::Truncated if uops.is_empty() => {
                return Err(w.fault.unwrap_or(Exception::GeneralProtection(0)));
            }
            Decoded::Truncated => break,
        };
        let lin_start = cs.base.wrapping_add(eip);
        let lin_end = lin_start.wrapping_add(uop.len as u32 - 1);
        let crosses = lin_start >> PAGE_SHIFT != lin_end >> PAGE_SHIFT;
        if crosses && paging {
            // Its bytes come from two translations: only ever run it from an uncached block.
            if !uops.is_empty() {
                break;
            }
            cacheable = false;
        }
        if near_limit || !w.plain {
            cacheable = false;
        }
        let end_phys = start_phys.wrapping_add(lin_end.wrapping_sub(start_lin)) & bus.a20_mask;
        if !uops.is_empty() && end_phys >> PAGE_SHIFT != start_page {
            break; // keep blocks within their first page (the last one may spill over)
        }
        last_byte_phys = end_phys;
        // a direct jump to the block's own page is followed: the block goes on at its target
        let next_eip = match flow {
            Flow::Jump(target)
                if cs.base.wrapping_add(target) >> PAGE_SHIFT == start_lin >> PAGE_SHIFT =>
            {
                uop.advance = target.wrapping_sub(eip);
                Some(target)
            }
            Flow::Next => Some(eip.wrapping_add(uop.len as u32)),
            Flow::Jump(_) | Flow::End => None,
        };
        uops.push(uop);
        let Some(next_eip) = next_eip else {
            break;
        };
        eip = next_eip;
        let next_phys = start_phys.wrapping_add(eip.wrapping_sub(cpu.s.eip)) & bus.a20_mask;
        if crosses || uops.len() >= MAX_BLOCK_INSNS || next_phys >> PAGE_SHIFT != start_page {
            break;
        }
    }
    let last_page = last_byte_phys >> PAGE_SHIFT;
    let pages = [
        (start_page, bus.mem.mark_code(start_page << PAGE_SHIFT)),
        (last_page, bus.mem.mark_code(last_page << PAGE_SHIFT)),
    ];
    Ok((
        Block {
            key,
            pages,
            uops,
            successor: SuccessorHint::default(),
        },
        cacheable,
    ))
}
