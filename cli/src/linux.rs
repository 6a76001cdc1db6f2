//! `vx86 run`: boots a Linux kernel (bzImage) with an optional initrd and attaches the guest's
//! serial console (COM1).
//!
//! Interactive (stdin is a terminal and no `--input-file`): the terminal is put in raw mode,
//! keystrokes go to the guest, and `Ctrl-A x` quits (`Ctrl-A Ctrl-A` sends one Ctrl-A), as in
//! QEMU. The guest's virtual clock is paced to the wall clock so an idle guest does not spin a
//! core. Scripted: `--input-file F` feeds F's bytes to the console once the guest's serial
//! driver has enabled receive interrupts, as fast as the guest reads them; `--until TEXT`
//! stops when TEXT appears on the console; both run flat out (no pacing), so a run is a pure
//! function of its inputs. At exit one summary line goes to stderr: exit reason,
//! instructions retired, virtual and wall time.
//!
//! Exit codes: 0 guest power-off (ACPI S5), halted (power-off without ACPI halts the CPU),
//! `--until` matched or quit by the user, 3 instruction budget reached, 4 triple fault, 5 guest reboot, 2 error
//! (bad image, unsupported instruction: the message says which).

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use vx86_core::{ExitReason, Machine, MachineConfig};

use crate::{option, option_str};

/// Instructions per run slice: small enough for a responsive terminal (~10 ms).
const SLICE: u64 = 2_000_000;
/// Ctrl-A, the escape prefix.
const ESCAPE: u8 = 0x01;

/// How the run ended, beyond the machine's own exit reasons.
enum End {
    Machine(ExitReason),
    Until,
    Quit,
}

/// The terminal in raw mode for the life of this value (restored on drop).
struct RawTerminal {
    saved: String,
}

impl RawTerminal {
    fn enter() -> Option<RawTerminal> {
        let out = std::process::Command::new("stty")
            .arg("-g")
            .stdin(std::fs::File::open("/dev/tty").ok()?)
            .output()
            .ok()?;
        let saved = String::from_utf8(out.stdout).ok()?.trim().to_string();
        let ok = std::process::Command::new("stty")
            .args(["raw", "-echo"])
            .stdin(std::fs::File::open("/dev/tty").ok()?)
            .status()
            .ok()?
            .success();
        ok.then_some(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Ok(tty) = std::fs::File::open("/dev/tty") {
            let _ = std::process::Command::new("stty")
                .arg(&self.saved)
                .stdin(tty)
                .status();
        }
    }
}

/// Keystrokes from stdin, read on a thread (they are host input, not guest state).
fn keyboard() -> mpsc::Receiver<u8> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || buf[..n].iter().any(|&b| tx.send(b).is_err()) {
                break;
            }
        }
    });
    rx
}

/// Handles `Ctrl-A` sequences; returns the bytes for the guest, or `None` to quit.
fn filter_keys(keys: &[u8], escaped: &mut bool) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for &k in keys {
        if *escaped {
            *escaped = false;
            match k {
                b'x' | b'X' => return None,
                ESCAPE => out.push(ESCAPE),
                _ => {}
            }
        } else if k == ESCAPE {
            *escaped = true;
        } else {
            out.push(k);
        }
    }
    Some(out)
}

/// `vx86 run --kernel K [--initrd I] [--append CMDLINE] [--mem SIZE] [--max-instructions N]
/// [--until TEXT] [--input-file F] [--profile N] [--print-hash]` (`--profile N`: sample the
/// instruction address every N instructions and print the most frequent ones at exit;
/// `--print-hash`: print `state-hash: <hex>` and `instructions: <n>` on stdout at exit).
pub fn run(args: &[String]) -> Result<ExitCode, String> {
    let kernel_path = option_str(args, "--kernel")?.ok_or("run needs --kernel BZIMAGE")?;
    let kernel = std::fs::read(kernel_path).map_err(|e| format!("{kernel_path}: {e}"))?;
    let initrd = match option_str(args, "--initrd")? {
        Some(p) => Some(std::fs::read(p).map_err(|e| format!("{p}: {e}"))?),
        None => None,
    };
    let cmdline = option_str(args, "--append")?.unwrap_or("console=ttyS0");
    let mem = option(args, "--mem")?.unwrap_or(256 << 20);
    let max = option(args, "--max-instructions")?.unwrap_or(u64::MAX);
    let until = option_str(args, "--until")?.map(|s| s.as_bytes().to_vec());
    let profile = option(args, "--profile")?;
    let print_hash = args.iter().any(|a| a == "--print-hash");
    let mut input = match option_str(args, "--input-file")? {
        Some(p) => Some(std::fs::read(p).map_err(|e| format!("{p}: {e}"))?),
        None => None,
    };
    let config = MachineConfig {
        ram_size: usize::try_from(mem).map_err(|_| format!("--mem {mem} is too large"))?,
        ..MachineConfig::default()
    };
    let mut m = Machine::new(config).map_err(|e| e.to_string())?;
    m.load_linux(&kernel, initrd.as_deref(), cmdline)
        .map_err(|e| e.to_string())?;

    let interactive = input.is_none() && std::io::stdin().is_terminal();
    let _raw = if interactive {
        eprintln!("vx86: serial console attached; Ctrl-A x quits\r");
        RawTerminal::enter()
    } else {
        None
    };
    let keys = interactive.then(keyboard);
    let (mut escaped, mut fed) = (false, 0usize);
    let mut tail: Vec<u8> = Vec::new(); // the console's last bytes, for --until
    let mut out = std::io::stdout();
    let mut samples = std::collections::BTreeMap::<u32, u64>::new();
    let start = Instant::now();
    let end = loop {
        let done = m.instruction_count();
        if done >= max {
            break End::Machine(ExitReason::BudgetReached);
        }
        if let Some(data) = &mut input {
            // one byte at a time once the driver reads: nothing is lost to boot-time probing
            if fed < data.len() && m.serial_receive_enabled() && m.serial_input_queued() == 0 {
                m.send_serial(&data[fed..fed + 1]);
                fed += 1;
            }
        }
        if let Some(rx) = &keys {
            let typed: Vec<u8> = rx.try_iter().collect();
            match filter_keys(&typed, &mut escaped) {
                Some(bytes) => m.send_serial(&bytes),
                None => break End::Quit,
            }
        }
        let slice = profile.unwrap_or(SLICE).clamp(1, SLICE);
        let r = m.run((max - done).min(slice)).map_err(|e| e.to_string());
        if profile.is_some() {
            let s = m.cpu_state();
            let lin = s.segs[vx86_core::SegReg::Cs as usize]
                .base
                .wrapping_add(s.eip);
            *samples.entry(lin).or_default() += 1;
        }
        let chunk = m.take_serial_output();
        out.write_all(&chunk).map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
        if let Some(text) = &until {
            tail.extend_from_slice(&chunk);
            if tail
                .windows(text.len().max(1))
                .any(|w| w == text.as_slice())
            {
                break End::Until;
            }
            let keep = tail.len().saturating_sub(text.len());
            tail.drain(..keep);
        }
        match r? {
            ExitReason::BudgetReached => {}
            other => break End::Machine(other),
        }
        if interactive {
            // pace: the guest's clock must not run ahead of the wall clock
            let ahead = Duration::from_nanos(m.virtual_time_ns()).saturating_sub(start.elapsed());
            std::thread::sleep(ahead.min(Duration::from_millis(20)));
        }
    };
    drop(_raw);
    if profile.is_some() {
        let mut top: Vec<(u64, u32)> = samples.iter().map(|(&a, &n)| (n, a)).collect();
        top.sort_by(|a, b| b.cmp(a));
        eprintln!("vx86: profile, the most frequent sampled addresses (linear):");
        for (n, a) in top.iter().take(20) {
            eprintln!("  {a:#010x} {n}");
        }
    }
    let (reason, code) = match end {
        End::Machine(ExitReason::PowerOff) => ("poweroff", 0),
        End::Machine(ExitReason::Halted) => ("halted", 0),
        End::Until => ("until", 0),
        End::Quit => ("quit", 0),
        End::Machine(ExitReason::BudgetReached) => ("budget", 3),
        End::Machine(ExitReason::TripleFault) => ("triple-fault", 4),
        End::Machine(ExitReason::Reset) => ("reboot", 5),
    };
    if print_hash {
        println!("state-hash: {}", m.state_hash_hex());
        println!("instructions: {}", m.instruction_count());
    }
    eprintln!(
        "\r\nvx86: exit={reason} instructions={} virtual={:.3}s wall={:.3}s",
        m.instruction_count(),
        m.virtual_time_ns() as f64 / 1e9,
        start.elapsed().as_secs_f64()
    );
    Ok(ExitCode::from(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences() {
        let mut esc = false;
        assert_eq!(filter_keys(b"ls\r", &mut esc), Some(b"ls\r".to_vec()));
        assert_eq!(
            filter_keys(&[ESCAPE, ESCAPE, b'a'], &mut esc),
            Some(vec![ESCAPE, b'a'])
        );
        assert_eq!(filter_keys(&[b'a', ESCAPE], &mut esc), Some(vec![b'a']));
        assert!(esc, "a lone Ctrl-A waits for the next key");
        assert_eq!(filter_keys(b"x", &mut esc), None);
    }
}
