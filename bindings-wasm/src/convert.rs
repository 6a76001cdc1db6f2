//! Conversions between JS values and vx86's types, and the JS errors vx86 throws: `Error`
//! objects whose `name` says the kind (the Python package's exception names: ConfigError,
//! ImageError, SnapshotError, ReplayError, ReplayDivergence, GuestFault,
//! UnsupportedInstruction, MachineBusy, SerialTimeout) with extra fields where useful.

use js_sys::{Array, BigInt, Object, Reflect, Uint8Array};
use vx86_core::VmError;
use wasm_bindgen::prelude::*;

/// A JS `Error` named `name` with `fields` set on it.
pub(crate) fn error(name: &str, msg: &str, fields: &[(&str, JsValue)]) -> JsValue {
    let e = js_sys::Error::new(msg);
    e.set_name(name);
    for (k, v) in fields {
        let _ = Reflect::set(&e, &JsValue::from_str(k), v);
    }
    e.into()
}

/// A `ConfigError`.
pub(crate) fn config(msg: impl AsRef<str>) -> JsValue {
    error("ConfigError", msg.as_ref(), &[])
}

/// The JS error for a core error.
pub(crate) fn vm(e: VmError) -> JsValue {
    let msg = e.to_string();
    match e {
        VmError::Config(_) | VmError::Overlap { .. } => error("ConfigError", &msg, &[]),
        VmError::Image(_) => error("ImageError", &msg, &[]),
        VmError::Snapshot(_) => error("SnapshotError", &msg, &[]),
        VmError::Replay(_) => error("ReplayError", &msg, &[]),
        VmError::PhysRange { addr, .. } => {
            error("GuestFault", &msg, &[("address", (addr as f64).into())])
        }
        VmError::NotMapped(addr) => error("GuestFault", &msg, &[("address", addr.into())]),
        VmError::Unsupported {
            cs,
            eip,
            bytes,
            mnemonic,
            ..
        } => error(
            "UnsupportedInstruction",
            &msg,
            &[
                ("cs", cs.into()),
                ("eip", eip.into()),
                ("mnemonic", mnemonic.into()),
                ("bytes", bytes.into()),
            ],
        ),
    }
}

/// `.js()?` on core results.
pub(crate) trait VmResult<T> {
    /// Converts the error with [`vm`].
    fn js(self) -> Result<T, JsValue>;
}

impl<T> VmResult<T> for Result<T, VmError> {
    fn js(self) -> Result<T, JsValue> {
        self.map_err(vm)
    }
}

/// A JS number for an integer up to 2^53, else a BigInt.
pub(crate) fn int(v: u128) -> JsValue {
    if v < 1 << 53 {
        JsValue::from_f64(v as f64)
    } else {
        BigInt::new(&JsValue::from_str(&v.to_string()))
            .map(JsValue::from)
            .unwrap_or(JsValue::NULL)
    }
}

/// An integer from a JS number (a non-negative integer, or negative for two's complement) or
/// BigInt, as the low 128 bits.
pub(crate) fn to_int(v: &JsValue, what: &str) -> Result<i128, JsValue> {
    if let Some(f) = v.as_f64() {
        if f.fract() != 0.0 || !f.is_finite() || f.abs() > 9_007_199_254_740_992.0 {
            return Err(config(format!(
                "{what}: {f} is not an integer a number can hold exactly (use a BigInt)"
            )));
        }
        return Ok(f as i128);
    }
    if v.is_bigint() {
        let text: String = BigInt::from(v.clone())
            .to_string(10)
            .map(String::from)
            .map_err(|_| config(format!("{what}: bad BigInt")))?;
        if let Ok(x) = text.parse::<i128>() {
            return Ok(x);
        }
        return text
            .parse::<u128>()
            .map(|x| x as i128)
            .map_err(|_| config(format!("{what}: {text} does not fit 128 bits")));
    }
    Err(config(format!("{what} takes a number or a BigInt")))
}

/// A count (an instruction budget): a non-negative integer number or BigInt.
pub(crate) fn to_count(v: &JsValue, what: &str) -> Result<u64, JsValue> {
    let x = to_int(v, what)?;
    u64::try_from(x).map_err(|_| config(format!("{what} must be a non-negative count")))
}

/// Bytes from a `Uint8Array` (or another array-like of bytes) or, with `text`, a string.
pub(crate) fn bytes(v: &JsValue, what: &str, text: bool) -> Result<Vec<u8>, JsValue> {
    if let Some(s) = v.as_string() {
        return if text {
            Ok(s.into_bytes())
        } else {
            Err(config(format!("{what} takes a Uint8Array, not a string")))
        };
    }
    if v.is_instance_of::<Uint8Array>()
        || v.is_instance_of::<js_sys::ArrayBuffer>()
        || Array::is_array(v)
    {
        return Ok(Uint8Array::new(v).to_vec());
    }
    Err(config(format!("{what} takes a Uint8Array")))
}

/// A plain JS object from key/value pairs.
pub(crate) fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

/// Property `key` of `obj`, if `obj` is an object and the property is neither undefined nor
/// null.
pub(crate) fn field(obj: &JsValue, key: &str) -> Option<JsValue> {
    if !obj.is_object() {
        return None;
    }
    Reflect::get(obj, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// A memory size: a number of bytes or a string like "256M", "16MiB", "1G".
pub(crate) fn memory_size(v: &JsValue) -> Result<usize, JsValue> {
    if let Some(s) = v.as_string() {
        let t = s.trim();
        let t = t
            .strip_suffix("iB")
            .or_else(|| t.strip_suffix('B'))
            .unwrap_or(t);
        let (digits, shift) = match t.chars().last() {
            Some('K' | 'k') => (&t[..t.len() - 1], 10),
            Some('M' | 'm') => (&t[..t.len() - 1], 20),
            Some('G' | 'g') => (&t[..t.len() - 1], 30),
            _ => (t, 0),
        };
        return digits
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(1 << shift))
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                config(format!(
                    "memory {s:?}: expected a size like \"256M\", \"16MiB\" or \"1G\""
                ))
            });
    }
    let n = to_count(v, "memory")?;
    usize::try_from(n).map_err(|_| config(format!("memory {n} is too large")))
}

/// Key ranges for a hook filter: a number, an array of numbers and `[first, last]` pairs
/// (inclusive). Each key at most `max`.
pub(crate) fn ranges(v: &JsValue, max: u32, what: &str) -> Result<Vec<(u32, u32)>, JsValue> {
    let key = |x: &JsValue| -> Result<u32, JsValue> {
        let k = to_int(x, what)?;
        u32::try_from(k)
            .ok()
            .filter(|&k| k <= max)
            .ok_or_else(|| config(format!("{what}: {k:#x} is outside 0..={max:#x}")))
    };
    let mut out = Vec::new();
    if Array::is_array(v) {
        for item in Array::from(v).iter() {
            if Array::is_array(&item) {
                let pair = Array::from(&item);
                if pair.length() != 2 {
                    return Err(config(format!("{what}: a range is [first, last]")));
                }
                let (a, b) = (key(&pair.get(0))?, key(&pair.get(1))?);
                out.push((a.min(b), a.max(b)));
            } else {
                let k = key(&item)?;
                out.push((k, k));
            }
        }
    } else {
        let k = key(v)?;
        out.push((k, k));
    }
    if out.is_empty() {
        return Err(config(format!("the {what} filter matches nothing")));
    }
    Ok(out)
}
