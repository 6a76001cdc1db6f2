//! JS hooks with filters over the core's `hooks::host::HostHooks` registry: code, interrupt
//! and CR3 callbacks run deferred (the machine stopped at an instruction boundary, available
//! to the callback); I/O and MMIO callbacks run inside the instruction and may replace the
//! value a read returns.
//!
//! The core's callbacks must be `Send`; JS functions are not. WebAssembly here is single
//! threaded, so a synchronous hook's core callback carries only a key, and the JS function
//! lives in a thread-local table under it. The stop requests and the exceptions thrown by
//! synchronous callbacks are kept per machine the same way.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use js_sys::{Array, Function};
use vx86_core::hooks::host::HostHookKind;
use vx86_core::hooks::{hook_fn, HookAction, HookEvent, HookFn};
use wasm_bindgen::prelude::*;

use crate::machine::{Inner, Machine};

thread_local! {
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
    /// Synchronous callbacks by key.
    static SYNC: RefCell<BTreeMap<u64, Function>> = const { RefCell::new(BTreeMap::new()) };
    /// Machines asked to stop.
    static STOPS: RefCell<BTreeSet<u64>> = const { RefCell::new(BTreeSet::new()) };
    /// The first exception a synchronous callback threw, per machine.
    static ERRORS: RefCell<BTreeMap<u64, JsValue>> = const { RefCell::new(BTreeMap::new()) };
}

fn next_id() -> u64 {
    NEXT_ID.with(|n| {
        let v = n.get();
        n.set(v + 1);
        v
    })
}

/// A new machine id.
pub(crate) fn new_machine_id() -> u64 {
    next_id()
}

pub(crate) fn request_stop(machine: u64) {
    STOPS.with(|s| s.borrow_mut().insert(machine));
}

pub(crate) fn clear_stop(machine: u64) {
    STOPS.with(|s| s.borrow_mut().remove(&machine));
}

/// Whether a stop was requested (and clears the request).
pub(crate) fn take_stop(machine: u64) -> bool {
    STOPS.with(|s| s.borrow_mut().remove(&machine))
}

/// The exception a synchronous callback threw during the last run, if any.
pub(crate) fn take_error(machine: u64) -> Option<JsValue> {
    ERRORS.with(|e| e.borrow_mut().remove(&machine))
}

/// The core callback of a synchronous hook whose JS function is under `key`.
fn sync_core(machine: u64) -> impl FnMut(&(Function, u64)) -> HookFn {
    move |&(_, key)| {
        hook_fn(move |e| {
            let Some(f) = SYNC.with(|s| s.borrow().get(&key).cloned()) else {
                return HookAction::Continue;
            };
            let (addr, size, write, value) = match *e {
                HookEvent::Io {
                    port,
                    size,
                    write,
                    value,
                } => (u32::from(port), size, write, value),
                HookEvent::Mmio {
                    addr,
                    size,
                    write,
                    value,
                } => (addr, size, write, value),
                _ => return HookAction::Continue,
            };
            let args = Array::of4(&addr.into(), &size.into(), &write.into(), &value.into());
            let stopped = |m| STOPS.with(|s| s.borrow().contains(&m));
            match f.apply(&JsValue::NULL, &args) {
                Err(err) => {
                    ERRORS.with(|x| {
                        x.borrow_mut().entry(machine).or_insert(err);
                    });
                    HookAction::Stop
                }
                Ok(_) if stopped(machine) => HookAction::Stop,
                Ok(v) => match v.as_f64() {
                    Some(x) if x >= 0.0 && x <= f64::from(u32::MAX) && x.fract() == 0.0 => {
                        HookAction::Replace(x as u32)
                    }
                    _ => HookAction::Continue,
                },
            }
        })
    }
}

/// The callbacks a deferred event calls, with their arguments, in registration order.
pub(crate) fn deferred_calls(g: &Inner, event: &HookEvent) -> Vec<(Function, Array)> {
    let args = match *event {
        HookEvent::Code { linear, .. } => Array::of1(&linear.into()),
        HookEvent::Interrupt { vector, external } => Array::of2(&vector.into(), &external.into()),
        HookEvent::Cr3Write { old, new } => Array::of2(&old.into(), &new.into()),
        _ => return Vec::new(),
    };
    g.hooks
        .deferred_matching(event)
        .map(|h| (h.callback.0.clone(), args.clone()))
        .collect()
}

/// Sets the core hooks up again on a machine that replaced the old one (full restore).
pub(crate) fn reattach(m: &Machine, g: &mut Inner) {
    let Inner { m: core, hooks, .. } = g;
    hooks.reattach(core, sync_core(m.id));
}

pub(crate) fn register(
    m: &Machine,
    kind: HostHookKind,
    ranges: Vec<(u32, u32)>,
    callback: Function,
) -> Result<Hook, JsValue> {
    let key = next_id();
    if !kind.deferred() {
        SYNC.with(|s| s.borrow_mut().insert(key, callback.clone()));
    }
    let mut g = m.lock()?;
    let Inner { m: core, hooks, .. } = &mut *g;
    let id = hooks.add(core, kind, ranges.clone(), (callback, key), sync_core(m.id));
    Ok(Hook {
        machine: Machine {
            inner: m.inner.clone(),
            id: m.id,
        },
        id,
        key,
        kind: kind.name(),
        ranges,
    })
}

/// A registered hook.
#[wasm_bindgen]
pub struct Hook {
    machine: Machine,
    id: u64,
    key: u64,
    kind: &'static str,
    ranges: Vec<(u32, u32)>,
}

#[wasm_bindgen]
impl Hook {
    /// Unregisters the hook; false if it was removed already.
    pub fn remove(&self) -> Result<bool, JsValue> {
        let mut g = self.machine.lock()?;
        let Inner { m: core, hooks, .. } = &mut *g;
        let removed = hooks.remove(core, self.id);
        SYNC.with(|s| s.borrow_mut().remove(&self.key));
        Ok(removed)
    }

    /// "code", "io", "mmio", "interrupt" or "cr3".
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        self.kind.into()
    }

    /// The filter as `[first, last]` inclusive ranges.
    #[wasm_bindgen(getter)]
    pub fn ranges(&self) -> Array {
        self.ranges
            .iter()
            .map(|&(a, b)| JsValue::from(Array::of2(&a.into(), &b.into())))
            .collect()
    }
}
