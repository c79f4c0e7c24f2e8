"""exec, terminals over the console socket, and hooks, against runc (the state hooks get: test_runtime_limits.py)."""
import fcntl
import json
import os
import pty
import re
import select
import socket
import struct
import subprocess
import termios
import threading
import time

from runtime_helpers import CGROUP_PARENT, create, new_container, read, start_detached


def test_exec_options_match_runc(runtimes, make_bundle):
    b = make_bundle(["sleep", "30"])
    seen = {}
    for rt in runtimes:
        cid = start_detached(rt, b)
        p = rt("exec", "--env", "FOO=bar", "--user", "1000:1000", "--cwd", "/tmp", cid,
               "sh", "-c", "echo $FOO; id; pwd; grep -E '^(CapEff|NoNewPrivs):' /proc/self/status; "
               "cat /proc/self/cgroup | grep pids; exit 3")
        ns = rt("exec", cid, "readlink", "/proc/self/ns/pid")
        init_ns = os.readlink("/proc/%d/ns/pid" % rt.state(cid)["pid"])
        seen[rt.name] = (p.returncode, p.stdout, ns.stdout.strip() == init_ns)
    assert seen["crix-runtime"] == seen["runc"]
    code, out, same_ns = seen["runc"]
    assert code == 3 and "bar" in out and "uid=1000" in out and same_ns


def test_exec_process_file_detach_pid_file(runtimes, make_bundle, tmp_path):
    b = make_bundle(["sleep", "30"])
    proc = dict(b.config["process"], args=["sh", "-c", "echo from-process-file > /dev/shm/mark; sleep 30"],
                cwd="/")
    (tmp_path / "process.json").write_text(json.dumps(proc))
    for rt in runtimes:
        cid = start_detached(rt, b)
        pid_file = str(tmp_path / (rt.name + ".exec.pid"))
        # The detached process keeps the runtime's stdio: no pipes, or run() waits for it.
        p = rt("exec", "--process", str(tmp_path / "process.json"), "--detach", "--pid-file", pid_file,
               cid, capture_output=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert p.returncode == 0, rt.name
        pid = int(read(pid_file))
        deadline = time.monotonic() + 5
        out = None
        while time.monotonic() < deadline and not out:
            out = rt("exec", cid, "cat", "/dev/shm/mark").stdout
            time.sleep(0.05)
        assert out == "from-process-file\n", rt.name
        ps = json.loads(rt("ps", "--format", "json", cid, check=True).stdout)
        assert pid in ps and rt.state(cid)["pid"] in ps, (rt.name, ps)
    crix, _ = runtimes
    assert crix("exec", "no-such-id", "true").returncode != 0


class ConsoleSocket:
    """A console socket that receives the pty master and reads it to the end."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.output = b""
        self.name = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.sock.accept()
        msg, fds, _, _ = socket.recv_fds(conn, 1024, 1)
        conn.close()
        self.name = msg.decode()
        master = fds[0]
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.output += chunk
        os.close(master)

    def wait(self, timeout=10):
        self.thread.join(timeout)
        self.sock.close()
        return self.output.decode().replace("\r\n", "\n")


def test_terminal_over_console_socket_matches_runc(runtimes, make_bundle, tmp_path):
    b = make_bundle(["sh", "-c", "tty; stty size; ls -l /dev/console | cut -c1; echo $TERM"])
    b.config["process"]["terminal"] = True
    b.config["process"]["consoleSize"] = {"height": 30, "width": 100}
    seen = {}
    for rt in runtimes:
        console = ConsoleSocket(str(tmp_path / (rt.name + ".sock")))
        cid, _, _ = create(rt, b, "--console-socket", console.path)
        rt("start", cid, check=True)
        seen[rt.name] = console.wait()
        rt("delete", "--force", cid)
    assert seen["crix-runtime"] == seen["runc"]
    assert seen["runc"].split() == ["/dev/pts/0", "30", "100", "c", "xterm"]


def test_exec_tty_matches_runc(runtimes, make_bundle, tmp_path):
    b = make_bundle(["sleep", "30"])
    seen = {}
    for rt in runtimes:
        cid = start_detached(rt, b)
        console = ConsoleSocket(str(tmp_path / (rt.name + "-exec.sock")))
        # runc takes a console socket only with --detach.
        p = rt("exec", "--tty", "--detach", "--console-socket", console.path, cid, "sh", "-c",
               "tty; stty size")
        seen[rt.name] = (p.returncode, console.wait().strip())
    assert seen["crix-runtime"] == seen["runc"]
    assert seen["runc"][0] == 0 and seen["runc"][1].startswith("/dev/pts/")


def on_a_terminal(cmd, rows, cols, prompt, answer, timeout=20):
    """Runs cmd with a pty of rows x cols as its stdio, typing answer once prompt has appeared;
    returns (everything it wrote, as written, and its exit code)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(cmd[0], cmd)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    out, typed = b"", False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 0.5)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            out += chunk
            if prompt in out and not typed:
                os.write(fd, answer)
                typed = True
    else:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return out, os.waitstatus_to_exitcode(status)


def test_foreground_terminal_without_console_socket_matches_runc(runtimes, make_bundle):
    """run and exec --tty in the foreground relay the caller's terminal (size, input, output)
    to the container's pty themselves, as runc does. crix-runtime sizes the pty before the
    process starts and puts the caller's terminal in raw mode before it relays anything, so
    what it prints is exact. runc does both after the start, racing the process: under load
    its `stty size` may fail or say "0 0", and a line it relays before its raw mode gets the
    caller's ONLCR over the pty's ("\\r\\r\\n"). So runc is compared without the sizes and with
    line ends folded; crix-runtime's output is checked whole."""
    script = "stty size; tty; echo ready; read x; echo got:$x; stty size; exit 3"
    b = make_bundle(["sh", "-c", script])
    b.config["process"]["terminal"] = True
    seen = {}
    for rt in runtimes:
        cid = new_container(rt, b)
        seen[rt.name, "run"] = on_a_terminal(rt.cmd("run", "--bundle", b.path, cid), 33, 101, b"ready", b"hello\r")
    b.config["process"]["terminal"] = False
    b.config["process"]["args"] = ["sleep", "30"]
    for rt in runtimes:
        cid = start_detached(rt, b)
        seen[rt.name, "exec"] = on_a_terminal(rt.cmd("exec", "--tty", cid, "sh", "-c", script), 24, 80,
                                              b"ready", b"there\r")

    def folded(result):
        out, code = result
        lines = re.sub(rb"\r+\n", b"\n", out).split(b"\n")
        return [line for i, line in enumerate(lines) if i not in (0, 5)], code  # the stty lines

    for kind in ("run", "exec"):
        assert folded(seen["crix-runtime", kind]) == folded(seen["runc", kind]), kind
    assert seen["crix-runtime", "run"] == (b"33 101\r\n/dev/pts/0\r\nready\r\nhello\r\ngot:hello\r\n33 101\r\n", 3)
    assert seen["crix-runtime", "exec"] == (b"24 80\r\n/dev/pts/0\r\nready\r\nthere\r\ngot:there\r\n24 80\r\n", 3)


def test_failing_and_timed_out_hooks_clean_up(runtimes, make_bundle):
    crix, _ = runtimes
    for hook, message in ((["sh", "-c", "exit 7"], "exit status 7"), (["sleep", "5"], "timed out")):
        b = make_bundle(["true"])
        b.config["hooks"] = {"createRuntime": [{"path": "/bin/" + hook[0], "args": hook, "timeout": 1}]}
        cid = new_container(crix, b, prefix="hook")
        p = crix("create", "--bundle", b.path, cid, stdin=subprocess.DEVNULL)
        assert p.returncode != 0 and message in p.stderr and "createRuntime" in p.stderr
        assert crix("state", cid).returncode != 0
        assert not os.path.exists("/sys/fs/cgroup/memory%s/%s" % (CGROUP_PARENT, cid))
