//! The virtio device options of `vx86 run` / `resume` / `replay`:
//!
//! - `--disk FILE[,cow][,ro]` (repeatable; the guest's vda, vdb, ...): a raw image on
//!   virtio-blk. Without `,cow` the guest's writes go to FILE (written back after every run
//!   slice and at exit); with `,cow` they stay in memory (and in snapshots) and FILE is never
//!   modified. `,ro` makes the disk read-only for the guest.
//! - `--net[=MAC]`: virtio-net (default MAC 52:54:00:12:34:56); the guest's frames go to
//!   `--net-pcap FILE` if given (a pcap capture), else nowhere.
//! - `--virtio-console`: virtio-console (the guest's hvc0); its output is printed with the
//!   serial console's, and `--console-input-file FILE` types FILE into it once its driver runs.
//! - `--rng`: virtio-rng (seeded, deterministic). `--balloon`: virtio-balloon.

use std::io::Write;

use vx86_core::{DiskConfig, DiskImage, Machine, VirtioConfig, DEFAULT_MAC};

use crate::option_str;

/// A disk given on the command line.
pub struct DiskArg {
    /// The image file.
    pub path: String,
    /// Writes stay in memory.
    pub cow: bool,
    /// The guest may not write.
    pub read_only: bool,
}

/// Every `--disk` argument, in order.
pub fn disk_args(args: &[String]) -> Result<Vec<DiskArg>, String> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if a != "--disk" {
            continue;
        }
        let v = args.get(i + 1).ok_or("--disk needs FILE[,cow][,ro]")?;
        let mut parts = v.split(',');
        let path = parts.next().unwrap_or_default().to_string();
        let (mut cow, mut read_only) = (false, false);
        for p in parts {
            match p {
                "cow" => cow = true,
                "ro" => read_only = true,
                other => return Err(format!("--disk {v}: unknown option {other} (cow, ro)")),
            }
        }
        if path.is_empty() {
            return Err("--disk needs a FILE".into());
        }
        out.push(DiskArg {
            path,
            cow,
            read_only,
        });
    }
    Ok(out)
}

/// Reads a disk image file.
pub fn read_image(path: &str) -> Result<DiskImage, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    DiskImage::new(bytes)
        .map(|i| i.with_name(path))
        .map_err(|e| format!("{path}: {e}"))
}

fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.split(':').collect();
    let mut mac = [0u8; 6];
    if parts.len() != 6 {
        return Err(format!(
            "--net={s}: a MAC address is six hex bytes like 52:54:00:12:34:56"
        ));
    }
    for (b, p) in mac.iter_mut().zip(parts) {
        *b = u8::from_str_radix(p, 16).map_err(|_| format!("--net={s}: {p} is not a hex byte"))?;
    }
    Ok(mac)
}

/// The virtio configuration and disk images the options ask for.
pub fn from_args(args: &[String]) -> Result<(VirtioConfig, Vec<DiskImage>), String> {
    let mut v = VirtioConfig::default();
    let mut images = Vec::new();
    for d in disk_args(args)? {
        let img = read_image(&d.path)?;
        v.disks.push(DiskConfig::for_image(&img, d.read_only));
        images.push(img);
    }
    for a in args {
        if a == "--net" {
            v.net = Some(DEFAULT_MAC);
        } else if let Some(mac) = a.strip_prefix("--net=") {
            v.net = Some(parse_mac(mac)?);
        }
    }
    v.console = args.iter().any(|a| a == "--virtio-console");
    v.rng = args.iter().any(|a| a == "--rng");
    v.balloon = args.iter().any(|a| a == "--balloon");
    if option_str(args, "--net-pcap")?.is_some() && v.net.is_none() {
        return Err("--net-pcap needs --net".into());
    }
    if option_str(args, "--console-input-file")?.is_some() && !v.console {
        return Err("--console-input-file needs --virtio-console".into());
    }
    Ok((v, images))
}

/// The images for a machine restored from a snapshot or a log: the `--disk` files in order.
pub fn images_from_args(args: &[String]) -> Result<Vec<DiskImage>, String> {
    disk_args(args)?
        .iter()
        .map(|d| read_image(&d.path))
        .collect()
}

/// The host ends of the devices during a session: write-through disks, the pcap file, the
/// console input file.
#[derive(Default)]
pub struct DeviceHost {
    /// Disk index → file that receives the guest's writes.
    write_through: Vec<(usize, String)>,
    pcap: Option<std::fs::File>,
    console_input: Option<Vec<u8>>,
}

impl DeviceHost {
    /// From the options.
    pub fn from_args(args: &[String]) -> Result<Self, String> {
        let write_through = disk_args(args)?
            .into_iter()
            .enumerate()
            .filter(|(_, d)| !d.cow && !d.read_only)
            .map(|(i, d)| (i, d.path))
            .collect();
        let net = args.iter().any(|a| a == "--net" || a.starts_with("--net="));
        let pcap = match option_str(args, "--net-pcap")? {
            Some(_) if !net => return Err("--net-pcap needs --net".into()),
            Some(p) => {
                let mut f = std::fs::File::create(p).map_err(|e| format!("{p}: {e}"))?;
                // pcap global header: magic, v2.4, UTC, accuracy, snaplen, LINKTYPE_ETHERNET
                let mut h = Vec::new();
                h.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
                h.extend_from_slice(&2u16.to_le_bytes());
                h.extend_from_slice(&4u16.to_le_bytes());
                h.extend_from_slice(&[0; 8]);
                h.extend_from_slice(&65535u32.to_le_bytes());
                h.extend_from_slice(&1u32.to_le_bytes());
                f.write_all(&h).map_err(|e| format!("{p}: {e}"))?;
                Some(f)
            }
            None => None,
        };
        let console_input = match option_str(args, "--console-input-file")? {
            Some(p) => Some(std::fs::read(p).map_err(|e| format!("{p}: {e}"))?),
            None => None,
        };
        Ok(Self {
            write_through,
            pcap,
            console_input,
        })
    }

    /// After a run slice: disk writes to their files, frames to the capture (stamped with
    /// the guest's virtual time), console input once the guest's driver is up.
    pub fn service(&mut self, m: &mut Machine) -> Result<(), String> {
        for (i, path) in &self.write_through {
            let writes = m.take_disk_writes(*i);
            if writes.is_empty() {
                continue;
            }
            use std::os::unix::fs::FileExt;
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| format!("{path}: {e}"))?;
            for (offset, bytes) in writes {
                f.write_all_at(&bytes, offset)
                    .map_err(|e| format!("{path}: {e}"))?;
            }
            f.sync_data().map_err(|e| format!("{path}: {e}"))?;
        }
        let frames = m.take_net_frames();
        if let Some(f) = &mut self.pcap {
            let ns = m.virtual_time_ns();
            for frame in frames {
                let mut rec = Vec::with_capacity(16 + frame.len());
                rec.extend_from_slice(&((ns / 1_000_000_000) as u32).to_le_bytes());
                rec.extend_from_slice(&((ns / 1000 % 1_000_000) as u32).to_le_bytes());
                rec.extend_from_slice(&(frame.len() as u32).to_le_bytes());
                rec.extend_from_slice(&(frame.len() as u32).to_le_bytes());
                rec.extend_from_slice(&frame);
                f.write_all(&rec).map_err(|e| format!("--net-pcap: {e}"))?;
            }
        }
        if let Some(data) = &self.console_input {
            if m.virtio_console_ready() {
                m.send_console(data).map_err(|e| e.to_string())?;
                self.console_input = None;
            }
        }
        Ok(())
    }
}
