//! Hooks (DESIGN.md, "hooks/"): host callbacks on guest events, registered with filters so that
//! only matching events reach the host (and, through a binding, another language).
//!
//! Kinds and when the callback runs:
//! - **code** (a range of linear addresses): before the instruction at a matching address
//!   executes. A decoded block with a code hook or breakpoint on any of its instructions runs
//!   one instruction per dispatch (so the check is exact); other blocks run whole, as without
//!   hooks.
//! - **I/O** (a range of ports): on every port access the guest makes in it, after the device
//!   answered a read; the callback may return [`HookAction::Replace`] to change the value the
//!   guest reads.
//! - **MMIO** (a range of physical addresses): on accesses that reach a device's MMIO range
//!   (RAM accesses never do), same contract as I/O.
//! - **interrupt** (a range of vectors): before an exception or interrupt is delivered.
//! - **CR3 write**: after MOV CR3 or a task switch loaded CR3, with the old and new values.
//!
//! A callback returning [`HookAction::Stop`] makes `Machine::run` return
//! [`crate::ExitReason::Hooked`]: for a code hook before the instruction runs (running again
//! executes it without calling the hook for it a second time), for the others after the
//! instruction (or interrupt delivery) that caused the event. [`Machine::last_hook_event`]
//! tells which event stopped the run.
//!
//! Hooks are host configuration, not machine state: snapshots and the state hash leave them
//! out, and a machine built from a snapshot has none. A hook that replaces values the guest
//! reads is an input the replay log does not record.
//!
//! [`Machine::last_hook_event`]: crate::Machine::last_hook_event

pub mod host;

use std::sync::{Arc, Mutex};

/// An event a hook saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookEvent {
    /// The instruction at `linear` (CS base + `eip`) is about to execute.
    Code {
        /// Linear address of the instruction.
        linear: u32,
        /// EIP (offset in CS).
        eip: u32,
    },
    /// A port access: `value` is what the device returned (read) or the guest wrote.
    Io {
        /// The port.
        port: u16,
        /// Access size in bytes (1, 2 or 4).
        size: u8,
        /// Whether the guest wrote.
        write: bool,
        /// The value.
        value: u32,
    },
    /// An access to a device's MMIO range.
    Mmio {
        /// Guest physical address.
        addr: u32,
        /// Access size in bytes.
        size: u8,
        /// Whether the guest wrote.
        write: bool,
        /// The value read or written.
        value: u32,
    },
    /// An exception or interrupt is about to be delivered.
    Interrupt {
        /// Its vector.
        vector: u8,
        /// True for an external interrupt (INTR line), false for an exception or INT n.
        external: bool,
    },
    /// CR3 was loaded.
    Cr3Write {
        /// The previous value.
        old: u32,
        /// The new value.
        new: u32,
    },
}

/// What a hook callback asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookAction {
    /// Go on.
    Continue,
    /// Make `run` return [`crate::ExitReason::Hooked`] (see the module header).
    Stop,
    /// For an I/O or MMIO read: the guest reads this value instead (else like `Continue`).
    Replace(u32),
}

/// A hook callback. Shared (`Arc`) so that a cloned machine calls the same host code.
pub type HookFn = Arc<Mutex<dyn FnMut(&HookEvent) -> HookAction + Send>>;

/// Wraps a closure as a [`HookFn`].
pub fn hook_fn(f: impl FnMut(&HookEvent) -> HookAction + Send + 'static) -> HookFn {
    Arc::new(Mutex::new(f))
}

/// Identifies a registered hook (to remove it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HookId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Code,
    Io,
    Mmio,
    Interrupt,
    Cr3,
}

#[derive(Clone)]
struct Entry {
    id: HookId,
    kind: Kind,
    /// Inclusive range of addresses, ports or vectors (unused for CR3).
    start: u32,
    end: u32,
    f: HookFn,
}

/// The registry: hooks by kind, with quick "is there any" flags for the hot paths.
#[derive(Clone, Default)]
pub struct Hooks {
    entries: Vec<Entry>,
    next_id: u32,
    pub(crate) any_code: bool,
    pub(crate) any_io: bool,
    pub(crate) any_mmio: bool,
    pub(crate) any_interrupt: bool,
    pub(crate) any_cr3: bool,
    /// Set when a callback asked to stop; taken by the run loop.
    pub(crate) stop: Option<HookEvent>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("count", &self.entries.len())
            .finish()
    }
}

impl Hooks {
    fn add(&mut self, kind: Kind, start: u32, end: u32, f: HookFn) -> HookId {
        let id = HookId(self.next_id);
        self.next_id += 1;
        self.entries.push(Entry {
            id,
            kind,
            start: start.min(end),
            end: start.max(end),
            f,
        });
        self.refresh();
        id
    }

    fn refresh(&mut self) {
        let has = |k| self.entries.iter().any(|e| e.kind == k);
        self.any_code = has(Kind::Code);
        self.any_io = has(Kind::Io);
        self.any_mmio = has(Kind::Mmio);
        self.any_interrupt = has(Kind::Interrupt);
        self.any_cr3 = has(Kind::Cr3);
    }

    /// Calls a code hook on linear addresses `start..=end`.
    pub fn add_code(&mut self, start: u32, end: u32, f: HookFn) -> HookId {
        self.add(Kind::Code, start, end, f)
    }

    /// Calls an I/O hook on ports `start..=end`.
    pub fn add_io(&mut self, start: u16, end: u16, f: HookFn) -> HookId {
        self.add(Kind::Io, start as u32, end as u32, f)
    }

    /// Calls an MMIO hook on physical addresses `start..=end`.
    pub fn add_mmio(&mut self, start: u32, end: u32, f: HookFn) -> HookId {
        self.add(Kind::Mmio, start, end, f)
    }

    /// Calls an interrupt hook on vectors `start..=end`.
    pub fn add_interrupt(&mut self, start: u8, end: u8, f: HookFn) -> HookId {
        self.add(Kind::Interrupt, start as u32, end as u32, f)
    }

    /// Calls a hook on every CR3 load.
    pub fn add_cr3(&mut self, f: HookFn) -> HookId {
        self.add(Kind::Cr3, 0, u32::MAX, f)
    }

    /// Removes a hook; false if there was none with this id.
    pub fn remove(&mut self, id: HookId) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e.id != id);
        self.refresh();
        self.entries.len() != before
    }

    /// Calls every hook of `kind` whose range holds `key`; returns the value to substitute,
    /// if one asked. A `Stop` is remembered for the run loop.
    fn fire(&mut self, kind: Kind, key: u32, event: HookEvent) -> Option<u32> {
        let mut replace = None;
        for e in &self.entries {
            if e.kind != kind || key < e.start || key > e.end {
                continue;
            }
            let action = match e.f.lock() {
                Ok(mut f) => f(&event),
                // a callback panicked earlier: stop rather than call it again
                Err(_) => HookAction::Stop,
            };
            match action {
                HookAction::Continue => {}
                HookAction::Stop => self.stop = Some(event),
                HookAction::Replace(v) => replace = Some(v),
            }
        }
        replace
    }

    /// Whether a code hook covers any linear address in `first..=last` (`first > last`: the
    /// range wraps around 4 GiB).
    pub(crate) fn code_in(&self, first: u32, last: u32) -> bool {
        let hit = |lo: u32, hi: u32| {
            self.entries
                .iter()
                .any(|e| e.kind == Kind::Code && e.start <= hi && e.end >= lo)
        };
        if first <= last {
            hit(first, last)
        } else {
            hit(first, u32::MAX) || hit(0, last)
        }
    }

    /// Code hooks for the instruction at `linear`; true if one asked to stop.
    pub(crate) fn code(&mut self, linear: u32, eip: u32) -> bool {
        self.fire(Kind::Code, linear, HookEvent::Code { linear, eip });
        self.stop.is_some()
    }

    /// I/O hooks; returns the value the guest reads (for writes, `value` unchanged).
    pub(crate) fn io(&mut self, port: u16, size: usize, write: bool, value: u32) -> u32 {
        let ev = HookEvent::Io {
            port,
            size: size as u8,
            write,
            value,
        };
        let r = self.fire(Kind::Io, port as u32, ev);
        if write {
            value
        } else {
            r.unwrap_or(value)
        }
    }

    /// MMIO hooks; returns the value the guest reads (for writes, `value` unchanged).
    pub(crate) fn mmio(&mut self, addr: u32, size: usize, write: bool, value: u32) -> u32 {
        let ev = HookEvent::Mmio {
            addr,
            size: size as u8,
            write,
            value,
        };
        let r = self.fire(Kind::Mmio, addr, ev);
        if write {
            value
        } else {
            r.unwrap_or(value)
        }
    }

    /// Interrupt hooks before delivering `vector`.
    pub(crate) fn interrupt(&mut self, vector: u8, external: bool) {
        self.fire(
            Kind::Interrupt,
            vector as u32,
            HookEvent::Interrupt { vector, external },
        );
    }

    /// CR3 hooks after a load.
    pub(crate) fn cr3(&mut self, old: u32, new: u32) {
        self.fire(Kind::Cr3, 0, HookEvent::Cr3Write { old, new });
    }
}
