"""A bare-metal program run step by step, registers read and written, memory, breakpoints,
run(until=...), exits."""

import pytest

import vx86
from programs import COUNT_LOOP, SPIN, load


def machine(code=COUNT_LOOP):
    m = vx86.Machine(memory="16M")
    load(m, code)
    return m


def test_step_by_step_registers():
    m = machine()
    assert (m.regs.eip, m.regs.cs, m.instruction_count) == (0x7C00, 0, 0)
    e = m.step()
    assert (e.reason, e.instructions, e.eip, e.rip) == ("budget", 1, 0x7C03, 0x7C03)
    assert m.regs.ax == 0x1234 and m.regs.ah == 0x12 and m.regs.al == 0x34
    m.step()
    assert m.regs.bx == 5
    # five passes of inc ax / dec bx / jnz
    seen = []
    for _ in range(15):
        m.step()
        seen.append((m.regs.ip, m.regs.ax, m.regs.bx))
    assert seen[:3] == [(0x7C07, 0x1235, 5), (0x7C08, 0x1235, 4), (0x7C06, 0x1235, 4)]
    assert seen[-1] == (0x7C0A, 0x1239, 0)
    assert m.regs.eflags & 0x40, "ZF set by the last dec"
    assert m.instruction_count == 17


def test_run_to_the_halt_and_debug_output():
    m = machine()
    e = m.run()
    assert e.reason == "halted"
    assert e.instructions == 20 and e.instruction_count == 20
    assert e.eip == 0x7C0F
    assert m.debug_output() == b"K"
    assert m.debug_output() == b"", "consumed"
    assert m.regs.halted is True


def test_register_writes_change_the_run():
    m = machine()
    m.run(until=0x7C0A)
    m.regs.al = ord("X")  # skip the mov al, 'K' by moving EIP past it
    m.regs.eip = 0x7C0C
    m.run()
    assert m.debug_output() == b"X"
    m.regs.eax = -1
    assert m.regs.eax == 0xFFFFFFFF and m.regs.ax == 0xFFFF
    m.regs.ah = 0x12
    assert m.regs.eax == 0xFFFF12FF
    with pytest.raises(vx86.ConfigError, match="32-bit"):
        m.regs.eax = 1 << 32
    with pytest.raises(AttributeError):
        m.regs.rax = 1
    with pytest.raises(AttributeError):
        m.regs.nonsense  # noqa: B018
    m.regs.xmm3 = (1 << 127) | 5
    assert m.regs.xmm3 == (1 << 127) | 5
    m.regs.gdtr = (0x1000, 0x17)
    assert m.regs.gdtr == (0x1000, 0x17)
    assert set(m.regs.as_dict()) >= {"eax", "cs", "cr0", "xmm7", "st0", "gdtr"}


def test_real_mode_segment_writes_set_the_base():
    m = machine()
    m.regs.ds = 0x1234
    seg = m.segment("ds")
    assert (seg.selector, seg.base, seg.limit) == (0x1234, 0x12340, 0xFFFF)
    with pytest.raises(vx86.ConfigError):
        m.segment("xs")


def test_until_and_breakpoints():
    m = machine()
    e = m.run(until=0x7C07)
    assert (e.reason, e.eip, e.instructions) == ("until", 0x7C07, 3)
    m.add_breakpoint(0x7C08)
    assert m.breakpoints == [0x7C08]
    e = m.run()
    assert (e.reason, e.eip, e.instructions) == ("breakpoint", 0x7C08, 1)
    e = m.run()
    assert (e.reason, e.eip) == ("breakpoint", 0x7C08), "the next pass of the loop"
    assert m.remove_breakpoint(0x7C08) and not m.remove_breakpoint(0x7C08)
    assert m.run().reason == "halted"


def test_budget_and_memory():
    m = machine(SPIN)
    e = m.run(1000)
    assert (e.reason, e.instructions) == ("budget", 1000)
    assert m.read_phys(0x600, 2) == m.regs.bx.to_bytes(2, "little")
    m.write_phys(0x700, bytearray(b"\x01\x02"))
    assert m.read_phys(0x700, 2) == b"\x01\x02"
    m.write_phys(0x702, memoryview(b"\x03"))
    # paging is off: linear = physical
    assert m.read_virt(0x700, 3) == b"\x01\x02\x03"
    w = m.translate(0x700)
    assert (w.physical, w.fault, w.steps) == (0x700, None, [])


def test_msrs():
    m = machine()
    assert m.read_msr(0x1234) is None
    m.write_msr(0x174, 0x10)
    assert m.read_msr(0x174) == 0x10
    with pytest.raises(vx86.ConfigError):
        m.write_msr(0x1234, 0)


def test_same_program_same_hash_and_a_different_seed_differs_only_in_its_random_source():
    a, b = machine(SPIN), machine(SPIN)
    a.run(10_000)
    b.run(10_000)
    assert a.state_hash() == b.state_hash()
    b.step()
    assert a.state_hash() != b.state_hash()
    c = vx86.Machine(memory="16M", seed=7)
    load(c, SPIN)
    c.run(10_000)
    assert c.seed == 7 and c.state_hash() != a.state_hash()


def test_unsupported_instruction_stops_cleanly():
    # enter protected mode and jump to a 16-bit (286) TSS: a task switch vx86 does not
    # implement. 7C00 lgdt [0x7C20]; mov eax, cr0; or al, 1; mov cr0, eax; jmp 0x18:0; hlt
    code = bytes.fromhex("0f0116207c 0f20c0 0c01 0f22c0 ea00001800 f4")
    code = code.ljust(0x20, b"\x90") + bytes.fromhex("1f00 00100000")  # GDTR: limit, base
    m = machine(code)
    gdt = bytes(8) + bytes.fromhex("ffff0000009acf00 ffff00000092cf00 2b00002000810000")
    m.write_phys(0x1000, gdt)  # null, flat code, flat data, 16-bit TSS at 0x2000
    with pytest.raises(vx86.UnsupportedInstruction, match="16-bit TSS") as info:
        m.run(1000)
    assert (info.value.eip, info.value.mnemonic, info.value.bytes) == (0x7C0D, "jmp", "ea 00 00 18 00")
    # stopped on it, nothing of it done; the machine is still usable
    assert m.regs.eip == 0x7C0D and m.regs.cr0 & 1 and m.regs.cs == 0
    m.regs.eip = 0x7C12
    assert m.run(10).reason == "halted"
