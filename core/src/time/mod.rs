//! Virtual time (DESIGN.md, "Time and determinism"): time is a function of retired
//! instructions at a configured rate, plus idle time skipped while the CPU is halted. Devices
//! never read a clock: they arm [`Timers`] and are called back when the run loop reaches the
//! deadline. Everything is integer arithmetic, so a run is identical on every host.

/// Nanoseconds per second.
const NS: u128 = 1_000_000_000;

/// The machine's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct VirtualClock {
    /// Instructions per virtual second.
    pub hz: u64,
    /// Virtual nanoseconds skipped while halted.
    pub idle_ns: u64,
}

impl VirtualClock {
    /// A clock running at `hz` instructions per second.
    pub fn new(hz: u64) -> Self {
        Self {
            hz: hz.max(1),
            idle_ns: 0,
        }
    }

    /// Virtual time after `icount` retired instructions.
    pub fn now_ns(&self, icount: u64) -> u64 {
        (icount as u128 * NS / self.hz as u128) as u64 + self.idle_ns
    }

    /// The first instruction count at which virtual time reaches `deadline_ns` (no later
    /// than `u64::MAX`).
    pub fn icount_at(&self, deadline_ns: u64) -> u64 {
        let busy = deadline_ns.saturating_sub(self.idle_ns) as u128;
        let n = (busy * self.hz as u128).div_ceil(NS);
        n.min(u64::MAX as u128) as u64
    }

    /// Time-stamp-counter ticks (at `hz`) after `icount` instructions: one per instruction,
    /// plus idle time converted at the same rate.
    pub fn ticks(&self, icount: u64) -> u64 {
        icount.wrapping_add((self.idle_ns as u128 * self.hz as u128 / NS) as u64)
    }

    /// Adds the time of `cycles` processor cycles spent without retiring instructions (an
    /// instruction whose latency is many cycles, such as PAUSE).
    pub fn stall(&mut self, cycles: u64) {
        self.idle_ns += (cycles as u128 * NS / self.hz as u128) as u64;
    }

    /// Skips idle time forward so that `now_ns(icount)` is at least `deadline_ns`.
    pub fn skip_to(&mut self, icount: u64, deadline_ns: u64) {
        let now = self.now_ns(icount);
        if deadline_ns > now {
            self.idle_ns += deadline_ns - now;
        }
    }
}

/// The timers devices can arm, in the order ties are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, bincode::Encode, bincode::Decode)]
#[repr(usize)]
pub enum TimerId {
    /// 8254 channel 0 (IRQ 0).
    Pit0 = 0,
    /// MC146818 periodic, update and alarm events (IRQ 8).
    Rtc = 1,
    /// The local APIC timer.
    Lapic = 2,
}

/// Number of [`TimerId`]s.
const TIMERS: usize = 3;

/// At most one pending deadline per timer; the earliest (deadline, id) fires first, so the
/// order never depends on insertion or hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, bincode::Encode, bincode::Decode)]
pub struct Timers {
    deadlines: [Option<u64>; TIMERS],
}

impl Timers {
    /// Arms (or re-arms) `id` for virtual time `deadline_ns`.
    pub fn set(&mut self, id: TimerId, deadline_ns: u64) {
        self.deadlines[id as usize] = Some(deadline_ns);
    }

    /// Disarms `id`.
    pub fn clear(&mut self, id: TimerId) {
        self.deadlines[id as usize] = None;
    }

    /// The earliest armed deadline.
    pub fn next(&self) -> Option<(u64, TimerId)> {
        let ids = [TimerId::Pit0, TimerId::Rtc, TimerId::Lapic];
        ids.iter()
            .filter_map(|&id| self.deadlines[id as usize].map(|d| (d, id)))
            .min()
    }

    /// Removes and returns the earliest timer due at `now_ns`.
    pub fn pop_due(&mut self, now_ns: u64) -> Option<TimerId> {
        let (d, id) = self.next()?;
        if d <= now_ns {
            self.deadlines[id as usize] = None;
            Some(id)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instruction_time_and_idle_skips() {
        // 100 M instructions per second: 10 ns each
        let mut c = VirtualClock::new(100_000_000);
        assert_eq!(c.now_ns(0), 0);
        assert_eq!(c.now_ns(250), 2500);
        // the first count reaching 2505 ns is 251 (2510 ns)
        assert_eq!(c.icount_at(2505), 251);
        assert_eq!(c.icount_at(2500), 250);
        c.skip_to(250, 1_000_000);
        assert_eq!(c.now_ns(250), 1_000_000);
        assert_eq!(c.icount_at(1_000_010), 251);
    }

    #[test]
    fn timers_fire_in_deadline_order() {
        let mut t = Timers::default();
        assert_eq!(t.next(), None);
        t.set(TimerId::Pit0, 500);
        assert_eq!(t.pop_due(499), None);
        assert_eq!(t.pop_due(500), Some(TimerId::Pit0));
        assert_eq!(t.next(), None);
    }
}
