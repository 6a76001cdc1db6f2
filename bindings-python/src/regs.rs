//! `Machine.regs`: the CPU registers by name, read and written as attributes
//! (`m.regs.eax = 1`). The names and what a write may change are `vx86_core::cpu::named`'s;
//! this file converts Python ints (negative values are two's complement) and (base, limit)
//! pairs.

use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;
use vx86_core::cpu::named::{self, RegValue};
use vx86_core::cpu::TableReg;
use vx86_core::{CpuState, SegReg};

use crate::errors;
use crate::machine::Machine;

/// The registers of a [`Machine`] as attributes (see the module header).
#[pyclass(frozen, module = "vx86")]
pub struct Registers {
    pub(crate) machine: Py<Machine>,
}

impl Registers {
    fn value(&self, py: Python<'_>, name: &str) -> PyResult<Option<Py<PyAny>>> {
        let s = self.machine.get().cpu_state(py)?;
        Ok(match named::get(&s, name) {
            Some(RegValue::Int(v)) if v <= u128::from(u64::MAX) => {
                Some((v as u64).into_py_any(py)?)
            }
            Some(RegValue::Int(v)) => Some(v.into_py_any(py)?),
            Some(RegValue::Table(t)) => Some((t.base, t.limit).into_py_any(py)?),
            Some(RegValue::Bool(b)) => Some(b.into_py_any(py)?),
            None => None,
        })
    }
}

#[pymethods]
impl Registers {
    /// Registers first (the common case, without a failed generic lookup first), then the
    /// class's own attributes (`as_dict`, ...).
    fn __getattribute__(
        slf: &Bound<'_, Self>,
        name: &Bound<'_, pyo3::types::PyString>,
    ) -> PyResult<Py<PyAny>> {
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
        let v = if name == "gdtr" || name == "idtr" {
            let (base, limit): (u32, u16) = value.extract().map_err(|_| {
                errors::config(py, format!("{name} takes a (base, limit) pair of ints"))
            })?;
            RegValue::Table(TableReg { base, limit })
        } else {
            match (named::width(name), named::get(&s, name)) {
                (Some(bits), _) => RegValue::Int(int_of_width(py, name, bits, value)?),
                (None, Some(_)) => return Err(errors::config(py, format!("{name} is read-only"))),
                (None, None) => {
                    return Err(pyo3::exceptions::PyAttributeError::new_err(format!(
                        "no register named {name:?}"
                    )))
                }
            }
        };
        named::set(&mut s, name, v).map_err(|e| errors::config(py, e))?;
        m.set_cpu_state(py, s)
    }

    fn __dir__(&self) -> Vec<String> {
        named::names()
    }

    /// Every register as a dict (name → value).
    fn as_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let d = pyo3::types::PyDict::new(py);
        for n in named::names() {
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
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            s.eip,
            s.eflags,
            sel(SegReg::Cs),
            sel(SegReg::Ss),
            sel(SegReg::Ds),
            sel(SegReg::Es),
            sel(SegReg::Fs),
            sel(SegReg::Gs),
            s.cr0,
            s.cr3
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
        _ => s.segs[named::segment_register(name)? as usize],
    };
    Some(Segment {
        selector: g.selector,
        base: g.base,
        limit: g.limit,
        attributes: g.attr,
    })
}

/// A Python int for a `bits`-wide register: 0 ..= 2^bits - 1, or a negative value down to
/// -2^(bits-1) (two's complement).
fn int_of_width(py: Python<'_>, name: &str, bits: u32, value: &Bound<'_, PyAny>) -> PyResult<u128> {
    let too_big = |v: String| {
        errors::config(
            py,
            format!("{name} is a {bits}-bit register: {v} does not fit"),
        )
    };
    if let Ok(v) = value.extract::<u128>() {
        if bits < 128 && v >> bits != 0 {
            return Err(too_big(format!("{v:#x}")));
        }
        return Ok(v);
    }
    let neg: i128 = value
        .extract()
        .map_err(|_| errors::config(py, format!("{name} takes an int")))?;
    let lowest = if bits >= 128 {
        i128::MIN
    } else {
        -(1i128 << (bits - 1))
    };
    if neg < lowest {
        return Err(too_big(neg.to_string()));
    }
    Ok(neg as u128)
}
