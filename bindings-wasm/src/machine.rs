//! The JS `Machine` class: a thin layer over `vx86_core::Machine` (DESIGN.md, "Public API";
//! names are the camelCase of the Python package's). The core machine sits in a `RefCell`:
//! methods borrow it only around core calls, so hook callbacks may call back into the machine
//! at instruction boundaries; a call made while it is borrowed (from an I/O or MMIO hook,
//! which runs mid-instruction) throws `MachineBusy`.
//!
//! Long runs block the thread they run on: run the machine in a Web Worker (see web-demo/)
//! and give `run` an instruction budget per slice.

use std::cell::{RefCell, RefMut};
use std::rc::Rc;

use js_sys::{Function, Uint8Array};
use vx86_core::hooks::host::{HostHookKind, HostHooks};
use vx86_core::{ExitReason, MachineConfig, SegReg};
use wasm_bindgen::prelude::*;

use crate::convert::{self, VmResult};
use crate::hooks;

/// A JS callback of a host hook, with the key under which a synchronous one is reachable
/// from its core callback (see hooks.rs).
pub(crate) type JsHooks = HostHooks<(Function, u64)>;

/// The machine and what the binding keeps beside it.
pub(crate) struct Inner {
    pub(crate) m: vx86_core::Machine,
    /// COM1 output not consumed yet.
    pub(crate) serial: Vec<u8>,
    /// Port-0xE9 output not consumed yet.
    pub(crate) debug: Vec<u8>,
    /// virtio-console output not consumed yet.
    pub(crate) console: Vec<u8>,
    pub(crate) hooks: JsHooks,
    /// `loadLinux` ran and the machine has not run since: a recording can reference the
    /// images by hash instead of embedding a snapshot.
    pub(crate) linux_at_start: bool,
}

impl Inner {
    pub(crate) fn collect_output(&mut self) {
        self.serial.extend(self.m.take_serial_output());
        self.debug.extend(self.m.take_debug_output());
        self.console.extend(self.m.take_console_output());
    }

    /// Drops the unconsumed output (after a restore: it belongs to the abandoned timeline).
    pub(crate) fn clear_output(&mut self) {
        self.m.take_serial_output();
        self.m.take_debug_output();
        self.m.take_console_output();
        self.serial.clear();
        self.debug.clear();
        self.console.clear();
    }
}

/// Which unconsumed output a wait looks at.
#[derive(Clone, Copy)]
pub(crate) enum Stream {
    Serial,
    Console,
}

impl Stream {
    fn buffer(self, g: &mut Inner) -> &mut Vec<u8> {
        match self {
            Stream::Serial => &mut g.serial,
            Stream::Console => &mut g.console,
        }
    }

    /// (method name, error name).
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Stream::Serial => ("waitSerial", "SerialTimeout"),
            Stream::Console => ("waitConsole", "ConsoleTimeout"),
        }
    }
}

/// A whole deterministic x86 PC.
#[wasm_bindgen]
pub struct Machine {
    pub(crate) inner: Rc<RefCell<Inner>>,
    /// Identifies the machine to its synchronous hooks' core callbacks.
    pub(crate) id: u64,
}

impl Machine {
    pub(crate) fn from_core(m: vx86_core::Machine) -> Self {
        Self {
            inner: Rc::new(RefCell::new(Inner {
                m,
                serial: Vec::new(),
                debug: Vec::new(),
                console: Vec::new(),
                hooks: JsHooks::default(),
                linux_at_start: false,
            })),
            id: hooks::new_machine_id(),
        }
    }

    /// The machine, or `MachineBusy`.
    pub(crate) fn lock(&self) -> Result<RefMut<'_, Inner>, JsValue> {
        self.inner.try_borrow_mut().map_err(|_| {
            convert::error(
                "MachineBusy",
                "the machine is running (this is an I/O or MMIO hook callback, which runs \
                 mid-instruction and gets only its arguments)",
                &[],
            )
        })
    }

    pub(crate) fn exit(&self, g: &Inner, reason: &str, start: u64) -> JsValue {
        let eip = g.m.cpu_state().eip;
        convert::object(&[
            ("reason", reason.into()),
            (
                "instructions",
                ((g.m.instruction_count() - start) as f64).into(),
            ),
            ("instructionCount", (g.m.instruction_count() as f64).into()),
            ("eip", eip.into()),
            ("rip", eip.into()),
        ])
    }

    /// The run loop behind `run`, `step` and `waitSerial`.
    pub(crate) fn run_impl(
        &self,
        max: Option<u64>,
        until: Option<u32>,
    ) -> Result<JsValue, JsValue> {
        let start = self.lock()?.m.instruction_count();
        let end = max.map(|n| start.saturating_add(n));
        hooks::clear_stop(self.id);
        loop {
            let mut g = self.lock()?;
            let left = end.map_or(u64::MAX, |e| e - g.m.instruction_count());
            if left == 0 {
                return Ok(self.exit(&g, "budget", start));
            }
            g.linux_at_start = false;
            let r = g.m.run_until(left, until);
            g.collect_output();
            if let Some(e) = hooks::take_error(self.id) {
                return Err(e);
            }
            match r.js()? {
                ExitReason::BudgetReached => {}
                ExitReason::Hooked => {
                    if hooks::take_stop(self.id) {
                        return Ok(self.exit(&g, "hook", start));
                    }
                    let Some(event) = g.m.last_hook_event() else {
                        continue;
                    };
                    let calls = hooks::deferred_calls(&g, &event);
                    drop(g);
                    for (f, args) in calls {
                        f.apply(&JsValue::NULL, &args)?;
                    }
                    if hooks::take_stop(self.id) {
                        let g = self.lock()?;
                        return Ok(self.exit(&g, "hook", start));
                    }
                }
                ExitReason::Breakpoint => {
                    let s = g.m.cpu_state();
                    let linear = s.segs[SegReg::Cs as usize].base.wrapping_add(s.eip);
                    let reason = if until == Some(linear) {
                        "until"
                    } else {
                        "breakpoint"
                    };
                    return Ok(self.exit(&g, reason, start));
                }
                other => return Ok(self.exit(&g, other.name(), start)),
            }
        }
    }
}

impl Machine {
    /// `waitSerial` / `waitConsole`: runs until `text` appears in the unconsumed output of
    /// `stream`.
    pub(crate) fn wait_for(
        &self,
        stream: Stream,
        text: &JsValue,
        max_instructions: &JsValue,
    ) -> Result<Uint8Array, JsValue> {
        let (method, timeout) = stream.names();
        let needle = convert::bytes(text, method, true)?;
        if needle.is_empty() {
            return Err(convert::config(format!("{method} needs a non-empty text")));
        }
        let max = opt_count(max_instructions, "maxInstructions")?;
        let start = self.lock()?.m.instruction_count();
        let deadline = max.map(|n| start.saturating_add(n));
        let find = |g: &mut Inner| -> Option<Vec<u8>> {
            g.collect_output();
            let buf = stream.buffer(g);
            let p = buf
                .windows(needle.len())
                .position(|w| w == needle.as_slice())?;
            Some(buf.drain(..p + needle.len()).collect())
        };
        loop {
            let now = {
                let mut g = self.lock()?;
                if let Some(out) = find(&mut g) {
                    return Ok(Uint8Array::from(out.as_slice()));
                }
                g.m.instruction_count()
            };
            let left = deadline.map(|d| d.saturating_sub(now));
            let exit = if left == Some(0) {
                let g = self.lock()?;
                self.exit(&g, "budget", start)
            } else {
                let e = self.run_impl(Some(left.unwrap_or(u64::MAX).min(1_000_000)), None)?;
                if convert::field(&e, "reason")
                    .and_then(|r| r.as_string())
                    .as_deref()
                    == Some("budget")
                {
                    continue;
                }
                if let Some(out) = find(&mut *self.lock()?) {
                    return Ok(Uint8Array::from(out.as_slice()));
                }
                e
            };
            let what = String::from_utf8_lossy(&needle);
            let output = Uint8Array::from(stream.buffer(&mut *self.lock()?).as_slice());
            return Err(convert::error(
                timeout,
                &format!("{what:?} did not appear (the run ended: see exit.reason)"),
                &[("output", output.into()), ("exit", exit)],
            ));
        }
    }
}

pub(crate) fn opt_count(v: &JsValue, what: &str) -> Result<Option<u64>, JsValue> {
    if v.is_undefined() || v.is_null() {
        Ok(None)
    } else {
        convert::to_count(v, what).map(Some)
    }
}

#[wasm_bindgen]
impl Machine {
    /// `new Machine({memory: "256M", seed: 0, cpuHz, apic: true, startTime, debugConsole:
    /// true})`: a new machine, powered on, nothing loaded. Every option is optional.
    ///
    /// Virtio devices (PCI functions from slot 2 on, in this order): `disks`, an array of
    /// images (`Uint8Array`s, or `{image, readOnly}`; whole 512-byte sectors) for virtio-blk,
    /// the guest's vda, vdb, ...; `net`: `true` or a MAC address `"52:54:00:12:34:56"`
    /// (virtio-net); `virtioConsole: true` (hvc0); `rng: true` (virtio-rng, seeded by
    /// `seed`); `balloon: true` (virtio-balloon).
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<Machine, JsValue> {
        let d = MachineConfig::default();
        let f = |k: &str| convert::field(&options, k);
        let flag = |k: &str, default: bool| f(k).map_or(default, |v| v.is_truthy());
        let config = MachineConfig {
            ram_size: f("memory").map_or(Ok(256 << 20), |v| convert::memory_size(&v))?,
            seed: f("seed").map_or(Ok(0), |v| convert::to_count(&v, "seed"))?,
            cpu_hz: f("cpuHz").map_or(Ok(d.cpu_hz), |v| convert::to_count(&v, "cpuHz"))?,
            start_time_unix: f("startTime").map_or(Ok(d.start_time_unix), |v| {
                convert::to_count(&v, "startTime")
            })?,
            apic: flag("apic", true),
            debug_console: flag("debugConsole", true),
            ..d
        };
        if config.cpu_hz == 0 {
            return Err(convert::config("cpuHz must be at least 1"));
        }
        let (virtio, images) = crate::virtio::config_of(&options)?;
        let config = MachineConfig { virtio, ..config };
        Ok(Self::from_core(
            vx86_core::Machine::with_disks(config, images).js()?,
        ))
    }

    /// Loads a Linux bzImage and optional initrd with the kernel command line. With
    /// `directKernel` true the kernel is decompressed here (xz payloads) and entered past the
    /// bzImage's decompressor, which then does not run in the guest.
    #[wasm_bindgen(js_name = loadLinux)]
    pub fn load_linux(
        &self,
        kernel: &[u8],
        initrd: Option<Vec<u8>>,
        cmdline: Option<String>,
        direct_kernel: Option<bool>,
    ) -> Result<(), JsValue> {
        let mut g = self.lock()?;
        let entry = vx86_core::KernelEntry::from_direct_flag(direct_kernel.unwrap_or(false));
        let cmdline = cmdline.as_deref().unwrap_or("");
        g.m.load_linux_with(kernel, initrd.as_deref(), cmdline, entry)
            .js()?;
        g.linux_at_start = g.m.instruction_count() == 0;
        Ok(())
    }

    /// Loads a Multiboot (v1) ELF kernel with its command line.
    #[wasm_bindgen(js_name = loadMultiboot)]
    pub fn load_multiboot(&self, elf: &[u8], cmdline: Option<String>) -> Result<(), JsValue> {
        self.lock()?
            .m
            .load_multiboot(elf, cmdline.as_deref().unwrap_or(""))
            .js()
    }

    /// Copies raw code to physical `address` (default 0x7C00) and starts the CPU in real mode
    /// at CS = 0, IP = `entry` (default: `address`).
    #[wasm_bindgen(js_name = loadFlat)]
    pub fn load_flat(
        &self,
        code: &[u8],
        address: Option<u32>,
        entry: Option<u32>,
    ) -> Result<(), JsValue> {
        let address = address.unwrap_or(0x7C00);
        let entry = entry.unwrap_or(address);
        let entry = u16::try_from(entry).map_err(|_| {
            convert::config(format!(
                "entry {entry:#x} must fit 16 bits (real mode, CS = 0)"
            ))
        })?;
        self.lock()?.m.load_flat(code, address, entry).js()
    }

    /// Runs until `maxInstructions` more instructions retired (undefined: no limit), the
    /// linear address `until` is about to execute, a breakpoint, a hook's `stop()`, or the
    /// machine halts, powers off, resets or shuts down. Returns `{reason, instructions,
    /// instructionCount, eip, rip}`.
    pub fn run(&self, max_instructions: JsValue, until: Option<u32>) -> Result<JsValue, JsValue> {
        let max = opt_count(&max_instructions, "maxInstructions")?;
        self.run_impl(max, until)
    }

    /// Executes one instruction (or one REP iteration).
    pub fn step(&self) -> Result<JsValue, JsValue> {
        self.run_impl(Some(1), None)
    }

    /// Makes the current run (from a hook callback) return with reason "hook".
    pub fn stop(&self) {
        hooks::request_stop(self.id);
    }

    /// Instructions retired since the machine started.
    #[wasm_bindgen(getter, js_name = instructionCount)]
    pub fn instruction_count(&self) -> Result<f64, JsValue> {
        Ok(self.lock()?.m.instruction_count() as f64)
    }

    /// Virtual time since the machine started, in nanoseconds.
    #[wasm_bindgen(getter, js_name = virtualTimeNs)]
    pub fn virtual_time_ns(&self) -> Result<f64, JsValue> {
        Ok(self.lock()?.m.virtual_time_ns() as f64)
    }

    /// Host pacing: with a number (virtual ns), a halted guest skips idle time only to timer
    /// deadlines up to it, and `run` returns with reason "idle" instead of going further;
    /// `null` lifts the limit. A page moves it with the wall clock so an idle guest costs
    /// nothing and its clock keeps step with real time. Never changes what the guest sees for
    /// the inputs it gets (see `Machine::set_idle_limit` in vx86-core).
    #[wasm_bindgen(js_name = setIdleLimit)]
    pub fn set_idle_limit(&self, limit_ns: Option<f64>) -> Result<(), JsValue> {
        self.lock()?
            .m
            .set_idle_limit(limit_ns.map(|v| v.max(0.0) as u64));
        Ok(())
    }

    /// The virtual time (ns) of the next timer deadline, or undefined.
    #[wasm_bindgen(getter, js_name = nextTimerNs)]
    pub fn next_timer_ns(&self) -> Result<Option<f64>, JsValue> {
        Ok(self.lock()?.m.next_timer_ns().map(|v| v as f64))
    }

    /// Whether the CPU is halted (HLT, waiting for an interrupt).
    #[wasm_bindgen(getter)]
    pub fn halted(&self) -> Result<bool, JsValue> {
        Ok(self.lock()?.m.cpu_state().halted)
    }

    /// Guest RAM in bytes.
    #[wasm_bindgen(getter)]
    pub fn memory(&self) -> Result<f64, JsValue> {
        Ok(self.lock()?.m.config().ram_size as f64)
    }

    /// `size` bytes of guest physical memory at `address`.
    #[wasm_bindgen(js_name = readPhys)]
    pub fn read_phys(&self, address: f64, size: usize) -> Result<Uint8Array, JsValue> {
        let mut buf = vec![0; size];
        self.lock()?.m.read_phys(address as u64, &mut buf).js()?;
        Ok(Uint8Array::from(buf.as_slice()))
    }

    /// Writes guest physical memory.
    #[wasm_bindgen(js_name = writePhys)]
    pub fn write_phys(&self, address: f64, data: &[u8]) -> Result<(), JsValue> {
        self.lock()?.m.write_phys(address as u64, data).js()
    }

    /// `size` bytes at linear address `address` through the guest's page tables (debugger
    /// rights; an unmapped page throws GuestFault).
    #[wasm_bindgen(js_name = readVirt)]
    pub fn read_virt(&self, address: u32, size: usize) -> Result<Uint8Array, JsValue> {
        let mut buf = vec![0; size];
        self.lock()?.m.read_virt(address, &mut buf).js()?;
        Ok(Uint8Array::from(buf.as_slice()))
    }

    /// Writes at linear address `address` through the guest's page tables (nothing is
    /// written if a page is unmapped).
    #[wasm_bindgen(js_name = writeVirt)]
    pub fn write_virt(&self, address: u32, data: &[u8]) -> Result<(), JsValue> {
        let mut g = self.lock()?;
        let mut probe = vec![0; data.len()];
        g.m.read_virt(address, &mut probe).js()?;
        g.m.write_virt(address, data).js()
    }

    /// The page walk for linear address `address`: `{address, steps: [{level, entryAddress,
    /// entry}], physical, fault, pageSize, writable, user, noExec, global, dirty}`.
    pub fn translate(&self, address: u32) -> Result<JsValue, JsValue> {
        let w = self.lock()?.m.translate(address);
        Ok(crate::state::walk_object(address, &w))
    }

    /// Stops runs before the instruction at linear address `address`.
    #[wasm_bindgen(js_name = addBreakpoint)]
    pub fn add_breakpoint(&self, address: u32) -> Result<(), JsValue> {
        self.lock()?.m.add_breakpoint(address);
        Ok(())
    }

    /// Removes a breakpoint; false if there was none.
    #[wasm_bindgen(js_name = removeBreakpoint)]
    pub fn remove_breakpoint(&self, address: u32) -> Result<bool, JsValue> {
        Ok(self.lock()?.m.remove_breakpoint(address))
    }

    /// The breakpoints, ascending.
    #[wasm_bindgen(getter)]
    pub fn breakpoints(&self) -> Result<Vec<u32>, JsValue> {
        Ok(self.lock()?.m.breakpoints())
    }

    /// Queues bytes (a string or a Uint8Array) for COM1.
    #[wasm_bindgen(js_name = sendSerial)]
    pub fn send_serial(&self, data: JsValue) -> Result<(), JsValue> {
        let bytes = convert::bytes(&data, "sendSerial", true)?;
        self.lock()?.m.send_serial(&bytes);
        Ok(())
    }

    /// The COM1 output not consumed yet (and consumes it).
    #[wasm_bindgen(js_name = serialOutput)]
    pub fn serial_output(&self) -> Result<Uint8Array, JsValue> {
        let mut g = self.lock()?;
        g.collect_output();
        Ok(Uint8Array::from(std::mem::take(&mut g.serial).as_slice()))
    }

    /// The port-0xE9 debug-console output not consumed yet (and consumes it).
    #[wasm_bindgen(js_name = debugOutput)]
    pub fn debug_output(&self) -> Result<Uint8Array, JsValue> {
        let mut g = self.lock()?;
        g.collect_output();
        Ok(Uint8Array::from(std::mem::take(&mut g.debug).as_slice()))
    }

    /// Runs until `text` appears in the unconsumed COM1 output; returns the output up to and
    /// including it (consumed). Throws SerialTimeout (with `output` and `exit`) if
    /// `maxInstructions` pass first or the machine stops.
    #[wasm_bindgen(js_name = waitSerial)]
    pub fn wait_serial(
        &self,
        text: JsValue,
        max_instructions: JsValue,
    ) -> Result<Uint8Array, JsValue> {
        self.wait_for(Stream::Serial, &text, &max_instructions)
    }

    /// SHA-256 (hex) of the machine's canonical state; equal to the CLI's `--print-hash` and
    /// the Python package's `state_hash()` for the same inputs.
    #[wasm_bindgen(js_name = stateHash)]
    pub fn state_hash(&self) -> Result<String, JsValue> {
        Ok(self.lock()?.m.state_hash_hex())
    }

    /// Every register as a plain object (see `regs` for the names).
    pub fn registers(&self) -> Result<JsValue, JsValue> {
        crate::regs::all(self)
    }

    /// The registers as properties: `m.regs.eax`, `m.regs.ax = 1`, `m.regs.cr3`,
    /// `m.regs.xmm0` (a BigInt), `m.regs.gdtr` (`[base, limit]`).
    #[wasm_bindgen(getter)]
    pub fn regs(&self) -> JsValue {
        crate::regs::proxy(self)
    }

    /// Calls `callback(address)` before each instruction at a linear address in
    /// `start..=end` (`end` defaults to `start`); the machine is available inside. Returns a
    /// `Hook`.
    #[wasm_bindgen(js_name = hookCode)]
    pub fn hook_code(
        &self,
        start: u32,
        end: Option<u32>,
        callback: Function,
    ) -> Result<crate::hooks::Hook, JsValue> {
        let end = end.unwrap_or(start);
        hooks::register(
            self,
            HostHookKind::Code,
            vec![(start.min(end), start.max(end))],
            callback,
        )
    }

    /// Calls `callback(port, size, isWrite, value)` on guest accesses to `ports` (a number,
    /// or an array of numbers and `[first, last]` ranges); for a read it may return a number
    /// the guest reads instead. It runs mid-instruction: other calls on the machine throw
    /// MachineBusy (except `stop()`).
    #[wasm_bindgen(js_name = hookIo)]
    pub fn hook_io(
        &self,
        ports: JsValue,
        callback: Function,
    ) -> Result<crate::hooks::Hook, JsValue> {
        let r = convert::ranges(&ports, 0xFFFF, "ports")?;
        hooks::register(self, HostHookKind::Io, r, callback)
    }

    /// Like `hookIo` for device MMIO at physical addresses `start..=end`:
    /// `callback(address, size, isWrite, value)`.
    #[wasm_bindgen(js_name = hookMmio)]
    pub fn hook_mmio(
        &self,
        start: u32,
        end: u32,
        callback: Function,
    ) -> Result<crate::hooks::Hook, JsValue> {
        hooks::register(
            self,
            HostHookKind::Mmio,
            vec![(start.min(end), start.max(end))],
            callback,
        )
    }

    /// Calls `callback(vector, external)` when an exception or interrupt with a vector in
    /// `vectors` (number, array; null: all) has been delivered; the machine is available.
    #[wasm_bindgen(js_name = hookInterrupt)]
    pub fn hook_interrupt(
        &self,
        vectors: JsValue,
        callback: Function,
    ) -> Result<crate::hooks::Hook, JsValue> {
        let r = if vectors.is_null() || vectors.is_undefined() {
            vec![(0, 0xFF)]
        } else {
            convert::ranges(&vectors, 0xFF, "vectors")?
        };
        hooks::register(self, HostHookKind::Interrupt, r, callback)
    }

    /// Calls `callback(old, new)` after the guest loaded CR3.
    #[wasm_bindgen(js_name = hookCr3)]
    pub fn hook_cr3(&self, callback: Function) -> Result<crate::hooks::Hook, JsValue> {
        hooks::register(self, HostHookKind::Cr3, vec![(0, u32::MAX)], callback)
    }
}
