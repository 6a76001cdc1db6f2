// The page: an xterm.js terminal on the guest's serial console and the controls. The machine
// runs in worker.js; messages:
//   page → worker: boot, run {on}, step, reset, input {data}, snapshot, restore {bytes},
//                  record, stopRecord, replay {bytes}, hash
//   worker → page: ready, reset, output {data}, status {...}, stopped {reason},
//                  snapshot {bytes, count}, restored {count, hash}, log {bytes},
//                  replayed {hash, count, checkpoints}, hash {value, count}, error {message}
// window.vx86Demo exposes the console text and the status for tests.
import { Terminal } from "./vendor/xterm.mjs";

const $ = (id) => document.getElementById(id);
const term = new Terminal({ rows: 30, cols: 110, scrollback: 5000, fontSize: 14 });
term.open($("terminal"));
term.focus();

const worker = new Worker("worker.js", { type: "module" });
const decoder = new TextDecoder("latin1");
const demo = { output: "", status: {}, messages: [], snapshots: 0, ready: false };
window.vx86Demo = demo;
let running = true;
let recording = false;

const send = (msg, transfer) => worker.postMessage(msg, transfer || []);
const say = (text) => { $("message").textContent = text; demo.messages.push(text); };

function download(bytes, name) {
  const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
  const a = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function enable(on) {
  for (const id of ["run", "step", "reset", "save", "record", "hash", "restore", "replay"]) $(id).disabled = !on;
  for (const id of ["restore-label", "replay-label"]) $(id).classList.toggle("disabled", !on);
}

const fmt = (n) => n.toLocaleString("en-US");

worker.onmessage = ({ data: msg }) => {
  switch (msg.type) {
    case "ready":
      demo.ready = true;
      enable(true);
      say("loading the guest images…");
      send({ type: "boot" });
      break;
    case "reset":
      term.reset();
      demo.output = "";
      break;
    case "output": {
      term.write(msg.data);
      demo.output += decoder.decode(msg.data);
      break;
    }
    case "status": {
      demo.status = msg;
      $("state").textContent = msg.state;
      $("count").textContent = fmt(msg.count);
      $("ips").textContent = msg.ips ? `${(msg.ips / 1e6).toFixed(1)} M instructions/s` : "–";
      $("vtime").textContent = `${(msg.virtualNs / 1e9).toFixed(2)} s`;
      if (msg.boot && msg.boot.ms !== null) {
        $("boot").textContent = `${(msg.boot.ms / 1000).toFixed(1)} s (${fmt(msg.boot.instructions)} instructions)`;
      }
      break;
    }
    case "stopped":
      running = false;
      $("run").textContent = "Start";
      say(`the machine stopped: ${msg.reason}`);
      break;
    case "snapshot":
      demo.snapshots += 1;
      download(msg.bytes, `vx86-${msg.count}.snap`);
      say(`snapshot at instruction ${fmt(msg.count)}: ${fmt(msg.bytes.length)} bytes`);
      break;
    case "restored":
      running = true;
      $("run").textContent = "Pause";
      say(`restored at instruction ${fmt(msg.count)}, state hash ${msg.hash.slice(0, 16)}…`);
      break;
    case "log":
      download(msg.bytes, "vx86-session.log");
      say(`replay log: ${fmt(msg.bytes.length)} bytes`);
      break;
    case "replayed":
      running = true;
      say(`replayed to instruction ${fmt(msg.count)}: ${msg.checkpoints} state hashes matched (${msg.hash.slice(0, 16)}…)`);
      break;
    case "hash":
      say(`state hash at instruction ${fmt(msg.count)}: ${msg.value}`);
      break;
    case "error":
      say(msg.message);
      break;
  }
};

term.onData((text) => send({ type: "input", data: new TextEncoder().encode(text) }));

$("run").onclick = () => {
  running = !running;
  $("run").textContent = running ? "Pause" : "Start";
  send({ type: "run", on: running });
};
$("step").onclick = () => { running = false; $("run").textContent = "Start"; send({ type: "step" }); };
$("reset").onclick = () => { running = true; $("run").textContent = "Pause"; send({ type: "reset" }); };
$("save").onclick = () => send({ type: "snapshot" });
$("hash").onclick = () => send({ type: "hash" });
$("record").onclick = () => {
  recording = !recording;
  $("record").textContent = recording ? "Stop and save log" : "Record";
  $("record").classList.toggle("recording", recording);
  send({ type: recording ? "record" : "stopRecord" });
};
async function fileBytes(input) {
  const f = input.files[0];
  input.value = "";
  return f ? new Uint8Array(await f.arrayBuffer()) : null;
}
$("restore").onchange = async (e) => {
  const bytes = await fileBytes(e.target);
  if (bytes) { term.reset(); demo.output = ""; send({ type: "restore", bytes }, [bytes.buffer]); }
};
$("replay").onchange = async (e) => {
  const bytes = await fileBytes(e.target);
  if (bytes) { say("replaying…"); send({ type: "replay", bytes }, [bytes.buffer]); }
};
