//! The Debian guest of `guests/build.sh` for the Linux tests: its images (built on first use)
//! and a machine with them loaded.

use std::path::PathBuf;
use vx86_core::{DiskImage, Machine, MachineConfig};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Paths of the kernel and the initrd, building them with `guests/build.sh` when missing.
pub fn image_paths() -> (PathBuf, PathBuf) {
    let out = root().join("guests/out");
    let (kernel, initrd) = (out.join("bzImage"), out.join("initrd.cpio.gz"));
    if !kernel.exists() || !initrd.exists() {
        let status = std::process::Command::new("bash")
            .arg(root().join("guests/build.sh"))
            .status()
            .expect("running guests/build.sh");
        assert!(status.success(), "guests/build.sh failed ({status})");
    }
    (kernel, initrd)
}

/// The kernel and initrd bytes.
pub fn guest_images() -> (Vec<u8>, Vec<u8>) {
    let (kernel, initrd) = image_paths();
    let read = |p: &PathBuf| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (read(&kernel), read(&initrd))
}

/// A 256 MiB machine with `config`'s devices and `disks`, the guest loaded with `cmdline`.
pub fn linux_machine_with(config: MachineConfig, disks: Vec<DiskImage>, cmdline: &str) -> Machine {
    let (kernel, initrd) = guest_images();
    let mut m = Machine::with_disks(
        MachineConfig {
            ram_size: 256 << 20,
            ..config
        },
        disks,
    )
    .unwrap();
    m.load_linux(&kernel, Some(&initrd), cmdline).unwrap();
    m
}

/// A 256 MiB PC with the guest loaded with `cmdline`.
pub fn linux_machine(cmdline: &str) -> Machine {
    linux_machine_with(MachineConfig::default(), Vec::new(), cmdline)
}
