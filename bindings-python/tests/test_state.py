"""Snapshots to bytes and back, checkpoints as context managers, pickling, copies, and bad
snapshot bytes."""

import pickle

import pytest

import vx86
from programs import SPIN, load


def machine():
    m = vx86.Machine(memory="16M")
    load(m, SPIN)
    m.run(5_000)
    return m


def test_snapshot_bytes_new_machine_same_hash_and_same_future():
    m = machine()
    snap = m.snapshot()
    assert snap.kind == "full" and snap.compressed and len(snap) > 0
    data = snap.to_bytes()
    twin = vx86.Machine.from_bytes(data)
    assert twin.state_hash() == m.state_hash()
    assert twin.instruction_count == m.instruction_count == 5_000
    m.run(10_000)
    twin.run(10_000)
    assert twin.state_hash() == m.state_hash()
    # the same state gives the same bytes
    assert vx86.Machine.from_bytes(data).snapshot().to_bytes() == data


def test_restore_a_snapshot_in_place():
    m = machine()
    snap = m.snapshot(compress=False)
    at = m.state_hash()
    m.run(1000)
    m.restore(snap)
    assert m.state_hash() == at and m.instruction_count == 5_000
    m.run(1000)
    m.restore(snap.to_bytes())
    assert m.state_hash() == at


def test_incremental_snapshots_chain():
    m = machine()
    base = m.snapshot()
    m.run(1000)
    inc = m.snapshot(incremental=True)
    assert inc.kind == "incremental" and len(inc) < len(base)
    other = vx86.Machine.from_bytes(base.to_bytes())
    other.restore(inc)
    assert other.state_hash() == m.state_hash()


def test_checkpoint_context_restores_on_exit():
    m = machine()
    at, count = m.state_hash(), m.instruction_count
    with m.checkpoint() as cp:
        assert cp.instruction_count == count
        m.run(3_000)
        m.regs.eax = 0xDEAD
        m.write_phys(0x8000, b"changed")
        assert m.state_hash() != at
    assert m.state_hash() == at and m.instruction_count == count
    assert m.read_phys(0x8000, 7) == bytes(7)
    # also when the block raises
    with pytest.raises(RuntimeError):
        with m.checkpoint():
            m.run(100)
            raise RuntimeError("inside")
    assert m.state_hash() == at


def test_checkpoint_restored_many_times_gives_the_same_state():
    m = machine()
    cp = m.checkpoint()
    at = m.state_hash()
    m.run(2_000)
    later = m.state_hash()
    for _ in range(100):
        pages = cp.restore()
        assert pages <= 4
        assert m.state_hash() == at
        m.run(2_000)
        assert m.state_hash() == later


def test_a_checkpoint_belongs_to_its_machine():
    a, b = machine(), machine()
    with pytest.raises(vx86.SnapshotError):
        b.restore(a.checkpoint())


def test_pickle_and_copy():
    m = machine()
    clone = pickle.loads(pickle.dumps(m))
    assert clone.state_hash() == m.state_hash()
    c = m.copy()
    c.run(10)
    assert c.instruction_count == m.instruction_count + 10


def test_bad_snapshot_bytes_raise_snapshot_error():
    data = machine().snapshot(compress=False).to_bytes()
    bad = {
        "empty": b"",
        "junk": b"not a snapshot at all",
        "truncated": data[: len(data) // 2],
        "bit flip": data[:200] + bytes([data[200] ^ 1]) + data[201:],
        "wrong version": data[:8] + (99).to_bytes(4, "little") + data[12:],
        "huge size": data[:80] + (1 << 60).to_bytes(8, "little") + data[88:],
    }
    for name, b in bad.items():
        with pytest.raises(vx86.SnapshotError) as info:
            vx86.Machine.from_bytes(b)
        assert str(info.value), name
    with pytest.raises(vx86.SnapshotError, match="version"):
        vx86.Snapshot.from_bytes(bad["wrong version"])
    m = machine()
    with pytest.raises(vx86.SnapshotError):
        m.restore(bad["bit flip"])
    # a failed restore leaves the machine as it was
    assert m.run(10).instructions == 10
