//! In-memory checkpoints (DESIGN.md, "Snapshots"): taking one copies the machine once; restoring
//! it copies back only the RAM pages written since it was taken (the dirty bitmap), plus the CPU
//! and device state, which are small. So a test harness can return to a checkpoint thousands of
//! times at a cost proportional to what the guest touched.
//!
//! The dirty bitmap has one baseline: taking a checkpoint clears it. Restoring a checkpoint other
//! than the newest one (or after something else cleared the bitmap) cannot trust it and copies
//! all of RAM instead, which is always correct.

use super::Machine;
use crate::bus::Bus;
use crate::cpu::Cpu;
use crate::memory::GuestMemory;

/// A saved machine state (see the module header). Restore it with
/// [`Machine::restore_checkpoint`] on the machine it was taken from.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    cpu: Cpu,
    /// The bus with a placeholder where RAM was (RAM is in `ram`).
    bus: Bus,
    ram: GuestMemory,
    epoch: u64,
}

impl Checkpoint {
    /// The instruction count at which it was taken.
    pub fn instruction_count(&self) -> u64 {
        self.cpu.instruction_count()
    }
}

/// A one-page stand-in for RAM while the bus is stored or swapped.
fn placeholder() -> GuestMemory {
    GuestMemory::new(crate::memory::PAGE_SIZE).expect("one page is a valid size")
}

impl Machine {
    /// Saves the current state in memory (one copy of RAM) and starts tracking the pages
    /// written from now on.
    pub fn checkpoint(&mut self) -> Checkpoint {
        self.bus.mem.clear_dirty();
        self.checkpoint_epoch += 1;
        let ram = std::mem::replace(&mut self.bus.mem, placeholder());
        let bus = self.bus.clone();
        self.bus.mem = ram;
        Checkpoint {
            cpu: self.cpu.clone(),
            bus,
            ram: self.bus.mem.clone(),
            epoch: self.checkpoint_epoch,
        }
    }

    /// Returns the machine to `c`: CPU, devices, clock and timers as they were, and the RAM
    /// pages written since (all of RAM if `c` is not the newest checkpoint). Returns how many
    /// RAM pages were copied. `c` must come from this machine (same RAM size), else an error.
    pub fn restore_checkpoint(&mut self, c: &Checkpoint) -> Result<usize, crate::VmError> {
        if self.is_recording() {
            return Err(crate::VmError::Replay(
                "restoring a checkpoint while recording would break the log; finish the \
                 recording first"
                    .into(),
            ));
        }
        if c.ram.size() != self.bus.mem.size() {
            return Err(crate::VmError::Config(format!(
                "checkpoint of a machine with {} bytes of RAM restored into one with {}",
                c.ram.size(),
                self.bus.mem.size()
            )));
        }
        let mut ram = std::mem::replace(&mut self.bus.mem, placeholder());
        let copied = ram.restore_from(&c.ram, c.epoch != self.checkpoint_epoch);
        let hooks = std::mem::take(&mut self.bus.hooks);
        let mut disks = std::mem::take(&mut self.bus.disks);
        for (d, saved) in disks.iter_mut().zip(&c.bus.disks) {
            d.restore_from(saved); // keeps what a write-through host must rewrite
        }
        self.bus = c.bus.clone();
        self.bus.mem = ram;
        self.bus.disks = disks;
        self.bus.hooks = hooks; // host configuration, not state: the current hooks stay
        self.cpu = c.cpu.clone();
        self.checkpoint_epoch = c.epoch;
        Ok(copied)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Machine, MachineConfig};

    /// A loop that keeps changing registers and RAM: inc ax; mov [bx], ax; add bx, 2;
    /// and bx, 0x3FFE; jmp back.
    fn machine() -> Machine {
        let code = [
            0x40, 0x89, 0x07, 0x83, 0xC3, 0x02, 0x81, 0xE3, 0xFE, 0x3F, 0xEB, 0xF4,
        ];
        let mut m = Machine::new(MachineConfig::default()).unwrap();
        m.load_flat(&code, 0x7C00, 0x7C00).unwrap();
        m
    }

    #[test]
    fn restore_returns_to_the_same_state_and_continues_identically() {
        let mut m = machine();
        m.run(10_000).unwrap();
        let at = m.state_hash();
        let c = m.checkpoint();
        m.run(50_000).unwrap();
        let later = m.state_hash();
        for _ in 0..100 {
            let copied = m.restore_checkpoint(&c).unwrap();
            assert!(copied <= 8, "only the pages the loop wrote ({copied})");
            assert_eq!(m.state_hash(), at);
            m.run(50_000).unwrap();
            assert_eq!(m.state_hash(), later);
        }
    }

    #[test]
    fn an_older_checkpoint_restores_all_of_ram() {
        let mut m = machine();
        let first = m.checkpoint();
        let at = m.state_hash();
        m.run(20_000).unwrap();
        let _second = m.checkpoint();
        m.run(20_000).unwrap();
        let copied = m.restore_checkpoint(&first).unwrap();
        assert_eq!(
            copied,
            16 << 20 >> 12,
            "the bitmap's baseline is the second checkpoint"
        );
        assert_eq!(m.state_hash(), at);
        let mut other = Machine::new(MachineConfig {
            ram_size: 8 << 20,
            ..MachineConfig::default()
        })
        .unwrap();
        assert!(other.restore_checkpoint(&first).is_err());
    }
}
