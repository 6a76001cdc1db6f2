//! The MC146818A real-time clock and CMOS RAM (Motorola MC146818A datasheet) at ports
//! 0x70/0x71 with IRQ 8, as on a PC.
//!
//! Time is the machine's configured start time plus virtual time (never the host clock), so a
//! guest reading the date sees the same values on every run. Modelled: time/date registers in
//! BCD or binary and 12/24-hour format (register B), the SET bit freezing updates, the
//! update-in-progress bit (set during the last 244 µs of each second), periodic interrupts at
//! the rate of register A, update-ended and alarm interrupts, register C flags cleared on read,
//! register D's valid-RAM bit, 114 bytes of CMOS RAM preset with the PC memory-size fields.
//! Left out: daylight-saving adjustment, the divider-chain reset states of register A.

/// Register indices.
mod reg {
    pub const SECONDS: usize = 0;
    pub const SECONDS_ALARM: usize = 1;
    pub const MINUTES: usize = 2;
    pub const MINUTES_ALARM: usize = 3;
    pub const HOURS: usize = 4;
    pub const HOURS_ALARM: usize = 5;
    pub const A: usize = 0x0A;
    pub const B: usize = 0x0B;
    pub const C: usize = 0x0C;
    pub const D: usize = 0x0D;
}

/// Register B bits.
mod b {
    pub const SET: u8 = 0x80;
    pub const PIE: u8 = 0x40;
    pub const AIE: u8 = 0x20;
    pub const UIE: u8 = 0x10;
    pub const BINARY: u8 = 0x04;
    pub const H24: u8 = 0x02;
}

/// Register C flags.
mod c {
    pub const IRQF: u8 = 0x80;
    pub const PF: u8 = 0x40;
    pub const AF: u8 = 0x20;
    pub const UF: u8 = 0x10;
}

const NS_PER_S: u64 = 1_000_000_000;

/// The clock and its CMOS RAM.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Rtc {
    /// Registers and CMOS RAM (128 bytes; 0-9 are computed from the time on read).
    pub ram: [u8; 128],
    /// Selected register (port 0x70 bits 0-6).
    pub index: u8,
    /// Seconds since 1970-01-01 00:00:00 UTC at virtual time 0.
    pub start_unix: u64,
    /// While SET is on, the time frozen at this many seconds since the epoch.
    pub frozen: Option<u64>,
    /// Offset (seconds) applied by guest writes of the time registers.
    pub adjust: i64,
    /// Virtual time of the last periodic/update/alarm flag evaluation.
    pub last_ns: u64,
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + (m <= 2) as i64;
    (y, m, d)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Rtc {
    /// A clock that reads `start_unix` (seconds since 1970) at virtual time 0, with the CMOS
    /// memory-size fields for `ram_bytes` of RAM.
    pub fn new(start_unix: u64, ram_bytes: u64) -> Self {
        let mut ram = [0u8; 128];
        ram[reg::A] = 0x26; // 32.768 kHz time base, 1.024 kHz periodic rate
        ram[reg::B] = b::H24;
        ram[reg::D] = 0x80; // valid RAM and time
                            // base memory 640 KiB; extended memory above 1 MiB (up to 64 MiB) in KiB; memory
                            // above 16 MiB in 64 KiB units (the BIOS conventions)
        ram[0x15] = 0x80;
        ram[0x16] = 0x02;
        let ext_kb = (ram_bytes.saturating_sub(1 << 20) / 1024).min(0xFFFF) as u16;
        ram[0x17..0x19].copy_from_slice(&ext_kb.to_le_bytes());
        ram[0x30..0x32].copy_from_slice(&ext_kb.to_le_bytes());
        let above16 = (ram_bytes.saturating_sub(16 << 20) / 65536).min(0xFFFF) as u16;
        ram[0x34..0x36].copy_from_slice(&above16.to_le_bytes());
        Self {
            ram,
            index: 0,
            start_unix,
            frozen: None,
            adjust: 0,
            last_ns: 0,
        }
    }

    fn unix(&self, now: u64) -> u64 {
        self.frozen.unwrap_or_else(|| {
            (self.start_unix as i64 + self.adjust + (now / NS_PER_S) as i64).max(0) as u64
        })
    }

    fn encode(&self, v: u32) -> u8 {
        if self.ram[reg::B] & b::BINARY != 0 {
            v as u8
        } else {
            ((v / 10) << 4 | v % 10) as u8
        }
    }

    fn decode(&self, v: u8) -> u32 {
        if self.ram[reg::B] & b::BINARY != 0 {
            v as u32
        } else {
            (v >> 4) as u32 * 10 + (v & 0xF) as u32
        }
    }

    /// The time register `r` (0-9) at virtual time `now`.
    fn time_register(&self, r: usize, now: u64) -> u8 {
        let t = self.unix(now);
        let secs = t % 86_400;
        let (y, mo, d) = civil_from_days((t / 86_400) as i64);
        match r {
            0 => self.encode((secs % 60) as u32),
            2 => self.encode((secs / 60 % 60) as u32),
            4 => {
                let h = (secs / 3600) as u32;
                if self.ram[reg::B] & b::H24 != 0 {
                    self.encode(h)
                } else {
                    let h12 = if h % 12 == 0 { 12 } else { h % 12 };
                    self.encode(h12) | if h >= 12 { 0x80 } else { 0 }
                }
            }
            6 => self.encode((((t / 86_400) + 4) % 7 + 1) as u32), // 1970-01-01 was a Thursday
            7 => self.encode(d),
            8 => self.encode(mo),
            9 => self.encode((y % 100) as u32),
            _ => self.ram[r],
        }
    }

    /// Periodic interrupt period in ns (None when the rate selects none).
    fn periodic_ns(&self) -> Option<u64> {
        let rate = self.ram[reg::A] & 0x0F;
        if rate == 0 {
            return None;
        }
        let rate = if rate <= 2 { rate + 7 } else { rate };
        let hz = 32_768u64 >> (rate - 1);
        Some(NS_PER_S / hz)
    }

    /// Raises the flags of register C for everything that happened up to `now`; returns
    /// whether the interrupt line should be high.
    pub fn update(&mut self, now: u64) -> bool {
        let last = self.last_ns;
        if now > last {
            if let Some(p) = self.periodic_ns() {
                if now / p != last / p {
                    self.ram[reg::C] |= c::PF;
                }
            }
            if self.frozen.is_none() && now / NS_PER_S != last / NS_PER_S {
                self.ram[reg::C] |= c::UF;
                let alarm = [reg::SECONDS_ALARM, reg::MINUTES_ALARM, reg::HOURS_ALARM]
                    .iter()
                    .zip([reg::SECONDS, reg::MINUTES, reg::HOURS])
                    .all(|(&a, t)| {
                        self.ram[a] & 0xC0 == 0xC0 || self.ram[a] == self.time_register(t, now)
                    });
                if alarm {
                    self.ram[reg::C] |= c::AF;
                }
            }
            self.last_ns = now;
        }
        let enabled = self.ram[reg::B] & (b::PIE | b::AIE | b::UIE);
        let flags = self.ram[reg::C] & (c::PF | c::AF | c::UF);
        let irq = enabled & flags != 0;
        if irq {
            self.ram[reg::C] |= c::IRQF;
        }
        irq
    }

    /// Virtual time of the next event that could raise an enabled interrupt.
    pub fn next_event(&self, now: u64) -> Option<u64> {
        let b = self.ram[reg::B];
        let mut next = None::<u64>;
        if b & b::PIE != 0 {
            if let Some(p) = self.periodic_ns() {
                next = Some((now / p + 1) * p);
            }
        }
        if b & (b::UIE | b::AIE) != 0 {
            let s = (now / NS_PER_S + 1) * NS_PER_S;
            next = Some(next.map_or(s, |n| n.min(s)));
        }
        next
    }

    /// Port read (0x71 returns the selected register).
    pub fn io_read(&mut self, port: u16, now: u64) -> u8 {
        if port == 0x70 {
            return 0xFF;
        }
        self.update(now);
        let r = self.index as usize & 0x7F;
        match r {
            0..=9 => self.time_register(r, now),
            reg::A => {
                // update in progress during the last 244 µs of each second
                let uip = (now % NS_PER_S) >= NS_PER_S - 244_000 && self.frozen.is_none();
                self.ram[reg::A] & 0x7F | (uip as u8) << 7
            }
            reg::C => {
                let v = self.ram[reg::C];
                self.ram[reg::C] = 0;
                v
            }
            _ => self.ram[r],
        }
    }

    /// Port write (0x70 selects, 0x71 writes the selected register).
    pub fn io_write(&mut self, port: u16, v: u8, now: u64) {
        if port == 0x70 {
            self.index = v & 0x7F;
            return;
        }
        self.update(now);
        let r = self.index as usize & 0x7F;
        match r {
            reg::SECONDS | reg::MINUTES | reg::HOURS | 7 | 8 | 9 => {
                // setting the clock: recompute the offset so the new field reads back
                let t = self.unix(now);
                let secs = t % 86_400;
                let (mut y, mut mo, mut d) = civil_from_days((t / 86_400) as i64);
                let (mut h, mut mi, mut s) = (
                    (secs / 3600) as u32,
                    (secs / 60 % 60) as u32,
                    (secs % 60) as u32,
                );
                let val = self.decode(v & 0x7F);
                match r {
                    0 => s = val.min(59),
                    2 => mi = val.min(59),
                    4 => {
                        h = if self.ram[reg::B] & b::H24 != 0 {
                            val.min(23)
                        } else {
                            (val % 12) + if v & 0x80 != 0 { 12 } else { 0 }
                        }
                    }
                    7 => d = val.clamp(1, 31),
                    8 => mo = val.clamp(1, 12),
                    _ => y = 2000 + val as i64,
                }
                let new = days_from_civil(y, mo, d) * 86_400 + (h * 3600 + mi * 60 + s) as i64;
                match &mut self.frozen {
                    Some(f) => *f = new.max(0) as u64,
                    None => self.adjust += new - t as i64,
                }
            }
            reg::B => {
                let was_set = self.ram[reg::B] & b::SET != 0;
                let set = v & b::SET != 0;
                if set && !was_set {
                    self.frozen = Some(self.unix(now));
                } else if !set && was_set {
                    let f = self.frozen.take().unwrap_or(0);
                    self.adjust = f as i64 - (self.start_unix as i64 + (now / NS_PER_S) as i64);
                }
                self.ram[reg::B] = v;
            }
            reg::C | reg::D => {} // read-only
            _ => self.ram[r] = v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(r: &mut Rtc, i: u8, now: u64) -> u8 {
        r.io_write(0x70, i, now);
        r.io_read(0x71, now)
    }

    #[test]
    fn calendar_conversion() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        // 2026-11-25 is day 20 782 since 1970-01-01 (56 × 365 + 14 leap days + 328 days of 2026)
        assert_eq!(days_from_civil(2026, 11, 25), 20_782);
        assert_eq!(civil_from_days(20_782), (2026, 11, 25));
        assert_eq!(civil_from_days(days_from_civil(2000, 2, 29)), (2000, 2, 29));
    }

    #[test]
    fn reads_the_configured_time_in_bcd() {
        // 2026-11-25 06:30:15 UTC = 20782 × 86400 + 23415
        let start = 20_782 * 86_400 + 6 * 3600 + 30 * 60 + 15;
        let mut r = Rtc::new(start, 64 << 20);
        assert_eq!(read(&mut r, 0, 0), 0x15);
        assert_eq!(read(&mut r, 2, 0), 0x30);
        assert_eq!(read(&mut r, 4, 0), 0x06);
        assert_eq!(read(&mut r, 7, 0), 0x25);
        assert_eq!(read(&mut r, 8, 0), 0x11);
        assert_eq!(read(&mut r, 9, 0), 0x26);
        // 2026-11-25 is a Wednesday: day of week 4 (Sunday = 1)
        assert_eq!(read(&mut r, 6, 0), 0x04);
        // 50 virtual seconds later: 06:31:05
        assert_eq!(read(&mut r, 0, 50 * NS_PER_S), 0x05);
        assert_eq!(read(&mut r, 2, 50 * NS_PER_S), 0x31);
        // extended memory: 63 MiB = 64512 KiB = 0xFC00
        assert_eq!((read(&mut r, 0x17, 0), read(&mut r, 0x18, 0)), (0x00, 0xFC));
    }

    #[test]
    fn setting_the_time_and_binary_mode() {
        let mut r = Rtc::new(0, 1 << 20);
        r.io_write(0x70, 0x0B, 0);
        r.io_write(0x71, b::SET | b::H24 | b::BINARY, 0);
        r.io_write(0x70, 4, 0);
        r.io_write(0x71, 13, 0); // 13 h, binary
        r.io_write(0x70, 0x0B, 0);
        r.io_write(0x71, b::H24 | b::BINARY, 0);
        assert_eq!(read(&mut r, 4, 0), 13);
        assert_eq!(read(&mut r, 4, 3600 * NS_PER_S), 14);
    }

    #[test]
    fn periodic_interrupt_flags() {
        let mut r = Rtc::new(0, 1 << 20);
        r.io_write(0x70, 0x0B, 0);
        r.io_write(0x71, b::PIE | b::H24, 0);
        // rate 6: 1024 Hz → period 976 562 ns
        assert_eq!(r.next_event(0), Some(976_562));
        assert!(r.update(976_562));
        assert_eq!(read(&mut r, 0x0C, 976_562) & 0xC0, 0xC0, "IRQF and PF");
        assert_eq!(read(&mut r, 0x0C, 976_562), 0, "cleared by the read");
    }
}
