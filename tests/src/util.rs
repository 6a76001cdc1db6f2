//! Small helpers shared by the cross-crate tests: descriptor encodings and 32-bit guest memory
//! access.

use vx86_core::Machine;

/// A segment descriptor (SDM vol. 3A, figure 3-8): `access` is byte 5 (P, DPL, S, type),
/// `flags` the high nibble of byte 6 (G, D/B, L, AVL).
pub fn descriptor(base: u32, limit: u32, access: u8, flags: u8) -> u64 {
    (limit as u64 & 0xFFFF)
        | (base as u64 & 0xFF_FFFF) << 16
        | (access as u64) << 40
        | ((limit as u64 >> 16) & 0xF) << 48
        | (flags as u64 & 0xF) << 52
        | ((base as u64 >> 24) & 0xFF) << 56
}

/// A present gate descriptor (SDM vol. 3A, figure 6-2): `typ` 0xE interrupt, 0xF trap,
/// 0xC call gate, 0x5 task gate.
pub fn gate(selector: u16, offset: u32, typ: u8, dpl: u8) -> u64 {
    (offset as u64 & 0xFFFF)
        | (selector as u64) << 16
        | ((0x80 | dpl << 5 | typ) as u64) << 40
        | (offset as u64 >> 16) << 48
}

/// Writes a little-endian dword to guest physical memory.
pub fn w32(m: &mut Machine, addr: u32, v: u32) {
    m.write_phys(addr as u64, &v.to_le_bytes())
        .expect("address inside RAM");
}

/// Reads a little-endian dword from guest physical memory.
pub fn r32(m: &Machine, addr: u32) -> u32 {
    let mut b = [0u8; 4];
    m.read_phys(addr as u64, &mut b)
        .expect("address inside RAM");
    u32::from_le_bytes(b)
}

/// xorshift64: a fixed, seedable generator for randomized tests (no host entropy).
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
