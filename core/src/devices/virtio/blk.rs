//! virtio-blk (Virtio 1.2, 5.2) on one of the machine's [`Disk`](super::disk::Disk)s: one
//! request queue; requests IN (read), OUT (write), FLUSH, GET_ID, DISCARD and WRITE_ZEROES,
//! completed synchronously when the driver notifies. A request is a 16-byte header
//! (type, reserved, sector), data buffers, and a final device-writable status byte.
//!
//! A request the device cannot carry out gets a status, not an error state: out-of-range
//! sectors or lengths that are not whole sectors give VIRTIO_BLK_S_IOERR, a write to a
//! read-only disk VIRTIO_BLK_S_IOERR, an unknown type VIRTIO_BLK_S_UNSUPP. A chain without
//! room for the header or the status byte is malformed (DEVICE_NEEDS_RESET).
//!
//! Left out: multiqueue, VIRTIO_BLK_F_CONFIG_WCE (the cache is always write-through:
//! FLUSH only counts), secure erase, zoned devices, geometry.

use super::disk::{Disk, SECTOR};
use super::queue::{Chain, QueueError};
use super::Cx;
use crate::memory::GuestMemory;

const F_SEG_MAX: u64 = 1 << 2;
const F_RO: u64 = 1 << 5;
const F_BLK_SIZE: u64 = 1 << 6;
const F_FLUSH: u64 = 1 << 9;
const F_DISCARD: u64 = 1 << 13;
const F_WRITE_ZEROES: u64 = 1 << 14;

const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
const T_GET_ID: u32 = 8;
const T_DISCARD: u32 = 11;
const T_WRITE_ZEROES: u32 = 13;

const S_OK: u8 = 0;
const S_IOERR: u8 = 1;
const S_UNSUPP: u8 = 2;

/// Segments per request the driver may use (`seg_max`).
const SEG_MAX: u32 = 126;
/// Most sectors one discard or write-zeroes segment may cover.
const MAX_ZERO_SECTORS: u32 = 1 << 16;
/// Most segments of one discard or write-zeroes request.
const MAX_ZERO_SEGMENTS: u32 = 16;
/// Bytes moved between the disk and guest memory at a time.
const STEP: usize = 64 << 10;

/// The device.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Blk {
    /// Index into the machine's disks.
    pub disk: u32,
    /// Capacity in 512-byte sectors.
    pub sectors: u64,
    /// Whether writes are refused (VIRTIO_BLK_F_RO).
    pub read_only: bool,
}

impl Blk {
    /// Features offered.
    pub fn features(&self) -> u64 {
        let ro = if self.read_only { F_RO } else { 0 };
        F_SEG_MAX | F_BLK_SIZE | F_FLUSH | F_DISCARD | F_WRITE_ZEROES | ro
    }

    /// struct virtio_blk_config up to write_zeroes_may_unmap.
    pub fn config_bytes(&self) -> Vec<u8> {
        let mut c = vec![0u8; 60];
        let mut put = |at: usize, v: &[u8]| c[at..at + v.len()].copy_from_slice(v);
        put(0, &self.sectors.to_le_bytes()); // capacity
        put(12, &SEG_MAX.to_le_bytes());
        put(20, &(SECTOR as u32).to_le_bytes()); // blk_size
        put(34, &1u16.to_le_bytes()); // num_queues
        put(36, &(MAX_ZERO_SECTORS).to_le_bytes()); // max_discard_sectors
        put(40, &MAX_ZERO_SEGMENTS.to_le_bytes()); // max_discard_seg
        put(44, &1u32.to_le_bytes()); // discard_sector_alignment
        put(48, &(MAX_ZERO_SECTORS).to_le_bytes()); // max_write_zeroes_sectors
        put(52, &MAX_ZERO_SEGMENTS.to_le_bytes()); // max_write_zeroes_seg
        put(56, &[1]); // write_zeroes_may_unmap
        c
    }

    /// Carries out every available request.
    pub fn process(&mut self, q: usize, cx: &mut Cx) -> Result<(), QueueError> {
        while let Some(chain) = cx.pop(q)? {
            let written = self.request(&chain, cx)?;
            cx.push(q, chain.head, written)?;
        }
        Ok(())
    }

    /// One request; returns the bytes written into the chain (data and status).
    fn request(&mut self, chain: &Chain, cx: &mut Cx) -> Result<u32, QueueError> {
        let mut header = [0u8; 16];
        if chain.read_at(cx.mem, 0, &mut header) < 16 {
            return Err(QueueError("block request without a 16-byte header".into()));
        }
        let writable = chain.writable_len();
        if writable == 0 {
            return Err(QueueError("block request without a status byte".into()));
        }
        let kind = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes"));
        let sector = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
        let disk = self.disk as usize;
        let Some(disk) = cx.disks.get_mut(disk) else {
            return Err(QueueError(format!("no disk {disk}")));
        };
        let data_in = writable - 1; // device-writable bytes before the status
        let data_out = chain.readable_len() - 16;
        let (status, data_written) = match kind {
            T_IN => match range(disk, sector, data_in) {
                Some(at) => (read_into(disk, at, data_in, chain, cx.mem), data_in),
                None => (S_IOERR, 0),
            },
            T_OUT if self.read_only => (S_IOERR, 0),
            T_OUT => match range(disk, sector, data_out) {
                Some(at) => (write_from(disk, at, data_out, chain, cx.mem), 0),
                None => (S_IOERR, 0),
            },
            T_FLUSH => {
                disk.flushes += 1;
                (S_OK, 0)
            }
            T_GET_ID => {
                let mut id = [0u8; 20];
                let name = format!("vx86-disk-{}", self.disk);
                id[..name.len()].copy_from_slice(name.as_bytes());
                let n = data_in.min(20);
                chain.write_at(cx.mem, 0, &id[..n as usize]);
                (S_OK, n)
            }
            T_DISCARD | T_WRITE_ZEROES if self.read_only => (S_IOERR, 0),
            T_DISCARD | T_WRITE_ZEROES => (zero_segments(disk, chain, cx.mem, data_out), 0),
            _ => (S_UNSUPP, 0),
        };
        chain.write_at(cx.mem, writable - 1, &[status]);
        Ok(data_written as u32 + 1)
    }
}

/// The byte offset of `len` bytes at `sector`, if they are whole sectors inside the disk.
fn range(disk: &Disk, sector: u64, len: u64) -> Option<u64> {
    let at = sector.checked_mul(SECTOR)?;
    (len % SECTOR == 0 && disk.contains(at, len)).then_some(at)
}

fn read_into(disk: &Disk, at: u64, len: u64, chain: &Chain, mem: &mut GuestMemory) -> u8 {
    let mut buf = vec![0u8; STEP.min(len as usize)];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(STEP as u64) as usize;
        disk.read(at + done, &mut buf[..n]);
        if chain.write_at(mem, done, &buf[..n]) < n {
            return S_IOERR;
        }
        done += n as u64;
    }
    S_OK
}

fn write_from(disk: &mut Disk, at: u64, len: u64, chain: &Chain, mem: &mut GuestMemory) -> u8 {
    let mut buf = vec![0u8; STEP.min(len as usize)];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(STEP as u64) as usize;
        if chain.read_at(mem, 16 + done, &mut buf[..n]) < n {
            return S_IOERR;
        }
        disk.write(at + done, &buf[..n]);
        done += n as u64;
    }
    S_OK
}

/// DISCARD and WRITE_ZEROES: segments of (sector u64, num_sectors u32, flags u32), all
/// checked before any is applied.
fn zero_segments(disk: &mut Disk, chain: &Chain, mem: &mut GuestMemory, len: u64) -> u8 {
    if len == 0 || len % 16 != 0 || len / 16 > MAX_ZERO_SEGMENTS as u64 {
        return S_IOERR;
    }
    let mut ranges = Vec::new();
    for i in 0..len / 16 {
        let mut seg = [0u8; 16];
        if chain.read_at(mem, 16 + 16 * i, &mut seg) < 16 {
            return S_IOERR;
        }
        let sector = u64::from_le_bytes(seg[0..8].try_into().expect("8 bytes"));
        let count = u32::from_le_bytes(seg[8..12].try_into().expect("4 bytes"));
        let flags = u32::from_le_bytes(seg[12..16].try_into().expect("4 bytes"));
        if count > MAX_ZERO_SECTORS || flags & !1 != 0 {
            return S_UNSUPP;
        }
        match range(disk, sector, count as u64 * SECTOR) {
            Some(at) => ranges.push((at, count as u64 * SECTOR)),
            None => return S_IOERR,
        }
    }
    for (at, n) in ranges {
        disk.zero(at, n);
    }
    S_OK
}
