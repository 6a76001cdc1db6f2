//! The machine's virtio devices from the host's side: which ones a [`MachineConfig`]
//! attaches ([`VirtioConfig`]), building them, and the host ends of their data paths
//! (console bytes, network frames, the balloon target, disk contents). Every input goes
//! through the replay log like serial input does.

use super::{Machine, MachineConfig};
use crate::devices::virtio::disk::{Disk, DiskImage};
use crate::devices::virtio::{balloon, blk, console, net, rng, VirtioKind};
use crate::VmError;
use vx86_snapshots::replay_log::EventKind;

/// The virtio devices of a machine (each one PCI function, in this order: disks, network,
/// console, entropy, balloon).
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct VirtioConfig {
    /// virtio-blk disks, in order (the guest's vda, vdb, ...).
    pub disks: Vec<DiskConfig>,
    /// virtio-net with this MAC address.
    pub net: Option<[u8; 6]>,
    /// virtio-console (the guest's hvc0).
    pub console: bool,
    /// virtio-rng (seeded from [`MachineConfig::seed`]).
    pub rng: bool,
    /// virtio-balloon.
    pub balloon: bool,
}

/// A disk: which image (by size and content hash) and whether the guest may write.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct DiskConfig {
    /// Image size in bytes.
    pub size: u64,
    /// SHA-256 of the image the machine starts from.
    pub sha256: [u8; 32],
    /// Refuse writes (VIRTIO_BLK_F_RO).
    pub read_only: bool,
}

impl DiskConfig {
    /// The configuration of a disk on `image`.
    pub fn for_image(image: &DiskImage, read_only: bool) -> Self {
        Self {
            size: image.len(),
            sha256: image.sha256(),
            read_only,
        }
    }
}

/// The default MAC address of virtio-net (a locally administered address).
pub const DEFAULT_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// The virtio device ids (for [`crate::bus::Bus::virtio_device`]).
mod id {
    pub const NET: u16 = 1;
    pub const CONSOLE: u16 = 3;
    pub const BALLOON: u16 = 5;
}

/// Checks `images` against the configured disks: same count, sizes and hashes.
pub(super) fn check_disk_images(
    config: &MachineConfig,
    images: &[DiskImage],
) -> Result<(), VmError> {
    let want = &config.virtio.disks;
    if images.len() != want.len() {
        return Err(VmError::Image(format!(
            "the configuration has {} disks, {} images were given",
            want.len(),
            images.len()
        )));
    }
    for (i, (img, d)) in images.iter().zip(want).enumerate() {
        if img.len() != d.size || img.sha256() != d.sha256 {
            return Err(VmError::Image(format!(
                "disk {i}: the image has {} bytes and SHA-256 {}, the machine needs {} bytes \
                 with SHA-256 {} (the image as it was attached)",
                img.len(),
                vx86_snapshots::hex(&img.sha256()),
                d.size,
                vx86_snapshots::hex(&d.sha256)
            )));
        }
    }
    Ok(())
}

impl Machine {
    /// Attaches the configured virtio devices (after the chipset) with `images` as the disks.
    pub(super) fn attach_virtio(&mut self, images: Vec<DiskImage>) -> Result<(), VmError> {
        check_disk_images(&self.config, &images)?;
        let v = self.config.virtio.clone();
        let bus = &mut self.bus;
        for (i, (img, d)) in images.into_iter().zip(&v.disks).enumerate() {
            bus.disks.push(Disk::new(img));
            bus.attach_virtio(VirtioKind::Blk(blk::Blk {
                disk: i as u32,
                sectors: d.size / crate::devices::virtio::disk::SECTOR,
                read_only: d.read_only,
            }))?;
        }
        if let Some(mac) = v.net {
            bus.attach_virtio(VirtioKind::Net(net::Net::new(mac)))?;
        }
        if v.console {
            bus.attach_virtio(VirtioKind::Console(console::Console::default()))?;
        }
        if v.rng {
            bus.attach_virtio(VirtioKind::Rng(rng::Rng::new(self.config.seed)))?;
        }
        if v.balloon {
            let pages = bus.mem.pages();
            bus.attach_virtio(VirtioKind::Balloon(balloon::Balloon::new(pages)))?;
        }
        Ok(())
    }

    /// Sends bytes to the guest's virtio console (hvc0). Errors: no virtio console, or more
    /// than 1 MiB would be waiting for the guest.
    pub fn send_console(&mut self, data: &[u8]) -> Result<(), VmError> {
        let Some((dev, v)) = self.bus.virtio_device(id::CONSOLE, 0) else {
            return Err(VmError::Config("the machine has no virtio console".into()));
        };
        let VirtioKind::Console(c) = &mut v.kind else {
            unreachable!("device id 3")
        };
        if !c.send(data) {
            return Err(VmError::Config(format!(
                "the guest has not read the virtio console's input ({} bytes wait)",
                c.input.len()
            )));
        }
        self.record_if_recording(EventKind::Console(data.to_vec()));
        self.bus.virtio_input(dev, 1);
        Ok(())
    }

    /// Whether the guest's virtio-console driver is running with its receive queue set up
    /// (input sent now reaches it as soon as it posts buffers).
    pub fn virtio_console_ready(&self) -> bool {
        match self.bus.virtio_device_ref(id::CONSOLE, 0) {
            Some(v) => v.live() && v.queues[0].ready,
            None => false,
        }
    }

    /// Takes what the guest wrote to its virtio console.
    pub fn take_console_output(&mut self) -> Vec<u8> {
        match self.bus.virtio_device(id::CONSOLE, 0) {
            Some((_, v)) => match &mut v.kind {
                VirtioKind::Console(c) => std::mem::take(&mut c.output),
                _ => Vec::new(),
            },
            None => Vec::new(),
        }
    }

    /// Delivers an Ethernet frame (without FCS, 14-1518 bytes) to the guest's virtio-net.
    /// Errors: no virtio-net, a bad frame size, or 256 frames already waiting.
    pub fn send_net_frame(&mut self, frame: &[u8]) -> Result<(), VmError> {
        let Some((dev, v)) = self.bus.virtio_device(id::NET, 0) else {
            return Err(VmError::Config("the machine has no virtio-net".into()));
        };
        let VirtioKind::Net(n) = &mut v.kind else {
            unreachable!("device id 1")
        };
        n.send(frame).map_err(VmError::Config)?;
        self.record_if_recording(EventKind::NetFrame(frame.to_vec()));
        self.bus.virtio_input(dev, 1);
        Ok(())
    }

    /// Takes the frames the guest transmitted, oldest first.
    pub fn take_net_frames(&mut self) -> Vec<Vec<u8>> {
        match self.bus.virtio_device(id::NET, 0) {
            Some((_, v)) => match &mut v.kind {
                VirtioKind::Net(n) => n.output.drain(..).collect(),
                _ => Vec::new(),
            },
            None => Vec::new(),
        }
    }

    /// Asks the guest (through virtio-balloon) to hand back memory until `pages` 4 KiB
    /// pages are in the balloon (0 gives everything back).
    pub fn set_balloon_target(&mut self, pages: u32) -> Result<(), VmError> {
        let Some((dev, v)) = self.bus.virtio_device(id::BALLOON, 0) else {
            return Err(VmError::Config("the machine has no virtio balloon".into()));
        };
        let VirtioKind::Balloon(b) = &mut v.kind else {
            unreachable!("device id 5")
        };
        b.target = pages;
        v.host_config_changed();
        self.record_if_recording(EventKind::BalloonTarget(pages));
        self.bus.virtio_input(dev, 0);
        Ok(())
    }

    /// The balloon: (target pages, pages the driver reports, pages given back and zeroed);
    /// `None` without a balloon.
    pub fn balloon_status(&self) -> Option<(u32, u32, u64)> {
        match &self.bus.virtio_device_ref(id::BALLOON, 0)?.kind {
            VirtioKind::Balloon(b) => Some((b.target, b.actual, b.pages())),
            _ => None,
        }
    }

    /// The machine's disks (base images and what the guest wrote).
    pub fn disks(&self) -> &[Disk] {
        &self.bus.disks
    }

    /// The chunks of disk `i` written since the last call, as (byte offset, bytes): what a
    /// host that keeps the image in a file writes back. Host bookkeeping only: taking them
    /// changes nothing the guest sees.
    pub fn take_disk_writes(&mut self, i: usize) -> Vec<(u64, Vec<u8>)> {
        self.bus
            .disks
            .get_mut(i)
            .map(Disk::take_unsynced)
            .unwrap_or_default()
    }

    /// Why each virtio device that entered DEVICE_NEEDS_RESET did so: (PCI slot, message).
    pub fn virtio_errors(&self) -> Vec<(u16, String)> {
        self.bus
            .virtio
            .iter()
            .filter_map(|id| match &self.bus.devices[id.0 as usize] {
                crate::devices::Device::Virtio(v) if !v.error.is_empty() => {
                    Some((v.bdf >> 3, v.error.clone()))
                }
                _ => None,
            })
            .collect()
    }

    fn record_if_recording(&mut self, kind: EventKind) {
        if self.recorder.is_some() {
            self.record_input(kind);
        }
    }
}
