//! Disk media for virtio-blk: a read-only base image (shared, identified by its SHA-256)
//! plus an overlay of the 4 KiB chunks the guest wrote. The base is never modified: a
//! host that wants writes in its file (the CLI's `--disk FILE` without `,cow`) copies the
//! changed chunks out ([`Disk::take_unsynced`]). Snapshots and the state hash cover the base
//! by its hash and the overlay by content, so a snapshot of a 10 GiB disk holds only what the
//! guest wrote.
//!
//! Everything here is in memory (the core does no host I/O): a base image of N bytes costs N
//! bytes of host memory.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Bytes per overlay chunk.
pub const CHUNK: usize = 4096;
/// Bytes per sector (the unit of virtio-blk addresses).
pub const SECTOR: u64 = 512;

/// A disk image's bytes with their SHA-256 (computed once).
#[derive(Clone)]
pub struct DiskImage {
    bytes: Arc<Vec<u8>>,
    sha256: [u8; 32],
    name: String,
}

impl std::fmt::Debug for DiskImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskImage")
            .field("len", &self.bytes.len())
            .field("sha256", &vx86_snapshots::hex(&self.sha256))
            .finish()
    }
}

impl DiskImage {
    /// Takes `bytes` as a disk image: a non-empty whole number of 512-byte sectors.
    pub fn new(bytes: Vec<u8>) -> Result<Self, crate::VmError> {
        if bytes.is_empty() || bytes.len() as u64 % SECTOR != 0 {
            return Err(crate::VmError::Image(format!(
                "a disk image must be a non-empty whole number of 512-byte sectors, not {} bytes",
                bytes.len()
            )));
        }
        use sha2::Digest;
        let sha256 = sha2::Sha256::digest(&bytes).into();
        Ok(Self {
            bytes: Arc::new(bytes),
            sha256,
            name: String::new(),
        })
    }

    /// The same image with a name (where the host read it: a hint that replay logs carry).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The name given with [`DiskImage::with_name`] (empty if none).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Never true (an image has at least one sector).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// SHA-256 of the bytes.
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// A disk: base image, overlay, and host bookkeeping.
#[derive(Debug, Clone)]
pub struct Disk {
    base: DiskImage,
    /// Chunk index → the chunk's current bytes (the last chunk may be shorter).
    overlay: BTreeMap<u64, Arc<Vec<u8>>>,
    /// The guest asked for a cache flush this many times.
    pub flushes: u64,
    /// Chunks written since the host last took them (host bookkeeping, not machine state).
    unsynced: BTreeSet<u64>,
}

impl Disk {
    /// A disk over `base` with an empty overlay.
    pub fn new(base: DiskImage) -> Self {
        Self {
            base,
            overlay: BTreeMap::new(),
            flushes: 0,
            unsynced: BTreeSet::new(),
        }
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.base.len()
    }

    /// Never true.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The base image.
    pub fn base(&self) -> &DiskImage {
        &self.base
    }

    fn chunk_len(&self, index: u64) -> usize {
        (self.len() - index * CHUNK as u64).min(CHUNK as u64) as usize
    }

    fn chunk(&self, index: u64) -> &[u8] {
        match self.overlay.get(&index) {
            Some(c) => c,
            None => {
                let start = (index * CHUNK as u64) as usize;
                &self.base.bytes[start..start + self.chunk_len(index)]
            }
        }
    }

    /// Whether `[offset, offset+len)` lies inside the disk.
    pub fn contains(&self, offset: u64, len: u64) -> bool {
        offset.checked_add(len).is_some_and(|end| end <= self.len())
    }

    /// Reads `out.len()` bytes at `offset` (which must be inside the disk).
    pub fn read(&self, offset: u64, out: &mut [u8]) {
        let mut done = 0;
        while done < out.len() {
            let at = offset + done as u64;
            let (index, within) = (at / CHUNK as u64, (at % CHUNK as u64) as usize);
            let chunk = self.chunk(index);
            let n = (chunk.len() - within).min(out.len() - done);
            out[done..done + n].copy_from_slice(&chunk[within..within + n]);
            done += n;
        }
    }

    /// Writes `data` at `offset` (which must be inside the disk) into the overlay.
    pub fn write(&mut self, offset: u64, data: &[u8]) {
        let mut done = 0;
        while done < data.len() {
            let at = offset + done as u64;
            let (index, within) = (at / CHUNK as u64, (at % CHUNK as u64) as usize);
            let len = self.chunk_len(index);
            let n = (len - within).min(data.len() - done);
            if !self.overlay.contains_key(&index) {
                let copy = self.chunk(index).to_vec();
                self.overlay.insert(index, Arc::new(copy));
            }
            let chunk = Arc::make_mut(self.overlay.get_mut(&index).expect("inserted above"));
            chunk[within..within + n].copy_from_slice(&data[done..done + n]);
            self.unsynced.insert(index);
            done += n;
        }
    }

    /// Writes `len` zero bytes at `offset` (inside the disk).
    pub fn zero(&mut self, offset: u64, len: u64) {
        let zeros = [0u8; CHUNK];
        let mut done = 0u64;
        while done < len {
            let n = (len - done).min(CHUNK as u64);
            self.write(offset + done, &zeros[..n as usize]);
            done += n;
        }
    }

    /// The overlay: (chunk index, bytes) in ascending order.
    pub fn overlay(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.overlay.iter().map(|(&i, c)| (i, c.as_slice()))
    }

    /// Number of chunks in the overlay.
    pub fn overlay_chunks(&self) -> usize {
        self.overlay.len()
    }

    /// Replaces the overlay (restoring a snapshot); every chunk of the old and the new
    /// overlay becomes unsynced, so a write-through host rewrites what changed.
    pub fn set_overlay(&mut self, chunks: Vec<(u64, Vec<u8>)>, flushes: u64) {
        self.unsynced.extend(self.overlay.keys().copied());
        self.overlay = chunks.into_iter().map(|(i, b)| (i, Arc::new(b))).collect();
        self.unsynced.extend(self.overlay.keys().copied());
        self.flushes = flushes;
    }

    /// Makes this disk's content equal to `other`'s (a checkpoint of the same disk), keeping
    /// track of what a write-through host must rewrite.
    pub fn restore_from(&mut self, other: &Disk) {
        let mut unsynced = std::mem::take(&mut self.unsynced);
        unsynced.extend(self.overlay.keys().copied());
        unsynced.extend(other.overlay.keys().copied());
        *self = other.clone();
        self.unsynced = unsynced;
    }

    /// The chunks written since the last call, as (byte offset, bytes): what a host that
    /// keeps the image in a file writes back.
    pub fn take_unsynced(&mut self) -> Vec<(u64, Vec<u8>)> {
        std::mem::take(&mut self.unsynced)
            .into_iter()
            .map(|i| (i * CHUNK as u64, self.chunk(i).to_vec()))
            .collect()
    }

    /// The whole current content (base with the overlay applied).
    pub fn contents(&self) -> Vec<u8> {
        let mut v = self.base.bytes.to_vec();
        for (i, c) in &self.overlay {
            let at = (*i * CHUNK as u64) as usize;
            v[at..at + c.len()].copy_from_slice(c);
        }
        v
    }

    /// The valid chunk index range and lengths, for snapshot validation.
    pub fn chunk_count(&self) -> u64 {
        self.len().div_ceil(CHUNK as u64)
    }

    /// The length chunk `index` must have.
    pub fn expected_chunk_len(&self, index: u64) -> usize {
        self.chunk_len(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_go_to_the_overlay_and_read_back() {
        let base: Vec<u8> = (0..3 * 4096 + 512).map(|i| (i % 251) as u8).collect();
        let img = DiskImage::new(base.clone()).unwrap();
        let mut d = Disk::new(img.clone());
        d.write(4090, &[1; 20]); // straddles chunks 0 and 1
        let mut out = vec![0; 30];
        d.read(4085, &mut out);
        assert_eq!(&out[..5], &base[4085..4090]);
        assert_eq!(&out[5..25], &[1; 20]);
        assert_eq!(&out[25..], &base[4110..4115]);
        assert_eq!(d.overlay_chunks(), 2);
        assert_eq!(img.bytes(), &base[..], "the base is untouched");
        // the short last chunk
        d.write(3 * 4096 + 500, &[9; 12]);
        assert_eq!(d.expected_chunk_len(3), 512);
        let all = d.contents();
        assert_eq!(&all[3 * 4096 + 500..], &[9; 12]);
        let synced = d.take_unsynced();
        assert_eq!(
            synced.iter().map(|c| c.0).collect::<Vec<_>>(),
            vec![0, 4096, 3 * 4096]
        );
        assert!(d.take_unsynced().is_empty());
        d.zero(0, 4096);
        let mut z = vec![1; 4096];
        d.read(0, &mut z);
        assert!(z.iter().all(|&b| b == 0));
    }

    #[test]
    fn images_must_be_whole_sectors() {
        assert!(DiskImage::new(vec![]).is_err());
        assert!(DiskImage::new(vec![0; 513]).is_err());
        assert!(DiskImage::new(vec![0; 1024]).is_ok());
    }

    #[test]
    fn a_clone_shares_chunks_until_written() {
        let mut d = Disk::new(DiskImage::new(vec![0; 8192]).unwrap());
        d.write(0, &[7]);
        let copy = d.clone();
        d.write(0, &[8]);
        let (mut a, mut b) = ([0u8], [0u8]);
        d.read(0, &mut a);
        copy.read(0, &mut b);
        assert_eq!((a[0], b[0]), (8, 7));
        let mut back = d.clone();
        back.restore_from(&copy);
        back.read(0, &mut a);
        assert_eq!(a[0], 7);
    }
}
