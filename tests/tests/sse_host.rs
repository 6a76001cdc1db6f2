//! MMX/SSE2 integer instructions against the host CPU: each instruction runs on random
//! operands in a vx86 guest and, with the same operands, on this machine's processor through
//! inline assembly; the results must be identical. The host (an x86-64 CPU with SSE2) is the
//! reference. Only built on x86-64.
#![cfg(target_arch = "x86_64")]

use std::arch::asm;
use std::arch::x86_64::__m128i;

fn to_m(v: u128) -> __m128i {
    // SAFETY: both are 16 plain bytes.
    unsafe { std::mem::transmute(v) }
}

fn from_m(v: __m128i) -> u128 {
    // SAFETY: both are 16 plain bytes.
    unsafe { std::mem::transmute(v) }
}
use vx86_core::{ExitReason, Machine, MachineConfig};

/// The shared seeded generator with this test's helpers on top.
struct Rng(vx86_tests::util::Rng);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Random 128 bits biased towards lane edge values.
    fn v(&mut self) -> u128 {
        let edge = [
            0u64,
            1,
            0x7F7F_7F7F_7F7F_7F7F,
            0x8080_8080_8080_8080,
            u64::MAX,
            0x7FFF_8000_7FFF_8000,
        ];
        let mut word = || {
            if self.next() % 4 == 0 {
                edge[(self.next() % 6) as usize]
            } else {
                self.next()
            }
        };
        (word() as u128) << 64 | word() as u128
    }
}

/// Runs `op xmm0, xmm1` (the instruction bytes given, ModRM selecting xmm0, xmm1) in a guest
/// with CR4.OSFXSR set; returns xmm0.
fn guest(insn: &[u8], a: u128, b: u128) -> u128 {
    let mut code = vec![
        0x0F, 0x20, 0xE0, // mov eax, cr4
        0x66, 0x0D, 0x00, 0x02, 0x00, 0x00, // or eax, 0x200 (OSFXSR)
        0x0F, 0x22, 0xE0, // mov cr4, eax
        0x0F, 0x20, 0xC0, // mov eax, cr0
        0x66, 0x83, 0xE0, 0xFB, // and eax, ~4 (EM)
        0x0F, 0x22, 0xC0, // mov cr0, eax
        0xF3, 0x0F, 0x6F, 0x06, 0x00, 0x05, // movdqu xmm0, [0x500]
        0xF3, 0x0F, 0x6F, 0x0E, 0x10, 0x05, // movdqu xmm1, [0x510]
    ];
    code.extend_from_slice(insn);
    code.extend_from_slice(&[0xF3, 0x0F, 0x7F, 0x06, 0x20, 0x05, 0xF4]); // movdqu [0x520], xmm0; hlt
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_flat(&code, 0x7C00, 0x7C00).unwrap();
    m.write_phys(0x500, &a.to_le_bytes()).unwrap();
    m.write_phys(0x510, &b.to_le_bytes()).unwrap();
    assert_eq!(m.run(100).unwrap(), ExitReason::Halted, "{insn:02x?}");
    let mut out = [0u8; 16];
    m.read_phys(0x520, &mut out).unwrap();
    u128::from_le_bytes(out)
}

macro_rules! host_op {
    ($text:literal, $a:expr, $b:expr) => {{
        let mut x = to_m($a);
        let y = to_m($b);
        // SAFETY: a register-only SSE2 instruction on two XMM registers; no memory, no flags.
        unsafe {
            asm!(concat!($text, " {x}, {y}"), x = inout(xmm_reg) x, y = in(xmm_reg) y, options(pure, nomem, nostack));
        }
        from_m(x)
    }};
}

macro_rules! check {
    ($name:literal, $text:literal, [$($byte:expr),*]) => {{
        let mut rng = Rng(vx86_tests::util::Rng(0x5EED ^ $name.len() as u64));
        for _ in 0..300 {
            let (a, b) = (rng.v(), rng.v());
            let want = host_op!($text, a, b);
            let got = guest(&[$($byte),*], a, b);
            assert_eq!(got, want, "{} a={a:032x} b={b:032x}", $name);
        }
    }};
}

#[test]
fn sse2_integer_ops_match_the_host() {
    // encodings: 66 0F xx C1 = op xmm0, xmm1
    check!("paddb", "paddb", [0x66, 0x0F, 0xFC, 0xC1]);
    check!("paddsw", "paddsw", [0x66, 0x0F, 0xED, 0xC1]);
    check!("paddusb", "paddusb", [0x66, 0x0F, 0xDC, 0xC1]);
    check!("psubq", "psubq", [0x66, 0x0F, 0xFB, 0xC1]);
    check!("psubsb", "psubsb", [0x66, 0x0F, 0xE8, 0xC1]);
    check!("psubusw", "psubusw", [0x66, 0x0F, 0xD9, 0xC1]);
    check!("pmullw", "pmullw", [0x66, 0x0F, 0xD5, 0xC1]);
    check!("pmulhw", "pmulhw", [0x66, 0x0F, 0xE5, 0xC1]);
    check!("pmulhuw", "pmulhuw", [0x66, 0x0F, 0xE4, 0xC1]);
    check!("pmuludq", "pmuludq", [0x66, 0x0F, 0xF4, 0xC1]);
    check!("pmaddwd", "pmaddwd", [0x66, 0x0F, 0xF5, 0xC1]);
    check!("pavgb", "pavgb", [0x66, 0x0F, 0xE0, 0xC1]);
    check!("pavgw", "pavgw", [0x66, 0x0F, 0xE3, 0xC1]);
    check!("psadbw", "psadbw", [0x66, 0x0F, 0xF6, 0xC1]);
    check!("pminub", "pminub", [0x66, 0x0F, 0xDA, 0xC1]);
    check!("pmaxsw", "pmaxsw", [0x66, 0x0F, 0xEE, 0xC1]);
    check!("pcmpeqb", "pcmpeqb", [0x66, 0x0F, 0x74, 0xC1]);
    check!("pcmpgtw", "pcmpgtw", [0x66, 0x0F, 0x65, 0xC1]);
    check!("pcmpgtd", "pcmpgtd", [0x66, 0x0F, 0x66, 0xC1]);
    check!("pandn", "pandn", [0x66, 0x0F, 0xDF, 0xC1]);
    check!("pxor", "pxor", [0x66, 0x0F, 0xEF, 0xC1]);
    check!("packsswb", "packsswb", [0x66, 0x0F, 0x63, 0xC1]);
    check!("packssdw", "packssdw", [0x66, 0x0F, 0x6B, 0xC1]);
    check!("packuswb", "packuswb", [0x66, 0x0F, 0x67, 0xC1]);
    check!("punpcklbw", "punpcklbw", [0x66, 0x0F, 0x60, 0xC1]);
    check!("punpckhwd", "punpckhwd", [0x66, 0x0F, 0x69, 0xC1]);
    check!("punpckhqdq", "punpckhqdq", [0x66, 0x0F, 0x6D, 0xC1]);
    check!("psllw", "psllw", [0x66, 0x0F, 0xF1, 0xC1]);
    check!("psrld", "psrld", [0x66, 0x0F, 0xD2, 0xC1]);
    check!("psraw", "psraw", [0x66, 0x0F, 0xE1, 0xC1]);
    check!("psrlq", "psrlq", [0x66, 0x0F, 0xD3, 0xC1]);
    check!("unpcklps", "unpcklps", [0x0F, 0x14, 0xC1]);
    check!("andnps", "andnps", [0x0F, 0x55, 0xC1]);
}

#[test]
fn sse2_shuffles_and_immediate_shifts_match_the_host() {
    let mut rng = Rng(vx86_tests::util::Rng(77));
    for _ in 0..200 {
        let (a, b) = (rng.v(), rng.v());
        macro_rules! imm_op {
            ($text:literal, $bytes:expr) => {{
                let mut x = to_m(a);
                // SAFETY: register-only SSE2 instruction with an immediate.
                unsafe {
                    asm!(concat!($text, " {x}, {y}, {i}"), x = inout(xmm_reg) x, y = in(xmm_reg) to_m(b), i = const 0x1B, options(pure, nomem, nostack));
                }
                assert_eq!(guest($bytes, a, b), from_m(x), "{} a={a:032x} b={b:032x}", $text);
            }};
        }
        imm_op!("pshufd", &[0x66, 0x0F, 0x70, 0xC1, 0x1B]);
        imm_op!("pshuflw", &[0xF2, 0x0F, 0x70, 0xC1, 0x1B]);
        imm_op!("pshufhw", &[0xF3, 0x0F, 0x70, 0xC1, 0x1B]);
        imm_op!("shufps", &[0x0F, 0xC6, 0xC1, 0x1B]);
        let mut x = to_m(a);
        // SAFETY: register-only SSE2 shifts by immediates.
        unsafe {
            asm!("psrad {x}, 5", "pslldq {x}, 3", x = inout(xmm_reg) x, options(pure, nomem, nostack));
        }
        let got = guest(
            &[0x66, 0x0F, 0x72, 0xE0, 5, 0x66, 0x0F, 0x73, 0xF8, 3],
            a,
            b,
        );
        assert_eq!(got, from_m(x), "psrad 5; pslldq 3 a={a:032x}");
    }
}

#[test]
fn pmovmskb_and_movmskps_match_the_host() {
    let mut rng = Rng(vx86_tests::util::Rng(99));
    for _ in 0..200 {
        let a = rng.v();
        let (mut m1, mut m2): (u32, u32);
        // SAFETY: register-only SSE2 instructions.
        unsafe {
            asm!("pmovmskb {m1:e}, {x}", "movmskps {m2:e}, {x}", x = in(xmm_reg) to_m(a), m1 = out(reg) m1, m2 = out(reg) m2, options(pure, nomem, nostack));
        }
        // guest: pmovmskb eax, xmm0 → [0x520]; movmskps eax, xmm0 → [0x524]
        let code = [
            0x66, 0x0F, 0xD7, 0xC0, 0x66, 0xA3, 0x20, 0x05, 0x0F, 0x50, 0xC0, 0x66, 0xA3, 0x24,
            0x05,
        ];
        let mut m = Machine::new(MachineConfig::default()).unwrap();
        let mut prog = vec![
            0x0F, 0x20, 0xE0, 0x66, 0x0D, 0x00, 0x02, 0x00, 0x00, 0x0F, 0x22, 0xE0, 0x0F, 0x20,
            0xC0, 0x66, 0x83, 0xE0, 0xFB, 0x0F, 0x22, 0xC0,
        ];
        prog.extend_from_slice(&[0xF3, 0x0F, 0x6F, 0x06, 0x00, 0x05]);
        prog.extend_from_slice(&code);
        prog.push(0xF4);
        m.load_flat(&prog, 0x7C00, 0x7C00).unwrap();
        m.write_phys(0x500, &a.to_le_bytes()).unwrap();
        assert_eq!(m.run(100).unwrap(), ExitReason::Halted);
        let mut out = [0u8; 8];
        m.read_phys(0x520, &mut out).unwrap();
        assert_eq!(u32::from_le_bytes(out[..4].try_into().unwrap()), m1);
        assert_eq!(u32::from_le_bytes(out[4..].try_into().unwrap()), m2);
    }
}
