"""No fixed limits on what a container's spec may hold, against runc: a state of 256 KiB of
annotations given whole to every hook, hook stdin written under the hook's timeout, the
kernel's full 340 lines of uid/gid maps."""
import json
import os
import subprocess

import pytest

from runtime_helpers import CGROUP_PARENT, create, new_container, read

HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
# Run by the container's init, in its namespaces: the pid they are given is the init's own.
IN_CONTAINER = ("createContainer", "startContainer")


def large_annotations(total=256 * 1024):
    """Kubernetes' limit of annotations on a pod, in values that JSON has to escape."""
    value = ('quote " backslash \\ slash / newline \n tab \t é ✓ ' * 200)[:4000]
    return {"org.example.key%03d" % i: "%03d:%s" % (i, value) for i in range(total // 4000)}


def saving_hook(target, timeout=30):
    return {"path": "/bin/sh", "args": ["sh", "-c", "cat > %s" % target], "env": ["PATH=/bin:/usr/bin"],
            "timeout": timeout}


def test_every_hook_gets_the_whole_large_state_as_runc_gives_it(runtimes, make_bundle, tmp_path):
    b = make_bundle(["true"])
    annotations = large_annotations()
    b.config["annotations"] = annotations
    seen = {}
    for rt in runtimes:
        out = tmp_path / ("hooks-" + rt.name)
        out.mkdir()
        # startContainer runs in the container: it writes to a bind mount of out.
        b.config["mounts"] = [m for m in b.config["mounts"] if m["destination"] != "/hookout"]
        b.config["mounts"].append({"destination": "/hookout", "type": "bind", "source": str(out),
                                   "options": ["rbind", "rw"]})
        b.config["hooks"] = {kind: [saving_hook(("/hookout/" if kind == "startContainer" else str(out) + "/")
                                                + kind)] for kind in HOOK_KINDS}
        cid = new_container(rt, b)
        p = rt("run", "--bundle", b.path, cid, timeout=60)
        assert p.returncode == 0, (rt.name, p.stderr)
        states = {kind: json.loads(read(str(out / kind))) for kind in HOOK_KINDS}
        host_pid = states["createRuntime"]["pid"]
        for kind, st in states.items():
            assert st["id"] == cid and st["bundle"] == b.path, (rt.name, kind)
            assert st["annotations"] == annotations, (rt.name, kind)
            if kind in IN_CONTAINER:
                assert st["pid"] == 1, (rt.name, kind, st["pid"])  # a new pid namespace
            elif "pid" in st:
                assert st["pid"] == host_pid > 1, (rt.name, kind, st["pid"], host_pid)
        seen[rt.name] = {kind: (sorted(st), st["status"]) for kind, st in states.items()}
    # runc 1.1 runs poststart hooks at create, telling them "created"; they run after start in
    # crix-runtime, which says "running" as the runtime-spec has it.
    assert seen["runc"].pop("poststart")[1] == "created"
    assert seen["crix-runtime"].pop("poststart")[1] == "running"
    assert seen["crix-runtime"] == seen["runc"]
    assert seen["runc"]["poststop"] == (["annotations", "bundle", "id", "ociVersion", "status"], "stopped")


def processes_running(argv):
    """Pids of the processes whose command line is argv (whatever pid namespace they are in)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if f.read().split(b"\0")[:-1] == [a.encode() for a in argv]:
                    found.append(int(pid))
        except OSError:
            pass
    return found


@pytest.mark.parametrize("kind", ["createRuntime", "createContainer"])
def test_hook_that_never_reads_a_large_state_is_killed_at_its_timeout_like_runc(runtimes, make_bundle, kind):
    """The state is far larger than a pipe's buffer: writing it must not wait for the hook."""
    b = make_bundle(["true"])
    b.config["annotations"] = large_annotations()
    seen = {}
    for i, rt in enumerate(runtimes):
        sleeper = ["sleep", "%d" % (6000 + os.getpid() % 1000 * 10 + i)]  # to find it by
        b.config["hooks"] = {kind: [{"path": "/bin/sh", "args": ["sh", "-c", "exec " + " ".join(sleeper)],
                                     "timeout": 1}]}
        cid = new_container(rt, b)
        p = rt("create", "--bundle", b.path, cid, stdin=subprocess.DEVNULL, timeout=60)
        seen[rt.name] = (p.returncode != 0, rt("state", cid).returncode != 0, processes_running(sleeper))
        if rt.name == "crix-runtime":
            assert "timed out" in p.stderr and kind in p.stderr, p.stderr
    assert seen["crix-runtime"] == seen["runc"] == (True, True, [])


def test_hooks_reading_slowly_or_not_at_all_like_runc(runtimes, make_bundle, tmp_path):
    """A hook that reads its stdin a little at a time gets all of it; one that exits without
    reading it succeeds (the rest of the state is not its business)."""
    b = make_bundle(["true"])
    annotations = large_annotations()
    b.config["annotations"] = annotations
    slow_reader = ("import sys, time\n"
                   "with open(sys.argv[1], 'wb') as out:\n"
                   "    while True:\n"
                   "        chunk = sys.stdin.buffer.raw.read(4096)\n"
                   "        if not chunk: break\n"
                   "        out.write(chunk); time.sleep(0.005)\n")
    for rt in runtimes:
        targets = {kind: str(tmp_path / ("%s-%s.json" % (rt.name, kind))) for kind in ("createRuntime", "createContainer")}
        b.config["hooks"] = {kind: [{"path": "/usr/bin/python3", "args": ["python3", "-c", slow_reader, target],
                                     "timeout": 60},
                                    {"path": "/bin/true", "args": ["true"], "timeout": 60}]
                             for kind, target in targets.items()}
        cid = new_container(rt, b)
        p = rt("run", "--bundle", b.path, cid, timeout=120)
        assert p.returncode == 0, (rt.name, p.stderr)
        for kind, target in targets.items():
            assert json.loads(read(target))["annotations"] == annotations, (rt.name, kind)


def test_container_process_keeps_default_signals_after_hooks_like_runc(runtimes, make_bundle):
    """The init runs startContainer hooks right before exec'ing the process: what it does
    with SIGPIPE to write their stdin must not leak into the process."""
    b = make_bundle(["grep", "^SigIgn:", "/proc/self/status"])
    b.config["hooks"] = {"startContainer": [{"path": "/bin/true", "args": ["true"]}]}
    seen = {}
    for rt in runtimes:
        cid = new_container(rt, b)
        p = rt("run", "--bundle", b.path, cid)
        assert p.returncode == 0, (rt.name, p.stderr)
        seen[rt.name] = p.stdout
    assert seen["crix-runtime"] == seen["runc"] == "SigIgn:\t0000000000000000\n"


def mappings(n):
    """n one-id ranges: 0 is host root (the bundle is under root's private temp dirs), 1.. are
    host 99759..: with 340 the map takes 4064 bytes, as long as the kernel takes (a write
    shorter than a page)."""
    return [{"containerID": 0, "hostID": 0, "size": 1}] + [
        {"containerID": i, "hostID": 99758 + i, "size": 1} for i in range(1, n)]


def user_ns_bundle(make_bundle, n_uids, n_gids, args):
    b = make_bundle(args)
    b.config["linux"]["namespaces"].append({"type": "user"})
    b.config["linux"]["uidMappings"] = mappings(n_uids)
    b.config["linux"]["gidMappings"] = mappings(n_gids)
    return b


def test_user_namespace_takes_the_kernels_340_mappings_like_runc(runtimes, make_bundle):
    b = user_ns_bundle(make_bundle, 340, 340, ["cat", "/proc/self/uid_map", "/proc/self/gid_map"])
    seen = {}
    for rt in runtimes:
        cid = new_container(rt, b)
        p = rt("run", "--bundle", b.path, cid)
        assert p.returncode == 0, (rt.name, p.stderr)
        seen[rt.name] = [tuple(map(int, line.split())) for line in p.stdout.splitlines()]
    expected = [(m["containerID"], m["hostID"], m["size"]) for m in mappings(340)]
    assert sum(len("%d %d %d\n" % m) for m in expected) == 4064
    assert seen["crix-runtime"] == seen["runc"] == expected + expected


@pytest.mark.parametrize("field,uids,gids", [("uidMappings", 341, 1), ("gidMappings", 1, 341)])
def test_more_mappings_than_the_kernel_takes_is_a_clear_error(runtimes, make_bundle, field, uids, gids):
    crix, _ = runtimes
    b = user_ns_bundle(make_bundle, uids, gids, ["true"])
    cid, p, out = create(crix, b, check=False)
    message = read(out)
    assert p.returncode != 0 and "linux.%s: 341 entries" % field in message and "340" in message, message
    assert crix("state", cid).returncode != 0
    assert not os.path.exists("/sys/fs/cgroup/pids%s/%s" % (CGROUP_PARENT, cid))
