"""vx86 and Unicorn (PyPI) side by side on the same bare-metal loop, in one run.

    python bindings-python/bench/bench_vs_unicorn.py [--loops N]

The loop, 16-bit real mode at 0x7C00 (the same bytes in both):

    mov ecx, N
    L: inc ax ; add bx, ax ; mov [0x600], bx ; dec ecx ; jnz L
    hlt

Measured: instructions per second with no hooks; the cost per instruction with one Python code
hook called on every instruction; and the latency of a single step from Python (vx86 `step()`,
Unicorn `emu_start(pc, end, count=1)` plus reading the instruction pointer back). Each figure
is the best of a few repetitions (wall clock, `time.perf_counter`). Figures, never thresholds:
this prints, it does not judge.
"""

import argparse
import time

import vx86

try:
    import unicorn
    from unicorn import x86_const as X
except ImportError:  # pragma: no cover - the setup installs it
    unicorn = None

ADDRESS = 0x7C00


def loop_code(n):
    body = bytes.fromhex("40 01c3 891e0006 6649 75f5")
    return bytes.fromhex("66b9") + n.to_bytes(4, "little") + body + b"\xf4"


def end_address(n):
    return ADDRESS + len(loop_code(n)) - 1  # the HLT


def instructions(n):
    return 1 + 5 * n  # mov ecx + 5 per pass (hlt not counted)


def best(f, reps=3):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


# --- vx86 ------------------------------------------------------------------------------


def vx86_machine(n):
    m = vx86.Machine(memory="16M")
    m.load_flat(loop_code(n), address=ADDRESS)
    return m


def vx86_run(n):
    m = vx86_machine(n)

    def go():
        m.load_flat(loop_code(n), address=ADDRESS)
        e = m.run(until=end_address(n))
        assert e.reason == "until" and e.instructions == instructions(n), e

    return best(go)


def vx86_hooked(n):
    m = vx86_machine(n)
    calls = [0]

    def on_code(address):
        calls[0] += 1

    m.hook_code(0, 0xFFFFFFFF, on_code)

    def go():
        calls[0] = 0
        m.load_flat(loop_code(n), address=ADDRESS)
        e = m.run(until=end_address(n))
        assert e.reason == "until" and calls[0] == instructions(n), (e, calls)

    return best(go)


def vx86_steps(k):
    m = vx86_machine(1 << 30)

    def go():
        for _ in range(k):
            m.step()

    return best(go)


# --- Unicorn ---------------------------------------------------------------------------


def uc_machine(n):
    uc = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_16)
    uc.mem_map(0, 1 << 20)
    uc.mem_write(ADDRESS, loop_code(n))
    return uc


def uc_run(n):
    uc = uc_machine(n)

    def go():
        uc.reg_write(X.UC_X86_REG_ECX, 0)
        uc.emu_start(ADDRESS, end_address(n))
        assert uc.reg_read(X.UC_X86_REG_ECX) == 0

    return best(go)


def uc_hooked(n):
    uc = uc_machine(n)
    calls = [0]

    def on_code(uc_, address, size, user):
        calls[0] += 1

    uc.hook_add(unicorn.UC_HOOK_CODE, on_code)

    def go():
        calls[0] = 0
        uc.emu_start(ADDRESS, end_address(n))
        # Unicorn also calls the hook for the instruction at `until`? count what it did
        assert calls[0] >= instructions(n), calls

    return best(go)


def uc_steps(k):
    uc = uc_machine(1 << 30)
    end = end_address(1 << 30)

    def go():
        pc = ADDRESS
        for _ in range(k):
            uc.emu_start(pc, end, count=1)
            pc = uc.reg_read(X.UC_X86_REG_IP)

    return best(go)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--loops", type=int, default=2_000_000, help="passes of the loop, no hooks")
    p.add_argument("--hooked-loops", type=int, default=100_000, help="passes with a code hook")
    p.add_argument("--steps", type=int, default=100_000, help="single steps")
    a = p.parse_args()
    n, h, k = a.loops, a.hooked_loops, a.steps
    rows = []

    t = vx86_run(n)
    vx_ips = instructions(n) / t
    t = vx86_hooked(h)
    vx_hook = t / instructions(h) * 1e9
    t = vx86_steps(k)
    vx_step = t / k * 1e6
    if unicorn is not None:
        uc_ips = instructions(n) / uc_run(n)
        uc_hook = uc_hooked(h) / instructions(h) * 1e9
        uc_step = uc_steps(k) / k * 1e6
    else:
        uc_ips = uc_hook = uc_step = float("nan")

    rows.append(("instructions/s, no hooks", f"{vx_ips / 1e6:.1f} M/s", f"{uc_ips / 1e6:.1f} M/s", vx_ips / uc_ips))
    rows.append(("ns per instruction, Python code hook on each", f"{vx_hook:.0f} ns", f"{uc_hook:.0f} ns", uc_hook / vx_hook))
    rows.append(("step() from Python", f"{vx_step:.2f} µs", f"{uc_step:.2f} µs", uc_step / vx_step))
    uc_version = unicorn.__version__ if unicorn else "not installed"
    from importlib.metadata import version

    print(f"vx86 {version('vx86')} vs Unicorn {uc_version}; loop of {instructions(n)} instructions")
    print(f"{'what':48} {'vx86':>14} {'Unicorn':>14} {'vx86 advantage':>15}")
    for what, v, u, ratio in rows:
        print(f"{what:48} {v:>14} {u:>14} {ratio:>14.2f}x")


if __name__ == "__main__":
    main()
