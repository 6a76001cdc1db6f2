//! Saved states and replays: snapshots as `Uint8Array`s, in-memory checkpoints, recording a
//! replay log and replaying one, and `translate`'s walk as a plain object.

use js_sys::{Array, Uint8Array};
use vx86_core::mmu::{Walk, WalkFault};
use vx86_core::vx86_snapshots::container::{read_header, SnapshotKind};
use vx86_core::vx86_snapshots::replay_log::{EventKind, ImageRef, Start};
use vx86_core::{RecordStart, Replay, ReplayStatus, SnapshotOptions, DEFAULT_CHECKPOINT_INTERVAL};
use wasm_bindgen::prelude::*;

use crate::convert::{self, VmResult};
use crate::machine::Machine;

/// An in-memory saved state of one machine.
#[wasm_bindgen]
pub struct Checkpoint {
    machine: Machine,
    cp: vx86_core::Checkpoint,
}

#[wasm_bindgen]
impl Checkpoint {
    /// Returns the machine to this checkpoint; returns the number of RAM pages copied.
    pub fn restore(&self) -> Result<usize, JsValue> {
        let mut g = self.machine.lock()?;
        let pages = g.m.restore_checkpoint(&self.cp).js()?;
        g.clear_output();
        Ok(pages)
    }

    /// The instruction count at which it was taken.
    #[wasm_bindgen(getter, js_name = instructionCount)]
    pub fn instruction_count(&self) -> f64 {
        self.cp.instruction_count() as f64
    }
}

#[wasm_bindgen]
impl Machine {
    /// The machine as snapshot bytes (portable to the CLI, Python and other tabs).
    /// `compress` (default true): LZ4. `incremental`: only the RAM pages written since the
    /// last snapshot taken or restored here.
    pub fn snapshot(
        &self,
        compress: Option<bool>,
        incremental: Option<bool>,
    ) -> Result<Uint8Array, JsValue> {
        let options = SnapshotOptions {
            compress: compress.unwrap_or(true),
            incremental: incremental.unwrap_or(false),
        };
        let bytes = self.lock()?.m.save_snapshot(options).js()?;
        Ok(Uint8Array::from(bytes.as_slice()))
    }

    /// A machine from snapshot bytes (bad bytes throw SnapshotError). A machine with virtio
    /// disks needs their images as they were attached (snapshots hold only what the guest
    /// wrote): `disks`, in order, as for the constructor (`readOnly` comes from the
    /// snapshot); a wrong image throws ImageError, a missing one SnapshotError.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(
        data: &[u8],
        #[wasm_bindgen(
            unchecked_optional_param_type = "(Uint8Array | {image: Uint8Array, readOnly?: boolean})[]"
        )]
        disks: JsValue,
    ) -> Result<Machine, JsValue> {
        let images = crate::virtio::images_of(&disks)?;
        Ok(Machine::from_core(
            vx86_core::Machine::from_snapshot_with_disks(data, images).js()?,
        ))
    }

    /// Returns the machine to snapshot bytes (full: it becomes the saved machine;
    /// incremental: applied onto the state it was taken from) or to a `Checkpoint` of this
    /// machine. Hooks, breakpoints and the virtio disk images stay (a full snapshot of this
    /// machine is restored onto its images); unconsumed output is dropped.
    pub fn restore(&self, state: JsValue) -> Result<(), JsValue> {
        let bytes = convert::bytes(&state, "restore", false)?;
        let header = read_header(&bytes)
            .map_err(|e| convert::error("SnapshotError", &format!("bad snapshot: {e}"), &[]))?;
        let mut g = self.lock()?;
        if matches!(header.kind, SnapshotKind::Incremental { .. }) {
            g.m.apply_incremental_snapshot(&bytes).js()?;
        } else {
            let images = crate::virtio::machine_images(&g.m);
            let mut fresh = vx86_core::Machine::from_snapshot_with_disks(&bytes, images).js()?;
            for b in g.m.breakpoints() {
                fresh.add_breakpoint(b);
            }
            g.m = fresh;
            g.linux_at_start = false;
            crate::hooks::reattach(self, &mut g);
        }
        g.clear_output();
        Ok(())
    }

    /// Saves the state in memory; `checkpoint.restore()` returns to it in time proportional
    /// to the RAM pages written since.
    pub fn checkpoint(&self) -> Result<Checkpoint, JsValue> {
        let cp = self.lock()?.m.checkpoint();
        Ok(Checkpoint {
            machine: Machine {
                inner: self.inner.clone(),
                id: self.id,
            },
            cp,
        })
    }

    /// An independent copy of the machine (no hooks; breakpoints copied).
    pub fn copy(&self) -> Result<Machine, JsValue> {
        let g = self.lock()?;
        let mut m = g.m.clone();
        *m.hooks() = Default::default();
        let copy = Machine::from_core(m);
        {
            let mut c = copy.lock()?;
            c.serial = g.serial.clone();
            c.console = g.console.clone();
        }
        Ok(copy)
    }

    /// Starts recording every input with its instruction count and the state hash every
    /// `checkpointInterval` instructions (default 100 M). Right after `loadLinux` the log
    /// references the images by SHA-256 (replay needs them); otherwise it embeds a snapshot.
    pub fn record(&self, checkpoint_interval: JsValue) -> Result<(), JsValue> {
        let interval = if checkpoint_interval.is_undefined() || checkpoint_interval.is_null() {
            DEFAULT_CHECKPOINT_INTERVAL
        } else {
            convert::to_count(&checkpoint_interval, "checkpointInterval")?
        };
        let mut g = self.lock()?;
        let start = if g.linux_at_start && g.m.instruction_count() == 0 {
            RecordStart::Boot {
                kernel_path: "kernel".into(),
                initrd_path: Some("initrd".into()),
            }
        } else {
            RecordStart::Snapshot
        };
        match g.m.start_recording(start.clone(), interval) {
            // loaded without an initrd: reference the kernel only
            Err(_) if matches!(start, RecordStart::Boot { .. }) => {
                g.m.start_recording(
                    RecordStart::Boot {
                        kernel_path: "kernel".into(),
                        initrd_path: None,
                    },
                    interval,
                )
                .js()
            }
            r => r.js(),
        }
    }

    /// Ends the recording; returns the replay log's bytes.
    #[wasm_bindgen(js_name = stopRecording)]
    pub fn stop_recording(&self) -> Result<Uint8Array, JsValue> {
        let log =
            self.lock()?.m.finish_recording().ok_or_else(|| {
                convert::error("ReplayError", "this machine is not recording", &[])
            })?;
        Ok(Uint8Array::from(log.to_bytes().as_slice()))
    }

    /// Whether a recording is in progress.
    #[wasm_bindgen(getter)]
    pub fn recording(&self) -> Result<bool, JsValue> {
        Ok(self.lock()?.m.is_recording())
    }

    /// Replays a log, checking every recorded state hash. A log that starts from a Linux boot
    /// needs the `kernel` and `initrd` bytes (checked against the recorded SHA-256); a
    /// machine with virtio disks needs their images, `disks` in the machine's order (as for
    /// the constructor; checked the same way). `perturbInput` flips a bit of that serial
    /// input first. Returns `{machine, stateHash, instructionCount, serial, console,
    /// checkpoints}`; throws ReplayDivergence (`instruction`, `expected`, `actual`) at the
    /// first differing state, ReplayError for a bad log or images.
    pub fn replay(
        log: &[u8],
        kernel: Option<Vec<u8>>,
        initrd: Option<Vec<u8>>,
        #[wasm_bindgen(
            unchecked_optional_param_type = "(Uint8Array | {image: Uint8Array, readOnly?: boolean})[]"
        )]
        disks: JsValue,
        #[wasm_bindgen(js_name = perturbInput, unchecked_optional_param_type = "number")]
        perturb_input: Option<usize>,
    ) -> Result<JsValue, JsValue> {
        let mut r = Replay::from_bytes(log).js()?;
        if let Some(k) = perturb_input {
            r.perturb_input(k)
                .ok_or_else(|| convert::config(format!("the log has no serial input #{k}")))?;
        }
        let disks = crate::virtio::images_of(&disks)?;
        let want = r.log().disks.len();
        if !disks.is_empty() && disks.len() != want {
            return Err(convert::error(
                "ReplayError",
                &format!(
                    "the log's machine has {want} disks, {} were given",
                    disks.len()
                ),
                &[],
            ));
        }
        // which image the core asks for: one of the log's disks (by position), or the kernel
        // or initrd of a boot log
        let log_ref = r.log();
        let mut load = |i: &ImageRef| -> Result<Vec<u8>, String> {
            if let Some(k) = log_ref.disks.iter().position(|d| std::ptr::eq(d, i)) {
                return disks
                    .get(k)
                    .map(|d| d.bytes().to_vec())
                    .ok_or_else(|| format!("the machine has {want} disks: pass their images"));
            }
            let is_initrd = match &log_ref.start {
                Start::Boot(b) => b.initrd.as_ref().is_some_and(|x| std::ptr::eq(x, i)),
                Start::Snapshot(_) => false,
            };
            let (given, name) = if is_initrd {
                (&initrd, "initrd")
            } else {
                (&kernel, "kernel")
            };
            given
                .clone()
                .ok_or_else(|| format!("the log starts from a boot: pass the {name} bytes"))
        };
        let mut m = r.start_machine(&mut load).js()?;
        let checkpoints = r
            .log()
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Checkpoint(_) | EventKind::End(_)))
            .count();
        let (mut serial, mut console) = (Vec::new(), Vec::new());
        loop {
            let status = r.advance(&mut m, 50_000_000).js()?;
            serial.extend(m.take_serial_output());
            console.extend(m.take_console_output());
            match status {
                ReplayStatus::Running => {}
                ReplayStatus::Finished => break,
                ReplayStatus::Diverged(d) => {
                    let hex = vx86_core::vx86_snapshots::hex;
                    return Err(convert::error(
                        "ReplayDivergence",
                        &d.to_string(),
                        &[
                            ("instruction", (d.icount as f64).into()),
                            ("expected", hex(&d.expected).into()),
                            ("actual", hex(&d.actual).into()),
                        ],
                    ));
                }
            }
        }
        Ok(convert::object(&[
            ("stateHash", m.state_hash_hex().into()),
            ("instructionCount", (m.instruction_count() as f64).into()),
            ("serial", Uint8Array::from(serial.as_slice()).into()),
            ("console", Uint8Array::from(console.as_slice()).into()),
            ("checkpoints", (checkpoints as f64).into()),
            ("machine", Machine::from_core(m).into()),
        ]))
    }
}

/// `translate`'s result.
pub(crate) fn walk_object(address: u32, w: &Walk) -> JsValue {
    let steps: Array = w
        .entries()
        .iter()
        .map(|s| {
            convert::object(&[
                ("level", s.level.into()),
                ("entryAddress", (s.entry_addr as f64).into()),
                ("entry", convert::int(s.entry.into())),
            ])
        })
        .collect();
    let mut pairs = vec![("address", JsValue::from(address)), ("steps", steps.into())];
    match w.outcome {
        Ok(t) => pairs.extend([
            ("physical", (t.phys as f64).into()),
            ("fault", JsValue::NULL),
            ("pageSize", t.page_size.into()),
            ("writable", t.writable.into()),
            ("user", t.user.into()),
            ("noExec", t.no_exec.into()),
            ("global", t.global.into()),
            ("dirty", t.dirty.into()),
        ]),
        Err(f) => pairs.extend([
            ("physical", JsValue::NULL),
            (
                "fault",
                match f {
                    WalkFault::NotPresent => "not_present",
                    WalkFault::Reserved => "reserved",
                }
                .into(),
            ),
        ]),
    }
    convert::object(&pairs)
}
