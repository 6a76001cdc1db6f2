"""A minimal virtio driver for the tests, written from the specification (Virtio 1.2, 4.1),
whose register accesses the guest CPU carries out.

The guest runs PORT_SCRIPT, a real-mode interpreter of a table of port operations at 0x8000;
the test builds the table. Every access to a virtio function's BAR goes through its
VIRTIO_PCI_CAP_PCI_CFG window in PCI configuration space (ports 0xCF8/0xCFC), so real-mode
port I/O reaches everything. The virtqueues' memory is written by the host (`write_phys`),
as a driver would write it.
"""

import struct

# 7C00 be 00 80       mov si, 0x8000
# 7C03 8b 14          next: mov dx, [si]           ; port
# 7C05 8b 4c 02       mov cx, [si+2]               ; 0: out, 1: in, else: end
# 7C08 66 8b 44 04    mov eax, [si+4]
# 7C0C e3 0e          jcxz out
# 7C0E 49             dec cx
# 7C0F 75 12          jnz end
# 7C11 66 ed          in eax, dx
# 7C13 66 89 44 04    mov [si+4], eax              ; the value read replaces the operand
# 7C17 83 c6 08       add si, 8
# 7C1A eb e7          jmp next
# 7C1C 66 ef          out: out dx, eax
# 7C1E 83 c6 08       add si, 8
# 7C21 eb e0          jmp next
# 7C23 f4             end: hlt                     ; interrupts off: stays halted
PORT_SCRIPT = bytes.fromhex("be0080 8b14 8b4c02 668b4404 e30e 49 7512 66ed 66894404 83c608 ebe7 66ef 83c608 ebe0 f4")
TABLE = 0x8000

# the window's fields in configuration space (layout.rs: the capability at 0x94)
WINDOW_OFFSET, WINDOW_LENGTH, WINDOW_DATA = 0x9C, 0xA0, 0xA4
# BAR 0 layout
NOTIFY, DEVICE = 0x1000, 0x0C00
# device status bits
ACKNOWLEDGE, DRIVER, DRIVER_OK, FEATURES_OK = 1, 2, 4, 8
# descriptor flags
F_NEXT, F_WRITE = 1, 2
QSIZE = 16

VENDOR = 0x1AF4
NET, BLK, CONSOLE, RNG, BALLOON = 1, 2, 3, 4, 5


def cfg_address(bdf, reg):
    return 0x8000_0000 | bdf << 8 | reg & 0xFC


class Ports:
    """A table of port operations for PORT_SCRIPT."""

    def __init__(self):
        self.ops = []

    def out(self, port, value):
        self.ops.append((port, 0, value))

    def read(self, port):
        """Queues a 32-bit read; returns its index in `run`'s result."""
        self.ops.append((port, 1, 0))
        return len(self.ops) - 1

    def cfg_write(self, bdf, reg, value):
        self.out(0xCF8, cfg_address(bdf, reg))
        self.out(0xCFC, value)

    def cfg_read(self, bdf, reg):
        self.out(0xCF8, cfg_address(bdf, reg))
        return self.read(0xCFC)

    def run(self, m):
        """Has the guest carry out the operations; returns every operand (reads replaced by
        the values read)."""
        table = b"".join(struct.pack("<HHI", p, op, v) for p, op, v in self.ops)
        table += struct.pack("<HHI", 0, 2, 0)
        assert len(table) <= 0x8000
        m.load_flat(PORT_SCRIPT, address=0x7C00)
        m.write_phys(TABLE, table)
        exit = m.run(max_instructions=20 * len(self.ops) + 100)
        assert exit.reason == "halted", exit
        raw = m.read_phys(TABLE, len(table))
        return [struct.unpack_from("<I", raw, 8 * i + 4)[0] for i in range(len(self.ops))]


def pci_ids(m, slots=range(8)):
    """The vendor/device dword of each slot's function 0 (0xFFFFFFFF: nothing there)."""
    p = Ports()
    idx = [p.cfg_read(s << 3, 0) for s in slots]
    values = p.run(m)
    return [values[i] for i in idx]


class Device:
    """The driver side of the virtio function in PCI slot `slot`."""

    def __init__(self, m, slot):
        self.m, self.slot, self.bdf = m, slot, slot << 3

    def bar_write(self, p, offset, size, value):
        p.cfg_write(self.bdf, WINDOW_OFFSET, offset)
        p.cfg_write(self.bdf, WINDOW_LENGTH, size)
        p.cfg_write(self.bdf, WINDOW_DATA, value)

    def bar_read(self, p, offset, size):
        p.cfg_write(self.bdf, WINDOW_OFFSET, offset)
        p.cfg_write(self.bdf, WINDOW_LENGTH, size)
        return p.cfg_read(self.bdf, WINDOW_DATA)

    def ring(self, q):
        """Guest-physical address of queue `q`: descriptors, +0x400 driver, +0x800 device."""
        return 0x10_0000 + self.slot * 0x1_0000 + q * 0x1000

    def buffer(self, q):
        """A 4 KiB scratch buffer for queue `q`."""
        return 0x20_0000 + self.slot * 0x1_0000 + q * 0x1000

    def init(self, queues):
        """Reset, ACKNOWLEDGE | DRIVER, VERSION_1 only, FEATURES_OK, the queues, DRIVER_OK;
        returns the device status read back."""
        p = Ports()
        self.bar_write(p, 0x14, 1, 0)
        self.bar_write(p, 0x14, 1, ACKNOWLEDGE | DRIVER)
        for select, value in ((1, 1), (0, 0)):  # VERSION_1 is feature bit 32
            self.bar_write(p, 0x08, 4, select)
            self.bar_write(p, 0x0C, 4, value)
        self.bar_write(p, 0x14, 1, ACKNOWLEDGE | DRIVER | FEATURES_OK)
        for q in range(queues):
            self.bar_write(p, 0x16, 2, q)
            self.bar_write(p, 0x18, 2, QSIZE)
            for off, addr in ((0x20, 0), (0x28, 0x400), (0x30, 0x800)):
                self.bar_write(p, off, 4, self.ring(q) + addr)
                self.bar_write(p, off + 4, 4, 0)
            self.bar_write(p, 0x1C, 2, 1)
        self.bar_write(p, 0x14, 1, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK)
        status = self.bar_read(p, 0x14, 1)
        return p.run(self.m)[status] & 0xFF

    def post(self, q, buffers, notify=True):
        """Puts a chain of buffers, each (data or length, device-writable), on queue `q`
        (from descriptor 0, so one chain in flight per queue) and notifies; returns the
        buffers' addresses."""
        m, ring, addr, addrs = self.m, self.ring(q), self.buffer(q), []
        for i, (data, writable) in enumerate(buffers):
            length = data if isinstance(data, int) else len(data)
            if not isinstance(data, int):
                m.write_phys(addr, data)
            flags = (F_WRITE if writable else 0) | (F_NEXT if i + 1 < len(buffers) else 0)
            m.write_phys(ring + 16 * i, struct.pack("<QIHH", addr, length, flags, i + 1))
            addrs.append(addr)
            addr += (length + 15) & ~15
        idx = struct.unpack("<H", m.read_phys(ring + 0x402, 2))[0]
        m.write_phys(ring + 0x404 + 2 * (idx % QSIZE), struct.pack("<H", 0))
        m.write_phys(ring + 0x402, struct.pack("<H", (idx + 1) & 0xFFFF))
        if notify:
            self.notify(q)
        return addrs

    def notify(self, q):
        p = Ports()
        self.bar_write(p, NOTIFY + 4 * q, 2, q)
        p.run(self.m)

    def used(self, q):
        """(used index, length written by the device in the latest used element)."""
        ring = self.ring(q)
        idx = struct.unpack("<H", self.m.read_phys(ring + 0x802, 2))[0]
        slot = (idx - 1) % QSIZE
        _, length = struct.unpack("<II", self.m.read_phys(ring + 0x804 + 8 * slot, 8))
        return idx, length

    def config_read(self, offset, size=4):
        p = Ports()
        i = self.bar_read(p, DEVICE + offset, size)
        return p.run(self.m)[i]

    def config_write(self, offset, size, value):
        p = Ports()
        self.bar_write(p, DEVICE + offset, size, value)
        p.run(self.m)


def blk_request(dev, kind, sector, data=None, length=512):
    """A virtio-blk request (kind 0: read `length` bytes, 1: write `data`) on queue 0;
    returns (status byte, data read)."""
    header = struct.pack("<IIQ", kind, 0, sector)
    if kind == 1:
        addrs = dev.post(0, [(header, False), (data, False), (1, True)])
    else:
        addrs = dev.post(0, [(header, False), (length, True), (1, True)])
    status = dev.m.read_phys(addrs[2], 1)[0]
    return status, (dev.m.read_phys(addrs[1], length) if kind == 0 else None)


def frame(payload=b"hello", dst=b"\xff" * 6, src=bytes.fromhex("525400123456")):
    """An Ethernet frame (type 0x88B5, a local experimental EtherType), padded to 60 bytes."""
    f = dst + src + b"\x88\xb5" + payload
    return f + bytes(max(0, 60 - len(f)))
