"""Benchmark of crix-runtime, crun and runc (see hack/bench/runtime)."""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CGROUP_PARENT = "/crix-bench"
HUGETLB = "/sys/fs/cgroup/hugetlb"


def make_rootfs(path):
    busybox = shutil.which("busybox", path="/bin:/usr/bin")
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "root"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
    shutil.copy2(busybox, os.path.join(path, "bin", "busybox"))
    for applet in ("sh", "true"):
        os.symlink("busybox", os.path.join(path, "bin", applet))
    with open(os.path.join(path, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")


def make_bundle(crix, path):
    make_rootfs(os.path.join(path, "rootfs"))
    subprocess.run([crix, "spec", "--bundle", path], check=True)
    with open(os.path.join(path, "config.json")) as f:
        config = json.load(f)
    config["ociVersion"] = "1.0.2-dev"  # crun 1.8 refuses newer versions
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/true"]
    return config


def write_config(path, config, cid):
    config["linux"]["cgroupsPath"] = "%s/%s" % (CGROUP_PARENT, cid)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f)


def timed(cmds):
    """Wall time of running the commands one after the other, in ms. stderr goes to a file, not
    a pipe: a created container holds the caller's stdio, so a pipe would not reach EOF until
    the container exits."""
    with tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        for cmd in cmds:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
            if p.returncode != 0:
                err.seek(0)
                raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode, err.read().decode()))
        return (time.perf_counter() - t) * 1000


def peak_rss_kib(cmd):
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in p.stderr.splitlines():
        if "Maximum resident set size" in line:
            return int(line.split(":")[1])
    raise RuntimeError("no RSS from /usr/bin/time: %s" % p.stderr)


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def remove_cgroups():
    for hier in os.listdir("/sys/fs/cgroup"):
        top = os.path.join("/sys/fs/cgroup", hier, CGROUP_PARENT.lstrip("/"))
        if os.path.isdir(top):
            for d in [os.path.join(top, e) for e in os.listdir(top)] + [top]:
                if os.path.isdir(d):
                    try:
                        os.rmdir(d)
                    except OSError:
                        pass


def own_cgroup_procs():
    """cgroup.procs of this process's own memory cgroup (v1) or cgroup2 cgroup."""
    for line in open("/proc/self/cgroup"):
        _, controllers, path = line.rstrip("\n").split(":", 2)
        if "memory" in controllers.split(","):
            return "/sys/fs/cgroup/memory%s/cgroup.procs" % path.rstrip("/")
    path = open("/proc/self/cgroup").read().split("::", 1)[1].strip()
    return "/sys/fs/cgroup%s/cgroup.procs" % path.rstrip("/")


def prepare(state, procs):
    """The kernel's first move of a process into a cgroup after a quiet spell waits for an RCU
    grace period (5-15 ms here, the cgroup threadgroup rwsem); moves soon after one do not.
    Every runtime pays it alike, so each operation is timed both ways: "cold" after a quiet
    spell, "warm" right after this process moved itself (a no-op) into its own cgroup."""
    if state == "cold":
        time.sleep(0.05)
    else:
        with open(procs, "w") as f:
            f.write(str(os.getpid()))


def main():
    crix, runs = sys.argv[1], int(sys.argv[2])
    runtimes = [("crix-runtime", crix), ("crun", "/usr/bin/crun"), ("runc", "/usr/sbin/runc")]
    ops = [(op, state) for op in ("run", "csd") for state in ("warm", "cold")]
    mounted_hugetlb = False
    if not os.path.ismount(HUGETLB):  # crun 1.8 refuses a hybrid host without it
        os.makedirs(HUGETLB, exist_ok=True)
        subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", HUGETLB], check=True)
        mounted_hugetlb = True
    procs = own_cgroup_procs()
    work = tempfile.mkdtemp(prefix="crix-bench-")
    try:
        bundle = os.path.join(work, "bundle")
        config = make_bundle(crix, bundle)
        roots = {name: os.path.join(work, "root-" + name) for name, _ in runtimes}
        results = {name: {key: [] for key in ops + ["rss"]} for name, _ in runtimes}
        n = 0
        for i in range(runs + 2):  # two warm-up rounds, not counted
            for name, path in runtimes:
                base = [path, "--root", roots[name]]
                for op, state in ops:
                    n += 1
                    cid = "b%d" % n
                    write_config(bundle, config, cid)
                    if op == "run":
                        cmds = [base + ["run", "--bundle", bundle, cid]]
                    else:
                        cmds = [base + ["create", "--bundle", bundle, cid], base + ["start", cid],
                                base + ["delete", "--force", cid]]
                    prepare(state, procs)
                    ms = timed(cmds)
                    if i >= 2:
                        results[name][op, state].append(ms)
        for name, path in runtimes:
            for i in range(10):
                n += 1
                cid = "b%d" % n
                write_config(bundle, config, cid)
                results[name]["rss"].append(peak_rss_kib([path, "--root", roots[name], "run", "--bundle",
                                                          bundle, cid]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        remove_cgroups()
        if mounted_hugetlb:
            subprocess.run(["umount", HUGETLB])

    print("%d runs each, interleaved; warm: right after a cgroup move, cold: after 50 ms quiet; "
          "load average %s" % (runs, open("/proc/loadavg").read().split()[0]))
    print("%-13s %-5s %9s %9s %13s %13s" % ("runtime", "", "run p50", "run p90", "c+s+d p50", "c+s+d p90"))
    for name, _ in runtimes:
        r = results[name]
        for state in ("warm", "cold"):
            run, csd = r["run", state], r["csd", state]
            print("%-13s %-5s %6.1f ms %6.1f ms %10.1f ms %10.1f ms" % (
                name, state, statistics.median(run), pct(run, 0.9), statistics.median(csd), pct(csd, 0.9)))
    print("peak RSS: " + ", ".join("%s %.1f MiB" % (name, max(results[name]["rss"]) / 1024) for name, _ in runtimes))
    c = results["crix-runtime"]
    for other in ("crun", "runc"):
        o = results[other]
        ratios = ["%s %s p50 %.2f" % ("run" if op == "run" else "c+s+d", state,
                                      statistics.median(c[op, state]) / statistics.median(o[op, state]))
                  for op, state in ops]
        print("crix/%-5s %s  peak RSS %.2f" % (other, "  ".join(ratios), max(c["rss"]) / max(o["rss"])))


if __name__ == "__main__":
    main()
