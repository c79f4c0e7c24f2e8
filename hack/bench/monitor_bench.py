"""Driver for hack/bench/monitor: crix-conmon against Debian's conmon, both running runc.

Prints, per monitor: RSS and PSS (from /proc/PID/smaps_rollup) over N sleeping containers,
and the log throughput (MB/s) of a container printing 200 MB of 100-byte lines, timed
from `runc start` until the exit file appears (so the whole log has been written).
Usage: monitor_bench.py CRIX_CONMON [CONTAINERS] [MEGABYTES]
"""
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

RUNC = "/usr/sbin/runc"
CONMON = "/usr/bin/conmon"
CGROUP_PARENT = "/crix-bench-monitor"


def make_rootfs(path):
    busybox = shutil.which("busybox", path="/bin:/usr/bin")
    os.makedirs(os.path.join(path, "bin"))
    for d in ("proc", "sys", "dev", "tmp", "etc"):
        os.makedirs(os.path.join(path, d))
    shutil.copy2(busybox, os.path.join(path, "bin", "busybox"))
    for applet in ("sh", "sleep", "cat", "true"):
        os.symlink("busybox", os.path.join(path, "bin", applet))


def make_lines(path, megabytes):
    """megabytes of 100-byte lines (99 bytes + newline). The container `cat`s this file: busybox
    `yes` writes one line per syscall and would be the bottleneck, not the monitor."""
    with open(path, "wb") as f:
        block = b"".join(b"%08d %s\n" % (i, b"x" * 90) for i in range(10000))
        assert len(block) == 10000 * 100
        for _ in range(megabytes):
            f.write(block)


class Bench:
    def __init__(self, base, rootfs):
        self.base, self.rootfs = base, rootfs
        self.runc_root = os.path.join(base, "runc")
        self.ids = []

    def bundle(self, cid, args):
        bundle = os.path.join(self.base, cid, "bundle")
        os.makedirs(bundle)
        subprocess.run([RUNC, "spec", "--bundle", bundle], check=True)
        with open(os.path.join(bundle, "config.json")) as f:
            spec = json.load(f)
        spec["process"].update(args=args, terminal=False)
        spec["root"] = {"path": self.rootfs, "readonly": True}
        spec["linux"]["cgroupsPath"] = "%s/%s" % (CGROUP_PARENT, cid)
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(spec, f)
        return bundle

    def launch(self, kind, args):
        """Starts a container under the monitor kind; returns (id, dir, monitor pid)."""
        cid = kind[0] + uuid.uuid4().hex[:12]
        self.ids.append(cid)
        bundle = self.bundle(cid, args)
        d = os.path.join(self.base, cid)
        pidfile = os.path.join(d, "monitor.pid")
        log = os.path.join(d, "ctr.log")
        exits = os.path.join(d, "exits")
        os.makedirs(exits)
        sync_rd, sync_wr = os.pipe()
        fds, env = [sync_wr], dict(os.environ)
        if kind == "crix-conmon":
            env["_CRIX_SYNCPIPE"] = "3"
            cmd = [self.crix, "-c", cid, "-r", RUNC, "--runtime-arg", "--root=" + self.runc_root,
                   "-b", bundle, "-p", os.path.join(d, "ctr.pid"), "-P", pidfile, "-l", log,
                   "--exit-dir", exits, "--socket-dir-path", d]
            start_wr = None
        else:
            start_rd, start_wr = os.pipe()
            fds.append(start_rd)
            env.update(_OCI_SYNCPIPE="3", _OCI_STARTPIPE="4")
            cmd = [CONMON, "-b", bundle, "-c", cid, "--exit-dir", exits, "-l", "k8s-file:" + log,
                   "-n", cid, "-P", pidfile, "-p", os.path.join(d, "ctr.pid"), "--persist-dir", d,
                   "-r", RUNC, "--runtime-arg", "--root=" + self.runc_root, "--socket-dir-path", d,
                   "-u", cid, "--log-size-max", str(1 << 40)]
        # fds become 3 (sync) and 4 (start) in the child
        def child_fds():
            for i, fd in enumerate(fds):
                os.dup2(fd, 3 + i)
        with open(os.path.join(d, "monitor.out"), "wb") as out:
            proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    preexec_fn=child_fds, pass_fds=[3 + i for i in range(len(fds))])
        os.close(sync_wr)
        if start_wr is not None:
            os.close(fds[1])
            os.close(start_wr)  # conmon goes on at EOF of the start pipe
        proc.wait()
        line = b""
        while True:
            ready, _, _ = select.select([sync_rd], [], [], 30)
            chunk = os.read(sync_rd, 4096) if ready else b""
            if not chunk:
                break
            line += chunk
            if kind != "crix-conmon" and b"\n" in line:
                break
        os.close(sync_rd)
        msg = json.loads(line.splitlines()[0]) if line else {}
        if msg.get("pid", msg.get("data", -1)) <= 0:
            raise RuntimeError("%s failed: %r\n%s" % (kind, line, open(os.path.join(d, "monitor.out")).read()))
        self.started_at = time.monotonic()
        subprocess.run([RUNC, "--root", self.runc_root, "start", cid], check=True)
        for _ in range(500):
            if os.path.exists(pidfile):
                break
            time.sleep(0.01)
        with open(pidfile) as f:
            return cid, d, int(f.read())

    def cleanup(self):
        for cid in self.ids:
            subprocess.run([RUNC, "--root", self.runc_root, "delete", "--force", cid], capture_output=True)
        time.sleep(0.3)
        for ctrl in os.listdir("/sys/fs/cgroup"):
            parent = os.path.join("/sys/fs/cgroup", ctrl) + CGROUP_PARENT
            if os.path.isdir(parent):
                for sub in os.listdir(parent):
                    if os.path.isdir(os.path.join(parent, sub)):
                        try:
                            os.rmdir(os.path.join(parent, sub))
                        except OSError:
                            pass
                try:
                    os.rmdir(parent)
                except OSError:
                    pass


def memory_kib(pid):
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("Rss", "Pss"):
                out[key] = int(line.split()[1])
    return out["Rss"], out["Pss"]


def main():
    crix = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    megabytes = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    base = tempfile.mkdtemp(prefix="crix-bench-monitor-")
    rootfs = os.path.join(base, "rootfs")
    make_rootfs(rootfs)
    make_lines(os.path.join(rootfs, "lines"), megabytes)
    bench = Bench(base, rootfs)
    bench.crix = crix
    results = {}
    try:
        for kind in ("conmon", "crix-conmon"):
            pids = [bench.launch(kind, ["sleep", "1000"])[2] for _ in range(count)]
            time.sleep(1.0)
            mem = [memory_kib(p) for p in pids]
            rss = statistics.mean(m[0] for m in mem)
            pss = statistics.mean(m[1] for m in mem)
            # 100-byte lines (99 bytes + newline)
            total = megabytes * 1000 * 1000
            cid, d, _ = bench.launch(kind, ["cat", "/lines"])
            t0 = bench.started_at  # from `runc start` to the exit file
            exit_file = os.path.join(d, "exits", cid)
            while not os.path.exists(exit_file):
                time.sleep(0.005)
            elapsed = time.monotonic() - t0
            log_size = os.path.getsize(os.path.join(d, "ctr.log"))
            with open(exit_file) as f:
                status = f.read().strip()
            if status != "0" or log_size < total:
                with open(os.path.join(d, "ctr.log"), "rb") as f:
                    head = f.read(2000)
                raise RuntimeError("%s: container exited %s, log %d bytes: %r" % (kind, status, log_size, head))
            results[kind] = (rss, pss, total / elapsed / 1e6, elapsed, log_size)
            bench.cleanup()
            bench.ids = []
    finally:
        bench.cleanup()
        shutil.rmtree(base, ignore_errors=True)
    print("monitor        RSS/monitor  PSS/monitor  log MB/s  (%d sleeping containers; %d MB of 100-byte lines)"
          % (count, megabytes))
    for kind, (rss, pss, mbps, elapsed, log_size) in results.items():
        print("%-13s %8.0f KiB %8.0f KiB %9.1f   (%.2f s, log file %.0f MB)"
              % (kind, rss, pss, mbps, elapsed, log_size / 1e6))
    a, b = results["crix-conmon"], results["conmon"]
    print("crix-conmon/conmon: PSS %.2fx, throughput %.2fx" % (a[1] / b[1], a[2] / b[2]))


if __name__ == "__main__":
    main()
