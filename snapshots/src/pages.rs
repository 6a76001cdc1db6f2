//! RAM in a snapshot: the pages that carry content, 4 KiB each. All integers little-endian.
//!
//! | size | field |
//! |---|---|
//! | 8 | RAM size in bytes (a multiple of 4 KiB) |
//! | 4 | `n`: pages stored with their bytes |
//! | 4 | `z`: pages stored as zero (incremental snapshots only: dirtied pages that are now zero) |
//! | 4·n | page numbers of the stored pages, strictly ascending |
//! | 4·z | page numbers of the zeroed pages, strictly ascending, disjoint from the stored ones |
//! | 4096·n | the stored pages' bytes, in page-number order |
//!
//! A full snapshot stores every non-zero page and no zeroed ones; pages it does not list are
//! zero. An incremental snapshot lists every page written since its base; pages it does not
//! list are as in the base.

use crate::{FormatError, Reader};

/// Bytes in a page.
pub const PAGE_SIZE: usize = 4096;

/// Encodes `ram` as a page set: `stored` pages with their bytes, `zeroed` pages by number.
/// Both lists must be ascending page numbers inside `ram` (the caller's invariant).
pub fn encode(ram: &[u8], stored: &[u32], zeroed: &[u32]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(16 + 4 * (stored.len() + zeroed.len()) + PAGE_SIZE * stored.len());
    out.extend_from_slice(&(ram.len() as u64).to_le_bytes());
    out.extend_from_slice(&(stored.len() as u32).to_le_bytes());
    out.extend_from_slice(&(zeroed.len() as u32).to_le_bytes());
    for p in stored.iter().chain(zeroed) {
        out.extend_from_slice(&p.to_le_bytes());
    }
    for &p in stored {
        let start = p as usize * PAGE_SIZE;
        out.extend_from_slice(&ram[start..start + PAGE_SIZE]);
    }
    out
}

/// The non-zero pages of `ram` (a full snapshot's `stored` list).
pub fn non_zero_pages(ram: &[u8]) -> Vec<u32> {
    ram.chunks(PAGE_SIZE)
        .enumerate()
        .filter(|(_, page)| page.iter().any(|&b| b != 0))
        .map(|(i, _)| i as u32)
        .collect()
}

/// A decoded, validated page set borrowing the snapshot's bytes.
#[derive(Debug)]
pub struct PageSet<'a> {
    /// RAM size in bytes.
    pub ram_size: u64,
    /// Page numbers stored with bytes.
    pub stored: Vec<u32>,
    /// Page numbers that are zero.
    pub zeroed: Vec<u32>,
    data: &'a [u8],
}

impl<'a> PageSet<'a> {
    /// Decodes and validates: sizes consistent with the bytes present, page numbers inside
    /// RAM, strictly ascending, the two lists disjoint.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let ram_size = r.u64("RAM size")?;
        if ram_size == 0 || ram_size % PAGE_SIZE as u64 != 0 {
            return Err(malformed(format!(
                "RAM size {ram_size:#x} is not a non-zero multiple of 4 KiB"
            )));
        }
        let pages = ram_size / PAGE_SIZE as u64;
        let n = r.u32("stored page count")? as u64;
        let z = r.u32("zeroed page count")? as u64;
        if n + z > pages {
            return Err(malformed(format!(
                "{n} stored and {z} zeroed pages in a RAM of {pages} pages"
            )));
        }
        let need = 4 * (n + z) + PAGE_SIZE as u64 * n;
        if need != r.remaining() as u64 {
            return Err(malformed(format!(
                "{n} stored and {z} zeroed pages need {need} bytes, the section has {}",
                r.remaining()
            )));
        }
        let mut list = |count: u64, what: &'static str| -> Result<Vec<u32>, FormatError> {
            let raw = r.take(4 * count, what)?;
            let v: Vec<u32> = raw
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            if let Some(w) = v.windows(2).find(|w| w[0] >= w[1]) {
                return Err(malformed(format!(
                    "{what} not strictly ascending ({} then {})",
                    w[0], w[1]
                )));
            }
            if let Some(&last) = v.last() {
                if last as u64 >= pages {
                    return Err(malformed(format!(
                        "{what}: page {last} is outside a RAM of {pages} pages"
                    )));
                }
            }
            Ok(v)
        };
        let stored = list(n, "stored page numbers")?;
        let zeroed = list(z, "zeroed page numbers")?;
        if let Some(p) = first_common(&stored, &zeroed) {
            return Err(malformed(format!("page {p} is both stored and zeroed")));
        }
        let data = r.take(PAGE_SIZE as u64 * n, "page bytes")?;
        Ok(Self {
            ram_size,
            stored,
            zeroed,
            data,
        })
    }

    /// The stored pages with their bytes.
    pub fn stored_pages(&self) -> impl Iterator<Item = (u32, &'a [u8])> + '_ {
        self.stored
            .iter()
            .copied()
            .zip(self.data.chunks_exact(PAGE_SIZE))
    }
}

/// The first element two ascending lists share.
fn first_common(a: &[u32], b: &[u32]) -> Option<u32> {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return Some(a[i]),
        }
    }
    None
}

fn malformed(detail: String) -> FormatError {
    FormatError::Malformed {
        what: "RAM pages",
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_only_non_zero_pages() {
        let mut ram = vec![0u8; 8 * PAGE_SIZE];
        ram[PAGE_SIZE + 5] = 1;
        ram[7 * PAGE_SIZE] = 2;
        let stored = non_zero_pages(&ram);
        assert_eq!(stored, vec![1, 7]);
        let bytes = encode(&ram, &stored, &[3]);
        assert_eq!(bytes.len(), 16 + 12 + 2 * PAGE_SIZE);
        let set = PageSet::decode(&bytes).unwrap();
        assert_eq!(set.ram_size, ram.len() as u64);
        assert_eq!(set.zeroed, vec![3]);
        let pages: Vec<_> = set.stored_pages().collect();
        assert_eq!(pages[0].0, 1);
        assert_eq!(pages[0].1[5], 1);
        assert_eq!(pages[1], (7, &ram[7 * PAGE_SIZE..]));
    }

    #[test]
    fn malformed_page_sets_are_refused_with_a_reason() {
        let ram = vec![1u8; 4 * PAGE_SIZE];
        let good = encode(&ram, &[0, 2], &[1]);
        let check = |bytes: &[u8], expect: &str| {
            let e = PageSet::decode(bytes).unwrap_err().to_string();
            assert!(e.contains(expect), "{e} (expected {expect})");
        };
        let mut b = good.clone();
        b[16..20].copy_from_slice(&2u32.to_le_bytes()); // 2, 2: not ascending
        check(&b, "not strictly ascending");
        let mut b = good.clone();
        b[20..24].copy_from_slice(&9u32.to_le_bytes()); // page 9 of 4
        check(&b, "outside a RAM of 4 pages");
        let mut b = good.clone();
        b[24..28].copy_from_slice(&0u32.to_le_bytes()); // zeroed 0 is also stored
        check(&b, "both stored and zeroed");
        let mut b = good.clone();
        b[8..12].copy_from_slice(&u32::MAX.to_le_bytes()); // huge count, no allocation
        check(&b, "in a RAM of 4 pages");
        check(&good[..good.len() - 1], "need");
        let mut b = good.clone();
        b[0..8].copy_from_slice(&4095u64.to_le_bytes());
        check(&b, "multiple of 4 KiB");
    }
}
