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

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// One element of `v`.
    pub fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len() as u64) as usize]
    }

    /// An IEEE binary value with `exp_bits` exponent and `frac_bits` fraction bits, biased
    /// towards the special encodings: zeros, denormals, infinities, quiet and signalling
    /// NaNs, the largest and smallest normals, values near 1.
    pub fn ieee(&mut self, exp_bits: u32, frac_bits: u32) -> u64 {
        let exp_max = (1u64 << exp_bits) - 1;
        let frac_mask = (1u64 << frac_bits) - 1;
        let bias = exp_max / 2;
        let sign = self.below(2) << (exp_bits + frac_bits);
        let frac = match self.below(4) {
            0 => 0,
            1 => 1 << (frac_bits - 1),
            2 => frac_mask,
            _ => self.next_u64() & frac_mask,
        };
        let exp = match self.below(10) {
            0 => 0,       // zero / denormal
            1 => exp_max, // infinity / NaN
            2 => self.pick(&[1, 2, exp_max - 1, exp_max - 2]),
            3..=5 => bias - 3 + self.below(7), // near 1
            _ => self.below(exp_max + 1),
        };
        sign | exp << frac_bits | frac
    }

    /// A `bits`-wide integer biased towards 0, ±1, the extremes and small values.
    pub fn int_edge(&mut self, bits: u32) -> u64 {
        let max = (1u64 << (bits - 1)) - 1;
        let v = match self.below(6) {
            0 => self.pick(&[0, 1, u64::MAX, max, !max]),
            1..=3 => self.below(2000).wrapping_sub(1000),
            _ => self.next_u64(),
        };
        v & (u64::MAX >> (64 - bits))
    }
}
