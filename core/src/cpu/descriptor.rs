//! Segment descriptors (SDM vol. 3A, 3.4.5 "Segment descriptors" and 5.8 "Gates"): decoding
//! the 8-byte entries of the GDT, LDT and IDT.

use super::state::{attr, Segment};

/// System-descriptor and gate types (the 4-bit type field with S = 0).
pub mod sys {
    /// 16-bit TSS, available.
    pub const TSS16_AVAILABLE: u8 = 1;
    /// LDT.
    pub const LDT: u8 = 2;
    /// 16-bit TSS, busy.
    pub const TSS16_BUSY: u8 = 3;
    /// 16-bit call gate.
    pub const CALL_GATE16: u8 = 4;
    /// Task gate.
    pub const TASK_GATE: u8 = 5;
    /// 16-bit interrupt gate.
    pub const INT_GATE16: u8 = 6;
    /// 16-bit trap gate.
    pub const TRAP_GATE16: u8 = 7;
    /// 32-bit TSS, available.
    pub const TSS32_AVAILABLE: u8 = 9;
    /// 32-bit TSS, busy.
    pub const TSS32_BUSY: u8 = 11;
    /// 32-bit call gate.
    pub const CALL_GATE32: u8 = 12;
    /// 32-bit interrupt gate.
    pub const INT_GATE32: u8 = 14;
    /// 32-bit trap gate.
    pub const TRAP_GATE32: u8 = 15;
}

/// A raw descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Descriptor(pub u64);

impl Descriptor {
    /// Base address (segment descriptors).
    pub fn base(self) -> u32 {
        let d = self.0;
        (((d >> 16) & 0xFF_FFFF) | ((d >> 32) & 0xFF00_0000)) as u32
    }

    /// Limit in bytes (scaled by G).
    pub fn limit(self) -> u32 {
        let d = self.0;
        let raw = ((d & 0xFFFF) | ((d >> 32) & 0xF_0000)) as u32;
        if self.attr() & attr::G != 0 {
            (raw << 12) | 0xFFF
        } else {
            raw
        }
    }

    /// The attribute bits in the layout of [`Segment::attr`].
    pub fn attr(self) -> u16 {
        ((self.0 >> 40) & 0xF0FF) as u16
    }

    /// The 4-bit type field.
    pub fn typ(self) -> u8 {
        ((self.0 >> 40) & 0xF) as u8
    }

    /// S: code/data (true) or system (false).
    pub fn is_code_or_data(self) -> bool {
        self.attr() & attr::S != 0
    }

    /// A code segment.
    pub fn is_code(self) -> bool {
        self.is_code_or_data() && self.typ() & 0x8 != 0
    }

    /// A conforming code segment.
    pub fn is_conforming(self) -> bool {
        self.is_code() && self.typ() & 0x4 != 0
    }

    /// Readable (code) or writable (data).
    pub fn rw(self) -> bool {
        self.typ() & 0x2 != 0
    }

    /// Descriptor privilege level.
    pub fn dpl(self) -> u8 {
        ((self.0 >> 45) & 3) as u8
    }

    /// Present.
    pub fn present(self) -> bool {
        self.0 & (1 << 47) != 0
    }

    /// Gate: target selector.
    pub fn gate_selector(self) -> u16 {
        (self.0 >> 16) as u16
    }

    /// Gate: target offset (the high half only for 32-bit gates).
    pub fn gate_offset(self) -> u32 {
        let low = (self.0 & 0xFFFF) as u32;
        if self.typ() & 0x8 != 0 {
            low | ((self.0 >> 32) as u32 & 0xFFFF_0000)
        } else {
            low
        }
    }

    /// Call gate: parameter count.
    pub fn gate_params(self) -> u32 {
        ((self.0 >> 32) & 0x1F) as u32
    }

    /// The segment-register cache for this descriptor and `selector`.
    pub fn to_segment(self, selector: u16) -> Segment {
        Segment {
            selector,
            base: self.base(),
            limit: self.limit(),
            attr: self.attr(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_code_descriptor() {
        // 0x00CF9A000000FFFF: base 0, limit 0xFFFFF pages, G, D, present, DPL 0, code
        // execute/read: the classic flat 4 GiB ring-0 code segment.
        let d = Descriptor(0x00CF_9A00_0000_FFFF);
        assert_eq!(d.base(), 0);
        assert_eq!(d.limit(), 0xFFFF_FFFF);
        assert!(d.is_code() && d.rw() && d.present() && !d.is_conforming());
        assert_eq!(d.dpl(), 0);
        assert!(d.to_segment(8).is_32());
    }

    #[test]
    fn gate_fields() {
        // 32-bit interrupt gate, DPL 3, selector 0x10, offset 0x12345678:
        // 0x1234_EE00_0010_5678
        let g = Descriptor(0x1234_EE00_0010_5678);
        assert_eq!(g.typ(), sys::INT_GATE32);
        assert_eq!(g.gate_selector(), 0x10);
        assert_eq!(g.gate_offset(), 0x1234_5678);
        assert_eq!(g.dpl(), 3);
        assert!(!g.is_code_or_data());
    }
}
