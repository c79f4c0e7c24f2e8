"""crix's image test environment: Debian's docker-registry on 127.0.0.1 (plain HTTP, TLS with a
CA made here, htpasswd Basic auth, Bearer tokens from a small token server), misbehaving fake
registries, and test images built offline from busybox-static and pushed with the registry API.

Used by test/integration/image (pytest) and hack/bench/pull; `python3 testenv.py serve DIR`
starts a plain registry with every test image for manual work.
"""
import base64
import datetime
import gzip
import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
LAYER_TYPES = {
    ("oci", "gzip"): "application/vnd.oci.image.layer.v1.tar+gzip",
    ("oci", "zstd"): "application/vnd.oci.image.layer.v1.tar+zstd",
    ("oci", "none"): "application/vnd.oci.image.layer.v1.tar",
    ("docker", "gzip"): "application/vnd.docker.image.rootfs.diff.tar.gzip",
    ("docker", "zstd"): "application/vnd.docker.image.rootfs.diff.tar.zstd",
    ("docker", "none"): "application/vnd.docker.image.rootfs.diff.tar",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc=None, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("registry exited with %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("nothing listens on port %d" % port)


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- certificates


def make_ca(directory):
    """A CA and a server certificate for 127.0.0.1/localhost; returns dict of paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    import ipaddress

    os.makedirs(directory, exist_ok=True)
    now = datetime.datetime.utcnow()

    def key():
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = key()
    ca = (x509.CertificateBuilder().subject_name(name("crix test CA")).issuer_name(name("crix test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    srv_key = key()
    srv = (x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
           .public_key(srv_key.public_key()).serial_number(x509.random_serial_number())
           .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                          critical=False)
           .sign(ca_key, hashes.SHA256()))
    paths = {k: os.path.join(directory, k) for k in ("ca.crt", "ca.key", "server.crt", "server.key")}

    def pem_key(k):
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                               serialization.NoEncryption())

    with open(paths["ca.crt"], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths["ca.key"], "wb") as f:
        f.write(pem_key(ca_key))
    with open(paths["server.crt"], "wb") as f:
        f.write(srv.public_bytes(serialization.Encoding.PEM))
    with open(paths["server.key"], "wb") as f:
        f.write(pem_key(srv_key))
    paths["ca_obj"], paths["ca_key_obj"] = ca, ca_key
    return paths


# ---------------------------------------------------------------- registry


class Registry:
    """docker-registry serving `storage` on a free loopback port.

    tls: dict from make_ca(); htpasswd: (user, password); token: TokenServer."""

    def __init__(self, workdir, storage, tls=None, htpasswd=None, token=None):
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.storage = storage
        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        self.tls = tls
        self.url = "%s://%s" % ("https" if tls else "http", self.host)
        lines = [
            "version: 0.1",
            "log: {level: error, accesslog: {disabled: true}}",
            "storage: {filesystem: {rootdirectory: %s}, delete: {enabled: true}, redirect: {disable: true}}"
            % storage,
            "http:",
            "  addr: 127.0.0.1:%d" % self.port,
            "  secret: crix-test",
        ]
        if tls:
            lines += ["  tls: {certificate: %s, key: %s}" % (tls["server.crt"], tls["server.key"])]
        if htpasswd:
            path = os.path.join(workdir, "htpasswd")
            out = subprocess.run(["htpasswd", "-Bbn", htpasswd[0], htpasswd[1]], check=True,
                                 capture_output=True, text=True).stdout
            with open(path, "w") as f:
                f.write(out)
            lines += ["auth: {htpasswd: {realm: crix-test, path: %s}}" % path]
        if token:
            lines += ["auth: {token: {realm: %s, service: %s, issuer: %s, rootcertbundle: %s}}"
                      % (token.url + "/token", token.service, token.issuer, token.cert_path)]
        self.config = os.path.join(workdir, "config.yml")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log = open(os.path.join(workdir, "registry.log"), "wb")
        self.proc = subprocess.Popen(["/usr/bin/docker-registry", "serve", self.config], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def blob_path(self, d):
        hexd = d.split(":", 1)[1]
        return os.path.join(self.storage, "docker/registry/v2/blobs/sha256", hexd[:2], hexd, "data")


# ---------------------------------------------------------------- token server


class TokenServer:
    """A Bearer token server: GET /token?service&scope with Basic auth (user, password) or
    POST /token with grant_type=refresh_token; answers RS256 JWTs the registry trusts."""

    service = "crix-test-registry"
    issuer = "crix-test-issuer"

    def __init__(self, workdir, user, password, refresh_token="crix-refresh-token", expires_in=300):
        import jwt  # python3-jwt
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.jwt = jwt
        self.user, self.password, self.refresh_token, self.expires_in = user, password, refresh_token, expires_in
        self.requests = []  # (method, scope, authorized)
        os.makedirs(workdir, exist_ok=True)
        now = datetime.datetime.utcnow()
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        nm = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "crix token signer")])
        cert = (x509.CertificateBuilder().subject_name(nm).issuer_name(nm).public_key(self.key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(self.key, hashes.SHA256()))
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.cert_path = os.path.join(workdir, "token-signer.crt")
        with open(self.cert_path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        self.key_pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, code, obj):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                scope = q.get("scope", [""])[0]
                auth = self.headers.get("Authorization", "")
                ok = False
                if auth.startswith("Basic "):
                    u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
                    ok = (u, p) == (server.user, server.password)
                server.requests.append(("GET", scope, ok))
                if not ok:
                    return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]})
                self.reply(200, {"token": server.issue(scope), "expires_in": server.expires_in})

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                q = urllib.parse.parse_qs(self.rfile.read(n).decode())
                scope = q.get("scope", [""])[0]
                ok = q.get("grant_type") == ["refresh_token"] and q.get("refresh_token") == [server.refresh_token]
                server.requests.append(("POST", scope, ok))
                if not ok:
                    return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad refresh token"}]})
                self.reply(200, {"access_token": server.issue(scope), "expires_in": server.expires_in})

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def issue(self, scope):
        access = []
        for s in scope.split(" "):
            parts = s.split(":")
            if len(parts) == 3:
                access.append({"type": parts[0], "name": parts[1], "actions": parts[2].split(",")})
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": self.user, "aud": self.service, "exp": now + self.expires_in,
                  "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(), "access": access}
        return self.jwt.encode(claims, self.key_pem, algorithm="RS256",
                               headers={"x5c": [base64.b64encode(self.cert_der).decode()]})

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------- misbehaving registries


class FakeRegistry:
    """A registry that misbehaves: mode "garbage" answers manifests with non-JSON, "hang"
    accepts connections and never answers, "reset" closes them at once, "flaky" answers
    `status` (503) `fail` times before proxying to `upstream`, "huge" serves a manifest over 4 MiB, "proxy"
    just proxies (credentials and challenges too), "plainjson" proxies with manifests typed application/json, "slow" proxies blobs at about `rate` bytes/s, "schema1" answers manifests
    with a Docker schema 1 manifest, "wrongdigest" answers a manifest asked for by digest with
    the repository's "v1" manifest, "cutblob" sends only half of the first `fail` blob
    responses and closes the connection, "blobstatus" proxies but answers blob `blob` with
    `status` and the registry error `message`. Requested paths are in .paths;
    .most_blobs_at_once is the most blob requests that were being answered at the same time.

    gate (a threading.Event): blob requests wait until it is set before they are answered;
    .held is how many are waiting."""

    def __init__(self, mode, upstream=None, fail=2, rate=256 << 10, status=503, gate=None, blob=None,
                 message=""):
        self.mode, self.upstream, self.fail, self.rate, self.status = mode, upstream, fail, rate, status
        self.gate = gate
        self.held = 0
        self.blob, self.message = blob, message
        self.hits = 0
        self.paths = []
        self.blobs_now = self.most_blobs_at_once = 0
        self.lock = threading.Lock()
        fake = self
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.host = "127.0.0.1:%d" % self.port
        self.stopping = False
        self.conns = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def send(self, code, body, ctype="application/json", headers=()):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                is_blob = "/blobs/" in self.path
                with fake.lock:
                    fake.hits += 1
                    fake.paths.append(self.path)
                    if is_blob:
                        fake.blobs_now += 1
                        fake.most_blobs_at_once = max(fake.most_blobs_at_once, fake.blobs_now)
                try:
                    if is_blob and fake.gate is not None:
                        with fake.lock:
                            fake.held += 1
                        fake.gate.wait()
                        with fake.lock:
                            fake.held -= 1
                    self.answer()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a stalled or cancelled pull)
                finally:
                    if is_blob:
                        with fake.lock:
                            fake.blobs_now -= 1

            def answer(self):
                if self.path == "/v2/":
                    return self.send(200, b"{}")
                if fake.mode == "garbage":
                    return self.send(200, b"<html>this is not a manifest", OCI_MANIFEST)
                if fake.mode == "huge":
                    return self.send(200, b" " * (5 << 20), OCI_MANIFEST)
                if fake.mode == "schema1" and "/manifests/" in self.path:
                    return self.send(200, json.dumps({"schemaVersion": 1, "name": "x", "tag": "v1", "fsLayers": []})
                                     .encode(), "application/vnd.docker.distribution.manifest.v1+prettyjws")
                path = self.path
                if fake.mode == "wrongdigest" and "/manifests/sha256:" in path:
                    path = path.split("/manifests/")[0] + "/manifests/v1"
                if fake.mode == "blobstatus" and path.endswith("/blobs/%s" % fake.blob):
                    return self.send(fake.status, json.dumps(
                        {"errors": [{"code": "BLOB_UNKNOWN", "message": fake.message}]}).encode())
                if fake.mode == "flaky" and fake.fail > 0:
                    fake.fail -= 1
                    return self.send(fake.status, b'{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}')
                headers = {"Accept": self.headers.get("Accept", "*/*")}
                if self.headers.get("Authorization"):
                    headers["Authorization"] = self.headers["Authorization"]
                req = urllib.request.Request(fake.upstream + path, headers=headers)
                try:
                    with urllib.request.urlopen(req) as r:
                        body = r.read()
                        ctype = r.headers.get("Content-Type", "")
                        if fake.mode == "plainjson" and "/manifests/" in self.path:
                            ctype = "application/json"
                        if fake.mode == "cutblob" and "/blobs/" in self.path and fake.fail > 0 and len(body) > 1000:
                            fake.fail -= 1
                            self.send_response(r.status)
                            self.send_header("Content-Length", str(len(body)))
                            self.end_headers()
                            self.wfile.write(body[:len(body) // 2])
                            self.wfile.flush()
                            self.close_connection = True
                            self.connection.shutdown(socket.SHUT_RDWR)
                            return
                        if fake.mode != "slow" or "/blobs/" not in self.path:
                            return self.send(r.status, body, ctype)
                        self.send_response(r.status)
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        chunk = max(1, fake.rate // 20)
                        for i in range(0, len(body), chunk):
                            self.wfile.write(body[i:i + chunk])
                            self.wfile.flush()
                            time.sleep(0.05)
                except urllib.error.HTTPError as e:
                    challenge = e.headers.get("WWW-Authenticate")
                    self.send(e.code, e.read(), e.headers.get("Content-Type", ""),
                              [("WWW-Authenticate", challenge)] if challenge else ())

        if mode in ("hang", "reset"):
            self.thread = threading.Thread(target=self._raw_loop, daemon=True)
        else:
            self.sock.close()
            self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
            self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def _raw_loop(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.hits += 1
            if self.mode == "reset":
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                c.close()
            else:
                self.conns.append(c)  # hold it open, say nothing

    def stop(self):
        self.stopping = True
        if self.mode in ("hang", "reset"):
            self.sock.close()
            for c in self.conns:
                c.close()
        else:
            self.httpd.shutdown()
            self.httpd.server_close()


# ---------------------------------------------------------------- images


def entry(path, kind="file", data=b"", mode=None, uid=0, gid=0, link=None, mtime=1700000000, dev=None,
          xattrs=None):
    """One tar member: kind file|dir|symlink|hardlink|chardev (dev: (major, minor)); xattrs:
    name -> bytes."""
    if isinstance(data, str):
        data = data.encode()
    default = {"file": 0o644, "dir": 0o755, "symlink": 0o777, "hardlink": 0o644, "chardev": 0o666}[kind]
    return {"path": path, "kind": kind, "data": data, "mode": default if mode is None else mode, "uid": uid,
            "gid": gid, "link": link, "mtime": mtime, "dev": dev, "xattrs": xattrs or {}}


def busybox_entries(applets=("sh", "ls", "cat", "echo", "true", "id", "stat")):
    bb = shutil.which("busybox", path="/bin:/usr/bin")
    with open(bb, "rb") as f:
        data = f.read()
    out = [entry("bin", "dir"), entry("bin/busybox", data=data, mode=0o755)]
    out += [entry("bin/" + a, "symlink", link="busybox") for a in applets]
    out += [entry("etc", "dir"),
            entry("etc/passwd", data="root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home:/bin/sh\n"),
            entry("etc/group", data="root:x:0:\napp:x:1000:\n"), entry("tmp", "dir", mode=0o1777)]
    return out


def tar_bytes(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            ti = tarfile.TarInfo(e["path"])
            ti.mode, ti.uid, ti.gid, ti.mtime = e["mode"], e["uid"], e["gid"], e["mtime"]
            ti.uname = ti.gname = ""
            if e["kind"] == "dir":
                ti.type = tarfile.DIRTYPE
            elif e["kind"] == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, e["link"]
            elif e["kind"] == "hardlink":
                ti.type, ti.linkname = tarfile.LNKTYPE, e["link"]
            elif e["kind"] == "chardev":
                ti.type, (ti.devmajor, ti.devminor) = tarfile.CHRTYPE, e["dev"]
            else:
                ti.size = len(e["data"])
            for name, value in e.get("xattrs", {}).items():  # libarchive's binary-safe form
                ti.pax_headers["LIBARCHIVE.xattr." + urllib.parse.quote(name)] = base64.b64encode(value).decode()
            t.addfile(ti, io.BytesIO(e["data"]) if e["kind"] == "file" else None)
    return buf.getvalue()


def compress(data, comp):
    if comp == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=0)
    if comp == "zstd":
        return subprocess.run(["zstd", "-q", "-c", "-3"], input=data, check=True, capture_output=True).stdout
    return data


class Image:
    """An image ready to push: blobs by digest, the manifest bytes and its media type."""

    def __init__(self, layers, flavour="oci", comp="gzip", arch="amd64", user="", raw_layers=None,
                 config_extra=None, bare=False):
        """bare: an OCI manifest without its optional mediaType field."""
        self.blobs = {}
        diff_ids, descs = [], []
        tars = [tar_bytes(l) for l in layers] if raw_layers is None else raw_layers
        for i, tar in enumerate(tars):
            c = comp[i] if isinstance(comp, (list, tuple)) else comp
            blob = compress(tar, c)
            self.blobs[digest(blob)] = blob
            diff_ids.append(digest(tar))
            descs.append({"mediaType": LAYER_TYPES[(flavour, c)], "digest": digest(blob), "size": len(blob)})
        config = {"architecture": arch, "os": "linux",
                  "config": {"User": user, "Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": []}
        config.update(config_extra or {})
        self.config = json.dumps(config, sort_keys=True).encode()
        self.config_digest = digest(self.config)
        self.blobs[self.config_digest] = self.config
        self.diff_ids, self.layers = diff_ids, descs
        manifest = {"schemaVersion": 2,
                    "mediaType": OCI_MANIFEST if flavour == "oci" else DOCKER_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG if flavour == "oci" else DOCKER_CONFIG,
                               "digest": self.config_digest, "size": len(self.config)},
                    "layers": descs}
        self.media_type = manifest["mediaType"]
        if bare:
            del manifest["mediaType"]
        self.manifest = json.dumps(manifest).encode()
        self.digest = digest(self.manifest)
        self.id = self.config_digest


class Index:
    """An index of (image, platform dict) pairs; pushes its images by digest."""

    def __init__(self, entries, flavour="oci"):
        self.images = [img for img, _ in entries]
        mt = OCI_INDEX if flavour == "oci" else DOCKER_LIST
        self.manifest = json.dumps({"schemaVersion": 2, "mediaType": mt, "manifests": [
            {"mediaType": img.media_type, "digest": img.digest, "size": len(img.manifest), "platform": plat}
            for img, plat in entries]}).encode()
        self.media_type = mt
        self.digest = digest(self.manifest)
        self.blobs = {}


def _request(method, url, data=None, headers=None, auth=None):
    headers = dict(headers or {})
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req) as r:
        return r.status, r.headers, r.read()


def push(registry_url, repo, ref, image, auth=None):
    """Pushes image (Image or Index) as repo:ref through the registry API."""
    if isinstance(image, Index):
        for img in image.images:
            push(registry_url, repo, img.digest, img, auth)
    for d, blob in image.blobs.items():
        try:
            _request("HEAD", "%s/v2/%s/blobs/%s" % (registry_url, repo, d), auth=auth)
            continue
        except urllib.error.HTTPError:
            pass
        _, hdrs, _ = _request("POST", "%s/v2/%s/blobs/uploads/" % (registry_url, repo), data=b"", auth=auth)
        loc = urllib.parse.urljoin(registry_url, hdrs["Location"])
        loc += ("&" if "?" in loc else "?") + "digest=" + urllib.parse.quote(d)
        _request("PUT", loc, data=blob, headers={"Content-Type": "application/octet-stream"}, auth=auth)
    _request("PUT", "%s/v2/%s/manifests/%s" % (registry_url, repo, ref), data=image.manifest,
             headers={"Content-Type": image.media_type}, auth=auth)


# ---------------------------------------------------------------- the test images

# The multi-layer image: layer 1 a busybox base plus things that layer 2 hides, replaces or
# changes; layer 3 changes owner and mode of a file. MULTI_EXPECTED is the merged tree
# (overlay view) below the top-level directories listed in MULTI_CHECKED.
MULTI_LAYERS = [
    busybox_entries() + [
        entry("gone.txt", data="gone"),
        entry("gonedir", "dir"), entry("gonedir/a", data="a"), entry("gonedir/sub", "dir"),
        entry("gonedir/sub/b", data="b"),
        entry("opq", "dir"), entry("opq/old1", data="1"), entry("opq/old2", data="2"),
        entry("data", "dir"), entry("data/file.txt", data="v1"), entry("data/keep.txt", data="keep"),
    ],
    [
        entry(".wh.gone.txt"), entry(".wh.gonedir"),
        entry("opq", "dir"), entry("opq/.wh..wh..opq"), entry("opq/new", data="new"),
        entry("data", "dir"), entry("data/file.txt", data="v2", mode=0o600, uid=1000, gid=1000),
        entry("data/hard", "hardlink", link="data/file.txt"),
        entry("link", "symlink", link="data/keep.txt"), entry("abslink", "symlink", link="/etc/passwd"),
        entry("bin", "dir"), entry("bin/tool", data="#!/bin/sh\n", mode=0o4755),
    ],
    [
        entry("data", "dir"), entry("data/keep.txt", data="keep", mode=0o640, uid=1000, gid=1000),
        entry("newdir", "dir", mode=0o700, uid=1000, gid=1000),
    ],
]
MULTI_CHECKED = ("data", "opq", "newdir", "link", "abslink", "gone.txt", "gonedir", "bin/tool")
# path: (type, mode, uid, gid, content or link target)
MULTI_EXPECTED = {
    "abslink": ("l", 0o777, 0, 0, "/etc/passwd"),
    "data": ("d", 0o755, 0, 0, None),
    "data/file.txt": ("f", 0o600, 1000, 1000, "v2"),
    "data/hard": ("f", 0o600, 1000, 1000, "v2"),
    "data/keep.txt": ("f", 0o640, 1000, 1000, "keep"),
    "link": ("l", 0o777, 0, 0, "data/keep.txt"),
    "newdir": ("d", 0o700, 1000, 1000, None),
    "opq": ("d", 0o755, 0, 0, None),
    "opq/new": ("f", 0o644, 0, 0, "new"),
    "bin/tool": ("f", 0o4755, 0, 0, "#!/bin/sh\n"),
}


def hostile_layers():
    """name -> (layer entries, the entry the error must name, a path the attack aims at)."""
    return {
        "dotdot": ([entry("../../../../../../tmp/crix-escape-dotdot", data="x")], "../../../../../../tmp/crix-escape-dotdot",
                   "/tmp/crix-escape-dotdot"),
        "abssymlink": ([entry("evil", "symlink", link="/tmp"), entry("evil/crix-escape-symlink", data="x")],
                       "evil/crix-escape-symlink", "/tmp/crix-escape-symlink"),
        "hardlink": ([entry("pw", "hardlink", link="../../../../../../etc/passwd")], "pw", None),
    }


def test_images():
    """name -> Image/Index of the standard set."""
    single = Image([busybox_entries()])
    imgs = {
        "single": single,
        "docker": Image([busybox_entries()], flavour="docker", user="app"),
        "multi": Image(MULTI_LAYERS),
        "zstd": Image(MULTI_LAYERS, comp=["zstd", "zstd", "none"]),
    }
    arm = Image([busybox_entries(), [entry("arch", data="arm64")]], arch="arm64",
                config_extra={"variant": "v8"})
    amd = Image([busybox_entries(), [entry("arch", data="amd64")]], arch="amd64")
    imgs["index"] = Index([(arm, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
                           (amd, {"os": "linux", "architecture": "amd64"})])
    imgs["index-docker"] = Index([(arm, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
                                  (amd, {"os": "linux", "architecture": "amd64"})], flavour="docker")
    imgs["index-noamd64"] = Index([(arm, {"os": "linux", "architecture": "arm64", "variant": "v8"})])
    imgs["index-amd64"] = amd
    for name, (layer, _, _) in hostile_layers().items():
        imgs["hostile-" + name] = Image([layer])
    return imgs


def push_all(registry_url, images):
    for name, img in images.items():
        push(registry_url, "crix/" + name, "v1", img)


def main(argv):
    if len(argv) >= 3 and argv[1] == "serve":
        storage = os.path.abspath(argv[2])
        reg = Registry(os.path.join(storage, "..", "registry-work"), storage)
        push_all(reg.url, test_images())
        print("registry at %s with crix/<name>:v1 for: %s" % (reg.host, ", ".join(sorted(test_images()))))
        try:
            reg.proc.wait()
        except KeyboardInterrupt:
            reg.stop()
        return 0
    print("usage: testenv.py serve STORAGE-DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
