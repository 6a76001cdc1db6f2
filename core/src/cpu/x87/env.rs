//! Memory images of the x87 (and SSE) state (SDM vol. 1, 8.1.10 "Saving the x87 FPU's state
//! with FSTENV/FNSTENV and FSAVE/FNSAVE", figures 8-9..8-12; vol. 2 "FXSAVE", table 3-53):
//! the 14/28-byte environment, the 94/108-byte FSAVE image and the 512-byte FXSAVE area.
//! These are pure conversions between [`FpuState`] and bytes; the instruction handlers move the
//! bytes to and from guest memory.

use super::{FpuState, F80};

/// Environment size for an operand size: 14 bytes (16-bit) or 28 bytes (32-bit).
pub fn env_size(op32: bool) -> usize {
    if op32 {
        28
    } else {
        14
    }
}

/// The environment image. `protected` selects the protected-mode layout (selectors and
/// offsets) over the real-mode one (20-bit linear pointers with the opcode).
pub fn store_env(f: &FpuState, protected: bool, op32: bool) -> Vec<u8> {
    let mut v = Vec::with_capacity(28);
    let mut put = |x: u32, wide: bool| {
        if wide {
            v.extend_from_slice(&x.to_le_bytes());
        } else {
            v.extend_from_slice(&(x as u16).to_le_bytes());
        }
    };
    // Reserved upper halves of the 32-bit format read as 0xFFFF on Intel processors.
    let word = |w: u16| {
        if op32 {
            0xFFFF_0000 | w as u32
        } else {
            w as u32
        }
    };
    put(word(f.fcw), op32);
    put(word(f.fsw), op32);
    put(word(f.ftw), op32);
    if protected {
        put(f.fip, op32);
        put(
            if op32 {
                (f.fcs as u32) | (f.fop as u32 & 0x7FF) << 16
            } else {
                f.fcs as u32
            },
            op32,
        );
        put(f.fdp, op32);
        put(word(f.fds), op32);
    } else {
        // real mode: the pointers are linear (segment × 16 + offset), 20 bits
        let ip = ((f.fcs as u32) << 4).wrapping_add(f.fip);
        let dp = ((f.fds as u32) << 4).wrapping_add(f.fdp);
        if op32 {
            put(0xFFFF_0000 | (ip & 0xFFFF), true);
            put((ip & 0xFFFF_0000) >> 4 | (f.fop as u32 & 0x7FF), true);
            put(0xFFFF_0000 | (dp & 0xFFFF), true);
            put((dp & 0xFFFF_0000) >> 4, true);
        } else {
            put(ip & 0xFFFF, false);
            put((ip >> 16) << 12 | (f.fop as u32 & 0x7FF), false);
            put(dp & 0xFFFF, false);
            put((dp >> 16) << 12, false);
        }
    }
    v
}

/// Loads an environment image (the inverse of [`store_env`]).
pub fn load_env(f: &mut FpuState, b: &[u8], protected: bool, op32: bool) {
    let get = |i: usize| -> u32 {
        if op32 {
            u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
        } else {
            u16::from_le_bytes([b[2 * i], b[2 * i + 1]]) as u32
        }
    };
    f.fcw = get(0) as u16;
    f.fsw = get(1) as u16;
    f.ftw = get(2) as u16;
    if protected {
        f.fip = get(3);
        f.fcs = get(4) as u16;
        if op32 {
            f.fop = (get(4) >> 16) as u16 & 0x7FF;
        }
        f.fdp = get(5);
        f.fds = get(6) as u16;
    } else {
        let (ip_lo, ip_hi_op, dp_lo, dp_hi) = (get(3), get(4), get(5), get(6));
        let shift = if op32 { 4 } else { 12 };
        let high_mask = if op32 { 0x0FFF_F000 } else { 0xF000 };
        f.fip = (ip_lo & 0xFFFF)
            | (if op32 {
                (ip_hi_op & high_mask) << shift
            } else {
                ((ip_hi_op & high_mask) >> shift) << 16
            });
        f.fop = ip_hi_op as u16 & 0x7FF;
        f.fdp = (dp_lo & 0xFFFF)
            | (if op32 {
                (dp_hi & high_mask) << shift
            } else {
                ((dp_hi & high_mask) >> shift) << 16
            });
        f.fcs = 0;
        f.fds = 0;
    }
    f.update_summary();
}

/// FSAVE image: the environment then ST(0)..ST(7), 10 bytes each.
pub fn store_fsave(f: &FpuState, protected: bool, op32: bool) -> Vec<u8> {
    let mut v = store_env(f, protected, op32);
    for i in 0..8 {
        v.extend_from_slice(&f.st(i).to_bytes());
    }
    v
}

/// FRSTOR: loads the image written by [`store_fsave`].
pub fn load_fsave(f: &mut FpuState, b: &[u8], protected: bool, op32: bool) {
    let n = env_size(op32);
    load_env(f, &b[..n], protected, op32);
    for i in 0..8 {
        let mut r = [0u8; 10];
        r.copy_from_slice(&b[n + 10 * i..n + 10 * i + 10]);
        let p = f.phys(i);
        f.regs[p] = F80::from_bytes(r);
    }
}

/// Size of the FXSAVE area.
pub const FXSAVE_SIZE: usize = 512;

/// Bits of MXCSR that can be set (the MXCSR_MASK reported in the FXSAVE area), DAZ included.
pub const MXCSR_MASK: u32 = 0xFFFF;

/// The 512-byte FXSAVE area (32-bit format) from the x87 state, MXCSR and XMM0-7.
pub fn store_fxsave(f: &FpuState, mxcsr: u32, xmm: &[u128; 8]) -> [u8; FXSAVE_SIZE] {
    let mut a = [0u8; FXSAVE_SIZE];
    a[0..2].copy_from_slice(&f.fcw.to_le_bytes());
    a[2..4].copy_from_slice(&f.fsw.to_le_bytes());
    a[4] = f.abridged_tags();
    a[6..8].copy_from_slice(&(f.fop & 0x7FF).to_le_bytes());
    a[8..12].copy_from_slice(&f.fip.to_le_bytes());
    a[12..14].copy_from_slice(&f.fcs.to_le_bytes());
    a[16..20].copy_from_slice(&f.fdp.to_le_bytes());
    a[20..22].copy_from_slice(&f.fds.to_le_bytes());
    a[24..28].copy_from_slice(&mxcsr.to_le_bytes());
    a[28..32].copy_from_slice(&MXCSR_MASK.to_le_bytes());
    for i in 0..8 {
        a[32 + 16 * i..42 + 16 * i].copy_from_slice(&f.st(i).to_bytes());
    }
    for (i, x) in xmm.iter().enumerate() {
        a[160 + 16 * i..176 + 16 * i].copy_from_slice(&x.to_le_bytes());
    }
    a
}

/// FXRSTOR: returns the MXCSR to load (the caller checks its reserved bits) after loading the
/// x87 state and XMM registers from the area.
pub fn load_fxsave(f: &mut FpuState, xmm: &mut [u128; 8], a: &[u8; FXSAVE_SIZE]) -> u32 {
    let w = |o: usize| u16::from_le_bytes([a[o], a[o + 1]]);
    let d = |o: usize| u32::from_le_bytes([a[o], a[o + 1], a[o + 2], a[o + 3]]);
    f.fcw = w(0);
    f.fsw = w(2);
    f.fop = w(6) & 0x7FF;
    f.fip = d(8);
    f.fcs = w(12);
    f.fdp = d(16);
    f.fds = w(20);
    for i in 0..8 {
        let mut r = [0u8; 10];
        r.copy_from_slice(&a[32 + 16 * i..42 + 16 * i]);
        let p = f.phys(i);
        f.regs[p] = F80::from_bytes(r);
    }
    f.set_abridged_tags(a[4]);
    f.update_summary();
    for (i, x) in xmm.iter_mut().enumerate() {
        let mut b = [0u8; 16];
        b.copy_from_slice(&a[160 + 16 * i..176 + 16 * i]);
        *x = u128::from_le_bytes(b);
    }
    d(24)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FpuState {
        let mut f = FpuState::default();
        f.push(F80 {
            signif: 0x8000_0000_0000_0001,
            sign_exp: 0x4000,
        });
        f.push(F80::ZERO);
        f.fcw = 0x027F;
        f.fip = 0x1234_5678;
        f.fcs = 0x08;
        f.fop = 0x5E9;
        f.fdp = 0x9ABC_DEF0;
        f.fds = 0x10;
        f
    }

    #[test]
    fn protected_env_round_trips_and_has_the_sdm_layout() {
        let f = sample();
        let b = store_env(&f, true, true);
        assert_eq!(b.len(), 28);
        // FCW in the low word of the first dword, reserved upper half 0xFFFF
        assert_eq!(&b[0..4], &[0x7F, 0x02, 0xFF, 0xFF]);
        // FTW: R6 zero (01), R7 valid (00), others empty (11) → 0b0001_1111_1111_1111 = 0x1FFF
        assert_eq!(u16::from_le_bytes([b[8], b[9]]), 0x1FFF);
        // FCS selector and FOP (bits 16-26) share the fifth dword
        assert_eq!(
            u32::from_le_bytes([b[16], b[17], b[18], b[19]]),
            0x05E9_0008
        );
        let mut g = FpuState::default();
        load_env(&mut g, &b, true, true);
        assert_eq!(
            (g.fcw, g.fsw, g.ftw, g.fip, g.fcs, g.fop, g.fdp, g.fds),
            (f.fcw, f.fsw, f.ftw, f.fip, f.fcs, f.fop, f.fdp, f.fds)
        );
    }

    #[test]
    fn fsave_and_fxsave_round_trip() {
        let f = sample();
        let b = store_fsave(&f, true, true);
        assert_eq!(b.len(), 108);
        let mut g = FpuState::default();
        g.fsw = f.fsw; // TOP must match before the registers are placed
        load_fsave(&mut g, &b, true, true);
        assert_eq!(g, f);
        let xmm = [7u128 << 100; 8];
        let a = store_fxsave(&f, 0x1F80, &xmm);
        // abridged tag byte: R6 and R7 in use → 0xC0
        assert_eq!(a[4], 0xC0);
        let mut h = FpuState::default();
        let mut x2 = [0u128; 8];
        h.fsw = f.fsw;
        assert_eq!(load_fxsave(&mut h, &mut x2, &a), 0x1F80);
        assert_eq!(h, f);
        assert_eq!(x2, xmm);
    }
}
