//! The 8254 programmable interval timer (Intel 82C54 datasheet) at ports 0x40-0x43, with the
//! PC wiring: channel 0 drives IRQ 0, channel 2's gate and the speaker enable are bits 0-1 of
//! port 0x61 ("system control port B"), whose bit 5 reads channel 2's output.
//!
//! Counters run off the 1.193182 MHz input clock derived from virtual time, so reading a
//! count is a pure function of the instruction count. Modelled: the control word (counter
//! select, read/load modes LSB/MSB/both, modes 0-5), counter latch and read-back commands,
//! channel 0's IRQ 0 edges (mode 0 once at terminal count; modes 2 and 3 every period), gate
//! control for channel 2. Left out: BCD counting (counts are binary), the exact output
//! waveforms of modes 1, 4 and 5 (their counts read correctly, their outputs are not modelled).

/// The counters' input clock in Hz.
pub const PIT_HZ: u64 = 1_193_182;

const NS: u128 = 1_000_000_000;

/// Virtual nanoseconds → input-clock ticks (floor).
fn ticks(ns: u64) -> u64 {
    (ns as u128 * PIT_HZ as u128 / NS) as u64
}

/// Input-clock ticks → the first virtual nanosecond at which they have elapsed (ceiling).
fn ns_for(ticks: u64) -> u64 {
    (ticks as u128 * NS).div_ceil(PIT_HZ as u128) as u64
}

/// One counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, bincode::Encode, bincode::Decode)]
pub struct Channel {
    /// Mode 0-5.
    pub mode: u8,
    /// Read/load: 1 LSB, 2 MSB, 3 LSB then MSB.
    pub access: u8,
    /// Count register as programmed (0 means 65536).
    pub reload: u16,
    /// Virtual time at which counting started.
    pub start_ns: u64,
    /// A count was loaded and the counter runs.
    pub armed: bool,
    /// Gate input.
    pub gate: bool,
    /// Latched count for the next read(s).
    pub latch: Option<u16>,
    /// Next LSB/MSB byte to read (false = LSB).
    pub read_msb: bool,
    /// Next LSB/MSB byte to write (false = LSB).
    pub write_msb: bool,
    /// The LSB written, waiting for the MSB.
    pub pending_lsb: u8,
    /// Mode 0: the terminal-count edge was already given.
    pub fired: bool,
}

impl Channel {
    fn period(&self) -> u64 {
        if self.reload == 0 {
            0x1_0000
        } else {
            self.reload as u64
        }
    }

    /// Ticks elapsed since the count was loaded.
    fn elapsed(&self, now: u64) -> u64 {
        ticks(now.saturating_sub(self.start_ns))
    }

    /// The current count.
    pub fn count(&self, now: u64) -> u16 {
        if !self.armed {
            return self.reload;
        }
        let e = self.elapsed(now);
        let p = self.period();
        match self.mode & 3 {
            // modes 2 and 3 (and 6, 7): reload every period
            2 | 3 => (p - e % p) as u16,
            // modes 0, 1, 4, 5: count down once, then wrap through 0xFFFF
            _ => (p.wrapping_sub(e) & 0xFFFF) as u16,
        }
    }

    /// Output level (modelled for modes 0, 2, 3).
    pub fn out(&self, now: u64) -> bool {
        if !self.armed {
            return self.mode != 0;
        }
        let e = self.elapsed(now);
        let p = self.period();
        match self.mode & 3 {
            0 => e >= p,
            2 => e % p != p - 1,
            3 => e % p < p.div_ceil(2),
            _ => true,
        }
    }

    /// Virtual time of the next IRQ edge (the output rising), if any.
    pub fn next_edge(&self, now: u64) -> Option<u64> {
        if !self.armed || !self.gate {
            return None;
        }
        let p = self.period();
        match self.mode & 3 {
            0 if !self.fired => Some(self.start_ns + ns_for(p)),
            2 | 3 => {
                let k = self.elapsed(now) / p + 1;
                Some(self.start_ns + ns_for(k * p))
            }
            _ => None,
        }
    }
}

/// The three counters and port 0x61.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Pit {
    /// Channels 0-2.
    pub ch: [Channel; 3],
    /// Port 0x61 bits 0 (channel 2 gate) and 1 (speaker data).
    pub port61: u8,
}

impl Default for Pit {
    fn default() -> Self {
        let mut ch = [Channel::default(); 3];
        ch[0].gate = true;
        ch[1].gate = true;
        Self { ch, port61: 0 }
    }
}

impl Pit {
    /// Port read at virtual time `now`.
    pub fn io_read(&mut self, port: u16, now: u64) -> u8 {
        match port {
            0x40..=0x42 => {
                let c = &mut self.ch[(port - 0x40) as usize];
                let v = c.latch.unwrap_or_else(|| c.count(now));
                let byte = match c.access {
                    1 => v as u8,
                    2 => (v >> 8) as u8,
                    _ => {
                        let b = if c.read_msb { (v >> 8) as u8 } else { v as u8 };
                        c.read_msb = !c.read_msb;
                        if c.read_msb {
                            return b;
                        }
                        b
                    }
                };
                c.latch = None;
                byte
            }
            0x61 => {
                let out2 = self.ch[2].out(now) as u8;
                // bit 4 toggles with the refresh clock (every 15.085 µs on a PC)
                let refresh = ((now / 15_085) & 1) as u8;
                self.port61 & 3 | refresh << 4 | out2 << 5
            }
            _ => 0xFF,
        }
    }

    /// Port write at virtual time `now`.
    pub fn io_write(&mut self, port: u16, v: u8, now: u64) {
        match port {
            0x40..=0x42 => {
                let c = &mut self.ch[(port - 0x40) as usize];
                let full = match c.access {
                    1 => Some(v as u16),
                    2 => Some((v as u16) << 8),
                    _ if !c.write_msb => {
                        c.pending_lsb = v;
                        c.write_msb = true;
                        None
                    }
                    _ => {
                        c.write_msb = false;
                        Some((v as u16) << 8 | c.pending_lsb as u16)
                    }
                };
                if let Some(count) = full {
                    c.reload = count;
                    c.start_ns = now;
                    c.armed = true;
                    c.fired = false;
                }
            }
            0x43 => self.control(v, now),
            0x61 => {
                let gate = v & 1 != 0;
                if gate && !self.ch[2].gate {
                    self.ch[2].start_ns = now; // a rising gate restarts the count
                }
                self.ch[2].gate = gate;
                self.port61 = v & 3;
            }
            _ => {}
        }
    }

    fn control(&mut self, v: u8, now: u64) {
        let sel = v >> 6;
        if sel == 3 {
            // read-back: bit 5 clear latches the counts of the selected channels
            for i in 0..3 {
                if v & (2 << i) != 0 && v & 0x20 == 0 {
                    let c = &mut self.ch[i];
                    c.latch = Some(c.count(now));
                }
            }
            return;
        }
        let c = &mut self.ch[sel as usize];
        let access = (v >> 4) & 3;
        if access == 0 {
            c.latch = Some(c.count(now)); // counter latch command
            return;
        }
        c.access = access;
        c.mode = (v >> 1) & 7;
        c.armed = false; // a new mode waits for a count
        c.read_msb = false;
        c.write_msb = false;
        c.latch = None;
    }

    /// When channel 0 next raises IRQ 0.
    pub fn next_irq0(&self, now: u64) -> Option<u64> {
        self.ch[0].next_edge(now)
    }

    /// Channel 0 reached an edge at `now`: returns true to pulse IRQ 0.
    pub fn fire(&mut self, now: u64) -> bool {
        let c = &mut self.ch[0];
        if !c.armed {
            return false;
        }
        if c.mode & 3 == 0 {
            if c.fired || c.elapsed(now) < c.period() {
                return false;
            }
            c.fired = true;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode2_count_and_periodic_edges() {
        let mut p = Pit::default();
        p.io_write(0x43, 0x34, 0); // channel 0, LSB/MSB, mode 2
        p.io_write(0x40, 0x9C, 0); // 11932 = 0x2E9C: 100 Hz
        p.io_write(0x40, 0x2E, 0);
        // after 1 ms: 1193 ticks elapsed (1193.182 floored) → count 11932 − 1193 = 10739
        p.io_write(0x43, 0x00, 1_000_000); // latch channel 0
        let lo = p.io_read(0x40, 5_000_000);
        let hi = p.io_read(0x40, 5_000_000);
        assert_eq!(u16::from_le_bytes([lo, hi]), 10739);
        // edges every 11932 ticks: 11932 × 10^9 / 1193182 = 10 000 150.857 ns → the first at
        // ceil = 10 000 151 ns, the second at ceil(20 000 301.714) = 20 000 302 ns
        assert_eq!(p.next_irq0(0), Some(10_000_151));
        assert_eq!(p.next_irq0(10_000_151), Some(20_000_302));
        assert!(p.fire(10_000_151));
    }

    #[test]
    fn mode0_fires_once() {
        let mut p = Pit::default();
        p.io_write(0x43, 0x30, 0); // channel 0, LSB/MSB, mode 0
        p.io_write(0x40, 100, 0);
        p.io_write(0x40, 0, 0);
        let t = p.next_irq0(0).unwrap();
        assert_eq!(t, ns_for(100));
        assert!(p.fire(t));
        assert_eq!(p.next_irq0(t), None);
        assert!(!p.fire(t + 1000));
    }

    #[test]
    fn channel2_gate_and_output_on_port61() {
        let mut p = Pit::default();
        p.io_write(0x43, 0xB0, 0); // channel 2, LSB/MSB, mode 0
        p.io_write(0x42, 10, 0);
        p.io_write(0x42, 0, 0);
        p.io_write(0x61, 1, 0); // gate on
        assert_eq!(p.io_read(0x61, 0) & 0x20, 0, "OUT2 low while counting");
        assert_eq!(
            p.io_read(0x61, ns_for(10)) & 0x20,
            0x20,
            "OUT2 high at terminal count"
        );
    }
}
