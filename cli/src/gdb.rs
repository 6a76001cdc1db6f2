//! A GDB remote stub (`--gdb HOST:PORT` on `vx86 run`, `vx86 resume` and `vx86 run-flat`),
//! built on the `gdbstub` crate with `gdbstub_arch`'s i386 + SSE register layout.
//!
//! Supported: one TCP connection (the stub listens on HOST:PORT, says so on stderr and waits);
//! reading and writing EAX..EDI, EIP, EFLAGS, the six segment selectors, the x87 stack ST0-7
//! with its control/status/tag words and last-instruction pointers, XMM0-7 and MXCSR; reading
//! and writing memory at *linear* addresses through the guest's page tables (debugger rights:
//! no permission checks; an unmapped address is an error reply); software breakpoints
//! (`Z0`/`z0`), kept by the core (`Machine::add_breakpoint`: guest memory is never patched with
//! INT3, and the stop comes before the instruction runs); continue, single step, Ctrl-C from gdb
//! while the guest runs. The guest runs in slices of [`SLICE`] instructions; between slices the
//! connection is polled and the guest's serial (COM1) and debug-console (port 0xE9) output goes
//! to stdout.
//!
//! Stops reported to gdb: breakpoint → SIGTRAP (`swbreak`); step done → SIGTRAP; Ctrl-C →
//! SIGINT; guest halted with nothing to wake it → SIGTRAP; triple fault → SIGSEGV; the
//! `--max-instructions` budget (counted from machine start) reached → SIGXCPU; an instruction
//! vx86 does not implement → SIGILL (EIP on it). These stops leave the machine inspectable, and
//! continuing reports the same stop again. ACPI power-off → exit status 0 and guest reboot →
//! exit status 5 (the CLI's exit codes), which end the session.
//!
//! When gdb detaches (`detach`, or `quit` after `target remote`), breakpoints are dropped and the
//! caller runs the guest on without gdb; `kill` (or a lost connection) ends the run.
//!
//! Left out: gdb's `$pc` is EIP while memory and breakpoint addresses are linear, so the two
//! agree only when the CS base is 0 (flat protected mode, real mode with CS = 0); no segment
//! arithmetic for real-mode `CS:IP`. Selector writes are accepted in real and virtual-8086
//! mode (base = selector × 16) but refused in protected mode (no descriptor load). No hardware
//! breakpoints or watchpoints, no control or debug registers, no `monitor` commands, no reverse
//! execution, one thread. A session with gdb's register and memory writes is not a recorded or
//! replayable run: the CLI refuses `--gdb` with `--record`, `--snapshot-at`, `--profile`,
//! `--until` and `--input-file`, and keyboard input is not forwarded while gdb is attached.

use std::io::Write;
use std::marker::PhantomData;
use std::net::{TcpListener, TcpStream};

use gdbstub::common::Signal;
use gdbstub::conn::ConnectionExt;
use gdbstub::stub::run_blocking::{BlockingEventLoop, Event, WaitForStopReasonError};
use gdbstub::stub::{DisconnectReason, GdbStub, SingleThreadStopReason};
use gdbstub::target::ext::base::singlethread::{
    SingleThreadBase, SingleThreadResume, SingleThreadResumeOps, SingleThreadSingleStep,
    SingleThreadSingleStepOps,
};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, SwBreakpoint, SwBreakpointOps,
};
use gdbstub::target::{Target, TargetError, TargetResult};
use gdbstub_arch::x86::reg::X86CoreRegs;
use gdbstub_arch::x86::X86_SSE;
use vx86_core::cpu::named;
use vx86_core::softfloat::F80;
use vx86_core::{ExitReason, Machine, SegReg, VmError};

use crate::session::End;

/// Instructions per run slice while gdb continues the guest: the connection (Ctrl-C) is
/// polled between slices (~10 ms each).
pub const SLICE: u64 = 1_000_000;

type StopReason = SingleThreadStopReason<u32>;

/// What gdb last asked for.
#[derive(Clone, Copy, PartialEq)]
enum Action {
    Continue,
    Step,
}

/// The gdbstub target: the machine plus what the session needs to remember.
struct Stub<'a> {
    m: &'a mut Machine,
    /// Absolute instruction count where the budget ends.
    max: u64,
    action: Action,
    /// The last stop that the machine cannot run past (halt, triple fault, budget, exit).
    terminal: Option<ExitReason>,
    /// The last unimplemented-instruction error, reported as SIGILL.
    error: Option<String>,
    last_output: &'a mut Option<u8>,
}

impl Stub<'_> {
    /// Runs at most `n` instructions within the budget and copies the guest's output out.
    fn run(&mut self, n: u64) -> Result<ExitReason, VmError> {
        let left = self.max.saturating_sub(self.m.instruction_count());
        let r = if left == 0 {
            Ok(ExitReason::BudgetReached)
        } else {
            self.m.run(n.min(left))
        };
        let mut out = self.m.take_serial_output();
        out.extend(self.m.take_debug_output());
        if let Some(&b) = out.last() {
            *self.last_output = Some(b);
            let mut stdout = std::io::stdout();
            // the console is best effort: a closed stdout must not end the gdb session
            let _ = stdout.write_all(&out).and_then(|_| stdout.flush());
        }
        r
    }

    /// The stop to report for a run's outcome; `None`: keep running (a slice ended).
    fn stop(
        &mut self,
        r: Result<ExitReason, VmError>,
        executed: bool,
    ) -> Result<Option<StopReason>, String> {
        let at_budget = self.m.instruction_count() >= self.max;
        let note = |what: &str| eprintln!("\r\nvx86: gdb stop: {what}\r");
        let reason = match r {
            Ok(ExitReason::BudgetReached) if self.action == Action::Step && executed => {
                StopReason::DoneStep
            }
            Ok(ExitReason::BudgetReached) if at_budget => {
                note("instruction budget (--max-instructions) reached");
                self.terminal = Some(ExitReason::BudgetReached);
                StopReason::Signal(Signal::SIGXCPU)
            }
            // no idle limit is set under gdb: a halted guest skips to its timers
            Ok(ExitReason::BudgetReached | ExitReason::Idle) => return Ok(None),
            Ok(ExitReason::Breakpoint) => StopReason::SwBreak(()),
            Ok(ExitReason::Hooked) => StopReason::Signal(Signal::SIGTRAP),
            Ok(r @ ExitReason::Halted) => {
                note("guest halted with nothing to wake it");
                self.terminal = Some(r);
                StopReason::Signal(Signal::SIGTRAP)
            }
            Ok(r @ ExitReason::TripleFault) => {
                note("triple fault (processor shutdown)");
                self.terminal = Some(r);
                StopReason::Signal(Signal::SIGSEGV)
            }
            Ok(r @ ExitReason::PowerOff) => {
                self.terminal = Some(r);
                StopReason::Exited(0)
            }
            Ok(r @ ExitReason::Reset) => {
                self.terminal = Some(r);
                StopReason::Exited(5)
            }
            Err(e @ VmError::Unsupported { .. }) => {
                note(&e.to_string());
                self.error = Some(e.to_string());
                StopReason::Signal(Signal::SIGILL)
            }
            Err(e) => return Err(e.to_string()),
        };
        Ok(Some(reason))
    }
}

impl Target for Stub<'_> {
    type Arch = X86_SSE;
    type Error = String;

    fn base_ops(&mut self) -> BaseOps<'_, Self::Arch, Self::Error> {
        BaseOps::SingleThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }
}

/// The 80-bit register as gdb lays it out: significand, then sign and exponent, little-endian.
fn f80_bytes(f: F80) -> [u8; 10] {
    let mut b = [0u8; 10];
    b[..8].copy_from_slice(&f.signif.to_le_bytes());
    b[8..].copy_from_slice(&f.sign_exp.to_le_bytes());
    b
}

fn f80_from(b: &[u8; 10]) -> F80 {
    F80 {
        signif: u64::from_le_bytes(b[..8].try_into().unwrap()),
        sign_exp: u16::from_le_bytes([b[8], b[9]]),
    }
}

impl SingleThreadBase for Stub<'_> {
    fn read_registers(&mut self, regs: &mut X86CoreRegs) -> TargetResult<(), Self> {
        let s = self.m.cpu_state();
        let [eax, ecx, edx, ebx, esp, ebp, esi, edi] = s.regs;
        *regs = X86CoreRegs {
            eax,
            ecx,
            edx,
            ebx,
            esp,
            ebp,
            esi,
            edi,
            eip: s.eip,
            eflags: s.eflags,
            mxcsr: s.mxcsr,
            xmm: s.xmm,
            ..Default::default()
        };
        let sel = |r: SegReg| s.segs[r as usize].selector as u32;
        let seg = &mut regs.segments;
        (seg.cs, seg.ss, seg.ds, seg.es, seg.fs, seg.gs) = (
            sel(SegReg::Cs),
            sel(SegReg::Ss),
            sel(SegReg::Ds),
            sel(SegReg::Es),
            sel(SegReg::Fs),
            sel(SegReg::Gs),
        );
        // ST(i) is physical register (TOP + i) mod 8; the tag word is the full one (FSAVE's)
        let top = (s.fpu.fsw >> 11) as usize & 7;
        for (i, st) in regs.st.iter_mut().enumerate() {
            *st = f80_bytes(s.fpu.regs[(top + i) & 7]);
        }
        let f = &mut regs.fpu;
        (f.fctrl, f.fstat, f.ftag) = (s.fpu.fcw.into(), s.fpu.fsw.into(), s.fpu.ftw.into());
        (f.fiseg, f.fioff, f.foseg, f.fooff) =
            (s.fpu.fcs.into(), s.fpu.fip, s.fpu.fds.into(), s.fpu.fdp);
        f.fop = s.fpu.fop.into();
        Ok(())
    }

    fn write_registers(&mut self, regs: &X86CoreRegs) -> TargetResult<(), Self> {
        let mut s = self.m.cpu_state();
        let r = regs;
        s.regs = [r.eax, r.ecx, r.edx, r.ebx, r.esp, r.ebp, r.esi, r.edi];
        s.eip = r.eip;
        let int = |v: u32| named::RegValue::Int(v.into());
        named::set(&mut s, "eflags", int(r.eflags)).map_err(|_| TargetError::NonFatal)?;
        s.mxcsr = r.mxcsr;
        s.xmm = r.xmm;
        let g = &r.segments;
        for (name, value) in ["cs", "ss", "ds", "es", "fs", "gs"]
            .into_iter()
            .zip([g.cs, g.ss, g.ds, g.es, g.fs, g.gs])
        {
            if value > 0xFFFF {
                return Err(TargetError::NonFatal);
            }
            // only changed selectors: protected mode refuses them (no descriptor load here)
            if named::get(&s, name) != Some(int(value)) {
                named::set(&mut s, name, int(value)).map_err(|_| TargetError::NonFatal)?;
            }
        }
        let f = &r.fpu;
        s.fpu.fcw = f.fctrl as u16;
        s.fpu.fsw = f.fstat as u16;
        s.fpu.ftw = f.ftag as u16;
        (s.fpu.fcs, s.fpu.fip, s.fpu.fds, s.fpu.fdp) =
            (f.fiseg as u16, f.fioff, f.foseg as u16, f.fooff);
        s.fpu.fop = (f.fop & 0x7FF) as u16;
        let top = (s.fpu.fsw >> 11) as usize & 7;
        for (i, st) in r.st.iter().enumerate() {
            s.fpu.regs[(top + i) & 7] = f80_from(st);
        }
        self.m.set_cpu_state(s);
        Ok(())
    }

    fn read_addrs(&mut self, start: u32, data: &mut [u8]) -> TargetResult<usize, Self> {
        // page by page: a short read tells gdb where the mapped memory ends
        let mut done = 0;
        while done < data.len() {
            let lin = start.wrapping_add(done as u32);
            let n = (4096 - (lin & 0xFFF) as usize).min(data.len() - done);
            if self.m.read_virt(lin, &mut data[done..done + n]).is_err() {
                break;
            }
            done += n;
        }
        if done == 0 && !data.is_empty() {
            return Err(TargetError::NonFatal);
        }
        Ok(done)
    }

    fn write_addrs(&mut self, start: u32, data: &[u8]) -> TargetResult<(), Self> {
        self.m
            .write_virt(start, data)
            .map_err(|_| TargetError::NonFatal)
    }

    fn support_resume(&mut self) -> Option<SingleThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadResume for Stub<'_> {
    /// Continue; a signal gdb asks to deliver is ignored (the guest has no signals).
    fn resume(&mut self, _signal: Option<Signal>) -> Result<(), Self::Error> {
        self.action = Action::Continue;
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<SingleThreadSingleStepOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadSingleStep for Stub<'_> {
    fn step(&mut self, _signal: Option<Signal>) -> Result<(), Self::Error> {
        self.action = Action::Step;
        Ok(())
    }
}

impl Breakpoints for Stub<'_> {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }
}

impl SwBreakpoint for Stub<'_> {
    fn add_sw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        self.m.add_breakpoint(addr);
        Ok(true)
    }

    fn remove_sw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self.m.remove_breakpoint(addr))
    }
}

/// Runs the guest for gdb between packets.
struct EventLoop<'a>(PhantomData<&'a ()>);

impl<'a> BlockingEventLoop for EventLoop<'a> {
    type Target = Stub<'a>;
    type Connection = TcpStream;
    type StopReason = StopReason;

    fn wait_for_stop_reason(
        target: &mut Stub<'a>,
        conn: &mut TcpStream,
    ) -> Result<Event<StopReason>, WaitForStopReasonError<String, std::io::Error>> {
        loop {
            let before = target.m.instruction_count();
            let n = match target.action {
                Action::Step => 1,
                Action::Continue => {
                    // gdb spoke (Ctrl-C, or a closed connection): let gdbstub see it
                    if conn
                        .peek()
                        .map_err(WaitForStopReasonError::Connection)?
                        .is_some()
                    {
                        let byte = conn.read().map_err(WaitForStopReasonError::Connection)?;
                        return Ok(Event::IncomingData(byte));
                    }
                    SLICE
                }
            };
            let r = target.run(n);
            let executed = target.m.instruction_count() > before;
            target.terminal = None;
            target.error = None;
            if let Some(stop) = target
                .stop(r, executed)
                .map_err(WaitForStopReasonError::Target)?
            {
                return Ok(Event::TargetStopped(stop));
            }
        }
    }

    fn on_interrupt(_target: &mut Stub<'a>) -> Result<Option<StopReason>, String> {
        Ok(Some(StopReason::Signal(Signal::SIGINT)))
    }
}

/// Waits for gdb on `addr` (HOST:PORT; port 0 picks a free one, and the message on stderr names
/// it) and serves it until it detaches, kills the guest or the guest exits. `max` ends the run
/// at that instruction count from machine start (a SIGXCPU stop); `last_output` tracks the last
/// byte of guest output written to stdout.
///
/// Returns `Some(end)` when the session is over, or `None` when gdb detached and the guest
/// should run on without it. A lost connection counts as a kill; an unimplemented instruction
/// that gdb saw and then killed is returned as the error.
pub fn serve(
    m: &mut Machine,
    addr: &str,
    max: Option<u64>,
    last_output: &mut Option<u8>,
) -> Result<Option<End>, String> {
    let listener = TcpListener::bind(addr).map_err(|e| format!("--gdb {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!("vx86: waiting for gdb on {local}");
    let (conn, peer) = listener
        .accept()
        .map_err(|e| format!("--gdb {addr}: {e}"))?;
    eprintln!("vx86: gdb connected from {peer}");
    let mut stub = Stub {
        m,
        max: max.unwrap_or(u64::MAX),
        action: Action::Continue,
        terminal: None,
        error: None,
        last_output,
    };
    let reason = match GdbStub::new(conn).run_blocking::<EventLoop<'_>>(&mut stub) {
        Ok(r) => r,
        Err(e) if e.is_connection_error() => {
            eprintln!("vx86: gdb connection lost ({e}); stopping");
            DisconnectReason::Kill
        }
        Err(e) => return Err(format!("gdb stub: {e}")),
    };
    match reason {
        DisconnectReason::Disconnect => {
            eprintln!("vx86: gdb detached; the guest runs on");
            for b in stub.m.breakpoints() {
                stub.m.remove_breakpoint(b);
            }
            Ok(None)
        }
        DisconnectReason::TargetExited(_) | DisconnectReason::TargetTerminated(_) => Ok(Some(
            End::Machine(stub.terminal.unwrap_or(ExitReason::PowerOff)),
        )),
        DisconnectReason::Kill => match stub.error {
            Some(e) => Err(e),
            None => Ok(Some(stub.terminal.map_or(End::Quit, End::Machine))),
        },
    }
}
