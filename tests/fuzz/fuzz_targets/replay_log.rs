//! Replay logs are untrusted: `Replay::from_bytes` must return an error or a log, never panic
//! or allocate without bound; an embedded start snapshot is restored too (with a RAM limit,
//! so each run stays fast). The input is sealed with a valid SHA-256 trailer first so the
//! fuzzer reaches the framing behind the checksum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sha2::Digest;
use vx86_core::vx86_snapshots::replay_log::Start;
use vx86_core::{Machine, Replay};

fuzz_target!(|data: &[u8]| {
    let mut sealed = data.to_vec();
    let sum: [u8; 32] = sha2::Sha256::digest(data).into();
    sealed.extend_from_slice(&sum);
    for bytes in [data, &sealed[..]] {
        if let Ok(r) = Replay::from_bytes(bytes) {
            if let Start::Snapshot(s) = &r.log().start {
                let _ = Machine::from_snapshot_with_ram_limit(s, 64 << 20);
            }
        }
    }
});
