"""crixd's gRPC front: the foundation RPCs, error mapping, limits, socket, signals, config."""
import json
import os
import signal
import socket
import stat
import subprocess
import threading
import time

import grpc
import pytest

from crixtest import IMAGE, RUNTIME, api, binary, wait_for


def raw_call(d, path, payload, timeout=10):
    """Sends raw bytes as the request; returns the raw response bytes."""
    stub = d.channel.unary_unary(path, request_serializer=None, response_deserializer=None)
    return stub(payload, timeout=timeout)


def status_config(d):
    resp = d.runtime("Status", api.StatusRequest(verbose=True))
    return json.loads(resp.info["config"])


def test_version(crixd):
    v = crixd.runtime("Version", api.VersionRequest(version="v1"))
    assert (v.version, v.runtime_name, v.runtime_api_version) == ("0.1.0", "crix", "v1")
    assert v.runtime_version == "0.1.0"


def test_status_plain(crixd, tmp_path):
    resp = crixd.runtime("Status")
    conditions = {c.type: c for c in resp.status.conditions}
    assert conditions["RuntimeReady"].status is True
    net = conditions["NetworkReady"]
    assert net.status is False
    assert net.reason == "NetworkPluginNotReady"
    assert "/etc/cni/net.d" in net.message or "cni" in net.message.lower()
    assert dict(resp.info) == {}
    names = [h.name for h in resp.runtime_handlers]
    assert names == ["", "crix", "runc", "crun"]


def test_status_network_ready_with_cni_config(crixd_factory, tmp_path):
    cni = tmp_path / "cni"
    cni.mkdir()
    d = crixd_factory("network:\n  cni_config_dir: %s\n" % cni).start()
    assert not {c.type: c.status for c in d.runtime("Status").status.conditions}["NetworkReady"]
    (cni / "10-bridge.conflist").write_text('{"cniVersion": "1.0.0", "name": "x", "plugins": []}')
    conditions = {c.type: c for c in d.runtime("Status").status.conditions}
    assert conditions["NetworkReady"].status is True
    assert conditions["NetworkReady"].reason == ""


def test_status_verbose_has_effective_config(crixd):
    config = status_config(crixd)
    assert config["listen"] == crixd.socket
    assert config["root"] == crixd.root
    assert config["log_level"] == "debug"
    assert config["runtime"]["default_handler"] == "crix"
    assert config["grpc_max_msg_size"] == 16 * 1024 * 1024


def test_runtime_config_cgroup_driver(crixd_factory):
    d = crixd_factory().start()
    assert d.runtime("RuntimeConfig").linux.cgroup_driver == api.CGROUPFS
    s = crixd_factory("cgroup_manager: systemd\n", subdir="systemd").start()
    assert s.runtime("RuntimeConfig").linux.cgroup_driver == api.SYSTEMD


def test_update_runtime_config(crixd):
    req = api.UpdateRuntimeConfigRequest(
        runtime_config=api.RuntimeConfig(network_config=api.NetworkConfig(pod_cidr="10.88.0.0/16")))
    crixd.runtime("UpdateRuntimeConfig", req)
    assert "pod CIDR is now 10.88.0.0/16" in crixd.log_text()


def test_unimplemented_method_named(crixd):
    with pytest.raises(grpc.RpcError) as e:
        crixd.runtime("CheckpointContainer", api.CheckpointContainerRequest(container_id="x"))
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert e.value.details() == "crix: CheckpointContainer is not implemented"


def test_method_not_in_proto(crixd):
    with pytest.raises(grpc.RpcError) as e:
        raw_call(crixd, "/runtime.v1.RuntimeService/NoSuchMethod", b"")
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "NoSuchMethod" in e.value.details()


def test_garbage_request_is_invalid_argument(crixd):
    with pytest.raises(grpc.RpcError) as e:
        raw_call(crixd, "/%s/Version" % RUNTIME, b"\xff\xff\xff\xff\x0f garbage")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Version" in e.value.details()
    # Still serving.
    assert crixd.runtime("Version").runtime_name == "crix"


def test_error_echoing_a_huge_input_is_cut_to_what_clients_accept(crixd):
    """An error that names a 20,000-character input reaches the client as that error, its
    message cut (clients refuse more than 8 KiB of metadata, percent-encoded)."""
    for image in ("a" * 20000, "\u00e9" * 20000):
        with pytest.raises(grpc.RpcError) as e:
            crixd.image("PullImage", api.PullImageRequest(image=api.ImageSpec(image=image)))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value.details()
        details = e.value.details()
        assert details.endswith("...") and len(details.encode()) <= 2048
        assert image[:100] in details
    assert crixd.runtime("Version").runtime_name == "crix"


def test_oversized_request_is_resource_exhausted(crixd):
    big = api.VersionRequest(version="x" * (17 * 1024 * 1024))
    with pytest.raises(grpc.RpcError) as e:
        crixd.runtime("Version", big)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert crixd.runtime("Version").runtime_name == "crix"


def test_max_message_size_is_configurable(crixd_factory):
    d = crixd_factory("grpc_max_msg_size: 33554432\n").start()
    resp = d.runtime("Version", api.VersionRequest(version="x" * (17 * 1024 * 1024)))
    assert resp.runtime_name == "crix"


def test_crixd_maps_no_registry_client_or_unpacker(crixd):
    """Pulls run in crix-pull: crixd itself never loads libcurl or libarchive (and their
    dependency trees), which keeps its resident memory small."""
    with open("/proc/%d/maps" % crixd.proc.pid) as f:
        maps = f.read()
    assert "libgrpc" in maps
    assert "libcurl" not in maps and "libarchive" not in maps


def test_200_concurrent_version_calls(crixd):
    results, errors = [], []
    futures = [crixd.channel.unary_unary(
        "/%s/Version" % RUNTIME,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=api.VersionResponse.FromString,
    ).future(api.VersionRequest(), timeout=30) for _ in range(200)]
    for f in futures:
        try:
            results.append(f.result())
        except grpc.RpcError as e:
            errors.append(e)
    assert errors == []
    assert len(results) == 200 and all(r.runtime_name == "crix" for r in results)


def test_concurrent_calls_from_threads(crixd):
    errors = []

    def worker():
        try:
            for _ in range(50):
                assert crixd.runtime("Status").status.conditions
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_image_service_methods_reach_their_handlers(crixd):
    """Every ImageService method is routed to its handler (not UNIMPLEMENTED), on an empty store."""
    assert list(crixd.image("ListImages").images) == []
    fs = crixd.image("ImageFsInfo").image_filesystems
    assert [f.fs_id.mountpoint for f in fs] == [crixd.root]
    assert not crixd.image("ImageStatus", api.ImageStatusRequest(image=api.ImageSpec(image="nope"))).HasField("image")
    crixd.image("RemoveImage", api.RemoveImageRequest(image=api.ImageSpec(image="nope")))  # gone already: OK
    with pytest.raises(grpc.RpcError) as e:
        crixd.image("PullImage", api.PullImageRequest())
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert e.value.details().startswith("PullImage: no image given")


def test_socket_mode_0660(crixd):
    mode = stat.S_IMODE(os.stat(crixd.socket).st_mode)
    assert mode == 0o660
    assert stat.S_ISSOCK(os.stat(crixd.socket).st_mode)


def test_socket_parent_dirs_created(crixd_factory, tmp_path):
    d = crixd_factory()
    d.socket = str(tmp_path / "deep" / "er" / "crix.sock")
    d.start()
    assert d.runtime("Version").runtime_name == "crix"


def test_second_crixd_refused(crixd, crixd_factory):
    second = crixd_factory(subdir="second")
    second.socket = crixd.socket
    proc = subprocess.run(second.command(), capture_output=True, text=True, timeout=20)
    assert proc.returncode != 0
    assert "another crixd (pid %d) is serving %s" % (crixd.proc.pid, crixd.socket) in proc.stderr
    # The first one still owns its socket.
    assert crixd.runtime("Version").runtime_name == "crix"


def test_sigterm_exits_zero_promptly(crixd):
    start = time.monotonic()
    crixd.signal(signal.SIGTERM)
    assert crixd.proc.wait(15) == 0
    assert time.monotonic() - start < 10
    assert not os.path.exists(crixd.socket)


def test_sigint_exits_zero(crixd):
    crixd.signal(signal.SIGINT)
    assert crixd.proc.wait(15) == 0


def test_sighup_reload(crixd):
    assert status_config(crixd)["image"]["max_parallel_downloads"] == 3
    with open(os.path.join(crixd.config_dir, "50-reload.yaml"), "w") as f:
        f.write("image:\n  max_parallel_downloads: 7\n  registries:\n"
                "    - prefix: registry.k8s.io\n      mirrors: [{location: \"127.0.0.1:5000\", insecure: true}]\n")
    crixd.signal(signal.SIGHUP)
    assert wait_for(lambda: status_config(crixd)["image"]["max_parallel_downloads"] == 7)
    config = status_config(crixd)
    assert config["image"]["registries"][0]["prefix"] == "registry.k8s.io"
    assert config["image"]["registries"][0]["mirrors"][0]["location"] == "127.0.0.1:5000"
    assert wait_for(lambda: "configuration reloaded: image" in crixd.log_text())


def test_sighup_log_level(crixd):
    # The command line says debug; a reload keeps command-line overrides.
    with open(crixd.config, "w") as f:
        f.write("log_level: error\n")
    crixd.signal(signal.SIGHUP)
    assert wait_for(lambda: "configuration reloaded" in crixd.log_text())
    assert status_config(crixd)["log_level"] == "debug"


def test_sighup_log_level_from_file(crixd_factory):
    d = crixd_factory("log_level: info\n", log_level=None).start()
    before = d.log_text()
    d.runtime("Version")
    assert "rpc Version" not in d.log_text()[len(before):]
    with open(d.config, "w") as f:
        f.write("log_level: debug\n")
    d.signal(signal.SIGHUP)
    assert wait_for(lambda: "configuration reloaded: log_level" in d.log_text())
    d.runtime("Version")
    assert wait_for(lambda: "rpc Version status=0" in d.log_text())


def test_sighup_bad_config_keeps_old(crixd):
    with open(os.path.join(crixd.config_dir, "60-bad.yaml"), "w") as f:
        f.write("image:\n  max_parallel_downloads: many\n")
    crixd.signal(signal.SIGHUP)
    assert wait_for(lambda: "keeping the current configuration" in crixd.log_text())
    assert "60-bad.yaml:2:" in crixd.log_text()
    assert status_config(crixd)["image"]["max_parallel_downloads"] == 3
    assert crixd.runtime("Version").runtime_name == "crix"


def test_bad_config_refuses_to_start(crixd_factory):
    d = crixd_factory("log_level: loud\n")
    proc = subprocess.run(d.command(), capture_output=True, text=True, timeout=20)
    assert proc.returncode == 1
    assert d.config + ":1:" in proc.stderr
    assert "log_level" in proc.stderr
    assert not os.path.exists(d.socket)


def test_rpc_logged_at_debug(crixd):
    crixd.runtime("Version")
    assert wait_for(lambda: "rpc Version status=0 duration=" in crixd.log_text())


def test_crixd_config_prints_effective_yaml(crixd_factory, tmp_path):
    d = crixd_factory("image:\n  max_parallel_downloads: 5\n")
    out = subprocess.run(d.command() + ["config"], capture_output=True, text=True, timeout=20, check=True)
    assert "max_parallel_downloads: 5" in out.stdout
    # The printed YAML, used as the only config, gives the same effective config.
    again = tmp_path / "again.yaml"
    again.write_text(out.stdout)
    empty = tmp_path / "empty.d"
    empty.mkdir()
    out2 = subprocess.run([binary("bin", "crixd"), "--config", str(again), "--config-dir", str(empty), "config"],
                          capture_output=True, text=True, timeout=20, check=True)
    assert out2.stdout == out.stdout


def test_version_and_help_flags():
    v = subprocess.run([binary("bin", "crixd"), "--version"], capture_output=True, text=True, check=True)
    assert v.stdout.strip() == "crixd version 0.1.0"
    h = subprocess.run([binary("bin", "crixd"), "--help"], capture_output=True, text=True, check=True)
    assert "--config" in h.stdout and "--listen" in h.stdout
    bad = subprocess.run([binary("bin", "crixd"), "--nope"], capture_output=True, text=True)
    assert bad.returncode == 2


def test_every_method_survives_garbage(crixd):
    """Undecodable bytes to every method of both services: a clear error, never a crash."""
    import random
    rng = random.Random(1234)
    for service in api.DESCRIPTOR.services_by_name.values():
        for method in service.methods:
            path = "/%s/%s" % (service.full_name, method.name)
            payload = bytes([0xff, 0xff]) + bytes(rng.randrange(256) for _ in range(64))
            try:
                # Streaming methods too: the request is decoded before any response is sent.
                raw_call(crixd, path, payload)
            except grpc.RpcError as e:
                assert e.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNIMPLEMENTED), \
                    (path, e.code(), e.details())
                assert e.details().startswith("crix: %s" % method.name), (path, e.details())
            else:
                pytest.fail("%s accepted garbage" % path)
    assert crixd.runtime("Version").runtime_name == "crix"


class StallingRegistry:
    """A registry on loopback that holds every request until the test releases it, then
    answers 404: pulls against it stay on their worker as long as the test wants."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.host = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.cond = threading.Condition()
        self.waiting = self.released = self.answered = 0
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk or chunk[:1] == b"\x16":  # EOF, or TLS: the client falls back to HTTP
                    return
                data += chunk
            with self.cond:
                self.waiting += 1
                self.cond.notify_all()
                self.cond.wait_for(lambda: self.stopping or self.released > self.answered)
                self.waiting -= 1
                self.answered += 1
            try:
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass

    def release(self, n):
        with self.cond:
            self.released += n
            self.cond.notify_all()

    def stop(self):
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        self.sock.close()


@pytest.fixture
def stalling_registry():
    reg = StallingRegistry()
    yield reg
    reg.stop()


def proc_threads(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise AssertionError("no Threads in /proc/%d/status" % pid)


def worker_threads(pid):
    """crixd's handler threads (named crixd-quick / crixd-slow)."""
    names = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                names.append(f.read().strip())
        except OSError:
            pass
    return sum(1 for n in names if n.startswith("crixd-"))


def start_pulls(d, registry, n):
    """n PullImage calls at once, each of its own image (so no two share a download)."""
    stub = d.channel.unary_unary("/%s/PullImage" % IMAGE,
                                 request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=api.PullImageResponse.FromString)
    return [stub.future(api.PullImageRequest(image=api.ImageSpec(image="%s/burst/img%d:v1" % (registry.host, i))),
                        timeout=120) for i in range(n)]


def registry_config(registry, extra=""):
    return extra + "image:\n  registries:\n    - {prefix: \"%s\", insecure: true}\n" % registry.host


def pull_failed_not_found(f):
    """A finished pull was answered (not refused for lack of workers): 404 is NOT_FOUND."""
    e = f.exception()
    return e is not None and e.code() == grpc.StatusCode.NOT_FOUND


def burst_of_pulls(d, registry, n):
    """n pulls that all hold a worker at once, then are answered; returns their futures."""
    futures = start_pulls(d, registry, n)
    wait_for(lambda: registry.waiting == n, 60, "%d pulls at the registry" % n)
    registry.release(n)
    for f in futures:
        f.exception(timeout=120)
    return futures


def test_burst_threads_exit_after_the_idle_time(crixd_factory, stalling_registry):
    d = crixd_factory(registry_config(stalling_registry, "grpc_worker_idle_timeout: 1\n")).start()
    # A first small burst: its workers leave too, and gRPC starts the threads it keeps for
    # good (a second timer thread the first time a timer fires), which are part of idle.
    burst_of_pulls(d, stalling_registry, 4)
    wait_for(lambda: worker_threads(d.proc.pid) == 0, 30, "the first burst's workers to leave")
    idle = proc_threads(d.proc.pid)
    burst = 24
    futures = start_pulls(d, stalling_registry, burst)
    # every pull holds a worker at once: the burst took 24 threads
    wait_for(lambda: stalling_registry.waiting == burst, 60, "%d pulls at the registry" % burst)
    assert worker_threads(d.proc.pid) >= burst
    assert proc_threads(d.proc.pid) >= idle + burst
    stalling_registry.release(burst)
    for f in futures:
        f.exception(timeout=120)
    assert all(pull_failed_not_found(f) for f in futures), [f.exception() for f in futures]
    # gRPC's event engine lets a thread it added go after 30 s idle
    wait_for(lambda: proc_threads(d.proc.pid) == idle, 60, "threads back to the idle %d" % idle)
    assert worker_threads(d.proc.pid) == 0
    assert d.runtime("Version").runtime_name == "crix"


def test_max_workers_bounds_a_burst_and_every_call_completes(crixd_factory, stalling_registry):
    n = 4  # one worker for quick reads, three for pulls
    d = crixd_factory(registry_config(stalling_registry, "grpc_max_workers: %d\n" % n)).start()
    d.runtime("Version")
    idle = proc_threads(d.proc.pid)
    burst = 12
    futures = start_pulls(d, stalling_registry, burst)
    peak_workers = peak_waiting = 0
    def all_with_a_worker_wait():
        pending = sum(1 for f in futures if not f.done())
        return pending == 0 or stalling_registry.waiting >= min(n - 1, pending)

    # At each step the pulls that got a worker all wait at the registry; one is let go.
    while not all(f.done() for f in futures):
        wait_for(all_with_a_worker_wait, 60, "the pulls that have a worker at the registry")
        peak_waiting = max(peak_waiting, stalling_registry.waiting)
        peak_workers = max(peak_workers, worker_threads(d.proc.pid))
        assert stalling_registry.waiting <= n - 1
        assert proc_threads(d.proc.pid) <= idle + n
        if stalling_registry.waiting:
            answered = stalling_registry.answered
            stalling_registry.release(1)
            wait_for(lambda: stalling_registry.answered > answered, 30, "the released request answered")
    assert peak_waiting == n - 1 and 0 < peak_workers <= n
    assert all(pull_failed_not_found(f) for f in futures), [f.exception() for f in futures]
    assert "grpc_max_workers: 4" in subprocess.run(d.command() + ["config"], capture_output=True, text=True,
                                                   timeout=20, check=True).stdout
