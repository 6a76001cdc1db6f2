"""Bad input raises typed exceptions with clear messages."""

import pytest

import vx86


def test_bad_images():
    m = vx86.Machine(memory="16M")
    with pytest.raises(vx86.ImageError, match="bad image"):
        m.load_linux(b"this is not a bzImage" * 100)
    with pytest.raises(vx86.ImageError):
        m.load_multiboot(b"\x7fELF junk")
    with pytest.raises(vx86.ImageError, match="no-such-kernel"):
        m.load_linux("/no-such-kernel")
    with pytest.raises(vx86.ImageError):
        m.load_flat(b"\x90" * 64, address=(16 << 20) - 32, entry=0x7C00)
    with pytest.raises(vx86.ConfigError, match="16 bits"):
        m.load_flat(b"\x90", address=0x10000)
    with pytest.raises(vx86.ConfigError, match="bytes-like"):
        m.load_flat("a string")


def test_a_corrupt_kernel_payload_is_refused_by_the_direct_entry(guest_images):
    kernel = bytearray(guest_images[0].read_bytes())
    setup = (kernel[0x1F1] + 1) * 512
    offset = int.from_bytes(kernel[0x248:0x24C], "little")
    at = setup + offset + 4096  # inside the xz stream, past its headers
    kernel[at : at + 64] = bytes(64)
    m = vx86.Machine(memory="256M")
    with pytest.raises(vx86.ImageError, match="xz payload"):
        m.load_linux(bytes(kernel), direct_kernel=True)


def test_bad_configuration():
    with pytest.raises(vx86.ConfigError, match="lots"):
        vx86.Machine(memory="lots")
    with pytest.raises(vx86.ConfigError):
        vx86.Machine(memory=12345)  # not a multiple of 4 KiB
    with pytest.raises(vx86.ConfigError):
        vx86.Machine(cpu_hz=0)
    assert vx86.Machine(memory="16MiB").memory == 16 << 20
    assert vx86.Machine(memory=8 << 20).memory == 8 << 20


def test_memory_outside_ram_and_unmapped_pages_are_guest_faults():
    m = vx86.Machine(memory="16M")
    with pytest.raises(vx86.GuestFault) as info:
        m.read_phys((16 << 20) - 2, 4)
    assert info.value.address == (16 << 20) - 2
    with pytest.raises(vx86.GuestFault):
        m.write_phys(1 << 40, b"x")
    # protected mode with paging and an empty page directory at 0x1000
    m.regs.cr3 = 0x1000
    m.regs.cr0 = 0x80000011
    w = m.translate(0x40_0000)
    assert w.fault == "not_present" and w.physical is None
    assert [s.entry_address for s in w.steps] == [0x1004]
    with pytest.raises(vx86.GuestFault) as info:
        m.read_virt(0x40_0000, 4)
    assert info.value.address == 0x40_0000


def test_every_error_is_a_vx86_error():
    for cls in (
        vx86.ConfigError,
        vx86.ImageError,
        vx86.SnapshotError,
        vx86.ReplayError,
        vx86.ReplayDivergence,
        vx86.GuestFault,
        vx86.UnsupportedInstruction,
        vx86.MachineBusy,
        vx86.SerialTimeout,
    ):
        assert issubclass(cls, vx86.Error)
    assert issubclass(vx86.SerialTimeout, TimeoutError)
    assert issubclass(vx86.ConfigError, ValueError)
