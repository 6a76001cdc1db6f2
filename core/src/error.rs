//! Host-side errors: things that went wrong for the emulator or its user, never guest faults
//! (those are [`crate::cpu::Exception`]s delivered to the guest).

use thiserror::Error;

/// An error of the emulator or of its input (bad image, bad configuration, unsupported feature).
/// Every variant carries a message a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VmError {
    /// The machine configuration cannot be built.
    #[error("invalid machine configuration: {0}")]
    Config(String),
    /// An image (kernel, flat binary, ROM) does not fit or is malformed.
    #[error("bad image: {0}")]
    Image(String),
    /// The guest executed a valid instruction that vx86 does not implement yet.
    /// The run stops cleanly at the instruction (EIP points at it).
    #[error(
        "unsupported instruction `{mnemonic}` at {cs:04x}:{eip:08x} (bytes {bytes}): {reason}"
    )]
    Unsupported {
        /// Code segment selector of the instruction.
        cs: u16,
        /// Offset of the instruction in CS.
        eip: u32,
        /// Instruction bytes, hex.
        bytes: String,
        /// Decoded mnemonic.
        mnemonic: String,
        /// Why it is not available.
        reason: &'static str,
    },
    /// A physical-memory access by the host (not the guest) was outside guest RAM.
    #[error(
        "physical address range {addr:#x}+{len:#x} is outside guest RAM ({ram_size:#x} bytes)"
    )]
    PhysRange {
        /// Start of the access.
        addr: u64,
        /// Length of the access.
        len: u64,
        /// Size of guest RAM.
        ram_size: u64,
    },
    /// Snapshot bytes that cannot be restored (corrupted, truncated, another format version,
    /// inconsistent state), or a snapshot operation that does not apply.
    #[error("bad snapshot: {0}")]
    Snapshot(String),
    /// A replay log that cannot be read or replayed, or a replay that diverged.
    #[error("replay: {0}")]
    Replay(String),
    /// A linear address the host asked to access is not mapped by the guest's page tables.
    #[error("linear address {0:#010x} is not mapped")]
    NotMapped(u32),
    /// A bus mapping overlaps an existing one.
    #[error("bus mapping {what} overlaps an existing mapping")]
    Overlap {
        /// Description of the rejected mapping.
        what: String,
    },
}
