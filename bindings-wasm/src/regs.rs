//! `Machine.regs`: the registers as properties, through a JS `Proxy` over a `Registers`
//! object (the names and write rules are `vx86_core::cpu::named`'s). Values up to 2^53 are
//! numbers, wider ones (ST0-7, XMM0-7) BigInts; GDTR/IDTR are `[base, limit]`.

use js_sys::Array;
use vx86_core::cpu::named::{self, RegValue};
use vx86_core::cpu::TableReg;
use wasm_bindgen::prelude::*;

use crate::convert;
use crate::machine::Machine;

#[wasm_bindgen(inline_js = "
export function registersProxy(r) {
  return new Proxy(r, {
    get(t, k) { return typeof k === 'string' && t.has(k) ? t.get(k) : Reflect.get(t, k); },
    set(t, k, v) { if (typeof k === 'string' && t.has(k)) { t.set(k, v); return true; } return Reflect.set(t, k, v); },
    has(t, k) { return (typeof k === 'string' && t.has(k)) || Reflect.has(t, k); },
    ownKeys(t) { return t.names(); },
    getOwnPropertyDescriptor(t, k) {
      return typeof k === 'string' && t.has(k) ? { value: t.get(k), enumerable: true, configurable: true, writable: true } : undefined;
    },
  });
}")]
extern "C" {
    #[wasm_bindgen(js_name = registersProxy)]
    fn registers_proxy(r: Registers) -> JsValue;
}

/// The registers of a machine, by name (see `Machine.regs`).
#[wasm_bindgen]
pub struct Registers {
    machine: Machine,
}

fn value(v: RegValue) -> JsValue {
    match v {
        RegValue::Int(x) => convert::int(x),
        RegValue::Table(t) => Array::of2(&t.base.into(), &t.limit.into()).into(),
        RegValue::Bool(b) => b.into(),
    }
}

#[wasm_bindgen]
impl Registers {
    /// Whether `name` is a register.
    pub fn has(&self, name: &str) -> bool {
        named::width(name).is_some() || matches!(name, "gdtr" | "idtr" | "ldtr" | "tr" | "halted")
    }

    /// Register `name`'s value.
    pub fn get(&self, name: &str) -> Result<JsValue, JsValue> {
        let s = self.machine.lock()?.m.cpu_state();
        named::get(&s, name)
            .map(value)
            .ok_or_else(|| convert::config(format!("no register named {name:?}")))
    }

    /// Sets register `name` (a number or BigInt; `[base, limit]` for GDTR/IDTR).
    pub fn set(&self, name: &str, v: JsValue) -> Result<(), JsValue> {
        let mut g = self.machine.lock()?;
        let mut s = g.m.cpu_state();
        let rv = if name == "gdtr" || name == "idtr" {
            let pair = Array::from(&v);
            let (base, limit) = (
                convert::to_int(&pair.get(0), name)?,
                convert::to_int(&pair.get(1), name)?,
            );
            match (u32::try_from(base), u16::try_from(limit)) {
                (Ok(base), Ok(limit)) => RegValue::Table(TableReg { base, limit }),
                _ => {
                    return Err(convert::config(format!(
                        "{name} takes [base, limit] (32 and 16 bits)"
                    )))
                }
            }
        } else {
            let bits = named::width(name)
                .ok_or_else(|| convert::config(format!("{name} is not a writable register")))?;
            let x = convert::to_int(&v, name)?;
            let fits = if bits >= 128 {
                true
            } else {
                x < (1i128 << bits) && x >= -(1i128 << (bits - 1))
            };
            if !fits {
                return Err(convert::config(format!(
                    "{name} is a {bits}-bit register: {x:#x} does not fit"
                )));
            }
            RegValue::Int(x as u128)
        };
        named::set(&mut s, name, rv).map_err(convert::config)?;
        g.m.set_cpu_state(s);
        Ok(())
    }

    /// Every register name.
    pub fn names(&self) -> Array {
        named::names().into_iter().map(JsValue::from).collect()
    }
}

/// `Machine.regs`.
pub(crate) fn proxy(m: &Machine) -> JsValue {
    registers_proxy(Registers {
        machine: Machine {
            inner: m.inner.clone(),
            id: m.id,
        },
    })
}

/// `Machine.registers()`: every register in a plain object.
pub(crate) fn all(m: &Machine) -> Result<JsValue, JsValue> {
    let s = m.lock()?.m.cpu_state();
    let pairs: Vec<(String, JsValue)> = named::names()
        .into_iter()
        .filter_map(|n| named::get(&s, &n).map(|v| (n, value(v))))
        .collect();
    let refs: Vec<(&str, JsValue)> = pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    Ok(convert::object(&refs))
}
