"""Fixtures for crix-runtime tests (helpers in runtime_helpers.py)."""
import json
import subprocess

import pytest

from runtime_helpers import CGROUP_PARENT, RUNC, Bundle, Runtime, crix_runtime_path, remove_cgroups


@pytest.fixture(scope="session")
def default_spec(tmp_path_factory):
    d = tmp_path_factory.mktemp("spec")
    subprocess.run([crix_runtime_path(), "spec", "--bundle", str(d)], check=True)
    with open(d / "config.json") as f:
        return json.load(f)


@pytest.fixture
def runtimes(tmp_path):
    """(crix, runc): both cleaned up at teardown with their cgroups."""
    crix = Runtime("crix-runtime", crix_runtime_path(), str(tmp_path / "crix-root"))
    runc = Runtime("runc", RUNC, str(tmp_path / "runc-root"))
    yield crix, runc
    crix.cleanup()
    runc.cleanup()
    remove_cgroups(CGROUP_PARENT)


@pytest.fixture
def make_bundle(tmp_path, busybox_rootfs, default_spec):
    """make_bundle(args, **changes) -> Bundle: the default spec with args, no terminal, the
    busybox rootfs (read-only root), and a unique cgroupsPath set per runtime at run time."""
    count = [0]

    def make(args, rootfs=None):
        count[0] += 1
        b = Bundle(str(tmp_path / ("bundle%d" % count[0])), rootfs or busybox_rootfs, default_spec)
        b.config["root"]["path"] = b.rootfs
        b.config["process"]["terminal"] = False
        b.config["process"]["args"] = list(args)
        return b

    return make


