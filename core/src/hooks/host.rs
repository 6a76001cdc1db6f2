//! Host callbacks with filters, kept for a binding (Python, JavaScript): the registry every
//! binding needs, written once. A binding registers its callbacks (of any type `C`: a Python
//! or a JS function) with a kind and inclusive filter ranges; this sets up the core hooks
//! behind them.
//!
//! Two ways a host callback runs:
//! - **deferred** (code, interrupt, CR3): the core hook only stops the run
//!   ([`HookAction::Stop`]); the binding then calls the host callbacks that
//!   [`HostHooks::deferred_matching`] gives for [`crate::Machine::last_hook_event`], with the
//!   machine stopped at an instruction boundary and free to be read and changed, and runs on.
//! - **synchronous** (I/O, MMIO): the binding supplies the core callback (it must run inside
//!   the instruction, to be able to replace the value a read returns).

use super::{hook_fn, HookAction, HookEvent, HookFn, HookId};
use crate::Machine;

/// The kinds of host hook.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HostHookKind {
    /// Before an instruction at a linear address in the ranges.
    Code,
    /// Port accesses.
    Io,
    /// Device MMIO accesses (physical addresses).
    Mmio,
    /// Exception or interrupt delivery (vectors).
    Interrupt,
    /// CR3 loads (no ranges).
    Cr3,
}

impl HostHookKind {
    /// Whether callbacks of this kind run deferred (see the module header).
    pub fn deferred(self) -> bool {
        matches!(self, Self::Code | Self::Interrupt | Self::Cr3)
    }

    /// "code", "io", "mmio", "interrupt" or "cr3".
    pub fn name(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::Io => "io",
            Self::Mmio => "mmio",
            Self::Interrupt => "interrupt",
            Self::Cr3 => "cr3",
        }
    }
}

/// A registered host callback.
#[derive(Debug, Clone)]
pub struct HostHook<C> {
    /// Its id (unique within its registry).
    pub id: u64,
    /// Its kind.
    pub kind: HostHookKind,
    /// Inclusive ranges of addresses, ports or vectors.
    pub ranges: Vec<(u32, u32)>,
    /// The host's callback.
    pub callback: C,
    core: Vec<HookId>,
}

impl<C> HostHook<C> {
    fn matches(&self, key: u32) -> bool {
        self.ranges.iter().any(|&(a, b)| a <= key && key <= b)
    }
}

/// The host callbacks of one machine, in registration order.
#[derive(Debug, Clone)]
pub struct HostHooks<C> {
    hooks: Vec<HostHook<C>>,
    next_id: u64,
}

impl<C> Default for HostHooks<C> {
    fn default() -> Self {
        Self {
            hooks: Vec::new(),
            next_id: 1,
        }
    }
}

/// The kind of host hook a deferred event is for, and its filter key (address or vector;
/// 0 for CR3). `None` for I/O and MMIO events.
pub fn deferred_key(event: &HookEvent) -> Option<(HostHookKind, u32)> {
    match *event {
        HookEvent::Code { linear, .. } => Some((HostHookKind::Code, linear)),
        HookEvent::Interrupt { vector, .. } => Some((HostHookKind::Interrupt, vector.into())),
        HookEvent::Cr3Write { .. } => Some((HostHookKind::Cr3, 0)),
        HookEvent::Io { .. } | HookEvent::Mmio { .. } => None,
    }
}

fn add_core<C>(
    m: &mut Machine,
    kind: HostHookKind,
    ranges: &[(u32, u32)],
    callback: &C,
    sync: &mut impl FnMut(&C) -> HookFn,
) -> Vec<HookId> {
    let stop = || hook_fn(|_| HookAction::Stop);
    let hooks = m.hooks();
    match kind {
        HostHookKind::Cr3 => vec![hooks.add_cr3(stop())],
        _ => ranges
            .iter()
            .map(|&(a, b)| match kind {
                HostHookKind::Code => hooks.add_code(a, b, stop()),
                HostHookKind::Interrupt => hooks.add_interrupt(a as u8, b.min(0xFF) as u8, stop()),
                HostHookKind::Io => hooks.add_io(a as u16, b.min(0xFFFF) as u16, sync(callback)),
                _ => hooks.add_mmio(a, b, sync(callback)),
            })
            .collect(),
    }
}

impl<C> HostHooks<C> {
    /// Registers `callback` for events of `kind` whose key is in `ranges` (inclusive; ports
    /// and vectors are clamped to their width). `sync` makes the core callback of an I/O or
    /// MMIO hook. Returns the new hook's id.
    pub fn add(
        &mut self,
        m: &mut Machine,
        kind: HostHookKind,
        ranges: Vec<(u32, u32)>,
        callback: C,
        mut sync: impl FnMut(&C) -> HookFn,
    ) -> u64 {
        let core = add_core(m, kind, &ranges, &callback, &mut sync);
        let id = self.next_id;
        self.next_id += 1;
        self.hooks.push(HostHook {
            id,
            kind,
            ranges,
            callback,
            core,
        });
        id
    }

    /// Unregisters hook `id`; false if there is none.
    pub fn remove(&mut self, m: &mut Machine, id: u64) -> bool {
        let Some(i) = self.hooks.iter().position(|h| h.id == id) else {
            return false;
        };
        for c in self.hooks.remove(i).core {
            m.hooks().remove(c);
        }
        true
    }

    /// Sets the core hooks up again on `m` (a machine that replaced the one they were on, as
    /// after restoring a full snapshot).
    pub fn reattach(&mut self, m: &mut Machine, mut sync: impl FnMut(&C) -> HookFn) {
        for h in &mut self.hooks {
            h.core = add_core(m, h.kind, &h.ranges, &h.callback, &mut sync);
        }
    }

    /// Whether any deferred hook is registered (a run then returns at each of its events).
    pub fn any_deferred(&self) -> bool {
        self.hooks.iter().any(|h| h.kind.deferred())
    }

    /// The hooks a deferred event calls, in registration order.
    pub fn deferred_matching<'a>(
        &'a self,
        event: &HookEvent,
    ) -> impl Iterator<Item = &'a HostHook<C>> + 'a {
        let key = deferred_key(event);
        self.hooks
            .iter()
            .filter(move |h| key.is_some_and(|(k, v)| h.kind == k && h.matches(v)))
    }

    /// The hook with this id.
    pub fn get(&self, id: u64) -> Option<&HostHook<C>> {
        self.hooks.iter().find(|h| h.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ExitReason, MachineConfig};

    /// inc ax; out 0xE9, al; int 0x21 (handler: iret); jmp back
    fn machine() -> Machine {
        let mut m = Machine::new(MachineConfig::default()).unwrap();
        m.load_flat(&[0x40, 0xE6, 0xE9, 0xCD, 0x21, 0xEB, 0xF9], 0x7C00, 0x7C00)
            .unwrap();
        m.write_phys(0x7E00, &[0xCF]).unwrap();
        m.write_phys(0x21 * 4, &[0x00, 0x7E, 0x00, 0x00]).unwrap();
        m
    }

    #[test]
    fn deferred_hooks_stop_the_run_and_match_by_kind_and_range() {
        let mut m = machine();
        let mut hooks = HostHooks::<&str>::default();
        let none = |_: &&str| hook_fn(|_| HookAction::Continue);
        let a = hooks.add(
            &mut m,
            HostHookKind::Code,
            vec![(0x7C03, 0x7C03)],
            "int",
            none,
        );
        hooks.add(
            &mut m,
            HostHookKind::Interrupt,
            vec![(0x21, 0x21)],
            "vector",
            none,
        );
        hooks.add(
            &mut m,
            HostHookKind::Code,
            vec![(0x9000, 0x9FFF)],
            "far",
            none,
        );
        assert!(hooks.any_deferred());
        assert_eq!(m.run(100).unwrap(), ExitReason::Hooked);
        let ev = m.last_hook_event().unwrap();
        let names: Vec<_> = hooks.deferred_matching(&ev).map(|h| h.callback).collect();
        assert_eq!(names, ["int"]);
        assert_eq!(m.run(100).unwrap(), ExitReason::Hooked);
        let ev = m.last_hook_event().unwrap();
        let names: Vec<_> = hooks.deferred_matching(&ev).map(|h| h.callback).collect();
        assert_eq!(names, ["vector"]);
        assert!(hooks.remove(&mut m, a) && !hooks.remove(&mut m, a));
        assert!(hooks.get(a).is_none());
    }

    #[test]
    fn io_hooks_use_the_hosts_core_callback_and_survive_a_reattach() {
        let mut m = machine();
        let mut hooks = HostHooks::<u32>::default();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let mut sync = move |tag: &u32| {
            let (tag, log) = (*tag, log.clone());
            hook_fn(move |e| {
                log.lock().unwrap().push((tag, *e));
                HookAction::Continue
            })
        };
        hooks.add(&mut m, HostHookKind::Io, vec![(0xE9, 0xE9)], 7, &mut sync);
        m.run(8).unwrap();
        assert_eq!(seen.lock().unwrap().len(), 2, "two passes of the OUT");
        let mut fresh = machine();
        hooks.reattach(&mut fresh, &mut sync);
        fresh.run(2).unwrap();
        assert_eq!(seen.lock().unwrap().len(), 3);
        assert_eq!(seen.lock().unwrap()[2].0, 7);
    }
}
