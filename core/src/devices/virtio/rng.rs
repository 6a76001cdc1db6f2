//! virtio-rng, the entropy device (Virtio 1.2, 5.4): one request queue whose device-writable
//! buffers the device fills with random bytes. The bytes come from a generator seeded from
//! the machine's seed (DESIGN.md: no host randomness), so a guest reading `/dev/hwrng` gets
//! the same bytes in every run with the same seed.

use super::queue::QueueError;
use super::Cx;
use crate::bus::Entropy;

/// Most bytes returned for one request (the driver asks for small amounts; a bound keeps a
/// huge buffer from costing much).
const MAX_REQUEST: usize = 64 << 10;

/// The device: its own generator.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Rng {
    /// The generator (seeded from the machine's seed, apart from RDRAND's).
    pub entropy: Entropy,
}

impl Rng {
    /// A device whose generator starts from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            entropy: Entropy::new(seed ^ 0x7669_7274_696F_726E), // "virtiorn": another stream
        }
    }

    /// Fills every available buffer of the request queue.
    pub fn process(&mut self, q: usize, cx: &mut Cx) -> Result<(), QueueError> {
        while let Some(chain) = cx.pop(q)? {
            let n = (chain.writable_len() as usize).min(MAX_REQUEST);
            let mut bytes = Vec::with_capacity(n + 8);
            while bytes.len() < n {
                bytes.extend_from_slice(&self.entropy.next_u64().to_le_bytes());
            }
            bytes.truncate(n);
            let written = chain.write_at(cx.mem, 0, &bytes);
            cx.push(q, chain.head, written as u32)?;
        }
        Ok(())
    }
}
