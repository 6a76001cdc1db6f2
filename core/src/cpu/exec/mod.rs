//! Instruction handlers, one file per family. Each handler is
//! `fn(&mut Cpu, &mut Bus, &Uop) -> Result<(), Exception>`, usually generic over the operand
//! size `S` (1, 2 or 4 bytes) and monomorphised per size by the decoder's table.

pub(crate) mod alu;
pub(crate) mod bcd;
pub(crate) mod bits;
pub(crate) mod control;
pub(crate) mod data;
pub(crate) mod fpu;
pub(crate) mod fpu_arith;
pub(crate) mod fpu_transcendental;
pub(crate) mod muldiv;
pub(crate) mod protected;
pub(crate) mod shift;
pub(crate) mod simd;
pub(crate) mod sse_fp;
pub(crate) mod stack;
pub(crate) mod string;
pub(crate) mod system;

/// Handler result.
pub(crate) type R = Result<(), crate::cpu::Exception>;
