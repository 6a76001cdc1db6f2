//! `Machine.regs`: the CPU registers by name, read and written as attributes
//! (`m.regs.eax = 1`). Names follow the Intel SDM: the 32/16/8-bit general registers, EIP/IP,
//! EFLAGS/FLAGS, the segment selectors, CR0/2/3/4, DR0-7, the x87 registers (ST0-7 as 80-bit
//! integers: significand in bits 0-63, sign and exponent in bits 64-79; FCW, FSW, FTW, FOP,
//! FIP, FDP), XMM0-7 (128-bit integers) and MXCSR; GDTR/IDTR as `(base, limit)`.
//!
//! Writing a segment selector is allowed in real and virtual-8086 mode (base = selector × 16,
//! as a MOV to the register does there); in protected mode it needs a descriptor load, which
//! a host write does not do: the error says so. Control-register writes take effect at once
//! (the TLB is flushed, the paging mode recomputed).

use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;
use vx86_core::cpu::{cr0, flag, TableReg};
use vx86_core::softfloat::F80;
use vx86_core::{CpuState, SegReg};

use crate::errors;
use crate::machine::Machine;

/// EFLAGS bits a host write may set (bit 1 reads as 1; other reserved bits are 0).
const EFLAGS_WRITABLE: u32 = 0x003F_7FD5;

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

/// Every register name, for `dir()` and `as_dict()`.
pub(crate) fn names() -> Vec<String> {
    let mut v: Vec<String> = GPR32.iter().chain(&GPR16).chain(&GPR8).map(|s| s.to_string()).collect();
    v.extend(SEGS.iter().map(|(n, _)| n.to_string()));
    v.extend(OTHER.iter().map(|s| s.to_string()));
    v.extend((0..8).map(|i| format!("dr{i}")));
    v.extend((0..8).map(|i| format!("st{i}")));
    v.extend((0..8).map(|i| format!("xmm{i}")));
    v
}

/// A register's value: an integer, or a `(base, limit)` pair.
enum Value {
    Int(u128),
    Table(TableReg),
    Bool(bool),
}

fn index(list: &[&str], name: &str) -> Option<usize> {
    list.iter().position(|&n| n == name)
}

/// `dr3`, `st5`, `xmm7` → 3, 5, 7.
fn numbered(name: &str, prefix: &str) -> Option<usize> {
    let n: usize = name.strip_prefix(prefix)?.parse().ok()?;
    (n < 8 && name.len() == prefix.len() + 1).then_some(n)
}

fn f80_int(f: F80) -> u128 {
    u128::from(f.signif) | u128::from(f.sign_exp) << 64
}

fn seg(name: &str) -> Option<SegReg> {
    SEGS.iter().find(|(n, _)| *n == name).map(|&(_, r)| r)
}

fn get(s: &CpuState, name: &str) -> Option<Value> {
    use Value::Int;
    let top = (s.fpu.fsw >> 11) as usize & 7;
    Some(match name {
        _ if index(&GPR32, name).is_some() => Int(s.regs[index(&GPR32, name)?].into()),
        _ if index(&GPR16, name).is_some() => Int((s.regs[index(&GPR16, name)?] & 0xFFFF).into()),
        _ if index(&GPR8, name).is_some() => {
            let i = index(&GPR8, name)?;
            Int(((s.regs[i & 3] >> (8 * (i >> 2))) & 0xFF).into())
        }
        _ if seg(name).is_some() => Int(s.segs[seg(name)? as usize].selector.into()),
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
        "gdtr" => Value::Table(s.gdtr),
        "idtr" => Value::Table(s.idtr),
        "ldtr" => Int(s.ldtr.selector.into()),
        "tr" => Int(s.tr.selector.into()),
        "halted" => Value::Bool(s.halted),
        _ if numbered(name, "dr").is_some() => Int(s.dr[numbered(name, "dr")?].into()),
        _ if numbered(name, "st").is_some() => {
            Int(f80_int(s.fpu.regs[(top + numbered(name, "st")?) & 7]))
        }
        _ if numbered(name, "xmm").is_some() => Int(s.xmm[numbered(name, "xmm")?]),
        _ => return None,
    })
}

/// The width in bits of an integer register that a host may write.
fn width(name: &str) -> Option<u32> {
    Some(match name {
        _ if index(&GPR32, name).is_some() => 32,
        _ if index(&GPR16, name).is_some() || seg(name).is_some() => 16,
        _ if index(&GPR8, name).is_some() => 8,
        "eip" | "eflags" | "cr0" | "cr2" | "cr3" | "cr4" | "mxcsr" | "fip" | "fdp" => 32,
        "ip" | "flags" | "fcw" | "fsw" | "ftw" => 16,
        "fop" => 11,
        _ if numbered(name, "dr").is_some() => 32,
        _ if numbered(name, "st").is_some() => 80,
        _ if numbered(name, "xmm").is_some() => 128,
        _ => return None,
    })
}

/// Sets integer register `name` to `v` (already checked against its width).
fn set(s: &mut CpuState, name: &str, v: u128) -> Result<(), String> {
    let v32 = v as u32;
    let set_low = |r: &mut u32, mask: u32, shift: u32| *r = (*r & !(mask << shift)) | ((v32 & mask) << shift);
    let top = (s.fpu.fsw >> 11) as usize & 7;
    match name {
        _ if index(&GPR32, name).is_some() => s.regs[index(&GPR32, name).unwrap_or(0)] = v32,
        _ if index(&GPR16, name).is_some() => set_low(&mut s.regs[index(&GPR16, name).unwrap_or(0)], 0xFFFF, 0),
        _ if index(&GPR8, name).is_some() => {
            let i = index(&GPR8, name).unwrap_or(0);
            set_low(&mut s.regs[i & 3], 0xFF, 8 * (i as u32 >> 2));
        }
        _ if seg(name).is_some() => {
            let r = seg(name).unwrap_or(SegReg::Ds);
            let real = s.cr0 & cr0::PE == 0 || s.eflags & flag::VM != 0;
            if !real {
                return Err(format!(
                    "{name}: writing a selector in protected mode needs a descriptor load, \
                     which a host write does not do (load it with guest code instead)"
                ));
            }
            let sg = &mut s.segs[r as usize];
            sg.selector = v as u16;
            sg.base = u32::from(v as u16) << 4;
        }
        "eip" => s.eip = v32,
        "ip" => s.eip = v32 & 0xFFFF,
        "eflags" => s.eflags = (v32 & EFLAGS_WRITABLE) | flag::FIXED1,
        "flags" => s.eflags = (s.eflags & 0xFFFF_0000) | (v32 & EFLAGS_WRITABLE & 0xFFFF) | flag::FIXED1,
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
        _ if numbered(name, "dr").is_some() => s.dr[numbered(name, "dr").unwrap_or(0)] = v32,
        _ if numbered(name, "st").is_some() => {
            s.fpu.regs[(top + numbered(name, "st").unwrap_or(0)) & 7] = F80 {
                signif: v as u64,
                sign_exp: (v >> 64) as u16,
            }
        }
        _ if numbered(name, "xmm").is_some() => s.xmm[numbered(name, "xmm").unwrap_or(0)] = v,
        _ => return Err(format!("{name} is not a writable register")),
    }
    Ok(())
}

/// The registers of a [`Machine`] as attributes (see the module header).
#[pyclass(frozen, module = "vx86")]
pub struct Registers {
    pub(crate) machine: Py<Machine>,
}

impl Registers {
    fn value(&self, py: Python<'_>, name: &str) -> PyResult<Option<Py<PyAny>>> {
        let s = self.machine.get().cpu_state(py)?;
        Ok(match get(&s, name) {
            Some(Value::Int(v)) if v <= u128::from(u64::MAX) => Some((v as u64).into_py_any(py)?),
            Some(Value::Int(v)) => Some(v.into_py_any(py)?),
            Some(Value::Table(t)) => Some((t.base, t.limit).into_py_any(py)?),
            Some(Value::Bool(b)) => Some(b.into_py_any(py)?),
            None => None,
        })
    }
}

#[pymethods]
impl Registers {
    /// Registers first (the common case, without a failed generic lookup first), then the
    /// class's own attributes (`as_dict`, ...).
    fn __getattribute__(slf: &Bound<'_, Self>, name: &Bound<'_, pyo3::types::PyString>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        if let Some(v) = slf.get().value(py, &name.to_cow()?)? {
            return Ok(v);
        }
        // SAFETY: both pointers are valid, owned objects for the duration of the call;
        // PyObject_GenericGetAttr returns a new reference or NULL with an exception set.
        let found = unsafe {
            let r = pyo3::ffi::PyObject_GenericGetAttr(slf.as_ptr(), name.as_ptr());
            Bound::from_owned_ptr_or_err(py, r)
        };
        found.map(Bound::unbind).map_err(|_| {
            pyo3::exceptions::PyAttributeError::new_err(format!("no register named {name}"))
        })
    }

    fn __setattr__(&self, py: Python<'_>, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let m = self.machine.get();
        let mut s = m.cpu_state(py)?;
        if name == "gdtr" || name == "idtr" {
            let (base, limit): (u32, u16) = value.extract().map_err(|_| {
                errors::config(py, format!("{name} takes a (base, limit) pair of ints"))
            })?;
            let t = if name == "gdtr" { &mut s.gdtr } else { &mut s.idtr };
            *t = TableReg { base, limit };
            return m.set_cpu_state(py, s);
        }
        let Some(bits) = width(name) else {
            return Err(if get(&s, name).is_some() {
                errors::config(py, format!("{name} is read-only here"))
            } else {
                pyo3::exceptions::PyAttributeError::new_err(format!("no register named {name:?}"))
            });
        };
        // 0 ..= 2^bits - 1, or a negative value down to -2^(bits-1) (two's complement)
        let v: u128 = match value.extract::<u128>() {
            Ok(v) => v,
            Err(_) => {
                let neg: i128 = value
                    .extract()
                    .map_err(|_| errors::config(py, format!("{name} takes an int")))?;
                let lowest = if bits >= 128 { i128::MIN } else { -(1i128 << (bits - 1)) };
                if neg < lowest {
                    return Err(errors::config(py, format!("{name} is a {bits}-bit register: {neg} does not fit")));
                }
                neg as u128
            }
        };
        let mask = if bits == 128 { u128::MAX } else { (1u128 << bits) - 1 };
        let signed = value.extract::<u128>().is_err();
        if !signed && v & !mask != 0 {
            return Err(errors::config(py, format!("{name} is a {bits}-bit register: {v:#x} does not fit")));
        }
        let v = v & mask;
        set(&mut s, name, v).map_err(|e| errors::config(py, e))?;
        m.set_cpu_state(py, s)
    }

    fn __dir__(&self) -> Vec<String> {
        names()
    }

    /// Every register as a dict (name → value).
    fn as_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let d = pyo3::types::PyDict::new(py);
        for n in names() {
            if let Some(v) = self.value(py, &n)? {
                d.set_item(&n, v)?;
            }
        }
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let s = self.machine.get().cpu_state(py)?;
        let r = s.regs;
        let sel = |g: SegReg| s.segs[g as usize].selector;
        Ok(format!(
            "<Registers eax={:#010x} ecx={:#010x} edx={:#010x} ebx={:#010x} esp={:#010x} \
             ebp={:#010x} esi={:#010x} edi={:#010x} eip={:#010x} eflags={:#010x} cs={:#06x} \
             ss={:#06x} ds={:#06x} es={:#06x} fs={:#06x} gs={:#06x} cr0={:#010x} cr3={:#010x}>",
            r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], s.eip, s.eflags,
            sel(SegReg::Cs), sel(SegReg::Ss), sel(SegReg::Ds), sel(SegReg::Es),
            sel(SegReg::Fs), sel(SegReg::Gs), s.cr0, s.cr3
        ))
    }
}

/// A segment register's visible selector and hidden descriptor cache.
#[pyclass(frozen, get_all, module = "vx86")]
pub struct Segment {
    /// The selector.
    pub selector: u16,
    /// Linear base address.
    pub base: u32,
    /// Limit in bytes (already expanded when the granularity bit is set).
    pub limit: u32,
    /// Attribute bits of the descriptor cache (type, S, DPL, P, AVL, D/B, G as in the
    /// descriptor's bits 40-55).
    pub attributes: u16,
}

#[pymethods]
impl Segment {
    fn __repr__(&self) -> String {
        format!(
            "<Segment selector={:#06x} base={:#010x} limit={:#x} attributes={:#06x}>",
            self.selector, self.base, self.limit, self.attributes
        )
    }
}

/// The segment named `name` (es, cs, ss, ds, fs, gs, ldtr, tr) of `s`.
pub(crate) fn segment(s: &CpuState, name: &str) -> Option<Segment> {
    let g = match name {
        "ldtr" => s.ldtr,
        "tr" => s.tr,
        _ => s.segs[seg(name)? as usize],
    };
    Some(Segment {
        selector: g.selector,
        base: g.base,
        limit: g.limit,
        attributes: g.attr,
    })
}
