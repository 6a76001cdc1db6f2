//! virtio-console (Virtio 1.2, 5.3) with a single port, which Linux makes `hvc0`: receiveq
//! (0) carries host input to the guest, transmitq (1) the guest's output to the host. With
//! VIRTIO_CONSOLE_F_EMERG_WRITE the driver may also write single bytes to `emerg_wr` in the
//! configuration space (early output).
//!
//! Host input waits in `input` (part of the machine state, like the UART's) until the guest
//! has posted receive buffers; output accumulates in `output` until the host takes it.
//!
//! Left out: VIRTIO_CONSOLE_F_MULTIPORT (and the control queues), VIRTIO_CONSOLE_F_SIZE.

use super::queue::QueueError;
use super::Cx;
use std::collections::VecDeque;

/// VIRTIO_CONSOLE_F_EMERG_WRITE.
const F_EMERG_WRITE: u64 = 1 << 2;
const RECEIVEQ: usize = 0;
const TRANSMITQ: usize = 1;
/// Most host input bytes held for the guest; more is refused by [`Console::send`].
pub const MAX_INPUT: usize = 1 << 20;

/// The device.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Console {
    /// Host input the guest has not received yet.
    pub input: VecDeque<u8>,
    /// Guest output the host has not taken yet (not guest-visible state).
    pub output: Vec<u8>,
}

impl Console {
    /// Features offered.
    pub fn features(&self) -> u64 {
        F_EMERG_WRITE
    }

    /// struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr.
    pub fn config_bytes(&self) -> Vec<u8> {
        let mut c = vec![0u8; 12];
        c[0..2].copy_from_slice(&80u16.to_le_bytes());
        c[2..4].copy_from_slice(&25u16.to_le_bytes());
        c[4..8].copy_from_slice(&1u32.to_le_bytes());
        c
    }

    /// A write to `emerg_wr` (offset 8) outputs its byte.
    pub fn config_write(&mut self, offset: u64, _size: usize, value: u32) {
        if offset == 8 {
            self.output.push(value as u8);
        }
    }

    /// Device reset: the queues go; input and output stay with the host side.
    pub fn reset(&mut self) {}

    /// Checks restored state.
    pub fn validate(&self) -> Result<(), String> {
        if self.input.len() > MAX_INPUT {
            return Err(format!("virtio-console: {} input bytes", self.input.len()));
        }
        Ok(())
    }

    /// Queues host input; false (nothing queued) if it would exceed [`MAX_INPUT`].
    pub fn send(&mut self, data: &[u8]) -> bool {
        if self.input.len() + data.len() > MAX_INPUT {
            return false;
        }
        self.input.extend(data);
        true
    }

    /// Moves output to the host, or input into posted receive buffers.
    pub fn process(&mut self, q: usize, cx: &mut Cx) -> Result<(), QueueError> {
        match q {
            TRANSMITQ => {
                while let Some(chain) = cx.pop(q)? {
                    self.output.extend(chain.read_all(cx.mem));
                    cx.push(q, chain.head, 0)?;
                }
            }
            RECEIVEQ => {
                while !self.input.is_empty() {
                    let Some(chain) = cx.pop(q)? else { break };
                    let n = (chain.writable_len() as usize).min(self.input.len());
                    let bytes: Vec<u8> = self.input.iter().take(n).copied().collect();
                    let written = chain.write_at(cx.mem, 0, &bytes);
                    self.input.drain(..written);
                    cx.push(q, chain.head, written as u32)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
