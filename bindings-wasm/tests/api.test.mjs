// The JS API on a bare-metal program in Node (pkg-node): stepping, registers, hooks,
// snapshots, checkpoints, record/replay and the errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const { Machine } = createRequire(import.meta.url)("../pkg-node/vx86_wasm.js");
const hex = (s) => Uint8Array.from(Buffer.from(s.replace(/ /g, ""), "hex"));

// 7C00 mov ax, 0x1234; mov bx, 5; L: inc ax; dec bx; jnz L; mov al, 'K'; out 0xE9, al; hlt
const COUNT_LOOP = hex("b83412 bb0500 40 4b 75fc b04b e6e9 f4");
// 7C00 in al, 0x99; mov [0x600], al; out 0xE9, al; hlt
const READ_PORT = hex("e499 a20006 e6e9 f4");
// 7C00 inc ax; add bx, ax; mov [0x600], bx; jmp 7C00
const SPIN = hex("40 01c3 891e0006 ebf7");

function machine(code) {
  const m = new Machine({ memory: "16M" });
  m.loadFlat(code);
  return m;
}

test("step by step with registers", () => {
  const m = machine(COUNT_LOOP);
  const e = m.step();
  assert.deepEqual(e, { reason: "budget", instructions: 1, instructionCount: 1, eip: 0x7c03, rip: 0x7c03 });
  assert.equal(m.regs.ax, 0x1234);
  assert.equal(m.regs.ah, 0x12);
  m.step();
  assert.equal(m.regs.bx, 5);
  for (let i = 0; i < 15; i++) m.step();
  assert.equal(m.regs.ip, 0x7c0a);
  assert.equal(m.regs.ax, 0x1239);
  m.regs.al = "Q".charCodeAt(0);
  m.regs.eip = 0x7c0c;
  assert.equal(m.run().reason, "halted");
  assert.equal(Buffer.from(m.debugOutput()).toString(), "Q");
  m.regs.eax = -1;
  assert.equal(m.regs.eax, 0xffffffff);
  m.regs.xmm1 = (1n << 127n) | 3n;
  assert.equal(m.regs.xmm1, (1n << 127n) | 3n);
  m.regs.gdtr = [0x1000, 0x17];
  assert.deepEqual(m.regs.gdtr, [0x1000, 0x17]);
  assert.throws(() => { m.regs.eax = 2 ** 32; }, { name: "ConfigError" });
  assert.ok(Object.keys(m.regs).includes("cr3"));
  assert.equal(m.registers().eip, m.regs.eip);
});

test("until and breakpoints", () => {
  const m = machine(COUNT_LOOP);
  assert.deepEqual([m.run(undefined, 0x7c07).reason, m.regs.eip], ["until", 0x7c07]);
  m.addBreakpoint(0x7c08);
  assert.equal(m.run().reason, "breakpoint");
  assert.equal(m.run().reason, "breakpoint");
  assert.ok(m.removeBreakpoint(0x7c08));
  assert.equal(m.run().reason, "halted");
});

test("an I/O hook changes what the guest reads", () => {
  const m = machine(READ_PORT);
  const seen = [];
  const h = m.hookIo(0x99, (port, size, isWrite, value) => {
    seen.push([port, size, isWrite, value]);
    // inside an I/O hook the machine is busy
    assert.throws(() => m.regs.eax, { name: "MachineBusy" });
    return isWrite ? undefined : 0x42;
  });
  assert.equal(h.kind, "io");
  assert.equal(m.run().reason, "halted");
  assert.deepEqual(seen, [[0x99, 1, false, 0xff]]);
  assert.deepEqual([...m.readPhys(0x600, 1)], [0x42]);
  assert.ok(h.remove());
});

test("code hooks see the machine and can stop it; a throwing callback stops the run", () => {
  const m = machine(COUNT_LOOP);
  const trace = [];
  m.hookCode(0x7c06, undefined, (addr) => {
    trace.push([addr, m.regs.ax]);
    if (trace.length === 2) m.stop();
  });
  const e = m.run();
  assert.equal(e.reason, "hook");
  assert.deepEqual(trace, [[0x7c06, 0x1234], [0x7c06, 0x1235]]);
  const n = machine(SPIN);
  n.hookCode(0x7c00, 0x7c10, () => {
    if (n.instructionCount >= 50) throw new Error("boom");
  });
  assert.throws(() => n.run(1000), /boom/);
  assert.equal(n.instructionCount, 50);
});

test("interrupt hooks", () => {
  // 7C00 int 0x21 (handler 7E00: inc cx; iret); int 0x21; hlt
  const m = machine(hex("cd21 cd21 f4"));
  m.writePhys(0x7e00, hex("41 cf"));
  m.writePhys(0x21 * 4, hex("007e0000"));
  const seen = [];
  m.hookInterrupt(0x21, (v, external) => seen.push([v, external, m.regs.eip]));
  m.run(100);
  assert.deepEqual(seen, [[0x21, false, 0x7e00], [0x21, false, 0x7e00]]);
  assert.equal(m.regs.cx, 2);
});

test("snapshots, checkpoints and copies", () => {
  const m = machine(SPIN);
  m.run(5000);
  const snap = m.snapshot();
  const twin = Machine.fromBytes(snap);
  assert.equal(twin.stateHash(), m.stateHash());
  m.run(1000);
  twin.run(1000);
  assert.equal(twin.stateHash(), m.stateHash());
  const at = m.stateHash();
  const cp = m.checkpoint();
  m.run(3000);
  assert.notEqual(m.stateHash(), at);
  assert.ok(cp.restore() <= 4);
  assert.equal(m.stateHash(), at);
  m.restore(snap);
  assert.equal(m.instructionCount, 5000);
  const c = m.copy();
  c.run(10);
  assert.equal(c.instructionCount, 5010);
});

test("record and replay", () => {
  const m = machine(SPIN);
  m.record(1000);
  m.run(2500);
  m.sendSerial("x");
  m.run(2500);
  const log = m.stopRecording();
  const r = Machine.replay(log);
  assert.equal(r.stateHash, m.stateHash());
  assert.equal(r.instructionCount, 5000);
  assert.ok(r.checkpoints >= 5);
  assert.throws(() => Machine.replay(log, undefined, undefined, undefined, 0), { name: "ReplayDivergence" });
  assert.throws(() => Machine.replay(new Uint8Array(10)), { name: "ReplayError" });
});

test("bad input throws named errors", () => {
  const m = new Machine({ memory: "16M" });
  assert.throws(() => m.loadLinux(new Uint8Array(100)), { name: "ImageError" });
  assert.throws(() => Machine.fromBytes(new Uint8Array([1, 2, 3])), { name: "SnapshotError" });
  const data = machine(SPIN).snapshot(false);
  const flipped = data.slice();
  flipped[200] ^= 1;
  assert.throws(() => Machine.fromBytes(flipped), { name: "SnapshotError" });
  assert.throws(() => Machine.fromBytes(data.slice(0, data.length / 2)), { name: "SnapshotError" });
  assert.throws(() => new Machine({ memory: "lots" }), { name: "ConfigError" });
  assert.throws(() => m.readPhys(16 * 2 ** 20 - 2, 4), { name: "GuestFault" });
  m.regs.cr3 = 0x1000;
  m.regs.cr0 = 0x80000011;
  const w = m.translate(0x400000);
  assert.equal(w.fault, "not_present");
  assert.deepEqual(w.steps.map((s) => s.entryAddress), [0x1004]);
  assert.throws(() => m.readVirt(0x400000, 4), { name: "GuestFault" });
});
