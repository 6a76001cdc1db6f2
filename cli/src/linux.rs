//! `vx86 run` (boot a Linux bzImage with an optional initrd) and `vx86 resume` (continue from a
//! snapshot file); both attach the guest's serial console (COM1) through a [`Session`], and
//! the virtio devices of `devices.rs` (`resume` takes the disks' base images with `--disk`).
//!
//! Exit codes: 0 guest power-off (ACPI S5), halted (power-off without ACPI halts the CPU),
//! `--until` matched or quit by the user, 3 instruction budget reached, 4 triple fault, 5 guest
//! reboot, 2 error (bad image, bad snapshot, unsupported instruction: the message says which).

use std::process::ExitCode;

use vx86_core::{KernelEntry, Machine, MachineConfig, RecordStart, DEFAULT_CHECKPOINT_INTERVAL};

use crate::session::Session;
use crate::{option, option_str};

/// `vx86 run --kernel K [--initrd I] [--append CMDLINE] [--mem SIZE] [--direct-kernel]` plus
/// the session options (see `USAGE` in main.rs). `--direct-kernel` decompresses the bzImage on
/// the host and enters the kernel past its decompressor ([`KernelEntry::Direct`]).
pub fn run(args: &[String]) -> Result<ExitCode, String> {
    let kernel_path = option_str(args, "--kernel")?.ok_or("run needs --kernel BZIMAGE")?;
    let kernel = std::fs::read(kernel_path).map_err(|e| format!("{kernel_path}: {e}"))?;
    let initrd_path = option_str(args, "--initrd")?;
    let initrd = match initrd_path {
        Some(p) => Some(std::fs::read(p).map_err(|e| format!("{p}: {e}"))?),
        None => None,
    };
    let cmdline = option_str(args, "--append")?.unwrap_or("console=ttyS0");
    let mem = option(args, "--mem")?.unwrap_or(256 << 20);
    let session = Session::from_args(args)?;
    let (virtio, disks) = crate::devices::from_args(args)?;
    let config = MachineConfig {
        ram_size: usize::try_from(mem).map_err(|_| format!("--mem {mem} is too large"))?,
        virtio,
        ..MachineConfig::default()
    };
    let mut m = Machine::with_disks(config, disks).map_err(|e| e.to_string())?;
    let entry = KernelEntry::from_direct_flag(args.iter().any(|a| a == "--direct-kernel"));
    m.load_linux_with(&kernel, initrd.as_deref(), cmdline, entry)
        .map_err(|e| format!("{kernel_path}: {e}"))?;
    if session.record.is_some() {
        let start = RecordStart::Boot {
            kernel_path: kernel_path.to_string(),
            initrd_path: initrd_path.map(str::to_string),
        };
        start_recording(&mut m, args, start)?;
    }
    session.run(&mut m)
}

/// `vx86 resume SNAPSHOT` plus the session options: continues a machine saved with
/// `--snapshot-at`/`--snapshot-out`. `--max-instructions` counts from machine start.
pub fn resume(args: &[String]) -> Result<ExitCode, String> {
    let path = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .ok_or("resume needs a SNAPSHOT file")?;
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let disks = crate::devices::images_from_args(args)?;
    let mut m =
        Machine::from_snapshot_with_disks(&bytes, disks).map_err(|e| format!("{path}: {e}"))?;
    let session = Session::from_args(args)?;
    if session.record.is_some() {
        start_recording(&mut m, args, RecordStart::Snapshot)?;
    }
    session.run(&mut m)
}

fn start_recording(m: &mut Machine, args: &[String], start: RecordStart) -> Result<(), String> {
    let interval = option(args, "--checkpoint-interval")?.unwrap_or(DEFAULT_CHECKPOINT_INTERVAL);
    m.start_recording(start, interval)
        .map_err(|e| e.to_string())
}
