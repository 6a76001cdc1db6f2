//! `vx86.Machine`: the whole PC. A thin layer over `vx86_core::Machine`: arguments are
//! converted, errors become the exceptions of `vx86/errors.py`, and runs are cut into slices so
//! the GIL can be released while the guest runs and Ctrl-C (KeyboardInterrupt) stops a run
//! cleanly between slices. Slicing never changes a run (the core guarantees it).
//!
//! The core machine sits behind a mutex. A call that finds it locked (the machine is running
//! in another thread, or the call comes from an I/O or MMIO hook callback, which runs in the
//! middle of an instruction) raises `vx86.MachineBusy` instead of waiting.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use vx86_core::hooks::Hooks;
use vx86_core::{CpuState, ExitReason, MachineConfig, SegReg};

use crate::args;
use crate::errors::{self, VmResult};
use crate::hooks::PyHooks;

/// Instructions per slice of a long run: between slices the GIL is taken back briefly to
/// check for signals (Ctrl-C). About 0.1-0.3 s of guest execution.
pub(crate) const SLICE: u64 = 20_000_000;

/// Runs shorter than this keep the GIL (a single step is cheaper than giving it up).
const DETACH_ABOVE: u64 = 10_000;

/// What synchronous (I/O, MMIO) hook callbacks share with the run loop.
#[derive(Default)]
pub(crate) struct Shared {
    /// `Machine.stop()` was called (from a callback or another thread).
    pub(crate) stop: AtomicBool,
    /// The exception a callback raised, re-raised when the run returns.
    pub(crate) error: Mutex<Option<PyErr>>,
}

/// The machine and what the binding keeps beside it.
pub(crate) struct Inner {
    pub(crate) m: vx86_core::Machine,
    /// COM1 output not yet consumed by `serial_output()` / `wait_serial()`.
    pub(crate) serial: Vec<u8>,
    /// Port-0xE9 output not yet consumed by `debug_output()`.
    pub(crate) debug: Vec<u8>,
    /// virtio-console output not yet consumed by `console_output()` / `wait_console()`.
    pub(crate) console: Vec<u8>,
    /// The disks whose writes go back to a file.
    pub(crate) write_through: crate::virtio::WriteThrough,
    /// Python hooks, in registration order.
    pub(crate) hooks: PyHooks,
    /// The Linux images' paths, when `load_linux` read them from files (a recording started
    /// right after it references them by hash instead of embedding a snapshot).
    pub(crate) linux_paths: Option<(String, Option<String>)>,
    /// Where `stop_recording` writes the log.
    pub(crate) recording: Option<String>,
}

impl Inner {
    pub(crate) fn new(m: vx86_core::Machine) -> Self {
        Self {
            m,
            serial: Vec::new(),
            debug: Vec::new(),
            console: Vec::new(),
            write_through: Vec::new(),
            hooks: PyHooks::default(),
            linux_paths: None,
            recording: None,
        }
    }

    /// Moves the guest's console output into the unconsumed buffers.
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
enum Stream {
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

    /// (method name, exception class).
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Stream::Serial => ("wait_serial", "SerialTimeout"),
            Stream::Console => ("wait_console", "ConsoleTimeout"),
        }
    }
}

/// How a run ended, for Python.
#[pyclass(frozen, get_all, module = "vx86")]
pub struct Exit {
    /// "budget", "halted", "poweroff", "reset", "triple_fault", "breakpoint", "until" or
    /// "hook".
    pub reason: &'static str,
    /// Instructions retired by this call.
    pub instructions: u64,
    /// The machine's instruction count (since it started) after the call.
    pub instruction_count: u64,
    /// EIP after the call (the next instruction to run).
    pub eip: u32,
}

#[pymethods]
impl Exit {
    /// The instruction pointer after the call (EIP: vx86 runs 32-bit code).
    #[getter]
    fn rip(&self) -> u64 {
        self.eip.into()
    }

    fn __repr__(&self) -> String {
        format!(
            "<Exit reason={:?} instructions={} instruction_count={} eip={:#010x}>",
            self.reason, self.instructions, self.instruction_count, self.eip
        )
    }
}

/// A whole deterministic x86 PC (see the package docstring).
#[pyclass(frozen, module = "vx86")]
pub struct Machine {
    inner: Mutex<Inner>,
    pub(crate) shared: Arc<Shared>,
}

impl Machine {
    pub(crate) fn from_core(m: vx86_core::Machine) -> Self {
        Self {
            inner: Mutex::new(Inner::new(m)),
            shared: Arc::default(),
        }
    }

    /// The machine, or `MachineBusy` if it is in use.
    pub(crate) fn lock(&self, py: Python<'_>) -> PyResult<MutexGuard<'_, Inner>> {
        match self.inner.try_lock() {
            Ok(g) => Ok(g),
            Err(TryLockError::WouldBlock) => Err(errors::error(
                py,
                "MachineBusy",
                "the machine is running (in another thread, or this is an I/O or MMIO hook \
                 callback, which runs mid-instruction and gets only its arguments)",
            )),
            // a panic inside the core while running: the state may be torn
            Err(TryLockError::Poisoned(_)) => Err(errors::error(
                py,
                "Error",
                "an internal error (panic) happened while this machine ran; its state is not \
                 trustworthy (please report it)",
            )),
        }
    }

    pub(crate) fn cpu_state(&self, py: Python<'_>) -> PyResult<CpuState> {
        Ok(self.lock(py)?.m.cpu_state())
    }

    pub(crate) fn set_cpu_state(&self, py: Python<'_>, s: CpuState) -> PyResult<()> {
        self.lock(py)?.m.set_cpu_state(s);
        Ok(())
    }

    /// The run loop behind `run`, `step` and the waits' slices (see the module header), then
    /// the write-back of write-through disks.
    pub(crate) fn run_impl(
        &self,
        py: Python<'_>,
        max: Option<u64>,
        until: Option<u32>,
    ) -> PyResult<Exit> {
        let r = self.run_loop(py, max, until);
        // what the guest wrote reaches the files also when the run raised
        let synced = match self.inner.try_lock() {
            Ok(mut g) => crate::virtio::write_back(py, &mut g),
            Err(_) => Ok(()),
        };
        let exit = r?;
        synced?;
        Ok(exit)
    }

    fn run_loop(&self, py: Python<'_>, max: Option<u64>, until: Option<u32>) -> PyResult<Exit> {
        let mut g = self.lock(py)?;
        let start = g.m.instruction_count();
        let end = max.map(|n| start.saturating_add(n));
        self.shared.stop.store(false, Ordering::Relaxed);
        let exit = |g: &Inner, reason: &'static str| Exit {
            reason,
            instructions: g.m.instruction_count() - start,
            instruction_count: g.m.instruction_count(),
            eip: g.m.cpu_state().eip,
        };
        loop {
            let now = g.m.instruction_count();
            let left = end.map_or(u64::MAX, |e| e - now);
            if left == 0 {
                return Ok(exit(&g, "budget"));
            }
            let slice = left.min(SLICE);
            // with code, interrupt or CR3 hooks the run returns to Python at every event:
            // keep the GIL; otherwise give it up while the guest runs
            // (and for short runs: releasing and taking the GIL back costs more than them)
            let deferred = g.hooks.any_deferred();
            let inner: &mut Inner = &mut g;
            let r = if deferred || slice < DETACH_ABOVE {
                inner.m.run_until(slice, until)
            } else {
                py.detach(|| inner.m.run_until(slice, until))
            };
            g.collect_output();
            let raised = self
                .shared
                .error
                .lock()
                .map(|mut e| e.take())
                .unwrap_or(None);
            if let Some(e) = raised {
                return Err(e);
            }
            match r.py_err(py)? {
                ExitReason::BudgetReached => {
                    if self.shared.stop.swap(false, Ordering::Relaxed) {
                        return Ok(exit(&g, "hook"));
                    }
                    py.check_signals()?;
                }
                ExitReason::Hooked => {
                    if self.shared.stop.swap(false, Ordering::Relaxed) {
                        return Ok(exit(&g, "hook"));
                    }
                    let Some(event) = g.m.last_hook_event() else {
                        continue;
                    };
                    let calls = crate::hooks::deferred_calls(&g, py, &event)?;
                    if calls.is_empty() {
                        continue;
                    }
                    drop(g);
                    for (callback, args) in calls {
                        callback.call1(py, args.bind(py).clone())?;
                    }
                    g = self.lock(py)?;
                    if self.shared.stop.swap(false, Ordering::Relaxed) {
                        return Ok(exit(&g, "hook"));
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
                    return Ok(exit(&g, reason));
                }
                other => return Ok(exit(&g, other.name())),
            }
        }
    }

    /// `wait_serial` / `wait_console`: runs until `text` appears in the unconsumed output of
    /// `stream`.
    fn wait_for<'py>(
        &self,
        py: Python<'py>,
        stream: Stream,
        text: &Bound<'py, PyAny>,
        max_instructions: Option<u64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let (method, timeout) = stream.names();
        let needle = crate::virtio::text_or_bytes(text)?;
        if needle.is_empty() {
            return Err(errors::config(
                py,
                format!("{method} needs a non-empty text"),
            ));
        }
        let find = |g: &mut Inner| -> Option<Vec<u8>> {
            g.collect_output();
            let buf = stream.buffer(g);
            let p = buf
                .windows(needle.len())
                .position(|w| w == needle.as_slice())?;
            Some(buf.drain(..p + needle.len()).collect())
        };
        let what = String::from_utf8_lossy(&needle).into_owned();
        let start = self.instruction_count(py)?;
        let deadline = max_instructions.map(|n| start.saturating_add(n));
        loop {
            let mut g = self.lock(py)?;
            if let Some(out) = find(&mut g) {
                return Ok(PyBytes::new(py, &out));
            }
            let now = g.m.instruction_count();
            let (left, eip) = (deadline.map(|d| d.saturating_sub(now)), g.m.cpu_state().eip);
            drop(g);
            let (msg, exit) = if left == Some(0) {
                let msg = format!(
                    "{what:?} did not appear within {} instructions",
                    now - start
                );
                let exit = Exit {
                    reason: "budget",
                    instructions: now - start,
                    instruction_count: now,
                    eip,
                };
                (msg, exit)
            } else {
                let e = self.run_impl(py, Some(left.unwrap_or(u64::MAX).min(1_000_000)), None)?;
                if e.reason == "budget" {
                    continue;
                }
                if let Some(out) = find(&mut *self.lock(py)?) {
                    return Ok(PyBytes::new(py, &out));
                }
                let msg = format!(
                    "{what:?} did not appear before the machine stopped ({})",
                    e.reason
                );
                (msg, e)
            };
            use pyo3::IntoPyObjectExt;
            let output = {
                let mut g = self.lock(py)?;
                PyBytes::new(py, stream.buffer(&mut g)).into_any()
            };
            let args = vec![
                msg.into_bound_py_any(py)?,
                output,
                Bound::new(py, exit)?.into_any(),
            ];
            return Err(errors::raise(py, timeout, args));
        }
    }

    fn save(&self, py: Python<'_>, compress: bool, incremental: bool) -> PyResult<Vec<u8>> {
        let mut g = self.lock(py)?;
        let options = vx86_core::SnapshotOptions {
            compress,
            incremental,
        };
        g.m.save_snapshot(options).py_err(py)
    }
}

#[pymethods]
impl Machine {
    /// A new machine, powered on with nothing loaded.
    ///
    /// `memory`: RAM as bytes or a size string ("256M", "16MiB", "1G"). `seed`: the seed of
    /// the machine's random source (RDRAND/RDSEED). `cpu_hz`: instructions per virtual second
    /// (the rate of virtual time). `apic`: attach the local and I/O APIC and ACPI.
    /// `start_time`: what the RTC reads at virtual time 0 (seconds since 1970, never the host
    /// clock). `debug_console`: the port-0xE9 console (`debug_output()`).
    ///
    /// Virtio devices (PCI functions from slot 2 on, in this order): `disks`, a list of
    /// `vx86.Disk`s, paths or bytes (virtio-blk: the guest's vda, vdb, ...); `net`: True or
    /// a MAC address "52:54:00:12:34:56" (virtio-net; frames through `send_net_frame` /
    /// `take_net_frames` or a `NetLink`); `virtio_console`: the guest's hvc0
    /// (`send_console`, `console_output`); `rng`: virtio-rng (seeded by `seed`); `balloon`:
    /// virtio-balloon (`set_balloon_target`).
    #[new]
    #[pyo3(signature = (memory = None, seed = 0, cpu_hz = None, apic = true, start_time = None, debug_console = true, *, disks = None, net = None, virtio_console = false, rng = false, balloon = false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        memory: Option<&Bound<'_, PyAny>>,
        seed: u64,
        cpu_hz: Option<u64>,
        apic: bool,
        start_time: Option<u64>,
        debug_console: bool,
        disks: Option<&Bound<'_, PyAny>>,
        net: Option<&Bound<'_, PyAny>>,
        virtio_console: bool,
        rng: bool,
        balloon: bool,
    ) -> PyResult<Self> {
        let (virtio, images, write_through) =
            crate::virtio::config_of(disks, net, virtio_console, rng, balloon)?;
        let d = MachineConfig::default();
        let config = MachineConfig {
            ram_size: match memory {
                Some(m) => args::memory_size(py, m)?,
                None => 256 << 20,
            },
            seed,
            cpu_hz: cpu_hz.unwrap_or(d.cpu_hz),
            apic,
            start_time_unix: start_time.unwrap_or(d.start_time_unix),
            debug_console,
            virtio,
            ..d
        };
        if config.cpu_hz == 0 {
            return Err(errors::config(py, "cpu_hz must be at least 1"));
        }
        let m = vx86_core::Machine::with_disks(config, images).py_err(py)?;
        let machine = Self::from_core(m);
        machine.lock(py)?.write_through = write_through;
        Ok(machine)
    }

    /// Loads a Linux kernel (bzImage) and optional initrd (each a path or bytes) with the
    /// kernel command line, as a boot loader would (boot protocol 2.x, e820 map); the CPU
    /// starts at the bzImage's 32-bit entry, or with `direct_kernel=True` at the kernel
    /// proper's, decompressed on the host (xz payloads; skips the in-guest decompressor).
    #[pyo3(signature = (kernel, initrd = None, cmdline = "", direct_kernel = false))]
    fn load_linux(
        &self,
        py: Python<'_>,
        kernel: &Bound<'_, PyAny>,
        initrd: Option<&Bound<'_, PyAny>>,
        cmdline: &str,
        direct_kernel: bool,
    ) -> PyResult<()> {
        let (k, kpath) = args::image_of(kernel, "kernel")?;
        let (i, ipath) = match initrd {
            Some(obj) => {
                let (b, p) = args::image_of(obj, "initrd")?;
                (Some(b), p.map(Some))
            }
            None => (None, Some(None)),
        };
        let mut g = self.lock(py)?;
        let entry = vx86_core::KernelEntry::from_direct_flag(direct_kernel);
        g.m.load_linux_with(&k, i.as_deref(), cmdline, entry)
            .py_err(py)?;
        g.linux_paths = kpath.zip(ipath);
        Ok(())
    }

    /// Loads a Multiboot (v1) ELF kernel (a path or bytes) with its command line; the CPU
    /// starts at its entry in 32-bit protected mode as the specification says.
    #[pyo3(signature = (elf, cmdline = ""))]
    fn load_multiboot(
        &self,
        py: Python<'_>,
        elf: &Bound<'_, PyAny>,
        cmdline: &str,
    ) -> PyResult<()> {
        let (image, _) = args::image_of(elf, "Multiboot kernel")?;
        self.lock(py)?.m.load_multiboot(&image, cmdline).py_err(py)
    }

    /// Copies raw code to physical `address` and sets the CPU to real mode at CS = 0,
    /// IP = `entry` (default: `address`), interrupts off: as after a BIOS loaded a boot
    /// sector. `entry` must fit 16 bits.
    #[pyo3(signature = (code, address = 0x7C00, entry = None))]
    fn load_flat(
        &self,
        py: Python<'_>,
        code: &Bound<'_, PyAny>,
        address: u32,
        entry: Option<u32>,
    ) -> PyResult<()> {
        let code = args::bytes_of(code)?;
        let entry = entry.unwrap_or(address);
        let entry = u16::try_from(entry).map_err(|_| {
            errors::config(
                py,
                format!("entry {entry:#x} must fit 16 bits (real mode, CS = 0)"),
            )
        })?;
        self.lock(py)?.m.load_flat(&code, address, entry).py_err(py)
    }

    /// Runs until `max_instructions` more instructions retired (None: no limit), the linear
    /// address `until` is about to execute, a breakpoint, a hook's `stop()`, or the machine
    /// halts, powers off, resets or shuts down. Returns an [`Exit`]. The GIL is released while
    /// the guest runs (unless code, interrupt or CR3 hooks are registered); Ctrl-C raises
    /// KeyboardInterrupt with the machine stopped cleanly between two instructions.
    #[pyo3(signature = (max_instructions = None, until = None))]
    fn run(
        &self,
        py: Python<'_>,
        max_instructions: Option<u64>,
        until: Option<u32>,
    ) -> PyResult<Exit> {
        self.run_impl(py, max_instructions, until)
    }

    /// Executes one instruction (or one iteration of a REP string instruction).
    fn step(&self, py: Python<'_>) -> PyResult<Exit> {
        self.run_impl(py, Some(1), None)
    }

    /// Makes the current (or next) run return with reason "hook" at the next instruction
    /// boundary: for hook callbacks (like Unicorn's `emu_stop`) and other threads.
    fn stop(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }

    /// Instructions retired since the machine started (continues across snapshots).
    #[getter]
    fn instruction_count(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.lock(py)?.m.instruction_count())
    }

    /// Virtual time since the machine started, in nanoseconds.
    #[getter]
    fn virtual_time_ns(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.lock(py)?.m.virtual_time_ns())
    }

    /// Guest RAM in bytes.
    #[getter]
    fn memory(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.lock(py)?.m.config().ram_size)
    }

    /// The seed of the machine's random source.
    #[getter]
    fn seed(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.lock(py)?.m.config().seed)
    }

    /// The registers as attributes: `m.regs.eax`, `m.regs.ax = 1`, `m.regs.cr3`, ...
    #[getter]
    fn regs(slf: &Bound<'_, Self>) -> crate::regs::Registers {
        crate::regs::Registers {
            machine: slf.clone().unbind(),
        }
    }

    /// A segment register's selector and descriptor cache: `name` is one of es, cs, ss, ds,
    /// fs, gs, ldtr, tr.
    fn segment(&self, py: Python<'_>, name: &str) -> PyResult<crate::regs::Segment> {
        let s = self.cpu_state(py)?;
        crate::regs::segment(&s, name)
            .ok_or_else(|| errors::config(py, format!("no segment register named {name:?}")))
    }

    /// Reads a model-specific register as RDMSR would; None if vx86 does not implement it.
    fn read_msr(&self, py: Python<'_>, index: u32) -> PyResult<Option<u64>> {
        Ok(self.lock(py)?.m.read_msr(index))
    }

    /// Writes a model-specific register as WRMSR would (ConfigError where WRMSR would #GP).
    fn write_msr(&self, py: Python<'_>, index: u32, value: u64) -> PyResult<()> {
        self.lock(py)?.m.write_msr(index, value).py_err(py)
    }

    /// `size` bytes of guest physical memory (RAM) at `address`.
    fn read_phys<'py>(
        &self,
        py: Python<'py>,
        address: u64,
        size: usize,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let g = self.lock(py)?;
        let mut buf = vec![0; size];
        g.m.read_phys(address, &mut buf).py_err(py)?;
        Ok(PyBytes::new(py, &buf))
    }

    /// Writes bytes to guest physical memory (RAM) at `address`.
    fn write_phys(&self, py: Python<'_>, address: u64, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = args::bytes_of(data)?;
        self.lock(py)?.m.write_phys(address, &data).py_err(py)
    }

    /// `size` bytes at linear address `address`, through the guest's page tables with a
    /// debugger's rights (no permission checks, no Accessed/Dirty updates). An unmapped page
    /// raises GuestFault.
    fn read_virt<'py>(
        &self,
        py: Python<'py>,
        address: u32,
        size: usize,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let mut g = self.lock(py)?;
        let mut buf = vec![0; size];
        g.m.read_virt(address, &mut buf).py_err(py)?;
        Ok(PyBytes::new(py, &buf))
    }

    /// Writes bytes at linear address `address` through the guest's page tables (see
    /// `read_virt`); nothing is written if any page is unmapped.
    fn write_virt(&self, py: Python<'_>, address: u32, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = args::bytes_of(data)?;
        let mut g = self.lock(py)?;
        // check every page first so a failure writes nothing
        let mut probe = vec![0; data.len()];
        g.m.read_virt(address, &mut probe).py_err(py)?;
        g.m.write_virt(address, &data).py_err(py)
    }

    /// The page walk for linear address `address` as the CPU would do it now (see `Walk`).
    fn translate(&self, py: Python<'_>, address: u32) -> PyResult<crate::walk::Walk> {
        let walk = self.lock(py)?.m.translate(address);
        Ok(crate::walk::Walk::from_core(address, &walk))
    }

    /// Stops runs before the instruction at linear address `address` (reason "breakpoint").
    fn add_breakpoint(&self, py: Python<'_>, address: u32) -> PyResult<()> {
        self.lock(py)?.m.add_breakpoint(address);
        Ok(())
    }

    /// Removes a breakpoint; False if there was none.
    fn remove_breakpoint(&self, py: Python<'_>, address: u32) -> PyResult<bool> {
        Ok(self.lock(py)?.m.remove_breakpoint(address))
    }

    /// The breakpoints, ascending.
    #[getter]
    fn breakpoints(&self, py: Python<'_>) -> PyResult<Vec<u32>> {
        Ok(self.lock(py)?.m.breakpoints())
    }

    /// Queues bytes for the guest's serial port COM1 (they enter its receive FIFO as room
    /// becomes available; recorded when recording).
    fn send_serial(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = match data.extract::<String>() {
            Ok(s) => s.into_bytes(),
            Err(_) => args::bytes_of(data)?,
        };
        self.lock(py)?.m.send_serial(&data);
        Ok(())
    }

    /// The COM1 output not consumed yet (and consumes it).
    fn serial_output<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let mut g = self.lock(py)?;
        g.collect_output();
        Ok(PyBytes::new(py, &std::mem::take(&mut g.serial)))
    }

    /// The port-0xE9 debug-console output not consumed yet (and consumes it).
    fn debug_output<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let mut g = self.lock(py)?;
        g.collect_output();
        Ok(PyBytes::new(py, &std::mem::take(&mut g.debug)))
    }

    /// Runs until `text` (str or bytes) appears in the unconsumed COM1 output; returns the
    /// output up to and including it (consumed; what follows stays). Raises SerialTimeout if
    /// `max_instructions` pass first or the machine stops (halt, power-off, ...).
    #[pyo3(signature = (text, max_instructions = None))]
    fn wait_serial<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'py, PyAny>,
        max_instructions: Option<u64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        self.wait_for(py, Stream::Serial, text, max_instructions)
    }

    /// SHA-256 (hex) of the machine's canonical state: CPU, devices, virtual clock and timers,
    /// pending input and RAM. The same inputs give the same hash in the CLI (`--print-hash`),
    /// in Node and in the browser.
    fn state_hash(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.lock(py)?.m.state_hash_hex())
    }

    /// A snapshot of the whole machine (see `Snapshot`). `compress`: LZ4. `incremental`: only
    /// the RAM pages written since the last snapshot taken or restored on this machine
    /// (restore it onto a machine in that state).
    #[pyo3(signature = (compress = true, incremental = false))]
    fn snapshot(
        &self,
        py: Python<'_>,
        compress: bool,
        incremental: bool,
    ) -> PyResult<crate::state::Snapshot> {
        let bytes = self.save(py, compress, incremental)?;
        crate::state::Snapshot::new(py, bytes)
    }

    /// Builds a machine from snapshot bytes (from `Snapshot.to_bytes()`, the CLI's
    /// `--snapshot-out`, or the browser). Bad bytes raise SnapshotError. A machine with
    /// virtio disks needs their images as they were attached (snapshots hold only what the
    /// guest wrote): `disks`, in order, as for the constructor (`read_only` comes from the
    /// snapshot); a wrong image raises ImageError, a missing one SnapshotError.
    #[staticmethod]
    #[pyo3(signature = (data, disks = None))]
    fn from_bytes(
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        disks: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let bytes = args::bytes_of(data)?;
        let (images, write_through) = crate::virtio::images_of(disks)?;
        let m = py
            .detach(|| vx86_core::Machine::from_snapshot_with_disks(&bytes, images))
            .py_err(py)?;
        let machine = Self::from_core(m);
        {
            let mut g = machine.lock(py)?;
            g.write_through = write_through;
            crate::virtio::write_back(py, &mut g)?;
        }
        Ok(machine)
    }

    /// Returns the machine to a `Snapshot` (full: the machine becomes the saved one, RAM size
    /// included; incremental: applied onto the state it was taken from), to snapshot bytes,
    /// or to a `Checkpoint` of this machine. Hooks and breakpoints stay, and so do the
    /// machine's virtio disk images (a full snapshot of it is restored onto them).
    fn restore(&self, py: Python<'_>, state: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::state::restore(self, py, state)
    }

    /// Saves the state in memory (see `Checkpoint`); `with m.checkpoint(): ...` restores it
    /// when the block ends.
    fn checkpoint(slf: &Bound<'_, Self>) -> PyResult<crate::state::Checkpoint> {
        crate::state::Checkpoint::take(slf)
    }

    /// An independent copy of the machine in its current state (no hooks; breakpoints are
    /// copied).
    fn copy(&self, py: Python<'_>) -> PyResult<Self> {
        let g = self.lock(py)?;
        let mut m = g.m.clone();
        *m.hooks() = Hooks::default();
        let copy = Self::from_core(m);
        {
            let mut c = copy.lock(py)?;
            c.serial = g.serial.clone();
            c.debug = g.debug.clone();
            c.console = g.console.clone();
            c.linux_paths = g.linux_paths.clone();
            // the copy's disks live in memory: one file has one writer
        }
        Ok(copy)
    }

    fn __copy__(&self, py: Python<'_>) -> PyResult<Self> {
        self.copy(py)
    }

    /// Pickling: the snapshot bytes and, for a machine with virtio disks, their images (the
    /// unpickled machine keeps its disks in memory).
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, pyo3::types::PyTuple>)> {
        let py = slf.py();
        let bytes = slf.get().save(py, true, false)?;
        let images: Vec<Bound<'py, PyBytes>> = {
            let g = slf.get().lock(py)?;
            g.m.disks()
                .iter()
                .map(|d| PyBytes::new(py, d.base().bytes()))
                .collect()
        };
        let ctor = slf.get_type().getattr("from_bytes")?;
        let args = if images.is_empty() {
            pyo3::types::PyTuple::new(py, [PyBytes::new(py, &bytes).into_any()])?
        } else {
            let list = pyo3::types::PyList::new(py, images)?.into_any();
            pyo3::types::PyTuple::new(py, [PyBytes::new(py, &bytes).into_any(), list])?
        };
        Ok((ctor, args))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let g = self.lock(py)?;
        Ok(format!(
            "<vx86.Machine memory={} MiB instructions={} eip={:#010x}>",
            g.m.config().ram_size >> 20,
            g.m.instruction_count(),
            g.m.cpu_state().eip
        ))
    }

    // virtio devices (virtio.rs)

    /// Queues bytes (str or bytes) for the guest's virtio console (hvc0); recorded when
    /// recording. Raises ConfigError without a virtio console (`virtio_console=True`) or when
    /// more than 1 MiB would wait for the guest.
    fn send_console(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = crate::virtio::text_or_bytes(data)?;
        self.lock(py)?.m.send_console(&data).py_err(py)
    }

    /// The virtio-console output not consumed yet (and consumes it).
    fn console_output<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let mut g = self.lock(py)?;
        g.collect_output();
        Ok(PyBytes::new(py, &std::mem::take(&mut g.console)))
    }

    /// Like `wait_serial` for the virtio console: runs until `text` appears in its
    /// unconsumed output and returns the output up to and including it. Raises
    /// ConsoleTimeout (with `output` and `exit`) if `max_instructions` pass first or the
    /// machine stops.
    #[pyo3(signature = (text, max_instructions = None))]
    fn wait_console<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'py, PyAny>,
        max_instructions: Option<u64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        self.wait_for(py, Stream::Console, text, max_instructions)
    }

    /// Whether the guest's virtio-console driver runs with its receive queue set up (input
    /// sent now reaches it as soon as it posts buffers); False without a virtio console.
    fn virtio_console_ready(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.lock(py)?.m.virtio_console_ready())
    }

    /// Delivers an Ethernet frame (bytes, without FCS, 14 to 1518 long) to the guest's
    /// virtio-net; recorded when recording. Raises ConfigError without virtio-net
    /// (`net=True`), for a bad size, or when 256 frames already wait for the guest.
    fn send_net_frame(&self, py: Python<'_>, frame: &Bound<'_, PyAny>) -> PyResult<()> {
        let frame = args::bytes_of(frame)?;
        self.lock(py)?.m.send_net_frame(&frame).py_err(py)
    }

    /// The Ethernet frames the guest transmitted since the last call, oldest first (a list
    /// of bytes; empty without virtio-net).
    fn take_net_frames<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let frames = self.lock(py)?.m.take_net_frames();
        Ok(frames.iter().map(|f| PyBytes::new(py, f)).collect())
    }

    /// Asks the guest (through virtio-balloon) to hand back memory until `pages` 4 KiB pages
    /// are in the balloon (0 gives everything back); recorded when recording. Raises
    /// ConfigError without a balloon (`balloon=True`).
    fn set_balloon_target(&self, py: Python<'_>, pages: u32) -> PyResult<()> {
        self.lock(py)?.m.set_balloon_target(pages).py_err(py)
    }

    /// The balloon as (target pages, pages the guest's driver reports, pages given back and
    /// zeroed); None without a balloon.
    fn balloon_status(&self, py: Python<'_>) -> PyResult<Option<(u32, u32, u64)>> {
        Ok(self.lock(py)?.m.balloon_status())
    }

    /// The virtio disks as `vx86.Disk`s, in order (their images as attached, not what the
    /// guest wrote since: see `disk_contents`); they can build another machine or restore a
    /// snapshot of this one (`Machine.from_bytes(data, disks=m.disks)`).
    #[getter]
    fn disks(&self, py: Python<'_>) -> PyResult<Vec<crate::virtio::Disk>> {
        let g = self.lock(py)?;
        Ok((0..g.m.disks().len())
            .map(|i| crate::virtio::Disk::of_machine(&g, i))
            .collect())
    }

    /// The current content of disk `i` (the image with everything the guest wrote).
    fn disk_contents<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyBytes>> {
        let g = self.lock(py)?;
        crate::virtio::check_disk(py, &g, i)?;
        let bytes = g.m.disks()[i].contents();
        Ok(PyBytes::new(py, &bytes))
    }

    /// The chunks of disk `i` the guest wrote since the last call, as a list of (byte offset,
    /// bytes): what a host that keeps the image in a file writes back (a `Disk` with
    /// `write_through=True` has them written for it, and raises ConfigError here). Taking
    /// them changes nothing the guest sees.
    fn take_disk_writes<'py>(
        &self,
        py: Python<'py>,
        i: usize,
    ) -> PyResult<Vec<(u64, Bound<'py, PyBytes>)>> {
        let mut g = self.lock(py)?;
        crate::virtio::take_disk_writes(py, &mut g, i)
    }

    /// Why each virtio device that entered DEVICE_NEEDS_RESET (the guest's driver gave it a
    /// malformed request) did so: a list of (PCI slot, message).
    fn virtio_errors(&self, py: Python<'_>) -> PyResult<Vec<(u16, String)>> {
        Ok(self.lock(py)?.m.virtio_errors())
    }

    // hooks (hooks.rs)

    /// Calls `callback(address)` before each instruction at a linear address in
    /// `start..=end` (`end` defaults to `start`). The machine is stopped at that instruction
    /// while the callback runs: it may read and change anything, and call `m.stop()`. Without
    /// `callback`, returns a decorator. Returns a `Hook`.
    #[pyo3(signature = (start, end = None, callback = None))]
    fn hook_code(
        slf: &Bound<'_, Self>,
        start: u32,
        end: Option<u32>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let ranges = vec![(
            start.min(end.unwrap_or(start)),
            start.max(end.unwrap_or(start)),
        )];
        crate::hooks::register(
            slf,
            vx86_core::hooks::host::HostHookKind::Code,
            ranges,
            callback,
        )
    }

    /// Calls `callback(port, size, is_write, value)` on every guest access to the ports in
    /// `ports` (an int, a range, or a list of them): after the device answered a read
    /// (`value` is what it returned; return an int to make the guest read that instead) or
    /// for a write. It runs in the middle of the instruction: only its arguments are
    /// available (other machine calls raise MachineBusy) and `m.stop()` ends the run after
    /// the instruction. Without `callback`, returns a decorator.
    #[pyo3(signature = (ports, callback = None))]
    fn hook_io(
        slf: &Bound<'_, Self>,
        ports: &Bound<'_, PyAny>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let ranges = args::key_ranges(ports, 0xFFFF, "ports")?;
        crate::hooks::register(
            slf,
            vx86_core::hooks::host::HostHookKind::Io,
            ranges,
            callback,
        )
    }

    /// Like `hook_io` for accesses to devices' MMIO registers at physical addresses
    /// `start..=end`: `callback(address, size, is_write, value)`.
    #[pyo3(signature = (start, end, callback = None))]
    fn hook_mmio(
        slf: &Bound<'_, Self>,
        start: u32,
        end: u32,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let ranges = vec![(start.min(end), start.max(end))];
        crate::hooks::register(
            slf,
            vx86_core::hooks::host::HostHookKind::Mmio,
            ranges,
            callback,
        )
    }

    /// Calls `callback(vector, external)` when an exception or interrupt with a vector in
    /// `vectors` (int, range, list; None: all) is delivered: `external` is True for a device
    /// interrupt, False for an exception or INT n. It runs once the CPU has entered the
    /// handler (EIP, CS, ESP are the handler's; the general registers are as the interrupted
    /// code left them); the machine is available. Without `callback`, returns a decorator.
    #[pyo3(signature = (vectors = None, callback = None))]
    fn hook_interrupt(
        slf: &Bound<'_, Self>,
        vectors: Option<&Bound<'_, PyAny>>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let ranges = match vectors {
            Some(v) => args::key_ranges(v, 0xFF, "vectors")?,
            None => vec![(0, 0xFF)],
        };
        crate::hooks::register(
            slf,
            vx86_core::hooks::host::HostHookKind::Interrupt,
            ranges,
            callback,
        )
    }

    /// Calls `callback(old, new)` after the guest loaded CR3 (MOV CR3 or a task switch), at
    /// the next instruction boundary; the machine is available. Without `callback`, returns
    /// a decorator.
    #[pyo3(signature = (callback = None))]
    fn hook_cr3(slf: &Bound<'_, Self>, callback: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        crate::hooks::register(
            slf,
            vx86_core::hooks::host::HostHookKind::Cr3,
            vec![(0, u32::MAX)],
            callback,
        )
    }

    /// Removes a hook (a `Hook` returned by a `hook_*` call); False if it was removed before.
    fn remove_hook(&self, py: Python<'_>, hook: &crate::hooks::Hook) -> PyResult<bool> {
        crate::hooks::remove(self, py, hook.id)
    }

    // record/replay (replay.rs)

    /// Starts recording every input with its instruction count, and the state hash every
    /// `checkpoint_interval` instructions, into a replay log written to `path` by
    /// `stop_recording()` (or when the returned `Recording` is used as a context manager and
    /// the block ends). Right after `load_linux` from files the log references the images by
    /// SHA-256; otherwise it embeds a snapshot of the current state.
    #[pyo3(signature = (path, checkpoint_interval = None))]
    fn record(
        slf: &Bound<'_, Self>,
        path: &Bound<'_, PyAny>,
        checkpoint_interval: Option<u64>,
    ) -> PyResult<crate::replay::Recording> {
        crate::replay::record(slf, path, checkpoint_interval)
    }

    /// Ends the recording and writes the log; returns the number of events logged.
    fn stop_recording(&self, py: Python<'_>) -> PyResult<usize> {
        crate::replay::stop_recording(self, py)
    }

    /// Whether a recording is in progress.
    #[getter]
    fn recording(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.lock(py)?.m.is_recording())
    }
}
