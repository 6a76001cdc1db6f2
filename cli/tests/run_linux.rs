//! `vx86 run` end to end on the Debian guest of `guests/build.sh` (built here if missing):
//! commands typed at the shell from `--input-file`, output on stdout, the run stopped by
//! `--until`, the summary line on stderr and the exit code.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn input_file_drives_the_shell_and_until_stops_the_run() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = root.join("guests/out");
    if !out.join("bzImage").exists() || !out.join("initrd.cpio.gz").exists() {
        let ok = Command::new("bash")
            .arg(root.join("guests/build.sh"))
            .status()
            .unwrap();
        assert!(ok.success(), "guests/build.sh failed");
    }
    let input = std::env::temp_dir().join(format!("vx86-input-{}.txt", std::process::id()));
    std::fs::write(&input, "echo $((6*7))\nuname -m\necho MARK-$((40+2))\n").unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_vx86"))
        .arg("run")
        .args(["--kernel", out.join("bzImage").to_str().unwrap()])
        .args(["--initrd", out.join("initrd.cpio.gz").to_str().unwrap()])
        .args(["--append", "console=ttyS0 panic=-1 quiet"])
        .args(["--input-file", input.to_str().unwrap()])
        .args(["--until", "MARK-42"])
        .args(["--max-instructions", "30000000000"])
        .output()
        .unwrap();
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
}
