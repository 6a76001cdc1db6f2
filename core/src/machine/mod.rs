//! The [`Machine`]: CPU, memory, buses and devices, and the run loop with an exact instruction
//! budget.
//!
//! One retired instruction is one unit of the budget. A REP string instruction retires once
//! per iteration; an instruction that faults counts once together with the delivery of its
//! exception. HLT retires and then the machine reports [`ExitReason::Halted`] (there are no
//! interrupt sources yet to wake it).

#[cfg(test)]
mod block_flow_tests;
mod checkpoint;
mod disk_section;
#[cfg(test)]
mod fast_path_tests;
mod inspect;
mod link;
mod replay;
mod snapshot;
mod state_hash;
mod virtio;

use crate::bus::Bus;
use crate::cpu::flag;
use crate::cpu::{BlockCache, BlockStats, Cpu, CpuState, Exception, SegReg};
pub use crate::devices::virtio::disk::{Disk, DiskImage};
use crate::devices::{DebugConsole, Device, DeviceId};
use crate::loader::linux::KernelEntry;
use crate::memory::GuestMemory;
use crate::VmError;
pub use checkpoint::Checkpoint;
pub use link::{NetLink, DEFAULT_QUANTUM_NS};
pub use replay::{
    first_difference, Divergence, RecordStart, Replay, ReplayStatus, DEFAULT_CHECKPOINT_INTERVAL,
};
pub use snapshot::SnapshotOptions;
pub use virtio::{DiskConfig, VirtioConfig, DEFAULT_MAC};

/// Consecutive idle skips (HLT to the next timer) that deliver no interrupt before `run`
/// reports the CPU as halted for good.
const IDLE_SKIPS_WITHOUT_INTERRUPT: u32 = 64;

/// How a machine is built.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct MachineConfig {
    /// Guest RAM in bytes (a multiple of 4 KiB).
    pub ram_size: usize,
    /// Whether the A20 gate starts enabled (addresses above 1 MiB do not wrap).
    pub a20_enabled: bool,
    /// Attach the port-0xE9 debug console.
    pub debug_console: bool,
    /// Attach the PC chipset's legacy devices: the 8259A pair, the 8254 timer, the RTC, four
    /// UARTs (COM1-COM4; COM1 is the host's console), the 8042 and PCI configuration (every PC
    /// has them; a bare CPU with an empty I/O bus, as some test vectors assume, has none).
    pub chipset: bool,
    /// With `chipset`: also attach the local APIC (in virtual-wire mode, so PIC-only guests
    /// see no difference), the I/O APIC and the ACPI PM registers, and give OS loaders ACPI
    /// tables (RSDP, RSDT, FADT, FACS, DSDT, MADT) describing them.
    pub apic: bool,
    /// Instructions per virtual second: the rate at which virtual time advances.
    pub cpu_hz: u64,
    /// What the real-time clock reads at virtual time 0, in seconds since 1970-01-01 UTC
    /// (never the host's clock).
    pub start_time_unix: u64,
    /// Seed of the machine's random source (RDRAND, RDSEED, virtio-rng): the same seed, the
    /// same numbers.
    pub seed: u64,
    /// The virtio devices (PCI functions after the chipset's; need `chipset`).
    pub virtio: VirtioConfig,
}

impl Default for MachineConfig {
    fn default() -> Self {
        Self {
            ram_size: 16 << 20,
            a20_enabled: true,
            debug_console: true,
            chipset: true,
            apic: true,
            cpu_hz: crate::bus::DEFAULT_HZ,
            start_time_unix: 1_767_225_600, // 2026-01-01 00:00:00 UTC
            seed: 0,
            virtio: VirtioConfig::default(),
        }
    }
}

/// Why [`Machine::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReason {
    /// The instruction budget was used up.
    BudgetReached,
    /// The CPU executed HLT and nothing can wake it.
    Halted,
    /// The processor shut down (a fault while delivering a double fault).
    TripleFault,
    /// The guest reset the machine (keyboard-controller reset pulse, port 0x92 or 0xCF9): a
    /// reboot.
    Reset,
    /// The guest powered the machine off (ACPI soft-off, S5).
    PowerOff,
    /// The CPU reached a breakpoint ([`Machine::add_breakpoint`], or `run_until`'s address);
    /// the instruction there has not run yet.
    Breakpoint,
    /// A hook callback asked to stop ([`Machine::last_hook_event`] says which event).
    Hooked,
    /// The CPU is halted waiting for a timer due after the host's idle limit
    /// ([`Machine::set_idle_limit`]): no idle time was skipped. Run again once the limit
    /// has moved, or after sending input (which the guest then receives at once).
    Idle,
}

impl ExitReason {
    /// A short lower-case name: "budget", "halted", "triple_fault", "reset", "poweroff",
    /// "breakpoint", "hook", "idle" (the bindings' exit reasons).
    pub fn name(self) -> &'static str {
        match self {
            Self::BudgetReached => "budget",
            Self::Halted => "halted",
            Self::TripleFault => "triple_fault",
            Self::Reset => "reset",
            Self::PowerOff => "poweroff",
            Self::Breakpoint => "breakpoint",
            Self::Hooked => "hook",
            Self::Idle => "idle",
        }
    }
}

/// A whole x86 PC.
#[derive(Debug, Clone)]
pub struct Machine {
    cpu: Cpu,
    bus: Bus,
    blocks: BlockCache,
    config: MachineConfig,
    debug_console: Option<DeviceId>,
    /// Which checkpoint's baseline the RAM dirty bitmap tracks (see `checkpoint.rs`).
    checkpoint_epoch: u64,
    /// The snapshot last taken or restored and the baseline epoch it started: what an
    /// incremental snapshot is based on (see `snapshot.rs`).
    snapshot_base: Option<([u8; 32], u64)>,
    /// The recording in progress, if any (see `replay.rs`).
    recorder: Option<Box<replay::Recorder>>,
    /// The images `load_linux` loaded (hashes), for recordings that reference them.
    linux_images: Option<replay::LinuxImages>,
    /// Linear addresses where `run` stops before executing (see `inspect.rs`).
    breakpoints: std::collections::BTreeSet<u32>,
    /// Host pacing: a halted CPU does not skip virtual time past this (see `set_idle_limit`).
    idle_limit: Option<u64>,
    /// The instruction count at which a run stopped before an instruction (breakpoint or code
    /// hook): the next run executes that instruction without stopping there again.
    resume_past: Option<(u64, u32)>,
    /// The hook event that ended the last run with `ExitReason::Hooked`.
    last_hook: Option<crate::hooks::HookEvent>,
}

impl Machine {
    /// Builds a machine with zeroed RAM and the CPU in its reset state. A configuration with
    /// disks needs their images: use [`Machine::with_disks`].
    pub fn new(config: MachineConfig) -> Result<Self, VmError> {
        Self::with_disks(config, Vec::new())
    }

    /// [`Machine::new`] with `disks` as the images of `config.virtio.disks` (in order; each
    /// must have the configured size and SHA-256, see [`DiskConfig::for_image`]).
    pub fn with_disks(config: MachineConfig, disks: Vec<DiskImage>) -> Result<Self, VmError> {
        virtio::check_disk_images(&config, &disks)?;
        let mem = GuestMemory::new(config.ram_size)?;
        let mut bus = Bus::new(mem);
        if !config.a20_enabled {
            bus.a20_mask = !(1 << 20);
        }
        if config.cpu_hz == 0 {
            return Err(VmError::Config("cpu_hz must be at least 1".into()));
        }
        bus.clock = crate::time::VirtualClock::new(config.cpu_hz);
        bus.entropy = crate::bus::Entropy::new(config.seed);
        if config.chipset {
            let pic = bus.add_device(Device::Pic(crate::devices::pic::DualPic::default()));
            bus.map_ports(0x20, 2, pic)?;
            bus.map_ports(0xA0, 2, pic)?;
            bus.map_ports(0x4D0, 2, pic)?;
            bus.pic = Some(pic);
            let pit = bus.add_device(Device::Pit(crate::devices::pit::Pit::default()));
            bus.map_ports(0x40, 4, pit)?;
            bus.map_ports(0x61, 1, pit)?;
            bus.pit = Some(pit);
            let com1 = bus.add_device(Device::Uart(crate::devices::uart::Uart::default()));
            bus.map_ports(0x3F8, 8, com1)?;
            bus.com1 = Some((com1, 4));
            for (port, irq) in [(0x2F8, 3), (0x3E8, 4), (0x2E8, 3)] {
                let u = bus.add_device(Device::Uart(crate::devices::uart::Uart::default()));
                bus.map_ports(port, 8, u)?;
                bus.other_uarts.push((u, irq));
            }
            let rtc = crate::devices::rtc::Rtc::new(config.start_time_unix, config.ram_size as u64);
            let rtc = bus.add_device(Device::Rtc(rtc));
            bus.map_ports(0x70, 2, rtc)?;
            bus.rtc = Some(rtc);
            let kbc = bus.add_device(Device::I8042(crate::devices::i8042::I8042::new(
                config.a20_enabled,
            )));
            bus.map_ports(0x60, 1, kbc)?;
            bus.map_ports(0x64, 1, kbc)?;
            bus.map_ports(0x92, 1, kbc)?;
            bus.map_ports(0x80, 1, kbc)?;
            bus.kbc = Some(kbc);
            let pci = bus.add_device(Device::Pci(crate::devices::pci::PciBus::default()));
            bus.map_ports(0xCF8, 8, pci)?;
            bus.pci = Some(pci);
            if config.apic {
                use crate::devices::{acpi_pm, ioapic, lapic};
                let l = bus.add_device(Device::Lapic(lapic::Lapic::default()));
                bus.map_mmio(lapic::BASE, 0x1000, l)?;
                bus.lapic = Some(l);
                let io = bus.add_device(Device::Ioapic(ioapic::Ioapic::default()));
                bus.map_mmio(ioapic::BASE, 0x1000, io)?;
                bus.ioapic = Some(io);
                let pm = bus.add_device(Device::AcpiPm(acpi_pm::AcpiPm::default()));
                bus.map_ports(acpi_pm::PM1_EVT, acpi_pm::PORTS, pm)?;
                bus.acpi_pm = Some(pm);
            }
        }
        let debug_console = if config.debug_console {
            let id = bus.add_device(Device::DebugConsole(DebugConsole::default()));
            bus.map_ports(DebugConsole::PORT, 1, id)?;
            Some(id)
        } else {
            None
        };
        let mut m = Self {
            cpu: Cpu::new(CpuState::reset()),
            bus,
            blocks: BlockCache::default(),
            config,
            debug_console,
            checkpoint_epoch: 0,
            snapshot_base: None,
            recorder: None,
            linux_images: None,
            breakpoints: Default::default(),
            idle_limit: None,
            resume_past: None,
            last_hook: None,
        };
        m.attach_virtio(disks)?;
        Ok(m)
    }

    /// The configuration the machine was built with.
    pub fn config(&self) -> &MachineConfig {
        &self.config
    }

    /// Copies `code` to physical `address` and puts the CPU in real mode at 0000:`entry`, as
    /// after a BIOS jumps to a loaded boot sector: all segment registers 0, SP = 0xFFFE,
    /// interrupts disabled, the IVT at 0.
    pub fn load_flat(&mut self, code: &[u8], address: u32, entry: u16) -> Result<(), VmError> {
        let end = address as u64 + code.len() as u64;
        if end > self.bus.mem.size() as u64 {
            return Err(VmError::Image(format!(
                "{} bytes at {address:#x} do not fit in {} bytes of RAM",
                code.len(),
                self.bus.mem.size()
            )));
        }
        self.bus.mem.write(address as u64, code)?;
        self.cpu.set_state(CpuState::real_mode(0, entry, 0xFFFE));
        Ok(())
    }

    /// Loads a Multiboot v1 kernel (ELF32, or the header's load addresses) and puts the CPU
    /// in the state the specification defines for its entry: 32-bit protected mode, flat
    /// segments, paging off, EAX = 0x2BADB002, EBX = the information structure (memory sizes,
    /// `cmdline`, memory map). A malformed or oversized image is refused before anything is
    /// written.
    pub fn load_multiboot(&mut self, kernel: &[u8], cmdline: &str) -> Result<(), VmError> {
        let ram = self.bus.mem.size() as u64;
        let img = crate::loader::multiboot::parse(kernel, ram)?;
        let (boot, state) = crate::loader::multiboot::boot_state(img.entry, ram, cmdline);
        self.write_chunks(&img.chunks)?;
        self.write_chunks(&boot)?;
        self.write_firmware_tables()?;
        self.bus.a20_mask = !0;
        self.cpu.set_state(state);
        Ok(())
    }

    /// Loads a Linux bzImage (boot protocol 2.06+), an optional initrd and the command line,
    /// and sets the CPU up for the bzImage's 32-bit entry, where its decompressor runs in the
    /// guest (see `loader::linux`). A malformed or oversized image is refused with a reason
    /// before anything is written.
    pub fn load_linux(
        &mut self,
        kernel: &[u8],
        initrd: Option<&[u8]>,
        cmdline: &str,
    ) -> Result<(), VmError> {
        self.load_linux_with(kernel, initrd, cmdline, KernelEntry::Decompressor)
    }

    /// [`Machine::load_linux`] with a choice of entry: [`KernelEntry::Direct`] decompresses the
    /// kernel on the host and enters it past the decompressor (needs an xz payload, boot
    /// protocol 2.08+).
    pub fn load_linux_with(
        &mut self,
        kernel: &[u8],
        initrd: Option<&[u8]>,
        cmdline: &str,
        entry: KernelEntry,
    ) -> Result<(), VmError> {
        let ram = self.bus.mem.size() as u64;
        let boot = crate::loader::linux::load(kernel, initrd, cmdline, ram, entry)?;
        self.write_chunks(&boot.chunks)?;
        self.write_firmware_tables()?;
        self.cpu.set_state(boot.state);
        self.linux_images = Some(replay::LinuxImages::new(kernel, initrd, cmdline, entry));
        Ok(())
    }

    /// With the APICs attached: the ACPI tables describing them, where an OS looks for them.
    fn write_firmware_tables(&mut self) -> Result<(), VmError> {
        if self.bus.lapic.is_some() && self.bus.mem.size() > 0x10_0000 {
            for (addr, bytes) in crate::loader::acpi::tables(self.bus.mem.size() as u64) {
                self.bus.mem.write(addr as u64, &bytes)?;
            }
        }
        Ok(())
    }

    fn write_chunks(&mut self, chunks: &[crate::loader::multiboot::Chunk]) -> Result<(), VmError> {
        for c in chunks {
            self.bus.mem.write(c.addr as u64, &c.data)?;
            let tail = vec![0u8; (c.len as usize).saturating_sub(c.data.len())];
            self.bus
                .mem
                .write(c.addr as u64 + c.data.len() as u64, &tail)?;
        }
        Ok(())
    }

    /// The CPU state (EFLAGS materialised).
    pub fn cpu_state(&self) -> CpuState {
        self.cpu.state()
    }

    /// Replaces the CPU state.
    pub fn set_cpu_state(&mut self, s: CpuState) {
        self.cpu.set_state(s);
    }

    /// Reads guest physical memory (RAM only).
    pub fn read_phys(&self, addr: u64, buf: &mut [u8]) -> Result<(), VmError> {
        self.bus.mem.read(addr, buf)
    }

    /// Writes guest physical memory (RAM only; ROM pages are written too).
    pub fn write_phys(&mut self, addr: u64, data: &[u8]) -> Result<(), VmError> {
        self.bus.mem.write(addr, data)
    }

    /// The bus (memory, devices), for device attachment and inspection.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// The bus, mutably.
    pub fn bus_mut(&mut self) -> &mut Bus {
        &mut self.bus
    }

    /// Instructions retired since power-on.
    pub fn instruction_count(&self) -> u64 {
        self.cpu.instruction_count()
    }

    /// Virtual time in nanoseconds: retired instructions at `cpu_hz` plus skipped idle time.
    pub fn virtual_time_ns(&self) -> u64 {
        self.bus.clock.now_ns(self.cpu.icount)
    }

    /// Block-cache counters.
    pub fn block_stats(&self) -> BlockStats {
        self.blocks.stats()
    }

    /// Sends bytes to the guest's serial port COM1 (they enter its receive FIFO as room
    /// becomes available).
    pub fn send_serial(&mut self, data: &[u8]) {
        if self.recorder.is_some() {
            self.record_input(vx86_snapshots::replay_log::EventKind::Serial(data.to_vec()));
        }
        self.bus.serial_in.extend(data.iter().copied());
        self.bus.serial_update();
    }

    /// Whether the guest's COM1 driver has enabled the received-data interrupt (IER bit 0):
    /// a sign it is ready to read. Scripted input (the CLI's `--input-file`) waits for it so
    /// bytes are not lost to driver probing during boot.
    pub fn serial_receive_enabled(&self) -> bool {
        match self.bus.com1.map(|c| &self.bus.devices[c.0 .0 as usize]) {
            Some(Device::Uart(u)) => u.ier & crate::devices::uart::ier::RDA != 0,
            _ => false,
        }
    }

    /// Bytes queued by [`Machine::send_serial`] that the guest has not received yet.
    pub fn serial_input_queued(&self) -> usize {
        self.bus.serial_in.len()
    }

    /// Takes the bytes the guest transmitted on COM1.
    pub fn take_serial_output(&mut self) -> Vec<u8> {
        match self
            .bus
            .com1
            .map(|c| &mut self.bus.devices[c.0 .0 as usize])
        {
            Some(Device::Uart(u)) => u.take_output(),
            _ => Vec::new(),
        }
    }

    /// Takes the bytes the guest wrote to the debug console (port 0xE9).
    pub fn take_debug_output(&mut self) -> Vec<u8> {
        match self
            .debug_console
            .map(|id| &mut self.bus.devices[id.0 as usize])
        {
            Some(Device::DebugConsole(d)) => d.take_output(),
            _ => Vec::new(),
        }
    }

    /// Drives interrupt request line `irq` (0-15) of the 8259A pair (what a device does).
    pub fn set_irq(&mut self, irq: u8, level: bool) {
        self.bus.set_irq(irq, level);
    }

    /// Raises the INTR line directly with `vector`, bypassing the interrupt controller: the interrupt is
    /// delivered at the next instruction boundary where EFLAGS.IF is set and no STI/MOV SS
    /// shadow is active, and it wakes a halted CPU. A later call replaces a vector not yet
    /// taken.
    pub fn interrupt(&mut self, vector: u8) {
        self.cpu.pending_irq = Some(vector);
    }

    /// Host pacing (DESIGN.md, "Time and determinism"): with `Some(ns)`, a halted CPU skips
    /// idle time only to timer deadlines at or before virtual time `ns`; a run that would skip
    /// further returns [`ExitReason::Idle`] with the clock untouched. A host that paces the
    /// guest against the wall clock moves the limit with it, so an idle guest costs nothing
    /// and its clock keeps step with real time; input sent meanwhile reaches the guest at the
    /// instruction count where it halted, which the replay log records like any input. Host
    /// configuration, not machine state: snapshots and the state hash leave it out.
    pub fn set_idle_limit(&mut self, limit_ns: Option<u64>) {
        self.idle_limit = limit_ns;
    }

    /// The virtual time (ns) of the next timer deadline, if a timer is armed.
    pub fn next_timer_ns(&self) -> Option<u64> {
        self.bus.next_timer_ns()
    }

    /// Executes exactly one instruction (or one REP iteration).
    pub fn step(&mut self) -> Result<ExitReason, VmError> {
        self.run(1)
    }

    /// Runs until `max_instructions` more instructions retired, the CPU halts, or it shuts
    /// down. A valid instruction vx86 does not implement yet stops the run with
    /// `Err(VmError::Unsupported)`, with EIP on that instruction and nothing of it executed.
    pub fn run(&mut self, max_instructions: u64) -> Result<ExitReason, VmError> {
        if self.recorder.is_some() {
            self.run_recording(max_instructions)
        } else {
            self.run_unrecorded(max_instructions)
        }
    }

    fn run_unrecorded(&mut self, max_instructions: u64) -> Result<ExitReason, VmError> {
        let end = self.cpu.icount.saturating_add(max_instructions);
        let mut idle_skips = 0;
        loop {
            if let Some(ev) = self.bus.hooks.stop.take() {
                self.last_hook = Some(ev);
                self.bus.retime();
                return Ok(ExitReason::Hooked);
            }
            if self.cpu.shutdown {
                return Ok(ExitReason::TripleFault);
            }
            if std::mem::take(&mut self.bus.reset_requested) {
                return Ok(ExitReason::Reset);
            }
            if self.bus.poweroff_requested {
                return Ok(ExitReason::PowerOff);
            }
            if self.cpu.icount >= self.bus.timer_icount {
                self.bus.fire_timers(self.cpu.icount);
            }
            let left = end - self.cpu.icount;
            // An external interrupt (the INTR line: the interrupt controller, or a vector
            // raised with `interrupt`) is taken between instructions when IF is set and no
            // STI/MOV SS shadow is active; it also ends a HLT.
            if (self.bus.intr || self.cpu.pending_irq.is_some())
                && self.cpu.s.eflags & flag::IF != 0
                && !self.cpu.irq_shadow
                && left > 0
            {
                let v = match self.cpu.pending_irq.take() {
                    Some(v) => Some(v),
                    None => self.bus.acknowledge_interrupt(),
                };
                if let Some(v) = v {
                    idle_skips = 0;
                    self.cpu.s.halted = false;
                    self.cpu.insn_eip = self.cpu.s.eip;
                    self.raise(Exception::External(v))?;
                    continue;
                }
            }
            if self.cpu.s.halted {
                // HLT with interrupts enabled skips idle time to the next timer deadline (up
                // to the host's idle limit). A guest waiting on timers whose interrupts stay
                // masked would wait forever: after `IDLE_SKIPS_WITHOUT_INTERRUPT` skips that
                // wake nothing, report Halted.
                if self.cpu.s.eflags & flag::IF != 0 && idle_skips < IDLE_SKIPS_WITHOUT_INTERRUPT {
                    // the budget first: the state after N instructions is N retired and no
                    // idle time skipped after a final HLT, however the run was sliced
                    if left == 0 {
                        return Ok(ExitReason::BudgetReached);
                    }
                    let next = self.bus.next_timer_ns();
                    if next.is_some_and(|d| self.idle_limit.is_some_and(|limit| d > limit)) {
                        return Ok(ExitReason::Idle);
                    }
                    if self.bus.idle_to_next_timer(self.cpu.icount) {
                        idle_skips += 1;
                        continue;
                    }
                }
                return Ok(ExitReason::Halted);
            }
            if left == 0 {
                return Ok(ExitReason::BudgetReached);
            }
            // Breakpoints and code hooks: checked before each instruction (one per dispatch).
            let watch_code = self.bus.hooks.any_code || !self.breakpoints.is_empty();
            let here = (self.cpu.icount, self.cpu.s.eip);
            if watch_code && self.resume_past.take() != Some(here) {
                if let Some(stop) = self.code_stop() {
                    self.resume_past = Some(here);
                    return Ok(stop);
                }
            }
            // With TF set, run one instruction at a time and trap after each; with an
            // instruction breakpoint armed, check each instruction's address first.
            let single_step = self.cpu.s.eflags & flag::TF != 0;
            if self.cpu.dr_exec {
                if let Some(e) = self.cpu.exec_breakpoint() {
                    self.cpu.insn_eip = self.cpu.s.eip;
                    self.cpu.icount += 1;
                    self.raise(e)?;
                    continue;
                }
            }
            // In an interrupt shadow run exactly the next instruction, then lift it.
            let shadow = std::mem::take(&mut self.cpu.irq_shadow);
            self.cpu.ss_shadow = false;
            let one_at_a_time = single_step || self.cpu.dr_exec || shadow;
            let eip = self.cpu.s.eip;
            let linear = self.cpu.s.segs[SegReg::Cs as usize].base.wrapping_add(eip);
            let exit = match self.blocks.fetch(&mut self.cpu, &mut self.bus) {
                crate::cpu::Fetch::Fault(e) => {
                    self.cpu.insn_eip = eip;
                    self.cpu.icount += 1;
                    Some(e)
                }
                crate::cpu::Fetch::Block(b) => {
                    // the first instruction was checked above; with a breakpoint or a code
                    // hook on the rest of the block, go one instruction at a time
                    let watched = watch_code
                        && b.rest_range(linear).is_some_and(|(first, last)| {
                            inspect::code_watched(&self.breakpoints, &self.bus.hooks, first, last)
                        });
                    let budget = if one_at_a_time || watched { 1 } else { left };
                    let end = self.cpu.icount + budget;
                    match self.cpu.run_block(&mut self.bus, b, end) {
                        crate::cpu::BlockExit::Exception(e) => Some(e),
                        // MOV SS / POP SS also hold back the single-step trap until after
                        // the next instruction (SDM vol. 3A, 6.8.3): it comes one step later
                        crate::cpu::BlockExit::Done
                            if single_step && !std::mem::take(&mut self.cpu.ss_shadow) =>
                        {
                            // DR6.BS: the #DB comes from single-stepping (SDM vol. 3A, 18.2.3)
                            self.cpu.s.dr[6] |= 1 << 14;
                            Some(Exception::Debug)
                        }
                        crate::cpu::BlockExit::Done => None,
                    }
                }
            };
            if let Some(e) = exit {
                self.raise(e)?;
                if self.cpu.s.halted {
                    // a trap after HLT: the processor leaves the halt to run the handler
                    self.cpu.s.halted = false;
                }
            }
        }
    }

    fn raise(&mut self, e: Exception) -> Result<(), VmError> {
        if e == Exception::Unsupported {
            return Err(self.take_unsupported());
        }
        if self.bus.hooks.any_interrupt {
            let external = matches!(e, Exception::External(_));
            self.bus.hooks.interrupt(e.vector(), external);
        }
        match self.cpu.deliver(&mut self.bus, e) {
            Ok(()) => Ok(()),
            Err(crate::cpu::DeliveryFailure::Unsupported) => Err(self.take_unsupported()),
            Err(crate::cpu::DeliveryFailure::TripleFault) => {
                self.cpu.s.halted = true;
                self.cpu.shutdown = true;
                Ok(())
            }
        }
    }

    fn take_unsupported(&mut self) -> VmError {
        self.cpu.unsupported.take().unwrap_or(VmError::Config(
            "internal: unsupported without a reason".into(),
        ))
    }
}
