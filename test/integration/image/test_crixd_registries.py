"""Registry and image-format behaviours through grpcio against a real crixd (the same library
is tested in depth through crix-image in test_pull.py and test_registries.py): what kubelet
sees of TLS, Basic and Bearer auth from the request's AuthConfig, mirrors, indexes, pulls by
digest, unsupported and hostile images and misbehaving registries, as status codes and
messages, and that a failed pull leaves no image behind; stalled downloads; identical pulls
at once merged into one."""
import base64
import os
import signal
import subprocess
import threading

import grpc
import pytest

import testenv
from crixtest import IMAGE, wait_for
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
        # pulls use the cached token until it expires (2 s), then the next one fetches another
        wait_for(lambda: pull(d, ref(reg.host), auth) == images["single"].config_digest and len(ts.requests) > 1,
                 timeout=30, what="a pull after the token expired")
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


# ---- stalled downloads


def test_stalled_download_fails_after_retries(crixd_factory, registry, images):
    """A registry that trickles blobs at 1 KiB/s, below image.min_speed (default 16 KiB/s) for
    image.stall_timeout (set by a drop-in and SIGHUP): the transfer is aborted, retried, and
    the pull fails saying it stalled, with nothing left behind."""
    trickle = testenv.FakeRegistry("slow", upstream=registry.url, rate=1 << 10)
    try:
        d = crixd_factory(registries_yaml((trickle.host, []))).start()
        with open(os.path.join(d.config_dir, "50-stall.yaml"), "w") as f:
            f.write("image:\n  stall_timeout: 2\n")
        shown = subprocess.run(d.command() + ["config"], capture_output=True, text=True, timeout=20, check=True)
        assert "stall_timeout: 2\n" in shown.stdout and "min_speed: 16384\n" in shown.stdout, shown.stdout
        d.signal(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded: image" in d.log_text(), what="the reload")
        layer = images["single"].layers[0]["digest"]
        code, details = pull_error(d, ref(trickle.host), timeout=300)
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED, (code, details)
        assert "blob %s" % layer in details and trickle.host in details, details
        assert "stalled: less than 16384 bytes/s for 2 s" in details, details
        assert trickle.paths.count("/v2/crix/single/blobs/" + layer) > 1, trickle.paths  # retried
        assert_nothing_left(d)
        assert os.listdir(os.path.join(d.root, "layers")) == []
    finally:
        trickle.stop()


def test_slow_download_above_min_speed_completes(crixd_factory, registry, images):
    slow = testenv.FakeRegistry("slow", upstream=registry.url, rate=256 << 10)
    try:
        config = registries_yaml((slow.host, [])).replace("image:\n", "image:\n  stall_timeout: 2\n", 1)
        d = crixd_factory(config).start()
        assert pull(d, ref(slow.host), timeout=300) == images["single"].config_digest
    finally:
        slow.stop()


# ---- identical pulls at once

JOINED = "waits for the same pull already running"


def pull_future(d, image, auth=None, timeout=300):
    req = api.PullImageRequest(image=api.ImageSpec(image=image))
    if auth is not None:
        req.auth.CopyFrom(auth)
    stub = d.channel.unary_unary("/%s/PullImage" % IMAGE, request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=api.PullImageResponse.FromString)
    return stub.future(req, timeout=timeout)


def manifest_gets(fake):
    return [p for p in fake.paths if "/manifests/" in p]


def test_identical_pulls_at_once_are_one_download(crixd_for, registry, images):
    gate = threading.Event()
    proxy = testenv.FakeRegistry("proxy", upstream=registry.url, gate=gate)
    try:
        d = crixd_for((proxy.host, []))
        want, n = ref(proxy.host, "multi"), 4
        first = pull_future(d, want)
        wait_for(lambda: proxy.held, timeout=60, what="the first pull to ask for a blob")
        others = [pull_future(d, want) for _ in range(n - 1)]
        # merged, they wait for the first; not merged, each asks for the manifest itself
        wait_for(lambda: d.log_text().count(JOINED) == n - 1 or len(manifest_gets(proxy)) > 1, timeout=60,
                 what="the other pulls to arrive")
        gate.set()
        assert [f.result().image_ref for f in [first] + others] == [images["multi"].config_digest] * n
        assert len(manifest_gets(proxy)) == 1, proxy.paths
        for blob in images["multi"].blobs:
            assert proxy.paths.count("/v2/crix/multi/blobs/" + blob) == 1, (blob, proxy.paths)
    finally:
        gate.set()
        proxy.stop()


def test_waiter_pulls_when_the_pull_it_waits_for_is_cancelled(crixd_for, registry, images):
    gate = threading.Event()
    proxy = testenv.FakeRegistry("proxy", upstream=registry.url, gate=gate)
    try:
        d = crixd_for((proxy.host, []))
        want = ref(proxy.host, "multi")
        leader = pull_future(d, want)
        wait_for(lambda: proxy.held, timeout=60, what="the first pull to ask for a blob")
        waiter = pull_future(d, want)
        wait_for(lambda: JOINED in d.log_text(), timeout=60, what="the second pull to wait for the first")
        leader.cancel()
        wait_for(lambda: "pulling itself" in d.log_text(), timeout=60, what="the waiter to take over")
        gate.set()
        assert waiter.result().image_ref == images["multi"].config_digest
        assert leader.cancelled()
        assert len(manifest_gets(proxy)) == 2, proxy.paths
    finally:
        gate.set()
        proxy.stop()


def test_pulls_with_other_credentials_are_not_merged(crixd_for, basic_registry, images):
    """While a pull with good credentials waits for a blob, the same image asked for with a
    wrong password or none is refused by the registry at once, not handed the first's result."""
    gate = threading.Event()
    proxy = testenv.FakeRegistry("proxy", upstream=basic_registry.url, gate=gate)
    try:
        d = crixd_for((proxy.host, []))
        want = ref(proxy.host)
        good = api.AuthConfig(username=USER, password=PASSWORD)
        first = pull_future(d, want, good)
        wait_for(lambda: proxy.held, timeout=60, what="the first pull to ask for a blob")
        for auth in (api.AuthConfig(username=USER, password="wrong"), None):
            code, details = pull_error(d, want, auth, timeout=60)
            assert code == grpc.StatusCode.PERMISSION_DENIED and "(401)" in details, (code, details)
        assert JOINED not in d.log_text()
        gate.set()
        assert first.result().image_ref == images["single"].config_digest
    finally:
        gate.set()
        proxy.stop()
