//! The state hash of the determinism contract (DESIGN.md, "Time and determinism"): SHA-256 over
//! a canonical encoding of everything that decides what the guest does next and can observe.
//!
//! Covered, in this order: a format tag; the CPU's architectural state (flags materialised)
//! with the instruction count and the interrupt/trap shadows, the pending INTR vector, the
//! shutdown state and the CPL; every device's registers (the closed `Device` enum, in bus
//! order; output already sent towards the host, which the guest cannot see, left out, so
//! collecting it does not change the hash); the virtual clock, the armed timers, host input not yet received, the reset and
//! power-off requests, the A20 gate and the random source's state; then every non-zero 4 KiB page of RAM with its page
//! number; then each virtio disk: size, base image SHA-256, flush count and every chunk the
//! guest wrote with its index. Values are encoded with bincode (fixed-width little-endian integers), so the bytes
//! do not depend on the host.
//!
//! Not covered, because they only cache what is covered: the decoded-block cache, the TLB (a
//! guest that changes page tables without INVLPG sees stale entries on hardware too, but two
//! runs that agree on everything above refill it identically), the dirty-page and code-page
//! bookkeeping, the interrupt-line summary (recomputed from the controllers).

use super::Machine;
use sha2::{Digest, Sha256};

/// The encoding's version: changes whenever the covered state or its encoding changes.
const FORMAT: &[u8] = b"vx86 state hash v4";

/// Feeds the canonical encoding of `value` (length-prefixed) into `h`.
fn put<T: bincode::Encode>(h: &mut Sha256, value: &T) {
    let config = bincode::config::standard()
        .with_fixed_int_encoding()
        .with_little_endian();
    let bytes = bincode::encode_to_vec(value, config).expect("encoding to a Vec cannot fail");
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(&bytes);
}

impl Machine {
    /// SHA-256 of the machine's guest-visible state (see the module header): equal for two
    /// runs with the same configuration, images and inputs after the same number of
    /// instructions, on every host.
    pub fn state_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(FORMAT);
        let cpu = &self.cpu;
        put(
            &mut h,
            &(
                cpu.state(),
                cpu.icount,
                cpu.pending_irq,
                cpu.irq_shadow,
                cpu.ss_shadow,
                cpu.shutdown,
                cpu.cpl,
            ),
        );
        let bus = &self.bus;
        let devices: Vec<_> = bus
            .devices
            .iter()
            .map(|d| d.without_host_output())
            .collect();
        put(&mut h, &devices);
        put(
            &mut h,
            &(
                bus.clock,
                bus.timers,
                &bus.serial_in,
                bus.reset_requested,
                bus.poweroff_requested,
                bus.a20_mask,
                bus.entropy,
            ),
        );
        for (page, bytes) in bus.mem.as_slice().chunks(4096).enumerate() {
            if bytes.iter().any(|&b| b != 0) {
                h.update((page as u64).to_le_bytes());
                h.update(bytes);
            }
        }
        h.update((bus.disks.len() as u64).to_le_bytes());
        for d in &bus.disks {
            h.update(d.len().to_le_bytes());
            h.update(d.base().sha256());
            h.update(d.flushes.to_le_bytes());
            h.update((d.overlay_chunks() as u64).to_le_bytes());
            for (index, bytes) in d.overlay() {
                h.update(index.to_le_bytes());
                h.update(bytes);
            }
        }
        h.finalize().into()
    }

    /// [`Machine::state_hash`] as 64 lowercase hex digits.
    pub fn state_hash_hex(&self) -> String {
        self.state_hash()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::{Machine, MachineConfig};

    fn machine() -> Machine {
        let mut m = Machine::new(MachineConfig::default()).unwrap();
        // a counting loop that also writes memory: inc ax; mov [0x600], ax; jmp short $-6
        m.load_flat(&[0x40, 0xA3, 0x00, 0x06, 0xEB, 0xFA], 0x7C00, 0x7C00)
            .unwrap();
        m
    }

    #[test]
    fn same_run_same_hash_and_every_part_counts() {
        let (mut a, mut b) = (machine(), machine());
        assert_eq!(a.state_hash(), b.state_hash());
        a.run(1000).unwrap();
        b.run(1000).unwrap();
        assert_eq!(a.state_hash_hex(), b.state_hash_hex());
        assert_eq!(a.state_hash_hex().len(), 64);
        // one more instruction changes it (registers, count, RAM)
        b.run(1).unwrap();
        assert_ne!(a.state_hash(), b.state_hash());
        // a RAM byte alone changes it
        let mut c = machine();
        c.run(1000).unwrap();
        c.write_phys(0x9_0000, &[1]).unwrap();
        assert_ne!(a.state_hash(), c.state_hash());
        // a device register alone changes it (the UART's scratch register)
        let mut d = machine();
        d.run(1000).unwrap();
        d.send_serial(b"x");
        assert_ne!(a.state_hash(), d.state_hash());
        // output the host collects is not state: the guest cannot see it
        let mut e = machine();
        e.run(1000).unwrap();
        e.bus_mut().io_out(0x3F8, 1, u32::from(b'!'), 1000);
        let before = e.state_hash();
        assert_eq!(e.take_serial_output(), b"!");
        assert_eq!(e.state_hash(), before);
    }
}
