//! Virtio devices over PCI (Virtual I/O Device (VIRTIO) Version 1.2): the modern PCI
//! transport (4.1) shared by every device, and the devices themselves in their own files
//! (console 5.3, block 5.2, network 5.1, entropy 5.4, memory balloon 5.5).
//!
//! Each device is one PCI function (vendor 0x1AF4, device 0x1040 + the virtio device id,
//! revision 1: modern only, no legacy interface) with one 32-bit memory BAR holding the
//! common configuration, the ISR status, the device configuration, the notification
//! registers, the MSI-X table and its pending-bit array (see [`layout`]). The PCI
//! configuration space, with the vendor capabilities that point into the BAR, the MSI-X
//! capability and the VIRTIO_PCI_CAP_PCI_CFG access window, is built by [`layout`] and
//! lives with the chipset's functions in [`crate::devices::pci::PciBus`]; the bus keeps this
//! state in step with it (`crate::bus::virtio`).
//!
//! Queues are processed synchronously: a driver's notification (a write to the notify
//! region) runs the device's work on that queue at once, within the instruction that wrote
//! it, so what the guest sees never depends on the host's timing. Interrupts go out as MSI-X
//! messages when the driver enabled MSI-X, else through the function's INTx line (INTA#,
//! level-triggered, asserted while the ISR status is non-zero).
//!
//! A malformed virtqueue puts the device into DEVICE_NEEDS_RESET (2.1.2) with a
//! configuration-change interrupt; it does nothing more until the driver resets it.
//!
//! Left out: the legacy and transitional interfaces, packed virtqueues, VIRTIO_F_RING_RESET,
//! notification data, shared memory regions, per-queue reset.

pub mod balloon;
pub mod blk;
pub mod console;
pub mod disk;
pub mod layout;
pub mod net;
pub mod queue;
pub mod rng;

use crate::memory::GuestMemory;
use disk::Disk;
use queue::{QueueError, SplitQueue, NO_VECTOR};

/// Feature bit: indirect descriptors (6.3).
pub const F_INDIRECT_DESC: u64 = 1 << 28;
/// Feature bit: used_event / avail_event notification suppression.
pub const F_EVENT_IDX: u64 = 1 << 29;
/// Feature bit: a virtio 1.x (non-legacy) device.
pub const F_VERSION_1: u64 = 1 << 32;
/// Features every device offers.
const TRANSPORT_FEATURES: u64 = F_INDIRECT_DESC | F_EVENT_IDX | F_VERSION_1;

/// Device status: the guest noticed the device.
pub const STATUS_ACKNOWLEDGE: u8 = 1;
/// Device status: the guest has a driver for it.
pub const STATUS_DRIVER: u8 = 2;
/// Device status: the driver is ready.
pub const STATUS_DRIVER_OK: u8 = 4;
/// Device status: feature negotiation is complete.
pub const STATUS_FEATURES_OK: u8 = 8;
/// Device status: the device hit an error and needs a reset.
pub const STATUS_NEEDS_RESET: u8 = 0x40;
/// Device status: the driver gave up on the device.
pub const STATUS_FAILED: u8 = 0x80;

/// ISR status bit: a used buffer notification.
const ISR_QUEUE: u8 = 1;
/// ISR status bit: a configuration change.
const ISR_CONFIG: u8 = 2;

/// The device behind a virtio function.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum VirtioKind {
    /// virtio-net.
    Net(net::Net),
    /// virtio-blk on disk `Bus::disks[disk]`.
    Blk(blk::Blk),
    /// virtio-console (a single port: the guest's `hvc0`).
    Console(console::Console),
    /// virtio-rng.
    Rng(rng::Rng),
    /// virtio-balloon.
    Balloon(balloon::Balloon),
}

impl VirtioKind {
    /// The virtio device id (5 "Device Types").
    pub fn device_id(&self) -> u16 {
        match self {
            Self::Net(_) => 1,
            Self::Blk(_) => 2,
            Self::Console(_) => 3,
            Self::Rng(_) => 4,
            Self::Balloon(_) => 5,
        }
    }

    /// The PCI class code (class << 16 | subclass << 8 | prog-if).
    pub fn class_code(&self) -> u32 {
        match self {
            Self::Net(_) => 0x02_00_00,
            Self::Blk(_) => 0x01_80_00,
            Self::Console(_) => 0x07_80_00,
            Self::Rng(_) | Self::Balloon(_) => 0x00_FF_00,
        }
    }

    fn features(&self) -> u64 {
        match self {
            Self::Net(d) => d.features(),
            Self::Blk(d) => d.features(),
            Self::Console(d) => d.features(),
            Self::Rng(_) => 0,
            Self::Balloon(_) => 0,
        }
    }

    fn queue_count(&self) -> usize {
        match self {
            Self::Rng(_) => 1,
            Self::Blk(_) => 1,
            Self::Net(_) | Self::Console(_) | Self::Balloon(_) => 2,
        }
    }

    /// The device configuration structure as bytes.
    fn config_bytes(&self) -> Vec<u8> {
        match self {
            Self::Net(d) => d.config_bytes(),
            Self::Blk(d) => d.config_bytes(),
            Self::Console(d) => d.config_bytes(),
            Self::Rng(_) => Vec::new(),
            Self::Balloon(d) => d.config_bytes(),
        }
    }

    fn config_write(&mut self, offset: u64, size: usize, value: u32) {
        match self {
            Self::Balloon(d) => d.config_write(offset, size, value),
            Self::Console(d) => d.config_write(offset, size, value),
            Self::Net(_) | Self::Blk(_) | Self::Rng(_) => {}
        }
    }

    fn reset(&mut self) {
        match self {
            Self::Net(d) => d.reset(),
            Self::Blk(_) | Self::Rng(_) => {}
            Self::Console(d) => d.reset(),
            Self::Balloon(d) => d.reset(),
        }
    }

    /// Runs the device's work on queue `q` (after a notification, or when input arrived).
    fn process(&mut self, q: usize, cx: &mut Cx) -> Result<(), QueueError> {
        match self {
            Self::Net(d) => d.process(q, cx),
            Self::Blk(d) => d.process(q, cx),
            Self::Console(d) => d.process(q, cx),
            Self::Rng(d) => d.process(q, cx),
            Self::Balloon(d) => d.process(q, cx),
        }
    }
}

/// What a device's queue work may touch: guest RAM, its queues, the disks, and a record of
/// which queues got used buffers.
pub struct Cx<'a> {
    /// Guest memory (DMA through [`queue::Dma`]).
    pub mem: &'a mut GuestMemory,
    /// The device's queues.
    pub queues: &'a mut [SplitQueue],
    /// The machine's disks (virtio-blk media).
    pub disks: &'a mut [Disk],
    /// Bit `q` set: queue `q` returned buffers (an interrupt may be due).
    pub used: u32,
}

impl Cx<'_> {
    /// Takes the next chain of queue `q`.
    pub fn pop(&mut self, q: usize) -> Result<Option<queue::Chain>, QueueError> {
        self.queues[q].pop(self.mem)
    }

    /// Returns chain `head` of queue `q` with `written` bytes written.
    pub fn push(&mut self, q: usize, head: u16, written: u32) -> Result<(), QueueError> {
        self.used |= 1 << q;
        self.queues[q].push_used(self.mem, head, written)
    }
}

/// One MSI-X table entry (PCI Local Bus 3.0, 6.8.2.6-9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, bincode::Encode, bincode::Decode)]
pub struct MsixEntry {
    /// Message address (low, high).
    pub addr: u64,
    /// Message data.
    pub data: u32,
    /// Vector control (bit 0: masked).
    pub control: u32,
}

/// A virtio PCI function: the transport state and the device behind it.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct VirtioPci {
    /// PCI bus/device/function.
    pub bdf: u16,
    /// The ISA interrupt line INTA# is wired to.
    pub irq: u8,
    /// device_feature_select.
    pub device_feature_select: u32,
    /// driver_feature_select.
    pub driver_feature_select: u32,
    /// The features the driver accepted.
    pub driver_features: u64,
    /// device_status.
    pub status: u8,
    /// config_generation.
    pub config_generation: u8,
    /// config_msix_vector.
    pub config_msix_vector: u16,
    /// queue_select.
    pub queue_select: u16,
    /// The queues.
    pub queues: Vec<SplitQueue>,
    /// Queues notified and not yet processed (bit per queue).
    pub notified: u32,
    /// Queues enabled and not yet checked against guest memory (bit per queue).
    pub unchecked: u32,
    /// ISR status.
    pub isr: u8,
    /// MSI-X table.
    pub msix: Vec<MsixEntry>,
    /// MSI-X pending bits (one per vector).
    pub msix_pending: u64,
    /// From the PCI configuration space (kept in step by the bus): MSI-X enable, function
    /// mask, INTx disable, bus mastering, memory decoding, BAR 0.
    pub msix_enabled: bool,
    /// MSI-X function mask.
    pub msix_masked: bool,
    /// PCI command bit 10.
    pub intx_disabled: bool,
    /// PCI command bit 2: without it the device cannot reach memory.
    pub bus_master: bool,
    /// The BAR's address while memory decoding is on.
    pub bar: Option<u32>,
    /// Why the device entered DEVICE_NEEDS_RESET, for the host (empty: it did not).
    pub error: String,
    /// MSI-X messages (address, data) waiting for the bus to deliver.
    pub outbox: Vec<(u64, u32)>,
    /// The device.
    pub kind: VirtioKind,
}

impl VirtioPci {
    /// A device at `bdf` whose INTA# drives ISA line `irq`.
    pub fn new(bdf: u16, irq: u8, kind: VirtioKind) -> Self {
        let queues = vec![SplitQueue::new(queue::MAX_QUEUE_SIZE); kind.queue_count()];
        let vectors = queues.len() + 1;
        Self {
            bdf,
            irq,
            device_feature_select: 0,
            driver_feature_select: 0,
            driver_features: 0,
            status: 0,
            config_generation: 0,
            config_msix_vector: NO_VECTOR,
            queue_select: 0,
            queues,
            notified: 0,
            unchecked: 0,
            isr: 0,
            msix: vec![
                MsixEntry {
                    control: 1,
                    ..MsixEntry::default()
                };
                vectors
            ],
            msix_pending: 0,
            msix_enabled: false,
            msix_masked: false,
            intx_disabled: false,
            bus_master: false,
            bar: None,
            error: String::new(),
            outbox: Vec::new(),
            kind,
        }
    }

    /// The features the device offers.
    pub fn device_features(&self) -> u64 {
        TRANSPORT_FEATURES | self.kind.features()
    }

    /// The level of INTA#: the ISR status is non-zero, MSI-X is off and INTx is not disabled.
    pub fn intx_level(&self) -> bool {
        self.isr != 0 && !self.msix_enabled && !self.intx_disabled
    }

    /// Whether the driver has set DRIVER_OK and the device is not in its error state.
    pub fn live(&self) -> bool {
        self.status & STATUS_DRIVER_OK != 0 && self.status & STATUS_NEEDS_RESET == 0
    }

    /// Checks state decoded from a snapshot.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.kind.queue_count();
        if self.queues.len() != n || self.msix.len() != n + 1 {
            return Err(format!(
                "virtio: {} queues and {} MSI-X vectors",
                self.queues.len(),
                self.msix.len()
            ));
        }
        for (i, q) in self.queues.iter().enumerate() {
            if q.max_size != queue::MAX_QUEUE_SIZE || q.size == 0 || q.size > q.max_size {
                return Err(format!(
                    "virtio queue {i}: size {} of {}",
                    q.size, q.max_size
                ));
            }
            if q.ready && !q.size.is_power_of_two() {
                return Err(format!("virtio queue {i}: enabled with size {}", q.size));
            }
        }
        if (self.notified | self.unchecked) >> n != 0 || self.msix_pending >> (n + 1) != 0 {
            return Err("virtio: notification or pending bits beyond the queues".into());
        }
        match &self.kind {
            VirtioKind::Net(d) => d.validate(),
            VirtioKind::Console(d) => d.validate(),
            _ => Ok(()),
        }
    }

    /// Resets the device (device_status written with 0, 4.1.4.3.1): everything but the
    /// PCI-level state (the MSI-X table, the BAR) returns to its initial value.
    fn reset(&mut self) {
        self.device_feature_select = 0;
        self.driver_feature_select = 0;
        self.driver_features = 0;
        self.status = 0;
        self.config_msix_vector = NO_VECTOR;
        self.queue_select = 0;
        for q in &mut self.queues {
            *q = SplitQueue::new(q.max_size);
        }
        self.notified = 0;
        self.unchecked = 0;
        self.isr = 0;
        self.error.clear();
        self.kind.reset();
    }

    /// Puts the device into DEVICE_NEEDS_RESET because of `e`, telling the driver through a
    /// configuration-change interrupt.
    fn fail(&mut self, e: QueueError) {
        if self.status & STATUS_NEEDS_RESET == 0 {
            self.status |= STATUS_NEEDS_RESET;
            self.error = e.0;
            self.config_changed();
        }
    }

    /// A configuration change (the device configuration, or the error state): bumps the
    /// generation and interrupts.
    pub fn config_changed(&mut self) {
        self.config_generation = self.config_generation.wrapping_add(1);
        if self.status & STATUS_DRIVER_OK != 0 {
            self.interrupt(self.config_msix_vector, ISR_CONFIG);
        }
    }

    /// Raises an interrupt: the MSI-X `vector` when MSI-X is on, else the ISR bit `isr_bit`.
    fn interrupt(&mut self, vector: u16, isr_bit: u8) {
        if self.msix_enabled {
            self.signal_vector(vector);
        } else {
            self.isr |= isr_bit;
        }
    }

    /// Sends MSI-X `vector`'s message, or sets its pending bit while it is masked.
    fn signal_vector(&mut self, vector: u16) {
        let Some(e) = self.msix.get(vector as usize).copied() else {
            return; // NO_VECTOR or out of range: no interrupt (4.1.4.3)
        };
        if self.msix_masked || e.control & 1 != 0 {
            self.msix_pending |= 1 << vector;
        } else if self.bus_master {
            self.outbox.push((e.addr, e.data));
        }
    }

    /// Delivers pending MSI-X messages whose vectors are no longer masked.
    pub fn msix_unmasked(&mut self) {
        if !self.msix_enabled || self.msix_masked {
            return;
        }
        for v in 0..self.msix.len() {
            if self.msix_pending & 1 << v != 0 && self.msix[v].control & 1 == 0 {
                self.msix_pending &= !(1 << v);
                if self.bus_master {
                    self.outbox.push((self.msix[v].addr, self.msix[v].data));
                }
            }
        }
    }

    /// Runs the work that notifications (or `input_for`) left for `queues` (bit per queue),
    /// then raises the interrupts the driver asked for.
    pub fn process(&mut self, mem: &mut GuestMemory, disks: &mut [Disk], queues: u32) {
        let todo = queues | std::mem::take(&mut self.notified);
        if todo == 0 || !self.live() || !self.bus_master {
            self.notified |= todo & self.queue_mask();
            return;
        }
        let mut cx = Cx {
            mem,
            queues: &mut self.queues,
            disks,
            used: 0,
        };
        let mut result = Ok(());
        for q in 0..cx.queues.len() {
            if todo & 1 << q != 0 && cx.queues[q].ready {
                result = self.kind.process(q, &mut cx);
                if result.is_err() {
                    break;
                }
            }
        }
        let used = cx.used;
        for q in 0..self.queues.len() {
            if used & 1 << q != 0 {
                match self.queues[q].should_interrupt(mem) {
                    Ok(true) => self.interrupt(self.queues[q].msix_vector, ISR_QUEUE),
                    Ok(false) => {}
                    Err(e) => result = Err(e),
                }
            }
        }
        if let Err(e) = result {
            self.fail(e);
        }
    }

    fn queue_mask(&self) -> u32 {
        (1u32 << self.queues.len()) - 1
    }

    /// A configuration-change request from the host (e.g. a new balloon target).
    pub fn host_config_changed(&mut self) {
        self.config_changed();
    }

    /// MMIO read at `offset` into the BAR.
    pub fn mmio_read(&mut self, offset: u64, size: usize) -> u32 {
        use layout::*;
        match offset {
            o if (COMMON..COMMON + COMMON_LEN).contains(&o) => self.common_read(o - COMMON, size),
            o if (ISR..ISR + ISR_LEN).contains(&o) => {
                // reading clears it (and with it INTA#)
                if o == ISR {
                    std::mem::take(&mut self.isr) as u32
                } else {
                    0
                }
            }
            o if (DEVICE..DEVICE + DEVICE_LEN).contains(&o) => {
                let bytes = self.kind.config_bytes();
                read_le(&bytes, (o - DEVICE) as usize, size)
            }
            o if (MSIX_TABLE..MSIX_TABLE + 16 * self.msix.len() as u64).contains(&o) => {
                let e = self.msix[((o - MSIX_TABLE) / 16) as usize];
                let words = [e.addr as u32, (e.addr >> 32) as u32, e.data, e.control];
                let w = words[((o - MSIX_TABLE) % 16 / 4) as usize];
                w >> (8 * (o & 3)) & mask(size)
            }
            o if (MSIX_PBA..MSIX_PBA + 8).contains(&o) => {
                (self.msix_pending >> (8 * (o - MSIX_PBA))) as u32 & mask(size)
            }
            _ => 0, // the notify region reads as zero; gaps too
        }
    }

    /// MMIO write at `offset` into the BAR.
    pub fn mmio_write(&mut self, offset: u64, size: usize, value: u32) {
        use layout::*;
        match offset {
            o if (COMMON..COMMON + COMMON_LEN).contains(&o) => {
                self.common_write(o - COMMON, size, value)
            }
            o if (DEVICE..DEVICE + DEVICE_LEN).contains(&o) => {
                self.kind.config_write(o - DEVICE, size, value)
            }
            o if (NOTIFY..NOTIFY + NOTIFY_MULTIPLIER as u64 * self.queues.len() as u64)
                .contains(&o) =>
            {
                // the notification's value is the queue index (no NOTIFICATION_DATA)
                let q = value as usize & 0xFFFF;
                if q < self.queues.len() {
                    self.notified |= 1 << q;
                }
            }
            o if (MSIX_TABLE..MSIX_TABLE + 16 * self.msix.len() as u64).contains(&o)
                && size == 4 =>
            {
                let e = &mut self.msix[((o - MSIX_TABLE) / 16) as usize];
                match (o - MSIX_TABLE) % 16 {
                    0 => e.addr = (e.addr & !0xFFFF_FFFF) | (value & !3) as u64,
                    4 => e.addr = (e.addr & 0xFFFF_FFFF) | (value as u64) << 32,
                    8 => e.data = value,
                    _ => {
                        e.control = value & 1;
                        self.msix_unmasked();
                    }
                }
            }
            _ => {}
        }
    }

    fn common_read(&self, o: u64, size: usize) -> u32 {
        let q = self.queues.get(self.queue_select as usize);
        let v: u64 = match o & !1 {
            0x00 | 0x02 => self.device_feature_select as u64,
            0x04 | 0x06 => match self.device_feature_select {
                0 => self.device_features() & 0xFFFF_FFFF,
                1 => self.device_features() >> 32,
                _ => 0,
            },
            0x08 | 0x0A => self.driver_feature_select as u64,
            0x0C | 0x0E => match self.driver_feature_select {
                0 => self.driver_features & 0xFFFF_FFFF,
                1 => self.driver_features >> 32,
                _ => 0,
            },
            0x10 => self.config_msix_vector as u64,
            0x12 => self.queues.len() as u64,
            0x14 => self.status as u64 | (self.config_generation as u64) << 8,
            0x16 => self.queue_select as u64,
            0x18 => q.map_or(0, |q| q.size as u64),
            0x1A => q.map_or(NO_VECTOR as u64, |q| q.msix_vector as u64),
            0x1C => q.map_or(0, |q| q.ready as u64),
            0x1E => q.map_or(0, |_| self.queue_select as u64), // queue_notify_off
            0x20..=0x26 => q.map_or(0, |q| q.desc),
            0x28..=0x2E => q.map_or(0, |q| q.avail),
            0x30..=0x36 => q.map_or(0, |q| q.used),
            _ => 0,
        };
        // the registers are naturally aligned: shift to the byte asked for
        let base = match o & !1 {
            0x00..=0x0F => o & !3,
            0x20..=0x37 => o & !7,
            _ => o & !1,
        };
        ((v >> (8 * (o - base))) as u32) & mask(size)
    }

    fn common_write(&mut self, o: u64, size: usize, value: u32) {
        let v = value & mask(size);
        let sel = self.queue_select as usize;
        let can_configure = self.status & STATUS_DRIVER_OK == 0;
        match (o, size) {
            (0x00, 4) => self.device_feature_select = v,
            (0x08, 4) => self.driver_feature_select = v,
            (0x0C, 4) if self.status & STATUS_FEATURES_OK == 0 => {
                match self.driver_feature_select {
                    0 => self.driver_features = (self.driver_features & !0xFFFF_FFFF) | v as u64,
                    1 => {
                        self.driver_features =
                            (self.driver_features & 0xFFFF_FFFF) | (v as u64) << 32
                    }
                    _ => {}
                }
            }
            (0x10, 2) => self.config_msix_vector = self.checked_vector(v),
            (0x14, 1) => self.write_status(v as u8),
            (0x16, 2) => self.queue_select = v as u16,
            (0x18, 2) if sel < self.queues.len() && !self.queues[sel].ready => {
                self.queues[sel].size = v as u16
            }
            (0x1A, 2) if sel < self.queues.len() => {
                self.queues[sel].msix_vector = self.checked_vector(v)
            }
            (0x1C, 2) if sel < self.queues.len() && v == 1 && can_configure => {
                self.enable_queue(sel)
            }
            (0x20..=0x37, 4) if sel < self.queues.len() && !self.queues[sel].ready => {
                let q = &mut self.queues[sel];
                let field = match o {
                    0x20..=0x27 => &mut q.desc,
                    0x28..=0x2F => &mut q.avail,
                    _ => &mut q.used,
                };
                if o % 8 == 0 {
                    *field = (*field & !0xFFFF_FFFF) | v as u64;
                } else {
                    *field = (*field & 0xFFFF_FFFF) | (v as u64) << 32;
                }
            }
            _ => {} // read-only registers, wrong widths: ignored
        }
    }

    /// An MSI-X vector number as written by the driver: NO_VECTOR when there is no such
    /// vector (the driver reads it back to see the mapping failed, 4.1.5.1.2).
    fn checked_vector(&self, v: u32) -> u16 {
        if (v as usize) < self.msix.len() {
            v as u16
        } else {
            NO_VECTOR
        }
    }

    fn write_status(&mut self, v: u8) {
        if v == 0 {
            self.reset();
            return;
        }
        let mut v = v | (self.status & STATUS_NEEDS_RESET);
        if v & STATUS_FEATURES_OK != 0 && self.status & STATUS_FEATURES_OK == 0 {
            // 3.1.1: the device accepts only a subset of what it offered, with VERSION_1
            let ok = self.driver_features & !self.device_features() == 0
                && self.driver_features & F_VERSION_1 != 0;
            if !ok {
                v &= !STATUS_FEATURES_OK;
            }
        }
        let going_live = v & STATUS_DRIVER_OK != 0 && self.status & STATUS_DRIVER_OK == 0;
        self.status = v;
        if going_live {
            // buffers added before DRIVER_OK (receive queues) and input already waiting
            self.notified |= self.queue_mask();
        }
    }

    fn enable_queue(&mut self, sel: usize) {
        let event_idx = self.driver_features & F_EVENT_IDX != 0;
        let q = &mut self.queues[sel];
        q.event_idx = event_idx;
        q.ready = true;
        self.unchecked |= 1 << sel;
    }

    /// After an access: checks queues the driver just enabled against guest memory (a bad
    /// one is an error), then runs the work notifications left.
    pub fn after_access(&mut self, mem: &mut GuestMemory, disks: &mut [Disk]) {
        let unchecked = std::mem::take(&mut self.unchecked);
        for (i, q) in self.queues.iter().enumerate() {
            if unchecked & 1 << i != 0 && q.ready {
                if let Err(e) = q.validate(mem) {
                    self.fail(QueueError(format!("queue {i}: {e}")));
                    return;
                }
            }
        }
        if self.notified != 0 {
            self.process(mem, disks, 0);
        }
    }
}

/// All ones in the low `size` bytes.
fn mask(size: usize) -> u32 {
    (u64::MAX >> (64 - 8 * size)) as u32
}

/// `size` bytes of `bytes` at `at`, little-endian (zero beyond the end).
pub(crate) fn read_le(bytes: &[u8], at: usize, size: usize) -> u32 {
    (0..size).fold(0u32, |v, i| {
        v | (bytes.get(at + i).copied().unwrap_or(0) as u32) << (8 * i)
    })
}

/// Writes `size` bytes of `value` into `bytes` at `at`, within bounds.
pub(crate) fn write_le(bytes: &mut [u8], at: usize, size: usize, value: u32) {
    for i in 0..size {
        if let Some(b) = bytes.get_mut(at + i) {
            *b = (value >> (8 * i)) as u8;
        }
    }
}

#[cfg(test)]
#[path = "transport_tests.rs"]
mod tests;
