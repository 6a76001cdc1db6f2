//! Split virtqueues, device side (Virtual I/O Device (VIRTIO) Version 1.2, 2.7 "Split
//! Virtqueues"): the descriptor table, the driver ("available") ring and the device ("used")
//! ring in guest memory, indirect descriptors (2.7.5.3, VIRTIO_F_INDIRECT_DESC) and
//! notification suppression with VIRTIO_F_EVENT_IDX (2.7.7, 2.7.10).
//!
//! Everything in guest memory is controlled by the guest and may be malformed or change at
//! any time. Every chain is validated as it is taken: the head and every `next` index inside
//! the table, no loops (at most as many descriptors as the table holds), an indirect table
//! that is a whole number of descriptors, not nested and not chained, device-writable buffers
//! only after the device-readable ones, every buffer inside plain guest RAM, lengths that do
//! not overflow. A violation is a [`QueueError`], which the transport turns into the device's
//! error state (DEVICE_NEEDS_RESET); nothing outside guest RAM is ever read or written.
//!
//! Left out: packed virtqueues (2.8), VIRTIO_F_IN_ORDER, notification data.

/// Descriptor flag: the buffer continues in `next`.
pub const DESC_F_NEXT: u16 = 1;
/// Descriptor flag: the buffer is device-writable (else device-readable).
pub const DESC_F_WRITE: u16 = 2;
/// Descriptor flag: the buffer holds a table of indirect descriptors.
pub const DESC_F_INDIRECT: u16 = 4;
/// Driver ring flag: the driver does not want interrupts (without EVENT_IDX).
pub const AVAIL_F_NO_INTERRUPT: u16 = 1;

/// Largest queue size a device offers (and the largest a table walk can meet).
pub const MAX_QUEUE_SIZE: u16 = 256;
/// Most descriptors an indirect table may hold (the spec bounds it by the queue size for
/// direct chains only; Linux never builds larger tables than this).
pub const MAX_INDIRECT: u32 = 1024;
/// Most bytes a chain may describe in each direction (a bound on what a device may have to
/// buffer for one request).
pub const MAX_CHAIN_BYTES: u64 = 64 << 20;

/// A malformed queue or chain; the message names what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueError(pub String);

impl std::fmt::Display for QueueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: String) -> Result<T, QueueError> {
    Err(QueueError(msg))
}

/// Guest memory as a device sees it (DMA): only plain RAM.
pub trait Dma {
    /// Reads `buf.len()` bytes at guest physical `addr`; `None` outside plain RAM.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Option<()>;
    /// Writes `data` at guest physical `addr`; `None` (nothing written) outside plain RAM.
    fn write(&mut self, addr: u64, data: &[u8]) -> Option<()>;
    /// Whether `len` bytes at `addr` could be read (or, with `write`, written).
    fn check(&self, addr: u64, len: u32, write: bool) -> bool;
}

impl Dma for crate::memory::GuestMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Option<()> {
        self.dma_read(addr, buf)
    }
    fn write(&mut self, addr: u64, data: &[u8]) -> Option<()> {
        self.dma_write(addr, data)
    }
    fn check(&self, addr: u64, len: u32, write: bool) -> bool {
        self.dma_ok(addr, len as usize, write)
    }
}

fn read_u16(mem: &dyn Dma, addr: u64, what: &str) -> Result<u16, QueueError> {
    let mut b = [0u8; 2];
    match mem.read(addr, &mut b) {
        Some(()) => Ok(u16::from_le_bytes(b)),
        None => err(format!("{what} at {addr:#x} is not in guest RAM")),
    }
}

fn write_bytes(mem: &mut dyn Dma, addr: u64, data: &[u8], what: &str) -> Result<(), QueueError> {
    match mem.write(addr, data) {
        Some(()) => Ok(()),
        None => err(format!("{what} at {addr:#x} is not writable guest RAM")),
    }
}

/// One guest buffer of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffer {
    /// Guest physical address.
    pub addr: u64,
    /// Length in bytes.
    pub len: u32,
}

/// A validated descriptor chain: the device-readable buffers, then the device-writable ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chain {
    /// Index of the head descriptor (what goes back in the used ring).
    pub head: u16,
    /// Buffers the device reads, in order.
    pub readable: Vec<Buffer>,
    /// Buffers the device writes, in order.
    pub writable: Vec<Buffer>,
}

impl Chain {
    /// Total bytes of the device-readable buffers.
    pub fn readable_len(&self) -> u64 {
        self.readable.iter().map(|b| b.len as u64).sum()
    }

    /// Total bytes of the device-writable buffers.
    pub fn writable_len(&self) -> u64 {
        self.writable.iter().map(|b| b.len as u64).sum()
    }

    /// Reads `out.len()` bytes of the readable buffers starting at byte `offset`; returns
    /// how many were available.
    pub fn read_at(&self, mem: &dyn Dma, offset: u64, out: &mut [u8]) -> usize {
        copy_span(&self.readable, offset, out.len(), |addr, range| {
            mem.read(addr, &mut out[range]).is_some()
        })
    }

    /// All readable bytes (bounded by [`MAX_CHAIN_BYTES`] when the chain was taken).
    pub fn read_all(&self, mem: &dyn Dma) -> Vec<u8> {
        let mut v = vec![0u8; self.readable_len() as usize];
        let n = self.read_at(mem, 0, &mut v);
        v.truncate(n);
        v
    }

    /// Writes `data` into the writable buffers starting at byte `offset`; returns how many
    /// bytes fitted.
    pub fn write_at(&self, mem: &mut dyn Dma, offset: u64, data: &[u8]) -> usize {
        copy_span(&self.writable, offset, data.len(), |addr, range| {
            mem.write(addr, &data[range]).is_some()
        })
    }
}

/// Walks `len` bytes of `bufs` from byte `offset`, calling `copy(guest address, range of the
/// caller's slice)` per piece; stops at the end of the buffers or at a failed piece. Returns
/// the bytes copied.
fn copy_span(
    bufs: &[Buffer],
    offset: u64,
    len: usize,
    mut copy: impl FnMut(u64, std::ops::Range<usize>) -> bool,
) -> usize {
    let (mut skip, mut done) = (offset, 0usize);
    for b in bufs {
        if done == len {
            break;
        }
        if skip >= b.len as u64 {
            skip -= b.len as u64;
            continue;
        }
        let n = ((b.len as u64 - skip) as usize).min(len - done);
        if !copy(b.addr + skip, done..done + n) {
            break;
        }
        done += n;
        skip = 0;
    }
    done
}

/// The device's view of one split virtqueue (its registers in the common configuration and
/// its position in the rings). Plain data: snapshots and the state hash cover it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct SplitQueue {
    /// The largest size the device offers (a power of two).
    pub max_size: u16,
    /// queue_size: the size the driver chose.
    pub size: u16,
    /// queue_enable.
    pub ready: bool,
    /// queue_desc: guest physical address of the descriptor table.
    pub desc: u64,
    /// queue_driver: the available ring.
    pub avail: u64,
    /// queue_device: the used ring.
    pub used: u64,
    /// queue_msix_vector (0xFFFF: none).
    pub msix_vector: u16,
    /// The next available-ring entry the device takes.
    pub last_avail: u16,
    /// The used-ring index the device writes next.
    pub used_idx: u16,
    /// The used index when the driver was last notified (for EVENT_IDX).
    pub signalled_used: u16,
    /// VIRTIO_F_EVENT_IDX was negotiated.
    pub event_idx: bool,
}

/// "No MSI-X vector" (VIRTIO_MSI_NO_VECTOR).
pub const NO_VECTOR: u16 = 0xFFFF;

impl SplitQueue {
    /// A queue as after reset, offering `max_size` entries.
    pub fn new(max_size: u16) -> Self {
        Self {
            max_size,
            size: max_size,
            ready: false,
            desc: 0,
            avail: 0,
            used: 0,
            msix_vector: NO_VECTOR,
            last_avail: 0,
            used_idx: 0,
            signalled_used: 0,
            event_idx: false,
        }
    }

    /// Checks the driver's configuration when it enables the queue (2.7: a power-of-two
    /// size no larger than offered; the areas aligned (16, 2 and 4 bytes) and inside RAM).
    pub fn validate(&self, mem: &dyn Dma) -> Result<(), QueueError> {
        let n = self.size as u64;
        if self.size == 0 || !self.size.is_power_of_two() || self.size > self.max_size {
            return err(format!(
                "queue size {} (must be a power of two up to {})",
                self.size, self.max_size
            ));
        }
        let areas = [
            ("descriptor table", self.desc, 16 * n, 16),
            ("driver ring", self.avail, 6 + 2 * n, 2),
            ("device ring", self.used, 6 + 8 * n, 4),
        ];
        for (what, addr, len, align) in areas {
            let mut probe = [0u8; 1];
            let inside = addr % align == 0
                && addr.checked_add(len).is_some()
                && mem.read(addr, &mut probe).is_some()
                && mem.read(addr + len - 1, &mut probe).is_some();
            if !inside {
                return err(format!(
                    "{what} at {addr:#x} ({len} bytes) is misaligned or not in guest RAM"
                ));
            }
        }
        Ok(())
    }

    /// Takes the next available chain, if the driver has made one available. When there is
    /// none and EVENT_IDX was negotiated, asks the driver (through `avail_event`) to notify
    /// on the next one.
    pub fn pop(&mut self, mem: &mut dyn Dma) -> Result<Option<Chain>, QueueError> {
        if !self.ready {
            return Ok(None);
        }
        let avail_idx = read_u16(mem, self.avail + 2, "driver ring index")?;
        let waiting = avail_idx.wrapping_sub(self.last_avail);
        if waiting == 0 {
            self.publish_avail_event(mem)?;
            return Ok(None);
        }
        if waiting > self.size {
            return err(format!(
                "driver ring index {avail_idx} is {waiting} entries ahead of the device's {} \
                 in a queue of {}",
                self.last_avail, self.size
            ));
        }
        let slot = self.avail + 4 + 2 * (self.last_avail % self.size) as u64;
        let head = read_u16(mem, slot, "driver ring entry")?;
        self.last_avail = self.last_avail.wrapping_add(1);
        self.walk(mem, head).map(Some)
    }

    /// Whether the driver has made a chain available that the device has not taken.
    pub fn has_available(&self, mem: &dyn Dma) -> Result<bool, QueueError> {
        Ok(self.ready && read_u16(mem, self.avail + 2, "driver ring index")? != self.last_avail)
    }

    /// With EVENT_IDX: `avail_event` = the next entry the device will take, so the driver
    /// notifies as soon as it adds one (2.7.10).
    fn publish_avail_event(&self, mem: &mut dyn Dma) -> Result<(), QueueError> {
        if self.event_idx {
            let at = self.used + 4 + 8 * self.size as u64;
            write_bytes(mem, at, &self.last_avail.to_le_bytes(), "avail_event")?;
        }
        Ok(())
    }

    /// Follows the chain starting at descriptor `head` (see the module header for the checks).
    pub fn walk(&self, mem: &dyn Dma, head: u16) -> Result<Chain, QueueError> {
        if head >= self.size {
            return err(format!(
                "chain head {head} outside a queue of {}",
                self.size
            ));
        }
        let mut chain = Chain {
            head,
            ..Chain::default()
        };
        let mut totals = (0u64, 0u64);
        let (mut index, mut seen) = (head, 0u32);
        loop {
            seen += 1;
            if seen > self.size as u32 {
                return err(format!(
                    "chain from {head} loops (more than {} descriptors)",
                    self.size
                ));
            }
            let d = read_desc(mem, self.desc + 16 * index as u64)?;
            if d.flags & DESC_F_INDIRECT != 0 {
                if d.flags & DESC_F_NEXT != 0 {
                    return err(format!("descriptor {index}: indirect and chained"));
                }
                walk_indirect(mem, &d, &mut chain, &mut totals)?;
                break;
            }
            add_buffer(mem, &d, &mut chain, &mut totals)?;
            if d.flags & DESC_F_NEXT == 0 {
                break;
            }
            if d.next >= self.size {
                return err(format!(
                    "descriptor {index}: next {} outside the table",
                    d.next
                ));
            }
            index = d.next;
        }
        Ok(chain)
    }

    /// Returns chain `head` to the driver with `written` bytes written into its writable
    /// buffers.
    pub fn push_used(
        &mut self,
        mem: &mut dyn Dma,
        head: u16,
        written: u32,
    ) -> Result<(), QueueError> {
        let slot = self.used + 4 + 8 * (self.used_idx % self.size) as u64;
        let mut elem = [0u8; 8];
        elem[..4].copy_from_slice(&(head as u32).to_le_bytes());
        elem[4..].copy_from_slice(&written.to_le_bytes());
        write_bytes(mem, slot, &elem, "device ring entry")?;
        self.used_idx = self.used_idx.wrapping_add(1);
        write_bytes(
            mem,
            self.used + 2,
            &self.used_idx.to_le_bytes(),
            "device ring index",
        )?;
        self.publish_avail_event(mem)
    }

    /// Whether the driver wants an interrupt for the used entries added since the last one
    /// (2.7.7.2 and 2.7.10: `used_event` with EVENT_IDX, else the NO_INTERRUPT flag). Marks
    /// them signalled when it does.
    pub fn should_interrupt(&mut self, mem: &dyn Dma) -> Result<bool, QueueError> {
        let (old, new) = (self.signalled_used, self.used_idx);
        if old == new {
            return Ok(false);
        }
        let want = if self.event_idx {
            let at = self.avail + 4 + 2 * self.size as u64;
            let event = read_u16(mem, at, "used_event")?;
            // vring_need_event: the event index lies in (old, new]
            new.wrapping_sub(event).wrapping_sub(1) < new.wrapping_sub(old)
        } else {
            read_u16(mem, self.avail, "driver ring flags")? & AVAIL_F_NO_INTERRUPT == 0
        };
        if want {
            self.signalled_used = new;
        }
        Ok(want)
    }
}

/// A descriptor as read from guest memory.
struct Desc {
    addr: u64,
    len: u32,
    flags: u16,
    next: u16,
}

fn read_desc(mem: &dyn Dma, at: u64) -> Result<Desc, QueueError> {
    let mut b = [0u8; 16];
    if mem.read(at, &mut b).is_none() {
        return err(format!("descriptor at {at:#x} is not in guest RAM"));
    }
    let u = |r: std::ops::Range<usize>| b[r].iter().rev().fold(0u64, |v, &x| v << 8 | x as u64);
    Ok(Desc {
        addr: u(0..8),
        len: u(8..12) as u32,
        flags: u(12..14) as u16,
        next: u(14..16) as u16,
    })
}

/// Adds one direct buffer to `chain`, checking order, placement and totals.
fn add_buffer(
    mem: &dyn Dma,
    d: &Desc,
    chain: &mut Chain,
    totals: &mut (u64, u64),
) -> Result<(), QueueError> {
    let write = d.flags & DESC_F_WRITE != 0;
    if !mem.check(d.addr, d.len, write) {
        let how = if write { "writable " } else { "" };
        return err(format!(
            "buffer {:#x}+{:#x} is not {how}guest RAM",
            d.addr, d.len
        ));
    }
    let buf = Buffer {
        addr: d.addr,
        len: d.len,
    };
    if write {
        totals.1 += d.len as u64;
        chain.writable.push(buf);
    } else {
        if !chain.writable.is_empty() {
            return err("a device-readable buffer after a device-writable one".into());
        }
        totals.0 += d.len as u64;
        chain.readable.push(buf);
    }
    if totals.0 > MAX_CHAIN_BYTES || totals.1 > MAX_CHAIN_BYTES {
        return err(format!("chain describes more than {MAX_CHAIN_BYTES} bytes"));
    }
    Ok(())
}

/// Adds the buffers of the indirect table described by `d` (2.7.5.3.1: a whole number of
/// descriptors, no nested tables, `next` inside the table, no loops).
fn walk_indirect(
    mem: &dyn Dma,
    d: &Desc,
    chain: &mut Chain,
    totals: &mut (u64, u64),
) -> Result<(), QueueError> {
    if d.len == 0 || d.len % 16 != 0 || d.len / 16 > MAX_INDIRECT {
        return err(format!(
            "indirect table of {} bytes (a non-zero multiple of 16, at most {MAX_INDIRECT} entries)",
            d.len
        ));
    }
    let count = d.len / 16;
    let (mut index, mut seen) = (0u32, 0u32);
    loop {
        seen += 1;
        if seen > count {
            return err(format!("indirect table at {:#x} loops", d.addr));
        }
        let e = read_desc(mem, d.addr + 16 * index as u64)?;
        if e.flags & DESC_F_INDIRECT != 0 {
            return err("an indirect table inside an indirect table".into());
        }
        add_buffer(mem, &e, chain, totals)?;
        if e.flags & DESC_F_NEXT == 0 {
            return Ok(());
        }
        if e.next as u32 >= count {
            return err(format!(
                "indirect descriptor {index}: next {} outside the table",
                e.next
            ));
        }
        index = e.next as u32;
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
