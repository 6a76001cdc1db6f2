#!/usr/bin/env bash
# Early determinism check across hosts, before the wasm bindings exist: the Debian guest of
# guests/build.sh boots for N million instructions in a native build and in a wasm32 build of
# vx86-core run by Node; both print the instruction count and Machine::state_hash, which must be
# equal. The wasm toolchain: see toolchain.sh.
#
# Usage: bindings-wasm/scripts/native-vs-wasm.sh [MILLIONS]   (default 300; needs node)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$HERE/out
N=${1:-300}
mkdir -p "$OUT"
command -v node >/dev/null || { echo "native-vs-wasm: node is required" >&2; exit 1; }
[ -f "$ROOT/guests/out/bzImage" ] && [ -f "$ROOT/guests/out/initrd.cpio.gz" ] || bash "$ROOT/guests/build.sh"

# 1. a compiler for wasm32 (rustup's target or Debian's rustc-web; see toolchain.sh)
source "$HERE/toolchain.sh"

# 2. a throwaway crate around vx86-core: run(N) → "count hash"
CRATE=$OUT/crate
mkdir -p "$CRATE/src/bin"
cat > "$CRATE/Cargo.toml" <<TOML
[package]
name = "hashcheck"
version = "0.1.0"
edition = "2021"
[lib]
crate-type = ["cdylib", "rlib"]
[dependencies]
vx86-core = { path = "$ROOT/core" }
[profile.release]
panic = "abort"
[workspace]
TOML
cat > "$CRATE/src/lib.rs" <<RS
use vx86_core::{Machine, MachineConfig};
static KERNEL: &[u8] = include_bytes!("$ROOT/guests/out/bzImage");
static INITRD: &[u8] = include_bytes!("$ROOT/guests/out/initrd.cpio.gz");
static mut OUT: [u8; 96] = [0; 96];
pub fn run(n: u64) -> String {
    let config = MachineConfig { ram_size: 256 << 20, ..Default::default() };
    let mut m = Machine::new(config).expect("machine");
    m.load_linux(KERNEL, Some(INITRD), "console=ttyS0").expect("kernel");
    m.run(n).expect("run");
    format!("{} {}", m.instruction_count(), m.state_hash_hex())
}
#[no_mangle]
pub extern "C" fn run_hash(millions: u32) -> *const u8 {
    let s = run(millions as u64 * 1_000_000);
    // SAFETY: single-threaded wasm; the buffer is only read by the caller after return
    unsafe {
        let out = &mut *std::ptr::addr_of_mut!(OUT);
        out[..s.len()].copy_from_slice(s.as_bytes());
        out.as_ptr()
    }
}
RS
cat > "$CRATE/src/bin/native.rs" <<'RS'
fn main() {
    let n: u64 = std::env::args().nth(1).expect("millions").parse().expect("a number");
    println!("{}", hashcheck::run(n * 1_000_000));
}
RS
cat > "$CRATE/run.js" <<'JS'
const fs = require('fs');
WebAssembly.instantiate(fs.readFileSync(process.argv[2]), {}).then(({ instance }) => {
  const p = instance.exports.run_hash(parseInt(process.argv[3]));
  const out = new Uint8Array(instance.exports.memory.buffer, p, 96);
  console.log(Buffer.from(out).toString().replace(/\0+$/, ''));
});
JS

# 3. build and run both
native=$(cd "$CRATE" && cargo run -q --release --bin native -- "$N")
(cd "$CRATE" && env "${WASM_ENV[@]}" cargo build -q --lib --release --target wasm32-unknown-unknown \
    ${WASM_CARGO_FLAGS[@]+"${WASM_CARGO_FLAGS[@]}"})
wasm=$(node "$CRATE/run.js" "$CRATE/target/wasm32-unknown-unknown/release/hashcheck.wasm" "$N")
echo "native: $native"
echo "wasm:   $wasm"
[ "$native" = "$wasm" ] && echo "native-vs-wasm: identical" || { echo "native-vs-wasm: DIFFERENT" >&2; exit 1; }
