"""crix-runtime against runc on this host's cgroup v1 hierarchies: the limit files the same
bundle leaves, pids limits and device rules that bite, seccomp errnos, update, pause/resume."""
import json
import os
import subprocess

import pytest

from crixtest import wait_for
from runtime_helpers import CGROUP_PARENT, CGROUP_ROOT, create, read, remove_cgroups, run_both

MiB = 1024 * 1024

# (hierarchy, file) pairs compared between the runtimes.
LIMIT_FILES = [
    ("memory", "memory.limit_in_bytes"),
    ("memory", "memory.soft_limit_in_bytes"),
    ("memory", "memory.memsw.limit_in_bytes"),
    ("memory", "memory.swappiness"),
    ("cpu", "cpu.shares"),
    ("cpu", "cpu.cfs_quota_us"),
    ("cpu", "cpu.cfs_period_us"),
    ("cpuset", "cpuset.cpus"),
    ("cpuset", "cpuset.mems"),
    ("pids", "pids.max"),
]


def cgroup_files(cid, files=LIMIT_FILES):
    values = {}
    for hier, name in files:
        path = os.path.join(CGROUP_ROOT, hier, CGROUP_PARENT.lstrip("/"), cid, name)
        values[name] = read(path).strip() if os.path.exists(path) else None
    return values


def start(rt, bundle):
    """create + start `bundle`; returns (id, host pid of its init)."""
    cid, _, _ = create(rt, bundle)
    rt("start", cid, check=True)
    return cid, rt.state(cid)["pid"]


def wait_status(rt, cid, status, timeout=10):
    wait_for(lambda: rt.state(cid)["status"] == status, timeout, "%s %s %s" % (rt.name, cid, status))


def with_resources(bundle, resources):
    bundle.config["linux"]["resources"] = resources
    return bundle


RESOURCES = {
    "memory": {"limit": 64 * MiB, "reservation": 32 * MiB, "swap": 128 * MiB, "swappiness": 20},
    "cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0", "mems": "0"},
    "pids": {"limit": 20},
}


def test_limit_files_match_runc(runtimes, make_bundle):
    b = with_resources(make_bundle(["sleep", "30"]), RESOURCES)
    seen = {}
    for rt in runtimes:
        cid, pid = start(rt, b)
        seen[rt.name] = cgroup_files(cid)
        # The init is in the container's cgroup in every hierarchy.
        own = read("/proc/%d/cgroup" % pid)
        for line in own.splitlines():
            if line.split(":")[1] in ("memory", "cpu", "cpuset", "pids", "freezer", "devices"):
                assert line.endswith("%s/%s" % (CGROUP_PARENT, cid)), (rt.name, line)
        rt("kill", cid, "KILL", check=True)
    assert seen["crix-runtime"] == seen["runc"]
    assert seen["runc"]["memory.limit_in_bytes"] == str(64 * MiB)
    assert seen["runc"]["cpu.cfs_quota_us"] == "20000"
    assert seen["runc"]["pids.max"] == "20"


@pytest.fixture
def hugetlb_hierarchy(runtimes):
    """The hugetlb v1 hierarchy, mounted for the test when the host has none (and unmounted
    after, once the runtimes' cgroups are gone: this fixture is set up after `runtimes`)."""
    path = os.path.join(CGROUP_ROOT, "hugetlb")
    if os.path.exists(os.path.join(path, "cgroup.procs")):
        yield path
        return
    made = not os.path.isdir(path)
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", path], check=True)
    try:
        yield path
    finally:
        for rt in runtimes:
            rt.cleanup()
        remove_cgroups(CGROUP_PARENT)
        subprocess.run(["umount", path], check=True)
        if made:
            os.rmdir(path)


def test_hugepage_limits_match_runc(runtimes, make_bundle, hugetlb_hierarchy):
    sizes = sorted((d.split("-")[1] for d in os.listdir("/sys/kernel/mm/hugepages")),
                   key=lambda kb: int(kb[:-2]))  # the smallest: 2048kB
    page = {"2048kB": "2MB", "1048576kB": "1GB"}[sizes[0]]
    b = with_resources(make_bundle(["sleep", "30"]), {"hugepageLimits": [{"pageSize": page, "limit": 4 * 2 * MiB}]})
    files = [("hugetlb", "hugetlb.%s.limit_in_bytes" % page)]
    seen = {}
    for rt in runtimes:
        cid, _ = start(rt, b)
        seen[rt.name] = cgroup_files(cid, files)
        rt("kill", cid, "KILL", check=True)
    assert seen["crix-runtime"] == seen["runc"] == {files[0][1]: str(8 * MiB)}


def test_device_rules_match_runc(runtimes, make_bundle):
    """The default deny-all + runc's allow-list: /dev/null works, the host's /dev/kmsg bound in
    is refused by the device cgroup, identically."""
    b = make_bundle(["sh", "-c", "echo x > /dev/null && echo null-ok; head -c 1 /dev/kmsg"])
    b.config["mounts"].append({"destination": "/dev/kmsg", "type": "bind", "source": "/dev/kmsg",
                               "options": ["bind"]})
    res = run_both(runtimes, b)
    assert res["crix-runtime"].returncode == res["runc"].returncode != 0
    assert res["crix-runtime"].stdout == res["runc"].stdout == "null-ok\n"
    for name, p in res.items():
        assert "Operation not permitted" in p.stderr, (name, p.stderr)
    devices = []
    for rt in runtimes:
        cid, _ = start(rt, make_bundle(["sleep", "30"]))
        devices.append(sorted(read(os.path.join(CGROUP_ROOT, "devices", CGROUP_PARENT.lstrip("/"),
                                                cid, "devices.list")).split("\n")))
        rt("kill", cid, "KILL", check=True)
    assert devices[0] == devices[1]
    assert "a *:* rwm" not in devices[0]


FORK_MANY = "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 2 & done; wait; echo done"


def test_pids_limit_effective_like_runc(runtimes, make_bundle):
    res = run_both(runtimes, with_resources(make_bundle(["sh", "-c", FORK_MANY]), {"pids": {"limit": 5}}))
    for name, p in res.items():
        assert p.returncode != 0 and "done" not in p.stdout, (name, p.stdout, p.stderr)
        assert "can't fork" in p.stderr, (name, p.stderr)
    assert res["crix-runtime"].returncode == res["runc"].returncode
    # The same script under a roomy limit completes: the failure above is the limit's.
    res = run_both(runtimes, with_resources(make_bundle(["sh", "-c", FORK_MANY]), {"pids": {"limit": 50}}))
    for name, p in res.items():
        assert p.returncode == 0 and p.stdout == "done\n", (name, p.stdout, p.stderr)


def seccomp_profile(rules):
    return {"defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": rules}


def test_seccomp_errno_matches_runc(runtimes, make_bundle):
    b = make_bundle(["sh", "-c", "grep Seccomp: /proc/self/status; mkdir /tmp/d"])
    b.config["linux"]["seccomp"] = seccomp_profile([
        {"names": ["mkdir", "mkdirat", "no_such_syscall"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18}])
    res = run_both(runtimes, b)
    assert (res["crix-runtime"].returncode, res["crix-runtime"].stdout, res["crix-runtime"].stderr) == \
        (res["runc"].returncode, res["runc"].stdout, res["runc"].stderr)
    assert res["runc"].returncode != 0
    assert "Seccomp:\t2" in res["runc"].stdout
    assert "Invalid cross-device link" in res["runc"].stderr  # EXDEV = 18


def test_seccomp_arg_conditions_match_runc(runtimes, make_bundle):
    """chmod is denied only for mode 0777 (chmod and fchmodat, whichever libc uses)."""
    b = make_bundle(["sh", "-c", "touch /tmp/f && chmod 644 /tmp/f && echo 644-ok; chmod 777 /tmp/f"])
    b.config["root"]["readonly"] = False
    b.config["linux"]["seccomp"] = seccomp_profile([
        {"names": ["chmod"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 1, "value": 0o777, "op": "SCMP_CMP_EQ"}]},
        {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 2, "value": 0o777, "op": "SCMP_CMP_EQ"}]}])
    res = run_both(runtimes, b)
    assert (res["crix-runtime"].returncode, res["crix-runtime"].stdout, res["crix-runtime"].stderr) == \
        (res["runc"].returncode, res["runc"].stdout, res["runc"].stderr)
    assert res["runc"].stdout == "644-ok\n"
    assert "Operation not permitted" in res["runc"].stderr


def native_syscalls():
    with open("/usr/include/x86_64-linux-gnu/asm/unistd_64.h") as f:
        return [line.split()[1][len("__NR_"):] for line in f if line.startswith("#define __NR_")]


@pytest.mark.skipif(not os.path.exists("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
                    reason="needs the x86_64 syscall list")
def test_default_deny_profile_matches_runc(runtimes, make_bundle):
    """A profile shaped like Docker's (EPERM by default, ~360 syscalls allowed for three
    architectures, personality and clone allowed only with given arguments): the same
    outcomes under both runtimes."""
    denied = {"mkdir", "mkdirat", "unshare", "personality", "clone", "clone3"}
    b = make_bundle(["sh", "-c", "echo start; grep Seccomp: /proc/self/status; mkdir /tmp/d; "
                     "echo mkdir=$?; unshare -U true; echo unshare=$?; (true); echo fork=$?"])
    b.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": [n for n in native_syscalls() if n not in denied], "action": "SCMP_ACT_ALLOW"},
            # PER_LINUX and the query value only, as Docker's profile.
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]},
            # clone without namespace flags (fork), as Docker's profile.
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        ],
    }
    res = run_both(runtimes, b)
    assert (res["crix-runtime"].returncode, res["crix-runtime"].stdout) == \
        (res["runc"].returncode, res["runc"].stdout)
    out = res["runc"].stdout
    # fork is clone without namespace flags: allowed by the MASKED_EQ rule.
    assert out == "start\nSeccomp:\t2\nmkdir=1\nunshare=1\nfork=0\n", out


def test_update_matches_runc(runtimes, make_bundle, tmp_path):
    b = with_resources(make_bundle(["sleep", "30"]), RESOURCES)
    resources_file = tmp_path / "update.json"
    resources_file.write_text(json.dumps({"cpu": {"shares": 256}, "pids": {"limit": 40}}))
    seen = {}
    for rt in runtimes:
        cid, _ = start(rt, b)
        rt("update", "--memory", str(96 * MiB), "--memory-swap", str(192 * MiB),
           "--cpu-quota", "30000", cid, check=True)
        flags = cgroup_files(cid)
        rt("update", "--resources", str(resources_file), cid, check=True)
        from_file = cgroup_files(cid)
        # from stdin; with --resources the flags do nothing, wherever they stand
        rt("update", "--pids-limit", "50", "--resources", "-", cid, check=True,
           input=json.dumps({"cpu": {"shares": 512}, "pids": {"limit": 30}}))
        seen[rt.name] = (flags, from_file, cgroup_files(cid))
        rt("kill", cid, "KILL", check=True)
    assert seen["crix-runtime"] == seen["runc"]
    flags, from_file, from_stdin = seen["runc"]
    assert from_stdin["cpu.shares"] == "512" and from_stdin["pids.max"] == "30"
    assert flags["memory.limit_in_bytes"] == str(96 * MiB) and flags["cpu.cfs_quota_us"] == "30000"
    assert from_file["cpu.shares"] == "256" and from_file["pids.max"] == "40"
    # What update did not name is unchanged.
    assert from_file["memory.limit_in_bytes"] == str(96 * MiB) and from_file["cpuset.cpus"] == "0"


def test_pause_resume_freezer_like_runc(runtimes, make_bundle):
    b = make_bundle(["sleep", "30"])
    seen = {}
    for rt in runtimes:
        cid, pid = start(rt, b)
        freezer = os.path.join(CGROUP_ROOT, "freezer", CGROUP_PARENT.lstrip("/"), cid, "freezer.state")
        rt("pause", cid, check=True)
        paused = (rt.state(cid)["status"], read(freezer).strip(),
                  read("/proc/%d/status" % pid).split("State:")[1].split()[0])
        rt("resume", cid, check=True)
        resumed = (rt.state(cid)["status"], read(freezer).strip())
        rt("kill", cid, "KILL", check=True)
        wait_status(rt, cid, "stopped")
        rt("delete", cid, check=True)
        rt.ids.discard(cid)
        gone = os.path.exists(os.path.dirname(freezer))
        seen[rt.name] = (paused, resumed, gone)
    assert seen["crix-runtime"] == seen["runc"]
    assert seen["runc"] == (("paused", "FROZEN", "D"), ("running", "THAWED"), False)


def procs(cid, hier="pids"):
    path = os.path.join(CGROUP_ROOT, hier, CGROUP_PARENT.lstrip("/"), cid, "cgroup.procs")
    return [int(p) for p in read(path).split()]


def test_kill_all_reaches_every_process_like_runc(runtimes, make_bundle):
    """In the host's pid namespace killing the init leaves its children; kill --all signals
    everything in the cgroup, including a frozen container."""
    b = make_bundle(["sh", "-c", "sleep 100 & sleep 100 & wait"])
    b.config["linux"]["namespaces"] = [n for n in b.config["linux"]["namespaces"] if n["type"] != "pid"]
    seen = {}
    for rt in runtimes:
        # Without --all only the init dies: its two children stay in the cgroup.
        cid, pid = start(rt, b)
        wait_for(lambda: len(procs(cid)) == 3, what="%s: the init and its two children" % rt.name)
        rt("kill", cid, "KILL", check=True)
        wait_status(rt, cid, "stopped")
        wait_for(lambda: len(procs(cid)) == 2, what="%s: the init gone, its children left" % rt.name)
        orphans = len(procs(cid))
        rt("delete", "--force", cid, check=True)
        rt.ids.discard(cid)
        cid, pid = start(rt, b)
        wait_for(lambda: len(procs(cid)) == 3, what="%s: the init and its two children" % rt.name)
        rt("pause", cid, check=True)
        rt("kill", "--all", cid, "KILL", check=True)
        wait_for(lambda: not procs(cid), what="%s: every process killed" % rt.name)
        wait_status(rt, cid, "stopped")
        seen[rt.name] = (orphans, procs(cid), rt.state(cid)["status"])
    assert seen["crix-runtime"] == seen["runc"] == (2, [], "stopped")
