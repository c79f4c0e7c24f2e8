"""Fixtures for the image tests: test images pushed once per session to a plain registry;
TLS, htpasswd and token registries serving the same storage; crix-image runs on a temp root."""
import base64
import json
import os
import subprocess
import sys

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("CRIX_BUILD_DIR", os.path.join(TOP, "build-test"))
sys.path.insert(0, os.path.join(TOP, "hack", "testenv"))
import testenv  # noqa: E402

USER, PASSWORD = "crix", "s3cret-Pa55"


@pytest.fixture(scope="session")
def images():
    return testenv.test_images()


@pytest.fixture(scope="session")
def storage(tmp_path_factory, images):
    """A registry storage holding crix/<name>:v1 for every test image."""
    d = tmp_path_factory.mktemp("registry")
    reg = testenv.Registry(str(d / "plain-work"), str(d / "storage"))
    try:
        testenv.push_all(reg.url, images)
    finally:
        reg.stop()
    return str(d / "storage")


def _registry(tmp_path_factory, storage, name, **kw):
    reg = testenv.Registry(str(tmp_path_factory.mktemp(name)), storage, **kw)
    return reg


@pytest.fixture(scope="session")
def registry(tmp_path_factory, storage):
    reg = _registry(tmp_path_factory, storage, "plain")
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def ca(tmp_path_factory):
    return testenv.make_ca(str(tmp_path_factory.mktemp("ca")))


@pytest.fixture(scope="session")
def tls_registry(tmp_path_factory, storage, ca):
    reg = _registry(tmp_path_factory, storage, "tls", tls=ca)
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory, storage):
    reg = _registry(tmp_path_factory, storage, "basic", htpasswd=(USER, PASSWORD))
    yield reg
    reg.stop()


@pytest.fixture
def token_server(tmp_path):
    ts = testenv.TokenServer(str(tmp_path / "token"), USER, PASSWORD)
    yield ts
    ts.stop()


@pytest.fixture
def token_registry(tmp_path, storage, token_server):
    reg = testenv.Registry(str(tmp_path / "token-registry"), storage, token=token_server)
    yield reg
    reg.stop()


@pytest.fixture
def own_registry(tmp_path, images):
    """A registry with its own storage (for tests that damage it): crix/single:v1 only."""
    reg = testenv.Registry(str(tmp_path / "own-work"), str(tmp_path / "own-storage"))
    testenv.push(reg.url, "crix/single", "v1", images["single"])
    yield reg
    reg.stop()


class CrixImage:
    """crix-image on a private root with a config file."""

    def __init__(self, tmp_path):
        self.root = str(tmp_path / "root")
        self.config = str(tmp_path / "crix.yaml")
        self.certs = str(tmp_path / "certs.d")
        self.registries = []
        self.extra = []
        self.write_config()

    def write_config(self, auth_file=""):
        lines = ["image:", "  auth_file: %s" % json.dumps(auth_file), "  registries:"]
        for prefix, insecure, mirrors in self.registries:
            ms = ", ".join("{location: %s, insecure: %s}" % (json.dumps(loc), "true" if ins else "false")
                           for loc, ins in mirrors)
            lines.append("    - {prefix: %s, insecure: %s, mirrors: [%s]}"
                         % (json.dumps(prefix), "true" if insecure else "false", ms))
        if not self.registries:
            lines[-1] = "  registries: []"
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def registry(self, prefix, insecure=False, mirrors=()):
        self.registries.append((prefix, insecure, list(mirrors)))
        self.write_config()

    def run(self, *args, check=False, timeout=120):
        cmd = [os.path.join(BUILD, "image", "crix-image"), "--root", self.root, "--config", self.config,
               "--certs-dir", self.certs] + self.extra + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        assert "Sanitizer" not in p.stderr, p.stderr
        if check:
            assert p.returncode == 0, "%s failed:\n%s" % (" ".join(args), p.stderr)
        return p

    def pull(self, *refs, **kw):
        return self.run("pull", *refs, **kw)

    def pull_ok(self, *refs):
        return self.run("pull", *refs, check=True).stdout.split()

    def status(self, ref):
        return json.loads(self.run("status", ref, check=True).stdout)

    def list(self):
        return json.loads(self.run("list", check=True).stdout)

    def dir(self, *parts):
        return os.path.join(self.root, *parts)

    def listdir(self, *parts):
        p = self.dir(*parts)
        return sorted(os.listdir(p)) if os.path.isdir(p) else []


@pytest.fixture
def crix_image(tmp_path):
    return CrixImage(tmp_path)


def basic_auth_file(path, host, user=USER, password=PASSWORD, **extra):
    entry = {"auth": base64.b64encode(("%s:%s" % (user, password)).encode()).decode()} if user else {}
    entry.update(extra)
    with open(path, "w") as f:
        json.dump({"auths": {host: entry}}, f)
    return path
