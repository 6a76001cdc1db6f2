//! Registers by name, for hosts (the bindings, the GDB stub, test harnesses): the SDM's names
//! for the 32/16/8-bit general registers (EAX, AX, AL, AH, ...), EIP/IP, EFLAGS/FLAGS, the
//! segment selectors, CR0/2/3/4, DR0-7, the x87 registers (ST0-7 as 80-bit integers:
//! significand in bits 0-63, sign and exponent in bits 64-79; FCW, FSW, FTW, FOP, FIP, FDP),
//! XMM0-7 (128-bit integers), MXCSR, GDTR/IDTR (base and limit), LDTR/TR (selectors) and the
//! halted flag. Names are lower case.
//!
//! Writes change a [`CpuState`] value; the host then installs it with
//! `Machine::set_cpu_state`, which flushes the TLB and recomputes the mode. A segment
//! selector may be written in real and virtual-8086 mode (the base becomes selector × 16, as a
//! MOV to the register does there); in protected mode that needs a descriptor load, which a
//! host write does not do, so it is refused. EFLAGS keeps its fixed bits (bit 1 set, the
//! reserved ones clear). LDTR, TR and `halted` are read-only.

use super::state::{cr0, flag, CpuState, SegReg, TableReg};
use crate::softfloat::F80;

/// The EFLAGS bits a host write may set (bit 1 always reads 1; other reserved bits are 0).
pub const EFLAGS_WRITABLE: u32 = 0x003F_7FD5;

const GPR32: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
const GPR16: [&str; 8] = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"];
const GPR8: [&str; 8] = ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"];
const SEGS: [(&str, SegReg); 6] = [
    ("es", SegReg::Es),
    ("cs", SegReg::Cs),
    ("ss", SegReg::Ss),
    ("ds", SegReg::Ds),
    ("fs", SegReg::Fs),
    ("gs", SegReg::Gs),
];
const OTHER: [&str; 20] = [
    "eip", "ip", "eflags", "flags", "cr0", "cr2", "cr3", "cr4", "mxcsr", "fcw", "fsw", "ftw",
    "fop", "fip", "fdp", "gdtr", "idtr", "ldtr", "tr", "halted",
];

/// A register's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegValue {
    /// An integer register (up to 128 bits).
    Int(u128),
    /// GDTR or IDTR.
    Table(TableReg),
    /// The halted flag.
    Bool(bool),
}

/// Every register name.
pub fn names() -> Vec<String> {
    let mut v: Vec<String> = GPR32
        .iter()
        .chain(&GPR16)
        .chain(&GPR8)
        .map(|s| s.to_string())
        .collect();
    v.extend(SEGS.iter().map(|(n, _)| n.to_string()));
    v.extend(OTHER.iter().map(|s| s.to_string()));
    v.extend((0..8).map(|i| format!("dr{i}")));
    v.extend((0..8).map(|i| format!("st{i}")));
    v.extend((0..8).map(|i| format!("xmm{i}")));
    v
}

fn index(list: &[&str], name: &str) -> Option<usize> {
    list.iter().position(|&n| n == name)
}

/// `dr3`, `st5`, `xmm7` → 3, 5, 7.
fn numbered(name: &str, prefix: &str) -> Option<usize> {
    let n: usize = name.strip_prefix(prefix)?.parse().ok()?;
    (n < 8 && name.len() == prefix.len() + 1).then_some(n)
}

/// The segment register called `name` (es, cs, ss, ds, fs, gs).
pub fn segment_register(name: &str) -> Option<SegReg> {
    SEGS.iter().find(|(n, _)| *n == name).map(|&(_, r)| r)
}

/// The value of register `name`, or `None` if there is no such register.
pub fn get(s: &CpuState, name: &str) -> Option<RegValue> {
    use RegValue::Int;
    let top = (s.fpu.fsw >> 11) as usize & 7;
    let f80 = |f: F80| u128::from(f.signif) | u128::from(f.sign_exp) << 64;
    if let Some(i) = index(&GPR32, name) {
        return Some(Int(s.regs[i].into()));
    }
    if let Some(i) = index(&GPR16, name) {
        return Some(Int((s.regs[i] & 0xFFFF).into()));
    }
    if let Some(i) = index(&GPR8, name) {
        return Some(Int(((s.regs[i & 3] >> (8 * (i >> 2))) & 0xFF).into()));
    }
    if let Some(r) = segment_register(name) {
        return Some(Int(s.segs[r as usize].selector.into()));
    }
    if let Some(i) = numbered(name, "dr") {
        return Some(Int(s.dr[i].into()));
    }
    if let Some(i) = numbered(name, "st") {
        return Some(Int(f80(s.fpu.regs[(top + i) & 7])));
    }
    if let Some(i) = numbered(name, "xmm") {
        return Some(Int(s.xmm[i]));
    }
    Some(match name {
        "eip" => Int(s.eip.into()),
        "ip" => Int((s.eip & 0xFFFF).into()),
        "eflags" => Int(s.eflags.into()),
        "flags" => Int((s.eflags & 0xFFFF).into()),
        "cr0" => Int(s.cr0.into()),
        "cr2" => Int(s.cr2.into()),
        "cr3" => Int(s.cr3.into()),
        "cr4" => Int(s.cr4.into()),
        "mxcsr" => Int(s.mxcsr.into()),
        "fcw" => Int(s.fpu.fcw.into()),
        "fsw" => Int(s.fpu.fsw.into()),
        "ftw" => Int(s.fpu.ftw.into()),
        "fop" => Int(s.fpu.fop.into()),
        "fip" => Int(s.fpu.fip.into()),
        "fdp" => Int(s.fpu.fdp.into()),
        "gdtr" => RegValue::Table(s.gdtr),
        "idtr" => RegValue::Table(s.idtr),
        "ldtr" => Int(s.ldtr.selector.into()),
        "tr" => Int(s.tr.selector.into()),
        "halted" => RegValue::Bool(s.halted),
        _ => return None,
    })
}

/// The width in bits of integer register `name` if a host may write it.
pub fn width(name: &str) -> Option<u32> {
    if index(&GPR32, name).is_some() || numbered(name, "dr").is_some() {
        return Some(32);
    }
    if index(&GPR16, name).is_some() || segment_register(name).is_some() {
        return Some(16);
    }
    if index(&GPR8, name).is_some() {
        return Some(8);
    }
    if numbered(name, "st").is_some() {
        return Some(80);
    }
    if numbered(name, "xmm").is_some() {
        return Some(128);
    }
    Some(match name {
        "eip" | "eflags" | "cr0" | "cr2" | "cr3" | "cr4" | "mxcsr" | "fip" | "fdp" => 32,
        "ip" | "flags" | "fcw" | "fsw" | "ftw" => 16,
        "fop" => 11,
        _ => return None,
    })
}

/// Sets register `name` of `s` to `v` (the low [`width`] bits are used; GDTR and IDTR take a
/// [`RegValue::Table`]). Errors say why a write is refused.
pub fn set(s: &mut CpuState, name: &str, v: RegValue) -> Result<(), String> {
    if let RegValue::Table(t) = v {
        match name {
            "gdtr" => s.gdtr = t,
            "idtr" => s.idtr = t,
            _ => return Err(format!("{name} does not take a (base, limit) pair")),
        }
        return Ok(());
    }
    let RegValue::Int(v) = v else {
        return Err(format!("{name} is read-only"));
    };
    let Some(bits) = width(name) else {
        return Err(match get(s, name) {
            Some(_) => format!("{name} is read-only"),
            None => format!("no register named {name:?}"),
        });
    };
    let v = if bits == 128 {
        v
    } else {
        v & ((1u128 << bits) - 1)
    };
    let v32 = v as u32;
    let put =
        |r: &mut u32, mask: u32, shift: u32| *r = (*r & !(mask << shift)) | ((v32 & mask) << shift);
    let top = (s.fpu.fsw >> 11) as usize & 7;
    if let Some(i) = index(&GPR32, name) {
        s.regs[i] = v32;
    } else if let Some(i) = index(&GPR16, name) {
        put(&mut s.regs[i], 0xFFFF, 0);
    } else if let Some(i) = index(&GPR8, name) {
        put(&mut s.regs[i & 3], 0xFF, 8 * (i as u32 >> 2));
    } else if let Some(r) = segment_register(name) {
        if s.cr0 & cr0::PE != 0 && s.eflags & flag::VM == 0 {
            return Err(format!(
                "{name}: writing a selector in protected mode needs a descriptor load, which a \
                 host write does not do (load it with guest code instead)"
            ));
        }
        let sg = &mut s.segs[r as usize];
        sg.selector = v as u16;
        sg.base = u32::from(v as u16) << 4;
    } else if let Some(i) = numbered(name, "dr") {
        s.dr[i] = v32;
    } else if let Some(i) = numbered(name, "st") {
        s.fpu.regs[(top + i) & 7] = F80 {
            signif: v as u64,
            sign_exp: (v >> 64) as u16,
        };
    } else if let Some(i) = numbered(name, "xmm") {
        s.xmm[i] = v;
    } else {
        match name {
            "eip" => s.eip = v32,
            "ip" => s.eip = v32,
            "eflags" => s.eflags = (v32 & EFLAGS_WRITABLE) | flag::FIXED1,
            "flags" => s.eflags = (s.eflags & 0xFFFF_0000) | (v32 & EFLAGS_WRITABLE) | flag::FIXED1,
            "cr0" => s.cr0 = v32,
            "cr2" => s.cr2 = v32,
            "cr3" => s.cr3 = v32,
            "cr4" => s.cr4 = v32,
            "mxcsr" => s.mxcsr = v32,
            "fcw" => s.fpu.fcw = v as u16,
            "fsw" => s.fpu.fsw = v as u16,
            "ftw" => s.fpu.ftw = v as u16,
            "fop" => s.fpu.fop = v as u16,
            "fip" => s.fpu.fip = v32,
            "fdp" => s.fpu.fdp = v32,
            _ => return Err(format!("no register named {name:?}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_registers_alias_the_full_ones() {
        let mut s = CpuState::reset();
        set(&mut s, "eax", RegValue::Int(0x1122_3344)).unwrap();
        assert_eq!(get(&s, "ax"), Some(RegValue::Int(0x3344)));
        assert_eq!(get(&s, "ah"), Some(RegValue::Int(0x33)));
        set(&mut s, "bh", RegValue::Int(0xAB)).unwrap();
        set(&mut s, "cx", RegValue::Int(0x1_FFFF)).unwrap(); // only the low 16 bits
        assert_eq!((s.regs[3], s.regs[1]), (0xAB00, 0xFFFF));
        set(&mut s, "eflags", RegValue::Int(u128::MAX)).unwrap();
        assert_eq!(s.eflags, EFLAGS_WRITABLE | flag::FIXED1);
        set(
            &mut s,
            "gdtr",
            RegValue::Table(TableReg {
                base: 0x1000,
                limit: 23,
            }),
        )
        .unwrap();
        assert_eq!(get(&s, "gdtr"), Some(RegValue::Table(s.gdtr)));
        assert!(names().iter().all(|n| get(&s, n).is_some()));
    }

    #[test]
    fn selectors_are_writable_only_outside_protected_mode() {
        let mut s = CpuState::reset();
        set(&mut s, "ds", RegValue::Int(0x1234)).unwrap();
        assert_eq!((s.segs[SegReg::Ds as usize].base), 0x12340);
        s.cr0 |= cr0::PE;
        assert!(set(&mut s, "ds", RegValue::Int(0x10))
            .unwrap_err()
            .contains("descriptor load"));
        assert!(set(&mut s, "tr", RegValue::Int(0))
            .unwrap_err()
            .contains("read-only"));
        assert!(set(&mut s, "rax", RegValue::Int(0))
            .unwrap_err()
            .contains("no register"));
    }

    #[test]
    fn x87_stack_registers_follow_top() {
        let mut s = CpuState::reset();
        s.fpu.fsw = 6 << 11; // TOP = 6: ST0 is R6, ST2 is R0
        set(&mut s, "st2", RegValue::Int(0x3FFF_8000_0000_0000_0000)).unwrap();
        assert_eq!(
            s.fpu.regs[0],
            F80 {
                signif: 1 << 63,
                sign_exp: 0x3FFF
            }
        );
    }
}
