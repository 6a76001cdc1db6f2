//! The replay log (format version 3; versions 1, without disks, and 2, without the kernel
//! entry byte, are still read): how a run
//! started, every input it received stamped with the instruction count at delivery, and
//! `(instruction count, state hash)` checkpoints to verify a replay against. All integers
//! little-endian.
//!
//! | size | field |
//! |---|---|
//! | 8 | magic `VX86RLOG` |
//! | 4 | format version (3) |
//! | 1 | start kind: 0 = an embedded snapshot, 1 = a boot description |
//! | 8 + n | start payload: length, then a vx86 snapshot or the boot description (see [`Boot`]) |
//! | 4 + … | (version 2) the disk images, by reference: count, then each path (8-byte length, UTF-8) and SHA-256 |
//! | 32 | state hash of the machine at the start (verifies the start was rebuilt exactly) |
//! | 8 | checkpoint interval in instructions (informational) |
//! | 8 | number of events |
//! | … | events: instruction count (8), kind (1), payload |
//! | 32 | SHA-256 of everything before it |
//!
//! Event kinds: 1 serial input (4-byte length, bytes), 2 checkpoint (32-byte state hash),
//! 3 end of the recording (32-byte state hash; the last event, exactly once), 4 virtio
//! console input (4-byte length, bytes), 5 a network frame for the guest (4-byte length,
//! bytes), 6 a new balloon target (4-byte page count). Instruction counts never decrease.

use crate::{check_trailer, FormatError, Reader};

/// The first eight bytes of every replay log.
pub const MAGIC: [u8; 8] = *b"VX86RLOG";
/// The log format version this crate writes and reads.
pub const VERSION: u32 = 3;
/// The oldest version this crate reads.
pub const OLDEST_VERSION: u32 = 1;
/// Most disks a log may reference.
const MAX_DISKS: u32 = 64;

/// A guest image a boot description refers to: by content hash, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Where the recording host read it (a hint for the replaying host).
    pub path: String,
    /// SHA-256 of its bytes: the replaying host must supply identical bytes.
    pub sha256: [u8; 32],
}

/// A run that starts by loading a Linux kernel into a fresh machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boot {
    /// The machine configuration, in the machine's canonical encoding.
    pub config: Vec<u8>,
    /// The kernel (bzImage).
    pub kernel: ImageRef,
    /// The initial RAM disk, if any.
    pub initrd: Option<ImageRef>,
    /// The kernel command line.
    pub cmdline: String,
    /// Whether the kernel was entered past its decompressor (decompressed by the host);
    /// logs before version 3 always went through the decompressor.
    pub direct_kernel: bool,
}

/// Where a recorded run starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// From this snapshot (full, vx86 snapshot bytes).
    Snapshot(Vec<u8>),
    /// From a fresh machine that loaded a Linux kernel.
    Boot(Boot),
}

/// What happened at an instruction count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// Bytes sent to the guest's serial console.
    Serial(Vec<u8>),
    /// Bytes sent to the guest's virtio console.
    Console(Vec<u8>),
    /// An Ethernet frame delivered to the guest's virtio-net.
    NetFrame(Vec<u8>),
    /// A new virtio-balloon target (pages).
    BalloonTarget(u32),
    /// The state hash at this count (a point to verify a replay against).
    Checkpoint([u8; 32]),
    /// The recording ended here with this state hash.
    End([u8; 32]),
}

/// One event of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Instructions retired when it happened (inputs are applied before the next one).
    pub icount: u64,
    /// What happened.
    pub kind: EventKind,
}

/// A whole replay log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayLog {
    /// Where the run starts.
    pub start: Start,
    /// The disk images the machine needs (in its configuration's order), by reference.
    pub disks: Vec<ImageRef>,
    /// The state hash at the start.
    pub start_hash: [u8; 32],
    /// Instructions between checkpoints when it was recorded.
    pub checkpoint_interval: u64,
    /// The events, in order, ending with [`EventKind::End`].
    pub events: Vec<Event>,
}

impl ReplayLog {
    /// The encoded log.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        let payload = match &self.start {
            Start::Snapshot(bytes) => {
                out.push(0);
                bytes.clone()
            }
            Start::Boot(b) => {
                out.push(1);
                encode_boot(b)
            }
        };
        put_bytes64(&mut out, &payload);
        out.extend_from_slice(&(self.disks.len() as u32).to_le_bytes());
        for d in &self.disks {
            put_image(&mut out, d);
        }
        out.extend_from_slice(&self.start_hash);
        out.extend_from_slice(&self.checkpoint_interval.to_le_bytes());
        out.extend_from_slice(&(self.events.len() as u64).to_le_bytes());
        for e in &self.events {
            out.extend_from_slice(&e.icount.to_le_bytes());
            match &e.kind {
                EventKind::Serial(bytes)
                | EventKind::Console(bytes)
                | EventKind::NetFrame(bytes) => {
                    out.push(match &e.kind {
                        EventKind::Serial(_) => 1,
                        EventKind::Console(_) => 4,
                        _ => 5,
                    });
                    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                    out.extend_from_slice(bytes);
                }
                EventKind::BalloonTarget(pages) => {
                    out.push(6);
                    out.extend_from_slice(&pages.to_le_bytes());
                }
                EventKind::Checkpoint(h) => {
                    out.push(2);
                    out.extend_from_slice(h);
                }
                EventKind::End(h) => {
                    out.push(3);
                    out.extend_from_slice(h);
                }
            }
        }
        let sum = crate::sha256(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// Reads and validates a log (checksum, framing, event order, exactly one final End).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        if bytes.len() < 8 || bytes[..8] != MAGIC {
            return Err(FormatError::BadMagic {
                expected: "vx86 replay log",
                found: bytes[..bytes.len().min(8)].to_vec(),
            });
        }
        let mut r = Reader::new(bytes);
        r.take(8, "magic")?;
        let version = r.u32("format version")?;
        if !(OLDEST_VERSION..=VERSION).contains(&version) {
            return Err(FormatError::UnsupportedVersion {
                what: "replay log",
                found: version,
                supported: VERSION,
            });
        }
        let (content, _) = check_trailer(bytes, "replay log")?;
        let mut r = Reader::new(content);
        r.take(12, "header")?;
        let kind = r.take(1, "start kind")?[0];
        let payload = take_bytes64(&mut r, "start payload")?;
        let start = match kind {
            0 => Start::Snapshot(payload.to_vec()),
            1 => Start::Boot(decode_boot(payload, version)?),
            k => return Err(malformed(format!("unknown start kind {k}"))),
        };
        let mut disks = Vec::new();
        if version >= 2 {
            let n = r.u32("disk count")?;
            if n > MAX_DISKS {
                return Err(FormatError::TooLarge {
                    what: "disk count",
                    size: n as u64,
                    limit: MAX_DISKS as u64,
                });
            }
            for _ in 0..n {
                disks.push(take_image(&mut r)?);
            }
        }
        let start_hash = r.array::<32>("start hash")?;
        let checkpoint_interval = r.u64("checkpoint interval")?;
        let count = r.u64("event count")?;
        // each event takes at least 13 bytes: refuse counts the input cannot hold
        if count > r.remaining() as u64 / 13 {
            return Err(FormatError::TooLarge {
                what: "event count",
                size: count,
                limit: r.remaining() as u64 / 13,
            });
        }
        let mut events = Vec::with_capacity(count as usize);
        let mut last = 0;
        for i in 0..count {
            let icount = r.u64("event instruction count")?;
            if icount < last {
                return Err(malformed(format!(
                    "event {i} at instruction {icount} comes after one at {last}"
                )));
            }
            last = icount;
            let kind = match r.take(1, "event kind")?[0] {
                1 => {
                    let n = r.u32("serial input length")?;
                    EventKind::Serial(r.take(n as u64, "serial input bytes")?.to_vec())
                }
                2 => EventKind::Checkpoint(r.array::<32>("checkpoint hash")?),
                3 => EventKind::End(r.array::<32>("end hash")?),
                4 => {
                    let n = r.u32("console input length")?;
                    EventKind::Console(r.take(n as u64, "console input bytes")?.to_vec())
                }
                5 => {
                    let n = r.u32("frame length")?;
                    EventKind::NetFrame(r.take(n as u64, "frame bytes")?.to_vec())
                }
                6 => EventKind::BalloonTarget(r.u32("balloon target")?),
                k => return Err(malformed(format!("event {i} has unknown kind {k}"))),
            };
            let is_end = matches!(kind, EventKind::End(_));
            if is_end != (i + 1 == count) {
                return Err(malformed(
                    "the end event must be the last one, and come exactly once".into(),
                ));
            }
            events.push(Event { icount, kind });
        }
        if events.is_empty() {
            return Err(malformed("no events (a log ends with an end event)".into()));
        }
        if r.remaining() != 0 {
            return Err(malformed(format!(
                "{} bytes after the last event",
                r.remaining()
            )));
        }
        Ok(Self {
            start,
            disks,
            start_hash,
            checkpoint_interval,
            events,
        })
    }

    /// The final event's instruction count and hash.
    pub fn end(&self) -> (u64, [u8; 32]) {
        match self.events.last() {
            Some(Event {
                icount,
                kind: EventKind::End(h),
            }) => (*icount, *h),
            _ => (0, [0; 32]),
        }
    }
}

fn malformed(detail: String) -> FormatError {
    FormatError::Malformed {
        what: "replay log",
        detail,
    }
}

fn put_bytes64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn take_bytes64<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<&'a [u8], FormatError> {
    let n = r.u64(what)?;
    r.take(n, what)
}

fn take_string(r: &mut Reader, what: &'static str) -> Result<String, FormatError> {
    let bytes = take_bytes64(r, what)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| malformed(format!("{what} is not UTF-8")))
}

fn put_image(out: &mut Vec<u8>, i: &ImageRef) {
    put_bytes64(out, i.path.as_bytes());
    out.extend_from_slice(&i.sha256);
}

fn take_image(r: &mut Reader) -> Result<ImageRef, FormatError> {
    Ok(ImageRef {
        path: take_string(r, "image path")?,
        sha256: r.array::<32>("image hash")?,
    })
}

/// Boot description: config (bytes), kernel ref, initrd flag + ref, cmdline, then (version 3)
/// the kernel entry (0 = the bzImage's decompressor, 1 = direct); strings and byte strings are
/// length-prefixed (8 bytes).
fn encode_boot(b: &Boot) -> Vec<u8> {
    let mut out = Vec::new();
    put_bytes64(&mut out, &b.config);
    put_image(&mut out, &b.kernel);
    match &b.initrd {
        Some(i) => {
            out.push(1);
            put_image(&mut out, i);
        }
        None => out.push(0),
    }
    put_bytes64(&mut out, b.cmdline.as_bytes());
    out.push(b.direct_kernel as u8);
    out
}

fn decode_boot(bytes: &[u8], version: u32) -> Result<Boot, FormatError> {
    let mut r = Reader::new(bytes);
    let config = take_bytes64(&mut r, "boot configuration")?.to_vec();
    let kernel = take_image(&mut r)?;
    let initrd = match r.take(1, "initrd flag")?[0] {
        0 => None,
        1 => Some(take_image(&mut r)?),
        f => return Err(malformed(format!("initrd flag {f}"))),
    };
    let cmdline = take_string(&mut r, "command line")?;
    let direct_kernel = match version {
        ..=2 => false,
        _ => match r.take(1, "kernel entry")?[0] {
            0 => false,
            1 => true,
            e => return Err(malformed(format!("kernel entry {e}"))),
        },
    };
    if r.remaining() != 0 {
        return Err(malformed("bytes after the boot description".into()));
    }
    Ok(Boot {
        config,
        kernel,
        initrd,
        cmdline,
        direct_kernel,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ReplayLog {
        ReplayLog {
            start: Start::Boot(Boot {
                config: vec![1, 2, 3],
                kernel: ImageRef {
                    path: "guests/out/bzImage".into(),
                    sha256: [5; 32],
                },
                initrd: Some(ImageRef {
                    path: "initrd".into(),
                    sha256: [6; 32],
                }),
                cmdline: "console=ttyS0".into(),
                direct_kernel: true,
            }),
            disks: vec![ImageRef {
                path: "disk.img".into(),
                sha256: [4; 32],
            }],
            start_hash: [9; 32],
            checkpoint_interval: 1000,
            events: vec![
                Event {
                    icount: 10,
                    kind: EventKind::Serial(b"ls\n".to_vec()),
                },
                Event {
                    icount: 20,
                    kind: EventKind::Console(b"uname\n".to_vec()),
                },
                Event {
                    icount: 30,
                    kind: EventKind::NetFrame(vec![0xFF; 60]),
                },
                Event {
                    icount: 40,
                    kind: EventKind::BalloonTarget(16384),
                },
                Event {
                    icount: 1000,
                    kind: EventKind::Checkpoint([1; 32]),
                },
                Event {
                    icount: 1500,
                    kind: EventKind::End([2; 32]),
                },
            ],
        }
    }

    #[test]
    fn round_trip() {
        let log = sample();
        let bytes = log.to_bytes();
        assert_eq!(ReplayLog::from_bytes(&bytes).unwrap(), log);
        assert_eq!(log.end(), (1500, [2; 32]));
        let snap = ReplayLog {
            start: Start::Snapshot(vec![7; 100]),
            ..sample()
        };
        assert_eq!(ReplayLog::from_bytes(&snap.to_bytes()).unwrap(), snap);
    }

    #[test]
    fn every_truncation_and_bit_flip_is_an_error() {
        let bytes = sample().to_bytes();
        for n in 0..bytes.len() {
            assert!(
                ReplayLog::from_bytes(&bytes[..n]).is_err(),
                "truncated to {n}"
            );
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 1 << (i % 8);
            assert!(ReplayLog::from_bytes(&b).is_err(), "bit flip at {i}");
        }
    }

    /// `log` (a boot start) as version 2 wrote it: without the boot description's last byte
    /// (the kernel entry), which version 3 added.
    fn as_version_2(log: &ReplayLog) -> Vec<u8> {
        let v3 = log.to_bytes();
        let payload_len = u64::from_le_bytes(v3[13..21].try_into().unwrap()) as usize;
        let entry_at = 21 + payload_len - 1;
        let mut v2 = [&v3[..entry_at], &v3[entry_at + 1..]].concat();
        v2[8..12].copy_from_slice(&2u32.to_le_bytes());
        v2[13..21].copy_from_slice(&(payload_len as u64 - 1).to_le_bytes());
        reseal(v2)
    }

    fn through_the_decompressor(log: ReplayLog) -> ReplayLog {
        let Start::Boot(b) = log.start else {
            unreachable!("a boot start")
        };
        ReplayLog {
            start: Start::Boot(Boot {
                direct_kernel: false,
                ..b
            }),
            ..log
        }
    }

    #[test]
    fn version_2_logs_without_the_kernel_entry_still_read() {
        let log = sample();
        let v2 = ReplayLog::from_bytes(&as_version_2(&log)).unwrap();
        assert_eq!(v2, through_the_decompressor(log));
    }

    #[test]
    fn version_1_logs_without_disks_still_read() {
        let log = ReplayLog {
            disks: Vec::new(),
            ..sample()
        };
        let v2 = as_version_2(&log);
        // version 1 is version 2 without the disk count (4 bytes after the start payload)
        let payload_len = u64::from_le_bytes(v2[13..21].try_into().unwrap()) as usize;
        let disks_at = 21 + payload_len;
        let mut v1 = [&v2[..disks_at], &v2[disks_at + 4..]].concat();
        v1[8..12].copy_from_slice(&1u32.to_le_bytes());
        let v1 = ReplayLog::from_bytes(&reseal(v1)).unwrap();
        assert_eq!(v1, through_the_decompressor(log));
    }

    /// Re-seals edited content with a valid checksum, to reach the checks behind it.
    fn reseal(mut content: Vec<u8>) -> Vec<u8> {
        content.truncate(content.len() - 32);
        let sum = crate::sha256(&content);
        content.extend_from_slice(&sum);
        content
    }

    #[test]
    fn structural_errors_behind_a_valid_checksum() {
        let mut log = sample();
        log.events.swap(0, 4);
        let e = ReplayLog::from_bytes(&log.to_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("comes after one at 1000"), "{e}");
        let mut log = sample();
        log.events.pop();
        let e = ReplayLog::from_bytes(&log.to_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("end event must be the last"), "{e}");
        // a huge event count in a small file
        let bytes = sample().to_bytes();
        let no_events = ReplayLog {
            events: Vec::new(),
            ..sample()
        };
        let events_len = bytes.len() - no_events.to_bytes().len();
        let count_at = bytes.len() - 32 - events_len - 8;
        let mut b = bytes.clone();
        b[count_at..count_at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        let e = ReplayLog::from_bytes(&reseal(b)).unwrap_err().to_string();
        assert!(e.contains("event count declares"), "{e}");
        let mut b = bytes;
        b[8] = 4;
        let e = ReplayLog::from_bytes(&b).unwrap_err().to_string();
        assert!(e.contains("version 4 is not supported"), "{e}");
    }
}
