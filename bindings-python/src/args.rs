//! Converting Python arguments: bytes-like objects, image files, memory sizes and the
//! address/port/vector filters of hooks.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::errors;

/// The bytes of a bytes-like object (`bytes`, `bytearray`, `memoryview`, `array`, ...).
pub(crate) fn bytes_of(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    let py = obj.py();
    if obj.is_instance_of::<PyString>() {
        return Err(errors::config(
            py,
            "expected a bytes-like object, got str (encode it, e.g. text.encode())",
        ));
    }
    let b = py.get_type::<PyBytes>().call1((obj,)).map_err(|_| {
        errors::config(
            py,
            format!(
                "expected a bytes-like object, got {}",
                obj.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ),
        )
    })?;
    Ok(b.cast::<PyBytes>()?.as_bytes().to_vec())
}

/// An image argument: a path (`str` or `os.PathLike`: the file is read) or a bytes-like
/// object. Returns the bytes and the path if one was given.
pub(crate) fn image_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<(Vec<u8>, Option<String>)> {
    let py = obj.py();
    if obj.is_instance_of::<PyString>() || obj.hasattr("__fspath__")? {
        let path: String = py.import("os")?.call_method1("fspath", (obj,))?.extract()?;
        let bytes = std::fs::read(&path)
            .map_err(|e| errors::error(py, "ImageError", format!("{what} {path}: {e}")))?;
        return Ok((bytes, Some(path)));
    }
    Ok((bytes_of(obj)?, None))
}

/// A memory size: an int (bytes) or a string like "256M", "16MiB", "1G", "65536".
pub(crate) fn memory_size(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<usize> {
    if let Ok(n) = obj.extract::<u64>() {
        return usize::try_from(n)
            .map_err(|_| errors::config(py, format!("memory {n} is too large")));
    }
    let text: String = obj
        .extract()
        .map_err(|_| errors::config(py, "memory is an int (bytes) or a string like \"256M\""))?;
    parse_size(&text).ok_or_else(|| {
        errors::config(
            py,
            format!(
                "memory {text:?}: expected a size like \"256M\", \"16MiB\", \"1G\" or \"65536\""
            ),
        )
    })
}

/// Parses "256M", "16MiB", "1g", "4096", "64K" (binary units).
fn parse_size(text: &str) -> Option<usize> {
    let t = text.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix("ib"))
        .or_else(|| t.strip_suffix('B'))
        .or_else(|| t.strip_suffix('b'))
        .unwrap_or(t);
    let (digits, shift) = match t.chars().last()? {
        'K' | 'k' => (&t[..t.len() - 1], 10),
        'M' | 'm' => (&t[..t.len() - 1], 20),
        'G' | 'g' => (&t[..t.len() - 1], 30),
        _ => (t, 0),
    };
    let n: u64 = digits.trim().replace('_', "").parse().ok()?;
    let bytes = n.checked_mul(1u64 << shift)?;
    usize::try_from(bytes).ok()
}

/// A filter of keys (ports, vectors): an int, a `range` (step 1), or an iterable of ints
/// and ranges. Returns inclusive `(first, last)` ranges, sorted and merged; each key must be
/// at most `max`.
pub(crate) fn key_ranges(
    obj: &Bound<'_, PyAny>,
    max: u32,
    what: &str,
) -> PyResult<Vec<(u32, u32)>> {
    let py = obj.py();
    let mut out = Vec::new();
    collect_ranges(obj, max, what, &mut out, true)?;
    if out.is_empty() {
        return Err(errors::config(
            py,
            format!("the {what} filter matches nothing"),
        ));
    }
    out.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(out.len());
    for (a, b) in out {
        match merged.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    Ok(merged)
}

fn collect_ranges(
    obj: &Bound<'_, PyAny>,
    max: u32,
    what: &str,
    out: &mut Vec<(u32, u32)>,
    top: bool,
) -> PyResult<()> {
    let py = obj.py();
    let bad = |detail: String| errors::config(py, format!("{what}: {detail}"));
    let check = |v: i64| -> PyResult<u32> {
        if v < 0 || v > i64::from(max) {
            Err(bad(format!("{v:#x} is outside 0..={max:#x}")))
        } else {
            Ok(v as u32)
        }
    };
    if let Ok(v) = obj.extract::<i64>() {
        let v = check(v)?;
        out.push((v, v));
        return Ok(());
    }
    let range_type = py.import("builtins")?.getattr("range")?;
    if obj.is_instance(&range_type)? {
        let (start, stop, step): (i64, i64, i64) = (
            obj.getattr("start")?.extract()?,
            obj.getattr("stop")?.extract()?,
            obj.getattr("step")?.extract()?,
        );
        if step != 1 {
            return Err(bad("a range filter needs step 1".into()));
        }
        if stop > start {
            out.push((check(start)?, check(stop - 1)?));
        }
        return Ok(());
    }
    if top && !obj.is_instance_of::<PyString>() {
        if let Ok(iter) = obj.try_iter() {
            for item in iter {
                collect_ranges(&item?, max, what, out, false)?;
            }
            return Ok(());
        }
    }
    Err(bad(format!(
        "expected an int, a range or a list of them, got {}",
        obj.get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default()
    )))
}
