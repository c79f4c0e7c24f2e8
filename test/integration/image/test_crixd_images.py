"""The ImageService through grpcio against a real crixd: PullImage, ImageStatus, ListImages,
RemoveImage, ImageFsInfo, status codes, AuthConfig, token cache, shared downloads, SIGHUP
reload of the registries and of the auth file, and a kill -9 of crixd in mid-pull."""
import json
import os
import shutil
import signal
import threading

import grpc
import pytest

import testenv
from crixtest import binary, child_processes, pid_alive, wait_for
from image_helpers import PASSWORD, USER, basic_auth_file, pull, ref, registries_yaml, status

api = pytest.importorskip("api_pb2")


@pytest.fixture
def daemon(crixd_factory, registry):
    return crixd_factory(registries_yaml((registry.host, []))).start()


def test_pull_status_list_remove(daemon, registry, images):
    single, docker = images["single"], images["docker"]
    assert pull(daemon, ref(registry.host)) == single.config_digest
    assert pull(daemon, ref(registry.host, "docker")) == docker.config_digest
    st = status(daemon, ref(registry.host))
    assert st.image.id == single.config_digest
    assert list(st.image.repo_tags) == [ref(registry.host)]
    assert list(st.image.repo_digests) == ["%s/crix/single@%s" % (registry.host, single.digest)]
    assert st.image.size > 1000000 and st.image.spec.image == single.config_digest
    assert not st.image.HasField("uid") and st.image.username == "" and len(st.info) == 0
    assert status(daemon, docker.config_digest).image.username == "app"
    assert status(daemon, "%s/crix/single@%s" % (registry.host, single.digest)).image.id == single.config_digest
    verbose = status(daemon, single.config_digest, verbose=True)
    info = json.loads(verbose.info["info"])
    assert info["imageSpec"]["rootfs"]["diff_ids"] == single.diff_ids
    # unknown: a nil image, not an error
    assert not status(daemon, ref(registry.host, "nope")).HasField("image")
    ids = sorted(i.id for i in daemon.image("ListImages").images)
    assert ids == sorted([single.config_digest, docker.config_digest])
    flt = api.ListImagesRequest(filter=api.ImageFilter(image=api.ImageSpec(image=ref(registry.host, "docker"))))
    assert [i.id for i in daemon.image("ListImages", flt).images] == [docker.config_digest]
    rm = api.RemoveImageRequest(image=api.ImageSpec(image=single.config_digest))
    daemon.image("RemoveImage", rm)
    daemon.image("RemoveImage", rm)  # idempotent
    assert [i.id for i in daemon.image("ListImages").images] == [docker.config_digest]


def test_uid_from_numeric_user(crixd_factory, tmp_path, images):
    reg = testenv.Registry(str(tmp_path / "reg"), str(tmp_path / "storage"))
    try:
        img = testenv.Image([testenv.busybox_entries()], user="1000:1000")
        testenv.push(reg.url, "crix/uid", "v1", img)
        d = crixd_factory(registries_yaml((reg.host, []))).start()
        pull(d, ref(reg.host, "uid"))
        st = status(d, img.config_digest).image
        assert st.uid.value == 1000 and st.username == ""
    finally:
        reg.stop()


def test_status_codes(daemon, registry):
    with pytest.raises(grpc.RpcError) as e:
        pull(daemon, ref(registry.host, "nope", "1"))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert "pull %s: manifest unknown (404)" % ref(registry.host, "nope", "1") in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        pull(daemon, "library/BusyBox")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "must be lowercase" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        pull(daemon, ref(registry.host, "hostile-dotdot"))
    assert 'layer entry "../../../../../../tmp/crix-escape-dotdot"' in e.value.details()


def test_fs_info(daemon, registry):
    pull(daemon, ref(registry.host))
    r = daemon.image("ImageFsInfo")
    (fs,) = r.image_filesystems
    assert fs.fs_id.mountpoint == daemon.root and fs.used_bytes.value > 1000000 and fs.inodes_used.value > 5
    assert fs.timestamp > 0
    (cfs,) = r.container_filesystems
    assert cfs.fs_id.mountpoint == daemon.root and cfs.timestamp > 0


def test_auth_config_and_token_cache(crixd_factory, token_registry, token_server, images):
    d = crixd_factory(registries_yaml((token_registry.host, []))).start()
    with pytest.raises(grpc.RpcError) as e:
        pull(d, ref(token_registry.host))
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    auth = api.AuthConfig(username=USER, password=PASSWORD)
    token_server.requests.clear()
    assert pull(d, ref(token_registry.host), auth) == images["single"].config_digest
    assert pull(d, ref(token_registry.host), auth) == images["single"].config_digest
    # the token for repository:crix/single:pull is cached across pulls
    assert token_server.requests == [("GET", "repository:crix/single:pull", True)]
    assert PASSWORD not in d.log_text()


def test_concurrent_identical_pulls_share_downloads(crixd_factory, registry, images):
    proxy = testenv.FakeRegistry("slow", upstream=registry.url, rate=4 << 20)
    try:
        d = crixd_factory(registries_yaml((proxy.host, []))).start()
        results = []
        threads = [threading.Thread(target=lambda: results.append(pull(d, ref(proxy.host, "multi"))))
                   for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [images["multi"].config_digest] * 2
        for layer in images["multi"].layers:
            assert proxy.paths.count("/v2/crix/multi/blobs/" + layer["digest"]) == 1
    finally:
        proxy.stop()


def test_sighup_reloads_registries(crixd_factory, registry, images):
    d = crixd_factory("").start()
    with pytest.raises(grpc.RpcError):
        pull(d, "mirrored.invalid/crix/single:v1", timeout=30)
    with open(os.path.join(d.config_dir, "50-mirror.yaml"), "w") as f:
        f.write(registries_yaml(("mirrored.invalid", [registry.host])))
    d.signal(signal.SIGHUP)
    wait_for_log(d, "configuration reloaded: image")
    assert pull(d, "mirrored.invalid/crix/single:v1") == images["single"].config_digest
    assert list(status(d, "mirrored.invalid/crix/single:v1").image.repo_tags) == ["mirrored.invalid/crix/single:v1"]


def wait_for_log(d, text, timeout=10):
    try:
        wait_for(lambda: text in d.log_text(), timeout, "%r in the log" % text)
    except AssertionError:
        raise AssertionError("no %r in the log:\n%s" % (text, d.log_text()[-4000:])) from None


def test_sighup_reloads_auth_file(crixd_factory, basic_registry, images, tmp_path):
    d = crixd_factory(registries_yaml((basic_registry.host, []))).start()
    with pytest.raises(grpc.RpcError) as e:
        pull(d, ref(basic_registry.host))
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "unauthorized: the registry wants credentials (401)" in e.value.details()
    auth_file = basic_auth_file(str(tmp_path / "auth.json"), basic_registry.host)
    with open(os.path.join(d.config_dir, "50-auth.yaml"), "w") as f:
        f.write("image:\n  auth_file: %s\n" % json.dumps(auth_file))
    d.signal(signal.SIGHUP)
    wait_for_log(d, "configuration reloaded: image")
    assert pull(d, ref(basic_registry.host)) == images["single"].config_digest
    assert PASSWORD not in d.log_text()


def test_damaged_record_and_temp_files_at_restart(crixd_factory, registry, images):
    """At start a damaged image record is reported by file and field and skipped, the other
    images stay; temp files of interrupted record writes are swept."""
    d = crixd_factory(registries_yaml((registry.host, []))).start()
    single = pull(d, ref(registry.host))
    docker = pull(d, ref(registry.host, "docker"))
    d.signal(signal.SIGTERM)
    assert d.proc.wait(20) == 0
    images_dir = os.path.join(d.root, "images")
    damaged = os.path.join(images_dir, docker[7:] + ".json")
    with open(damaged) as f:
        record = json.load(f)
    record["repo_tags"] = ["ok", 7]
    with open(damaged, "w") as f:
        json.dump(record, f)
    stale = [os.path.join(images_dir, single[7:] + ".json.tmp.Ab12Cd"),
             os.path.join(d.root, "blobs", "sha256", single[7:] + ".tmp.zzzzzz")]
    for path in stale:
        with open(path, "w") as f:
            f.write('{"id": "sha256:')
    d.channel.close()
    d.channel = None
    d.log.close()
    d.start()
    assert [i.id for i in d.image("ListImages").images] == [single]
    assert "%s: repo_tags[1]: expected string" % damaged in d.log_text()
    assert [p for p in stale if os.path.exists(p)] == []
    assert status(d, ref(registry.host)).image.id == single
    # the next pull of the damaged image writes its record again
    assert pull(d, ref(registry.host, "docker")) == docker


def test_kill_9_mid_pull_then_restart(crixd_factory, registry, images):
    proxy = testenv.FakeRegistry("slow", upstream=registry.url, rate=200 << 10)
    try:
        d = crixd_factory(registries_yaml((registry.host, []), (proxy.host, []))).start()
        earlier = pull(d, ref(registry.host, "docker"))
        t = threading.Thread(target=lambda: pytest.raises(grpc.RpcError, pull, d, ref(proxy.host, "multi")))
        t.start()
        tmp = os.path.join(d.root, "tmp")
        wait_for(lambda: any(n.startswith("layer-") for n in os.listdir(tmp)), 30, "a layer being unpacked")
        helpers = child_processes(d.proc.pid, "crix-pull")
        assert len(helpers) == 1
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        t.join()
        # its crix-pull sees its owner gone and stops by itself (under systemd's
        # KillMode=process nobody else would stop it)
        wait_for(lambda: not pid_alive(helpers[0]), 10, "crix-pull to stop")
        d.channel.close()
        d.channel = None
        d.log.close()
        d.start()
        assert os.listdir(tmp) == []
        assert [i.id for i in d.image("ListImages").images] == [earlier]
        assert pull(d, ref(registry.host, "multi")) == images["multi"].config_digest
    finally:
        proxy.stop()


def test_crix_pull_killed_mid_pull(crixd_factory, registry, images):
    """A crix-pull that dies fails its PullImage only: crixd answers with the cause and goes on
    serving, nothing is recorded, and what the pull had pinned is collected again."""
    proxy = testenv.FakeRegistry("slow", upstream=registry.url, rate=200 << 10)
    try:
        d = crixd_factory(registries_yaml((registry.host, []), (proxy.host, []))).start()
        errors = []

        def doomed_pull():
            try:
                pull(d, ref(proxy.host, "multi"))
            except grpc.RpcError as e:
                errors.append(e)

        t = threading.Thread(target=doomed_pull)
        t.start()
        wait_for(lambda: child_processes(d.proc.pid, "crix-pull"), 20, "crix-pull")
        config = os.path.join(d.root, "blobs", "sha256", images["multi"].config_digest[7:])
        wait_for(lambda: os.path.exists(config), 20, "the config blob")  # written before the layers
        os.kill(child_processes(d.proc.pid, "crix-pull")[0], signal.SIGKILL)
        t.join()
        assert len(errors) == 1 and errors[0].code() == grpc.StatusCode.INTERNAL
        assert "crix-pull killed by signal 9" in errors[0].details()
        assert d.runtime("Version", api.VersionRequest()).runtime_name == "crix"
        assert list(d.image("ListImages").images) == []
        # the killed pull's pins are gone: the next garbage collection takes its config blob
        docker = pull(d, ref(registry.host, "docker"))
        d.image("RemoveImage", api.RemoveImageRequest(image=api.ImageSpec(image=docker)))
        assert not os.path.exists(config)
        assert pull(d, ref(registry.host, "multi")) == images["multi"].config_digest
    finally:
        proxy.stop()


def test_crixd_without_its_crix_pull(crixd_factory, registry, tmp_path):
    """A crixd installed without libexec/crix/crix-pull says so on PullImage and goes on."""
    lone = tmp_path / "lone" / "bin"
    lone.mkdir(parents=True)
    shutil.copy2(binary("bin", "crixd"), lone / "crixd")
    d = crixd_factory(registries_yaml((registry.host, [])), program=str(lone / "crixd")).start()
    with pytest.raises(grpc.RpcError) as e:
        pull(d, ref(registry.host))
    assert e.value.code() == grpc.StatusCode.INTERNAL
    assert "libexec/crix/crix-pull" in e.value.details() and "No such file" in e.value.details()
    assert list(d.image("ListImages").images) == []


def test_cancelled_pull_stops(crixd_factory, registry):
    """A PullImage whose deadline passes stops downloading: nothing is recorded even after the
    time the whole pull would have needed (~3 s at this rate)."""
    proxy = testenv.FakeRegistry("slow", upstream=registry.url, rate=400 << 10)
    try:
        d = crixd_factory(registries_yaml((proxy.host, []))).start()
        with pytest.raises(grpc.RpcError) as e:
            pull(d, ref(proxy.host, "multi"), timeout=0.7)
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        # crixd sees the cancel and tells crix-pull, which stops: after that nothing can be
        # committed any more
        wait_for(lambda: "cancelled" in d.log_text() or "Cancel" in d.log_text(), 20, "the pull cancelled")
        wait_for(lambda: not child_processes(d.proc.pid, "crix-pull"), 20, "crix-pull to stop")
        assert list(d.image("ListImages").images) == []
        assert os.listdir(os.path.join(d.root, "tmp")) == []
    finally:
        proxy.stop()


def test_slow_pull_does_not_hold_up_other_calls(crixd_factory, registry, images):
    """A pull in progress (a registry at 400 KiB/s) leaves Version, Status, ListImages and
    ImageStatus answered while it runs; SIGTERM then lets it finish within the grace period
    and crixd exits 0."""
    proxy = testenv.FakeRegistry("slow", upstream=registry.url, rate=400 << 10)
    try:
        d = crixd_factory(registries_yaml((proxy.host, []))).start()
        result = {}

        def slow_pull():
            try:
                result["ref"] = pull(d, ref(proxy.host, "multi"))
            except grpc.RpcError as e:
                result["error"] = e

        t = threading.Thread(target=slow_pull)
        t.start()
        wait_for(lambda: any("/blobs/" in p for p in proxy.paths), 10, "a blob download")
        for _ in range(20):
            assert d.runtime("Version").runtime_name == "crix"
            d.runtime("Status")
            d.image("ListImages")
            status(d, "nope")
        assert t.is_alive(), "the pull ended before the other calls were made"
        d.signal(signal.SIGTERM)
        t.join(30)
        assert result.get("ref") == images["multi"].config_digest, result
        assert d.proc.wait(20) == 0
    finally:
        proxy.stop()


def test_sigterm_cancels_a_pull_that_outlasts_the_grace_period(crixd_factory, registry):
    """The 10 s grace period ends: the pull still running is cancelled, crixd exits 0, and the
    next start finds no partial image."""
    proxy = testenv.FakeRegistry("slow", upstream=registry.url, rate=40 << 10)
    try:
        d = crixd_factory(registries_yaml((proxy.host, []))).start()
        errors = []
        t = threading.Thread(target=lambda: errors.append(pytest.raises(grpc.RpcError, pull, d,
                                                                        ref(proxy.host, "multi"))))
        t.start()
        wait_for(lambda: any("/blobs/" in p for p in proxy.paths), 10, "a blob download")
        d.signal(signal.SIGTERM)
        assert d.proc.wait(30) == 0
        t.join(10)
        assert errors and errors[0].value.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)
        assert "calls still running after 10000 ms: cancelling them" in d.log_text()
        d.channel.close()
        d.channel = None
        d.log.close()
        d.start()
        assert list(d.image("ListImages").images) == []
        assert os.listdir(os.path.join(d.root, "tmp")) == []
    finally:
        proxy.stop()
