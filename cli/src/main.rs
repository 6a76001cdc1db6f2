//! `vx86`: the command-line runner.
//!
//! Subcommands:
//! - `vx86 run --kernel BZIMAGE [--initrd FILE] [--append CMDLINE] [--mem SIZE]
//!   [--direct-kernel] [--max-instructions N] [--until TEXT] [--input-file FILE]`: boots Linux with the serial
//!   console on the terminal (see `linux.rs`).
//! - `vx86 resume SNAPSHOT [...]`: continues a machine saved with `--snapshot-at N
//!   --snapshot-out FILE` (see `session.rs` for the options both share).
//! - `vx86 replay LOG`: re-runs a session recorded with `--record LOG` and checks it (see
//!   `replay.rs`).
//! - `vx86 hello`: runs a built-in real-mode program that prints over the debug console.
//! - `vx86 run-flat FILE [--address A] [--entry IP] [--max-instructions N]`: loads a raw binary
//!   at a physical address, runs it in real mode and prints what it writes to port 0xE9.
//! - `--gdb HOST:PORT` on `run`, `resume` and `run-flat`: a GDB remote stub (see `gdb.rs`).
//! - `vx86 bench [--instructions N] [--paging]`: interpreted instructions per second on a loop
//!   in real mode, or in 32-bit protected mode with paging (every access through the TLB).
//! - `vx86 bench-snapshot --kernel K [--initrd I]`: step, snapshot and checkpoint costs on a
//!   booted Linux guest (see `bench_snapshot.rs`).

mod bench_snapshot;
mod devices;
mod gdb;
mod linux;
mod programs;
mod replay;
mod session;

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use vx86_core::{ExitReason, Machine, MachineConfig, VmError};

const USAGE: &str = "usage:
  vx86 run --kernel BZIMAGE [--initrd FILE] [--append CMDLINE] [--mem SIZE] [--direct-kernel]
           [DEVICES] [SESSION]
  vx86 resume SNAPSHOT [--disk FILE ...] [SESSION]
  vx86 replay LOG [--kernel K] [--initrd I] [--disk FILE ...] [--perturb-input K] [--print-hash]
     DEVICES: [--disk FILE[,cow][,ro] ...] [--net[=MAC] [--net-pcap FILE]] [--rng] [--balloon]
              [--virtio-console [--console-input-file FILE]]
     SESSION: [--max-instructions N (from machine start)] [--until TEXT] [--input-file FILE]
              [--print-hash] [--snapshot-at N --snapshot-out FILE] [--record LOG
              [--checkpoint-interval N]] [--profile N] [--stats]
     (interactive on a terminal: Ctrl-A x quits)
  vx86 hello
  vx86 run-flat FILE [--address ADDR] [--entry IP] [--max-instructions N]
  vx86 bench [--instructions N] [--paging]
  vx86 bench-snapshot --kernel BZIMAGE [--initrd FILE] [--append CMDLINE] [--steps N]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => linux::run(&args[1..]),
        Some("resume") => linux::resume(&args[1..]),
        Some("replay") => replay::replay(&args[1..]),
        Some("hello") => hello(),
        Some("run-flat") => run_flat(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("bench-snapshot") => bench_snapshot::bench_snapshot(&args[1..]),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vx86: {e}");
            ExitCode::from(2)
        }
    }
}

/// Parses a number given in decimal or with a 0x prefix, with an optional K/M/G suffix.
fn parse_num(s: &str) -> Result<u64, String> {
    let (digits, mul) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let v = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => digits.replace('_', "").parse(),
    };
    v.ok()
        .and_then(|v| v.checked_mul(mul))
        .ok_or_else(|| format!("not a number: {s}"))
}

/// Reads `--name value` options from `args`.
fn option(args: &[String], name: &str) -> Result<Option<u64>, String> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .ok_or_else(|| format!("{name} needs a value"))
            .and_then(|v| parse_num(v))
            .map(Some),
        None => Ok(None),
    }
}

/// Prints `state-hash: <hex>` and `instructions: <n>` on stdout, each on a line of its own
/// even when the guest's console output did not end with a newline (`last` is its last byte).
fn print_hash(m: &Machine, last: Option<u8>) {
    if last.is_some_and(|b| b != b'\n') {
        println!();
    }
    println!("state-hash: {}", m.state_hash_hex());
    println!("instructions: {}", m.instruction_count());
}

fn run_to_end(m: &mut Machine, max: u64) -> Result<ExitCode, String> {
    let start = Instant::now();
    let exit = m.run(max);
    let out = m.take_debug_output();
    std::io::stdout()
        .write_all(&out)
        .map_err(|e| e.to_string())?;
    let secs = start.elapsed().as_secs_f64();
    let summary = |reason: &str| {
        eprintln!(
            "vx86: exit={reason} instructions={} wall={secs:.3}s",
            m.instruction_count()
        );
    };
    match exit {
        Ok(ExitReason::Halted) => {
            summary("halted");
            Ok(ExitCode::SUCCESS)
        }
        Ok(ExitReason::PowerOff) => {
            summary("poweroff");
            Ok(ExitCode::SUCCESS)
        }
        Ok(ExitReason::BudgetReached) => {
            summary("budget");
            Ok(ExitCode::from(3))
        }
        Ok(ExitReason::TripleFault) => {
            summary("triple-fault");
            Ok(ExitCode::from(4))
        }
        // (no idle limit is set here: Idle cannot happen)
        Ok(ExitReason::Breakpoint | ExitReason::Hooked | ExitReason::Idle) => {
            summary("stopped");
            Ok(ExitCode::SUCCESS)
        }
        Ok(ExitReason::Reset) => {
            summary("reset");
            Ok(ExitCode::from(5))
        }
        Err(e @ VmError::Unsupported { .. }) => {
            summary("unsupported");
            Err(e.to_string())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The value of `--name` as a string.
fn option_str<'a>(args: &'a [String], name: &str) -> Result<Option<&'a str>, String> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .map(|v| Some(v.as_str()))
            .ok_or_else(|| format!("{name} needs a value")),
        None => Ok(None),
    }
}

fn hello() -> Result<ExitCode, String> {
    let code = programs::hello().map_err(|e| e.to_string())?;
    let mut m = Machine::new(MachineConfig::default()).map_err(|e| e.to_string())?;
    m.load_flat(&code, programs::LOAD_ADDRESS, programs::LOAD_ADDRESS as u16)
        .map_err(|e| e.to_string())?;
    run_to_end(&mut m, 1_000_000)
}

fn run_flat(args: &[String]) -> Result<ExitCode, String> {
    let file = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .ok_or("run-flat needs a FILE")?;
    let image = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
    let address = option(args, "--address")?.unwrap_or(programs::LOAD_ADDRESS as u64);
    let entry = option(args, "--entry")?.unwrap_or(address);
    let max = option(args, "--max-instructions")?.unwrap_or(u64::MAX);
    if address > u32::MAX as u64 || entry > 0xFFFF {
        return Err(format!(
            "--address must fit 32 bits and --entry 16 bits (got {address:#x}, {entry:#x})"
        ));
    }
    let mut m = Machine::new(MachineConfig::default()).map_err(|e| e.to_string())?;
    m.load_flat(&image, address as u32, entry as u16)
        .map_err(|e| e.to_string())?;
    if let Some(addr) = option_str(args, "--gdb")? {
        let mut last = None;
        let limit = (max != u64::MAX).then_some(max);
        if let Some(end) = gdb::serve(&mut m, addr, limit, &mut last)? {
            return Ok(gdb_exit_code(end));
        }
        // gdb detached: the program runs on to its end
    }
    let left = max.saturating_sub(m.instruction_count());
    run_to_end(&mut m, left)
}

/// The exit code of a `run-flat` session that ended under gdb (the codes of [`run_to_end`]).
fn gdb_exit_code(end: session::End) -> ExitCode {
    let code = match end {
        session::End::Machine(ExitReason::BudgetReached) => 3,
        session::End::Machine(ExitReason::TripleFault) => 4,
        session::End::Machine(ExitReason::Reset) => 5,
        _ => 0,
    };
    eprintln!("vx86: gdb session over");
    ExitCode::from(code)
}

fn bench(args: &[String]) -> Result<ExitCode, String> {
    let n = option(args, "--instructions")?.unwrap_or(500_000_000);
    let paged = args.iter().any(|a| a == "--paging");
    let mut m = Machine::new(MachineConfig::default()).map_err(|e| e.to_string())?;
    if paged {
        let code = programs::bench_loop(32, programs::flat32::CODE).map_err(|e| e.to_string())?;
        let s = programs::flat32_setup(&mut m).map_err(|e| e.to_string())?;
        m.write_phys(programs::flat32::CODE as u64, &code)
            .map_err(|e| e.to_string())?;
        m.set_cpu_state(s);
    } else {
        let code = programs::bench_loop(16, programs::LOAD_ADDRESS).map_err(|e| e.to_string())?;
        m.load_flat(&code, programs::LOAD_ADDRESS, programs::LOAD_ADDRESS as u16)
            .map_err(|e| e.to_string())?;
    }
    // warm up: decode the blocks
    m.run(100_000).map_err(|e| e.to_string())?;
    let before = m.instruction_count();
    let start = Instant::now();
    let exit = m.run(n).map_err(|e| e.to_string())?;
    let secs = start.elapsed().as_secs_f64();
    let done = m.instruction_count() - before;
    if exit != ExitReason::BudgetReached {
        return Err(format!("benchmark loop stopped early: {exit:?}"));
    }
    let stats = m.block_stats();
    let mode = if paged {
        "32-bit protected mode with paging"
    } else {
        "real mode"
    };
    println!("{mode} loop (ALU, memory, REP MOVSW, branches), interpreted with the block cache");
    println!("instructions: {done}");
    println!("seconds: {secs:.3}");
    println!("MIPS: {:.1}", done as f64 / secs / 1e6);
    println!(
        "blocks: {} decoded, {} cache hits",
        stats.decoded, stats.hits
    );
    Ok(ExitCode::SUCCESS)
}
