//! A network cable between two machines in one process: each [`NetLink::step`] runs both
//! machines to the same virtual time (a fixed quantum later) and then hands each one the
//! Ethernet frames the other transmitted. Frames enter the receiving machine through
//! [`Machine::send_net_frame`] at an instruction count that depends only on the two runs, so
//! the pair is deterministic, and each machine's recording replays on its own (its log holds
//! the frames it received).
//!
//! Within a quantum the machines do not see each other's frames: a frame crosses the cable
//! with a latency of at most one quantum of virtual time.

use super::{ExitReason, Machine};
use crate::VmError;

/// Virtual time per step unless chosen otherwise: 1 ms.
pub const DEFAULT_QUANTUM_NS: u64 = 1_000_000;

/// The cable (see the module header).
#[derive(Debug, Clone)]
pub struct NetLink {
    /// Virtual time both machines have reached.
    pub now_ns: u64,
    /// Virtual time per step.
    pub quantum_ns: u64,
    /// Frames that could not be delivered (the receiver had no virtio-net or 256 frames
    /// already waited).
    pub dropped: u64,
    /// Frames delivered in each direction: (a to b, b to a).
    pub delivered: (u64, u64),
}

impl NetLink {
    /// A cable for two machines that start now (at the later of their virtual times).
    pub fn new(a: &Machine, b: &Machine, quantum_ns: u64) -> Self {
        Self {
            now_ns: a.virtual_time_ns().max(b.virtual_time_ns()),
            quantum_ns: quantum_ns.max(1),
            dropped: 0,
            delivered: (0, 0),
        }
    }

    /// Runs both machines to the next quantum boundary and exchanges their frames. Returns
    /// how each machine's slice ended ([`ExitReason::BudgetReached`] or
    /// [`ExitReason::Idle`]: it got there; anything else: it stopped, e.g. powered off).
    pub fn step(
        &mut self,
        a: &mut Machine,
        b: &mut Machine,
    ) -> Result<(ExitReason, ExitReason), VmError> {
        self.now_ns += self.quantum_ns;
        let ea = run_to(a, self.now_ns)?;
        let eb = run_to(b, self.now_ns)?;
        for frame in a.take_net_frames() {
            match b.send_net_frame(&frame) {
                Ok(()) => self.delivered.0 += 1,
                Err(_) => self.dropped += 1,
            }
        }
        for frame in b.take_net_frames() {
            match a.send_net_frame(&frame) {
                Ok(()) => self.delivered.1 += 1,
                Err(_) => self.dropped += 1,
            }
        }
        Ok((ea, eb))
    }
}

/// Runs `m` until its virtual time reaches `t_ns` (or it idles before a timer after `t_ns`,
/// or stops).
fn run_to(m: &mut Machine, t_ns: u64) -> Result<ExitReason, VmError> {
    let saved = m.idle_limit;
    m.set_idle_limit(Some(t_ns));
    let result = loop {
        let now = m.virtual_time_ns();
        if now >= t_ns {
            break Ok(ExitReason::BudgetReached);
        }
        let target = m.bus.clock.icount_at(t_ns);
        let budget = target.saturating_sub(m.instruction_count()).max(1);
        match m.run(budget) {
            Ok(ExitReason::BudgetReached) => continue,
            other => break other,
        }
    };
    m.set_idle_limit(saved);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MachineConfig, VirtioConfig};

    fn machine() -> Machine {
        let mut m = Machine::new(MachineConfig {
            virtio: VirtioConfig {
                net: Some(crate::machine::DEFAULT_MAC),
                ..Default::default()
            },
            ..MachineConfig::default()
        })
        .unwrap();
        // a halted CPU with interrupts on and no timers: idles
        m.load_flat(&[0xFB, 0xF4, 0xEB, 0xFD], 0x7C00, 0x7C00)
            .unwrap();
        m
    }

    #[test]
    fn both_machines_reach_each_quantum() {
        let (mut a, mut b) = (machine(), machine());
        let mut link = NetLink::new(&a, &b, 1000);
        let (ea, eb) = link.step(&mut a, &mut b).unwrap();
        assert!(
            matches!(ea, ExitReason::Halted | ExitReason::Idle),
            "{ea:?}"
        );
        assert!(
            matches!(eb, ExitReason::Halted | ExitReason::Idle),
            "{eb:?}"
        );
        assert_eq!(link.now_ns, 1000);
        assert_eq!(a.idle_limit, None, "the host's limit is put back");
    }
}
