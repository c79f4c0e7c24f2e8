"""CRI log records written by crix-conmon: exact bytes, P/F splitting, reopen, size cap."""
import os
import socket
import subprocess

from crixtest import wait_for
from conmon_helpers import parse_log, stream_lines


def test_interleaved_streams_are_exact(containers):
    c = containers(["sh", "-c", "echo out1; echo err1 >&2; echo 'out 2  spaced'; "
                    "printf 'err\\t2\\n' >&2; printf 'no newline'"])
    c.start()
    assert c.exit_code() == 0
    records = c.log_records()
    assert stream_lines(records, "stdout") == [b"out1", b"out 2  spaced", b"no newline"]
    assert stream_lines(records, "stderr") == [b"err1", b"err\t2"]
    # output without a trailing newline ends as a P record
    last_stdout = [r for r in records if r[1] == "stdout"][-1]
    assert last_stdout[2:] == ("P", b"no newline")
    for ts, _, _, _ in records:
        assert ts.endswith("Z") and len(ts) == 30


def test_long_line_is_split_into_partials_ending_full(containers):
    c = containers(["sh", "-c", "head -c 102400 /dev/zero | tr '\\0' a; echo; echo after"])
    c.start()
    assert c.exit_code() == 0
    records = [r for r in c.log_records() if r[1] == "stdout"]
    # the 100 KiB line: P records then one F; then the "after" line
    assert records[-1][2:] == ("F", b"after")
    line = records[:-1]
    assert len(line) >= 2
    assert [r[2] for r in line] == ["P"] * (len(line) - 1) + ["F"]
    assert all(r[3] for r in line[:-1]), "empty P record"
    assert b"".join(r[3] for r in line) == b"a" * 102400


def test_reopen_after_rename(containers):
    c = containers(["sh", "-c", "i=0; while [ $i -lt 400 ]; do echo tick $i; i=$((i+1)); sleep 0.01; done"])
    c.start()
    wait_for(lambda: len(c.log_records()) >= 5, what="first records")
    os.rename(c.log_path, c.log_path + ".old")
    c.ctl("2 0 0")
    wait_for(lambda: os.path.exists(c.log_path) and len(c.log_records()) >= 5, what="reopened log")
    assert c.exit_code(30) == 0
    old = parse_log(c.read(c.log_path + ".old"))
    new = c.log_records()
    ticks = stream_lines(old, "stdout") + stream_lines(new, "stdout")
    assert ticks == [b"tick %d" % i for i in range(400)]


def test_size_cap_rotates_and_keeps_newest(containers):
    c = containers(["sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done"])
    c.start(["--log-size-max", "8192"])
    assert c.exit_code() == 0
    current = c.read(c.log_path)
    rotated = c.read(c.log_path + ".1")
    assert rotated is not None
    assert len(current) <= 8192 and len(rotated) <= 8192
    lines = stream_lines(parse_log(rotated), "stdout") + stream_lines(parse_log(current), "stdout")
    assert lines[-1] == b"line 1999"
    # the two files hold a contiguous tail of the output
    first = int(lines[0].split()[1])
    assert lines == [b"line %d" % i for i in range(first, 2000)]


# epoll_wait, epoll_pwait
EPOLL_WAITS = {"x86_64": (232, 281), "aarch64": (22,)}[os.uname().machine]


def waits_for_events_only(pid):
    """True while pid sleeps in epoll_wait(2) with no timeout (/proc/PID/syscall: number, then
    the arguments in hex; the fourth is the int timeout, -1 in the register's low 32 bits)."""
    with open("/proc/%d/syscall" % pid) as f:
        fields = f.read().split()
    return (fields[0].isdigit() and int(fields[0]) in EPOLL_WAITS
            and int(fields[4], 16) & 0xffffffff == 0xffffffff)


def test_monitor_idles_at_zero_cpu(containers):
    """A monitor whose container is quiet sleeps until an event: in epoll_wait with no timeout,
    and no timer among its fds that could wake it."""
    c = containers(["sleep", "100"])
    c.start()
    wait_for(lambda: waits_for_events_only(c.monitor_pid), what="the monitor asleep in epoll_wait(-1)")
    fds = [os.readlink("/proc/%d/fd/%s" % (c.monitor_pid, fd)) for fd in os.listdir("/proc/%d/fd" % c.monitor_pid)]
    assert not [f for f in fds if "timerfd" in f], fds


def test_log_that_cannot_be_synced_is_reported_and_the_exit_recorded(containers):
    """The fsync at exit fails for a log on /dev/null: said in the monitor's log, and the
    container's exit is recorded all the same."""
    c = containers(["sh", "-c", "echo to-the-void; exit 3"])
    c.log_path = "/dev/null"
    c.start()
    assert c.exit_code() == 3
    assert "fsync log /dev/null: Invalid argument (its last output may not be on disk)" in c.monitor_text()


def test_full_disk_is_survived(containers, tmp_path):
    mnt = str(tmp_path / "small")
    os.makedirs(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt], check=True)
    try:
        # ~150 KiB of records for a 64 KiB disk, then the container waits for a line on stdin
        c = containers(["sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done; "
                        "read x; echo after"])
        c.log_path = os.path.join(mnt, "ctr.log")
        c.create(["-i"])
        dfd = os.open(os.path.join(c.socket_dir, c.id), os.O_RDONLY | os.O_DIRECTORY)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect("/proc/self/fd/%d/attach" % dfd)
        s.settimeout(10)
        os.close(dfd)
        c.runtime("start", c.id)
        # attach clients get everything, disk or not; a packet is sent after its log write
        data = b""
        while b"line 2999\n" not in data:
            data += s.recv(65536)[1:]
        assert b"lost until writes work again" in c.read(c.monitor_log)
        full = c.read(c.log_path)
        assert 0 < len(full) <= 64 * 1024
        parse_log(full)  # whole records only, no torn last line
        # space comes back: a new file after the kubelet's rename-and-reopen dance
        os.unlink(c.log_path)
        c.ctl("2 0 0")
        s.send(b"go\n")
        assert c.exit_code() == 0
        s.close()
        assert stream_lines(c.log_records(), "stdout") == [b"after"]
    finally:
        subprocess.run(["umount", "-l", mnt], check=False)


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for %d" % (field, pid))


def test_fast_writer_does_not_grow_the_monitor(containers):
    """100 MB as fast as the container can write them, half of it one endless line: the
    monitor's peak memory grows by a bounded amount (it reads only as fast as it writes)."""
    c = containers(["sh", "-c", "dd if=/dev/zero bs=1M count=50 2>/dev/null; "
                    "i=0; while [ $i -lt 50 ]; do head -c 1000000 /bin/busybox | base64; i=$((i+1)); done; "
                    "echo all-written; sleep 60"])
    c.create()
    before = status_kib(c.monitor_pid, "VmRSS")
    c.runtime("start", c.id)

    def tail():
        with open(c.log_path, "rb") as f:
            f.seek(max(0, os.path.getsize(c.log_path) - 200))
            return b" F all-written\n" in f.read()

    wait_for(tail, 120, "all the output in the log")
    peak = status_kib(c.monitor_pid, "VmHWM")
    assert os.path.getsize(c.log_path) > 100 * 1000 * 1000
    assert peak - before < 16 * 1024, (before, peak)
    c.runtime("kill", c.id, "KILL")
    assert c.exit_code() == 137
