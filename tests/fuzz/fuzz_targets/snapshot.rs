//! Snapshot bytes are untrusted: `Machine::from_snapshot` must return an error or a machine
//! that runs, never panic or allocate without bound. The input is sealed with a valid SHA-256
//! trailer first (when it does not already carry one), so the fuzzer reaches the header, the
//! section framing, the bincode decoders and the state validation behind the checksum; a
//! restored machine is run for a few thousand instructions and incremental application is
//! tried on it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sha2::Digest;
use vx86_core::Machine;

fuzz_target!(|data: &[u8]| {
    let mut sealed = data.to_vec();
    let sum: [u8; 32] = sha2::Sha256::digest(data).into();
    sealed.extend_from_slice(&sum);
    for bytes in [data, &sealed[..]] {
        if let Ok(mut m) = Machine::from_snapshot_with_ram_limit(bytes, 64 << 20) {
            let _ = m.state_hash();
            let _ = m.run(5_000);
            let _ = m.apply_incremental_snapshot(bytes);
        }
    }
});
