//! A block of plain read/write registers, little-endian, with no side effects: the minimal
//! device for testing the buses (like QEMU's `pc-testdev` memory region). Accesses outside the
//! block read as all ones and are ignored when written.

/// `len` bytes of registers.
#[derive(Debug, Clone, bincode::Encode, bincode::Decode)]
pub struct ScratchRegisters {
    bytes: Vec<u8>,
}

impl ScratchRegisters {
    /// A zeroed block of `len` bytes.
    pub fn new(len: usize) -> Self {
        Self {
            bytes: vec![0; len],
        }
    }

    /// Reads `size` bytes at `offset`.
    pub fn read(&self, offset: u64, size: usize) -> u32 {
        let mut v = 0u32;
        for i in 0..size {
            let b = self.bytes.get(offset as usize + i).copied().unwrap_or(0xff);
            v |= (b as u32) << (8 * i);
        }
        v
    }

    /// Writes `size` bytes at `offset`.
    pub fn write(&mut self, offset: u64, size: usize, value: u32) {
        for i in 0..size {
            if let Some(b) = self.bytes.get_mut(offset as usize + i) {
                *b = (value >> (8 * i)) as u8;
            }
        }
    }
}
