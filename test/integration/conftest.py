"""Fixtures shared by crix's integration tests: a real crixd on a temporary socket and root,
and a busybox-static root filesystem (helpers in crixtest.py: a module named conftest is
ambiguous across folders)."""
import pytest

from crixtest import Crixd, make_busybox_rootfs


@pytest.fixture
def crixd_factory(tmp_path):
    """Builds crixd instances; every one started is stopped at teardown, and a daemon that
    did not exit cleanly (sanitizer reports, crashes) fails the test."""
    started = []

    def make(config_yaml="", args=(), subdir="crixd", log_level="debug"):
        d = Crixd(tmp_path / subdir, config_yaml, args, log_level)
        started.append(d)
        return d

    yield make
    for d in started:
        code = d.stop()
        if code not in (0, None):
            pytest.fail("crixd exited with %s:\n%s" % (code, d.log_text()[-8000:]))


@pytest.fixture
def crixd(crixd_factory):
    return crixd_factory().start()


@pytest.fixture
def busybox_rootfs(tmp_path):
    return make_busybox_rootfs(str(tmp_path / "rootfs"))
