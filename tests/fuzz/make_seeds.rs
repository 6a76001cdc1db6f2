//! Writes seed inputs for the fuzz targets: a small machine's snapshot (plain and compressed,
//! and an incremental one) and a replay log with an embedded snapshot, each without its
//! 32-byte SHA-256 trailer, because the targets seal their input themselves.
//! Run: `cargo run --manifest-path tests/fuzz/Cargo.toml --bin make_seeds`.

use vx86_core::{Machine, MachineConfig, RecordStart, SnapshotOptions};

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let d = dir.join(target);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(name), &bytes[..bytes.len() - 32]).unwrap();
    };
    let mut m = Machine::new(MachineConfig {
        ram_size: 2 << 20,
        ..MachineConfig::default()
    })
    .unwrap();
    // inc ax; mov [bx], ax; add bx, 2; and bx, 0x3FFE; jmp back; with the PIT running
    let code = [0x40, 0x89, 0x07, 0x83, 0xC3, 0x02, 0x81, 0xE3, 0xFE, 0x3F, 0xEB, 0xF4];
    m.load_flat(&code, 0x7C00, 0x7C00).unwrap();
    m.run(10_000).unwrap();
    for (name, compress) in [("plain", false), ("lz4", true)] {
        let s = m
            .save_snapshot(SnapshotOptions {
                compress,
                incremental: false,
            })
            .unwrap();
        write("snapshot", name, &s);
    }
    m.run(1_000).unwrap();
    let inc = m
        .save_snapshot(SnapshotOptions {
            compress: false,
            incremental: true,
        })
        .unwrap();
    write("snapshot", "incremental", &inc);
    m.start_recording(RecordStart::Snapshot, 500).unwrap();
    m.run(700).unwrap();
    m.send_serial(b"hi\n");
    m.run(700).unwrap();
    let log = m.finish_recording().unwrap().to_bytes();
    write("replay_log", "session", &log);
    println!("seeds written under {}", dir.display());
}
