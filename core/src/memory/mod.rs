//! Guest physical memory: one RAM buffer with per-page attributes (ROM, unmapped hole, MMIO,
//! decoded code), a dirty-page bitmap (for incremental snapshots and checkpoints) and a
//! code-page generation counter (for invalidating decoded blocks on self-modifying code).
//!
//! Addresses here are guest physical. Pages are 4 KiB. Anything at or above the RAM size is not
//! RAM: the [`crate::bus::Bus`] routes it to MMIO or treats it as unmapped (reads all ones,
//! writes ignored), as a PC chipset does.

/// Size of a guest page in bytes.
pub const PAGE_SIZE: usize = 4096;
/// log2 of [`PAGE_SIZE`].
pub const PAGE_SHIFT: u32 = 12;

/// Page attribute: writes are ignored (ROM).
pub const PAGE_ROM: u8 = 1 << 0;
/// Page attribute: no memory here; reads return all ones, writes are ignored.
pub const PAGE_HOLE: u8 = 1 << 1;
/// Page attribute: the page belongs to an MMIO region (the bus dispatches accesses).
pub const PAGE_MMIO: u8 = 1 << 2;
/// Page attribute: decoded code was cached from this page; a write must invalidate it.
pub const PAGE_CODE: u8 = 1 << 3;

/// Attributes that make a read take the slow path.
const SLOW_READ: u8 = PAGE_HOLE | PAGE_MMIO;

/// Attributes that make a write take the slow path.
const SLOW_WRITE: u8 = PAGE_ROM | PAGE_HOLE | PAGE_MMIO | PAGE_CODE;

/// A memory epoch never used before in this process (see [`GuestMemory::epoch`]).
fn fresh_epoch() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Guest RAM with page attributes and bitmaps. Sized at construction, never reallocated.
pub struct GuestMemory {
    ram: Vec<u8>,
    page_attr: Vec<u8>,
    dirty: Vec<u64>,
    code_gen: Vec<u32>,
    code_written: bool,
    epoch: u64,
}

impl Clone for GuestMemory {
    /// A copy with its own epoch: the CPU's fast path filled for one never serves the other.
    fn clone(&self) -> Self {
        Self {
            ram: self.ram.clone(),
            page_attr: self.page_attr.clone(),
            dirty: self.dirty.clone(),
            code_gen: self.code_gen.clone(),
            code_written: self.code_written,
            epoch: fresh_epoch(),
        }
    }
}

impl std::fmt::Debug for GuestMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestMemory")
            .field("size", &self.ram.len())
            .finish()
    }
}

impl GuestMemory {
    /// Creates `size` bytes of zeroed RAM. `size` must be a non-zero multiple of [`PAGE_SIZE`].
    pub fn new(size: usize) -> Result<Self, crate::VmError> {
        if size == 0 || size % PAGE_SIZE != 0 {
            return Err(crate::VmError::Config(format!(
                "RAM size {size:#x} must be a non-zero multiple of 4 KiB"
            )));
        }
        if size as u64 > (1u64 << 32) - (1 << 20) {
            return Err(crate::VmError::Config(format!(
                "RAM size {size:#x} exceeds the 32-bit physical address space less 1 MiB for devices"
            )));
        }
        let pages = size / PAGE_SIZE;
        Ok(Self {
            ram: vec![0; size],
            page_attr: vec![0; pages],
            dirty: vec![0; pages.div_ceil(64)],
            code_gen: vec![0; pages],
            code_written: false,
            epoch: fresh_epoch(),
        })
    }

    /// RAM size in bytes.
    #[inline]
    pub fn size(&self) -> usize {
        self.ram.len()
    }

    /// Number of RAM pages.
    pub fn pages(&self) -> usize {
        self.page_attr.len()
    }

    /// The attribute bits of the page holding `addr` (which must be inside RAM).
    #[inline]
    pub fn page_attr(&self, addr: u32) -> u8 {
        self.page_attr[(addr >> PAGE_SHIFT) as usize]
    }

    /// Identifies the page attributes that the CPU's host fast path (`mmu/fast.rs`) relies on:
    /// it changes (to a value no memory in this process had before) whenever a page gains an
    /// attribute that sends accesses down the slow path; a clone gets its own. Not guest state.
    #[inline(always)]
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Whether guest reads at `addr` may take the fast path: RAM, not a hole or MMIO.
    #[inline]
    pub(crate) fn fast_readable(&self, addr: u32) -> bool {
        (addr as usize) < self.ram.len() && self.page_attr(addr) & SLOW_READ == 0
    }

    /// Whether guest writes at `addr` may take the fast path: RAM, not ROM, a hole, MMIO or
    /// a page holding decoded code.
    #[inline]
    pub(crate) fn fast_writable(&self, addr: u32) -> bool {
        (addr as usize) < self.ram.len() && self.page_attr(addr) & SLOW_WRITE == 0
    }

    /// Reads `N` bytes at RAM offset `a` for the fast path (which checked the page).
    #[inline(always)]
    pub(crate) fn read_ram<const N: usize>(&self, a: u32) -> u32 {
        let a = a as usize;
        let mut w = [0u8; 4];
        w[..N].copy_from_slice(&self.ram[a..a + N]);
        u32::from_le_bytes(w)
    }

    /// Writes `N` bytes at RAM offset `a` for the fast path (which checked the page: plain RAM
    /// holding no decoded code) and marks the page dirty.
    #[inline(always)]
    pub(crate) fn write_ram<const N: usize>(&mut self, a: u32, v: u32) {
        let a = a as usize;
        let p = a >> PAGE_SHIFT;
        self.dirty[p >> 6] |= 1 << (p & 63);
        self.ram[a..a + N].copy_from_slice(&v.to_le_bytes()[..N]);
    }

    /// Sets attribute bits on every page of `[start, start+len)`; both must be page aligned.
    pub fn set_attr(&mut self, start: u32, len: u32, bits: u8) -> Result<(), crate::VmError> {
        let range = self.page_range(start, len)?;
        self.epoch = fresh_epoch();
        for a in &mut self.page_attr[range] {
            *a |= bits;
        }
        Ok(())
    }

    /// Clears attribute bits on every page of `[start, start+len)`; both must be page aligned.
    pub fn clear_attr(&mut self, start: u32, len: u32, bits: u8) -> Result<(), crate::VmError> {
        let range = self.page_range(start, len)?;
        for a in &mut self.page_attr[range] {
            *a &= !bits;
        }
        Ok(())
    }

    fn page_range(&self, start: u32, len: u32) -> Result<std::ops::Range<usize>, crate::VmError> {
        let end = start as u64 + len as u64;
        if start as usize % PAGE_SIZE != 0
            || len as usize % PAGE_SIZE != 0
            || end > self.ram.len() as u64
        {
            return Err(crate::VmError::Config(format!(
                "page range {start:#x}+{len:#x} is not page aligned or not inside RAM ({:#x} bytes)",
                self.ram.len()
            )));
        }
        Ok((start >> PAGE_SHIFT) as usize..(end >> PAGE_SHIFT) as usize)
    }

    /// Whole RAM as bytes (host view; ignores attributes).
    pub fn as_slice(&self) -> &[u8] {
        &self.ram
    }

    /// Host read of `buf.len()` bytes at `addr` (ignores attributes).
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), crate::VmError> {
        let r = self.host_range(addr, buf.len())?;
        buf.copy_from_slice(&self.ram[r]);
        Ok(())
    }

    /// Host write of `data` at `addr`: writes ROM too, marks pages dirty and invalidates code.
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), crate::VmError> {
        let r = self.host_range(addr, data.len())?;
        if data.is_empty() {
            return Ok(());
        }
        let first = r.start >> PAGE_SHIFT;
        let last = (r.end - 1) >> PAGE_SHIFT;
        for p in first..=last {
            self.touch_page(p);
        }
        self.ram[r].copy_from_slice(data);
        Ok(())
    }

    fn host_range(&self, addr: u64, len: usize) -> Result<std::ops::Range<usize>, crate::VmError> {
        let end = addr.checked_add(len as u64);
        match end {
            Some(end) if end <= self.ram.len() as u64 => Ok(addr as usize..end as usize),
            _ => Err(crate::VmError::PhysRange {
                addr,
                len: len as u64,
                ram_size: self.ram.len() as u64,
            }),
        }
    }

    /// Marks page `p` dirty and, if code was decoded from it, bumps its generation.
    #[inline]
    fn touch_page(&mut self, p: usize) {
        self.dirty[p >> 6] |= 1 << (p & 63);
        if self.page_attr[p] & PAGE_CODE != 0 {
            self.page_attr[p] &= !PAGE_CODE;
            self.code_gen[p] = self.code_gen[p].wrapping_add(1);
            self.code_written = true;
        }
    }

    /// Device (DMA) read of `buf.len()` bytes at guest physical `addr`: only plain RAM or ROM
    /// pages; `None` if any byte is outside RAM, in a hole or in an MMIO page (a device on
    /// a PCI bus master cycle would not reach RAM there either).
    pub fn dma_read(&self, addr: u64, buf: &mut [u8]) -> Option<()> {
        let r = self.dma_range(addr, buf.len(), PAGE_HOLE | PAGE_MMIO)?;
        buf.copy_from_slice(&self.ram[r]);
        Some(())
    }

    /// Device (DMA) write of `data` at guest physical `addr`: only plain RAM pages (not ROM,
    /// holes or MMIO); `None` and nothing written otherwise. Marks pages dirty and invalidates
    /// code decoded from them, like a CPU write.
    pub fn dma_write(&mut self, addr: u64, data: &[u8]) -> Option<()> {
        let r = self.dma_range(addr, data.len(), PAGE_HOLE | PAGE_MMIO | PAGE_ROM)?;
        if data.is_empty() {
            return Some(());
        }
        for p in r.start >> PAGE_SHIFT..=(r.end - 1) >> PAGE_SHIFT {
            self.touch_page(p);
        }
        self.ram[r].copy_from_slice(data);
        Some(())
    }

    /// Whether a DMA access of `len` bytes at `addr` would succeed (a write: `write`).
    pub fn dma_ok(&self, addr: u64, len: usize, write: bool) -> bool {
        let forbidden = PAGE_HOLE | PAGE_MMIO | if write { PAGE_ROM } else { 0 };
        self.dma_range(addr, len, forbidden).is_some()
    }

    /// Copies `len` bytes from `src` to `dst` within RAM (as the CPU's REP MOVS would, element
    /// by element forwards: the caller excludes overlaps where that differs from a move), marking
    /// the destination dirty. Both ranges must be inside RAM.
    pub fn copy_within(&mut self, src: u64, dst: u64, len: usize) {
        let (s, d) = (src as usize, dst as usize);
        for p in d >> PAGE_SHIFT..=(d + len - 1) >> PAGE_SHIFT {
            self.touch_page(p);
        }
        self.ram.copy_within(s..s + len, d);
    }

    /// Fills `len` bytes at `dst` (inside RAM) with repetitions of `pattern` (REP STOS), marking
    /// them dirty; `len` is a multiple of the pattern's length.
    pub fn fill(&mut self, dst: u64, len: usize, pattern: &[u8]) {
        let d = dst as usize;
        for p in d >> PAGE_SHIFT..=(d + len - 1) >> PAGE_SHIFT {
            self.touch_page(p);
        }
        for chunk in self.ram[d..d + len].chunks_exact_mut(pattern.len()) {
            chunk.copy_from_slice(pattern);
        }
    }

    /// The host range of a DMA access of `len` bytes at `addr`, if inside RAM and none of its
    /// pages has an attribute in `forbidden`.
    fn dma_range(&self, addr: u64, len: usize, forbidden: u8) -> Option<std::ops::Range<usize>> {
        let end = addr.checked_add(len as u64)?;
        if end > self.ram.len() as u64 {
            return None;
        }
        if len > 0 {
            let (first, last) = (
                (addr >> PAGE_SHIFT) as usize,
                ((end - 1) >> PAGE_SHIFT) as usize,
            );
            if self.page_attr[first..=last]
                .iter()
                .any(|a| a & forbidden != 0)
            {
                return None;
            }
        }
        Some(addr as usize..end as usize)
    }

    /// Guest read of an `N`-byte little-endian value. `None` when the access is not plain RAM
    /// (outside RAM, a hole, MMIO) or crosses a page: the bus then takes the slow path.
    #[inline(always)]
    pub fn read_fast<const N: usize>(&self, addr: u32) -> Option<[u8; N]> {
        let a = addr as usize;
        if a + N <= self.ram.len()
            && (a & (PAGE_SIZE - 1)) + N <= PAGE_SIZE
            && self.page_attr[a >> PAGE_SHIFT] & SLOW_READ == 0
        {
            let mut b = [0u8; N];
            b.copy_from_slice(&self.ram[a..a + N]);
            Some(b)
        } else {
            None
        }
    }

    /// Guest write of an `N`-byte value to plain RAM. Returns `false` (nothing written) when the
    /// access is not plain RAM or crosses a page: the bus then takes the slow path.
    #[inline(always)]
    pub fn write_fast<const N: usize>(&mut self, addr: u32, b: [u8; N]) -> bool {
        let a = addr as usize;
        if a + N <= self.ram.len() && (a & (PAGE_SIZE - 1)) + N <= PAGE_SIZE {
            let p = a >> PAGE_SHIFT;
            let attr = self.page_attr[p];
            if attr & !PAGE_CODE == 0 {
                self.touch_page(p);
                self.ram[a..a + N].copy_from_slice(&b);
                return true;
            }
        }
        false
    }

    /// Guest byte read from RAM proper; `None` when `addr` is outside RAM, a hole or MMIO.
    #[inline]
    pub fn read_u8_ram(&self, addr: u32) -> Option<u8> {
        let a = addr as usize;
        if a < self.ram.len() && self.page_attr[a >> PAGE_SHIFT] & SLOW_READ == 0 {
            Some(self.ram[a])
        } else {
            None
        }
    }

    /// Guest byte write to RAM proper: ignored on ROM; `false` when `addr` is not RAM/ROM.
    #[inline]
    pub fn write_u8_ram(&mut self, addr: u32, v: u8) -> bool {
        let a = addr as usize;
        if a >= self.ram.len() {
            return false;
        }
        let p = a >> PAGE_SHIFT;
        let attr = self.page_attr[p];
        if attr & (PAGE_HOLE | PAGE_MMIO) != 0 {
            return false;
        }
        if attr & PAGE_ROM == 0 {
            self.touch_page(p);
            self.ram[a] = v;
        }
        true
    }

    /// Records that page `p` holds decoded code and returns its current generation.
    pub fn mark_code(&mut self, addr: u32) -> u32 {
        let p = (addr >> PAGE_SHIFT) as usize;
        if p < self.page_attr.len() {
            if self.page_attr[p] & PAGE_CODE == 0 {
                self.epoch = fresh_epoch(); // fast-path writes to it must stop
            }
            self.page_attr[p] |= PAGE_CODE;
            self.code_gen[p]
        } else {
            0
        }
    }

    /// Current code generation of the page holding `addr` (0 outside RAM).
    #[inline]
    pub fn code_gen(&self, addr: u32) -> u32 {
        self.code_gen
            .get((addr >> PAGE_SHIFT) as usize)
            .copied()
            .unwrap_or(0)
    }

    /// Returns and clears the flag "a write hit a page that held decoded code".
    #[inline]
    pub fn take_code_written(&mut self) -> bool {
        std::mem::replace(&mut self.code_written, false)
    }

    /// Whether page `p` was written since the dirty bitmap was last cleared.
    pub fn is_dirty(&self, p: usize) -> bool {
        self.dirty
            .get(p >> 6)
            .is_some_and(|w| w & (1 << (p & 63)) != 0)
    }

    /// Indices of the dirty pages, in ascending order.
    pub fn dirty_pages(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for (i, &w) in self.dirty.iter().enumerate() {
            let mut w = w;
            while w != 0 {
                let b = w.trailing_zeros() as usize;
                out.push(i * 64 + b);
                w &= w - 1;
            }
        }
        out
    }

    /// Clears the dirty bitmap.
    pub fn clear_dirty(&mut self) {
        self.dirty.iter_mut().for_each(|w| *w = 0);
    }

    /// Makes RAM equal to `base`'s (same size): all of it (`all`), or only the pages dirtied
    /// since the bitmap was last cleared, which the caller guarantees were the only ones to
    /// differ. Restored pages get a new code generation, so blocks decoded from them are
    /// decoded again; the bitmap is cleared. Returns how many pages were copied.
    pub fn restore_from(&mut self, base: &GuestMemory, all: bool) -> usize {
        debug_assert_eq!(self.ram.len(), base.ram.len());
        let pages: Vec<usize> = if all {
            (0..self.pages()).collect()
        } else {
            self.dirty_pages()
        };
        for &p in &pages {
            let r = p * PAGE_SIZE..(p + 1) * PAGE_SIZE;
            self.ram[r.clone()].copy_from_slice(&base.ram[r]);
            self.page_attr[p] &= !PAGE_CODE;
            self.code_gen[p] = self.code_gen[p].wrapping_add(1);
        }
        self.clear_dirty();
        pages.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unaligned_size() {
        assert!(GuestMemory::new(4095).is_err());
        assert!(GuestMemory::new(0).is_err());
    }

    #[test]
    fn fast_paths_and_dirty_bits() {
        let mut m = GuestMemory::new(4 * PAGE_SIZE).unwrap();
        assert!(m.write_fast(0x1000, 0x1234_5678u32.to_le_bytes()));
        assert_eq!(m.read_fast::<4>(0x1000), Some(0x1234_5678u32.to_le_bytes()));
        assert_eq!(m.dirty_pages(), vec![1]);
        // crossing a page boundary is not a fast access
        assert_eq!(m.read_fast::<2>(0xfff), None);
        assert!(!m.write_fast(0xfff, [1, 2]));
        // outside RAM
        assert_eq!(m.read_fast::<1>(0x4000), None);
        m.clear_dirty();
        assert!(m.dirty_pages().is_empty());
    }

    #[test]
    fn rom_ignores_guest_writes_but_not_host_writes() {
        let mut m = GuestMemory::new(2 * PAGE_SIZE).unwrap();
        m.set_attr(0x1000, 0x1000, PAGE_ROM).unwrap();
        m.write(0x1000, &[0xAA]).unwrap();
        assert!(!m.write_fast(0x1000, [0x55]));
        assert!(m.write_u8_ram(0x1000, 0x55));
        assert_eq!(m.read_u8_ram(0x1000), Some(0xAA));
    }

    #[test]
    fn dma_reaches_only_plain_ram() {
        let mut m = GuestMemory::new(4 * PAGE_SIZE).unwrap();
        m.set_attr(0x1000, 0x1000, PAGE_ROM).unwrap();
        m.set_attr(0x2000, 0x1000, PAGE_MMIO).unwrap();
        assert_eq!(m.dma_write(0xFFE, &[1, 2]), Some(()));
        let mut b = [0u8; 2];
        assert_eq!(m.dma_read(0xFFE, &mut b), Some(()));
        assert_eq!(b, [1, 2]);
        assert_eq!(m.dma_write(0xFFF, &[1, 2]), None, "the second byte is ROM");
        assert_eq!(m.dma_read(0x1FFF, &mut b), None, "the second byte is MMIO");
        assert_eq!(m.dma_read(0x3FFF, &mut b), None, "past the end of RAM");
        assert_eq!(m.dma_read(u64::MAX, &mut b), None, "wrapping");
        assert_eq!(m.dma_read(0x1000, &mut b), Some(()), "ROM is readable");
        assert_eq!(m.dirty_pages(), vec![0]);
    }

    #[test]
    fn holes_read_as_not_ram() {
        let mut m = GuestMemory::new(2 * PAGE_SIZE).unwrap();
        m.set_attr(0, 0x1000, PAGE_HOLE).unwrap();
        assert_eq!(m.read_u8_ram(0x10), None);
        assert!(!m.write_u8_ram(0x10, 1));
    }

    #[test]
    fn writes_to_code_pages_bump_generation() {
        let mut m = GuestMemory::new(2 * PAGE_SIZE).unwrap();
        let g = m.mark_code(0x1000);
        assert!(!m.take_code_written());
        assert!(m.write_fast(0x1004, [0x90]));
        assert!(m.take_code_written());
        assert_ne!(m.code_gen(0x1000), g);
        // the page is no longer marked: a second write does not signal again
        assert!(m.write_fast(0x1004, [0x90]));
        assert!(!m.take_code_written());
    }
}
