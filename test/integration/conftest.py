"""Fixtures shared by crix's integration tests: a real crixd on a temporary socket and root,
and a busybox-static root filesystem (helpers in crixtest.py: a module named conftest is
ambiguous across folders)."""
import pytest

from crixtest import Crixd, make_busybox_rootfs


@pytest.fixture
def crixd_factory(tmp_path):
    """Builds crixd instances; every one started is stopped at teardown, and a daemon that
    did not exit cleanly (crashes, leaks) or whose log has a sanitizer report fails the test."""
    started = []

    def make(config_yaml="", args=(), subdir="crixd", log_level="debug", program=None):
        d = Crixd(tmp_path / subdir, config_yaml, args, log_level, program)
        started.append(d)
        return d

    yield make
    for d in started:
        code = d.stop()
        log = d.log_text()
        if code not in (0, None):
            pytest.fail("crixd exited with %s:\n%s" % (code, log[-8000:]))
        # its helpers (crix-pull) write to the same log
        if "Sanitizer" in log or "runtime error:" in log:
            pytest.fail("sanitizer report in crixd's log:\n%s" % log[-8000:])


@pytest.fixture
def crixd(crixd_factory):
    return crixd_factory().start()


@pytest.fixture
def busybox_rootfs(tmp_path):
    return make_busybox_rootfs(str(tmp_path / "rootfs"))
