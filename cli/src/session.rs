//! The console session shared by `vx86 run` and `vx86 resume`: the run loop with the guest's
//! serial console on the terminal or fed from a file, `--until`, `--snapshot-at`, `--record`,
//! the profile and the summary line.
//!
//! Interactive (stdin is a terminal and no `--input-file`): the terminal is put in raw mode,
//! keystrokes go to the guest, and `Ctrl-A x` quits (`Ctrl-A Ctrl-A` sends one Ctrl-A), as in
//! QEMU. The guest's virtual clock is paced to the wall clock so an idle guest does not spin a
//! core (a halted guest skips idle time only up to the wall clock: `Machine::set_idle_limit`).
//! Scripted: `--input-file F` feeds F's bytes to the console once the guest's serial
//! driver has enabled receive interrupts, as fast as the guest reads them; `--until TEXT`
//! stops when TEXT appears on the console; both run flat out (no pacing), so a run is a pure
//! function of its inputs. Run slices end at multiples of `SLICE` counted from machine start,
//! so a resumed run sees its inputs at the same instruction counts as a straight one.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use vx86_core::{ExitReason, Machine, SnapshotOptions};

/// Instructions per run slice: small enough for a responsive terminal (~10 ms).
const SLICE: u64 = 2_000_000;
/// Ctrl-A, the escape prefix.
const ESCAPE: u8 = 0x01;

/// How the run ended, beyond the machine's own exit reasons.
pub enum End {
    /// The machine stopped (or the budget ran out).
    Machine(ExitReason),
    /// `--until` text appeared.
    Until,
    /// The user quit (Ctrl-A x).
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

/// What a session does besides running the guest.
#[derive(Default)]
pub struct Session {
    /// Stop when the instruction count (from machine start) reaches this.
    pub max: Option<u64>,
    /// Stop when this appears on the console.
    pub until: Option<Vec<u8>>,
    /// Console input from a file instead of the terminal.
    pub input: Option<Vec<u8>>,
    /// Sample the instruction address every N instructions.
    pub profile: Option<u64>,
    /// Print `state-hash:` and `instructions:` at exit.
    pub print_hash: bool,
    /// Print the block cache's counters at exit.
    pub stats: bool,
    /// Save a snapshot when the instruction count reaches N, to this file.
    pub snapshot_at: Option<(u64, String)>,
    /// Write the replay log here at exit (the machine is already recording).
    pub record: Option<String>,
    /// Serve a GDB remote stub on this HOST:PORT first (see gdb.rs).
    pub gdb: Option<String>,
    /// The host ends of the virtio devices.
    pub devices: crate::devices::DeviceHost,
    /// The last byte of console output written to stdout.
    last_output: Option<u8>,
}

impl Session {
    /// Reads the options every session command shares.
    pub fn from_args(args: &[String]) -> Result<Self, String> {
        use crate::{option, option_str};
        let snapshot_at = match (
            option(args, "--snapshot-at")?,
            option_str(args, "--snapshot-out")?,
        ) {
            (Some(n), Some(f)) => Some((n, f.to_string())),
            (None, None) => None,
            _ => return Err("--snapshot-at N and --snapshot-out FILE go together".into()),
        };
        let gdb = option_str(args, "--gdb")?.map(str::to_string);
        let others = [
            "--record",
            "--snapshot-at",
            "--profile",
            "--until",
            "--input-file",
        ];
        if gdb.is_some() && args.iter().any(|a| others.contains(&a.as_str())) {
            return Err(format!("--gdb does not go with {}", others.join(", ")));
        }
        Ok(Self {
            gdb,
            max: option(args, "--max-instructions")?,
            until: option_str(args, "--until")?.map(|s| s.as_bytes().to_vec()),
            input: match option_str(args, "--input-file")? {
                Some(p) => Some(std::fs::read(p).map_err(|e| format!("{p}: {e}"))?),
                None => None,
            },
            profile: option(args, "--profile")?,
            print_hash: args.iter().any(|a| a == "--print-hash"),
            stats: args.iter().any(|a| a == "--stats"),
            snapshot_at,
            record: option_str(args, "--record")?.map(str::to_string),
            devices: crate::devices::DeviceHost::from_args(args)?,
            last_output: None,
        })
    }

    /// Runs `m` until an end condition; prints the summary and returns the exit code.
    pub fn run(mut self, m: &mut Machine) -> Result<ExitCode, String> {
        let start = Instant::now();
        // under gdb first; when gdb detaches, the guest runs on as without it
        let served = match self.gdb.take() {
            Some(addr) => crate::gdb::serve(m, &addr, self.max, &mut self.last_output)?,
            None => None,
        };
        let interactive =
            served.is_none() && self.input.is_none() && std::io::stdin().is_terminal();
        let raw = if interactive {
            eprintln!("vx86: serial console attached; Ctrl-A x quits\r");
            RawTerminal::enter()
        } else {
            None
        };
        let keys = interactive.then(keyboard);
        let mut samples = std::collections::BTreeMap::<u32, u64>::new();
        let end = match served {
            Some(end) => Ok(end),
            None => self.run_loop(m, keys.as_ref(), &mut samples, start),
        };
        drop(raw);
        // what the guest wrote to write-through disks reaches their files whatever happened
        self.devices.service(m)?;
        // the log is written even when the run failed: it reproduces the failure
        if let Some(path) = &self.record {
            if let Some(log) = m.finish_recording() {
                std::fs::write(path, log.to_bytes()).map_err(|e| format!("{path}: {e}"))?;
                eprintln!(
                    "vx86: replay log written to {path} ({} events)",
                    log.events.len()
                );
            }
        }
        let end = end?;
        if self.profile.is_some() {
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
            // the CLI sets no breakpoints or hooks outside the GDB stub, and Idle only makes
            // the interactive loop wait
            End::Machine(ExitReason::Breakpoint | ExitReason::Hooked | ExitReason::Idle) => {
                ("stopped", 0)
            }
        };
        if self.print_hash {
            crate::print_hash(m, self.last_output);
        }
        if self.stats {
            let b = m.block_stats();
            eprintln!(
                "\r\nvx86: block cache: {} hits, {} blocks decoded ({} of them after their code was written)",
                b.hits, b.decoded, b.invalidated
            );
        }
        eprintln!(
            "\r\nvx86: exit={reason} instructions={} virtual={:.3}s wall={:.3}s",
            m.instruction_count(),
            m.virtual_time_ns() as f64 / 1e9,
            start.elapsed().as_secs_f64()
        );
        Ok(ExitCode::from(code))
    }

    fn run_loop(
        &mut self,
        m: &mut Machine,
        keys: Option<&mpsc::Receiver<u8>>,
        samples: &mut std::collections::BTreeMap<u32, u64>,
        start: Instant,
    ) -> Result<End, String> {
        let max = self.max.unwrap_or(u64::MAX);
        let (mut escaped, mut fed) = (false, 0usize);
        let mut tail: Vec<u8> = Vec::new(); // the console's last bytes, for --until
        let mut out = std::io::stdout();
        // interactive: the guest's clock may not run ahead of the wall clock (idle time is
        // skipped only up to it; see Machine::set_idle_limit)
        let virtual_start = m.virtual_time_ns();
        loop {
            let done = m.instruction_count();
            if let Some((at, path)) = &self.snapshot_at {
                if done == *at {
                    save_snapshot(m, path)?;
                    self.snapshot_at = None;
                }
            }
            if done >= max {
                return Ok(End::Machine(ExitReason::BudgetReached));
            }
            if let Some(data) = &self.input {
                // one byte at a time once the driver reads: nothing is lost to boot probing
                if fed < data.len() && m.serial_receive_enabled() && m.serial_input_queued() == 0 {
                    m.send_serial(&data[fed..fed + 1]);
                    fed += 1;
                }
            }
            if let Some(rx) = keys {
                let typed: Vec<u8> = rx.try_iter().collect();
                match filter_keys(&typed, &mut escaped) {
                    Some(bytes) if bytes.is_empty() => {}
                    Some(bytes) => m.send_serial(&bytes),
                    None => return Ok(End::Quit),
                }
            }
            let mut slice = match self.profile {
                Some(p) => p.clamp(1, SLICE),
                None => SLICE - done % SLICE,
            };
            slice = slice.min(max - done);
            if let Some((at, _)) = &self.snapshot_at {
                if *at > done {
                    slice = slice.min(at - done);
                }
            }
            if keys.is_some() {
                let wall = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
                m.set_idle_limit(Some(virtual_start.saturating_add(wall)));
            }
            let r = m.run(slice).map_err(|e| e.to_string());
            if self.profile.is_some() {
                let s = m.cpu_state();
                let lin = s.segs[vx86_core::SegReg::Cs as usize]
                    .base
                    .wrapping_add(s.eip);
                *samples.entry(lin).or_default() += 1;
            }
            let mut chunk = m.take_serial_output();
            chunk.extend(m.take_console_output());
            self.devices.service(m)?;
            self.last_output = chunk.last().copied().or(self.last_output);
            out.write_all(&chunk).map_err(|e| e.to_string())?;
            out.flush().map_err(|e| e.to_string())?;
            if let Some(text) = &self.until {
                tail.extend_from_slice(&chunk);
                if tail
                    .windows(text.len().max(1))
                    .any(|w| w == text.as_slice())
                {
                    return Ok(End::Until);
                }
                let keep = tail.len().saturating_sub(text.len());
                tail.drain(..keep);
            }
            match r? {
                ExitReason::BudgetReached => {}
                ExitReason::Idle => {
                    // halted until a timer the wall clock has not reached: wait for it (or
                    // for a key, polled every 20 ms)
                    let wall = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    let now = virtual_start.saturating_add(wall);
                    let until = m.next_timer_ns().unwrap_or(now).saturating_sub(now);
                    std::thread::sleep(Duration::from_nanos(until).min(Duration::from_millis(20)));
                }
                other => return Ok(End::Machine(other)),
            }
        }
    }
}

/// Writes a full, compressed snapshot of `m` to `path` and says so on stderr.
fn save_snapshot(m: &mut Machine, path: &str) -> Result<(), String> {
    let t = Instant::now();
    let bytes = m
        .save_snapshot(SnapshotOptions {
            compress: true,
            incremental: false,
        })
        .map_err(|e| e.to_string())?;
    std::fs::write(path, &bytes).map_err(|e| format!("{path}: {e}"))?;
    eprintln!(
        "\r\nvx86: snapshot at instruction {} written to {path} ({} bytes, {:.1} ms)\r",
        m.instruction_count(),
        bytes.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
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
