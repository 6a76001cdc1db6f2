//! `vx86-snapshots`: the byte formats of vx86's determinism features, independent of what a
//! machine contains.
//!
//! - [`container`]: the snapshot file: magic, format version, machine-config hash, optional
//!   base (incremental snapshots), sections, optional LZ4 compression, SHA-256 trailer.
//! - [`lz4`]: LZ4 block compression with the same output on every host.
//! - [`pages`]: RAM as a list of non-zero (or, in an incremental snapshot, dirtied) 4 KiB pages.
//! - [`replay_log`]: the record/replay log: machine inputs stamped with instruction counts and
//!   periodic `(instruction count, state hash)` checkpoints.
//!
//! Every reader treats its input as untrusted: sizes are checked against what is present and
//! against limits before anything is allocated, and every malformation is an error with a
//! message, never a panic. Device semantics live in `vx86-core`; it encodes its state into
//! sections with bincode and validates it when it decodes.

pub mod container;
pub mod lz4;
pub mod pages;
pub mod replay_log;

pub use container::{Container, Header, SectionTag, SnapshotKind};

/// Why a snapshot or replay log could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The input ends before a field it declares.
    #[error("truncated: {what} needs {needed} bytes at offset {offset}, {available} available")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Bytes the field needs.
        needed: u64,
        /// Where it starts.
        offset: u64,
        /// Bytes left in the input.
        available: u64,
    },
    /// The file does not start with the expected magic bytes.
    #[error("not a {expected}: the file starts with {found:02x?}")]
    BadMagic {
        /// The kind of file expected.
        expected: &'static str,
        /// The first bytes found.
        found: Vec<u8>,
    },
    /// A format version this build does not read.
    #[error(
        "{what} format version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedVersion {
        /// The kind of file.
        what: &'static str,
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The trailer checksum does not match the content: the file is corrupted.
    #[error("checksum mismatch: the {what} is corrupted (stored {stored}, computed {computed})")]
    Checksum {
        /// The kind of file.
        what: &'static str,
        /// The checksum stored in the file (hex).
        stored: String,
        /// The checksum of the content (hex).
        computed: String,
    },
    /// A declared size exceeds what this reader accepts.
    #[error("{what} declares {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The field.
        what: &'static str,
        /// The declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Anything else that is not well formed.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// The part that is malformed.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A bounds-checked little-endian reader over untrusted bytes.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// The next `n` bytes, or a `Truncated` error naming `what`.
    pub(crate) fn take(&mut self, n: u64, what: &'static str) -> Result<&'a [u8], FormatError> {
        if n > self.remaining() as u64 {
            return Err(FormatError::Truncated {
                what,
                needed: n,
                offset: self.pos as u64,
                available: self.remaining() as u64,
            });
        }
        let s = &self.bytes[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], FormatError> {
        let s = self.take(N as u64, what)?;
        let mut a = [0; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, FormatError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
}

/// SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// Splits `bytes` into content and its 32-byte SHA-256 trailer and checks the trailer.
pub(crate) fn check_trailer<'a>(
    bytes: &'a [u8],
    what: &'static str,
) -> Result<(&'a [u8], [u8; 32]), FormatError> {
    if bytes.len() < 32 {
        return Err(FormatError::Truncated {
            what: "checksum trailer",
            needed: 32,
            offset: 0,
            available: bytes.len() as u64,
        });
    }
    let (content, trailer) = bytes.split_at(bytes.len() - 32);
    let computed = sha256(content);
    if computed != trailer {
        return Err(FormatError::Checksum {
            what,
            stored: hex(trailer),
            computed: hex(&computed),
        });
    }
    Ok((content, computed))
}
