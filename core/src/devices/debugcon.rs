//! Debug console on I/O port 0xE9 (the Bochs "port E9 hack", QEMU `-debugcon`): every byte
//! written is appended to an output buffer; reading the port returns 0xE9 so a guest can detect
//! it. There is no input side.

/// Port 0xE9 output sink.
#[derive(Debug, Clone, Default, bincode::Encode, bincode::Decode)]
pub struct DebugConsole {
    out: Vec<u8>,
}

impl DebugConsole {
    /// The conventional port.
    pub const PORT: u16 = 0xE9;

    /// Port read: the detection value 0xE9 in the low byte.
    pub fn io_read(&mut self, _offset: u16, _size: usize) -> u32 {
        0xE9
    }

    /// Port write: the low byte is output (wider writes output their low byte only, as the
    /// port is 8 bits wide).
    pub fn io_write(&mut self, _offset: u16, _size: usize, value: u32) {
        self.out.push(value as u8);
    }

    /// Bytes written so far, removed from the buffer.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Bytes written so far (left in the buffer).
    pub fn output(&self) -> &[u8] {
        &self.out
    }
}
