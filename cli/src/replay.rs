//! `vx86 replay LOG`: re-runs a recorded session from its log, printing the guest's console,
//! and checks every state-hash checkpoint. On a mismatch it reports the first diverging
//! checkpoint (instruction count, expected and actual hash) and exits with 6.
//!
//! `--kernel`/`--initrd`/`--disk` (in order) give image paths when the log's recorded paths do
//! not exist here (the images must have the recorded content hashes; for a disk, the image as
//! it was when the recording started). `--perturb-input K` flips a bit of the
//! K-th input (counting from 0) before replaying, to show that a replay notices; with it, the
//! run is also bisected against the unperturbed log to the first instruction whose state
//! differs (`first-difference: N`).

use std::io::Write;
use std::process::ExitCode;

use vx86_core::vx86_snapshots::replay_log::{ImageRef, Start};
use vx86_core::{first_difference, Replay, ReplayStatus};

use crate::{option, option_str};

/// Instructions per replay slice (the console is flushed after each).
const SLICE: u64 = 20_000_000;

/// `vx86 replay LOG [--kernel K] [--initrd I] [--perturb-input K] [--print-hash]`.
pub fn replay(args: &[String]) -> Result<ExitCode, String> {
    let path = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .ok_or("replay needs a LOG file")?;
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let clean = Replay::from_bytes(&bytes).map_err(|e| format!("{path}: {e}"))?;
    let kernel = option_str(args, "--kernel")?.map(str::to_string);
    let initrd = option_str(args, "--initrd")?.map(str::to_string);
    let disks: Vec<String> = crate::devices::disk_args(args)?
        .into_iter()
        .map(|d| d.path)
        .collect();
    let mut load = |i: &ImageRef| -> Result<Vec<u8>, String> {
        let (is_kernel, is_initrd) = match &clean.log().start {
            Start::Boot(b) => (b.kernel == *i, b.initrd.as_ref() == Some(i)),
            Start::Snapshot(_) => (false, false),
        };
        let disk = clean.log().disks.iter().position(|d| d == i);
        let p = match (is_kernel, is_initrd, disk) {
            (true, _, _) if kernel.is_some() => kernel.clone().unwrap_or_default(),
            (_, true, _) if initrd.is_some() => initrd.clone().unwrap_or_default(),
            (_, _, Some(n)) if n < disks.len() => disks[n].clone(),
            _ => i.path.clone(),
        };
        std::fs::read(&p)
            .map_err(|e| format!("{p}: {e} (give the image with --kernel/--initrd/--disk)"))
    };
    let mut replay = clean.clone();
    let perturbed = match option(args, "--perturb-input")? {
        Some(k) => {
            let at = replay
                .perturb_input(k as usize)
                .ok_or_else(|| format!("the log has no input number {k}"))?;
            eprintln!("vx86: input {k} (at instruction {at}) perturbed");
            true
        }
        None => false,
    };
    let mut m = replay.start_machine(&mut load).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout();
    let mut last = None;
    let status = loop {
        let s = replay.advance(&mut m, SLICE).map_err(|e| e.to_string())?;
        let chunk = m.take_serial_output();
        last = chunk.last().copied().or(last);
        out.write_all(&chunk)
            .and_then(|_| out.flush())
            .map_err(|e| e.to_string())?;
        if s != ReplayStatus::Running {
            break s;
        }
    };
    if args.iter().any(|a| a == "--print-hash") {
        crate::print_hash(&m, last);
    }
    match status {
        ReplayStatus::Diverged(d) => {
            eprintln!("vx86: replay {d}");
            if perturbed {
                let a = (
                    &clean,
                    clean.start_machine(&mut load).map_err(|e| e.to_string())?,
                );
                let b = (
                    &replay,
                    replay.start_machine(&mut load).map_err(|e| e.to_string())?,
                );
                match first_difference(a, b, d.icount).map_err(|e| e.to_string())? {
                    Some(first) => println!("first-difference: {}", first.icount),
                    None => eprintln!("vx86: bisect found no difference up to {}", d.icount),
                }
            }
            Ok(ExitCode::from(6))
        }
        _ => {
            eprintln!(
                "vx86: replay matched the log: {} instructions, state hash {}",
                m.instruction_count(),
                m.state_hash_hex()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
