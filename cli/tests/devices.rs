//! The CLI's virtio options without booting a whole guest: bad images and option errors end
//! with a message and exit code 2; a snapshot of a machine with a disk resumes only with that
//! disk's image (`--disk`), and a write-through disk receives the guest's writes.

mod common;

use std::process::{Command, Output};

fn vx86(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vx86"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bad_images_and_options_are_refused_with_a_message() {
    let guest = common::guest_args();
    let g: Vec<&str> = guest.iter().map(String::as_str).collect();
    let odd = common::temp("odd.img");
    std::fs::write(&odd, vec![0u8; 1000]).unwrap();
    let cases: [(Vec<&str>, &str); 5] = [
        (
            vec!["--disk", odd.to_str().unwrap()],
            "whole number of 512-byte sectors",
        ),
        (
            vec!["--disk", "/nonexistent/disk.img"],
            "/nonexistent/disk.img",
        ),
        (vec!["--disk", "x.img,fast"], "unknown option fast"),
        (vec!["--net-pcap", "out.pcap"], "--net-pcap needs --net"),
        (vec!["--net=52:54:00"], "six hex bytes"),
    ];
    for (extra, want) in cases {
        let args: Vec<&str> = ["run"]
            .iter()
            .copied()
            .chain(g.iter().copied())
            .chain(extra)
            .collect();
        let o = vx86(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn a_snapshot_with_a_disk_resumes_only_with_its_image() {
    let guest = common::guest_args();
    let g: Vec<&str> = guest.iter().map(String::as_str).collect();
    let (disk, other, snap) = (
        common::temp("d.img"),
        common::temp("o.img"),
        common::temp("d.snap"),
    );
    std::fs::write(&disk, vec![1u8; 64 * 512]).unwrap();
    std::fs::write(&other, vec![2u8; 64 * 512]).unwrap();
    let d = format!("{},cow", disk.to_str().unwrap());
    let run: Vec<&str> = ["run"].iter().copied().chain(g.iter().copied()).collect();
    let args = [
        &run[..],
        &["--disk", &d, "--rng", "--snapshot-at", "200000"],
        &[
            "--snapshot-out",
            snap.to_str().unwrap(),
            "--max-instructions",
            "300000",
            "--print-hash",
        ],
    ]
    .concat();
    let o = vx86(&args);
    assert_eq!(o.status.code(), Some(3), "budget reached: {}", stderr(&o));
    // without the disk, with another image, then with the right one
    let s = snap.to_str().unwrap();
    let o = vx86(&["resume", s, "--max-instructions", "300000"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("1 virtio disk(s) and 0 image(s) were given"),
        "{}",
        stderr(&o)
    );
    let o = vx86(&[
        "resume",
        s,
        "--disk",
        other.to_str().unwrap(),
        "--max-instructions",
        "300000",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("SHA-256"), "{}", stderr(&o));
    let o = vx86(&[
        "resume",
        s,
        "--disk",
        &d,
        "--max-instructions",
        "300000",
        "--print-hash",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let hash = |o: &Output| {
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        out.lines()
            .find(|l| l.starts_with("state-hash:"))
            .map(str::to_string)
    };
    let straight = vx86(&args);
    assert!(hash(&o).is_some());
    assert_eq!(hash(&o), hash(&straight), "resumed = straight run");
}

#[test]
fn a_write_through_disk_holds_the_guests_file_after_power_off() {
    let guest = common::guest_args();
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let img = common::temp("ext2.img");
    let ok = Command::new("bash")
        .arg(root.join("guests/mkdisk.sh"))
        .arg(&img)
        .status()
        .unwrap();
    assert!(ok.success(), "guests/mkdisk.sh");
    let mut args: Vec<&str> = vec!["run"];
    args.extend(guest.iter().map(String::as_str));
    args.extend([
        "--append",
        "console=ttyS0 panic=-1 cryptomgr.notests VX86_TEST=disk",
        "--disk",
        img.to_str().unwrap(),
    ]);
    let o = vx86(&args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "power-off: {}", stderr(&o));
    assert!(out.contains("DISK-OK"), "{out}");
    let cat = Command::new("bash")
        .arg(root.join("guests/diskcat.sh"))
        .arg(&img)
        .arg("/written.txt")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&cat.stdout).trim(),
        "written by the guest"
    );
}
