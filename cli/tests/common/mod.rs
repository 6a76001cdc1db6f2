//! Helpers shared by the CLI's end-to-end tests.

use std::path::PathBuf;
use std::process::Command;

/// The guest images (built on first use) as `--kernel K --initrd I` arguments.
pub fn guest_args() -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = root.join("guests/out");
    if !out.join("bzImage").exists() || !out.join("initrd.cpio.gz").exists() {
        let ok = Command::new("bash")
            .arg(root.join("guests/build.sh"))
            .status()
            .unwrap();
        assert!(ok.success(), "guests/build.sh failed");
    }
    let path = |f: &str| out.join(f).to_str().unwrap().to_string();
    vec![
        "--kernel".into(),
        path("bzImage"),
        "--initrd".into(),
        path("initrd.cpio.gz"),
    ]
}

/// A file name in the temporary directory, unique to this test process.
pub fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("vx86-{}-{name}", std::process::id()))
}
