"""Helpers for crix-runtime tests: the same bundle run under crix-runtime and under Debian's
runc (the oracle), each with a private --root and a cgroup under CGROUP_PARENT that is
removed at teardown, even when a test fails."""
import copy
import json
import os
import subprocess
import uuid

from crixtest import BUILD

RUNC = "/usr/sbin/runc"
# One per test process: runs of the suite side by side must not remove each other's cgroups.
CGROUP_PARENT = "/crix-rt-test-%d" % os.getpid()
CGROUP_ROOT = "/sys/fs/cgroup"


def crix_runtime_path():
    return os.path.join(BUILD, "libexec", "crix", "crix-runtime")


class Runtime:
    """One OCI runtime binary with a private state root."""

    def __init__(self, name, path, root):
        self.name = name
        self.path = path
        self.root = root
        self.ids = set()

    def cmd(self, *args):
        return [self.path, "--root", self.root] + list(args)

    def __call__(self, *args, check=False, timeout=30, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        p = subprocess.run(self.cmd(*args), timeout=timeout, **kw)
        if check and p.returncode != 0:
            raise AssertionError("%s %s: exit %d\nstdout: %s\nstderr: %s"
                                 % (self.name, " ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def state(self, cid):
        return json.loads(self("state", cid, check=True).stdout)

    def cleanup(self):
        for cid in list(self.ids):
            self("delete", "--force", cid)


class Bundle:
    """A bundle dir with the busybox rootfs and a config.json built from `crix-runtime spec`."""

    def __init__(self, path, rootfs, base):
        self.path = path
        self.rootfs = rootfs
        self.config = copy.deepcopy(base)
        os.makedirs(path, exist_ok=True)

    def write(self):
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(self.config, f, indent=1)
        return self.path


def remove_cgroups(path):
    """rmdir path and what is below it in every v1 hierarchy and the cgroup2 tree."""
    for hier in os.listdir(CGROUP_ROOT):
        top = os.path.join(CGROUP_ROOT, hier, path.lstrip("/"))
        if not os.path.isdir(top):
            continue
        for dirpath, dirnames, _ in sorted(os.walk(top), key=lambda t: -len(t[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def new_id(prefix="c"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def new_container(rt, bundle, cid=None, prefix=None):
    """Writes the bundle for a new container of rt (its own cgroup under CGROUP_PARENT),
    which rt deletes at teardown; returns the container id."""
    cid = cid or new_id(prefix or rt.name[:4])
    bundle.config["linux"]["cgroupsPath"] = "%s/%s" % (CGROUP_PARENT, cid)
    bundle.write()
    rt.ids.add(cid)
    return cid


def run_both(runtimes, bundle, *extra, timeout=30):
    """Runs the bundle to completion under each runtime; returns {name: CompletedProcess}."""
    out = {}
    for rt in runtimes:
        cid = new_container(rt, bundle)
        out[rt.name] = rt("run", "--bundle", bundle.path, *extra, cid, timeout=timeout)
    return out


def create(rt, bundle, *extra, cid=None, check=True):
    """create (the container keeps the stdio files, so no pipes); returns (id, proc, output
    path). The output file holds the runtime's errors and the container's output."""
    cid = new_container(rt, bundle, cid)
    out_path = os.path.join(bundle.path, "%s.out" % cid)
    with open(out_path, "w") as out:
        p = rt("create", "--bundle", bundle.path, *extra, cid, capture_output=False,
               stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    if check and p.returncode != 0:
        with open(out_path) as f:
            raise AssertionError("%s create: exit %d: %s" % (rt.name, p.returncode, f.read()))
    return cid, p, out_path


def start_detached(rt, bundle, cid=None):
    """create + start a long-running container; returns its id."""
    cid, _, _ = create(rt, bundle, cid=cid)
    rt("start", cid, check=True)
    return cid


def read(path):
    with open(path) as f:
        return f.read()
