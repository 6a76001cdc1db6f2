//! Robustness: random bytes executed as real-mode code must never panic the host. Whatever the
//! guest does ends in one of the documented outcomes: budget reached, HLT, triple fault, or a
//! clean `VmError::Unsupported` for a valid instruction vx86 does not implement yet.

use vx86_core::{CpuState, ExitReason, Machine, MachineConfig, VmError};

/// xorshift64*: a fixed, seedable generator (no host entropy in tests).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn random_bytes_as_code_never_panic() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut total = 0u64;
    let mut outcomes = [0u32; 4]; // budget, halted, triple fault, unsupported
    let mut machines = 0;
    while total < 5_000_000 {
        machines += 1;
        let mut m = Machine::new(MachineConfig {
            ram_size: 2 << 20,
            ..MachineConfig::default()
        })
        .unwrap();
        let mut ram = vec![0u8; 2 << 20];
        for chunk in ram.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next().to_le_bytes()[..chunk.len()]);
        }
        m.write_phys(0, &ram).unwrap();
        let r = rng.next();
        let mut s = CpuState::real_mode((r >> 16) as u16, r as u16, (r >> 32) as u16);
        s.regs[0] = (r >> 48) as u32;
        m.set_cpu_state(s);
        // Run in slices so a halted or shut-down machine is replaced by a fresh one.
        let before = m.instruction_count();
        let outcome = m.run(50_000);
        total += m.instruction_count() - before;
        match outcome {
            Ok(ExitReason::BudgetReached) => outcomes[0] += 1,
            Ok(ExitReason::Halted) => outcomes[1] += 1,
            Ok(ExitReason::TripleFault) => outcomes[2] += 1,
            Err(VmError::Unsupported { .. }) => outcomes[3] += 1,
            Err(e) => panic!("unexpected host error from guest code: {e}"),
        }
    }
    println!("{total} instructions on {machines} machines; outcomes (budget, hlt, triple, unsupported): {outcomes:?}");
    assert!(total >= 5_000_000);
    // Random code hits HLT (F4) within a few dozen instructions most of the time; a run
    // that never halts nor faults out would mean the generator or the loop is broken.
    assert!(outcomes[1] > 0);
}
