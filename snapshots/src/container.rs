//! The snapshot file (format version 2; version 1 held machines without virtio devices and is
//! no longer read). All integers little-endian.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `VX86SNAP` |
//! | 8 | 4 | format version (2) |
//! | 12 | 4 | flags: bit 0 body LZ4-compressed (block format), bit 1 incremental; others 0 |
//! | 16 | 32 | SHA-256 of the machine configuration's canonical encoding |
//! | 48 | 32 | incremental: the id of the base snapshot; full: zeros |
//! | 80 | 8 | stored body length |
//! | 88 | 8 | body length after decompression (equal to the stored length when uncompressed) |
//! | 96 | n | body: sections, each a 4-byte tag, an 8-byte length and the bytes |
//! | 96+n | 32 | SHA-256 of everything before it: the checksum, and the snapshot's **id** |
//!
//! The writer is canonical: the same header and sections give the same bytes (LZ4 compression
//! is deterministic for a given input). The reader checks, before allocating anything, that the
//! declared sizes are consistent with the input and within the caller's limit, and that a
//! compressed body's declared size is reachable from its stored size (LZ4 expands at most
//! 255×); then it checks the checksum, then the section framing (no duplicate tags, nothing
//! left over).

use crate::{check_trailer, FormatError, Reader};
use std::borrow::Cow;
use std::ops::Range;

/// The first eight bytes of every snapshot.
pub const MAGIC: [u8; 8] = *b"VX86SNAP";
/// The container format version this crate writes and reads.
pub const VERSION: u32 = 2;

const FLAG_COMPRESSED: u32 = 1 << 0;
const FLAG_INCREMENTAL: u32 = 1 << 1;
const HEADER_LEN: usize = 96;
/// LZ4's worst-case expansion of a block when decompressing (a run of 255-length codes).
const LZ4_MAX_RATIO: u64 = 255;

/// A section's four-character tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SectionTag(pub [u8; 4]);

impl std::fmt::Display for SectionTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

/// Full or incremental.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    /// The whole state.
    Full,
    /// The whole state except RAM, and only the RAM pages changed since the snapshot whose id
    /// is `base`.
    Incremental {
        /// The id (trailer) of the snapshot this one applies to.
        base: [u8; 32],
    },
}

/// What the header says besides the sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Full or incremental.
    pub kind: SnapshotKind,
    /// SHA-256 of the machine configuration (computed by the machine).
    pub config_hash: [u8; 32],
    /// Whether the body is LZ4-compressed.
    pub compressed: bool,
}

/// A read snapshot: header, id and sections.
#[derive(Debug, Clone)]
pub struct Container<'a> {
    /// The header.
    pub header: Header,
    /// The snapshot's id: its SHA-256 trailer.
    pub id: [u8; 32],
    body: Cow<'a, [u8]>,
    sections: Vec<(SectionTag, Range<usize>)>,
}

impl Container<'_> {
    /// The tags of the sections, in file order.
    pub fn tags(&self) -> Vec<SectionTag> {
        self.sections.iter().map(|s| s.0).collect()
    }

    /// The bytes of section `tag`.
    pub fn section(&self, tag: SectionTag) -> Result<&[u8], FormatError> {
        self.sections
            .iter()
            .find(|s| s.0 == tag)
            .map(|s| &self.body[s.1.clone()])
            .ok_or_else(|| FormatError::Malformed {
                what: "snapshot",
                detail: format!("section {tag} is missing"),
            })
    }

    /// Checks that the sections are exactly `expected`, in that order.
    pub fn expect_sections(&self, expected: &[SectionTag]) -> Result<(), FormatError> {
        let found = self.tags();
        if found != expected {
            let list = |t: &[SectionTag]| t.iter().map(|t| t.to_string()).collect::<Vec<_>>();
            return Err(FormatError::Malformed {
                what: "snapshot",
                detail: format!("sections {:?}, expected {:?}", list(&found), list(expected)),
            });
        }
        Ok(())
    }
}

/// Writes a snapshot with `header` and `sections` (in the given order).
pub fn write(header: &Header, sections: &[(SectionTag, &[u8])]) -> Vec<u8> {
    let raw_len: usize = sections.iter().map(|s| 12 + s.1.len()).sum();
    let mut body = Vec::with_capacity(raw_len);
    for (tag, bytes) in sections {
        body.extend_from_slice(&tag.0);
        body.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        body.extend_from_slice(bytes);
    }
    let stored = if header.compressed {
        crate::lz4::compress(&body)
    } else {
        body
    };
    let mut flags = 0;
    if header.compressed {
        flags |= FLAG_COMPRESSED;
    }
    let base = match header.kind {
        SnapshotKind::Full => [0; 32],
        SnapshotKind::Incremental { base } => {
            flags |= FLAG_INCREMENTAL;
            base
        }
    };
    let mut out = Vec::with_capacity(HEADER_LEN + stored.len() + 32);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&header.config_hash);
    out.extend_from_slice(&base);
    out.extend_from_slice(&(stored.len() as u64).to_le_bytes());
    out.extend_from_slice(&(raw_len as u64).to_le_bytes());
    out.extend_from_slice(&stored);
    let id = crate::sha256(&out);
    out.extend_from_slice(&id);
    out
}

/// Reads the header fields only (no checksum check): for tools that describe a file.
pub fn read_header(bytes: &[u8]) -> Result<Header, FormatError> {
    Ok(parse_header(&mut Reader::new(bytes))?.0)
}

/// Parses the fixed header; returns it with the stored and raw body lengths.
fn parse_header(r: &mut Reader) -> Result<(Header, u64, u64), FormatError> {
    let magic = r.take(8, "magic").map_err(|_| FormatError::BadMagic {
        expected: "vx86 snapshot",
        found: r
            .take(r.remaining() as u64, "magic")
            .unwrap_or(&[])
            .to_vec(),
    })?;
    if magic != MAGIC {
        return Err(FormatError::BadMagic {
            expected: "vx86 snapshot",
            found: magic.to_vec(),
        });
    }
    let version = r.u32("format version")?;
    if version != VERSION {
        return Err(FormatError::UnsupportedVersion {
            what: "snapshot",
            found: version,
            supported: VERSION,
        });
    }
    let flags = r.u32("flags")?;
    if flags & !(FLAG_COMPRESSED | FLAG_INCREMENTAL) != 0 {
        return Err(FormatError::Malformed {
            what: "snapshot header",
            detail: format!("unknown flag bits {flags:#x}"),
        });
    }
    let config_hash = r.array::<32>("config hash")?;
    let base = r.array::<32>("base id")?;
    let kind = if flags & FLAG_INCREMENTAL != 0 {
        SnapshotKind::Incremental { base }
    } else if base != [0; 32] {
        return Err(FormatError::Malformed {
            what: "snapshot header",
            detail: "a full snapshot with a base id".into(),
        });
    } else {
        SnapshotKind::Full
    };
    let stored = r.u64("body length")?;
    let raw = r.u64("decompressed body length")?;
    let header = Header {
        kind,
        config_hash,
        compressed: flags & FLAG_COMPRESSED != 0,
    };
    Ok((header, stored, raw))
}

/// Reads and checks a snapshot. `max_body` bounds the decompressed body (RAM pages included),
/// so a small file cannot make the reader allocate without limit.
pub fn read(bytes: &[u8], max_body: u64) -> Result<Container<'_>, FormatError> {
    let mut r = Reader::new(bytes);
    let (header, stored, raw) = parse_header(&mut r)?;
    let present = r.remaining() as u64;
    if stored.checked_add(32) != Some(present) {
        return Err(FormatError::Truncated {
            what: "snapshot body and checksum",
            needed: stored.saturating_add(32),
            offset: HEADER_LEN as u64,
            available: present,
        });
    }
    if raw > max_body {
        return Err(FormatError::TooLarge {
            what: "snapshot body",
            size: raw,
            limit: max_body,
        });
    }
    let reachable = if header.compressed {
        stored.saturating_mul(LZ4_MAX_RATIO)
    } else {
        stored
    };
    if raw > reachable || (!header.compressed && raw != stored) {
        return Err(FormatError::Malformed {
            what: "snapshot header",
            detail: format!("body of {stored} stored bytes cannot hold {raw} bytes"),
        });
    }
    let (_, id) = check_trailer(bytes, "snapshot")?;
    let stored_body = &bytes[HEADER_LEN..HEADER_LEN + stored as usize];
    let body: Cow<[u8]> = if header.compressed {
        let mut out = vec![0; raw as usize];
        match lz4_flex::block::decompress_into(stored_body, &mut out) {
            Ok(n) if n as u64 == raw => Cow::Owned(out),
            Ok(n) => {
                return Err(FormatError::Malformed {
                    what: "snapshot body",
                    detail: format!("decompresses to {n} bytes, the header says {raw}"),
                })
            }
            Err(e) => {
                return Err(FormatError::Malformed {
                    what: "snapshot body",
                    detail: format!("LZ4: {e}"),
                })
            }
        }
    } else {
        Cow::Borrowed(stored_body)
    };
    let sections = frame_sections(&body)?;
    Ok(Container {
        header,
        id,
        body,
        sections,
    })
}

/// Splits a body into sections, refusing duplicates and trailing bytes.
fn frame_sections(body: &[u8]) -> Result<Vec<(SectionTag, Range<usize>)>, FormatError> {
    let mut r = Reader::new(body);
    let mut sections: Vec<(SectionTag, Range<usize>)> = Vec::new();
    while r.remaining() > 0 {
        let tag = SectionTag(r.array::<4>("section tag")?);
        let len = r.u64("section length")?;
        let start = r.offset();
        r.take(len, "section bytes")?;
        if sections.iter().any(|s| s.0 == tag) {
            return Err(FormatError::Malformed {
                what: "snapshot",
                detail: format!("section {tag} appears twice"),
            });
        }
        sections.push((tag, start..r.offset()));
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: SectionTag = SectionTag(*b"AAAA");
    const B: SectionTag = SectionTag(*b"BBBB");

    fn sample(compressed: bool) -> Vec<u8> {
        let header = Header {
            kind: SnapshotKind::Full,
            config_hash: [7; 32],
            compressed,
        };
        write(&header, &[(A, b"hello"), (B, &[0u8; 5000])])
    }

    #[test]
    fn round_trip_both_ways_and_canonical() {
        for compressed in [false, true] {
            let bytes = sample(compressed);
            assert_eq!(bytes, sample(compressed), "same input, same bytes");
            let c = read(&bytes, 1 << 20).unwrap();
            assert_eq!(c.header.config_hash, [7; 32]);
            assert_eq!(c.header.compressed, compressed);
            assert_eq!(c.section(A).unwrap(), b"hello");
            assert_eq!(c.section(B).unwrap().len(), 5000);
            c.expect_sections(&[A, B]).unwrap();
            assert!(c.expect_sections(&[B, A]).is_err());
            assert_eq!(&c.id[..], &bytes[bytes.len() - 32..]);
        }
        assert!(sample(true).len() < sample(false).len() / 10);
    }

    #[test]
    fn every_truncation_and_every_bit_flip_is_an_error() {
        for compressed in [false, true] {
            let bytes = sample(compressed);
            for n in 0..bytes.len() {
                assert!(read(&bytes[..n], 1 << 20).is_err(), "truncated to {n}");
            }
            for i in 0..bytes.len() {
                let mut b = bytes.clone();
                b[i] ^= 1 << (i % 8);
                assert!(read(&b, 1 << 20).is_err(), "bit flip at {i}");
            }
        }
    }

    #[test]
    fn header_errors_say_what_is_wrong() {
        let mut b = sample(false);
        b[8] = 9; // version 9
        let e = read(&b, 1 << 20).unwrap_err().to_string();
        assert!(e.contains("version 9 is not supported"), "{e}");
        let e = read(b"not a snapshot at all", 1 << 20)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a vx86 snapshot"), "{e}");
        // a huge declared body is refused before allocation, checksum or not
        let mut b = sample(true);
        b[88..96].copy_from_slice(&(1u64 << 40).to_le_bytes());
        let e = read(&b, 1 << 30).unwrap_err().to_string();
        assert!(e.contains("more than the limit"), "{e}");
        // a declared size the stored bytes cannot decompress to
        let mut b = sample(true);
        b[88..96].copy_from_slice(&(1u64 << 29).to_le_bytes());
        let e = read(&b, 1 << 30).unwrap_err().to_string();
        assert!(e.contains("cannot hold"), "{e}");
    }

    /// Builds a file with a valid checksum around an arbitrary body (to test the framing).
    fn with_body(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&[0; 64]);
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend_from_slice(body);
        let id = crate::sha256(&out);
        out.extend_from_slice(&id);
        out
    }

    #[test]
    fn section_framing_is_checked_behind_a_valid_checksum() {
        let mut body = Vec::new();
        for _ in 0..2 {
            body.extend_from_slice(b"AAAA");
            body.extend_from_slice(&1u64.to_le_bytes());
            body.push(0);
        }
        let e = read(&with_body(&body), 1 << 20).unwrap_err().to_string();
        assert!(e.contains("appears twice"), "{e}");
        let mut body = b"AAAA".to_vec();
        body.extend_from_slice(&u64::MAX.to_le_bytes());
        let e = read(&with_body(&body), 1 << 20).unwrap_err().to_string();
        assert!(e.contains("truncated: section bytes"), "{e}");
        let e = read(&with_body(b"AA"), 1 << 20).unwrap_err().to_string();
        assert!(e.contains("truncated: section tag"), "{e}");
    }
}
