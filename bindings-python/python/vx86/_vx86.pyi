"""Type stubs of the native module (see vx86/__init__.py for the package docs)."""

import os
from typing import Any, Callable, Iterable, Optional, Tuple, Union, overload

BytesLike = Union[bytes, bytearray, memoryview]
PathOrBytes = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]
KeyFilter = Union[int, range, Iterable[Union[int, range]]]
DiskLike = Union["Disk", str, "os.PathLike[str]", bytes, bytearray, memoryview]

class Exit:
    """How a run ended."""

    reason: str
    """"budget", "halted", "poweroff", "reset", "triple_fault", "breakpoint", "until" or "hook"."""
    instructions: int
    """Instructions retired by this call."""
    instruction_count: int
    """The machine's instruction count after the call."""
    eip: int
    """EIP after the call (the next instruction to run)."""
    @property
    def rip(self) -> int:
        """The instruction pointer after the call (EIP)."""

class Segment:
    """A segment register's selector and descriptor cache."""

    selector: int
    base: int
    limit: int
    attributes: int

class Registers:
    """The CPU registers as attributes: eax..edi, ax..di, al..bh, eip, ip, eflags, flags,
    cs/ds/es/ss/fs/gs (selectors; writable in real and V86 mode), cr0, cr2, cr3, cr4,
    dr0..dr7, st0..st7 (80-bit ints), fcw, fsw, ftw, fop, fip, fdp, xmm0..xmm7 (128-bit
    ints), mxcsr, gdtr/idtr ((base, limit)), ldtr, tr (read-only), halted (read-only)."""

    def __getattr__(self, name: str) -> Any: ...
    def __setattr__(self, name: str, value: Any) -> None: ...
    def as_dict(self) -> dict[str, Any]:
        """Every register as a dict."""

class WalkStep:
    """One paging-structure entry read by a walk."""

    level: int
    entry_address: int
    entry: int

class Walk:
    """The translation of a linear address as the CPU would do it now."""

    address: int
    steps: list[WalkStep]
    physical: Optional[int]
    fault: Optional[str]
    page_size: Optional[int]
    writable: bool
    user: bool
    no_exec: bool
    global_: bool
    dirty: bool

class Hook:
    """A registered hook."""

    @property
    def kind(self) -> str: ...
    @property
    def ranges(self) -> list[Tuple[int, int]]: ...
    @property
    def callback(self) -> Callable[..., Any]: ...
    def remove(self) -> bool:
        """Unregisters the hook; False if it was removed already."""
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

class HookDecorator:
    def __call__(self, callback: Callable[..., Any]) -> Hook: ...

class Snapshot:
    """Snapshot bytes: portable across processes, the CLI, Node and the browser."""

    @staticmethod
    def from_bytes(data: BytesLike) -> "Snapshot": ...
    @staticmethod
    def load(path: Union[str, "os.PathLike[str]"]) -> "Snapshot": ...
    def to_bytes(self) -> bytes: ...
    def save(self, path: Union[str, "os.PathLike[str]"]) -> None: ...
    @property
    def kind(self) -> str:
        """"full" or "incremental"."""
    @property
    def compressed(self) -> bool: ...
    @property
    def id(self) -> str:
        """SHA-256 (hex) of the snapshot, its trailer."""
    def __len__(self) -> int: ...

class Checkpoint:
    """An in-memory saved state; a context manager that restores it on exit."""

    def restore(self) -> int:
        """Restores it; returns the number of RAM pages copied."""
    @property
    def instruction_count(self) -> int: ...
    def __enter__(self) -> "Checkpoint": ...
    def __exit__(self, *exc: Any) -> bool: ...

class Recording:
    """A recording in progress; a context manager that stops it on exit."""

    path: str
    def stop(self) -> int:
        """Stops, writes the log, returns the number of events."""
    def __enter__(self) -> "Recording": ...
    def __exit__(self, *exc: Any) -> bool: ...

class ReplayResult:
    """What a replay that matched its log gives back."""

    machine: "Machine"
    """The machine at the end of the log (it can run on)."""
    instruction_count: int
    state_hash: str
    """Equal to the log's."""
    serial: bytes
    """The serial (COM1) output of the whole replay."""
    console: bytes
    """The virtio-console output of the whole replay."""
    checkpoints: int
    """Checkpoints verified (the end included)."""

class Disk:
    """A disk image for virtio-blk: a path (read once, now) or bytes, a whole number of
    512-byte sectors. ``read_only``: the guest may not write. ``write_through`` (paths only):
    the guest's writes go back to the file after every run, wait and restore; otherwise they
    stay in the machine and its snapshots."""

    def __init__(self, image: PathOrBytes, read_only: bool = False, write_through: bool = False) -> None: ...
    @property
    def path(self) -> Optional[str]:
        """The file the image was read from (None for bytes)."""
    @property
    def size(self) -> int:
        """Size in bytes."""
    @property
    def sha256(self) -> str:
        """SHA-256 (hex): what snapshots and replay logs name the image by."""
    @property
    def read_only(self) -> bool: ...
    @property
    def write_through(self) -> bool: ...
    def to_bytes(self) -> bytes:
        """The image as attached (without what a guest wrote since)."""
    def __len__(self) -> int: ...

class NetLink:
    """Two machines with virtio-net joined by a cable: each ``step()`` runs both to the same
    virtual time (``quantum_ns`` later), then delivers the frames each sent to the other."""

    def __init__(self, a: "Machine", b: "Machine", quantum_ns: int = 1_000_000) -> None: ...
    def step(self) -> Tuple[Exit, Exit]:
        """Runs both machines one quantum and exchanges frames; returns (a's exit, b's exit)."""
    def run_until(self, predicate: Callable[[], Any], max_steps: int = 10_000) -> int:
        """Steps until ``predicate()`` is true; returns the steps taken (LinkTimeout after
        ``max_steps``)."""
    @property
    def a(self) -> "Machine": ...
    @property
    def b(self) -> "Machine": ...
    @property
    def delivered(self) -> Tuple[int, int]:
        """Frames delivered: (a to b, b to a)."""
    @property
    def dropped(self) -> int:
        """Frames the receiver could not take."""
    @property
    def now_ns(self) -> int:
        """The virtual time both machines have reached."""
    @property
    def quantum_ns(self) -> int: ...

class Machine:
    """A whole deterministic x86 PC."""

    def __init__(
        self,
        memory: Union[int, str, None] = None,
        seed: int = 0,
        cpu_hz: Optional[int] = None,
        apic: bool = True,
        start_time: Optional[int] = None,
        debug_console: bool = True,
        *,
        disks: Optional[Iterable[DiskLike]] = None,
        net: Union[bool, str, bytes, None] = None,
        virtio_console: bool = False,
        rng: bool = False,
        balloon: bool = False,
    ) -> None: ...
    def load_linux(self, kernel: PathOrBytes, initrd: Optional[PathOrBytes] = None, cmdline: str = "", direct_kernel: bool = False) -> None: ...
    def load_multiboot(self, elf: PathOrBytes, cmdline: str = "") -> None: ...
    def load_flat(self, code: BytesLike, address: int = 0x7C00, entry: Optional[int] = None) -> None: ...
    def run(self, max_instructions: Optional[int] = None, until: Optional[int] = None) -> Exit: ...
    def step(self) -> Exit: ...
    def stop(self) -> None: ...
    @property
    def instruction_count(self) -> int: ...
    @property
    def virtual_time_ns(self) -> int: ...
    @property
    def memory(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def regs(self) -> Registers: ...
    def segment(self, name: str) -> Segment: ...
    def read_msr(self, index: int) -> Optional[int]: ...
    def write_msr(self, index: int, value: int) -> None: ...
    def read_phys(self, address: int, size: int) -> bytes: ...
    def write_phys(self, address: int, data: BytesLike) -> None: ...
    def read_virt(self, address: int, size: int) -> bytes: ...
    def write_virt(self, address: int, data: BytesLike) -> None: ...
    def translate(self, address: int) -> Walk: ...
    def add_breakpoint(self, address: int) -> None: ...
    def remove_breakpoint(self, address: int) -> bool: ...
    @property
    def breakpoints(self) -> list[int]: ...
    def send_serial(self, data: Union[str, BytesLike]) -> None: ...
    def serial_output(self) -> bytes: ...
    def debug_output(self) -> bytes: ...
    def wait_serial(self, text: Union[str, BytesLike], max_instructions: Optional[int] = None) -> bytes: ...
    def send_console(self, data: Union[str, BytesLike]) -> None:
        """Queues bytes for the guest's virtio console (ConfigError without one)."""
    def console_output(self) -> bytes:
        """The virtio-console output not consumed yet (and consumes it)."""
    def wait_console(self, text: Union[str, BytesLike], max_instructions: Optional[int] = None) -> bytes:
        """Like wait_serial for the virtio console (raises ConsoleTimeout)."""
    def virtio_console_ready(self) -> bool:
        """Whether the guest's virtio-console driver runs with its receive queue set up."""
    def send_net_frame(self, frame: BytesLike) -> None:
        """Delivers an Ethernet frame (14..1518 bytes, no FCS) to the guest's virtio-net."""
    def take_net_frames(self) -> list[bytes]:
        """The frames the guest transmitted since the last call, oldest first."""
    def set_balloon_target(self, pages: int) -> None:
        """Asks the guest to put `pages` 4 KiB pages in the balloon (ConfigError without one)."""
    def balloon_status(self) -> Optional[Tuple[int, int, int]]:
        """(target pages, pages the driver reports, pages given back); None without a balloon."""
    @property
    def disks(self) -> list[Disk]:
        """The virtio disks (their images as attached)."""
    def disk_contents(self, i: int) -> bytes:
        """The current content of disk `i` (the image with the guest's writes)."""
    def take_disk_writes(self, i: int) -> list[Tuple[int, bytes]]:
        """The chunks of disk `i` written since the last call: (byte offset, bytes)."""
    def virtio_errors(self) -> list[Tuple[int, str]]:
        """(PCI slot, message) of each virtio device that entered DEVICE_NEEDS_RESET."""
    def state_hash(self) -> str: ...
    def snapshot(self, compress: bool = True, incremental: bool = False) -> Snapshot: ...
    @staticmethod
    def from_bytes(data: BytesLike, disks: Optional[Iterable[DiskLike]] = None) -> "Machine":
        """A machine from snapshot bytes; `disks`: the images of its virtio disks."""
    def restore(self, state: Union[Snapshot, Checkpoint, BytesLike]) -> None: ...
    def checkpoint(self) -> Checkpoint: ...
    def copy(self) -> "Machine": ...
    @overload
    def hook_code(self, start: int, end: Optional[int] = None, *, callback: Callable[[int], Any]) -> Hook: ...
    @overload
    def hook_code(self, start: int, end: Optional[int] = None, callback: None = None) -> HookDecorator: ...
    @overload
    def hook_io(self, ports: KeyFilter, callback: Callable[[int, int, bool, int], Optional[int]]) -> Hook: ...
    @overload
    def hook_io(self, ports: KeyFilter, callback: None = None) -> HookDecorator: ...
    @overload
    def hook_mmio(self, start: int, end: int, callback: Callable[[int, int, bool, int], Optional[int]]) -> Hook: ...
    @overload
    def hook_mmio(self, start: int, end: int, callback: None = None) -> HookDecorator: ...
    @overload
    def hook_interrupt(self, vectors: Optional[KeyFilter] = None, *, callback: Callable[[int, bool], Any]) -> Hook: ...
    @overload
    def hook_interrupt(self, vectors: Optional[KeyFilter] = None, callback: None = None) -> HookDecorator: ...
    @overload
    def hook_cr3(self, callback: Callable[[int, int], Any]) -> Hook: ...
    @overload
    def hook_cr3(self, callback: None = None) -> HookDecorator: ...
    def remove_hook(self, hook: Hook) -> bool: ...
    def record(self, path: Union[str, "os.PathLike[str]"], checkpoint_interval: Optional[int] = None) -> Recording: ...
    def stop_recording(self) -> int: ...
    @property
    def recording(self) -> bool: ...

def replay(
    log: Union[str, "os.PathLike[str]", bytes],
    kernel: Optional[PathOrBytes] = None,
    initrd: Optional[PathOrBytes] = None,
    perturb_input: Optional[int] = None,
    disks: Optional[Iterable[DiskLike]] = None,
) -> ReplayResult: ...
