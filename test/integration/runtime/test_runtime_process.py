"""The container's process and filesystem under crix-runtime and runc: same observations."""
import os
import subprocess
import time

import pytest

from runtime_helpers import CGROUP_PARENT, new_container, read, run_both, start_detached

STATUS_FIELDS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp")


def same_output(runtimes, bundle):
    res = run_both(runtimes, bundle)
    crix, runc = res["crix-runtime"], res["runc"]
    assert runc.returncode == 0, runc.stderr
    assert crix.returncode == 0, crix.stderr
    assert crix.stdout == runc.stdout
    return crix.stdout


def status_probe():
    return "grep -E '^(%s):' /proc/self/status" % "|".join(STATUS_FIELDS)


def test_identity_default_spec(runtimes, make_bundle):
    b = make_bundle(["sh", "-c", "hostname; id; umask; pwd; echo $HOME; " + status_probe()])
    out = same_output(runtimes, b)
    assert "uid=0(root)" in out and "NoNewPrivs:\t1" in out


def test_user_groups_umask_cwd_env_caps(runtimes, make_bundle):
    b = make_bundle(["sh", "-c", "id; umask; pwd; echo $GREETING; ulimit -n; " + status_probe()])
    p = b.config["process"]
    p["user"] = {"uid": 1000, "gid": 1000, "umask": 0o027, "additionalGids": [5, 65534]}
    p["cwd"] = "/tmp"
    p["env"] = ["PATH=/bin", "GREETING=hello"]
    p["noNewPrivileges"] = False
    caps = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID"]
    p["capabilities"] = {"bounding": caps, "effective": caps[:2], "permitted": caps,
                         "inheritable": caps[1:3], "ambient": ["CAP_KILL"]}
    p["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]
    b.config["hostname"] = "box"
    b.config["domainname"] = "example.org"
    out = same_output(runtimes, b)
    assert "uid=1000(app) gid=1000(app) groups=5,65534" in out.replace("(nogroup)", "")
    assert "0027" in out and "/tmp" in out and "hello" in out and "256" in out


def test_hostname_domainname_sysctl(runtimes, make_bundle):
    b = make_bundle(["sh", "-c", "hostname; cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax"])
    b.config["hostname"] = "box1"
    b.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.msgmax": "4096"}
    assert same_output(runtimes, b).split() == ["box1", "1", "4096"]
    # runc 1.1 ignores domainname; the spec says to set it.
    crix, _ = runtimes
    b.config["domainname"] = "dom1"
    b.config["process"]["args"] = ["cat", "/proc/sys/kernel/domainname"]
    assert run_both([crix], b)["crix-runtime"].stdout == "dom1\n"


def mount_view(text):
    """mountinfo -> sorted (mount point, per-mount options, fstype) under the container root."""
    rows = []
    for line in text.splitlines():
        pre, post = line.split(" - ")
        f = pre.split()
        fstype = post.split()[0]
        rows.append((f[4], ",".join(sorted(f[5].split(","))), fstype))
    return sorted(rows)


def test_mounts_match_runc(runtimes, make_bundle, tmp_path):
    host_dir = tmp_path / "hostdir"
    host_dir.mkdir()
    (host_dir / "file").write_text("from the host\n")
    b = make_bundle(["sh", "-c", "cat /proc/self/mountinfo"])
    b.config["mounts"] += [
        {"destination": "/data", "type": "bind", "source": str(host_dir), "options": ["rbind", "ro"]},
        {"destination": "/data-file", "type": "bind", "source": str(host_dir / "file"),
         "options": ["bind", "nosuid", "nodev"]},
        {"destination": "/scratch/deep/dir", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "noexec", "size=1m", "mode=700"]},
    ]
    res = run_both(runtimes, b)
    assert res["runc"].returncode == 0, res["runc"].stderr
    assert res["crix-runtime"].returncode == 0, res["crix-runtime"].stderr
    crix, runc = mount_view(res["crix-runtime"].stdout), mount_view(res["runc"].stdout)
    assert crix == runc
    points = [r[0] for r in crix]
    for want in ("/", "/proc", "/dev", "/dev/pts", "/sys", "/data", "/data-file", "/scratch/deep/dir",
                 "/proc/keys", "/proc/sys"):
        assert want in points, want


def test_relative_bind_source_is_in_the_bundle(runtimes, make_bundle):
    """A relative bind source names a path in the bundle, not in the caller's directory. A
    mountLabel is ignored on this host without SELinux (runc passes it to every mount as
    context= and fails, so crix-runtime alone)."""
    b = make_bundle(["cat", "/data/file"])
    os.makedirs(os.path.join(b.path, "data"))
    with open(os.path.join(b.path, "data", "file"), "w") as f:
        f.write("from the bundle\n")
    b.config["mounts"].append({"destination": "/data", "type": "bind", "source": "data",
                               "options": ["rbind", "ro"]})
    assert os.getcwd() != b.path
    assert same_output(runtimes, b) == "from the bundle\n"
    b.config["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0:c1,c2"
    crix = runtimes[0]
    cid = new_container(crix, b, prefix="crix")
    p = crix("--debug", "run", "--bundle", b.path, cid)
    assert (p.returncode, p.stdout) == (0, "from the bundle\n"), p.stderr
    assert "linux.mountLabel system_u:object_r:container_file_t:s0:c1,c2 ignored" in p.stderr


def test_masked_and_readonly_paths(runtimes, make_bundle):
    b = make_bundle(["sh", "-c", "cat /proc/keys | wc -c; ls /sys/firmware | wc -l; "
                     "echo x > /proc/sys/kernel/hostname && echo wrote || echo refused; "
                     "touch /newfile 2>/dev/null && echo rw || echo ro"])
    out = same_output(runtimes, b)
    assert out.split() == ["0", "0", "refused", "ro"]


def test_seccomp_errno(runtimes, make_bundle):
    b = make_bundle(["sh", "-c", "mkdir /tmp/x; echo rc=$?; " + status_probe()])
    b.config["root"]["readonly"] = False
    b.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [{"names": ["mkdir", "mkdirat", "no_such_syscall"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": 13}],
    }
    res = run_both(runtimes, b)
    for name, p in res.items():
        assert "Permission denied" in p.stderr and "rc=1" in p.stdout, (name, p.stderr)
        assert "Seccomp:\t2" in p.stdout
    assert res["crix-runtime"].stdout == res["runc"].stdout


def test_cgroup_limits_and_pids(runtimes, make_bundle):
    b = make_bundle(["sleep", "30"])
    b.config["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "pids": {"limit": 4},
                                      "cpu": {"shares": 512}}
    seen = {}
    for rt in runtimes:
        cid = start_detached(rt, b)
        base = CGROUP_PARENT.lstrip("/") + "/" + cid
        limits = (read("/sys/fs/cgroup/memory/%s/memory.limit_in_bytes" % base).strip(),
                  read("/sys/fs/cgroup/pids/%s/pids.max" % base).strip(),
                  read("/sys/fs/cgroup/cpu/%s/cpu.shares" % base).strip())
        procs = read("/sys/fs/cgroup/pids/%s/cgroup.procs" % base).split()
        seen[rt.name] = (limits, procs == [str(rt.state(cid)["pid"])])
        rt("delete", "--force", cid, check=True)
        rt.ids.discard(cid)
        assert not os.path.exists("/sys/fs/cgroup/memory/" + base)
    assert seen["crix-runtime"] == seen["runc"] == ((str(64 << 20), "4", "512"), True)
    # The limit bites: the 4th process cannot be forked (busybox sh gives up there).
    b.config["process"]["args"] = ["sh", "-c", "for i in 1 2 3 4 5 6; do sleep 1 & echo $i; done"]
    res = run_both(runtimes, b)
    for name, p in res.items():
        assert p.returncode == 2 and "can't fork" in p.stderr, (name, p.stderr)
        assert p.stdout.split() == ["1", "2", "3"], name


def test_user_namespace_with_mappings(runtimes, make_bundle, busybox_rootfs):
    # The mapped root must be able to reach the rootfs.
    d = busybox_rootfs
    while d != "/":
        os.chmod(d, os.stat(d).st_mode | 0o055)
        d = os.path.dirname(d)
    b = make_bundle(["sh", "-c", "id; cat /proc/self/uid_map /proc/self/gid_map; " + status_probe() +
                     "; stat -c '%n %t:%T' /dev/net/tun"])
    b.config["linux"]["namespaces"].append({"type": "user"})
    # no mknod in a user namespace: a device is the host's node bound at the same path
    b.config["linux"]["devices"] = [{"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200}]
    b.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    b.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    # sysfs and cgroupfs cannot be mounted from a user namespace that does not own the
    # host's; keep the mounts a user namespace may do.
    b.config["mounts"] = [m for m in b.config["mounts"] if m["type"] not in ("sysfs", "cgroup")]
    out = same_output(runtimes, b)
    assert "uid=0(root)" in out and "100000" in out and "/dev/net/tun a:c8" in out


def test_time_namespace_offsets(runtimes, make_bundle):
    # runc 1.1 has no time namespaces: crix-runtime alone, against the host's clock.
    crix, _ = runtimes
    b = make_bundle(["cat", "/proc/uptime"])
    b.config["linux"]["namespaces"].append({"type": "time"})
    b.config["linux"]["timeOffsets"] = {"boottime": {"secs": 864000, "nanosecs": 0}}
    res = run_both([crix], b)["crix-runtime"]
    assert res.returncode == 0, res.stderr
    host = float(read("/proc/uptime").split()[0])
    inside = float(res.stdout.split()[0])
    assert 864000 - 5 < inside - host < 864000 + 5


def test_join_namespace_by_path(runtimes, make_bundle):
    seen = {}
    for rt in runtimes:
        first = start_detached(rt, make_bundle(["sleep", "30"]))
        pid = rt.state(first)["pid"]
        # pid: the init of a joined pid namespace is forked once inside it (two-stage)
        b = make_bundle(["sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; "
                         "readlink /proc/self/ns/pid"])
        files = {"network": "net", "ipc": "ipc", "pid": "pid"}
        for ns in b.config["linux"]["namespaces"]:
            if ns["type"] in files:
                ns["path"] = "/proc/%d/ns/%s" % (pid, files[ns["type"]])
        res = run_both([rt], b)[rt.name]
        assert res.returncode == 0, res.stderr
        want = [os.readlink("/proc/%d/ns/%s" % (pid, f)) for f in ("net", "ipc", "pid")]
        assert res.stdout.split() == want
        seen[rt.name] = True
    assert seen == {"crix-runtime": True, "runc": True}


def test_join_mount_namespace_by_path(runtimes, make_bundle):
    """A mount namespace given by path is joined, and the container's root is set up in it."""
    b = make_bundle(["sh", "-c", "readlink /proc/self/ns/mnt; ls /bin/busybox"])
    for rt in runtimes:
        holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sleep", "30"])
        try:
            path = "/proc/%d/ns/mnt" % holder.pid
            for _ in range(100):
                if os.readlink(path) != os.readlink("/proc/self/ns/mnt"):
                    break
                time.sleep(0.01)
            for ns in b.config["linux"]["namespaces"]:
                if ns["type"] == "mount":
                    ns["path"] = path
            res = run_both([rt], b)[rt.name]
            assert res.returncode == 0, (rt.name, res.stderr)
            assert res.stdout.split() == [os.readlink(path), "/bin/busybox"], rt.name
        finally:
            holder.kill()
            holder.wait()


def test_personality(runtimes, make_bundle):
    # runc 1.1 ignores linux.personality: crix-runtime alone, against what setarch shows.
    crix, _ = runtimes
    b = make_bundle(["uname", "-m"])
    for domain, setarch in (("LINUX32", "linux32"), ("LINUX", "x86_64")):
        b.config["linux"]["personality"] = {"domain": domain}
        res = run_both([crix], b)["crix-runtime"]
        want = subprocess.run(["setarch", setarch, "uname", "-m"], capture_output=True, text=True).stdout
        assert (res.returncode, res.stdout) == (0, want), res.stderr
    assert want == "x86_64\n"
    b.config["linux"]["personality"] = {"domain": "LINUX64"}
    res = run_both([crix], b)["crix-runtime"]
    assert res.returncode != 0 and "linux.personality.domain: LINUX64 is not LINUX or LINUX32" in res.stderr


def test_dev_nodes_spec_devices_and_oom_score_adj(runtimes, make_bundle):
    """The default /dev (nodes, modes, symlinks), a spec device usable through the device
    cgroup, and a positive oomScoreAdj, as runc makes them."""
    b = make_bundle(["sh", "-c", "for f in /dev/* /dev/pts/ptmx; do "
                     "if [ -L $f ]; then echo $f '->' $(readlink $f); "
                     "else stat -c '%n %F %t:%T %a %u:%g' $f; fi; done; "
                     "echo x > /dev/crix-null && echo wrote; cat /proc/self/oom_score_adj"])
    b.config["linux"]["devices"] = [{"path": "/dev/crix-null", "type": "c", "major": 1, "minor": 3,
                                     "fileMode": 0o620, "uid": 0, "gid": 0}]
    b.config["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
    b.config["process"]["oomScoreAdj"] = 500
    out = same_output(runtimes, b)
    for want in ("/dev/crix-null character special file 1:3 620 0:0", "/dev/null character special file 1:3 666",
                 "/dev/ptmx -> pts/ptmx", "/dev/fd -> /proc/self/fd", "/dev/stdin -> /proc/self/fd/0",
                 "wrote", "500"):
        assert want in out, (want, out)


ROOT_PROPAGATION = ("awk '$5 == \"/\" { for (i = 7; $i != \"-\"; i++) printf \"%s \", $i; print \"\" }' "
                    "/proc/self/mountinfo | sed 's/:[0-9]*//g'")


def host_root_shared():
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == "/" and "shared:" in line.split(" - ")[0] for line in f)


@pytest.mark.parametrize("propagation", ["slave", "private", "shared"])
def test_rootfs_propagation(runtimes, make_bundle, propagation):
    """The root's propagation (its mountinfo tags, without peer group numbers); a slave of a
    private host root is private. runc 1.1 leaves a "shared" root private; crix-runtime makes
    it shared as the spec says (kubelet's Bidirectional mounts rely on it), so that one is
    checked on crix-runtime alone."""
    tags = {"slave": ["master"] if host_root_shared() else [], "private": [], "shared": ["shared"]}[propagation]
    b = make_bundle(["sh", "-c", ROOT_PROPAGATION])
    b.config["linux"]["rootfsPropagation"] = propagation
    if propagation == "shared":
        res = run_both(runtimes[:1], b)["crix-runtime"]
        assert res.returncode == 0, res.stderr
        out = res.stdout
    else:
        out = same_output(runtimes, b)
    assert out.split() == tags, out


def test_no_pivot_matches_runc(runtimes, make_bundle):
    b = make_bundle(["sh", "-c", "ls /; cat /proc/self/status | grep NoNewPrivs; exit 4"])
    res = run_both(runtimes, b, "--no-pivot")
    assert res["crix-runtime"].returncode == res["runc"].returncode == 4, res
    assert res["crix-runtime"].stdout == res["runc"].stdout
    assert "bin" in res["runc"].stdout.split()
