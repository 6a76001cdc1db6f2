//! A real guest: Debian's i386 kernel (`linux-image-686`) with the busybox initramfs built by
//! `guests/build.sh` (run here when its outputs are missing). With `AUTOTEST=1` the guest's
//! init prints `BOOT-OK`, runs the embedded script (`echo $((6*7)); uname -m`), prints
//! `AUTOTEST-DONE` and powers off. Booted with the default command line (local APIC, I/O APIC
//! and ACPI in use) and with `noapic nolapic acpi=off` (8259A and PIT only); and twice to
//! `BOOT-OK` with the same inputs, which must give the same output, count and state hash.

use vx86_core::vx86_snapshots::replay_log::{EventKind, ImageRef};
use vx86_core::{
    ExitReason, KernelEntry, Machine, MachineConfig, RecordStart, Replay, ReplayStatus,
    SnapshotOptions,
};
use vx86_tests::linux_guest::{guest_images, linux_machine};

/// Instructions allowed for a whole boot-run-poweroff cycle (a boot takes ≈5 G today).
const BUDGET: u64 = 20_000_000_000;

/// Boots with `cmdline` (plus `AUTOTEST=1`) and returns the serial output and how it ended.
fn boot(cmdline: &str) -> (String, ExitReason, u64) {
    let mut m = linux_machine(&format!("{cmdline} AUTOTEST=1"));
    let mut console = Vec::new();
    let exit = loop {
        let r = m.run(500_000_000).unwrap_or_else(|e| {
            panic!(
                "{e}\nconsole so far:\n{}",
                String::from_utf8_lossy(&console)
            )
        });
        console.extend(m.take_serial_output());
        if r != ExitReason::BudgetReached || m.instruction_count() >= BUDGET {
            break r;
        }
    };
    (
        String::from_utf8_lossy(&console).into_owned(),
        exit,
        m.instruction_count(),
    )
}

/// Boots with `cmdline`, checks the script's output and that the run ended with `want`.
fn check(cmdline: &str, want: ExitReason) {
    let (console, exit, n) = boot(cmdline);
    let tail: String = console
        .lines()
        .rev()
        .take(40)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        console.contains("BOOT-OK"),
        "no BOOT-OK ({exit:?} after {n} instructions); last lines, newest first:\n{tail}"
    );
    let after = &console[console.find("BOOT-OK").unwrap()..];
    let lines: Vec<&str> = after.lines().map(str::trim).collect();
    assert!(lines.contains(&"42"), "no 42 after BOOT-OK:\n{after}");
    assert!(
        lines.contains(&"i686"),
        "uname -m did not print i686:\n{after}"
    );
    assert!(
        after.contains("AUTOTEST-DONE"),
        "the script did not finish:\n{after}"
    );
    assert_eq!(exit, want, "the run did not end as expected:\n{tail}");
    println!("{cmdline}: {exit:?} after {n} instructions");
}

/// The determinism contract on a real guest: two boots with the same inputs reach `BOOT-OK`
/// after the same number of instructions, with the same console output and state hash. Then,
/// from that point: a snapshot restores to the same hash; a session typed at the shell is
/// recorded, replays to the same output and hash, and a perturbed input is found at its
/// instruction.
#[test]
fn two_boots_to_boot_ok_are_identical_then_snapshot_record_and_replay() {
    let run = || {
        // cryptomgr.notests: without the kernel's crypto self-tests (they run in full in
        // debian_kernel_boots_with_apic_and_acpi_and_powers_off) the boot is ≈2.8 G
        // instructions instead of ≈6.4 G
        let mut m = linux_machine("console=ttyS0 panic=-1 cryptomgr.notests");
        let mut console = Vec::new();
        // slices of 10 M instructions: both runs stop at the same count
        while !String::from_utf8_lossy(&console).contains("BOOT-OK") {
            assert!(m.instruction_count() < BUDGET, "no BOOT-OK");
            m.run(10_000_000).unwrap();
            console.extend(m.take_serial_output());
        }
        (console, m.instruction_count(), m.state_hash_hex(), m)
    };
    let (a, b) = (run(), run());
    assert_eq!(a.1, b.1, "instruction counts differ");
    assert!(a.0 == b.0, "console output differs");
    assert_eq!(a.2, b.2, "state hashes differ");
    println!("BOOT-OK twice at {} instructions, state hash {}", a.1, a.2);
    drop(b);
    let mut m = a.3;
    snapshot_round_trip(&mut m);
    recorded_session_replays(m);
}

/// A full snapshot of the booted guest restores into a new machine with the same hash, and
/// both run on identically.
fn snapshot_round_trip(m: &mut Machine) {
    let t = std::time::Instant::now();
    let bytes = m
        .save_snapshot(SnapshotOptions {
            compress: true,
            incremental: false,
        })
        .unwrap();
    let saved = t.elapsed();
    let t = std::time::Instant::now();
    let mut r = Machine::from_snapshot(&bytes).unwrap();
    println!(
        "snapshot: {} bytes, saved in {saved:?}, loaded in {:?}",
        bytes.len(),
        t.elapsed()
    );
    assert_eq!(r.state_hash(), m.state_hash());
    m.run(50_000_000).unwrap();
    r.run(50_000_000).unwrap();
    assert_eq!(r.state_hash(), m.state_hash());
    assert_eq!(r.take_serial_output(), m.take_serial_output());
}

/// Types commands at the shell while recording (starting from an embedded snapshot), replays
/// the log, then perturbs each input in turn: the replay reports a divergence at the next
/// checkpoint and bisecting finds the input's instruction count.
fn recorded_session_replays(mut m: Machine) {
    const INTERVAL: u64 = 20_000_000;
    m.start_recording(RecordStart::Snapshot, INTERVAL).unwrap();
    let mut console = Vec::new();
    for cmd in ["echo $((6*7))\n", "uname -m\n", "echo DONE-$((1+1))\n"] {
        m.send_serial(cmd.as_bytes());
        let want = cmd
            .trim_end()
            .trim_start_matches("echo ")
            .replace("$((6*7))", "42");
        let want = want
            .replace("DONE-$((1+1))", "DONE-2")
            .replace("uname -m", "i686");
        let seen = console.len();
        while !String::from_utf8_lossy(&console[seen..]).contains(&want) {
            assert!(m.instruction_count() < BUDGET, "no {want}");
            m.run(1_000_000).unwrap();
            console.extend(m.take_serial_output());
        }
    }
    let end_hash = m.state_hash();
    let log = m.finish_recording().unwrap();
    let inputs = log
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Serial(_)))
        .count();
    assert_eq!(inputs, 3);
    let bytes = log.to_bytes();

    let clean = Replay::from_bytes(&bytes).unwrap();
    let mut no_images = |_: &ImageRef| -> Result<Vec<u8>, String> { Err("embedded".into()) };
    let mut r = clean.clone();
    let mut replayed = r.start_machine(&mut no_images).unwrap();
    let mut out = Vec::new();
    loop {
        let s = r.advance(&mut replayed, 5_000_000).unwrap();
        out.extend(replayed.take_serial_output());
        match s {
            ReplayStatus::Running => {}
            ReplayStatus::Finished => break,
            ReplayStatus::Diverged(d) => panic!("clean replay {d}"),
        }
    }
    assert_eq!(replayed.state_hash(), end_hash);
    assert!(out == console, "replayed console output differs");

    let mut bad = clean.clone();
    let at = bad.perturb_input(1).unwrap();
    let mut mb = bad.start_machine(&mut no_images).unwrap();
    let d = match bad.advance(&mut mb, u64::MAX).unwrap() {
        ReplayStatus::Diverged(d) => d,
        other => panic!("perturbed input not noticed: {other:?}"),
    };
    assert!(d.icount >= at && d.icount - at <= INTERVAL, "{d}");
    let first = vx86_core::first_difference(
        (&clean, clean.start_machine(&mut no_images).unwrap()),
        (&bad, bad.start_machine(&mut no_images).unwrap()),
        d.icount,
    )
    .unwrap()
    .expect("a difference");
    assert_eq!(first.icount, at, "{first}");
    println!(
        "session of {} instructions replayed; perturbed input at {at}: reported {d}, bisected to {}",
        log.end().0 - log.events[0].icount,
        first.icount
    );
}

/// An in-memory checkpoint of the booting guest, restored 100 times: every time the same state
/// hash, and the same state again after running on (timer interrupts, devices and RAM included).
#[test]
fn checkpoint_restored_100_times() {
    let (kernel, initrd) = guest_images();
    let mut m = Machine::new(MachineConfig {
        ram_size: 256 << 20,
        ..MachineConfig::default()
    })
    .unwrap();
    m.load_linux(&kernel, Some(&initrd), "console=ttyS0")
        .unwrap();
    m.run(300_000_000).unwrap();
    let at = m.state_hash();
    let c = m.checkpoint();
    m.run(3_000_000).unwrap();
    let later = m.state_hash();
    let mut pages = 0;
    let mut restoring = std::time::Duration::ZERO;
    for _ in 0..100 {
        let start = std::time::Instant::now();
        pages += m.restore_checkpoint(&c).unwrap();
        restoring += start.elapsed();
        assert_eq!(m.state_hash(), at);
        m.run(3_000_000).unwrap();
        assert_eq!(m.state_hash(), later);
    }
    // informational only (timing is never asserted in tests)
    println!(
        "100 restores in {restoring:?} ({:?} each), {} pages copied per restore on average",
        restoring / 100,
        pages / 100
    );
}

#[test]
fn debian_kernel_boots_with_apic_and_acpi_and_powers_off() {
    check("console=ttyS0 panic=-1", ExitReason::PowerOff);
}

#[test]
fn debian_kernel_boots_with_the_legacy_pic_only() {
    // without ACPI the kernel cannot power the machine off: it halts with interrupts disabled
    check(
        "console=ttyS0 panic=-1 noapic nolapic acpi=off cryptomgr.notests",
        ExitReason::Halted,
    );
}

/// The direct kernel entry (`KernelEntry::Direct`): the host decompresses the bzImage's xz
/// payload and the guest starts in the kernel proper. The same guest boots, runs the script and
/// powers off, without the ≈2.3 G instructions of the in-guest decompressor; a recording of that
/// boot names the entry, and its replay rebuilds the same start and ends with the same hash.
#[test]
fn the_direct_kernel_entry_boots_the_same_guest_and_its_recording_replays() {
    let (kernel_path, initrd_path) = vx86_tests::linux_guest::image_paths();
    let (kernel, initrd) = guest_images();
    let mut m = Machine::new(MachineConfig {
        ram_size: 256 << 20,
        ..MachineConfig::default()
    })
    .unwrap();
    let cmdline = "console=ttyS0 panic=-1 cryptomgr.notests AUTOTEST=1";
    m.load_linux_with(&kernel, Some(&initrd), cmdline, KernelEntry::Direct)
        .unwrap();
    m.start_recording(
        RecordStart::Boot {
            kernel_path: kernel_path.to_str().unwrap().into(),
            initrd_path: Some(initrd_path.to_str().unwrap().into()),
        },
        100_000_000,
    )
    .unwrap();
    let exit = m.run(BUDGET).unwrap();
    let console = String::from_utf8_lossy(&m.take_serial_output()).into_owned();
    let after = &console[console.find("BOOT-OK").expect("BOOT-OK")..];
    assert!(after.lines().any(|l| l.trim() == "42"), "{after}");
    assert!(after.contains("AUTOTEST-DONE"), "{after}");
    assert_eq!(exit, ExitReason::PowerOff);
    let n = m.instruction_count();
    // through the decompressor this boot is ≈2.8 G instructions (README, "Performance")
    assert!(n < 1_000_000_000, "{n} instructions: the decompressor ran?");

    let log = m.finish_recording().unwrap();
    match &log.start {
        vx86_core::vx86_snapshots::replay_log::Start::Boot(b) => assert!(b.direct_kernel),
        _ => panic!("a boot recording"),
    }
    let mut replay = Replay::from_bytes(&log.to_bytes()).unwrap();
    let mut load = |i: &ImageRef| std::fs::read(&i.path).map_err(|e| format!("{}: {e}", i.path));
    let mut r = replay.start_machine(&mut load).unwrap();
    let status = loop {
        match replay.advance(&mut r, 200_000_000).unwrap() {
            ReplayStatus::Running => {}
            s => break s,
        }
    };
    assert_eq!(status, ReplayStatus::Finished, "the replay diverged");
    assert_eq!((r.instruction_count(), r.state_hash()), (n, m.state_hash()));
}
