//! The virtio devices from Python: `vx86.Disk` (a disk image and how it is attached), the
//! `Machine` constructor's `disks`/`net`/... arguments, writing a disk's changes back to its
//! file (`Disk(path, write_through=True)`), and the `Machine` methods' bodies for the
//! devices' host ends (console, network frames, balloon, disk contents), which `machine.rs`
//! forwards to. Every device is in `vx86-core` (`Machine::send_console`, ...); this file
//! converts arguments and does the host's file I/O.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use vx86_core::devices::virtio::disk::CHUNK;
use vx86_core::{DiskConfig, DiskImage, VirtioConfig, DEFAULT_MAC};

use crate::args;
use crate::errors;
use crate::machine::Inner;

/// The disks written back to files: (disk index, path).
pub(crate) type WriteThrough = Vec<(usize, String)>;

/// A disk image for a machine's virtio-blk (the guest's vda, vdb, ... in order).
///
/// `image`: a path (the file is read once, now) or bytes; a whole, non-empty number of
/// 512-byte sectors. `read_only`: the guest may not write. `write_through` (paths only): the
/// guest's writes are written back to the file after every `run`, `step`, `wait_*` and
/// `restore`; otherwise they stay in the machine (and its snapshots) and the file is never
/// modified. The machine always starts from the bytes read now: a snapshot or replay log
/// names the image by size and SHA-256, so a file written through no longer matches it.
#[pyclass(frozen, module = "vx86")]
pub struct Disk {
    pub(crate) image: DiskImage,
    path: Option<String>,
    read_only: bool,
    write_through: bool,
}

impl Disk {
    /// A `Disk` argument: a `Disk`, a path or bytes (read-write, kept in memory).
    pub(crate) fn from_arg(obj: &Bound<'_, PyAny>) -> PyResult<Disk> {
        if let Ok(d) = obj.cast::<Disk>() {
            let d = d.get();
            return Ok(Disk {
                image: d.image.clone(),
                path: d.path.clone(),
                read_only: d.read_only,
                write_through: d.write_through,
            });
        }
        Disk::build(obj, false, false)
    }

    fn build(obj: &Bound<'_, PyAny>, read_only: bool, write_through: bool) -> PyResult<Disk> {
        let py = obj.py();
        let (bytes, path) = args::image_of(obj, "disk")?;
        if write_through && path.is_none() {
            return Err(errors::config(
                py,
                "write_through needs a disk given as a file path",
            ));
        }
        if write_through && read_only {
            return Err(errors::config(
                py,
                "a read-only disk is never written: write_through does not apply",
            ));
        }
        let image = DiskImage::new(bytes).map_err(|e| match &path {
            Some(p) => errors::error(py, "ImageError", format!("disk {p}: {e}")),
            None => errors::vm(py, e),
        })?;
        let image = match &path {
            Some(p) => image.with_name(p.clone()),
            None => image,
        };
        Ok(Disk {
            image,
            path,
            read_only,
            write_through,
        })
    }

    /// The `Disk` describing disk `i` of a machine.
    pub(crate) fn of_machine(g: &Inner, i: usize) -> Disk {
        let base = g.m.disks()[i].base().clone();
        let name = base.name().to_string();
        Disk {
            image: base,
            path: (!name.is_empty()).then_some(name),
            read_only: g.m.config().virtio.disks[i].read_only,
            write_through: g.write_through.iter().any(|(j, _)| *j == i),
        }
    }
}

#[pymethods]
impl Disk {
    /// A disk on `image` (a path or bytes); see the class docstring. A malformed image
    /// raises ImageError.
    #[new]
    #[pyo3(signature = (image, read_only = false, write_through = false))]
    fn new(image: &Bound<'_, PyAny>, read_only: bool, write_through: bool) -> PyResult<Self> {
        Disk::build(image, read_only, write_through)
    }

    /// The file the image was read from (None for bytes).
    #[getter]
    fn path(&self) -> Option<String> {
        self.path.clone()
    }

    /// Size in bytes.
    #[getter]
    fn size(&self) -> u64 {
        self.image.len()
    }

    /// SHA-256 (hex) of the image: what snapshots and replay logs name it by.
    #[getter]
    fn sha256(&self) -> String {
        vx86_core::vx86_snapshots::hex(&self.image.sha256())
    }

    /// Whether the guest may not write.
    #[getter]
    fn read_only(&self) -> bool {
        self.read_only
    }

    /// Whether the guest's writes go back to the file.
    #[getter]
    fn write_through(&self) -> bool {
        self.write_through
    }

    /// The image's bytes (as attached: without what a guest wrote since).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.image.bytes())
    }

    fn __len__(&self) -> usize {
        self.image.len() as usize
    }

    fn __repr__(&self) -> String {
        let what = match &self.path {
            Some(p) => format!("{p:?}"),
            None => "<bytes>".into(),
        };
        let mut flags = String::new();
        if self.read_only {
            flags.push_str(" read_only");
        }
        if self.write_through {
            flags.push_str(" write_through");
        }
        format!("<vx86.Disk {what} {} bytes{flags}>", self.image.len())
    }
}

/// A list of disks (`Disk`s, paths or bytes); None is no disks.
pub(crate) fn disks_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<Disk>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(Vec::new());
    };
    let py = obj.py();
    if obj.is_instance_of::<PyString>()
        || obj.cast::<PyBytes>().is_ok()
        || obj.cast::<Disk>().is_ok()
    {
        return Err(errors::config(
            py,
            "disks is a list (of paths, bytes or vx86.Disk)",
        ));
    }
    let iter = obj
        .try_iter()
        .map_err(|_| errors::config(py, "disks is a list (of paths, bytes or vx86.Disk)"))?;
    iter.map(|d| Disk::from_arg(&d?)).collect()
}

/// The `net` argument: None/False (no virtio-net), True (the default MAC), a MAC address
/// string "52:54:00:12:34:56" or 6 bytes.
fn mac_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<[u8; 6]>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let py = obj.py();
    if let Ok(b) = obj.extract::<bool>() {
        return Ok(b.then_some(DEFAULT_MAC));
    }
    let bad = |what: &str| {
        errors::config(
            py,
            format!("net={what}: True, or a MAC address like \"52:54:00:12:34:56\" (or 6 bytes)"),
        )
    };
    if let Ok(text) = obj.extract::<String>() {
        let parts: Vec<&str> = text.split(':').collect();
        let mut mac = [0u8; 6];
        if parts.len() != 6 {
            return Err(bad(&format!("{text:?}")));
        }
        for (b, p) in mac.iter_mut().zip(parts) {
            *b = u8::from_str_radix(p, 16)
                .ok()
                .filter(|_| (1..=2).contains(&p.len()))
                .ok_or_else(|| bad(&format!("{text:?}")))?;
        }
        return Ok(Some(mac));
    }
    let bytes = args::bytes_of(obj).map_err(|_| bad("?"))?;
    <[u8; 6]>::try_from(bytes.as_slice())
        .map(Some)
        .map_err(|_| bad(&format!("<{} bytes>", bytes.len())))
}

/// The virtio configuration, the disk images and which disks are written through (index,
/// path) from the constructor's arguments.
pub(crate) fn config_of(
    disks: Option<&Bound<'_, PyAny>>,
    net: Option<&Bound<'_, PyAny>>,
    console: bool,
    rng: bool,
    balloon: bool,
) -> PyResult<(VirtioConfig, Vec<DiskImage>, WriteThrough)> {
    let disks = disks_arg(disks)?;
    let mut v = VirtioConfig {
        net: mac_arg(net)?,
        console,
        rng,
        balloon,
        ..VirtioConfig::default()
    };
    let mut through = Vec::new();
    let mut images = Vec::new();
    for (i, d) in disks.into_iter().enumerate() {
        v.disks.push(DiskConfig::for_image(&d.image, d.read_only));
        if let (true, Some(p)) = (d.write_through, d.path) {
            through.push((i, p));
        }
        images.push(d.image);
    }
    Ok((v, images, through))
}

/// The images and write-through files for a machine restored from a snapshot (the disks'
/// `read_only` comes from the snapshot).
pub(crate) fn images_of(
    disks: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Vec<DiskImage>, WriteThrough)> {
    let mut through = Vec::new();
    let mut images = Vec::new();
    for (i, d) in disks_arg(disks)?.into_iter().enumerate() {
        if let (true, Some(p)) = (d.write_through, d.path) {
            through.push((i, p));
        }
        images.push(d.image);
    }
    Ok((images, through))
}

/// The base images of a machine's disks (to rebuild it from a snapshot).
pub(crate) fn machine_images(m: &vx86_core::Machine) -> Vec<DiskImage> {
    m.disks().iter().map(|d| d.base().clone()).collect()
}

fn write_at(path: &str, chunks: &[(u64, Vec<u8>)]) -> Result<(), String> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| format!("disk {path}: {e}"))?;
    for (offset, bytes) in chunks {
        f.write_all_at(bytes, *offset)
            .map_err(|e| format!("disk {path}: {e}"))?;
    }
    f.sync_data().map_err(|e| format!("disk {path}: {e}"))
}

/// Writes what the guest wrote to the write-through disks back to their files.
pub(crate) fn write_back(py: Python<'_>, g: &mut Inner) -> PyResult<()> {
    for i in 0..g.write_through.len() {
        let (disk, path) = g.write_through[i].clone();
        let chunks = g.m.take_disk_writes(disk);
        if !chunks.is_empty() {
            write_at(&path, &chunks).map_err(|e| errors::error(py, "ImageError", e))?;
        }
    }
    Ok(())
}

/// Before a machine is replaced by one restored from a snapshot: the chunks the old one
/// wrote to each write-through disk (after the switch they must get the new content, which
/// the new machine does not know it has to write).
pub(crate) fn written_chunks(g: &Inner) -> Vec<(usize, Vec<u64>)> {
    (g.write_through.iter())
        .map(|(i, _)| (*i, g.m.disks()[*i].overlay().map(|(c, _)| c).collect()))
        .collect()
}

/// After the switch: rewrites `chunks` of the write-through disks from the new machine's
/// content, then the usual write-back.
pub(crate) fn rewrite_chunks(
    py: Python<'_>,
    g: &mut Inner,
    chunks: Vec<(usize, Vec<u64>)>,
) -> PyResult<()> {
    for (i, indices) in chunks {
        let Some(path) = g
            .write_through
            .iter()
            .find(|(j, _)| *j == i)
            .map(|x| x.1.clone())
        else {
            continue;
        };
        let Some(d) = g.m.disks().get(i) else {
            continue;
        };
        let out: Vec<(u64, Vec<u8>)> = (indices.into_iter())
            .map(|c| {
                let offset = c * CHUNK as u64;
                let mut buf = vec![0; (d.len() - offset).min(CHUNK as u64) as usize];
                d.read(offset, &mut buf);
                (offset, buf)
            })
            .collect();
        write_at(&path, &out).map_err(|e| errors::error(py, "ImageError", e))?;
    }
    write_back(py, g)
}

/// Disk `i` of the machine, or ConfigError.
pub(crate) fn check_disk(py: Python<'_>, g: &Inner, i: usize) -> PyResult<()> {
    let n = g.m.disks().len();
    if i >= n {
        return Err(errors::config(
            py,
            format!("no disk {i} (the machine has {n})"),
        ));
    }
    Ok(())
}

/// `Machine.take_disk_writes(i)`.
pub(crate) fn take_disk_writes<'py>(
    py: Python<'py>,
    g: &mut Inner,
    i: usize,
) -> PyResult<Vec<(u64, Bound<'py, PyBytes>)>> {
    check_disk(py, g, i)?;
    if let Some((_, p)) = g.write_through.iter().find(|(j, _)| *j == i) {
        return Err(errors::config(
            py,
            format!("disk {i} is written through to {p}: its writes go to the file"),
        ));
    }
    Ok((g.m.take_disk_writes(i).into_iter())
        .map(|(o, b)| (o, PyBytes::new(py, &b)))
        .collect())
}

/// Text or bytes to send to the guest.
pub(crate) fn text_or_bytes(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    match obj.extract::<String>() {
        Ok(s) => Ok(s.into_bytes()),
        Err(_) => args::bytes_of(obj),
    }
}
