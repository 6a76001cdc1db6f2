//! Snapshots (DESIGN.md, "Snapshots"): the machine's whole state as bytes that restore in
//! another process, on another host, natively or in wasm. The container (header, checksum,
//! compression, RAM page lists) is `vx86-snapshots`; this file decides what goes in it and
//! validates what comes out.
//!
//! Sections, in this order, each a canonical bincode encoding (fixed-width little-endian):
//! `CONF` the [`MachineConfig`]; `CPU ` the architectural state, instruction count, interrupt
//! and trap shadows, pending INTR vector, shutdown flag and CPL; `TLB ` the valid TLB entries
//! (a guest can observe a stale entry, so a restored machine must have the same ones); `DEVS`
//! every device, the clock, the timers, host input not yet received, pending reset/power-off,
//! the A20 gate and the random source; `RAM ` the non-zero pages (full) or the pages written since the base
//! (incremental); `DISK` each virtio disk: its size and base image SHA-256 (the image itself is
//! not stored: the restoring host supplies it, see [`Machine::from_snapshot_with_disks`]), its
//! flush count and the chunks the guest wrote (the whole overlay, also in an incremental
//! snapshot). The decoded-block cache is not saved: it is rebuilt from RAM.
//!
//! Restoring builds a fresh machine from `CONF` (so port/MMIO maps and device wiring come from
//! code, not from the file), then checks that every saved device has the kind the
//! configuration puts at its index and passes its own validation, that times are not in the
//! future and counters are in range, before anything is used.

use super::{DiskImage, Machine, MachineConfig};
use crate::cpu::CpuState;
use crate::VmError;
use vx86_snapshots::container::{self, Header, SectionTag, SnapshotKind};
use vx86_snapshots::pages::{self, PageSet};

const CONF: SectionTag = SectionTag(*b"CONF");
const CPU: SectionTag = SectionTag(*b"CPU ");
const TLB: SectionTag = SectionTag(*b"TLB ");
const DEVS: SectionTag = SectionTag(*b"DEVS");
const RAM: SectionTag = SectionTag(*b"RAM ");
const DISK: SectionTag = SectionTag(*b"DISK");
const SECTIONS: [SectionTag; 6] = [CONF, CPU, TLB, DEVS, RAM, DISK];

/// Largest body a snapshot may declare: all RAM vx86 supports as pages, plus room for the
/// page list and the other sections.
const MAX_BODY: u64 = (4 << 30) + (64 << 20);
/// Largest encoding accepted for a non-RAM section (checked by bincode before it allocates).
const MAX_SECTION: usize = 64 << 20;
/// Counts and times beyond this are refused (2^60 instructions or ns: decades of guest time),
/// so that no arithmetic on restored values can overflow.
const MAX_COUNT: u64 = 1 << 60;

/// How [`Machine::save_snapshot`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SnapshotOptions {
    /// Compress the body with LZ4 (smaller files; a little slower).
    pub compress: bool,
    /// Store only the RAM pages written since the last snapshot taken or restored (its id is
    /// the base); needs that snapshot to be the newest baseline (see [`Machine::checkpoint`]).
    pub incremental: bool,
}

type CpuSection = (CpuState, u64, Option<u8>, bool, bool, bool, u8);
type TlbSection = (bool, Vec<(u16, crate::mmu::TlbEntry)>);
type DevsSection = (
    Vec<crate::devices::Device>,
    crate::time::VirtualClock,
    crate::time::Timers,
    std::collections::VecDeque<u8>,
    bool,
    bool,
    u32,
    crate::bus::Entropy,
);

fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_fixed_int_encoding()
        .with_little_endian()
        .with_limit::<MAX_SECTION>()
}

fn encode<T: bincode::Encode>(value: &T) -> Vec<u8> {
    bincode::encode_to_vec(value, bincode_config()).expect("encoding to a Vec cannot fail")
}

fn decode<T: bincode::Decode<()>>(bytes: &[u8], what: &str) -> Result<T, VmError> {
    match bincode::decode_from_slice(bytes, bincode_config()) {
        Ok((v, n)) if n == bytes.len() => Ok(v),
        Ok((_, n)) => Err(bad(format!(
            "{what}: {} bytes after the encoded state",
            bytes.len() - n
        ))),
        Err(e) => Err(bad(format!("{what}: {e}"))),
    }
}

fn bad(msg: String) -> VmError {
    VmError::Snapshot(msg)
}

fn format_error(e: vx86_snapshots::FormatError) -> VmError {
    VmError::Snapshot(e.to_string())
}

/// The configuration's canonical encoding (as in the `CONF` section).
pub(super) fn encode_config(config: &MachineConfig) -> Vec<u8> {
    encode(config)
}

/// Decodes a configuration encoded by [`encode_config`] (untrusted bytes).
pub(super) fn decode_config(bytes: &[u8]) -> Result<MachineConfig, VmError> {
    decode(bytes, "configuration")
}

/// SHA-256 of the configuration's canonical encoding (the snapshot header's config hash).
pub(super) fn config_hash(config: &MachineConfig) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(encode(config)).into()
}

impl Machine {
    /// Saves the machine as snapshot bytes (see the module header). Taking a snapshot starts a
    /// new dirty-page baseline: an incremental snapshot taken next stores only what changed,
    /// and a checkpoint taken before this one restores by copying all of RAM.
    pub fn save_snapshot(&mut self, options: SnapshotOptions) -> Result<Vec<u8>, VmError> {
        let kind = if options.incremental {
            match self.snapshot_base {
                Some((base, epoch)) if epoch == self.checkpoint_epoch => {
                    SnapshotKind::Incremental { base }
                }
                Some(_) => {
                    return Err(bad(
                        "an incremental snapshot needs the last snapshot as the \
                         baseline, but a checkpoint was taken or restored since; take a full \
                         snapshot"
                            .into(),
                    ))
                }
                None => {
                    return Err(bad(
                        "an incremental snapshot needs a snapshot taken or restored \
                         first on this machine; take a full snapshot"
                            .into(),
                    ))
                }
            }
        } else {
            SnapshotKind::Full
        };
        let ram = self.bus.mem.as_slice();
        let ram_section = match kind {
            SnapshotKind::Full => pages::encode(ram, &pages::non_zero_pages(ram), &[]),
            SnapshotKind::Incremental { .. } => {
                let (mut stored, mut zeroed) = (Vec::new(), Vec::new());
                for p in self.bus.mem.dirty_pages() {
                    let bytes = &ram[p * pages::PAGE_SIZE..(p + 1) * pages::PAGE_SIZE];
                    if bytes.iter().any(|&b| b != 0) {
                        stored.push(p as u32);
                    } else {
                        zeroed.push(p as u32);
                    }
                }
                pages::encode(ram, &stored, &zeroed)
            }
        };
        let cpu = &self.cpu;
        let cpu_section: CpuSection = (
            cpu.state(),
            cpu.icount,
            cpu.pending_irq,
            cpu.irq_shadow,
            cpu.ss_shadow,
            cpu.shutdown,
            cpu.cpl,
        );
        let bus = &self.bus;
        let devs: DevsSection = (
            bus.devices.clone(),
            bus.clock,
            bus.timers,
            bus.serial_in.clone(),
            bus.reset_requested,
            bus.poweroff_requested,
            bus.a20_mask,
            bus.entropy,
        );
        let header = Header {
            kind,
            config_hash: config_hash(&self.config),
            compressed: options.compress,
        };
        let bytes = container::write(
            &header,
            &[
                (CONF, &encode(&self.config)),
                (CPU, &encode(&cpu_section)),
                (TLB, &encode(&cpu.mmu.tlb_entries())),
                (DEVS, &encode(&devs)),
                (RAM, &ram_section),
                (DISK, &super::disk_section::encode(&self.bus.disks)),
            ],
        );
        let mut id = [0; 32];
        id.copy_from_slice(&bytes[bytes.len() - 32..]);
        self.start_baseline(id);
        Ok(bytes)
    }

    /// Builds a machine from full snapshot bytes (from [`Machine::save_snapshot`], in any
    /// process or on any host). Every field is validated; bad bytes give
    /// [`VmError::Snapshot`] with the reason. A machine with disks needs their images:
    /// [`Machine::from_snapshot_with_disks`].
    pub fn from_snapshot(bytes: &[u8]) -> Result<Machine, VmError> {
        Self::from_snapshot_with_disks(bytes, Vec::new())
    }

    /// [`Machine::from_snapshot`] for a machine with virtio disks: `disks` are their base
    /// images as they were attached (checked against the size and SHA-256 the snapshot
    /// names); what the guest wrote comes from the snapshot.
    pub fn from_snapshot_with_disks(
        bytes: &[u8],
        disks: Vec<DiskImage>,
    ) -> Result<Machine, VmError> {
        Self::restore_snapshot(bytes, MAX_BODY, disks)
    }

    /// [`Machine::from_snapshot`], refusing snapshots of machines with more than `max_ram`
    /// bytes of RAM before allocating it (for hosts that restore snapshots they did not make).
    pub fn from_snapshot_with_ram_limit(bytes: &[u8], max_ram: u64) -> Result<Machine, VmError> {
        Self::restore_snapshot(bytes, max_ram, Vec::new())
    }

    fn restore_snapshot(
        bytes: &[u8],
        max_ram: u64,
        disks: Vec<DiskImage>,
    ) -> Result<Machine, VmError> {
        let c = container::read(bytes, MAX_BODY).map_err(format_error)?;
        if c.header.kind != SnapshotKind::Full {
            return Err(bad(
                "this is an incremental snapshot: restore its base with \
                 Machine::from_snapshot, then apply it with apply_incremental_snapshot"
                    .into(),
            ));
        }
        c.expect_sections(&SECTIONS).map_err(format_error)?;
        let config: MachineConfig = decode(c.section(CONF).map_err(format_error)?, "CONF")?;
        if config.ram_size as u64 > max_ram {
            return Err(bad(format!(
                "CONF: {} bytes of RAM, more than the limit of {max_ram}",
                config.ram_size
            )));
        }
        if config_hash(&config) != c.header.config_hash {
            return Err(bad(
                "the configuration does not match the header's hash".into()
            ));
        }
        if disks.len() != config.virtio.disks.len() {
            return Err(bad(format!(
                "the machine has {} virtio disk(s) and {} image(s) were given: pass the disk \
                 images when restoring (Rust: Machine::from_snapshot_with_disks; Python: \
                 Machine.from_bytes(data, disks); JavaScript: Machine.fromBytes(bytes, disks); \
                 CLI: --disk)",
                config.virtio.disks.len(),
                disks.len()
            )));
        }
        let mut m = match Machine::with_disks(config, disks) {
            Ok(m) => m,
            Err(e @ VmError::Image(_)) => return Err(e),
            Err(e) => return Err(bad(format!("CONF: {e}"))),
        };
        m.apply_sections(&c)?;
        m.start_baseline(c.id);
        Ok(m)
    }

    /// Applies an incremental snapshot to this machine, which must be exactly at the state of
    /// the snapshot it was based on (just restored from it or from the previous incremental
    /// in the chain, not run since).
    pub fn apply_incremental_snapshot(&mut self, bytes: &[u8]) -> Result<(), VmError> {
        let c = container::read(bytes, MAX_BODY).map_err(format_error)?;
        let SnapshotKind::Incremental { base } = c.header.kind else {
            return Err(bad(
                "this is a full snapshot: use Machine::from_snapshot".into()
            ));
        };
        if c.header.config_hash != config_hash(&self.config) {
            return Err(bad(
                "the snapshot is of a machine with another configuration".into(),
            ));
        }
        match self.snapshot_base {
            Some((id, epoch))
                if id == base
                    && epoch == self.checkpoint_epoch
                    && self.bus.mem.dirty_pages().is_empty() => {}
            _ => {
                return Err(bad(format!(
                    "the machine is not at this snapshot's base {} (restore the base and \
                     apply the chain in order, without running in between)",
                    vx86_snapshots::hex(&base)
                )))
            }
        }
        c.expect_sections(&SECTIONS).map_err(format_error)?;
        let config: MachineConfig = decode(c.section(CONF).map_err(format_error)?, "CONF")?;
        if config != self.config {
            return Err(bad("CONF differs from the machine's configuration".into()));
        }
        // validate everything into a copy, so a bad snapshot leaves this machine untouched
        let mut next = self.clone();
        next.apply_sections(&c)?;
        next.start_baseline(c.id);
        *self = next;
        Ok(())
    }

    /// Decodes, validates and installs the CPU, TLB, device and RAM sections.
    fn apply_sections(&mut self, c: &container::Container) -> Result<(), VmError> {
        let section = |t| c.section(t).map_err(format_error);
        let (state, icount, pending_irq, irq_shadow, ss_shadow, shutdown, cpl): CpuSection =
            decode(section(CPU)?, "CPU")?;
        if icount > MAX_COUNT || cpl > 3 {
            return Err(bad(format!(
                "CPU: instruction count {icount} or CPL {cpl} out of range"
            )));
        }
        let (has_large, tlb): TlbSection = decode(section(TLB)?, "TLB")?;
        let (devices, clock, timers, serial_in, reset, poweroff, a20_mask, entropy): DevsSection =
            decode(section(DEVS)?, "DEVS")?;
        if clock.hz != self.config.cpu_hz || clock.idle_ns > MAX_COUNT {
            return Err(bad(format!(
                "DEVS: clock at {} Hz with {} ns idle (configuration: {} Hz)",
                clock.hz, clock.idle_ns, self.config.cpu_hz
            )));
        }
        if timers.next().is_some_and(|(d, _)| d > MAX_COUNT) {
            return Err(bad("DEVS: a timer deadline is out of range".into()));
        }
        if a20_mask != !0 && a20_mask != !(1 << 20) {
            return Err(bad(format!("DEVS: A20 mask {a20_mask:#x}")));
        }
        if devices.len() != self.bus.devices.len() {
            return Err(bad(format!(
                "DEVS: {} devices, the configuration has {}",
                devices.len(),
                self.bus.devices.len()
            )));
        }
        let now = clock.now_ns(icount);
        for (i, (saved, built)) in devices.iter().zip(&self.bus.devices).enumerate() {
            if std::mem::discriminant(saved) != std::mem::discriminant(built) {
                return Err(bad(format!(
                    "DEVS: device {i} is not the kind the configuration puts there"
                )));
            }
            saved
                .validate(now)
                .map_err(|e| bad(format!("DEVS: device {i}: {e}")))?;
        }
        let disks = super::disk_section::decode(section(DISK)?, &self.bus.disks)?;
        let ram = PageSet::decode(section(RAM)?).map_err(format_error)?;
        if ram.ram_size != self.bus.mem.size() as u64 {
            return Err(bad(format!(
                "RAM: {} bytes, the configuration has {}",
                ram.ram_size,
                self.bus.mem.size()
            )));
        }
        if c.header.kind == SnapshotKind::Full && !ram.zeroed.is_empty() {
            return Err(bad("RAM: a full snapshot lists zeroed pages".into()));
        }
        // everything checked: install
        self.cpu.set_state(state);
        self.cpu.icount = icount;
        self.cpu.pending_irq = pending_irq;
        self.cpu.irq_shadow = irq_shadow;
        self.cpu.ss_shadow = ss_shadow;
        self.cpu.shutdown = shutdown;
        self.cpu.cpl = cpl;
        self.cpu.refresh_alignment_check();
        self.cpu
            .mmu
            .restore_tlb(has_large, &tlb)
            .map_err(|e| bad(format!("TLB: {e}")))?;
        let bus = &mut self.bus;
        bus.devices = devices;
        bus.clock = clock;
        bus.timers = timers;
        bus.serial_in = serial_in;
        bus.reset_requested = reset;
        bus.poweroff_requested = poweroff;
        bus.a20_mask = a20_mask;
        bus.entropy = entropy;
        for (disk, (chunks, flushes)) in bus.disks.iter_mut().zip(disks) {
            disk.set_overlay(chunks, flushes);
        }
        // device state first, then the maps that follow it (BAR addresses)
        bus.map_virtio_pci();
        bus.retime();
        bus.update_intr();
        let zero = [0u8; pages::PAGE_SIZE];
        for &p in &ram.zeroed {
            bus.mem.write(p as u64 * pages::PAGE_SIZE as u64, &zero)?;
        }
        for (p, bytes) in ram.stored_pages() {
            bus.mem.write(p as u64 * pages::PAGE_SIZE as u64, bytes)?;
        }
        self.blocks = crate::cpu::BlockCache::default();
        Ok(())
    }

    /// Makes snapshot `id` the dirty-page baseline for the next incremental snapshot.
    fn start_baseline(&mut self, id: [u8; 32]) {
        self.bus.mem.clear_dirty();
        self.checkpoint_epoch += 1;
        self.snapshot_base = Some((id, self.checkpoint_epoch));
    }
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
