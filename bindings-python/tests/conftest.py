"""Shared fixtures: the Debian guest of guests/build.sh (built on first use) and one boot of it
to the shell, kept as a snapshot so each test starts from a booted machine in milliseconds."""

import pathlib
import subprocess

import pytest

import vx86

ROOT = pathlib.Path(__file__).resolve().parents[2]
GUESTS = ROOT / "guests" / "out"
# cryptomgr.notests: the kernel skips its crypto self-tests (≈3.7 G of the 6.4 G instructions
# to BOOT-OK; tests/tests/linux_boot.rs runs them)
CMDLINE = "console=ttyS0 panic=-1 quiet cryptomgr.notests"


@pytest.fixture(scope="session")
def guest_images():
    """(kernel path, initrd path) of the Debian i386 guest."""
    kernel, initrd = GUESTS / "bzImage", GUESTS / "initrd.cpio.gz"
    if not kernel.exists() or not initrd.exists():
        subprocess.run(["bash", str(ROOT / "guests" / "build.sh")], check=True)
    return kernel, initrd


@pytest.fixture(scope="session")
def booted_snapshot(guest_images):
    """A snapshot of the guest booted to its shell (BOOT-OK printed, prompt shown). The kernel
    is entered past its decompressor (decompressed by vx86), which saves ≈2.3 G instructions;
    tests/tests/linux_boot.rs boots through the decompressor."""
    kernel, initrd = guest_images
    m = vx86.Machine(memory="256M")
    m.load_linux(kernel, initrd, CMDLINE, direct_kernel=True)
    m.wait_serial("BOOT-OK", max_instructions=30_000_000_000)
    # the shell's prompt: the guest is waiting for input
    m.wait_serial("# ", max_instructions=2_000_000_000)
    return m.snapshot()


@pytest.fixture
def linux(booted_snapshot):
    """A fresh machine at the booted guest's shell."""
    return vx86.Machine.from_bytes(booted_snapshot.to_bytes())


def shell(m, command, marker, budget=5_000_000_000):
    """Types `command` at the guest's shell and returns the output up to `marker`."""
    m.send_serial(command + "\n")
    return m.wait_serial(marker, max_instructions=budget).decode(errors="replace")
