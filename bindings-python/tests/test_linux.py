"""The Debian guest (guests/build.sh) booted once in a session fixture; each test starts from
its snapshot at the shell."""

import pytest

import vx86
from conftest import shell


def test_boots_and_runs_a_shell_command(linux):
    out = shell(linux, "echo MARK-$((6*7)); uname -m", "MARK-42")
    assert "MARK-42" in out
    assert "i686" in shell(linux, "uname -m", "i686")


def test_page_tables_of_the_running_kernel(linux):
    # the i386 kernel maps physical memory at 0xC0000000 (PAGE_OFFSET)
    assert linux.regs.cr0 & 0x80000000, "paging is on"
    w = linux.translate(0xC010_0000)
    assert w.physical == 0x10_0000 and w.fault is None
    assert w.steps and all(s.entry & 1 for s in w.steps), "present at every level"
    assert w.steps[0].entry_address & ~0xFFF == linux.regs.cr3 & ~0xFFF
    assert linux.read_virt(0xC010_0000, 64) == linux.read_phys(0x10_0000, 64)


def test_snapshot_round_trip_of_the_booted_guest(linux):
    data = linux.snapshot().to_bytes()
    twin = vx86.Machine.from_bytes(data)
    assert twin.state_hash() == linux.state_hash()
    a = shell(linux, "echo A-$((1+1))", "A-2")
    b = shell(twin, "echo A-$((1+1))", "A-2")
    assert a == b and linux.state_hash() == twin.state_hash()


def test_checkpoint_of_the_booted_guest(linux):
    at = linux.state_hash()
    with linux.checkpoint():
        shell(linux, "echo hello > /tmp/f; cat /tmp/f", "hello\r\n")
    assert linux.state_hash() == at
    out = shell(linux, "cat /tmp/f || echo NO-$((1+1))-FILE", "NO-2-FILE")
    assert "No such file" in out


def test_recorded_session_replays_and_a_perturbed_input_diverges(linux, tmp_path):
    log = tmp_path / "session.log"
    with linux.record(log, checkpoint_interval=100_000):
        shell(linux, "echo ONE-$((2*3))", "ONE-6")
        shell(linux, "ls /", "# ")
        shell(linux, "echo TWO-$((3*3))", "TWO-9")
    r = vx86.replay(log)
    assert r.state_hash == linux.state_hash()
    assert r.instruction_count == linux.instruction_count
    assert b"ONE-6" in r.serial and b"TWO-9" in r.serial
    assert r.checkpoints >= 2
    # the replayed machine runs on like the original
    shell(r.machine, "echo THREE-$((4+5))", "THREE-9")
    shell(linux, "echo THREE-$((4+5))", "THREE-9")
    assert r.machine.state_hash() == linux.state_hash()
    with pytest.raises(vx86.ReplayDivergence) as info:
        vx86.replay(log.read_bytes(), perturb_input=0)
    d = info.value
    assert d.expected != d.actual and 0 < d.instruction <= r.instruction_count


def test_wait_serial_timeout(linux):
    with pytest.raises(vx86.SerialTimeout) as info:
        linux.wait_serial("never printed", max_instructions=10_000_000)
    assert info.value.exit.reason == "budget"


def test_bad_replay_logs(tmp_path):
    with pytest.raises(vx86.ReplayError):
        vx86.replay(b"junk")
    with pytest.raises(vx86.ReplayError):
        vx86.replay(tmp_path / "missing.log")
