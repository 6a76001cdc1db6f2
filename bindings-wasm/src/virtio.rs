//! The virtio devices from JS: the constructor's `disks`/`net`/`virtioConsole`/`rng`/
//! `balloon` options, the devices' host ends on `Machine` (console, network frames, balloon,
//! disk contents) and `NetLink` (two machines joined by virtio-net). Every device is in
//! `vx86-core`; this file converts values. There are no files here: disks are bytes, and
//! what the guest writes stays in the machine (`diskContents`, `takeDiskWrites`).

use js_sys::{Array, Uint8Array};
use vx86_core::{DiskConfig, DiskImage, VirtioConfig, DEFAULT_MAC};
use wasm_bindgen::prelude::*;

use crate::convert::{self, VmResult};
use crate::machine::{Inner, Machine, Stream};

/// One disk of a `disks` array: a `Uint8Array` (or `ArrayBuffer`, array of bytes) or
/// `{image, readOnly}`. Returns the image and whether it is read-only.
fn disk_of(v: &JsValue, i: usize) -> Result<(DiskImage, bool), JsValue> {
    let what = format!("disks[{i}]");
    let bytes_like = v.is_instance_of::<Uint8Array>()
        || v.is_instance_of::<js_sys::ArrayBuffer>()
        || Array::is_array(v);
    let (bytes, read_only) = if bytes_like {
        (convert::bytes(v, &what, false)?, false)
    } else if v.is_object() {
        let image = convert::field(v, "image").ok_or_else(|| {
            convert::config(format!("{what}: {{image, readOnly}} needs an image"))
        })?;
        let read_only = convert::field(v, "readOnly").is_some_and(|r| r.is_truthy());
        (
            convert::bytes(&image, &format!("{what}.image"), false)?,
            read_only,
        )
    } else {
        return Err(convert::config(format!(
            "{what}: a Uint8Array or {{image, readOnly}}"
        )));
    };
    let image = DiskImage::new(bytes)
        .map_err(|e| convert::error("ImageError", &format!("{what}: {e}"), &[]))?;
    // the name is a hint in replay logs (JS has no files)
    Ok((image.with_name(format!("disk{i}")), read_only))
}

/// A `disks` argument (an array, or undefined/null for none).
pub(crate) fn disks_of(v: &JsValue) -> Result<Vec<(DiskImage, bool)>, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(Vec::new());
    }
    if !Array::is_array(v) {
        return Err(convert::config(
            "disks is an array (of Uint8Arrays or {image, readOnly})",
        ));
    }
    Array::from(v)
        .iter()
        .enumerate()
        .map(|(i, d)| disk_of(&d, i))
        .collect()
}

/// The `net` option: `true` (the default MAC) or a MAC address string.
fn mac_of(v: Option<JsValue>) -> Result<Option<[u8; 6]>, JsValue> {
    let Some(v) = v else { return Ok(None) };
    if let Some(b) = v.as_bool() {
        return Ok(b.then_some(DEFAULT_MAC));
    }
    let bad = || convert::config("net: true, or a MAC address like \"52:54:00:12:34:56\"");
    let text = v.as_string().ok_or_else(bad)?;
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut mac = [0u8; 6];
    for (b, p) in mac.iter_mut().zip(parts) {
        if !(1..=2).contains(&p.len()) {
            return Err(bad());
        }
        *b = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    Ok(Some(mac))
}

/// The virtio configuration and disk images of the constructor's options.
pub(crate) fn config_of(options: &JsValue) -> Result<(VirtioConfig, Vec<DiskImage>), JsValue> {
    let f = |k: &str| convert::field(options, k);
    let flag = |k: &str| f(k).is_some_and(|v| v.is_truthy());
    let mut v = VirtioConfig {
        net: mac_of(f("net"))?,
        console: flag("virtioConsole"),
        rng: flag("rng"),
        balloon: flag("balloon"),
        ..VirtioConfig::default()
    };
    let mut images = Vec::new();
    for (image, read_only) in disks_of(&f("disks").unwrap_or(JsValue::UNDEFINED))? {
        v.disks.push(DiskConfig::for_image(&image, read_only));
        images.push(image);
    }
    Ok((v, images))
}

/// The images of a `disks` argument (for a snapshot or a replay; `readOnly` is ignored: the
/// snapshot or log says).
pub(crate) fn images_of(v: &JsValue) -> Result<Vec<DiskImage>, JsValue> {
    Ok(disks_of(v)?.into_iter().map(|d| d.0).collect())
}

/// The base images of a machine's disks (to rebuild it from a snapshot).
pub(crate) fn machine_images(m: &vx86_core::Machine) -> Vec<DiskImage> {
    m.disks().iter().map(|d| d.base().clone()).collect()
}

fn check_disk(g: &Inner, i: usize) -> Result<(), JsValue> {
    let n = g.m.disks().len();
    if i >= n {
        return Err(convert::config(format!(
            "no disk {i} (the machine has {n})"
        )));
    }
    Ok(())
}

#[wasm_bindgen]
impl Machine {
    /// Queues bytes (a string or a Uint8Array) for the guest's virtio console (hvc0);
    /// recorded when recording. Throws ConfigError without a virtio console
    /// (`virtioConsole: true`) or when more than 1 MiB would wait for the guest.
    #[wasm_bindgen(js_name = sendConsole)]
    pub fn send_console(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] data: JsValue,
    ) -> Result<(), JsValue> {
        let bytes = convert::bytes(&data, "sendConsole", true)?;
        self.lock()?.m.send_console(&bytes).js()
    }

    /// The virtio-console output not consumed yet (and consumes it).
    #[wasm_bindgen(js_name = consoleOutput)]
    pub fn console_output(&self) -> Result<Uint8Array, JsValue> {
        let mut g = self.lock()?;
        g.collect_output();
        Ok(Uint8Array::from(std::mem::take(&mut g.console).as_slice()))
    }

    /// Like `waitSerial` for the virtio console: runs until `text` appears in its unconsumed
    /// output and returns the output up to and including it. Throws ConsoleTimeout (with
    /// `output` and `exit`) if `maxInstructions` pass first or the machine stops.
    #[wasm_bindgen(js_name = waitConsole)]
    pub fn wait_console(
        &self,
        text: JsValue,
        max_instructions: JsValue,
    ) -> Result<Uint8Array, JsValue> {
        self.wait_for(Stream::Console, &text, &max_instructions)
    }

    /// Whether the guest's virtio-console driver runs with its receive queue set up; false
    /// without a virtio console.
    #[wasm_bindgen(js_name = virtioConsoleReady)]
    pub fn virtio_console_ready(&self) -> Result<bool, JsValue> {
        Ok(self.lock()?.m.virtio_console_ready())
    }

    /// Delivers an Ethernet frame (without FCS, 14 to 1518 bytes) to the guest's virtio-net;
    /// recorded when recording. Throws ConfigError without virtio-net (`net: true`), for a
    /// bad size, or when 256 frames already wait for the guest.
    #[wasm_bindgen(js_name = sendNetFrame)]
    pub fn send_net_frame(&self, frame: &[u8]) -> Result<(), JsValue> {
        self.lock()?.m.send_net_frame(frame).js()
    }

    /// The Ethernet frames the guest transmitted since the last call, oldest first.
    #[wasm_bindgen(js_name = takeNetFrames)]
    pub fn take_net_frames(&self) -> Result<Vec<Uint8Array>, JsValue> {
        let frames = self.lock()?.m.take_net_frames();
        Ok(frames
            .iter()
            .map(|f| Uint8Array::from(f.as_slice()))
            .collect())
    }

    /// Asks the guest (through virtio-balloon) to hand back memory until `pages` 4 KiB pages
    /// are in the balloon (0 gives everything back); recorded when recording. Throws
    /// ConfigError without a balloon (`balloon: true`).
    #[wasm_bindgen(js_name = setBalloonTarget)]
    pub fn set_balloon_target(&self, pages: u32) -> Result<(), JsValue> {
        self.lock()?.m.set_balloon_target(pages).js()
    }

    /// The balloon: `{target, actual, pagesGivenBack}` (target pages, pages the guest's
    /// driver reports, pages given back and zeroed); undefined without a balloon.
    #[wasm_bindgen(js_name = balloonStatus, unchecked_return_type = "{target: number, actual: number, pagesGivenBack: number} | undefined")]
    pub fn balloon_status(&self) -> Result<JsValue, JsValue> {
        Ok(match self.lock()?.m.balloon_status() {
            Some((target, actual, given)) => convert::object(&[
                ("target", target.into()),
                ("actual", actual.into()),
                ("pagesGivenBack", (given as f64).into()),
            ]),
            None => JsValue::UNDEFINED,
        })
    }

    /// The virtio disks, in order: `{size, sha256, readOnly}` (size in bytes, SHA-256 hex of
    /// the image as attached: what snapshots and replay logs name it by).
    #[wasm_bindgen(
        getter,
        unchecked_return_type = "{size: number, sha256: string, readOnly: boolean}[]"
    )]
    pub fn disks(&self) -> Result<JsValue, JsValue> {
        let g = self.lock()?;
        let config = &g.m.config().virtio.disks;
        let list: Array = (g.m.disks().iter().zip(config))
            .map(|(d, c)| {
                convert::object(&[
                    ("size", (d.len() as f64).into()),
                    (
                        "sha256",
                        vx86_core::vx86_snapshots::hex(&d.base().sha256()).into(),
                    ),
                    ("readOnly", c.read_only.into()),
                ])
            })
            .collect();
        Ok(list.into())
    }

    /// The current content of disk `i` (the image with everything the guest wrote).
    #[wasm_bindgen(js_name = diskContents)]
    pub fn disk_contents(&self, i: usize) -> Result<Uint8Array, JsValue> {
        let g = self.lock()?;
        check_disk(&g, i)?;
        Ok(Uint8Array::from(g.m.disks()[i].contents().as_slice()))
    }

    /// The chunks of disk `i` the guest wrote since the last call, as `[offset, bytes]`
    /// pairs: what a host keeping a copy of the image applies to it. Taking them changes
    /// nothing the guest sees.
    #[wasm_bindgen(js_name = takeDiskWrites, unchecked_return_type = "[number, Uint8Array][]")]
    pub fn take_disk_writes(&self, i: usize) -> Result<JsValue, JsValue> {
        let mut g = self.lock()?;
        check_disk(&g, i)?;
        let list: Array = (g.m.take_disk_writes(i).iter())
            .map(|(o, b)| {
                JsValue::from(Array::of2(
                    &(*o as f64).into(),
                    &Uint8Array::from(b.as_slice()),
                ))
            })
            .collect();
        Ok(list.into())
    }

    /// Why each virtio device that entered DEVICE_NEEDS_RESET (the guest's driver gave it a
    /// malformed request) did so: `[pciSlot, message]` pairs.
    #[wasm_bindgen(js_name = virtioErrors, unchecked_return_type = "[number, string][]")]
    pub fn virtio_errors(&self) -> Result<JsValue, JsValue> {
        let list: Array = (self.lock()?.m.virtio_errors().into_iter())
            .map(|(slot, msg)| JsValue::from(Array::of2(&slot.into(), &msg.into())))
            .collect();
        Ok(list.into())
    }
}

/// A network cable between two machines with virtio-net: `new NetLink(a, b, quantumNs)`;
/// each `step()` runs both machines to the same virtual time, `quantumNs` (default 1 ms)
/// later, then delivers the Ethernet frames each one transmitted to the other (a frame
/// crosses with at most one quantum of latency). Deterministic; each machine's recording
/// replays alone. Machines with code, interrupt or CR3 hooks cannot be stepped.
#[wasm_bindgen]
pub struct NetLink {
    a: Machine,
    b: Machine,
    link: vx86_core::NetLink,
}

#[wasm_bindgen]
impl NetLink {
    /// Joins `a` and `b` (two different machines) from now on.
    #[wasm_bindgen(constructor)]
    pub fn new(a: &Machine, b: &Machine, quantum_ns: Option<f64>) -> Result<NetLink, JsValue> {
        if std::rc::Rc::ptr_eq(&a.inner, &b.inner) {
            return Err(convert::config("a NetLink joins two different machines"));
        }
        let quantum = match quantum_ns {
            Some(q) if q >= 1.0 && q.is_finite() => q as u64,
            Some(q) => return Err(convert::config(format!("quantumNs {q}: at least 1"))),
            None => vx86_core::DEFAULT_QUANTUM_NS,
        };
        let link = {
            let (ga, gb) = (a.lock()?, b.lock()?);
            vx86_core::NetLink::new(&ga.m, &gb.m, quantum)
        };
        let share = |m: &Machine| Machine {
            inner: m.inner.clone(),
            id: m.id,
        };
        Ok(NetLink {
            a: share(a),
            b: share(b),
            link,
        })
    }

    /// Runs both machines to the next quantum boundary and exchanges their frames. Returns
    /// `[exitA, exitB]` (each like `run`'s: reason "budget" or "idle" when the machine got
    /// there, anything else when it stopped on the way, e.g. "halted", "poweroff").
    #[wasm_bindgen(unchecked_return_type = "[any, any]")]
    pub fn step(&mut self) -> Result<Array, JsValue> {
        let NetLink { a, b, link } = self;
        let mut ga = a.lock()?;
        let mut gb = b.lock()?;
        if ga.hooks.any_deferred() || gb.hooks.any_deferred() {
            return Err(convert::config(
                "NetLink cannot step a machine with code, interrupt or CR3 hooks",
            ));
        }
        crate::hooks::clear_stop(a.id);
        crate::hooks::clear_stop(b.id);
        let (sa, sb) = (ga.m.instruction_count(), gb.m.instruction_count());
        ga.linux_at_start = false;
        gb.linux_at_start = false;
        let r = link.step(&mut ga.m, &mut gb.m);
        ga.collect_output();
        gb.collect_output();
        for id in [a.id, b.id] {
            if let Some(e) = crate::hooks::take_error(id) {
                return Err(e);
            }
        }
        let (ea, eb) = r.js()?;
        Ok(Array::of2(
            &a.exit(&ga, ea.name(), sa),
            &b.exit(&gb, eb.name(), sb),
        ))
    }

    /// Frames delivered: `[aToB, bToA]`.
    #[wasm_bindgen(getter, unchecked_return_type = "[number, number]")]
    pub fn delivered(&self) -> Array {
        let (ab, ba) = self.link.delivered;
        Array::of2(&(ab as f64).into(), &(ba as f64).into())
    }

    /// Frames that could not be delivered (the receiver had no virtio-net, or 256 frames
    /// already waited for its guest).
    #[wasm_bindgen(getter)]
    pub fn dropped(&self) -> f64 {
        self.link.dropped as f64
    }

    /// The virtual time (ns) both machines have reached.
    #[wasm_bindgen(getter, js_name = nowNs)]
    pub fn now_ns(&self) -> f64 {
        self.link.now_ns as f64
    }

    /// Virtual time per step (ns).
    #[wasm_bindgen(getter, js_name = quantumNs)]
    pub fn quantum_ns(&self) -> f64 {
        self.link.quantum_ns as f64
    }
}
