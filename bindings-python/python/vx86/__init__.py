"""vx86: a deterministic x86 PC for Python test harnesses.

Boot Linux or run bare-metal code, step it, hook ports, code addresses and interrupts, read
memory and page tables, checkpoint and restore in microseconds, snapshot to bytes, record and
replay; attach virtio devices (disks, network, console, entropy, balloon) and join two machines
with a :class:`NetLink`. A run is a pure function of the configuration, the images and the inputs: the same
inputs give the same :meth:`Machine.state_hash` here, in the ``vx86`` CLI and in the browser.

Example::

    import vx86

    m = vx86.Machine(memory="16M")
    # mov ax, 0x1234; inc ax; hlt
    m.load_flat(bytes.fromhex("b83412 40 f4"), address=0x7C00, entry=0x7C00)
    m.step()
    assert m.regs.ax == 0x1234
    exit = m.run()
    assert exit.reason == "halted" and m.regs.ax == 0x1235
"""

from ._vx86 import (
    Checkpoint,
    Disk,
    Exit,
    Hook,
    Machine,
    NetLink,
    Recording,
    Registers,
    ReplayResult,
    Segment,
    Snapshot,
    Walk,
    WalkStep,
    replay,
)
from .errors import (
    ConfigError,
    ConsoleTimeout,
    Error,
    GuestFault,
    ImageError,
    LinkTimeout,
    MachineBusy,
    ReplayDivergence,
    ReplayError,
    SerialTimeout,
    SnapshotError,
    UnsupportedInstruction,
)

__all__ = [
    "Checkpoint",
    "ConfigError",
    "ConsoleTimeout",
    "Disk",
    "Error",
    "Exit",
    "GuestFault",
    "Hook",
    "ImageError",
    "LinkTimeout",
    "Machine",
    "MachineBusy",
    "NetLink",
    "Recording",
    "Registers",
    "ReplayDivergence",
    "ReplayError",
    "ReplayResult",
    "Segment",
    "SerialTimeout",
    "Snapshot",
    "SnapshotError",
    "UnsupportedInstruction",
    "Walk",
    "WalkStep",
    "replay",
]
