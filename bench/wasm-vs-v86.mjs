// Boot time to BOOT-OK in Node, side by side in one run: vx86 (bindings-wasm/pkg-node, an
// interpreter with a block cache) and v86 (npm `v86`, with its JIT), the same Debian guest of
// guests/build.sh and the same kernel command line. v86 boots through SeaBIOS (Debian's
// `seabios` package, which bench/wasm-vs-v86.sh fetches); vx86 loads the kernel itself, once
// entering the bzImage (its decompressor runs in the guest, as in v86) and once with the direct
// kernel entry (the host decompresses the kernel; the guest starts in the kernel proper).
// Prints the wall times and both ratios; judges nothing.
//
//   bench/wasm-vs-v86.sh            (builds what is missing, then runs this)
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const KERNEL = join(ROOT, "guests/out/bzImage");
const INITRD = join(ROOT, "guests/out/initrd.cpio.gz");
const SEABIOS = join(ROOT, ".cache/seabios/root/usr/share/seabios");
const CMDLINE = process.env.CMDLINE ?? "console=ttyS0 panic=-1 quiet cryptomgr.notests";
const TIMEOUT_S = 900;

function vx86(directKernel) {
  const { Machine } = createRequire(import.meta.url)(join(ROOT, "bindings-wasm/pkg-node/vx86_wasm.js"));
  const t0 = performance.now();
  const m = new Machine({ memory: "256M" });
  m.loadLinux(readFileSync(KERNEL), readFileSync(INITRD), CMDLINE, directKernel);
  m.waitSerial("BOOT-OK", 50e9);
  return { seconds: (performance.now() - t0) / 1000, instructions: m.instructionCount };
}

async function v86() {
  const { V86 } = await import(join(ROOT, "bench/node_modules/v86/build/libv86.mjs"));
  const buf = (p) => { const b = readFileSync(p); return b.buffer.slice(b.byteOffset, b.byteOffset + b.length); };
  const t0 = performance.now();
  const e = new V86({
    wasm_path: join(ROOT, "bench/node_modules/v86/build/v86.wasm"),
    memory_size: 256 * 1024 * 1024,
    bios: { buffer: buf(join(SEABIOS, "bios.bin")) },
    vga_bios: { buffer: buf(join(SEABIOS, "vgabios-stdvga.bin")) },
    bzimage: { buffer: buf(KERNEL) },
    initrd: { buffer: buf(INITRD) },
    cmdline: CMDLINE,
    autostart: true,
  });
  return new Promise((resolve, reject) => {
    let tail = "";
    const timer = setTimeout(() => reject(new Error(`v86: no BOOT-OK in ${TIMEOUT_S} s`)), TIMEOUT_S * 1000);
    e.add_listener("serial0-output-byte", (b) => {
      tail = (tail + String.fromCharCode(b)).slice(-16);
      if (tail.includes("BOOT-OK")) {
        clearTimeout(timer);
        const seconds = (performance.now() - t0) / 1000;
        e.destroy?.();
        resolve({ seconds });
      }
    });
  });
}

console.log(`guest: ${KERNEL} + ${INITRD}, cmdline "${CMDLINE}", 256 MiB`);
const report = (what, r) => console.log(`vx86 (wasm, Node ${process.version}, ${what}): BOOT-OK after ${r.seconds.toFixed(1)} s, ${r.instructions} instructions (${(r.instructions / r.seconds / 1e6).toFixed(1)} M/s)`);
const a = vx86(false);
report("decompressor in the guest", a);
const d = vx86(true);
report("direct kernel entry", d);
const b = await v86();
console.log(`v86 ${createRequire(import.meta.url)(join(ROOT, "bench/node_modules/v86/package.json")).version} (wasm + JIT, decompressor in the guest): BOOT-OK after ${b.seconds.toFixed(1)} s`);
console.log(`vx86 / v86 boot time, both decompressing in the guest: ${(a.seconds / b.seconds).toFixed(2)}`);
console.log(`vx86 with the direct kernel entry / v86: ${(d.seconds / b.seconds).toFixed(2)}`);
process.exit(0);
