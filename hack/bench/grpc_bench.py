"""Driver for hack/bench/grpc: Version calls/s, then what a burst and a soak of mixed calls
take from crixd (RSS, threads) and whether it gives them back after a quiet spell."""
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time

import grpc

build, seconds = sys.argv[1], float(sys.argv[2])
BURST, SOAK_SECONDS, QUIET_SECONDS = 1500, 20, 30
sys.path.insert(0, os.path.join(build, "py"))
os.makedirs(os.path.join(build, "py"), exist_ok=True)
top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
proto = os.path.join(top, "cri-api", "api.proto")
subprocess.run(["protoc", "--proto_path", os.path.dirname(proto), "--python_out",
                os.path.join(build, "py"), proto], check=True)
import api_pb2  # noqa: E402

sys.path.insert(0, os.path.join(top, "cri-api"))
import gen_methods  # noqa: E402

# (path, name, server streaming, request message, response message), as crixd's table has them
METHODS = gen_methods.parse(proto)[0]


def proc_status(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def client(socket_path, seconds, out):
    channel = grpc.insecure_channel("unix:" + socket_path)
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


def run(socket_path, clients):
    q = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=client, args=(socket_path, seconds, q)) for _ in range(clients)]
    for p in procs:
        p.start()
    total = sum(q.get() for _ in procs)
    for p in procs:
        p.join()
    return total / seconds


class SlowRegistry:
    """Loopback "registry": TLS is refused (crix-pull falls back to plain HTTP), every request
    is answered 404 after `delay` seconds, so a pull holds its worker that long."""

    def __init__(self, delay=0.2):
        self.delay = delay
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.host = "127.0.0.1:%d" % self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        with conn:
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk or chunk[:1] == b"\x16":
                        return
                    data += chunk
                time.sleep(self.delay)
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass


HOSTILE_STRINGS = ["", "A" * 8192, "../../../../etc/passwd", "\x00nul", "\u00e9" * 256, "%s%n%x%n",
                   "ABC/../../x:y@sha256:zz", "\u202e" * 100, "/" * 1024, "UPPER:" + "9" * 300]


def hostile(request, rng):
    """A well-formed message of this type with hostile contents: huge, traversing or
    malformed strings, extreme numbers, long repeated fields, nested to depth 3."""
    msg = getattr(api_pb2, request)()
    return fill(msg, msg.DESCRIPTOR, rng, 0)


def fill(msg, descriptor, rng, depth):
    for field in descriptor.fields:
        repeated = field.label == field.LABEL_REPEATED
        # long lists of scalars; a few nested messages (each level multiplies the size)
        count = (rng.choice([1, 2]) if field.message_type else rng.choice([1, 3, 100])) if repeated else 1
        for _ in range(count):
            if field.message_type is not None:
                if depth >= 3:
                    break
                if field.message_type.GetOptions().map_entry:
                    key = rng.choice(HOSTILE_STRINGS) + str(rng.random())
                    value_field = field.message_type.fields_by_name["value"]
                    target = getattr(msg, field.name)
                    if value_field.message_type is None:
                        target[key] = value_of(value_field, rng)
                    else:
                        fill(target[key], value_field.message_type, rng, depth + 1)
                    continue
                sub = getattr(msg, field.name).add() if repeated else getattr(msg, field.name)
                fill(sub, field.message_type, rng, depth + 1)
                continue
            value = value_of(field, rng)
            if repeated:
                getattr(msg, field.name).append(value)
            else:
                setattr(msg, field.name, value)
    return msg


def value_of(field, rng):
    t = field.type
    if t == field.TYPE_STRING:
        return rng.choice(HOSTILE_STRINGS)
    if t == field.TYPE_BYTES:
        return bytes(rng.randrange(256) for _ in range(rng.choice([0, 16, 4096])))
    if t == field.TYPE_BOOL:
        return rng.random() < 0.5
    if t == field.TYPE_ENUM:
        return rng.choice([v.number for v in field.enum_type.values])
    if t in (field.TYPE_DOUBLE, field.TYPE_FLOAT):
        return rng.choice([0.0, -1e308, 1e308, float("nan")])
    if t in (field.TYPE_UINT32, field.TYPE_FIXED32):
        return rng.choice([0, 1, 0xffffffff])
    if t in (field.TYPE_UINT64, field.TYPE_FIXED64):
        return rng.choice([0, 1, 0xffffffffffffffff])
    if t in (field.TYPE_INT32, field.TYPE_SINT32, field.TYPE_SFIXED32):
        return rng.choice([0, -1, -0x80000000, 0x7fffffff])
    return rng.choice([0, -1, -0x8000000000000000, 0x7fffffffffffffff])


def valid(name, request, registry, rng):
    """A plausible request: a pull from the slow registry (its own image each time, so no two
    share a download), image and container ids for the rest."""
    msg = getattr(api_pb2, request)()
    if name == "PullImage":
        msg.image.image = "%s/bench/img%d:v1" % (registry, rng.randrange(1 << 40))
    elif hasattr(msg, "image") and hasattr(msg.image, "image"):
        msg.image.image = "%s/bench/img:v1" % registry
    for id_field in ("container_id", "pod_sandbox_id"):
        if id_field in msg.DESCRIPTOR.fields_by_name:
            setattr(msg, id_field, "%064x" % rng.randrange(1 << 256))
    return msg


HOSTILE_PER_METHOD = 8
_hostile = {}


def hostile_payload(request, rng):
    """One of a few hostile messages made per type (making them costs more than sending)."""
    if request not in _hostile:
        _hostile[request] = [hostile(request, rng).SerializeToString() for _ in range(HOSTILE_PER_METHOD)]
    return rng.choice(_hostile[request])


def one_call(channel, method, registry, rng):
    """A call with garbage bytes, a hostile message or a valid one; the answer (any status)
    is awaited. Returns a future for unary methods, None when it already completed."""
    path, name, streaming, request, _ = method
    kind = rng.randrange(3)
    if kind == 0:
        payload = rng.randbytes(rng.randrange(1, 256))
    elif kind == 1:
        payload = hostile_payload(request, rng)
    else:
        payload = valid(name, request, registry, rng).SerializeToString()
    if streaming:
        try:
            for _ in channel.unary_stream(path)(payload, timeout=5):
                break
        except grpc.RpcError:
            pass
        return None
    return channel.unary_unary(path).future(payload, timeout=60)


def settle(futures, codes=None):
    for f in futures:
        try:
            f.result()
            code = "OK"
        except grpc.RpcError as e:
            code = e.code().name
        if codes is not None:
            codes[code] = codes.get(code, 0) + 1


def soak(socket_path, registry, seed, seconds, window, out):
    rng = random.Random(seed)
    channel = grpc.insecure_channel("unix:" + socket_path, options=[("grpc.max_send_message_length", 64 << 20)])
    inflight, n, end = [], 0, time.monotonic() + seconds
    while time.monotonic() < end:
        f = one_call(channel, METHODS[rng.randrange(len(METHODS))], registry, rng)
        n += 1
        if f is not None:
            inflight.append(f)
        if len(inflight) >= window:
            settle(inflight[:window // 2])
            del inflight[:window // 2]
    settle(inflight)
    out.put(n)


def burst(socket_path, registry, out):
    """BURST calls in flight at once; one in five a pull, the rest the mix (streaming calls,
    1 in 43, are made one at a time). Returns the time to the last answer and the status
    codes."""
    rng = random.Random(1)
    channel = grpc.insecure_channel("unix:" + socket_path, options=[("grpc.max_send_message_length", 64 << 20)])
    pull = next(m for m in METHODS if m[1] == "PullImage")
    pull_futures, other_futures = [], []
    start = time.monotonic()
    for i in range(BURST):
        if i % 5 == 0:
            pull_futures.append(channel.unary_unary(pull[0]).future(
                valid("PullImage", pull[3], registry, rng).SerializeToString(), timeout=120))
        else:
            f = one_call(channel, METHODS[rng.randrange(len(METHODS))], registry, rng)
            if f is not None:
                other_futures.append(f)
    pulls, others = {}, {}
    settle(pull_futures, pulls)
    settle(other_futures, others)
    out.put((time.monotonic() - start, pulls, others))


def workers(pid):
    n = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                n += f.read().startswith("crixd-")
        except OSError:
            pass
    return n


def wait_no_workers(pid, timeout=120):
    deadline = time.monotonic() + timeout
    while workers(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.stop, self.threads = pid, False, 0

    def run(self):
        while not self.stop:
            self.threads = max(self.threads, proc_status(self.pid, "Threads"))
            time.sleep(0.02)


registry = SlowRegistry()
with tempfile.TemporaryDirectory() as tmp:
    socket_path = os.path.join(tmp, "crix.sock")
    empty = os.path.join(tmp, "crix.d")
    os.mkdir(empty)
    with open(os.path.join(tmp, "crix.yaml"), "w") as f:
        f.write("image:\n  registries:\n    - {prefix: \"%s\", insecure: true}\n" % registry.host)
    proc = subprocess.Popen([os.path.join(build, "bin", "crixd"), "--config", os.path.join(tmp, "crix.yaml"),
                             "--config-dir", empty, "--listen", socket_path, "--root", os.path.join(tmp, "root"),
                             "--runroot", os.path.join(tmp, "run"), "--log-level", "error"])
    try:
        while not os.path.exists(socket_path):
            time.sleep(0.01)
        time.sleep(1)
        one = run(socket_path, 1)
        four = run(socket_path, 4)
        after_version = proc_status(proc.pid, "VmRSS")
        # Warm-up: every method once of each kind, so gRPC has started the threads it keeps;
        # idle is measured once the warm-up's workers have left.
        # (gRPC runs only in child processes: a parent that used it cannot fork safely.)
        q = multiprocessing.Queue()
        warm = multiprocessing.Process(target=soak, args=(socket_path, registry.host, 0, 1, 64, q))
        warm.start()
        q.get()
        warm.join()
        wait_no_workers(proc.pid)
        idle_rss, idle_threads = proc_status(proc.pid, "VmRSS"), proc_status(proc.pid, "Threads")

        sampler = Sampler(proc.pid)
        sampler.start()
        b = multiprocessing.Process(target=burst, args=(socket_path, registry.host, q))
        b.start()
        burst_s, burst_pulls, burst_others = q.get()
        b.join()
        procs = [multiprocessing.Process(target=soak, args=(socket_path, registry.host, seed, SOAK_SECONDS, 64, q))
                 for seed in range(2, 6)]
        for p in procs:
            p.start()
        soak_calls = sum(q.get() for _ in procs)
        for p in procs:
            p.join()
        sampler.stop = True
        sampler.join()
        peak_rss = proc_status(proc.pid, "VmHWM")
        alive = proc.poll() is None
        time.sleep(QUIET_SECONDS)  # the quiet spell being measured
        quiet_rss, quiet_threads = proc_status(proc.pid, "VmRSS"), proc_status(proc.pid, "Threads")
        version_ok = subprocess.run([sys.executable, "-c", "import grpc,sys; sys.path.insert(0, %r); import api_pb2; "
                                     "print(grpc.insecure_channel('unix:%s').unary_unary('/runtime.v1.RuntimeService/"
                                     "Version', request_serializer=lambda m: m.SerializeToString(), "
                                     "response_deserializer=api_pb2.VersionResponse.FromString)"
                                     "(api_pb2.VersionRequest(), timeout=10).runtime_name)"
                                     % (os.path.join(build, "py"), socket_path)],
                                    capture_output=True, text=True).stdout.strip() == "crix"
    finally:
        proc.terminate()
        proc.wait()

print("crixd gRPC benchmark (Release build, Python grpcio clients on the same machine)")
print("  Version, %g s per run:  1 client %8.0f calls/s   4 clients %8.0f calls/s   RSS after %.1f MiB"
      % (seconds, one, four, after_version / 1024))
print("  burst: %d calls at once (%d pulls from a loopback registry answering in 0.2 s): answered in %.1f s"
      % (BURST, BURST // 5, burst_s))
print("    pulls: %s; the others: %s" % (", ".join("%s %d" % kv for kv in sorted(burst_pulls.items())),
                                          ", ".join("%s %d" % kv for kv in sorted(burst_others.items()))))
print("  soak: %d s of mixed calls to all %d methods (garbage, hostile, valid) from 4 clients: %d calls"
      % (SOAK_SECONDS, len(METHODS), soak_calls))
print("  crixd %s and answered Version after it" % ("kept running" if alive and version_ok else "FAILED"))
print("  RSS      idle %6.1f MiB   peak %6.1f MiB   after %d s quiet %6.1f MiB (%+.0f%% vs idle)"
      % (idle_rss / 1024, peak_rss / 1024, QUIET_SECONDS, quiet_rss / 1024, 100.0 * (quiet_rss - idle_rss) / idle_rss))
print("  threads  idle %6d       peak %6d       after %d s quiet %6d" % (idle_threads, sampler.threads, QUIET_SECONDS,
                                                                         quiet_threads))
