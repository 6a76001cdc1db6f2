"""The virtio devices from Python, driven by a guest driver (virtio_driver.py: real-mode code
reaching each function through PCI configuration space): devices in PCI config space, disk
reads and writes (in memory and written through to a file), console and network data both
ways, a NetLink between two machines, the balloon, entropy, device errors, snapshots,
pickling and replay of machines with disks, and the errors for bad arguments."""

import pickle
import struct

import pytest

import vx86
from virtio_driver import BALLOON, BLK, CONSOLE, NET, RNG, VENDOR, Device, blk_request, frame, pci_ids

OK_STATUS = 0x0F  # ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK


def image(sectors=16):
    """A disk image whose every byte tells its offset."""
    return bytes((i * 7 + i // 512) & 0xFF for i in range(sectors * 512))


def test_each_device_is_a_pci_function_from_slot_2():
    m = vx86.Machine(memory="16M", disks=[image(), vx86.Disk(image(8), read_only=True)], net=True,
                     virtio_console=True, rng=True, balloon=True)
    ids = pci_ids(m, range(9))
    # order: disks, network, console, entropy, balloon; device id 0x1040 + virtio id
    want = [BLK, BLK, NET, CONSOLE, RNG, BALLOON]
    assert ids[2:8] == [(0x1040 + d) << 16 | VENDOR for d in want]
    assert ids[8] == 0xFFFF_FFFF
    assert pci_ids(vx86.Machine(memory="16M"), [2]) == [0xFFFF_FFFF]
    assert [d.read_only for d in m.disks] == [False, True]
    assert [d.size for d in m.disks] == [16 * 512, 8 * 512]
    # the MAC address in virtio-net's configuration space
    net = Device(m, 4)
    assert net.config_read(0) == 0x00_54_52 | 0x12 << 24
    mac = vx86.Machine(memory="16M", net="02:00:00:aa:bb:cc")
    assert Device(mac, 2).config_read(0) == 0xAA_00_00_02


def test_disk_reads_and_writes():
    img = image()
    m = vx86.Machine(memory="16M", disks=[img, vx86.Disk(img, read_only=True)])
    disk, ro = Device(m, 2), Device(m, 3)
    assert disk.init(1) == OK_STATUS and ro.init(1) == OK_STATUS
    assert disk.config_read(0) == 16, "capacity in sectors"
    status, data = blk_request(disk, 0, 3)
    assert status == 0 and data == img[3 * 512:4 * 512]
    assert blk_request(disk, 1, 2, b"W" * 512)[0] == 0
    assert blk_request(disk, 0, 2)[1] == b"W" * 512
    contents = m.disk_contents(0)
    assert contents[2 * 512:3 * 512] == b"W" * 512
    assert contents[:1024] == img[:1024] and contents[1536:] == img[1536:]
    assert m.disks[0].to_bytes() == img, "the image as attached is untouched"
    # the 4 KiB chunk written, once
    assert m.take_disk_writes(0) == [(0, contents[:4096])]
    assert m.take_disk_writes(0) == []
    # read-only: VIRTIO_BLK_S_IOERR, nothing changes
    assert blk_request(ro, 1, 0, b"X" * 512)[0] == 1
    assert m.disk_contents(1) == img and m.take_disk_writes(1) == []
    # past the end: IOERR
    assert blk_request(disk, 0, 16)[0] == 1
    with pytest.raises(vx86.ConfigError, match="no disk 2"):
        m.disk_contents(2)


def test_write_through_disk_follows_the_guest_and_restores(tmp_path):
    path = tmp_path / "disk.img"
    img = image()
    path.write_bytes(img)
    m = vx86.Machine(memory="16M", disks=[vx86.Disk(path, write_through=True)])
    assert m.disks[0].path == str(path) and m.disks[0].write_through
    disk = Device(m, 2)
    disk.init(1)
    snap = m.snapshot()
    cp = m.checkpoint()
    blk_request(disk, 1, 9, b"F" * 512)
    on_file = path.read_bytes()
    assert on_file[9 * 512:10 * 512] == b"F" * 512 and on_file == m.disk_contents(0)
    with pytest.raises(vx86.ConfigError, match="written through"):
        m.take_disk_writes(0)
    cp.restore()
    assert path.read_bytes() == img, "a checkpoint restore rewrites the file"
    blk_request(disk, 1, 1, b"G" * 512)
    assert path.read_bytes()[512:1024] == b"G" * 512
    m.restore(snap)
    assert path.read_bytes() == img == m.disk_contents(0), "and so does a snapshot restore"
    # a copy keeps its writes in memory
    c = m.copy()
    assert not c.disks[0].write_through


def test_console_both_ways():
    m = vx86.Machine(memory="16M", virtio_console=True)
    con = Device(m, 2)
    assert not m.virtio_console_ready()
    assert con.init(2) == OK_STATUS
    assert m.virtio_console_ready()
    # transmitq (1): the guest writes
    con.post(1, [(b"hello from hvc0\n", False)])
    assert con.used(1)[0] == 1
    con.post(1, [(b"second line\n", False)])
    assert m.wait_console("hvc0") == b"hello from hvc0"
    assert m.console_output() == b"\nsecond line\n"
    assert m.console_output() == b""
    with pytest.raises(vx86.ConsoleTimeout) as info:
        m.wait_console("never", max_instructions=1000)
    assert info.value.exit.reason == "halted" and info.value.output == b""
    # receiveq (0): the host types
    addr = con.post(0, [(64, True)])[0]
    m.send_console("typed")
    assert con.used(0) == (1, 5)
    assert m.read_phys(addr, 5) == b"typed"
    # input waits for a buffer
    m.send_console(b"later")
    assert con.used(0) == (1, 5)
    con.post(0, [(64, True)])
    assert con.used(0) == (2, 5) and m.read_phys(addr, 5) == b"later"


def test_network_frames_both_ways_and_their_errors():
    m = vx86.Machine(memory="16M", net=True)
    net = Device(m, 2)
    assert net.init(2) == OK_STATUS
    # transmitq (1): a 12-byte virtio_net_hdr, then the frame
    out = frame(b"from the guest")
    net.post(1, [(bytes(12) + out, False)])
    assert m.take_net_frames() == [out]
    assert m.take_net_frames() == []
    # receiveq (0)
    addr = net.post(0, [(12 + 1518, True)])[0]
    inbound = frame(b"to the guest")
    m.send_net_frame(inbound)
    assert net.used(0) == (1, 12 + len(inbound))
    assert m.read_phys(addr + 12, len(inbound)) == inbound
    assert struct.unpack("<H", m.read_phys(addr + 10, 2))[0] == 1, "num_buffers"
    with pytest.raises(vx86.ConfigError, match="14"):
        m.send_net_frame(b"short")
    with pytest.raises(vx86.ConfigError):
        m.send_net_frame(bytes(1519))
    # frames wait for the guest's buffers, 256 at most
    for _ in range(256):
        m.send_net_frame(inbound)
    with pytest.raises(vx86.ConfigError, match="256"):
        m.send_net_frame(inbound)
    plain = vx86.Machine(memory="16M")
    with pytest.raises(vx86.ConfigError, match="virtio-net"):
        plain.send_net_frame(inbound)
    assert plain.take_net_frames() == []


def test_netlink_carries_frames_between_two_machines():
    a, b = vx86.Machine(memory="16M", net=True), vx86.Machine(memory="16M", net=True, seed=1)
    na, nb = Device(a, 2), Device(b, 2)
    na.init(2)
    nb.init(2)
    addr = nb.post(0, [(12 + 1518, True)])[0]
    link = vx86.NetLink(a, b, quantum_ns=100_000)
    assert link.delivered == (0, 0) and link.quantum_ns == 100_000
    start = link.now_ns
    # a sends, b receives after the step
    f = frame(b"over the cable")
    na.post(1, [(bytes(12) + f, False)])
    ea, eb = link.step()
    assert (ea.reason, eb.reason) == ("halted", "halted")  # the drivers' CPUs halted, IF = 0
    assert link.now_ns == start + 100_000
    assert link.delivered == (1, 0) and link.dropped == 0
    assert nb.used(0) == (1, 12 + len(f)) and b.read_phys(addr + 12, len(f)) == f
    # b answers; run_until steps until a has it
    nb.post(1, [(bytes(12) + frame(b"answer"), False)])
    assert link.run_until(lambda: link.delivered[1] == 1, max_steps=5) == 1
    assert a.take_net_frames() == [], "delivered to a's device, not left for the host"
    with pytest.raises(vx86.LinkTimeout) as info:
        link.run_until(lambda: False, max_steps=3)
    assert info.value.steps == 3
    with pytest.raises(vx86.ConfigError, match="two different"):
        vx86.NetLink(a, a)
    # a machine without virtio-net drops what it is sent
    plain = vx86.Machine(memory="16M")
    plain.load_flat(b"\xf4")
    to_plain = vx86.NetLink(a, plain)
    na.post(1, [(bytes(12) + f, False)])
    to_plain.step()
    assert to_plain.dropped == 1 and to_plain.delivered == (0, 0)
    # code hooks would cut a quantum short: refused
    h = a.hook_code(0x7C00, callback=lambda addr: None)
    with pytest.raises(vx86.ConfigError, match="hooks"):
        link.step()
    h.remove()


def test_netlink_of_idle_machines_reaches_each_quantum():
    # sti; hlt; jmp $-3: halted with interrupts on, no timer programmed
    idle = bytes.fromhex("fb f4 ebfd")
    a, b = vx86.Machine(memory="16M", net=True), vx86.Machine(memory="16M", net=True)
    for m in (a, b):
        m.load_flat(idle)
    link = vx86.NetLink(a, b, quantum_ns=1_000_000)
    for _ in range(3):
        ea, eb = link.step()
        assert ea.reason in ("idle", "halted") and eb.reason in ("idle", "halted")
    assert link.now_ns >= 3_000_000
    assert a.state_hash() == b.state_hash()


def test_balloon():
    m = vx86.Machine(memory="16M", balloon=True)
    assert m.balloon_status() == (0, 0, 0)
    bal = Device(m, 2)
    assert bal.init(2) == OK_STATUS
    m.set_balloon_target(100)
    assert m.balloon_status() == (100, 0, 0)
    assert bal.config_read(0) == 100, "num_pages, as the guest's driver reads it"
    bal.config_write(4, 4, 100)  # the driver reports `actual`
    assert m.balloon_status() == (100, 100, 0)
    plain = vx86.Machine(memory="16M")
    assert plain.balloon_status() is None
    with pytest.raises(vx86.ConfigError, match="balloon"):
        plain.set_balloon_target(1)


def test_entropy_is_seeded_and_a_malformed_chain_is_a_device_error():
    def random_bytes(seed):
        m = vx86.Machine(memory="16M", rng=True, seed=seed)
        rng = Device(m, 2)
        rng.init(1)
        addr = rng.post(0, [(32, True)])[0]
        assert rng.used(0) == (1, 32)
        return m, m.read_phys(addr, 32)

    m, one = random_bytes(1)
    assert one == random_bytes(1)[1] and one != random_bytes(2)[1] and one != bytes(32)
    assert m.virtio_errors() == []
    # a descriptor whose `next` is outside the queue
    rng = Device(m, 2)
    ring = rng.ring(0)
    m.write_phys(ring, struct.pack("<QIHH", rng.buffer(0), 16, 2 | 1, 99))
    m.write_phys(ring + 0x404 + 2, struct.pack("<H", 0))
    m.write_phys(ring + 0x402, struct.pack("<H", 2))
    rng.notify(0)
    errors = m.virtio_errors()
    assert len(errors) == 1 and errors[0][0] == 2 and errors[0][1]


def test_snapshots_and_pickles_of_a_machine_with_disks():
    img = image()
    m = vx86.Machine(memory="16M", disks=[img], virtio_console=True)
    disk = Device(m, 2)
    disk.init(1)
    blk_request(disk, 1, 5, b"S" * 512)
    data = m.snapshot().to_bytes()
    twin = vx86.Machine.from_bytes(data, disks=[img])
    assert twin.state_hash() == m.state_hash()
    assert twin.disk_contents(0) == m.disk_contents(0) != img
    again = vx86.Machine.from_bytes(data, disks=m.disks)
    assert again.state_hash() == m.state_hash()
    with pytest.raises(vx86.SnapshotError, match=r"1 virtio disk\(s\) and 0 image\(s\)"):
        vx86.Machine.from_bytes(data)
    with pytest.raises(vx86.ImageError, match="SHA-256"):
        vx86.Machine.from_bytes(data, disks=[image(16)[::-1]])
    # pickling carries the images
    p = pickle.loads(pickle.dumps(m))
    assert p.state_hash() == m.state_hash() and p.disk_contents(0) == m.disk_contents(0)
    # the twin goes on like the original
    for x in (m, twin):
        blk_request(Device(x, 2), 1, 6, b"T" * 512)
    assert twin.state_hash() == m.state_hash()
    # in place: the machine's own images
    at = m.state_hash()
    m.restore(data)
    assert m.state_hash() != at and m.disk_contents(0)[6 * 512:7 * 512] == img[6 * 512:7 * 512]


def test_record_and_replay_with_disks_and_console_input(tmp_path):
    path = tmp_path / "disk.img"
    img = image()
    path.write_bytes(img)
    m = vx86.Machine(memory="16M", disks=[img, vx86.Disk(path)], virtio_console=True)
    disk, con = Device(m, 2), Device(m, 4)
    disk.init(1)
    con.init(2)
    blk_request(disk, 1, 0, b"R" * 512)
    con.post(0, [(64, True)])
    log = tmp_path / "run.log"
    with m.record(log, checkpoint_interval=10):
        m.send_console("replayed input")
        m.run(50)
    r = vx86.replay(log, disks=[img, path])
    assert r.state_hash == m.state_hash()
    assert r.machine.disk_contents(0) == m.disk_contents(0)
    assert r.machine.read_phys(con.buffer(0), 14) == b"replayed input"
    # the log names the second disk by its path, the first (bytes) by nothing
    with pytest.raises(vx86.ReplayError, match="disks="):
        vx86.replay(log)
    with pytest.raises(vx86.ReplayError, match="2 disks"):
        vx86.replay(log, disks=[img])
    with pytest.raises(vx86.ReplayError, match="not the image"):
        vx86.replay(log, disks=[img[::-1], path])


def test_bad_disks_and_device_arguments(tmp_path):
    with pytest.raises(vx86.ImageError, match="512-byte sectors"):
        vx86.Machine(memory="16M", disks=[bytes(1000)])
    with pytest.raises(vx86.ImageError, match="512-byte sectors"):
        vx86.Machine(memory="16M", disks=[b""])
    with pytest.raises(vx86.ImageError, match="no-such-disk"):
        vx86.Disk(tmp_path / "no-such-disk")
    with pytest.raises(vx86.ConfigError, match="a list"):
        vx86.Machine(memory="16M", disks=bytes(512))
    with pytest.raises(vx86.ConfigError, match="file path"):
        vx86.Disk(bytes(512), write_through=True)
    with pytest.raises(vx86.ConfigError, match="read-only"):
        (tmp_path / "d").write_bytes(bytes(512))
        vx86.Disk(tmp_path / "d", read_only=True, write_through=True)
    with pytest.raises(vx86.ConfigError, match="MAC"):
        vx86.Machine(memory="16M", net="52:54:00:12:34")
    with pytest.raises(vx86.ConfigError, match="MAC"):
        vx86.Machine(memory="16M", net="52:54:00:12:34:zz")
    m = vx86.Machine(memory="16M")
    with pytest.raises(vx86.ConfigError, match="virtio console"):
        m.send_console("x")
    assert not m.virtio_console_ready() and m.console_output() == b""
    assert m.disks == [] and m.virtio_errors() == []
    d = vx86.Disk(bytes(1024), read_only=True)
    assert (d.size, d.path, d.read_only, len(d)) == (1024, None, True, 1024)
    assert len(d.sha256) == 64
