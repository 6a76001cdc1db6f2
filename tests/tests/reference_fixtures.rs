//! vx86 against recorded reference output: every guest program of `vx86_tests::guests` runs
//! in vx86 and must print exactly what it printed under QEMU (software emulation), recorded in
//! `tests/fixtures/<name>.txt` by `tests/fixtures/record.sh` (the QEMU version is in
//! `tests/fixtures/REFERENCE`). CI needs no QEMU.

use std::path::PathBuf;
use vx86_core::{ExitReason, Machine, MachineConfig};

#[test]
fn guest_programs_match_the_recorded_reference() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut checked = 0;
    for (name, build) in vx86_tests::guests::all() {
        let elf = build().unwrap_or_else(|e| panic!("assembling {name}: {e}"));
        let path = fixtures.join(format!("{name}.txt"));
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run tests/fixtures/record.sh)", path.display()));
        let mut m = Machine::new(MachineConfig {
            ram_size: 64 << 20,
            ..MachineConfig::default()
        })
        .unwrap();
        m.load_multiboot(&elf, "").unwrap();
        let exit = m.run(10_000_000).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = String::from_utf8_lossy(&m.take_debug_output()).into_owned();
        assert_eq!(
            exit,
            ExitReason::Halted,
            "{name} did not finish; output so far:\n{got}"
        );
        // compare line by line for a readable first difference
        for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
            assert_eq!(g, w, "{name}: line {} differs from the reference", i + 1);
        }
        assert_eq!(
            got.lines().count(),
            want.lines().count(),
            "{name}: line count differs\n{got}"
        );
        checked += 1;
    }
    assert!(checked > 0);
}
