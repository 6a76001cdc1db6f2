//! A sorted map of non-overlapping address ranges to device ids, used by the port-I/O bus and
//! the MMIO bus. Lookups are a binary search; the order of iteration is the address order, so
//! nothing here depends on hashing.

use crate::devices::DeviceId;

/// One mapped range `[start, start + len)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    /// First address.
    pub start: u64,
    /// Length in addresses (ports or bytes), > 0.
    pub len: u64,
    /// Device that owns the range.
    pub device: DeviceId,
}

/// Non-overlapping ranges sorted by start address.
#[derive(Debug, Clone, Default)]
pub struct RangeMap {
    ranges: Vec<Mapping>,
}

impl RangeMap {
    /// Adds `[start, start+len)` for `device`; fails when empty or overlapping.
    pub fn insert(&mut self, start: u64, len: u64, device: DeviceId) -> Result<(), crate::VmError> {
        let what = || format!("{start:#x}+{len:#x}");
        let end = start
            .checked_add(len)
            .filter(|_| len > 0)
            .ok_or_else(|| crate::VmError::Config(format!("empty or wrapping range {}", what())))?;
        let pos = self.ranges.partition_point(|m| m.start < start);
        let overlaps_prev =
            pos > 0 && self.ranges[pos - 1].start + self.ranges[pos - 1].len > start;
        let overlaps_next = pos < self.ranges.len() && self.ranges[pos].start < end;
        if overlaps_prev || overlaps_next {
            return Err(crate::VmError::Overlap { what: what() });
        }
        self.ranges.insert(pos, Mapping { start, len, device });
        Ok(())
    }

    /// The mapping containing `addr`, if any.
    #[inline]
    pub fn find(&self, addr: u64) -> Option<&Mapping> {
        let pos = self.ranges.partition_point(|m| m.start <= addr);
        let m = self.ranges.get(pos.checked_sub(1)?)?;
        (addr - m.start < m.len).then_some(m)
    }

    /// Removes every range of `device`.
    pub fn remove_device(&mut self, device: DeviceId) {
        self.ranges.retain(|m| m.device != device);
    }

    /// All mappings in address order.
    pub fn iter(&self) -> impl Iterator<Item = &Mapping> {
        self.ranges.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_rejects_overlaps() {
        let mut m = RangeMap::default();
        m.insert(0x3f8, 8, DeviceId(1)).unwrap();
        m.insert(0x60, 1, DeviceId(2)).unwrap();
        m.insert(0x64, 1, DeviceId(3)).unwrap();
        assert_eq!(m.find(0x3fa).unwrap().device, DeviceId(1));
        assert_eq!(m.find(0x3ff).unwrap().device, DeviceId(1));
        assert!(m.find(0x400).is_none());
        assert!(m.find(0x61).is_none());
        assert!(m.find(0).is_none());
        assert!(m.insert(0x3f0, 9, DeviceId(4)).is_err());
        assert!(m.insert(0x3ff, 1, DeviceId(4)).is_err());
        assert!(m.insert(0x400, 0, DeviceId(4)).is_err());
        m.insert(0x3f0, 8, DeviceId(4)).unwrap();
        let starts: Vec<u64> = m.iter().map(|r| r.start).collect();
        assert_eq!(starts, vec![0x60, 0x64, 0x3f0, 0x3f8]);
    }
}
