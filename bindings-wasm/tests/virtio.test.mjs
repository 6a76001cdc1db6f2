// The virtio devices from JS (pkg-node), driven by a guest driver written from the
// specification (Virtio 1.2, 4.1): real-mode code interprets a table of port operations,
// and every access to a function's BAR goes through its VIRTIO_PCI_CAP_PCI_CFG window in PCI
// configuration space (the same driver as bindings-python/tests/virtio_driver.py). Covers
// the devices in config space, disk reads and writes, console and network data both ways,
// NetLink, the balloon, snapshots and replay with disks, and the errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const { Machine, NetLink } = createRequire(import.meta.url)("../pkg-node/vx86_wasm.js");
const hex = (s) => Uint8Array.from(Buffer.from(s.replace(/ /g, ""), "hex"));
const text = (u8) => Buffer.from(u8).toString("latin1");

// 7C00 mov si, 0x8000; next: mov dx, [si]; mov cx, [si+2]; mov eax, [si+4]; jcxz out;
// dec cx; jnz end; in eax, dx; mov [si+4], eax; add si, 8; jmp next;
// out: out dx, eax; add si, 8; jmp next; end: hlt
const PORT_SCRIPT = hex("be0080 8b14 8b4c02 668b4404 e30e 49 7512 66ed 66894404 83c608 ebe7 66ef 83c608 ebe0 f4");
const TABLE = 0x8000;
const [WINDOW_OFFSET, WINDOW_LENGTH, WINDOW_DATA] = [0x9c, 0xa0, 0xa4];
const [NOTIFY, DEVICE, QSIZE] = [0x1000, 0x0c00, 16];
const OK_STATUS = 0x0f; // ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK
const VENDOR = 0x1af4;

const cfgAddress = (bdf, reg) => (0x80000000 | (bdf << 8) | (reg & 0xfc)) >>> 0;

/** A table of port operations the guest carries out (reads return their index). */
class Ports {
  constructor() { this.ops = []; }
  out(port, value) { this.ops.push([port, 0, value >>> 0]); }
  read(port) { this.ops.push([port, 1, 0]); return this.ops.length - 1; }
  cfgWrite(bdf, reg, value) { this.out(0xcf8, cfgAddress(bdf, reg)); this.out(0xcfc, value); }
  cfgRead(bdf, reg) { this.out(0xcf8, cfgAddress(bdf, reg)); return this.read(0xcfc); }
  run(m) {
    const table = Buffer.alloc(8 * (this.ops.length + 1));
    this.ops.forEach(([port, op, v], i) => {
      table.writeUInt16LE(port, 8 * i);
      table.writeUInt16LE(op, 8 * i + 2);
      table.writeUInt32LE(v, 8 * i + 4);
    });
    table.writeUInt16LE(2, 8 * this.ops.length + 2);
    m.loadFlat(PORT_SCRIPT, 0x7c00);
    m.writePhys(TABLE, table);
    assert.equal(m.run(20 * this.ops.length + 100).reason, "halted");
    const raw = Buffer.from(m.readPhys(TABLE, table.length));
    return this.ops.map((_, i) => raw.readUInt32LE(8 * i + 4));
  }
}

function pciIds(m, slots) {
  const p = new Ports();
  const idx = slots.map((s) => p.cfgRead(s << 3, 0));
  const v = p.run(m);
  return idx.map((i) => v[i]);
}

/** The driver side of the virtio function in PCI slot `slot`. */
class Device {
  constructor(m, slot) { Object.assign(this, { m, slot, bdf: slot << 3 }); }
  barWrite(p, off, size, v) {
    p.cfgWrite(this.bdf, WINDOW_OFFSET, off);
    p.cfgWrite(this.bdf, WINDOW_LENGTH, size);
    p.cfgWrite(this.bdf, WINDOW_DATA, v);
  }
  barRead(p, off, size) {
    p.cfgWrite(this.bdf, WINDOW_OFFSET, off);
    p.cfgWrite(this.bdf, WINDOW_LENGTH, size);
    return p.cfgRead(this.bdf, WINDOW_DATA);
  }
  ring(q) { return 0x100000 + this.slot * 0x10000 + q * 0x1000; }
  buffer(q) { return 0x200000 + this.slot * 0x10000 + q * 0x1000; }
  init(queues) {
    const p = new Ports();
    this.barWrite(p, 0x14, 1, 0);
    this.barWrite(p, 0x14, 1, 3);
    for (const [select, value] of [[1, 1], [0, 0]]) { // VERSION_1 only
      this.barWrite(p, 0x08, 4, select);
      this.barWrite(p, 0x0c, 4, value);
    }
    this.barWrite(p, 0x14, 1, 0x0b);
    for (let q = 0; q < queues; q++) {
      this.barWrite(p, 0x16, 2, q);
      this.barWrite(p, 0x18, 2, QSIZE);
      for (const [off, add] of [[0x20, 0], [0x28, 0x400], [0x30, 0x800]]) {
        this.barWrite(p, off, 4, this.ring(q) + add);
        this.barWrite(p, off + 4, 4, 0);
      }
      this.barWrite(p, 0x1c, 2, 1);
    }
    this.barWrite(p, 0x14, 1, OK_STATUS);
    const status = this.barRead(p, 0x14, 1);
    return p.run(this.m)[status] & 0xff;
  }
  /** Puts a chain of [data or length, writable] buffers on queue q and notifies. */
  post(q, buffers) {
    const { m } = this;
    const ring = this.ring(q);
    let addr = this.buffer(q);
    const addrs = [];
    buffers.forEach(([data, writable], i) => {
      const len = typeof data === "number" ? data : data.length;
      if (typeof data !== "number") m.writePhys(addr, data);
      const d = Buffer.alloc(16);
      d.writeBigUInt64LE(BigInt(addr), 0);
      d.writeUInt32LE(len, 8);
      d.writeUInt16LE((writable ? 2 : 0) | (i + 1 < buffers.length ? 1 : 0), 12);
      d.writeUInt16LE(i + 1, 14);
      m.writePhys(ring + 16 * i, d);
      addrs.push(addr);
      addr += (len + 15) & ~15;
    });
    const idx = Buffer.from(m.readPhys(ring + 0x402, 2)).readUInt16LE(0);
    m.writePhys(ring + 0x404 + 2 * (idx % QSIZE), new Uint8Array(2));
    const next = Buffer.alloc(2);
    next.writeUInt16LE((idx + 1) & 0xffff);
    m.writePhys(ring + 0x402, next);
    const p = new Ports();
    this.barWrite(p, NOTIFY + 4 * q, 2, q);
    p.run(m);
    return addrs;
  }
  /** [used index, length of the latest used element]. */
  used(q) {
    const ring = this.ring(q);
    const idx = Buffer.from(this.m.readPhys(ring + 0x802, 2)).readUInt16LE(0);
    const e = Buffer.from(this.m.readPhys(ring + 0x804 + 8 * ((idx - 1) % QSIZE), 8));
    return [idx, e.readUInt32LE(4)];
  }
  configRead(off) {
    const p = new Ports();
    const i = this.barRead(p, DEVICE + off, 4);
    return p.run(this.m)[i];
  }
}

/** A virtio-blk request (kind 0: read 512 bytes, 1: write `data`) → [status, data read]. */
function blk(dev, kind, sector, data) {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(kind, 0);
  h.writeBigUInt64LE(BigInt(sector), 8);
  const a = dev.post(0, [[h, false], [kind === 1 ? data : 512, kind === 0], [1, true]]);
  return [dev.m.readPhys(a[2], 1)[0], kind === 0 ? dev.m.readPhys(a[1], 512) : null];
}

const image = (sectors) => Uint8Array.from({ length: sectors * 512 }, (_, i) => (i * 7 + (i >> 9)) & 0xff);
const frame = (payload) => {
  const f = new Uint8Array(60);
  f.set(hex("ffffffffffff 525400123456 88b5"));
  f.set(Buffer.from(payload), 14);
  return f;
};

test("each device is a PCI function from slot 2, in order", () => {
  const m = new Machine({
    memory: "16M", disks: [image(16), { image: image(8), readOnly: true }], net: "02:00:00:aa:bb:cc",
    virtioConsole: true, rng: true, balloon: true,
  });
  const ids = pciIds(m, [2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(ids, [...[2, 2, 1, 3, 4, 5].map((d) => (((0x1040 + d) << 16) | VENDOR) >>> 0), 0xffffffff]);
  assert.deepEqual(pciIds(new Machine({ memory: "16M" }), [2]), [0xffffffff]);
  assert.deepEqual(m.disks.map((d) => [d.size, d.readOnly]), [[8192, false], [4096, true]]);
  assert.equal(new Device(m, 4).configRead(0), 0xaa000002, "the MAC address in config space");
});

test("disk reads and writes, diskContents and takeDiskWrites", () => {
  const img = image(16);
  const m = new Machine({ memory: "16M", disks: [img, { image: img, readOnly: true }] });
  const [disk, ro] = [new Device(m, 2), new Device(m, 3)];
  assert.equal(disk.init(1), OK_STATUS);
  assert.equal(ro.init(1), OK_STATUS);
  const [status, data] = blk(disk, 0, 3);
  assert.equal(status, 0);
  assert.deepEqual(data, img.slice(1536, 2048));
  assert.equal(blk(disk, 1, 2, new Uint8Array(512).fill(0x57))[0], 0);
  const contents = m.diskContents(0);
  assert.deepEqual(contents.slice(1024, 1536), new Uint8Array(512).fill(0x57));
  assert.deepEqual(contents.slice(1536), img.slice(1536));
  const writes = m.takeDiskWrites(0);
  assert.equal(writes.length, 1);
  assert.equal(writes[0][0], 0);
  assert.deepEqual(writes[0][1], contents.slice(0, 4096));
  assert.deepEqual(m.takeDiskWrites(0), []);
  assert.equal(blk(ro, 1, 0, new Uint8Array(512))[0], 1, "a read-only disk: IOERR");
  assert.deepEqual(m.diskContents(1), img);
  assert.throws(() => m.diskContents(2), { name: "ConfigError" });
});

test("console both ways, waitConsole and ConsoleTimeout", () => {
  const m = new Machine({ memory: "16M", virtioConsole: true });
  const con = new Device(m, 2);
  assert.equal(m.virtioConsoleReady(), false);
  assert.equal(con.init(2), OK_STATUS);
  assert.equal(m.virtioConsoleReady(), true);
  con.post(1, [[Buffer.from("hello from hvc0\n"), false]]);
  con.post(1, [[Buffer.from("second\n"), false]]);
  assert.equal(text(m.waitConsole("hvc0")), "hello from hvc0");
  assert.equal(text(m.consoleOutput()), "\nsecond\n");
  assert.throws(() => m.waitConsole("never", 1000), (e) => e.name === "ConsoleTimeout" && e.exit.reason === "halted");
  const [addr] = con.post(0, [[64, true]]);
  m.sendConsole("typed");
  assert.deepEqual(con.used(0), [1, 5]);
  assert.equal(text(m.readPhys(addr, 5)), "typed");
  assert.throws(() => new Machine({ memory: "16M" }).sendConsole("x"), { name: "ConfigError" });
});

test("network frames both ways and their errors", () => {
  const m = new Machine({ memory: "16M", net: true });
  const net = new Device(m, 2);
  assert.equal(net.init(2), OK_STATUS);
  const out = frame("from the guest");
  net.post(1, [[Buffer.concat([Buffer.alloc(12), out]), false]]);
  assert.deepEqual(m.takeNetFrames(), [out]);
  assert.deepEqual(m.takeNetFrames(), []);
  const [addr] = net.post(0, [[12 + 1518, true]]);
  const inbound = frame("to the guest");
  m.sendNetFrame(inbound);
  assert.deepEqual(net.used(0), [1, 12 + 60]);
  assert.deepEqual(m.readPhys(addr + 12, 60), inbound);
  assert.throws(() => m.sendNetFrame(new Uint8Array(5)), { name: "ConfigError" });
  for (let i = 0; i < 256; i++) m.sendNetFrame(inbound);
  assert.throws(() => m.sendNetFrame(inbound), /256/);
  assert.throws(() => new Machine({ memory: "16M" }).sendNetFrame(inbound), { name: "ConfigError" });
});

test("NetLink carries frames between two machines", () => {
  const [a, b] = [new Machine({ memory: "16M", net: true }), new Machine({ memory: "16M", net: true, seed: 1 })];
  const [na, nb] = [new Device(a, 2), new Device(b, 2)];
  na.init(2);
  nb.init(2);
  const [addr] = nb.post(0, [[12 + 1518, true]]);
  const link = new NetLink(a, b, 100_000);
  const start = link.nowNs;
  const f = frame("over the cable");
  na.post(1, [[Buffer.concat([Buffer.alloc(12), f]), false]]);
  const [ea, eb] = link.step();
  assert.deepEqual([ea.reason, eb.reason], ["halted", "halted"]);
  assert.equal(link.nowNs, start + 100_000);
  assert.deepEqual(link.delivered, [1, 0]);
  assert.equal(link.dropped, 0);
  assert.deepEqual(nb.used(0), [1, 12 + 60]);
  assert.deepEqual(b.readPhys(addr + 12, 60), f);
  assert.throws(() => new NetLink(a, a), { name: "ConfigError" });
  const h = a.hookCode(0x7c00, undefined, () => {});
  assert.throws(() => link.step(), { name: "ConfigError" });
  h.remove();
  // two idle machines (sti; hlt; jmp $-3) reach each quantum
  const [x, y] = [new Machine({ memory: "16M", net: true }), new Machine({ memory: "16M", net: true })];
  x.loadFlat(hex("fb f4 ebfd"));
  y.loadFlat(hex("fb f4 ebfd"));
  const idle = new NetLink(x, y);
  for (let i = 0; i < 3; i++) {
    const exits = idle.step();
    assert.ok(exits.every((e) => ["idle", "halted"].includes(e.reason)), JSON.stringify(exits));
  }
  assert.ok(idle.nowNs >= 3e6);
  assert.equal(x.stateHash(), y.stateHash());
});

test("balloon", () => {
  const m = new Machine({ memory: "16M", balloon: true });
  assert.deepEqual(m.balloonStatus(), { target: 0, actual: 0, pagesGivenBack: 0 });
  const bal = new Device(m, 2);
  bal.init(2);
  m.setBalloonTarget(100);
  assert.equal(m.balloonStatus().target, 100);
  assert.equal(bal.configRead(0), 100, "num_pages, as the driver reads it");
  const plain = new Machine({ memory: "16M" });
  assert.equal(plain.balloonStatus(), undefined);
  assert.throws(() => plain.setBalloonTarget(1), { name: "ConfigError" });
});

test("snapshots, restore and replay of a machine with disks", () => {
  const img = image(16);
  const m = new Machine({ memory: "16M", disks: [img], virtioConsole: true });
  const [disk, con] = [new Device(m, 2), new Device(m, 3)];
  disk.init(1);
  con.init(2);
  blk(disk, 1, 5, new Uint8Array(512).fill(0x53));
  const snap = m.snapshot();
  const twin = Machine.fromBytes(snap, [img]);
  assert.equal(twin.stateHash(), m.stateHash());
  assert.deepEqual(twin.diskContents(0), m.diskContents(0));
  assert.throws(() => Machine.fromBytes(snap), { name: "SnapshotError" });
  assert.throws(() => Machine.fromBytes(snap, [img.slice().reverse()]), { name: "ImageError" });
  blk(disk, 1, 6, new Uint8Array(512).fill(0x54));
  m.restore(snap);
  assert.equal(m.stateHash(), twin.stateHash(), "restored in place onto its own image");
  // a recording with console input replays with the disk image
  con.post(0, [[64, true]]);
  m.record(10);
  m.sendConsole("replayed input");
  m.run(50);
  const log = m.stopRecording();
  const r = Machine.replay(log, undefined, undefined, [img]);
  assert.equal(r.stateHash, m.stateHash());
  assert.equal(text(r.machine.readPhys(con.buffer(0), 14)), "replayed input");
  assert.throws(() => Machine.replay(log), { name: "ReplayError" });
  assert.throws(() => Machine.replay(log, undefined, undefined, [img.slice().reverse()]), { name: "ReplayError" });
});

test("bad disks and device options throw named errors", () => {
  assert.throws(() => new Machine({ memory: "16M", disks: [new Uint8Array(1000)] }), { name: "ImageError" });
  assert.throws(() => new Machine({ memory: "16M", disks: [new Uint8Array(0)] }), { name: "ImageError" });
  assert.throws(() => new Machine({ memory: "16M", disks: [{ readOnly: true }] }), { name: "ConfigError" });
  assert.throws(() => new Machine({ memory: "16M", disks: new Uint8Array(512) }), { name: "ConfigError" });
  assert.throws(() => new Machine({ memory: "16M", net: "52:54:00:12:34" }), { name: "ConfigError" });
  assert.throws(() => new Machine({ memory: "16M", net: 5 }), { name: "ConfigError" });
  const m = new Machine({ memory: "16M" });
  assert.deepEqual([m.disks, m.virtioErrors(), m.takeNetFrames(), m.virtioConsoleReady()], [[], [], [], false]);
});
