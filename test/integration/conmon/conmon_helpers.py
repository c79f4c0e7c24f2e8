"""Helpers for the crix-conmon tests: real containers on a busybox rootfs under each OCI runtime
crix-conmon drives (Debian's runc and crix-runtime).

Every container gets an absolute cgroupsPath under /crix-conmon-test, is deleted with
`<runtime> delete --force` at teardown, and its monitor must have exited without a sanitizer
report by then.
"""
import json
import os
import re
import select
import subprocess
import time
import uuid

from crixtest import BUILD, pid_alive, wait_for

RUNTIMES = {"runc": "/usr/sbin/runc", "crix-runtime": os.path.join(BUILD, "libexec", "crix", "crix-runtime")}
CGROUP_PARENT = "/crix-conmon-test"
RECORD = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (stdout|stderr) ([FP]) (.*)$", re.S)


def conmon_binary():
    return os.path.join(BUILD, "libexec", "crix", "crix-conmon")


def parse_log(data):
    """[(timestamp, stream, tag, content)] from CRI log bytes; every record must match."""
    assert data.endswith(b"\n") or data == b"", data[-200:]
    records = []
    for line in data.split(b"\n")[:-1]:
        m = RECORD.match(line)
        assert m, "not a CRI log record: %r" % line[:200]
        records.append((m.group(1).decode(), m.group(2).decode(), m.group(3).decode(), m.group(4)))
    return records


def stream_lines(records, stream):
    """Joins P records into their F line; a trailing P run is returned as a last partial line."""
    lines, cur = [], b""
    for _, s, tag, content in records:
        if s != stream:
            continue
        cur += content
        if tag == "F":
            lines.append(cur)
            cur = b""
    if cur:
        lines.append(cur)
    return lines


class Container:
    """A bundle, its dirs, and a crix-conmon run on it."""

    def __init__(self, base, runtime, rootfs, args, terminal=False, memory=None, pid_ns=True):
        self.id = "t" + uuid.uuid4().hex[:12]
        self.runtime_path = RUNTIMES[runtime]
        self.dir = os.path.join(base, self.id)
        self.bundle = os.path.join(self.dir, "bundle")
        self.runtime_root = os.path.join(base, runtime)
        self.exit_dir = os.path.join(self.dir, "exits")
        self.socket_dir = os.path.join(self.dir, "sock")
        self.log_path = os.path.join(self.dir, "ctr.log")
        self.monitor_log = os.path.join(self.dir, "monitor.log")
        self.monitor_pidfile = os.path.join(self.dir, "monitor.pid")
        self.cgroups_path = "%s/%s" % (CGROUP_PARENT, self.id)
        os.makedirs(self.bundle)
        subprocess.run([RUNTIMES["runc"], "spec", "--bundle", self.bundle], check=True)
        with open(os.path.join(self.bundle, "config.json")) as f:
            spec = json.load(f)
        spec["process"]["args"] = list(args)
        spec["process"]["terminal"] = terminal
        spec["root"] = {"path": rootfs, "readonly": True}
        spec["linux"]["cgroupsPath"] = self.cgroups_path
        if not pid_ns:
            spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "pid"]
        if memory is not None:
            spec["linux"]["resources"] = {"memory": {"limit": memory, "swap": memory}}
        with open(os.path.join(self.bundle, "config.json"), "w") as f:
            json.dump(spec, f)
        self.monitor_pid = None

    def runtime(self, *args, check=True):
        return subprocess.run([self.runtime_path, "--root", self.runtime_root] + list(args), capture_output=True,
                              check=check, timeout=30)

    def command(self, extra=()):
        return [conmon_binary(), "-c", self.id, "-r", self.runtime_path, "--runtime-arg", "--root=" + self.runtime_root,
                "-b", self.bundle, "-p", os.path.join(self.dir, "ctr.pid"), "-P", self.monitor_pidfile,
                "-l", "k8s-file:" + self.log_path, "--exit-dir", self.exit_dir,
                "--socket-dir-path", self.socket_dir, "--log-level", "debug"] + list(extra)

    def spawn(self, command, starter=None, before_sync=None):
        """Runs command with a sync pipe and returns the parsed JSON line. With starter, the
        monitor is started by that program (argv prefix) instead of by this process;
        before_sync() runs before the sync pipe is read."""
        rd, wr = os.pipe()
        env = dict(os.environ, _CRIX_SYNCPIPE=str(wr))
        with open(self.monitor_log, "ab") as log:
            proc = subprocess.Popen(list(starter or []) + command, pass_fds=(wr,), env=env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        os.close(wr)
        self.starter = proc
        if before_sync is not None:
            before_sync()
        data = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([rd], [], [], 0.1)
            if ready:
                chunk = os.read(rd, 65536)
                if not chunk:
                    break
                data += chunk
        os.close(rd)
        assert data.endswith(b"\n") and data.count(b"\n") == 1, (data, self.monitor_text())
        return json.loads(data)

    def create(self, extra=(), starter=None):
        """Starts the monitor (which runs `<runtime> create`); returns the sync JSON."""
        result = self.spawn(self.command(extra), starter)
        if starter is None:
            assert self.starter.wait(10) == 0, self.monitor_text()
        if result["pid"] > 0:
            self.monitor_pid = int(wait_for(lambda: self.read(self.monitor_pidfile), what="monitor pid file"))
        return result

    def start(self, extra=()):
        result = self.create(extra)
        assert result["pid"] > 0, result
        self.runtime("start", self.id)
        return result

    def read(self, path):
        try:
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def exit_code(self, timeout=20):
        path = os.path.join(self.exit_dir, self.id)
        return int(wait_for(lambda: self.read(path), timeout, "exit file of %s" % self.id))

    def oom_marked(self):
        return os.path.exists(os.path.join(self.exit_dir, self.id + ".oom"))

    def log_records(self):
        return parse_log(self.read(self.log_path) or b"")

    def ctl(self, line):
        fd = os.open(os.path.join(self.socket_dir, self.id, "ctl"), os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, line.encode() + b"\n")
        finally:
            os.close(fd)

    def monitor_text(self):
        return (self.read(self.monitor_log) or b"").decode(errors="replace")

    def cleanup(self):
        self.runtime("delete", "--force", self.id, check=False)
        if self.monitor_pid is not None:
            try:
                wait_for(lambda: not pid_alive(self.monitor_pid), 10, "monitor exit")
            except AssertionError:
                os.kill(self.monitor_pid, 9)
                raise
        for ctrl in os.listdir("/sys/fs/cgroup"):
            path = os.path.join("/sys/fs/cgroup", ctrl) + self.cgroups_path
            if os.path.isdir(path):
                try:
                    os.rmdir(path)
                except OSError:
                    pass
