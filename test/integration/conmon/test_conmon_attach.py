"""Attach socket, terminal resize and exec-sync."""
import json
import os
import socket
import time

from crixtest import wait_for
from conmon_helpers import stream_lines


def connect_attach(c):
    """Connects through a dir fd, as a client with a path over 108 bytes must."""
    dfd = os.open(os.path.join(c.socket_dir, c.id), os.O_RDONLY | os.O_DIRECTORY)
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect("/proc/self/fd/%d/attach" % dfd)
    finally:
        os.close(dfd)
    s.settimeout(10)
    return s


def recv_until(s, stream, wanted):
    data = b""
    while wanted not in data:
        packet = s.recv(65536)
        assert packet, "attach socket closed; got %r" % data
        if packet[0] == stream:
            data += packet[1:]
    return data


def test_attach_round_trip_and_stdin_once(containers, tmp_path):
    c = containers(["cat"])
    # a socket dir whose attach path is far over sun_path's 108 bytes
    c.socket_dir = os.path.join(c.dir, "s" * 60, "t" * 60)
    c.create(["-i", "--stdin-once"])
    s = connect_attach(c)
    c.runtime("start", c.id)
    s.send(b"hello\n")
    assert recv_until(s, 2, b"hello\n") == b"hello\n"
    s.send(b"second line\n")
    assert recv_until(s, 2, b"second line\n") == b"second line\n"
    # with --stdin-once the end of this client's input closes the container's stdin
    s.shutdown(socket.SHUT_WR)
    assert c.exit_code() == 0
    assert s.recv(65536) == b""  # the monitor hangs up once the container is gone
    s.close()
    assert stream_lines(c.log_records(), "stdout") == [b"hello", b"second line"]


def test_two_clients_see_output(containers):
    c = containers(["sh", "-c", "read x; echo got $x; echo oops >&2"])
    c.create(["-i"])
    a, b = connect_attach(c), connect_attach(c)
    c.runtime("start", c.id)
    a.send(b"ping\n")
    for s in (a, b):
        assert recv_until(s, 2, b"got ping\n") == b"got ping\n"
        assert recv_until(s, 3, b"oops\n") == b"oops\n"
    assert c.exit_code() == 0


def test_resize_reaches_the_pty(containers):
    # The fifo and the attach socket are separate channels, so the container waits for the
    # size rather than racing the resize; a resize that never arrives fails the test.
    c = containers(["sh", "-c", "read x; until [ \"$(stty size)\" = '37 101' ]; do sleep 0.05; done; "
                    "echo size $(stty size)"], terminal=True)
    c.create(["-t", "-i"])
    s = connect_attach(c)
    c.runtime("start", c.id)
    c.ctl("1 37 101")
    s.send(b"go\n")
    assert b"37 101" in recv_until(s, 2, b"37 101")
    assert c.exit_code() == 0
    assert any(b"37 101" in line for line in stream_lines(c.log_records(), "stdout"))


def exec_sync(c, args, extra=()):
    spec = {"args": args, "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0},
            "terminal": False}
    n = len(os.listdir(c.dir))
    spec_path = os.path.join(c.dir, "process-%d.json" % n)
    out, err = spec_path + ".out", spec_path + ".err"
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    cmd = [c.command()[0], "-e", "-c", c.id, "-r", c.runtime_path, "--runtime-arg",
           "--root=" + c.runtime_root, "--exec-process-spec", spec_path, "--exec-stdout", out,
           "--exec-stderr", err] + list(extra)
    start = time.monotonic()
    result = c.spawn(cmd)
    c.starter.wait(30)
    result["elapsed"] = time.monotonic() - start
    result["stdout"], result["stderr"] = c.read(out), c.read(err)
    result["monitor_status"] = c.starter.returncode
    return result


def test_exec_sync_output_and_exit_code(containers):
    c = containers(["sleep", "100"])
    c.start()
    r = exec_sync(c, ["sh", "-c", "echo out; echo err >&2; exit 5"])
    assert (r["exit_code"], r["timed_out"], r["stdout"], r["stderr"]) == (5, False, b"out\n", b"err\n")
    assert (r["stdout_truncated"], r["stderr_truncated"]) == (False, False)
    assert r["monitor_status"] == 5


# fdinfo "flags:" is octal; a writer with O_NONBLOCK would see EAGAIN whenever the monitor
# falls behind, and lose output.
O_NONBLOCK = 0o4000
SHOW_OUTPUT_FLAGS = "for f in 1 2; do grep flags: /proc/self/fdinfo/$f; done"


def nonblocking(text):
    flags = [int(line.split()[1], 8) for line in text.splitlines() if line.startswith("flags:")]
    assert len(flags) == 2, text
    return [bool(f & O_NONBLOCK) for f in flags]


def test_container_and_exec_output_pipes_block(containers):
    c = containers(["sh", "-c", SHOW_OUTPUT_FLAGS + "; sleep 100"])
    c.start()
    wait_for(lambda: len(stream_lines(c.log_records(), "stdout")) == 2, what="the flags in the log")
    assert nonblocking(b"\n".join(stream_lines(c.log_records(), "stdout")).decode()) == [False, False]
    r = exec_sync(c, ["sh", "-c", SHOW_OUTPUT_FLAGS])
    assert r["exit_code"] == 0 and nonblocking(r["stdout"].decode()) == [False, False]


def test_exec_sync_timeout(containers):
    c = containers(["sleep", "100"])
    c.start()
    r = exec_sync(c, ["sh", "-c", "echo before; sleep 30"], ["-T", "1"])
    assert r["timed_out"] is True and r["exit_code"] == 137
    assert r["stdout"] == b"before\n"
    assert r["elapsed"] < 10


def test_exec_sync_truncates_output(containers):
    c = containers(["sleep", "100"])
    c.start()
    r = exec_sync(c, ["sh", "-c", "head -c 5000 /dev/zero; echo fine >&2"], ["--exec-output-max", "1000"])
    assert r["exit_code"] == 0
    assert (r["stdout_bytes"], r["stdout_truncated"]) == (1000, True)
    assert r["stdout"] == b"\0" * 1000
    assert (r["stderr"], r["stderr_truncated"]) == (b"fine\n", False)


def test_exec_sync_failure_is_reported(containers):
    c = containers(["sleep", "100"])
    c.start()
    r = exec_sync(c, ["/no/such/program"])
    assert r["pid"] == -1 and "/no/such/program" in r["message"], r


def test_exec_attach_with_terminal(containers):
    c = containers(["sleep", "100"])
    c.start()
    session = "x" + c.id
    spec = {"args": ["sh", "-c", "read x; echo got $x; until [ \"$(stty size)\" = '33 99' ]; do "
                     "sleep 0.05; done; stty size; exit 7"], "cwd": "/",
            "env": ["PATH=/bin", "TERM=xterm"], "user": {"uid": 0, "gid": 0}, "terminal": True}
    spec_path = os.path.join(c.dir, "exec-tty.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    cmd = [c.command()[0], "-e", "--exec-attach", "-c", c.id, "-u", session, "-r", c.runtime_path,
           "--runtime-arg", "--root=" + c.runtime_root, "--exec-process-spec", spec_path, "-t", "-i",
           "--exit-dir", c.exit_dir, "--socket-dir-path", c.socket_dir]
    attach_path = os.path.join(c.socket_dir, session, "attach")
    clients = []

    def attach():
        # the process starts only once a client is attached: nothing it prints is lost
        wait_for(lambda: os.path.exists(attach_path), what="exec attach socket")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(attach_path)
        s.settimeout(10)
        clients.append(s)

    result = c.spawn(cmd, before_sync=lambda: attach())
    assert result["pid"] > 0, result
    s = clients[0]
    fd = os.open(os.path.join(c.socket_dir, session, "ctl"), os.O_WRONLY | os.O_NONBLOCK)
    os.write(fd, b"1 33 99\n")
    os.close(fd)
    s.send(b"hi\n")
    out = recv_until(s, 2, b"33 99")
    assert b"got hi" in out
    assert int(wait_for(lambda: c.read(os.path.join(c.exit_dir, session)), what="exec exit file")) == 7
    # the container itself goes on
    assert b'"running"' in c.runtime("state", c.id).stdout
    s.close()


def test_stalled_client_is_dropped_not_the_output(containers):
    c = containers(["sh", "-c", "i=0; while [ $i -lt 60000 ]; do echo line $i; i=$((i+1)); done"])
    c.create()
    s = connect_attach(c)  # never reads
    c.runtime("start", c.id)
    assert c.exit_code(60) == 0
    lines = stream_lines(c.log_records(), "stdout")
    assert lines == [b"line %d" % i for i in range(60000)]
    assert b"attach client stalled, disconnected" in c.read(c.monitor_log)
    # what it was sent is whole packets, then the hang-up
    got = 0
    while True:
        packet = s.recv(65536)
        if not packet:
            break
        assert packet[0] == 2
        got += len(packet) - 1
    assert 0 < got < sum(len(l) + 1 for l in lines)
    s.close()
