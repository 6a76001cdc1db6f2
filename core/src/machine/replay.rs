//! Record and replay (DESIGN.md, "Time and determinism"): a run is a pure function of its
//! start state and its inputs, so recording the inputs with the instruction count at which
//! each was delivered is enough to reproduce it. The log format is
//! `vx86_snapshots::replay_log`.
//!
//! Recording: [`Machine::start_recording`] notes the start (an embedded snapshot, or the Linux
//! images by content hash) and its state hash; from then on every [`Machine::send_serial`] is
//! logged with the instruction count, and `run` stops at every multiple of the checkpoint
//! interval to log `(count, state hash)`. [`Machine::finish_recording`] adds the end.
//!
//! Replaying: [`Replay::start_machine`] rebuilds the start (checking image hashes and the start
//! hash), then [`Replay::advance`] runs the machine and applies the log's events in order at
//! their instruction counts, comparing every checkpoint; the first mismatch is reported with
//! the count and both hashes. [`first_difference`] bisects two replays (say, a log and a
//! perturbed copy) to the first instruction count at which their states differ.
//!
//! The state at count `n` means: `n` instructions retired and every input stamped `n` applied.

use super::{ExitReason, Machine, MachineConfig};
use crate::loader::linux::KernelEntry;
use crate::VmError;
use vx86_snapshots::replay_log::{Boot, Event, EventKind, ImageRef, ReplayLog, Start};

/// Instructions between state-hash checkpoints unless the recorder asks otherwise.
pub const DEFAULT_CHECKPOINT_INTERVAL: u64 = 100_000_000;

/// Where a recording starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordStart {
    /// From the machine's current state, embedded in the log as a full snapshot.
    Snapshot,
    /// From the Linux images this machine loaded at instruction 0 (referenced by hash; the
    /// paths are hints for the replaying host).
    Boot {
        /// Where the kernel was read.
        kernel_path: String,
        /// Where the initrd was read, if one was loaded.
        initrd_path: Option<String>,
    },
}

/// What `load_linux` loaded: for a recording that references the images instead of
/// embedding them.
#[derive(Debug, Clone)]
pub(super) struct LinuxImages {
    kernel: [u8; 32],
    initrd: Option<[u8; 32]>,
    cmdline: String,
    entry: KernelEntry,
}

impl LinuxImages {
    pub(super) fn new(
        kernel: &[u8],
        initrd: Option<&[u8]>,
        cmdline: &str,
        entry: KernelEntry,
    ) -> Self {
        Self {
            kernel: sha256(kernel),
            initrd: initrd.map(sha256),
            cmdline: cmdline.into(),
            entry,
        }
    }
}

/// A recording in progress.
#[derive(Debug, Clone)]
pub(super) struct Recorder {
    log: ReplayLog,
    next_checkpoint: u64,
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

fn replay_error(msg: String) -> VmError {
    VmError::Replay(msg)
}

impl Machine {
    /// Starts recording this machine's inputs (see the module header). `checkpoint_interval`
    /// (instructions, at least 1) sets how often the state hash is logged.
    pub fn start_recording(
        &mut self,
        start: RecordStart,
        checkpoint_interval: u64,
    ) -> Result<(), VmError> {
        if checkpoint_interval == 0 {
            return Err(replay_error(
                "the checkpoint interval must be at least 1".into(),
            ));
        }
        let start = match start {
            RecordStart::Snapshot => {
                Start::Snapshot(self.save_snapshot(super::SnapshotOptions {
                    compress: true,
                    incremental: false,
                })?)
            }
            RecordStart::Boot {
                kernel_path,
                initrd_path,
            } => {
                let Some(images) = self.linux_images.clone().filter(|_| self.cpu.icount == 0)
                else {
                    return Err(replay_error(
                        "a boot recording starts right after load_linux, before running".into(),
                    ));
                };
                if images.initrd.is_some() != initrd_path.is_some() {
                    return Err(replay_error(
                        "the initrd path does not match what was loaded".into(),
                    ));
                }
                Start::Boot(Boot {
                    config: super::snapshot::encode_config(&self.config),
                    kernel: ImageRef {
                        path: kernel_path,
                        sha256: images.kernel,
                    },
                    initrd: initrd_path
                        .zip(images.initrd)
                        .map(|(path, sha256)| ImageRef { path, sha256 }),
                    cmdline: images.cmdline,
                    direct_kernel: images.entry == KernelEntry::Direct,
                })
            }
        };
        let now = self.cpu.icount;
        let disks = (self.bus.disks.iter())
            .map(|d| ImageRef {
                path: d.base().name().to_string(),
                sha256: d.base().sha256(),
            })
            .collect();
        self.recorder = Some(Box::new(Recorder {
            log: ReplayLog {
                start,
                disks,
                start_hash: self.state_hash(),
                checkpoint_interval,
                events: Vec::new(),
            },
            next_checkpoint: now.saturating_add(checkpoint_interval),
        }));
        Ok(())
    }

    /// Whether a recording is in progress.
    pub fn is_recording(&self) -> bool {
        self.recorder.is_some()
    }

    /// Ends the recording: logs the final state hash and returns the log.
    pub fn finish_recording(&mut self) -> Option<ReplayLog> {
        let mut r = self.recorder.take()?;
        r.log.events.push(Event {
            icount: self.cpu.icount,
            kind: EventKind::End(self.state_hash()),
        });
        Some(r.log)
    }

    /// Logs an input being delivered now (called by the input entry points).
    pub(super) fn record_input(&mut self, kind: EventKind) {
        let icount = self.cpu.icount;
        if let Some(r) = &mut self.recorder {
            r.log.events.push(Event { icount, kind });
        }
    }

    /// `run` while recording: stops at each checkpoint count to log the state hash (a run
    /// cut into slices is the same run, so this changes nothing the guest sees).
    pub(super) fn run_recording(&mut self, max_instructions: u64) -> Result<ExitReason, VmError> {
        let end = self.cpu.icount.saturating_add(max_instructions);
        loop {
            let next = match &self.recorder {
                Some(r) => r.next_checkpoint,
                None => return self.run_unrecorded(end - self.cpu.icount),
            };
            if self.cpu.icount == next {
                let hash = self.state_hash();
                if let Some(r) = &mut self.recorder {
                    r.log.events.push(Event {
                        icount: next,
                        kind: EventKind::Checkpoint(hash),
                    });
                    r.next_checkpoint = next.saturating_add(r.log.checkpoint_interval);
                }
                continue;
            }
            if self.cpu.icount >= end {
                return Ok(ExitReason::BudgetReached);
            }
            let stop = end.min(next);
            match self.run_unrecorded(stop - self.cpu.icount)? {
                ExitReason::BudgetReached => {}
                other => return Ok(other),
            }
        }
    }
}

/// A first difference between a replay and its log, or between two replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// The instruction count at which the states differ.
    pub icount: u64,
    /// The expected state hash (the log's, or the first replay's).
    pub expected: [u8; 32],
    /// The state hash found.
    pub actual: [u8; 32],
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "diverged at instruction {}: expected state hash {}, got {}",
            self.icount,
            vx86_snapshots::hex(&self.expected),
            vx86_snapshots::hex(&self.actual)
        )
    }
}

/// Where a replay stands after [`Replay::advance`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayStatus {
    /// More of the log is left.
    Running,
    /// The end of the log was reached and its state hash matched.
    Finished,
    /// A checkpoint (or the end) did not match.
    Diverged(Divergence),
}

/// A replay in progress: the log and how far into it the machine is.
#[derive(Debug, Clone)]
pub struct Replay {
    log: ReplayLog,
    next: usize,
    /// Compare checkpoints with the log (off while bisecting two replays).
    verify: bool,
}

impl Replay {
    /// Reads a log (see `vx86_snapshots::replay_log`; bad bytes give [`VmError::Replay`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VmError> {
        let log = ReplayLog::from_bytes(bytes).map_err(|e| replay_error(e.to_string()))?;
        Ok(Self::new(log))
    }

    /// A replay of `log` from its start.
    pub fn new(log: ReplayLog) -> Self {
        Self {
            log,
            next: 0,
            verify: true,
        }
    }

    /// The log.
    pub fn log(&self) -> &ReplayLog {
        &self.log
    }

    /// Changes input event `index` (counting only serial inputs) by flipping bit 0 of its
    /// first byte: for testing that a replay notices. Returns the event's instruction count.
    pub fn perturb_input(&mut self, index: usize) -> Option<u64> {
        let e = (self.log.events.iter_mut())
            .filter(|e| matches!(&e.kind, EventKind::Serial(b) if !b.is_empty()))
            .nth(index)?;
        if let EventKind::Serial(b) = &mut e.kind {
            b[0] ^= 1;
        }
        Some(e.icount)
    }

    /// Builds the machine the log starts from. A boot log asks `load_image` for each image
    /// and checks its hash; either way the rebuilt machine's state hash must equal the log's.
    pub fn start_machine(
        &self,
        load_image: &mut dyn FnMut(&ImageRef) -> Result<Vec<u8>, String>,
    ) -> Result<Machine, VmError> {
        let mut image = |i: &ImageRef| -> Result<Vec<u8>, VmError> {
            let bytes = load_image(i).map_err(replay_error)?;
            if sha256(&bytes) != i.sha256 {
                return Err(replay_error(format!(
                    "{}: not the image the log was recorded with (SHA-256 {}, the log \
                     expects {})",
                    i.path,
                    vx86_snapshots::hex(&sha256(&bytes)),
                    vx86_snapshots::hex(&i.sha256)
                )));
            }
            Ok(bytes)
        };
        let disks = (self.log.disks.iter())
            .map(|d| {
                let bytes = image(d)?;
                Ok(crate::DiskImage::new(bytes)?.with_name(d.path.clone()))
            })
            .collect::<Result<Vec<_>, VmError>>()?;
        let m = match &self.log.start {
            Start::Snapshot(bytes) => Machine::from_snapshot_with_disks(bytes, disks)?,
            Start::Boot(b) => {
                let config: MachineConfig = super::snapshot::decode_config(&b.config)?;
                let kernel = image(&b.kernel)?;
                let initrd = b.initrd.as_ref().map(&mut image).transpose()?;
                let mut m = Machine::with_disks(config, disks)?;
                let entry = KernelEntry::from_direct_flag(b.direct_kernel);
                m.load_linux_with(&kernel, initrd.as_deref(), &b.cmdline, entry)?;
                m
            }
        };
        if m.state_hash() != self.log.start_hash {
            return Err(replay_error(
                "the rebuilt start state differs from the recorded one".into(),
            ));
        }
        Ok(m)
    }

    /// Runs `m` (at this replay's position) for at most `max_instructions`, applying inputs
    /// and checking checkpoints at their counts. `Err` only for emulator errors.
    pub fn advance(
        &mut self,
        m: &mut Machine,
        max_instructions: u64,
    ) -> Result<ReplayStatus, VmError> {
        let target = m.instruction_count().saturating_add(max_instructions);
        self.advance_to(m, target)
    }

    /// Runs `m` to instruction count `target` (or the end of the log), applying every event
    /// stamped up to and including `target`.
    pub fn advance_to(&mut self, m: &mut Machine, target: u64) -> Result<ReplayStatus, VmError> {
        loop {
            let Some(e) = self.log.events.get(self.next) else {
                return Ok(ReplayStatus::Finished);
            };
            let now = m.instruction_count();
            if e.icount == now {
                self.next += 1;
                match &e.kind {
                    EventKind::Serial(bytes) => m.send_serial(&bytes.clone()),
                    EventKind::Console(bytes) => m.send_console(&bytes.clone())?,
                    EventKind::NetFrame(bytes) => m.send_net_frame(&bytes.clone())?,
                    EventKind::BalloonTarget(pages) => m.set_balloon_target(*pages)?,
                    EventKind::Checkpoint(h) | EventKind::End(h) => {
                        let expected = *h;
                        let is_end = matches!(e.kind, EventKind::End(_));
                        if self.verify {
                            let actual = m.state_hash();
                            if actual != expected {
                                return Ok(ReplayStatus::Diverged(Divergence {
                                    icount: now,
                                    expected,
                                    actual,
                                }));
                            }
                        }
                        if is_end {
                            return Ok(ReplayStatus::Finished);
                        }
                    }
                }
                continue;
            }
            if now >= target {
                return Ok(ReplayStatus::Running);
            }
            if e.icount < now {
                return Ok(self.stopped_early(m, e.icount));
            }
            let stop = e.icount.min(target);
            match m.run(stop - now)? {
                ExitReason::BudgetReached => {}
                _ if m.instruction_count() == e.icount => {}
                _ => return Ok(self.stopped_early(m, e.icount)),
            }
        }
    }

    /// The machine stopped (halted, powered off) before the log's next event.
    fn stopped_early(&self, m: &Machine, expected_at: u64) -> ReplayStatus {
        let expected = match self
            .log
            .events
            .iter()
            .skip(self.next)
            .find_map(|e| match e.kind {
                EventKind::Checkpoint(h) | EventKind::End(h) => Some(h),
                _ => None,
            }) {
            Some(h) => h,
            None => [0; 32],
        };
        ReplayStatus::Diverged(Divergence {
            icount: expected_at.min(m.instruction_count()),
            expected,
            actual: m.state_hash(),
        })
    }
}

/// Bisects two replays of logs with the same start (say, a log and a perturbed copy of it)
/// to the first instruction count at which their states differ, comparing state hashes at
/// O(log n) points and keeping in-memory checkpoints so each step runs only the remaining
/// half. `hi` is a count at which they are known to differ (a diverging checkpoint). Returns
/// `None` if they do not differ at `hi`.
pub fn first_difference(
    a: (&Replay, Machine),
    b: (&Replay, Machine),
    hi: u64,
) -> Result<Option<Divergence>, VmError> {
    let (mut ra, mut ma) = (a.0.clone(), a.1);
    let (mut rb, mut mb) = (b.0.clone(), b.1);
    ra.verify = false;
    rb.verify = false;
    ra.next = 0;
    rb.next = 0;
    let start = ma.instruction_count();
    // the states at `lo` are equal (checked), those at `hi` differ
    let mut lo = start;
    ra.advance_to(&mut ma, lo)?;
    rb.advance_to(&mut mb, lo)?;
    if ma.state_hash() != mb.state_hash() {
        return Ok(Some(Divergence {
            icount: lo,
            expected: ma.state_hash(),
            actual: mb.state_hash(),
        }));
    }
    let mut at_lo = (ma.checkpoint(), ra.next, mb.checkpoint(), rb.next);
    let mut hi = hi;
    let mut at_hi = None;
    while hi - lo > 1 || at_hi.is_none() {
        let mid = if at_hi.is_none() {
            hi
        } else {
            lo + (hi - lo) / 2
        };
        ma.restore_checkpoint(&at_lo.0)?;
        mb.restore_checkpoint(&at_lo.2)?;
        ra.next = at_lo.1;
        rb.next = at_lo.3;
        ra.advance_to(&mut ma, mid)?;
        rb.advance_to(&mut mb, mid)?;
        let (ha, hb) = (ma.state_hash(), mb.state_hash());
        if ha == hb {
            if at_hi.is_none() {
                return Ok(None);
            }
            lo = mid;
            at_lo = (ma.checkpoint(), ra.next, mb.checkpoint(), rb.next);
        } else {
            hi = mid;
            at_hi = Some(Divergence {
                icount: mid,
                expected: ha,
                actual: hb,
            });
        }
    }
    Ok(at_hi)
}

#[cfg(test)]
#[path = "replay_tests.rs"]
mod tests;
