//! Robustness: random bytes executed as real-mode code must never panic the host. Whatever the
//! guest does ends in one of the documented outcomes: budget reached, HLT, triple fault, reset,
//! power-off, or a
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
    let mut outcomes = [0u32; 6]; // budget, halted, triple fault, unsupported, reset, poweroff
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
            Ok(ExitReason::Reset) => outcomes[4] += 1,
            Ok(ExitReason::PowerOff) => outcomes[5] += 1,
            Ok(r @ (ExitReason::Breakpoint | ExitReason::Hooked | ExitReason::Idle)) => {
                panic!("{r:?} without breakpoints, hooks or an idle limit")
            }
            Err(e) => panic!("unexpected host error from guest code: {e}"),
        }
    }
    println!("{total} instructions on {machines} machines; outcomes (budget, hlt, triple, unsupported, reset, poweroff): {outcomes:?}");
    assert!(total >= 5_000_000);
    // Random code hits HLT (F4) within a few dozen instructions most of the time; a run
    // that never halts nor faults out would mean the generator or the loop is broken.
    assert!(outcomes[1] > 0);
}

#[test]
fn random_bytes_in_protected_mode_with_paging_never_panic() {
    // Flat 32-bit ring 0 with paging on; GDT, IDT and page tables themselves live in the random
    // memory after the first instructions scribble over them, so descriptor loads, gates, task
    // switches and page walks all see garbage: every outcome must still be a clean one.
    use vx86_core::cpu::{cr0, flag, Descriptor, TableReg};
    use vx86_core::SegReg;
    let mut rng = Rng(0x5eed_1234_abcd_0002);
    let mut total = 0u64;
    let mut machines = 0;
    // one random image, new random entry points, stacks and IDT bases per machine (most
    // machines end in a few instructions: a triple fault or HLT)
    let mut ram = vec![0u8; 2 << 20];
    for chunk in ram.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next().to_le_bytes()[..chunk.len()]);
    }
    while total < 2_000_000 && machines < 8000 {
        machines += 1;
        let mut m = Machine::new(MachineConfig {
            ram_size: 2 << 20,
            ..MachineConfig::default()
        })
        .unwrap();
        // a valid GDT at 0x1000 (null, flat code, flat data) and a page directory at 0x2000
        // mapping 4 MiB with a 4 MiB page, so execution starts sanely
        let code = 0x00CF_9B00_0000_FFFFu64;
        let data = 0x00CF_9300_0000_FFFFu64;
        ram[0x1000..0x1018].copy_from_slice(&[0u64, code, data].map(u64::to_le_bytes).concat());
        ram[0x2000..0x2004].copy_from_slice(&0x83u32.to_le_bytes());
        m.write_phys(0, &ram).unwrap();
        let mut s = CpuState::reset();
        s.cr0 = cr0::PE | cr0::PG | cr0::ET;
        s.cr3 = 0x2000;
        s.cr4 = 0x10; // PSE
        s.gdtr = TableReg {
            base: 0x1000,
            limit: 23,
        };
        s.idtr = TableReg {
            base: (rng.next() as u32) & 0xF_F000,
            limit: 0x7FF,
        };
        s.segs = [Descriptor(data).to_segment(0x10); 6];
        s.segs[SegReg::Cs as usize] = Descriptor(code).to_segment(0x08);
        s.eip = (rng.next() as u32) % (2 << 20);
        s.regs[4] = (rng.next() as u32) % (2 << 20);
        s.eflags = flag::FIXED1;
        m.set_cpu_state(s);
        let before = m.instruction_count();
        let outcome = m.run(50_000);
        total += m.instruction_count() - before;
        match outcome {
            Ok(_) | Err(VmError::Unsupported { .. }) => {}
            Err(e) => panic!("unexpected host error from guest code: {e}"),
        }
    }
    println!("{total} instructions on {machines} machines in protected mode");
    assert!(total >= 1_500_000, "only {total} instructions ran");
}
