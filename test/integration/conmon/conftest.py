"""Fixtures for crix-conmon (helpers live in conmon_helpers.py: a module named conftest
is ambiguous across folders)."""
import os

import pytest

from conmon_helpers import CGROUP_PARENT, Container


@pytest.fixture(params=["runc", "crix-runtime"])
def containers(request, tmp_path, busybox_rootfs):
    """Factory: containers(args, terminal=False, memory=None, pid_ns=True), each test once under
    each runtime."""
    made = []

    def make(args, **kw):
        c = Container(str(tmp_path), request.param, busybox_rootfs, args, **kw)
        made.append(c)
        return c

    yield make
    failures = []
    for c in made:
        try:
            c.cleanup()
        except AssertionError as e:
            failures.append(str(e))
        text = c.monitor_text()
        if "Sanitizer" in text or "runtime error:" in text:
            failures.append("monitor of %s reported:\n%s" % (c.id, text[-6000:]))
    for ctrl in os.listdir("/sys/fs/cgroup"):
        parent = os.path.join("/sys/fs/cgroup", ctrl) + CGROUP_PARENT
        if os.path.isdir(parent):
            try:
                os.rmdir(parent)
            except OSError:
                pass
    if failures:
        pytest.fail("\n".join(failures))
