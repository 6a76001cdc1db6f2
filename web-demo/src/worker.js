// The machine, in a Web Worker: boots the guest, runs it in slices, sends the serial output
// and the status to the page, and answers the page's controls (see main.js for the messages).
//
// Pacing: the guest's clock (instructions at 1 GHz plus the idle time skipped by HLT) may not
// run ahead of the wall clock. A busy guest is slower than 1 GHz and runs flat out; a halted
// one skips idle time only up to the wall clock (Machine.setIdleLimit) and the worker sleeps
// until its next timer is due, waking early when a key arrives, so an idle tab does not spin
// a core and `sleep 5` in the guest takes five seconds. Pacing only decides when slices run,
// never what the guest sees: the run stays a function of the images and the keys, stamped
// with instruction counts (a recorded session replays to the same state hash).
import init, { Machine } from "./pkg/vx86_wasm.js";

const SLICE = 200_000; // instructions per run() call
const BURST_MS = 30; // run slices for about this long before yielding to messages
const MAX_LAG_NS = 100e6; // how far the guest's clock may trail the wall clock
const CMDLINE = "console=ttyS0 panic=-1 quiet cryptomgr.notests";

let m = null;
let images = null;
let running = false;
let loopActive = false;
let wake = null; // resolves the current sleep early
let anchor = null; // {wall, virt}: wall-clock ms and virtual ms when pacing (re)started
let bootStart = null;
let bootDone = null;
let tail = ""; // the last console bytes, for spotting BOOT-OK
let speed = { at: performance.now(), count: 0, ips: 0 };

const post = (msg, transfer) => postMessage(msg, transfer || []);

function sleep(ms) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    wake = () => { clearTimeout(t); resolve(); };
  });
}

function status(state) {
  const count = m ? m.instructionCount : 0;
  const now = performance.now();
  if (now - speed.at > 500) {
    speed = { at: now, count, ips: ((count - speed.count) * 1000) / (now - speed.at) };
  }
  post({
    type: "status",
    state,
    count,
    ips: speed.ips,
    virtualNs: m ? m.virtualTimeNs : 0,
    boot: bootDone,
    recording: m ? m.recording : false,
  });
}

function flush() {
  const out = m.serialOutput();
  if (out.length) {
    if (bootDone === null) {
      tail = (tail + new TextDecoder("latin1").decode(out)).slice(-64);
      if (tail.includes("BOOT-OK")) {
        bootDone = { ms: performance.now() - bootStart, instructions: m.instructionCount };
      }
    }
    post({ type: "output", data: out }, [out.buffer]);
  }
}

/// Starts pacing from now: the guest's clock may advance as much as the wall clock from here.
function repace() {
  anchor = { wall: performance.now(), virt: m.virtualTimeNs };
}

/// The virtual time (ns) the wall clock allows now.
function limitNs() {
  return anchor.virt + (performance.now() - anchor.wall) * 1e6;
}

async function loop() {
  if (loopActive) return;
  loopActive = true;
  try {
    while (running && m) {
      const t0 = performance.now();
      let stopped = null;
      let idle = false;
      while (performance.now() - t0 < BURST_MS) {
        // a busy guest falls behind the wall clock (it runs slower than 1 GHz): that time is
        // not owed, or the next idle stretch would skip it all at once
        if (limitNs() - m.virtualTimeNs > MAX_LAG_NS) repace();
        m.setIdleLimit(limitNs());
        const e = m.run(SLICE);
        if (e.reason === "idle") { idle = true; break; }
        if (e.reason !== "budget") { stopped = e; break; }
      }
      flush();
      if (stopped) {
        running = false;
        post({ type: "stopped", reason: stopped.reason });
        status(stopped.reason);
        break;
      }
      status(idle ? "running (idle)" : "running");
      // idle: until the guest's next timer is due in wall-clock terms (at most 100 ms, so
      // the status stays fresh); busy: just yield to the page's messages
      const next = idle ? m.nextTimerNs : undefined;
      await sleep(next === undefined ? (idle ? 100 : 0) : Math.min(100, Math.max(0, (next - limitNs()) / 1e6)));
    }
  } catch (err) {
    running = false;
    post({ type: "error", message: `${err.name || "Error"}: ${err.message || err}` });
    status("error");
  } finally {
    loopActive = false;
  }
}

function start() {
  running = true;
  if (m) repace();
  if (wake) wake();
  loop();
}

async function boot() {
  if (!images) {
    const get = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
    images = { kernel: await get("guest/bzImage"), initrd: await get("guest/initrd.cpio.gz") };
  }
  m = new Machine({ memory: "256M" });
  // the direct kernel entry: the kernel is decompressed here (≈1 s) instead of by its own
  // decompressor in the guest (≈2.3 G interpreted instructions, ≈30 s)
  m.loadLinux(images.kernel, images.initrd, CMDLINE, true);
  bootStart = performance.now();
  bootDone = null;
  tail = "";
  speed = { at: performance.now(), count: 0, ips: 0 };
  post({ type: "reset" });
  start();
}

const handlers = {
  async boot() { await boot(); },
  run({ on }) { if (on) start(); else { running = false; status("paused"); } },
  step() {
    running = false;
    const e = m.step();
    flush();
    status(`stepped: eip ${e.eip.toString(16).padStart(8, "0")}`);
  },
  async reset() { running = false; await boot(); },
  input({ data }) {
    m.sendSerial(data);
    if (wake) wake(); // run now: the guest has something to do
  },
  snapshot() {
    const bytes = m.snapshot();
    post({ type: "snapshot", bytes, count: m.instructionCount }, [bytes.buffer]);
  },
  restore({ bytes }) {
    running = false;
    m = Machine.fromBytes(bytes);
    post({ type: "restored", count: m.instructionCount, hash: m.stateHash() });
    start();
  },
  record() {
    m.record(100_000_000);
    status(running ? "running" : "paused");
  },
  stopRecord() {
    const bytes = m.stopRecording();
    post({ type: "log", bytes }, [bytes.buffer]);
    status(running ? "running" : "paused");
  },
  replay({ bytes }) {
    running = false;
    const r = Machine.replay(bytes, images.kernel, images.initrd);
    m = r.machine;
    post({ type: "reset" });
    post({ type: "output", data: r.serial });
    post({ type: "replayed", hash: r.stateHash, count: r.instructionCount, checkpoints: r.checkpoints });
    start();
  },
  hash() { post({ type: "hash", value: m.stateHash(), count: m.instructionCount }); },
};

await init();
self.onmessage = async (e) => {
  try {
    await handlers[e.data.type](e.data);
  } catch (err) {
    post({ type: "error", message: `${err.name || "Error"}: ${err.message || err}` });
  }
};
post({ type: "ready" });
