//! Micro-ops: one decoded instruction in the form the interpreter runs. Decoding (with
//! `iced-x86`) happens once per basic block; executing a micro-op is one indirect call to its
//! handler with the operands already resolved to register indices, a memory reference and an
//! immediate.

use super::exception::Exception;
use super::Cpu;
use crate::bus::Bus;

/// An instruction handler.
pub type Handler = fn(&mut Cpu, &mut Bus, &Uop) -> Result<(), Exception>;

/// "No register" in [`MemRef::base`] / [`MemRef::index`].
pub const NO_REG: u8 = 0xFF;

/// Operand-kind parameter of a handler specialised at decode time: any kind (matched at run
/// time).
pub const K_ANY: u8 = 0;
/// Operand-kind parameter: a general register.
pub const K_REG: u8 = 1;
/// Operand-kind parameter: the memory operand.
pub const K_MEM: u8 = 2;
/// Operand-kind parameter: the immediate.
pub const K_IMM: u8 = 3;

/// An operand's location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opnd {
    /// Absent.
    None,
    /// General register index (byte registers: 0..3 = AL..BL, 4..7 = AH..BH).
    Reg(u8),
    /// The memory operand in [`Uop::mem`].
    Mem,
    /// The immediate in [`Uop::imm`].
    Imm,
}

impl Opnd {
    /// The `K_*` kind of this operand (`K_ANY` for an absent one), for choosing a handler
    /// specialised to it.
    #[inline(always)]
    pub fn kind(self) -> u8 {
        match self {
            Opnd::Reg(_) => K_REG,
            Opnd::Mem => K_MEM,
            Opnd::Imm => K_IMM,
            Opnd::None => K_ANY,
        }
    }

    /// The register index of a register operand (0 otherwise).
    #[inline(always)]
    pub fn reg_index(self) -> u8 {
        match self {
            Opnd::Reg(r) => r,
            _ => 0,
        }
    }
}

/// A memory operand: `seg:[base + index << scale + disp]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemRef {
    /// Effective segment (after overrides), as a [`super::SegReg`] number.
    pub seg: u8,
    /// Base register or [`NO_REG`].
    pub base: u8,
    /// Index register or [`NO_REG`].
    pub index: u8,
    /// log2 of the index scale.
    pub scale: u8,
    /// Displacement (sign-extended to 32 bits).
    pub disp: u32,
    /// 32-bit address size (else offsets wrap at 64 KiB).
    pub addr32: bool,
}

impl MemRef {
    /// The offset `delta` bytes after `off`, wrapped to the address size (the second part of a
    /// far pointer, a descriptor-table pseudo-descriptor or a BOUND pair).
    #[inline]
    pub fn offset_after(&self, off: u32, delta: u32) -> u32 {
        let v = off.wrapping_add(delta);
        if self.addr32 {
            v
        } else {
            v & 0xFFFF
        }
    }
}

impl Default for MemRef {
    fn default() -> Self {
        Self {
            seg: 3,
            base: NO_REG,
            index: NO_REG,
            scale: 0,
            disp: 0,
            addr32: false,
        }
    }
}

/// Prefix bit: REP / REPE.
pub const P_REP: u8 = 1;
/// Prefix bit: REPNE.
pub const P_REPNE: u8 = 2;
/// Prefix bit: 32-bit address size (for string instructions, LOOP, JCXZ, XLAT).
pub const P_ADDR32: u8 = 4;
/// Prefix bit: 32-bit operand size (for instructions whose handler is not size-generic).
pub const P_OP32: u8 = 8;

/// One decoded instruction.
#[derive(Clone, Copy)]
pub struct Uop {
    /// Handler.
    pub run: Handler,
    /// Instruction length in bytes.
    pub len: u8,
    /// Prefix bits (`P_*`).
    pub prefix: u8,
    /// Destination (first) operand.
    pub dst: Opnd,
    /// Source (second) operand.
    pub src: Opnd,
    /// Memory operand, when `dst` or `src` is [`Opnd::Mem`].
    pub mem: MemRef,
    /// Immediate, or branch displacement relative to the next instruction.
    pub imm: u32,
    /// Second immediate (far-pointer selector, ENTER level, SHLD/SHRD count, condition code,
    /// segment register number).
    pub imm2: u32,
    /// Bytes from this instruction to the one its block runs next: `len`, or for a direct
    /// JMP/CALL the block follows to its target, the distance to that target (modulo 2^32).
    pub advance: u32,
}

impl std::fmt::Debug for Uop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uop")
            .field("len", &self.len)
            .field("dst", &self.dst)
            .field("src", &self.src)
            .field("mem", &self.mem)
            .field("imm", &self.imm)
            .field("imm2", &self.imm2)
            .finish()
    }
}
