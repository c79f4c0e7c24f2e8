"""Driver for hack/bench/pull: prints seconds, MB/s and ratios (best of RUNS each)."""
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time

import grpc

build, runs = sys.argv[1], int(sys.argv[2])
top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(top, "hack", "testenv"))
import testenv  # noqa: E402

os.makedirs(os.path.join(build, "py"), exist_ok=True)
subprocess.run(["protoc", "--proto_path", os.path.join(top, "cri-api"), "--python_out",
                os.path.join(build, "py"), os.path.join(top, "cri-api", "api.proto")], check=True)
sys.path.insert(0, os.path.join(build, "py"))
import api_pb2  # noqa: E402

LAYERS, RANDOM_MB, TEXT_MB = 5, 24, 16
repulls = []  # seconds of each PullImage of an image crixd already has


def layer_tar(i):
    """One layer: random files (incompressible) and generated text (compressible)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for j in range(4):
            data = os.urandom(RANDOM_MB << 18)
            ti = tarfile.TarInfo("layer%d/random%d.bin" % (i, j))
            ti.size, ti.mtime = len(data), 1700000000
            t.addfile(ti, io.BytesIO(data))
        for j in range(64):
            data = "".join("line %d of file %d in layer %d: the quick brown fox\n" % (k, j, i)
                           for k in range((TEXT_MB << 20) // 64 // 48)).encode()
            ti = tarfile.TarInfo("layer%d/text/%02d.txt" % (i, j))
            ti.size, ti.mtime = len(data), 1700000000
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def main():
    work = tempfile.mkdtemp(prefix="crix-bench-pull-")
    try:
        t0 = time.monotonic()
        tars = [layer_tar(i) for i in range(LAYERS)]
        img = testenv.Image(None, raw_layers=tars, comp="gzip")
        reg = testenv.Registry(os.path.join(work, "reg"), os.path.join(work, "storage"))
        testenv.push(reg.url, "crix/bench", "v1", img)
        compressed = sum(l["size"] for l in img.layers)
        uncompressed = sum(len(t) for t in tars)
        print("image: %d layers, %.1f MB compressed, %.1f MB uncompressed (generated and pushed in %.1fs)"
              % (LAYERS, compressed / 1e6, uncompressed / 1e6, time.monotonic() - t0))
        try:
            run_all(work, reg, img, compressed)
        finally:
            reg.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def limit(reg, img):
    """All layer blobs fetched at once with curl and gunzipped to /dev/null."""
    t = time.monotonic()
    procs = [subprocess.Popen("curl -sf %s/v2/crix/bench/blobs/%s | gzip -dc > /dev/null" % (reg.url, l["digest"]),
                              shell=True) for l in img.layers]
    for p in procs:
        assert p.wait() == 0
    return time.monotonic() - t


def crix_image(work, reg, extra):
    root = os.path.join(work, "cli-root")
    shutil.rmtree(root, ignore_errors=True)
    cfg = os.path.join(work, "cli.yaml")
    with open(cfg, "w") as f:
        f.write("image:\n  max_parallel_downloads: %d\n  registries:\n    - {prefix: \"%s\", insecure: true}\n"
                % (LAYERS, reg.host))
    t = time.monotonic()
    subprocess.run([os.path.join(build, "bin", "crix-image"), "--root", root, "--config", cfg] + extra +
                   ["pull", reg.host + "/crix/bench:v1"], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t


def crixd_pull(work, reg):
    d = os.path.join(work, "crixd")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "crix.d"))
    cfg = os.path.join(d, "crix.yaml")
    with open(cfg, "w") as f:
        f.write("image:\n  max_parallel_downloads: %d\n  registries:\n    - {prefix: \"%s\", insecure: true}\n"
                % (LAYERS, reg.host))
    sock = os.path.join(d, "crix.sock")
    log = open(os.path.join(d, "log"), "wb")
    proc = subprocess.Popen([os.path.join(build, "bin", "crixd"), "--config", cfg, "--config-dir",
                             os.path.join(d, "crix.d"), "--listen", sock, "--root", os.path.join(d, "root"),
                             "--runroot", os.path.join(d, "run")], stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(500):
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(sock)
                s.close()
                break
            except OSError:
                time.sleep(0.01)
        ch = grpc.insecure_channel("unix:" + sock)
        grpc.channel_ready_future(ch).result(timeout=10)  # connected before the clock starts
        call = ch.unary_unary("/runtime.v1.ImageService/PullImage",
                              request_serializer=lambda m: m.SerializeToString(),
                              response_deserializer=api_pb2.PullImageResponse.FromString)
        req = api_pb2.PullImageRequest(image=api_pb2.ImageSpec(image=reg.host + "/crix/bench:v1"))
        t = time.monotonic()
        call(req, timeout=600)
        elapsed = time.monotonic() - t
        for _ in range(10):  # the image is there now: a pull's fixed cost (crix-pull, manifest)
            t = time.monotonic()
            call(req, timeout=60)
            repulls.append(time.monotonic() - t)
        ch.close()
        return elapsed
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        log.close()


def skopeo(work, reg):
    dest = os.path.join(work, "oci")
    shutil.rmtree(dest, ignore_errors=True)
    t = time.monotonic()
    subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                    "docker://%s/crix/bench:v1" % reg.host, "oci:%s:bench" % dest], check=True)
    return time.monotonic() - t


def run_all(work, reg, img, compressed):
    """Every method once per round, rounds interleaved so that load from elsewhere on the
    machine hits all of them alike; best and median per method."""
    methods = [
        ("limit: parallel curl | gzip -d > /dev/null", lambda: limit(reg, img)),
        ("crixd PullImage (stream, verify, unpack, record)", lambda: crixd_pull(work, reg)),
        ("crix-image pull, unpack while downloading", lambda: crix_image(work, reg, [])),
        ("crix-image pull --two-pass (download, then unpack)", lambda: crix_image(work, reg, ["--two-pass"])),
        ("skopeo copy to an OCI dir (download, verify only)", lambda: skopeo(work, reg)),
    ]
    times = {name: [] for name, _ in methods}
    for _ in range(runs):
        for name, fn in methods:
            times[name].append(fn())
    best = {n: min(t) for n, t in times.items()}
    median = {n: sorted(t)[len(t) // 2] for n, t in times.items()}
    lim = methods[0][0]
    print("%d rounds; MB/s of compressed bytes; best (median)" % runs)
    for name, _ in methods:
        print("%-52s %5.2fs (%5.2fs)  %6.1f MB/s  %5.2fx limit (%5.2fx)" % (
            name, best[name], median[name], compressed / 1e6 / best[name], best[name] / best[lim],
            median[name] / median[lim]))
    pull, sk = methods[1][0], methods[4][0]
    print("PullImage / limit = %.2f (median %.2f; target <= 1.3); PullImage / skopeo = %.2f (median %.2f; "
          "target < 1)" % (best[pull] / best[lim], median[pull] / median[lim], best[pull] / best[sk],
                           median[pull] / median[sk]))
    repulls.sort()
    print("crixd PullImage of an image it has (a crix-pull, manifest and config check): p50 %.1f ms, p90 %.1f ms"
          % (repulls[len(repulls) // 2] * 1000, repulls[len(repulls) * 9 // 10] * 1000))


main()
