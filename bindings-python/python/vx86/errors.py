"""The exceptions vx86 raises. Every one derives from :class:`vx86.Error`.

Guest faults that the guest itself handles (a page fault taken through its IDT, say) are not
exceptions: they are part of the run. These are for the host's requests that cannot be done.
"""


class Error(Exception):
    """Base class of every vx86 exception."""


class ConfigError(Error, ValueError):
    """A machine configuration or argument vx86 cannot use (bad memory size, bad register
    name or value, a hook filter that matches nothing, ...)."""


class ImageError(Error, ValueError):
    """A guest image (kernel, initrd, Multiboot ELF, flat binary, disk) that is malformed, does
    not fit, or cannot be read or written back; or disk images that are not the ones a
    snapshot's machine was built with."""


class SnapshotError(Error, ValueError):
    """Snapshot bytes that cannot be restored (truncated, corrupted, another format version),
    or a snapshot or checkpoint operation that does not apply."""


class ReplayError(Error):
    """A replay log that cannot be read or replayed (bad bytes, missing images)."""


class ReplayDivergence(ReplayError):
    """A replay reached a state different from the recorded one.

    Attributes: ``instruction`` (the instruction count of the first differing checkpoint),
    ``expected`` and ``actual`` (the state hashes, hex).
    """

    def __init__(self, message, instruction, expected, actual):
        super().__init__(message)
        self.instruction = instruction
        self.expected = expected
        self.actual = actual


class GuestFault(Error):
    """A host access to guest memory that the guest's memory map does not allow: a linear
    address its page tables do not map (``read_virt``/``write_virt``), or a physical range
    outside RAM (``read_phys``/``write_phys``). ``address`` is the first address refused."""

    def __init__(self, message, address):
        super().__init__(message)
        self.address = address


class UnsupportedInstruction(Error):
    """The guest ran a valid instruction vx86 does not implement. The machine stopped
    cleanly on it (EIP points at it, nothing of it executed): it can be inspected, saved,
    or changed and run on. Attributes: ``cs``, ``eip``, ``mnemonic``, ``bytes`` (hex)."""

    def __init__(self, message, cs, eip, mnemonic, instruction_bytes):
        super().__init__(message)
        self.cs = cs
        self.eip = eip
        self.mnemonic = mnemonic
        self.bytes = instruction_bytes


class MachineBusy(Error, RuntimeError):
    """The machine is running (in another thread, or this call came from inside an I/O or
    MMIO hook callback, which runs in the middle of an instruction): only the callback's
    arguments are available there."""


class SerialTimeout(Error, TimeoutError):
    """``wait_serial`` did not see its text within the instruction budget, or the machine
    stopped first. ``output`` holds the serial output seen meanwhile (still unconsumed) and
    ``exit`` the last :class:`vx86.Exit`."""

    def __init__(self, message, output, exit):
        super().__init__(message)
        self.output = output
        self.exit = exit


class ConsoleTimeout(Error, TimeoutError):
    """``wait_console`` did not see its text within the instruction budget, or the machine
    stopped first. ``output`` holds the virtio-console output seen meanwhile (still
    unconsumed) and ``exit`` the last :class:`vx86.Exit`."""

    def __init__(self, message, output, exit):
        super().__init__(message)
        self.output = output
        self.exit = exit


class LinkTimeout(Error, TimeoutError):
    """``NetLink.run_until`` took ``steps`` steps without its predicate becoming true."""

    def __init__(self, message, steps):
        super().__init__(message)
        self.steps = steps
