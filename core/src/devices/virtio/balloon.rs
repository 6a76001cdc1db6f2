//! virtio-balloon (Virtio 1.2, 5.5): the host sets a target (`num_pages`, in 4 KiB pages)
//! and the driver gives pages back through inflateq (0) or takes them again through
//! deflateq (1), each buffer an array of 32-bit page frame numbers, and reports how many it
//! holds in `actual`.
//!
//! An inflated page is zeroed and remembered: vx86 has no host memory to give back (RAM is
//! one buffer), but a zero page is left out of snapshots and of the state hash, so what the
//! guest returns stops costing snapshot space, and [`Balloon::pages`] says how much guest
//! RAM is out of use. Deflating only forgets the pages (the guest gets them back zeroed, as
//! after a host dropped them).
//!
//! Left out: VIRTIO_BALLOON_F_MUST_TELL_HOST semantics beyond what the queues give,
//! statistics (STATS_VQ), DEFLATE_ON_OOM, free page hinting and reporting.

use super::queue::QueueError;
use super::Cx;
use crate::memory::PAGE_SIZE;

const INFLATEQ: usize = 0;
const DEFLATEQ: usize = 1;

/// The device.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Balloon {
    /// num_pages: the host's target.
    pub target: u32,
    /// actual: what the driver reports.
    pub actual: u32,
    /// One bit per RAM page: given back by the guest.
    pub inflated: Vec<u64>,
    /// Frame numbers in the queues that were outside RAM (ignored).
    pub bad_frames: u64,
}

impl Balloon {
    /// A balloon for a machine with `ram_pages` pages of RAM.
    pub fn new(ram_pages: usize) -> Self {
        Self {
            target: 0,
            actual: 0,
            inflated: vec![0; ram_pages.div_ceil(64)],
            bad_frames: 0,
        }
    }

    /// Pages the guest has given back.
    pub fn pages(&self) -> u64 {
        self.inflated.iter().map(|w| w.count_ones() as u64).sum()
    }

    /// struct virtio_balloon_config: num_pages, actual.
    pub fn config_bytes(&self) -> Vec<u8> {
        let mut c = vec![0u8; 8];
        c[..4].copy_from_slice(&self.target.to_le_bytes());
        c[4..].copy_from_slice(&self.actual.to_le_bytes());
        c
    }

    /// The driver writes `actual`.
    pub fn config_write(&mut self, offset: u64, size: usize, value: u32) {
        if (4..8).contains(&offset) {
            let mut c = self.actual.to_le_bytes();
            super::write_le(
                &mut c,
                offset as usize - 4,
                size.min(8 - offset as usize),
                value,
            );
            self.actual = u32::from_le_bytes(c);
        }
    }

    /// Device reset: a new driver starts with nothing inflated.
    pub fn reset(&mut self) {
        self.actual = 0;
        self.inflated.iter_mut().for_each(|w| *w = 0);
    }

    /// Takes page frame numbers from inflateq or deflateq.
    pub fn process(&mut self, q: usize, cx: &mut Cx) -> Result<(), QueueError> {
        while let Some(chain) = cx.pop(q)? {
            let bytes = chain.read_all(cx.mem);
            for pfn in bytes.chunks_exact(4) {
                let pfn = u32::from_le_bytes(pfn.try_into().expect("4 bytes")) as usize;
                if pfn / 64 >= self.inflated.len() || pfn >= cx.mem.pages() {
                    self.bad_frames += 1;
                    continue;
                }
                let bit = 1u64 << (pfn % 64);
                if q == INFLATEQ {
                    // a page that is not plain RAM (ROM, MMIO) is not zeroed
                    if cx
                        .mem
                        .dma_write((pfn * PAGE_SIZE) as u64, &[0u8; PAGE_SIZE])
                        .is_some()
                    {
                        self.inflated[pfn / 64] |= bit;
                    }
                } else if q == DEFLATEQ {
                    self.inflated[pfn / 64] &= !bit;
                }
            }
            cx.push(q, chain.head, 0)?;
        }
        Ok(())
    }
}
