//! virtio-net (Virtio 1.2, 5.1) with one queue pair: receiveq1 (0) and transmitq1 (1).
//! Frames are whole Ethernet frames without the FCS; each buffer starts with the 12-byte
//! `virtio_net_hdr` (VERSION_1 layout, `num_buffers` always present). No offloads are
//! offered, so the guest sends complete frames with checksums, and received frames need no
//! header information beyond `num_buffers = 1`.
//!
//! Received frames come from the host ([`Net::send`], recorded like every input) and wait in
//! `input` until the guest posts receive buffers; transmitted frames wait in `output` until
//! the host takes them (`Machine::take_net_frames`). A frame that does not fit the receive
//! buffer it is given is dropped (counted in `rx_dropped`).
//!
//! Left out: VIRTIO_NET_F_MRG_RXBUF, checksum and segmentation offloads, the control queue,
//! multiqueue, VIRTIO_NET_F_MTU.

use super::queue::QueueError;
use super::Cx;
use std::collections::VecDeque;

/// VIRTIO_NET_F_MAC.
const F_MAC: u64 = 1 << 5;
/// VIRTIO_NET_F_STATUS.
const F_STATUS: u64 = 1 << 16;
/// Bytes of `struct virtio_net_hdr` (with `num_buffers`).
pub const HEADER: usize = 12;
/// Shortest frame: an Ethernet header.
pub const MIN_FRAME: usize = 14;
/// Longest frame: 1500 bytes of payload, the header and a VLAN tag.
pub const MAX_FRAME: usize = 1518;
/// Most frames held for the guest; more are refused by [`Net::send`].
pub const MAX_INPUT_FRAMES: usize = 256;
const RECEIVEQ: usize = 0;
const TRANSMITQ: usize = 1;

/// The device.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Net {
    /// The MAC address in the configuration space.
    pub mac: [u8; 6],
    /// Frames from the host the guest has not received yet.
    pub input: VecDeque<Vec<u8>>,
    /// Frames the guest sent that the host has not taken (not guest-visible state).
    pub output: VecDeque<Vec<u8>>,
    /// Received frames dropped because the guest's buffer was too small.
    pub rx_dropped: u64,
    /// Transmitted buffers that held no complete frame.
    pub tx_errors: u64,
}

impl Net {
    /// A device with address `mac`.
    pub fn new(mac: [u8; 6]) -> Self {
        Self {
            mac,
            input: VecDeque::new(),
            output: VecDeque::new(),
            rx_dropped: 0,
            tx_errors: 0,
        }
    }

    /// Features offered.
    pub fn features(&self) -> u64 {
        F_MAC | F_STATUS
    }

    /// struct virtio_net_config: mac, status (link up), max_virtqueue_pairs.
    pub fn config_bytes(&self) -> Vec<u8> {
        let mut c = vec![0u8; 10];
        c[..6].copy_from_slice(&self.mac);
        c[6..8].copy_from_slice(&1u16.to_le_bytes()); // VIRTIO_NET_S_LINK_UP
        c[8..10].copy_from_slice(&1u16.to_le_bytes());
        c
    }

    /// Device reset: frames in flight stay with the host side.
    pub fn reset(&mut self) {}

    /// Checks restored state.
    pub fn validate(&self) -> Result<(), String> {
        if self.input.len() > MAX_INPUT_FRAMES
            || self
                .input
                .iter()
                .any(|f| !(MIN_FRAME..=MAX_FRAME).contains(&f.len()))
        {
            return Err("virtio-net: input frames out of bounds".into());
        }
        Ok(())
    }

    /// Queues a frame for the guest. Errors: the frame's size is outside
    /// [`MIN_FRAME`]..=[`MAX_FRAME`], or [`MAX_INPUT_FRAMES`] are already waiting.
    pub fn send(&mut self, frame: &[u8]) -> Result<(), String> {
        if !(MIN_FRAME..=MAX_FRAME).contains(&frame.len()) {
            return Err(format!(
                "a frame of {} bytes (Ethernet frames without FCS are {MIN_FRAME}..={MAX_FRAME})",
                frame.len()
            ));
        }
        if self.input.len() >= MAX_INPUT_FRAMES {
            return Err(format!(
                "{MAX_INPUT_FRAMES} frames already wait for the guest"
            ));
        }
        self.input.push_back(frame.to_vec());
        Ok(())
    }

    /// Transmits what the guest queued, or receives waiting frames into posted buffers.
    pub fn process(&mut self, q: usize, cx: &mut Cx) -> Result<(), QueueError> {
        match q {
            TRANSMITQ => {
                while let Some(chain) = cx.pop(q)? {
                    let bytes = chain.read_all(cx.mem);
                    if bytes.len() >= HEADER + MIN_FRAME {
                        self.output.push_back(bytes[HEADER..].to_vec());
                    } else {
                        self.tx_errors += 1;
                    }
                    cx.push(q, chain.head, 0)?;
                }
            }
            RECEIVEQ => {
                while let Some(frame) = self.input.front() {
                    let Some(chain) = cx.pop(q)? else { break };
                    let mut buf = vec![0u8; HEADER + frame.len()];
                    buf[10..12].copy_from_slice(&1u16.to_le_bytes()); // num_buffers
                    buf[HEADER..].copy_from_slice(frame);
                    self.input.pop_front();
                    if chain.writable_len() < buf.len() as u64 {
                        // too small for this frame: the buffer goes back empty
                        self.rx_dropped += 1;
                        cx.push(q, chain.head, 0)?;
                        continue;
                    }
                    let written = chain.write_at(cx.mem, 0, &buf);
                    cx.push(q, chain.head, written as u32)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
