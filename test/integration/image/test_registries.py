"""Registry behaviours through crix-image: TLS with a test CA, insecure registries, Basic and
Bearer auth (request credentials and the auth file), mirrors, misbehaving registries, shared
downloads and a kill -9 in mid-pull."""
import os
import signal
import subprocess

import pytest

import testenv
from crixtest import BUILD, wait_for
from image_helpers import PASSWORD, USER, basic_auth_file


def ref(host, name="single", tag="v1"):
    return "%s/crix/%s:%s" % (host, name, tag)


# ---- TLS


def test_tls_needs_the_registry_ca(crix_image, tls_registry, ca, images):
    p = crix_image.pull(ref(tls_registry.host))
    assert p.returncode == 1 and "SSL" in p.stderr  # unknown CA: refused
    d = os.path.join(crix_image.certs, tls_registry.host)
    os.makedirs(d)
    os.symlink(ca["ca.crt"], os.path.join(d, "ca.crt"))
    assert crix_image.pull_ok(ref(tls_registry.host)) == [images["single"].config_digest]


def test_insecure_registry_skips_verification(crix_image, tls_registry, images):
    crix_image.registry(tls_registry.host, insecure=True)
    assert crix_image.pull_ok(ref(tls_registry.host)) == [images["single"].config_digest]


def test_plain_http_only_when_insecure(crix_image, registry):
    p = crix_image.pull(ref(registry.host))
    assert p.returncode == 1 and "SSL" in p.stderr


# ---- Basic auth


@pytest.fixture
def basic(crix_image, basic_registry):
    crix_image.registry(basic_registry.host, insecure=True)
    return crix_image


def test_basic_auth_required(basic, basic_registry):
    p = basic.pull(ref(basic_registry.host))
    assert p.returncode == 1
    assert "pull %s: unauthorized: the registry wants credentials (401)" % ref(basic_registry.host) in p.stderr


def test_basic_auth_wrong_password(basic, basic_registry):
    basic.extra = ["--creds", USER + ":wrong"]
    p = basic.pull(ref(basic_registry.host))
    assert p.returncode == 1 and "(401)" in p.stderr
    assert "wrong" not in p.stderr


def test_basic_auth_request_credentials(basic, basic_registry, images):
    basic.extra = ["--creds", "%s:%s" % (USER, PASSWORD), "--log-level", "debug"]
    p = basic.pull(ref(basic_registry.host), check=True)
    assert p.stdout.split() == [images["single"].config_digest]
    assert PASSWORD not in p.stderr  # never logged


def test_basic_auth_from_auth_file(basic, basic_registry, images, tmp_path):
    basic.write_config(auth_file=basic_auth_file(str(tmp_path / "auth.json"), basic_registry.host))
    assert basic.pull_ok(ref(basic_registry.host)) == [images["single"].config_digest]
    # the auth file's key may carry a scheme and path like docker's
    basic.write_config(auth_file=basic_auth_file(str(tmp_path / "auth2.json"), "https://%s/v1/" % basic_registry.host))
    assert basic.pull_ok(ref(basic_registry.host, "docker")) == [images["docker"].config_digest]


# ---- Bearer tokens


def test_bearer_token_flow(crix_image, token_registry, token_server, images):
    crix_image.registry(token_registry.host, insecure=True)
    p = crix_image.pull(ref(token_registry.host))
    assert p.returncode == 1 and "bad credentials (401)" in p.stderr
    crix_image.extra = ["--creds", "%s:%s" % (USER, PASSWORD)]
    token_server.requests.clear()
    assert crix_image.pull_ok(ref(token_registry.host, "multi")) == [images["multi"].config_digest]
    # one token for the repository, reused for the manifest, config and the three layers
    assert token_server.requests == [("GET", "repository:crix/multi:pull", True)]


def test_bearer_identity_token_from_auth_file(crix_image, token_registry, token_server, images, tmp_path):
    crix_image.registry(token_registry.host, insecure=True)
    crix_image.write_config(auth_file=basic_auth_file(str(tmp_path / "auth.json"), token_registry.host, user=None,
                                                      identitytoken=token_server.refresh_token))
    assert crix_image.pull_ok(ref(token_registry.host)) == [images["single"].config_digest]
    assert token_server.requests[-1] == ("POST", "repository:crix/single:pull", True)


# ---- mirrors


def test_mirror_used_and_image_recorded_under_requested_name(crix_image, registry, images):
    proxy = testenv.FakeRegistry("proxy", upstream=registry.url)
    try:
        # the registry itself does not exist: only the mirror can serve
        crix_image.registry("registry.invalid/e2e", mirrors=[(proxy.host + "/crix", True)])
        wanted = "registry.invalid/e2e/single:v1"
        assert crix_image.pull_ok(wanted) == [images["single"].config_digest]
        st = crix_image.status(wanted)
        assert st["repo_tags"] == [wanted]
        assert st["repo_digests"] == ["registry.invalid/e2e/single@" + images["single"].digest]
        assert "/v2/crix/single/manifests/v1" in proxy.paths
    finally:
        proxy.stop()


def test_mirrors_in_order_then_the_registry(crix_image, registry, images):
    dead = testenv.free_port()
    crix_image.registry(registry.host, insecure=True,
                        mirrors=[("127.0.0.1:%d" % dead, True), ("127.0.0.1:%d/nothing-here" % dead, True)])
    crix_image.extra = ["--log-level", "warn"]
    p = crix_image.pull(ref(registry.host), check=True)
    assert p.stdout.split() == [images["single"].config_digest]
    assert p.stderr.count("from mirror 127.0.0.1:%d" % dead) == 2


def test_longest_prefix_wins(crix_image, registry, images):
    proxy = testenv.FakeRegistry("proxy", upstream=registry.url)
    try:
        crix_image.registry("example.invalid", mirrors=[("127.0.0.1:1", True)])
        crix_image.registry("example.invalid/team", mirrors=[(proxy.host + "/crix", True)])
        assert crix_image.pull_ok("example.invalid/team/multi:v1") == [images["multi"].config_digest]
        # "example.invalid/teamx" is not below "example.invalid/team"
        p = crix_image.pull("example.invalid/teamx/multi:v1")
        assert p.returncode == 1
    finally:
        proxy.stop()


# ---- misbehaving registries


@pytest.mark.parametrize("mode,message", [
    ("garbage", "not a JSON object"),
    ("huge", "larger than 4 MiB: refused"),
    ("reset", "pull 127.0.0.1:"),
])
def test_bad_registry_clear_error_no_partial_image(crix_image, mode, message):
    fake = testenv.FakeRegistry(mode)
    try:
        crix_image.registry(fake.host, insecure=True)
        p = crix_image.pull(ref(fake.host), timeout=60)
        assert p.returncode == 1 and message in p.stderr, p.stderr
        assert crix_image.list() == [] and crix_image.listdir("tmp") == []
    finally:
        fake.stop()


def test_schema1_refused(crix_image):
    fake = testenv.FakeRegistry("schema1")
    try:
        crix_image.registry(fake.host, insecure=True)
        p = crix_image.pull(ref(fake.host))
        assert p.returncode == 1
        assert "manifest v1 is Docker schema 1, which is not supported" in p.stderr, p.stderr
    finally:
        fake.stop()


def test_pull_by_digest_verifies_the_manifest(crix_image, registry, images):
    fake = testenv.FakeRegistry("wrongdigest", upstream=registry.url)
    try:
        crix_image.registry(fake.host, insecure=True)
        want = images["docker"].digest  # the registry answers with single's manifest
        p = crix_image.pull("%s/crix/single@%s" % (fake.host, want))
        assert p.returncode == 1
        assert "manifest %s: content has digest %s" % (want, images["single"].digest) in p.stderr, p.stderr
        assert crix_image.list() == []
    finally:
        fake.stop()


def test_manifest_without_media_type_served_as_json(crix_image, tmp_path):
    reg = testenv.Registry(str(tmp_path / "reg"), str(tmp_path / "storage"))
    fake = testenv.FakeRegistry("plainjson", upstream=reg.url)
    try:
        img = testenv.Image([testenv.busybox_entries()], bare=True)
        assert b"mediaType\": \"application/vnd.oci.image.manifest" not in img.manifest
        testenv.push(reg.url, "crix/bare", "v1", img)
        crix_image.registry(fake.host, insecure=True)
        assert crix_image.pull_ok(ref(fake.host, "bare")) == [img.config_digest]
    finally:
        fake.stop()
        reg.stop()


def test_hanging_registry_times_out(crix_image):
    fake = testenv.FakeRegistry("hang")
    try:
        crix_image.registry(fake.host, insecure=True)
        crix_image.extra = ["--stall-timeout", "1"]
        p = crix_image.pull(ref(fake.host), timeout=120)
        assert p.returncode == 1 and "stalled: less than 16384 bytes/s for 1 s" in p.stderr, p.stderr
    finally:
        fake.stop()


def test_transfer_below_min_speed_stalls(crix_image, registry, images):
    slow = testenv.FakeRegistry("slow", upstream=registry.url, rate=64 << 10)
    try:
        crix_image.registry(slow.host, insecure=True)
        crix_image.extra = ["--stall-timeout", "1", "--min-speed", str(1 << 20)]
        p = crix_image.pull(ref(slow.host), timeout=120)
        layer = images["single"].layers[0]["digest"]
        assert p.returncode == 1 and "blob %s" % layer in p.stderr, p.stderr
        assert "stalled: less than 1048576 bytes/s for 1 s" in p.stderr, p.stderr
        assert crix_image.listdir("tmp") == [] and crix_image.listdir("layers") == []
    finally:
        slow.stop()


def test_retries_on_503(crix_image, registry, images):
    fake = testenv.FakeRegistry("flaky", upstream=registry.url, fail=2)
    try:
        crix_image.registry(fake.host, insecure=True)
        assert crix_image.pull_ok(ref(fake.host)) == [images["single"].config_digest]
        assert fake.fail == 0
    finally:
        fake.stop()


def test_stream_cut_mid_blob_is_fetched_again(crix_image, registry, images):
    fake = testenv.FakeRegistry("cutblob", upstream=registry.url, fail=1)
    try:
        crix_image.registry(fake.host, insecure=True)
        crix_image.extra = ["--log-level", "warn"]
        p = crix_image.pull(ref(fake.host), check=True)
        assert p.stdout.split() == [images["single"].config_digest]
        assert fake.fail == 0 and "fetching it again" in p.stderr
        assert crix_image.listdir("tmp") == []
    finally:
        fake.stop()


def test_identical_concurrent_pulls_share_downloads(crix_image, registry, images):
    proxy = testenv.FakeRegistry("slow", upstream=registry.url, rate=4 << 20)
    try:
        crix_image.registry(proxy.host, insecure=True)
        ids = crix_image.pull_ok(ref(proxy.host, "multi"), ref(proxy.host, "multi"), ref(proxy.host, "multi"))
        assert ids == [images["multi"].config_digest] * 3
        for layer in images["multi"].layers:
            assert proxy.paths.count("/v2/crix/multi/blobs/" + layer["digest"]) == 1
    finally:
        proxy.stop()


# ---- crash safety


def test_kill_9_mid_pull(crix_image, registry, images):
    crix_image.registry(registry.host, insecure=True)
    (earlier,) = crix_image.pull_ok(ref(registry.host, "docker"))
    proxy = testenv.FakeRegistry("slow", upstream=registry.url, rate=200 << 10)
    try:
        crix_image.registry(proxy.host, insecure=True)
        cmd = [os.path.join(BUILD, "bin", "crix-image"), "--root", crix_image.root,
               "--config", crix_image.config, "pull", ref(proxy.host, "multi")]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(lambda: any(n.startswith("layer-") for n in crix_image.listdir("tmp")), timeout=30,
                 what="a layer being unpacked")
        os.killpg(proc.pid, signal.SIGKILL)  # crix-image and its crix-pull, as a crash would
        proc.wait()
        assert any(n.startswith("layer-") for n in crix_image.listdir("tmp"))  # left behind
    finally:
        proxy.stop()
    assert [i["id"] for i in crix_image.list()] == [earlier]  # the open cleaned up
    assert crix_image.listdir("tmp") == []
    assert os.path.isfile(crix_image.dir("layers", crix_image.status(earlier)["layers"][0][7:], "diff", "bin", "busybox"))
    assert crix_image.pull_ok(ref(registry.host, "multi")) == [images["multi"].config_digest]


def test_auth_file_bad_json_is_ignored_with_warning(crix_image, registry, tmp_path):
    bad = tmp_path / "auth.json"
    bad.write_text("{not json")
    crix_image.registry(registry.host, insecure=True)
    crix_image.write_config(auth_file=str(bad))
    crix_image.extra = ["--log-level", "warn"]
    p = crix_image.pull(ref(registry.host), check=True)
    assert "not JSON" in p.stderr
