"""Fixtures for the image tests: test images pushed once per session to a plain registry;
TLS, htpasswd and token registries serving the same storage; crix-image runs on a temp root."""
import os
import sys

import pytest

from crixtest import TOP
from image_helpers import PASSWORD, USER, CrixImage

sys.path.insert(0, os.path.join(TOP, "hack", "testenv"))
import testenv  # noqa: E402


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


@pytest.fixture
def crix_image(tmp_path):
    return CrixImage(tmp_path)
