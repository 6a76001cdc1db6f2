//! `vx86 run`, `resume` and `replay` end to end on the Debian guest of `guests/build.sh`
//! (built here if missing): commands typed at the shell from `--input-file`, output on stdout,
//! the run stopped by `--until`, the summary line on stderr and the exit code; the session
//! recorded with `--record` and replayed by `vx86 replay` to the same output and state hash;
//! a snapshot taken with `--snapshot-at` and resumed in another process reaching the same state
//! hash as a straight run.

use std::process::Command;

mod common;
use common::{guest_args, temp};

fn vx86(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vx86"))
        .args(args)
        .output()
        .unwrap()
}

/// The `state-hash:` and `instructions:` lines of a `--print-hash` run.
fn hash_lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.starts_with("state-hash: ") || l.starts_with("instructions: "))
        .map(str::to_string)
        .collect()
}

#[test]
fn input_file_drives_the_shell_until_stops_the_run_and_the_recording_replays() {
    let input = temp("input.txt");
    let log = temp("session.log");
    std::fs::write(&input, "echo $((6*7))\nuname -m\necho MARK-$((40+2))\n").unwrap();
    let mut args: Vec<&str> = vec!["run"];
    let guest = guest_args();
    args.extend(guest.iter().map(String::as_str));
    args.extend([
        "--append",
        // without the kernel's crypto self-tests: a shorter boot (tests/tests/linux_boot.rs
        // runs them)
        "console=ttyS0 panic=-1 quiet cryptomgr.notests",
        "--input-file",
        input.to_str().unwrap(),
        "--until",
        "MARK-42",
        "--max-instructions",
        "30000000000",
        "--record",
        log.to_str().unwrap(),
        "--checkpoint-interval",
        "500000000",
        "--print-hash",
    ]);
    let run = vx86(&args);
    std::fs::remove_file(&input).ok();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "exit {:?}\n{stderr}\n{stdout}",
        run.status
    );
    let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
    assert!(lines.contains(&"42") && lines.contains(&"i686"), "{stdout}");
    assert!(lines.contains(&"MARK-42"), "{stdout}");
    assert!(
        stderr.contains("vx86: exit=until instructions="),
        "{stderr}"
    );

    // the replay prints the same console output and ends in the same state
    let replay = vx86(&["replay", log.to_str().unwrap(), "--print-hash"]);
    std::fs::remove_file(&log).ok();
    let replayed = String::from_utf8_lossy(&replay.stdout);
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    assert_eq!(hash_lines(&replayed).len(), 2, "{replayed}");
    assert_eq!(hash_lines(&replayed), hash_lines(&stdout));
    assert!(replayed == stdout, "replayed output differs:\n{replayed}");
}

/// Snapshot at N in one process, resume it in another and run to M: the same state hash and
/// count as one process running straight to M.
#[test]
fn snapshot_resumed_in_a_new_process_matches_the_straight_run() {
    const N: &str = "150000000";
    const M: &str = "300000000";
    let snap = temp("at-n.snap");
    let guest = guest_args();
    let with_guest = |extra: &[&str]| {
        let mut a: Vec<&str> = vec!["run"];
        a.extend(guest.iter().map(String::as_str));
        a.extend(extra);
        vx86(&a)
    };
    let straight = with_guest(&["--max-instructions", M, "--print-hash"]);
    let first = with_guest(&[
        "--max-instructions",
        N,
        "--snapshot-at",
        N,
        "--snapshot-out",
        snap.to_str().unwrap(),
    ]);
    assert_eq!(first.status.code(), Some(3), "budget reached");
    let resumed = vx86(&[
        "resume",
        snap.to_str().unwrap(),
        "--max-instructions",
        M,
        "--print-hash",
    ]);
    std::fs::remove_file(&snap).ok();
    let (a, b) = (
        String::from_utf8_lossy(&straight.stdout),
        String::from_utf8_lossy(&resumed.stdout),
    );
    assert_eq!(hash_lines(&a).len(), 2, "{a}");
    assert_eq!(
        hash_lines(&a),
        hash_lines(&b),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert!(hash_lines(&b).contains(&format!("instructions: {M}")));
}

#[test]
fn bad_snapshot_and_log_files_are_refused_with_a_message() {
    let f = temp("garbage");
    std::fs::write(&f, b"VX86SNAP\x02\x00\x00\x00").unwrap();
    let r = vx86(&["resume", f.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(2));
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(e.contains("bad snapshot: truncated"), "{e}");
    let r = vx86(&["replay", f.to_str().unwrap()]);
    std::fs::remove_file(&f).ok();
    assert_eq!(r.status.code(), Some(2));
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(e.contains("not a vx86 replay log"), "{e}");
}
