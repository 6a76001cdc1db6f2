//! `vx86 bench-snapshot --kernel K [--initrd I] [--append CMDLINE]`: the determinism
//! features' costs on a booted 256 MiB Linux guest (the targets in brackets):
//! `step()` (≤ 0.5 µs), full snapshot save and load (≤ 300 ms each way, with its size),
//! checkpoint restore with 1 (≤ 20 µs) and 1024 (≤ 1 ms) dirty pages. Figures are medians
//! (or means over many repetitions for the short ones) of wall time on this host.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use vx86_core::{Machine, MachineConfig, SnapshotOptions};

use crate::{option, option_str};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// Runs the benchmark (see the module header).
pub fn bench_snapshot(args: &[String]) -> Result<ExitCode, String> {
    let kernel_path = option_str(args, "--kernel")?.ok_or("bench-snapshot needs --kernel")?;
    let kernel = std::fs::read(kernel_path).map_err(|e| format!("{kernel_path}: {e}"))?;
    let initrd = match option_str(args, "--initrd")? {
        Some(p) => Some(std::fs::read(p).map_err(|e| format!("{p}: {e}"))?),
        None => None,
    };
    let cmdline = option_str(args, "--append")?.unwrap_or("console=ttyS0");
    let steps = option(args, "--steps")?.unwrap_or(1_000_000);
    let err = |e: vx86_core::VmError| e.to_string();
    let mut m = Machine::new(MachineConfig {
        ram_size: 256 << 20,
        ..MachineConfig::default()
    })
    .map_err(err)?;
    m.load_linux(&kernel, initrd.as_deref(), cmdline)
        .map_err(err)?;

    // step() while the kernel is busy booting
    m.run(300_000_000).map_err(err)?;
    let before = m.instruction_count();
    let t = Instant::now();
    for _ in 0..steps {
        m.step().map_err(err)?;
    }
    let step = t.elapsed() / steps as u32;
    let retired = m.instruction_count() - before;
    if retired != steps {
        return Err(format!("{steps} steps retired {retired} instructions"));
    }
    println!(
        "step(): {:.3} µs per call ({steps} calls, each retiring one instruction of the booting kernel)",
        step.as_secs_f64() * 1e6
    );

    // boot to the shell
    let mut console = Vec::new();
    let t = Instant::now();
    while !String::from_utf8_lossy(&console).contains("BOOT-OK") {
        if m.instruction_count() > 30_000_000_000 {
            return Err("no BOOT-OK within 30 G instructions".into());
        }
        m.run(50_000_000).map_err(err)?;
        console.extend(m.take_serial_output());
    }
    println!(
        "booted to BOOT-OK: {} instructions in {:.1} s",
        m.instruction_count(),
        t.elapsed().as_secs_f64()
    );

    for compress in [false, true] {
        let opts = SnapshotOptions {
            compress,
            incremental: false,
        };
        let (mut saves, mut loads, mut size) = (Vec::new(), Vec::new(), 0);
        for _ in 0..5 {
            let t = Instant::now();
            let bytes = m.save_snapshot(opts).map_err(err)?;
            saves.push(t.elapsed());
            size = bytes.len();
            let t = Instant::now();
            let r = Machine::from_snapshot(&bytes).map_err(err)?;
            loads.push(t.elapsed());
            if r.instruction_count() != m.instruction_count() {
                return Err("restored machine at another instruction count".into());
            }
        }
        println!(
            "full snapshot ({}): {:.1} MiB, save {}, load {} (median of 5)",
            if compress { "LZ4" } else { "uncompressed" },
            size as f64 / (1 << 20) as f64,
            ms(median(saves)),
            ms(median(loads))
        );
    }

    for dirty in [1usize, 1024] {
        let c = m.checkpoint();
        let reps = if dirty == 1 { 10_000 } else { 200 };
        let mut total = Duration::ZERO;
        for i in 0..reps {
            for p in 0..dirty {
                // spread over RAM above 16 MiB, a different byte each time
                let addr = (16 << 20) + (p as u64 * 4096 * 7) % (200 << 20);
                m.write_phys(addr, &[i as u8 | 1]).map_err(err)?;
            }
            let t = Instant::now();
            let copied = m.restore_checkpoint(&c).map_err(err)?;
            total += t.elapsed();
            if copied != dirty {
                return Err(format!(
                    "restore copied {copied} pages, {dirty} were dirtied"
                ));
            }
        }
        println!(
            "checkpoint restore, {dirty} dirty page(s): {:.2} µs (mean of {reps})",
            (total / reps).as_secs_f64() * 1e6
        );
    }
    Ok(ExitCode::SUCCESS)
}
