"""Hooks with filters: I/O (changing what the guest reads), code, interrupts, CR3, decorators,
stop(), exceptions from callbacks, MachineBusy."""

import threading

import pytest

import vx86
from programs import COUNT_LOOP, INT21_HANDLER, INTERRUPTS, READ_PORT, SPIN, load


def machine(code, handler=None):
    m = vx86.Machine(memory="16M")
    load(m, code, handler)
    return m


def test_io_hook_changes_what_the_guest_reads():
    m = machine(READ_PORT)
    seen = []

    def on_io(port, size, is_write, value):
        seen.append((port, size, is_write, value))
        if not is_write:
            return 0x42

    m.hook_io(ports=0x99, callback=on_io)
    assert m.run().reason == "halted"
    assert seen == [(0x99, 1, False, 0xFF)], "only the filtered port, and what the device said"
    assert m.read_phys(0x600, 1) == b"\x42"
    assert m.debug_output() == b"\x42"


def test_io_hook_filters_and_decorator():
    m = machine(READ_PORT)
    calls = []

    @m.hook_io(ports=[range(0x90, 0x99), 0xE9])
    def on_io(port, size, is_write, value):
        calls.append((port, is_write, value))

    assert isinstance(on_io, vx86.Hook) and on_io.kind == "io"
    assert on_io.ranges == [(0x90, 0x98), (0xE9, 0xE9)]
    m.run()
    assert calls == [(0xE9, True, 0xFF)], "port 0x99 is outside the filter"
    assert on_io.remove() and not on_io.remove()


def test_code_hook_sees_registers_and_can_stop():
    m = machine(COUNT_LOOP)
    trace = []

    def on_code(address):
        trace.append((address, m.regs.ax))
        if len(trace) == 3:
            m.stop()

    m.hook_code(0x7C06, callback=on_code)
    e = m.run()
    assert e.reason == "hook" and e.eip == 0x7C06
    assert trace == [(0x7C06, 0x1234), (0x7C06, 0x1235), (0x7C06, 0x1236)]
    # the instruction the hook stopped at runs next, without calling the hook again for it
    m.step()
    assert m.regs.ax == 0x1237 and len(trace) == 3


def test_code_hook_can_change_the_state():
    m = machine(COUNT_LOOP)
    # at `mov al, 'K'`: jump over it with AL = 'Q'
    def patch(address):
        m.regs.al = ord("Q")
        m.regs.eip = 0x7C0C

    m.hook_code(0x7C0A, 0x7C0A, patch)
    m.run()
    assert m.debug_output() == b"Q"


def test_interrupt_and_cr3_hooks():
    m = machine(INTERRUPTS, INT21_HANDLER)
    events = []
    m.hook_interrupt(vectors=0x21, callback=lambda v, ext: events.append(("int", v, ext, m.regs.eip)))
    m.hook_cr3(callback=lambda old, new: events.append(("cr3", old, new)))
    m.regs.eax = 0x5000
    m.run()
    assert events == [
        ("int", 0x21, False, 0x7E00),
        ("int", 0x21, False, 0x7E00),
        ("cr3", 0, 0x5000),
    ]
    assert m.regs.cx == 2


def test_a_raising_callback_stops_the_run_and_re_raises():
    m = machine(SPIN)

    class Boom(Exception):
        pass

    def on_io(*_):
        raise Boom("from the hook")

    # the SPIN loop does no I/O: use a code hook, then an I/O hook on another program
    def on_code(address):
        if m.instruction_count >= 100:
            raise Boom("at %#x" % address)

    h = m.hook_code(0x7C00, 0x7C10, on_code)
    with pytest.raises(Boom, match="at 0x7c0"):
        m.run(10_000)
    n = m.instruction_count
    assert n == 100
    h.remove()
    assert m.run(10).instructions == 10, "the machine runs on after the exception"

    m2 = machine(READ_PORT)
    m2.hook_io(0x99, on_io)
    with pytest.raises(Boom):
        m2.run()
    assert m2.regs.eip == 0x7C02, "stopped after the IN"


def test_machine_is_busy_inside_an_io_hook():
    m = machine(READ_PORT)
    errors = []

    def on_io(port, size, is_write, value):
        try:
            m.regs.eax  # noqa: B018
        except vx86.MachineBusy as e:
            errors.append(e)

    m.hook_io(0x99, on_io)
    m.run()
    assert len(errors) == 1


def test_the_gil_is_released_while_the_guest_runs():
    m = machine(SPIN)
    done = threading.Event()
    result = {}

    def worker():
        result["exit"] = m.run(100_000_000)
        done.set()

    t = threading.Thread(target=worker)
    t.start()
    spins, busy = 0, 0
    while not done.is_set():
        spins += 1
        if spins % 1000 == 0:
            try:
                m.instruction_count  # noqa: B018
            except vx86.MachineBusy:
                busy += 1
    t.join()
    assert result["exit"].instructions == 100_000_000
    # this thread kept running Python while the other one ran the guest
    assert spins > 10_000 and busy > 0


def test_bad_hook_arguments():
    m = machine(SPIN)
    with pytest.raises(vx86.ConfigError):
        m.hook_io(ports=0x10000, callback=print)
    with pytest.raises(vx86.ConfigError):
        m.hook_io(ports=[], callback=print)
    with pytest.raises(vx86.ConfigError):
        m.hook_interrupt(vectors=range(0, 300, 2), callback=print)
    with pytest.raises(vx86.ConfigError):
        m.hook_code(0x7C00, callback=42)
