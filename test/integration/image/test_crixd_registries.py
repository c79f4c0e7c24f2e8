"""Registry and image-format behaviours through grpcio against a real crixd (the same library
is tested in depth through crix-image in test_pull.py and test_registries.py): what kubelet
sees of TLS, Basic and Bearer auth from the request's AuthConfig, mirrors, indexes, pulls by
digest, unsupported and hostile images and misbehaving registries, as status codes and
messages, and that a failed pull leaves no image behind."""
import base64
import os
import time

import grpc
import pytest

import testenv
from image_helpers import PASSWORD, USER, pull, ref, registries_yaml, status

api = pytest.importorskip("api_pb2")


def pull_error(d, image, auth=None, timeout=60):
    with pytest.raises(grpc.RpcError) as e:
        pull(d, image, auth, timeout)
    return e.value.code(), e.value.details()


def images_of(d):
    return [i.id for i in d.image("ListImages").images]


def assert_nothing_left(d):
    assert images_of(d) == []
    assert os.listdir(os.path.join(d.root, "tmp")) == []


@pytest.fixture
def crixd_for(crixd_factory):
    """crixd_for(*registries) -> a started crixd with those image.registries entries."""
    count = [0]

    def make(*entries):
        count[0] += 1
        return crixd_factory(registries_yaml(*entries), subdir="crixd%d" % count[0]).start()

    return make


def test_tls_verified_unless_insecure(crixd_for, tls_registry, images):
    d = crixd_for((tls_registry.host, [], False))
    code, details = pull_error(d, ref(tls_registry.host))
    assert code == grpc.StatusCode.UNAVAILABLE, details
    assert "pull %s" % ref(tls_registry.host) in details and "certificate" in details
    assert_nothing_left(d)
    d = crixd_for((tls_registry.host, []))
    assert pull(d, ref(tls_registry.host)) == images["single"].config_digest


def test_basic_auth_from_auth_config(crixd_for, basic_registry, images):
    d = crixd_for((basic_registry.host, []))
    code, details = pull_error(d, ref(basic_registry.host))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert "unauthorized: the registry wants credentials (401)" in details
    code, details = pull_error(d, ref(basic_registry.host), api.AuthConfig(username=USER, password="wrong"))
    assert code == grpc.StatusCode.PERMISSION_DENIED and "(401)" in details and "wrong" not in details
    assert_nothing_left(d)
    assert pull(d, ref(basic_registry.host), api.AuthConfig(username=USER, password=PASSWORD)) == \
        images["single"].config_digest
    # the docker-style base64 "user:password" form
    auth = base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
    assert pull(d, ref(basic_registry.host, "docker"), api.AuthConfig(auth=auth)) == images["docker"].config_digest
    assert PASSWORD not in d.log_text() and auth not in d.log_text()


def test_bearer_identity_token_from_auth_config(crixd_for, token_registry, token_server, images):
    d = crixd_for((token_registry.host, []))
    token_server.requests.clear()
    auth = api.AuthConfig(identity_token=token_server.refresh_token)
    assert pull(d, ref(token_registry.host), auth) == images["single"].config_digest
    assert token_server.requests == [("POST", "repository:crix/single:pull", True)]
    assert token_server.refresh_token not in d.log_text()


def test_mirror_serves_and_the_requested_name_is_recorded(crixd_for, registry, images):
    proxy = testenv.FakeRegistry("proxy", upstream=registry.url)
    try:
        # registry.invalid does not exist: only the mirror can serve
        d = crixd_for(("registry.invalid/e2e", [proxy.host + "/crix"], False))
        wanted = "registry.invalid/e2e/multi:v1"
        assert pull(d, wanted) == images["multi"].config_digest
        st = status(d, wanted).image
        assert list(st.repo_tags) == [wanted]
        assert list(st.repo_digests) == ["registry.invalid/e2e/multi@" + images["multi"].digest]
        assert any(p.startswith("/v2/crix/multi/manifests/") for p in proxy.paths)
    finally:
        proxy.stop()


@pytest.mark.parametrize("name", ["index", "index-docker"])
def test_index_gives_this_platform(crixd_for, registry, images, name):
    d = crixd_for((registry.host, []))
    assert pull(d, ref(registry.host, name)) == images["index-amd64"].config_digest  # arm64 is listed first
    assert list(status(d, ref(registry.host, name)).image.repo_digests) == \
        ["%s/crix/%s@%s" % (registry.host, name, images[name].digest)]


def test_index_without_this_platform(crixd_for, registry):
    d = crixd_for((registry.host, []))
    code, details = pull_error(d, ref(registry.host, "index-noamd64"))
    assert code == grpc.StatusCode.NOT_FOUND, details
    assert "no image for linux/amd64 in the index (it has linux/arm64/v8)" in details
    assert_nothing_left(d)


def test_zstd_and_docker_flavours(crixd_for, registry, images):
    d = crixd_for((registry.host, []))
    for name in ("zstd", "docker"):
        assert pull(d, ref(registry.host, name)) == images[name].config_digest
    assert sorted(images_of(d)) == sorted([images["zstd"].config_digest, images["docker"].config_digest])


def test_pull_by_digest_records_no_tag(crixd_for, registry, images):
    d = crixd_for((registry.host, []))
    img = images["single"]
    by_digest = "%s/crix/single@%s" % (registry.host, img.digest)
    assert pull(d, by_digest) == img.config_digest
    st = status(d, by_digest).image
    assert list(st.repo_tags) == [] and list(st.repo_digests) == [by_digest]
    code, details = pull_error(d, "%s/crix/single@sha256:%s" % (registry.host, "1" * 64))
    assert code == grpc.StatusCode.NOT_FOUND and "manifest unknown (404)" in details


@pytest.mark.parametrize("mode,code,message", [
    ("garbage", grpc.StatusCode.INTERNAL, "not a JSON object"),
    ("huge", grpc.StatusCode.INTERNAL, "larger than 4 MiB: refused"),
    ("schema1", grpc.StatusCode.UNIMPLEMENTED, "Docker schema 1, which is not supported"),
    ("reset", grpc.StatusCode.UNAVAILABLE, "pull 127.0.0.1:"),
])
def test_bad_registry_clear_error_no_partial_image(crixd_for, mode, code, message):
    fake = testenv.FakeRegistry(mode)
    try:
        d = crixd_for((fake.host, []))
        got, details = pull_error(d, ref(fake.host))
        assert (got, message in details) == (code, True), details
        assert_nothing_left(d)
    finally:
        fake.stop()


def test_manifest_of_another_digest_is_refused(crixd_for, registry, images):
    fake = testenv.FakeRegistry("wrongdigest", upstream=registry.url)
    try:
        d = crixd_for((fake.host, []))
        want = images["docker"].digest  # the registry answers with single's manifest
        code, details = pull_error(d, "%s/crix/single@%s" % (fake.host, want))
        assert "manifest %s: content has digest %s" % (want, images["single"].digest) in details, (code, details)
        assert_nothing_left(d)
    finally:
        fake.stop()


@pytest.mark.parametrize("status,retried", [(503, True), (429, True), (502, True), (403, False), (401, False)])
def test_transient_errors_are_retried_the_others_final(crixd_for, registry, images, status, retried):
    fake = testenv.FakeRegistry("flaky", upstream=registry.url, fail=2, status=status)
    try:
        d = crixd_for((fake.host, []))
        if retried:
            assert pull(d, ref(fake.host)) == images["single"].config_digest
        else:
            code, details = pull_error(d, ref(fake.host))
            assert "(%d)" % status in details and code == grpc.StatusCode.PERMISSION_DENIED, (code, details)
            manifest_gets = [p for p in fake.paths if "/manifests/" in p]
            assert len(manifest_gets) == 1, fake.paths  # not retried
            assert_nothing_left(d)
    finally:
        fake.stop()


@pytest.mark.parametrize("name", sorted(testenv.hostile_layers()))
def test_hostile_layer_fails_and_writes_nothing_outside(crixd_for, registry, name):
    _, entry_name, target = testenv.hostile_layers()[name]
    d = crixd_for((registry.host, []))
    code, details = pull_error(d, ref(registry.host, "hostile-" + name))
    assert 'layer entry "%s"' % entry_name in details, (code, details)
    if target:
        assert not os.path.lexists(target)
    assert_nothing_left(d)
    assert os.listdir(os.path.join(d.root, "layers")) == []


def test_expired_token_is_fetched_again(crixd_for, storage, tmp_path, images):
    ts = testenv.TokenServer(str(tmp_path / "token"), USER, PASSWORD, expires_in=2)
    reg = testenv.Registry(str(tmp_path / "token-registry"), storage, token=ts)
    try:
        d = crixd_for((reg.host, []))
        auth = api.AuthConfig(username=USER, password=PASSWORD)
        assert pull(d, ref(reg.host), auth) == images["single"].config_digest
        assert pull(d, ref(reg.host), auth) == images["single"].config_digest  # cached
        assert ts.requests == [("GET", "repository:crix/single:pull", True)]
        time.sleep(2.5)
        assert pull(d, ref(reg.host), auth) == images["single"].config_digest
        assert ts.requests == [("GET", "repository:crix/single:pull", True)] * 2
    finally:
        reg.stop()
        ts.stop()


@pytest.mark.parametrize("parallel", [1, 3])
def test_max_parallel_downloads(crixd_factory, registry, images, parallel):
    proxy = testenv.FakeRegistry("slow", upstream=registry.url, rate=4 << 20)
    try:
        config = registries_yaml((proxy.host, [])).replace(
            "image:\n", "image:\n  max_parallel_downloads: %d\n" % parallel, 1)
        d = crixd_factory(config).start()
        assert pull(d, ref(proxy.host, "multi")) == images["multi"].config_digest
        layers = len([p for p in proxy.paths if "/blobs/" in p]) - 1  # and the config
        assert layers >= 3, proxy.paths
        assert proxy.most_blobs_at_once == parallel, proxy.paths
    finally:
        proxy.stop()


def test_auth_config_reaches_a_mirror_only_when_it_names_it(crixd_for, basic_registry, images):
    """The request's credentials are for the registry the image is named after; a mirror gets
    them only when AuthConfig.server_address names the mirror."""
    d = crixd_for(("registry.invalid/e2e", [basic_registry.host + "/crix"], False))
    wanted = "registry.invalid/e2e/single:v1"
    code, details = pull_error(d, wanted, api.AuthConfig(username=USER, password=PASSWORD))
    assert "registry.invalid" in details, (code, details)
    assert_nothing_left(d)
    auth = api.AuthConfig(username=USER, password=PASSWORD, server_address=basic_registry.host)
    assert pull(d, wanted, auth) == images["single"].config_digest
    assert list(status(d, wanted).image.repo_tags) == [wanted]
    assert PASSWORD not in d.log_text()
