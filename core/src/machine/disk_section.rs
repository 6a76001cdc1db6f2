//! The `DISK` snapshot section: for each virtio disk its size, the SHA-256 of its base image,
//! the guest's flush count and the overlay (chunks the guest wrote). All integers
//! little-endian:
//!
//! | size | field |
//! |---|---|
//! | 4 | disk count |
//! | per disk: 8 | size in bytes |
//! | 32 | base image SHA-256 |
//! | 8 | flush count |
//! | 8 | chunk count |
//! | per chunk: 8 | chunk index (ascending) |
//! | n | the chunk's bytes (4096, or what is left of the disk for the last chunk) |
//!
//! Decoding treats the bytes as untrusted: counts are checked against the bytes present
//! before anything is allocated, indices must ascend and lie inside the disk.

use crate::devices::virtio::disk::{Disk, CHUNK};
use crate::VmError;

fn bad(msg: String) -> VmError {
    VmError::Snapshot(format!("DISK: {msg}"))
}

/// Encodes the disks.
pub(super) fn encode(disks: &[Disk]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(disks.len() as u32).to_le_bytes());
    for d in disks {
        out.extend_from_slice(&d.len().to_le_bytes());
        out.extend_from_slice(&d.base().sha256());
        out.extend_from_slice(&d.flushes.to_le_bytes());
        out.extend_from_slice(&(d.overlay_chunks() as u64).to_le_bytes());
        for (index, bytes) in d.overlay() {
            out.extend_from_slice(&index.to_le_bytes());
            out.extend_from_slice(bytes);
        }
    }
    out
}

/// A disk's overlay as decoded: (chunk index, bytes) pairs and the flush count.
pub(super) type DecodedDisk = (Vec<(u64, Vec<u8>)>, u64);

/// Decodes and validates the section against the machine's `disks` (same count, sizes and
/// base hashes).
pub(super) fn decode(bytes: &[u8], disks: &[Disk]) -> Result<Vec<DecodedDisk>, VmError> {
    let mut at = 0usize;
    let mut take = |n: usize, what: &str| -> Result<&[u8], VmError> {
        let end = at.checked_add(n).filter(|&e| e <= bytes.len());
        let Some(end) = end else {
            return Err(bad(format!("truncated in {what}")));
        };
        let s = &bytes[at..end];
        at = end;
        Ok(s)
    };
    let u64_of = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
    let count = u32::from_le_bytes(take(4, "disk count")?.try_into().expect("4 bytes"));
    if count as usize != disks.len() {
        return Err(bad(format!(
            "{count} disks, the configuration has {}",
            disks.len()
        )));
    }
    let mut out = Vec::with_capacity(disks.len());
    for (i, disk) in disks.iter().enumerate() {
        let size = u64_of(take(8, "disk size")?);
        let sha: [u8; 32] = take(32, "base hash")?.try_into().expect("32 bytes");
        if size != disk.len() || sha != disk.base().sha256() {
            return Err(bad(format!("disk {i} is not the configured image")));
        }
        let flushes = u64_of(take(8, "flush count")?);
        let chunks = u64_of(take(8, "chunk count")?);
        if chunks > disk.chunk_count() {
            return Err(bad(format!(
                "disk {i}: {chunks} chunks, it has {}",
                disk.chunk_count()
            )));
        }
        let mut overlay = Vec::new();
        let mut last: Option<u64> = None;
        for _ in 0..chunks {
            let index = u64_of(take(8, "chunk index")?);
            if index >= disk.chunk_count() || last.is_some_and(|l| index <= l) {
                return Err(bad(format!(
                    "disk {i}: chunk {index} out of order or outside the disk"
                )));
            }
            last = Some(index);
            let data = take(disk.expected_chunk_len(index), "chunk bytes")?;
            debug_assert!(data.len() <= CHUNK);
            overlay.push((index, data.to_vec()));
        }
        out.push((overlay, flushes));
    }
    if at != bytes.len() {
        return Err(bad(format!(
            "{} bytes after the last disk",
            bytes.len() - at
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::virtio::disk::DiskImage;

    fn disk() -> Disk {
        let mut d = Disk::new(DiskImage::new(vec![3; 3 * 4096 + 1024]).unwrap());
        d.write(5000, &[1, 2, 3]);
        d.write(3 * 4096 + 10, &[4]);
        d.flushes = 7;
        d
    }

    #[test]
    fn round_trip_and_every_truncation_fails() {
        let d = disk();
        let bytes = encode(std::slice::from_ref(&d));
        let back = decode(&bytes, std::slice::from_ref(&d)).unwrap();
        assert_eq!(back[0].1, 7);
        let chunks: Vec<u64> = back[0].0.iter().map(|c| c.0).collect();
        assert_eq!(chunks, vec![1, 3]);
        assert_eq!(back[0].0[1].1.len(), 1024, "the short last chunk");
        for n in 0..bytes.len() {
            assert!(
                decode(&bytes[..n], std::slice::from_ref(&d)).is_err(),
                "truncated to {n}"
            );
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(decode(&extra, std::slice::from_ref(&d)).is_err());
    }

    #[test]
    fn wrong_image_bad_indices_and_huge_counts_are_refused() {
        let d = disk();
        let bytes = encode(std::slice::from_ref(&d));
        let other = Disk::new(DiskImage::new(vec![4; 3 * 4096 + 1024]).unwrap());
        let e = decode(&bytes, &[other]).unwrap_err().to_string();
        assert!(e.contains("not the configured image"), "{e}");
        // chunk count (after count 4 + size 8 + hash 32 + flushes 8)
        let mut b = bytes.clone();
        b[52..60].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode(&b, std::slice::from_ref(&d)).is_err());
        // second chunk index equal to the first
        let second = 60 + 8 + 4096;
        let mut b = bytes;
        b[second..second + 8].copy_from_slice(&1u64.to_le_bytes());
        let e = decode(&b, std::slice::from_ref(&d))
            .unwrap_err()
            .to_string();
        assert!(e.contains("out of order"), "{e}");
        assert!(
            decode(&[0, 0, 0, 0], std::slice::from_ref(&d)).is_err(),
            "no disks"
        );
    }
}
