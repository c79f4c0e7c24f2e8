"""Driver for hack/bench/grpc: prints calls/s and RSS figures."""
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time

import grpc

build, seconds = sys.argv[1], float(sys.argv[2])
sys.path.insert(0, os.path.join(build, "py"))
os.makedirs(os.path.join(build, "py"), exist_ok=True)
top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
subprocess.run(["protoc", "--proto_path", os.path.join(top, "cri-api"), "--python_out",
                os.path.join(build, "py"), os.path.join(top, "cri-api", "api.proto")], check=True)
import api_pb2  # noqa: E402


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def client(socket, seconds, out):
    channel = grpc.insecure_channel("unix:" + socket)
    call = channel.unary_unary("/runtime.v1.RuntimeService/Version",
                               request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=api_pb2.VersionResponse.FromString)
    req = api_pb2.VersionRequest()
    call(req)  # connect outside the timed loop
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        call(req)
        n += 1
    out.put(n)


def run(socket, clients):
    q = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=client, args=(socket, seconds, q)) for _ in range(clients)]
    for p in procs:
        p.start()
    total = sum(q.get() for _ in procs)
    for p in procs:
        p.join()
    return total / seconds


with tempfile.TemporaryDirectory() as tmp:
    socket = os.path.join(tmp, "crix.sock")
    empty = os.path.join(tmp, "crix.d")
    os.mkdir(empty)
    open(os.path.join(tmp, "crix.yaml"), "w").close()
    proc = subprocess.Popen([os.path.join(build, "bin", "crixd"), "--config", os.path.join(tmp, "crix.yaml"),
                             "--config-dir", empty, "--listen", socket, "--root", os.path.join(tmp, "root"),
                             "--runroot", os.path.join(tmp, "run"), "--log-level", "warn"])
    try:
        while not os.path.exists(socket):
            time.sleep(0.01)
        time.sleep(1)
        idle = rss_kib(proc.pid)
        one = run(socket, 1)
        four = run(socket, 4)
        after = rss_kib(proc.pid)
    finally:
        proc.terminate()
        proc.wait()

print("crixd gRPC benchmark (%g s per run, Version, Python grpcio clients)" % seconds)
print("  1 client:   %8.0f calls/s" % one)
print("  4 clients:  %8.0f calls/s" % four)
print("  RSS idle:   %8.1f MiB" % (idle / 1024))
print("  RSS after:  %8.1f MiB" % (after / 1024))
