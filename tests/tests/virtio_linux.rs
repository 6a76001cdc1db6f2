//! The virtio devices under Debian's kernel and its own drivers (virtio_pci, virtio_blk,
//! virtio_net, virtio_console, virtio-rng, virtio_balloon, loaded by the initramfs's /init):
//!
//! - one machine with all five devices, recorded: the functions appear and bind; an ext2 disk
//!   made by `guests/mkdisk.sh` (Debian's mke2fs) is mounted, a file read and one written,
//!   and after power-off the file is in the image (read with Debian's debugfs); `/dev/hwrng`
//!   reads; `hvc0` carries a shell; inflating the balloon by 64 MiB from the host lowers the
//!   guest's MemTotal and the snapshot size; the recording replays to the same state hash
//!   (determinism with every device attached);
//! - two machines joined by a [`NetLink`] ping each other over virtio-net while both are
//!   recorded; each log then replays on its own (without the other machine) to the same
//!   instruction count and state hash.

use std::path::PathBuf;
use vx86_core::vx86_snapshots::replay_log::ImageRef;
use vx86_core::{
    DiskConfig, DiskImage, ExitReason, Machine, MachineConfig, NetLink, RecordStart, Replay,
    ReplayStatus, SnapshotOptions, VirtioConfig,
};
use vx86_tests::linux_guest::{image_paths, linux_machine_with, root};

/// Instructions allowed to reach any one expected line.
const WAIT: u64 = 15_000_000_000;
/// The boot command line: no crypto self-tests (they take half the boot), a shell on ttyS0.
const CMDLINE: &str = "console=ttyS0 panic=-1 cryptomgr.notests";
/// Balloon inflation tested: 64 MiB of 4 KiB pages.
const BALLOON_PAGES: u32 = 16384;

/// A scratch folder for this test's files.
fn scratch(name: &str) -> PathBuf {
    let d = root().join("target/virtio-linux-test").join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The machine with its console output so far.
struct Guest {
    m: Machine,
    serial: String,
    hvc: String,
}

impl Guest {
    fn new(m: Machine) -> Self {
        Self {
            m,
            serial: String::new(),
            hvc: String::new(),
        }
    }

    /// Takes the output of both consoles (terminal line endings become `\n`).
    fn collect(&mut self) {
        let text = |b: Vec<u8>| String::from_utf8_lossy(&b).replace('\r', "");
        self.serial.push_str(&text(self.m.take_serial_output()));
        self.hvc.push_str(&text(self.m.take_console_output()));
    }

    /// Runs until `done` holds for the output, in slices of 10 M instructions.
    fn run_until(&mut self, what: &str, done: impl Fn(&Self) -> bool) {
        let start = self.m.instruction_count();
        while !done(self) {
            let tail: String = self
                .serial
                .chars()
                .rev()
                .take(3000)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            assert!(
                self.m.instruction_count() - start < WAIT,
                "no {what}; serial ends with:\n{tail}"
            );
            let r = self
                .m
                .run(10_000_000)
                .unwrap_or_else(|e| panic!("{e}; serial:\n{tail}"));
            self.collect();
            assert!(
                r == ExitReason::BudgetReached || done(self),
                "stopped ({r:?}) before {what}; serial ends with:\n{tail}"
            );
        }
    }

    /// Types `cmd` at the serial shell and runs until `marker` is printed after it; returns
    /// the output from the command on.
    fn shell(&mut self, cmd: &str, marker: &str) -> String {
        let from = self.serial.len();
        self.m.send_serial(format!("{cmd}\n").as_bytes());
        self.run_until(marker, |g| {
            g.serial[from..].contains(&format!("\n{marker}"))
        });
        self.serial[from..].to_string()
    }

    fn snapshot_len(&mut self) -> usize {
        self.m
            .save_snapshot(SnapshotOptions::default())
            .unwrap()
            .len()
    }
}

/// `MemTotal` in kB from /proc/meminfo output.
fn mem_total(out: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .expect("a MemTotal line");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// `n` bytes of a fixed pseudo-random sequence (xorshift64*): disk content that is not zero.
fn noise(n: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut v = Vec::with_capacity(n);
    while v.len() < n {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    v.truncate(n);
    v
}

#[test]
fn all_virtio_devices_under_linux_recorded_and_replayed() {
    let dir = scratch("devices");
    let ext2 = dir.join("disk.img");
    let status = std::process::Command::new("bash")
        .arg(root().join("guests/mkdisk.sh"))
        .arg(&ext2)
        .status()
        .unwrap();
    assert!(status.success(), "guests/mkdisk.sh failed");
    let disk = DiskImage::new(std::fs::read(&ext2).unwrap())
        .unwrap()
        .with_name(ext2.to_str().unwrap());
    // vdb: 256 MiB that are not zero, read by the guest to cycle its page cache through all
    // of its free memory, so that free pages hold data when the balloon takes some of them
    let noise_img = DiskImage::new(noise(256 << 20)).unwrap().with_name("noise");
    let config = MachineConfig {
        virtio: VirtioConfig {
            disks: vec![
                DiskConfig::for_image(&disk, false),
                DiskConfig::for_image(&noise_img, true),
            ],
            net: Some(vx86_core::DEFAULT_MAC),
            console: true,
            rng: true,
            balloon: true,
        },
        ..MachineConfig::default()
    };
    let images = vec![disk.clone(), noise_img.clone()];
    let mut m = linux_machine_with(config, images, CMDLINE);
    let (kernel_path, initrd_path) = image_paths();
    m.start_recording(
        RecordStart::Boot {
            kernel_path: kernel_path.to_str().unwrap().into(),
            initrd_path: Some(initrd_path.to_str().unwrap().into()),
        },
        1_000_000_000,
    )
    .unwrap();
    let mut g = Guest::new(m);
    g.run_until("BOOT-OK", |g| g.serial.contains("BOOT-OK"));

    // the functions and their drivers, the interrupts, /dev/hwrng
    let out = g.shell("sh /tests/devices.sh", "DEVICES-OK");
    for id in ["0x1041", "0x1042", "0x1043", "0x1044", "0x1045"] {
        assert!(
            out.contains(&format!("0x1af4 {id} virtio-pci")),
            "{id} not bound:\n{out}"
        );
    }
    for drv in [
        "virtio_blk",
        "virtio_net",
        "virtio_console",
        "virtio_rng",
        "virtio_balloon",
    ] {
        assert!(out.contains(drv), "{drv} missing:\n{out}");
    }
    assert!(out.contains("PCI-MSI"), "the drivers use MSI-X:\n{out}");
    let hwrng = out
        .lines()
        .skip_while(|l| !l.starts_with("hwrng:"))
        .nth(1)
        .unwrap_or("");
    assert_eq!(
        hwrng.split_whitespace().count(),
        16,
        "16 bytes from /dev/hwrng:\n{out}"
    );
    assert_ne!(
        hwrng.trim(),
        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
    );

    // the ext2 disk: read a file, write one
    let out = g.shell("sh /tests/disk.sh", "DISK-OK");
    assert!(
        out.contains("READ-START\nhello from the host disk\nREAD-END"),
        "{out}"
    );

    // a shell on hvc0
    g.m.send_console(b"echo hvc0 says $((6*7)) on $(tty)\n")
        .unwrap();
    g.run_until("an answer on hvc0", |g| {
        g.hvc.contains("hvc0 says 42 on /dev/hvc0")
    });

    // the balloon: fill free memory with non-zero page cache, free it, inflate by 64 MiB
    let before = g.shell(
        "cat /dev/vdb >/dev/null; echo 3 >/proc/sys/vm/drop_caches; grep MemTotal /proc/meminfo; echo MEM-A",
        "MEM-A",
    );
    let size_before = g.snapshot_len();
    g.m.set_balloon_target(BALLOON_PAGES).unwrap();
    g.run_until("the balloon to inflate", |g| {
        g.m.balloon_status()
            .is_some_and(|(_, actual, _)| actual == BALLOON_PAGES)
    });
    let after = g.shell("grep MemTotal /proc/meminfo; echo MEM-B", "MEM-B");
    let size_after = g.snapshot_len();
    let (_, _, zeroed) = g.m.balloon_status().unwrap();
    assert_eq!(zeroed, BALLOON_PAGES as u64, "pages given back");
    let (t0, t1) = (mem_total(&before), mem_total(&after));
    assert_eq!(t0 - t1, 64 << 10, "MemTotal {t0} kB -> {t1} kB");
    println!("balloon: MemTotal {t0} -> {t1} kB; snapshot {size_before} -> {size_after} bytes");
    assert!(
        size_before - size_after > 48 << 20,
        "the snapshot shrank by only {} bytes",
        size_before as i64 - size_after as i64
    );

    // power off, then the written file is in the disk image
    g.m.send_serial(b"exit\n");
    g.run_until("power-off", |g| {
        g.m.cpu_state().halted || g.serial.contains("Power down")
    });
    let r = g.m.run(1_000_000_000).unwrap();
    assert_eq!(r, ExitReason::PowerOff);
    let written = dir.join("after.img");
    std::fs::write(&written, g.m.disks()[0].contents()).unwrap();
    let cat = std::process::Command::new("bash")
        .arg(root().join("guests/diskcat.sh"))
        .arg(&written)
        .arg("/written.txt")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&cat.stdout).trim(),
        "written by the guest"
    );
    assert_eq!(
        disk.bytes(),
        &std::fs::read(&ext2).unwrap()[..],
        "the base image is untouched"
    );

    // replay: same inputs, same state at every checkpoint and at the end
    let log = g.m.finish_recording().unwrap();
    let end_hash = g.m.state_hash();
    let mut replay = Replay::new(log);
    let mut load = |i: &ImageRef| -> Result<Vec<u8>, String> {
        match i.path.as_str() {
            "noise" => Ok(noise_img.bytes().to_vec()),
            p => std::fs::read(p).map_err(|e| format!("{p}: {e}")),
        }
    };
    let mut r = replay.start_machine(&mut load).unwrap();
    let status = loop {
        match replay.advance(&mut r, 1_000_000_000).unwrap() {
            ReplayStatus::Running => {}
            s => break s,
        }
    };
    assert_eq!(status, ReplayStatus::Finished, "the replay diverged");
    assert_eq!(r.state_hash(), end_hash);
    assert_eq!(r.instruction_count(), g.m.instruction_count());
}

/// Replays `log` on its own (kernel and initrd from their recorded paths) and returns the
/// final instruction count and state hash.
fn replay_alone(log: vx86_core::vx86_snapshots::replay_log::ReplayLog) -> (u64, [u8; 32]) {
    let mut replay = Replay::new(log);
    let mut load = |i: &ImageRef| std::fs::read(&i.path).map_err(|e| format!("{}: {e}", i.path));
    let mut m = replay.start_machine(&mut load).unwrap();
    loop {
        match replay.advance(&mut m, 1_000_000_000).unwrap() {
            ReplayStatus::Running => {}
            ReplayStatus::Finished => break,
            s => panic!("the replay diverged: {s:?}"),
        }
    }
    (m.instruction_count(), m.state_hash())
}

#[test]
fn two_machines_ping_each_other_over_a_net_link_and_each_replays_alone() {
    let (kernel_path, initrd_path) = image_paths();
    let machine = |ip: u8, peer: u8| {
        let config = MachineConfig {
            virtio: VirtioConfig {
                net: Some([0x52, 0x54, 0, 0, 0, ip]),
                ..VirtioConfig::default()
            },
            ..MachineConfig::default()
        };
        let cmdline =
            format!("{CMDLINE} VX86_TEST=net VX86_IP=10.0.0.{ip} VX86_PEER=10.0.0.{peer}");
        let mut m = linux_machine_with(config, Vec::new(), &cmdline);
        let start = RecordStart::Boot {
            kernel_path: kernel_path.to_str().unwrap().into(),
            initrd_path: Some(initrd_path.to_str().unwrap().into()),
        };
        m.start_recording(start, 1_000_000_000).unwrap();
        Guest::new(m)
    };
    let (mut a, mut b) = (machine(1, 2), machine(2, 1));
    let mut link = NetLink::new(&a.m, &b.m, vx86_core::DEFAULT_QUANTUM_NS);
    let mut ended = (None, None);
    while ended.0.is_none() || ended.1.is_none() {
        let budget = a.m.instruction_count() < 3 * WAIT;
        assert!(budget, "no end; A:\n{}\nB:\n{}", a.serial, b.serial);
        let (ea, eb) = link.step(&mut a.m, &mut b.m).unwrap();
        a.collect();
        b.collect();
        let over = |e: ExitReason| !matches!(e, ExitReason::BudgetReached | ExitReason::Idle);
        if over(ea) {
            ended.0.get_or_insert(ea);
        }
        if over(eb) {
            ended.1.get_or_insert(eb);
        }
    }
    for (name, g) in [("A", &a), ("B", &b)] {
        assert!(
            g.serial.contains("PING-OK"),
            "{name} did not reach its peer:\n{}",
            g.serial
        );
        assert!(
            g.serial
                .contains("3 packets transmitted, 3 packets received"),
            "{}",
            g.serial
        );
    }
    assert_eq!(
        ended,
        (Some(ExitReason::PowerOff), Some(ExitReason::PowerOff))
    );
    println!(
        "link: {:?} frames delivered, {} dropped",
        link.delivered, link.dropped
    );
    for g in [&mut a, &mut b] {
        let log = g.m.finish_recording().unwrap();
        let frames = (log.events.iter())
            .filter(|e| {
                matches!(
                    e.kind,
                    vx86_core::vx86_snapshots::replay_log::EventKind::NetFrame(_)
                )
            })
            .count();
        assert!(frames >= 6, "the log holds the frames received ({frames})");
        assert_eq!(
            replay_alone(log),
            (g.m.instruction_count(), g.m.state_hash())
        );
    }
}
