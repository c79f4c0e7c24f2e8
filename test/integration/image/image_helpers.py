"""Helpers for the image tests (fixtures in conftest.py): credentials of the test registries,
crix-image on a private root, docker auth files."""
import base64
import json
import os
import subprocess

from crixtest import BUILD, api

USER, PASSWORD = "crix", "s3cret-Pa55"


class CrixImage:
    """crix-image on a private root with a config file."""

    def __init__(self, tmp_path):
        self.root = str(tmp_path / "root")
        self.config = str(tmp_path / "crix.yaml")
        self.certs = str(tmp_path / "certs.d")
        self.registries = []
        self.extra = []
        self.write_config()

    def write_config(self, auth_file=""):
        lines = ["image:", "  auth_file: %s" % json.dumps(auth_file), "  registries:"]
        for prefix, insecure, mirrors in self.registries:
            ms = ", ".join("{location: %s, insecure: %s}" % (json.dumps(loc), "true" if ins else "false")
                           for loc, ins in mirrors)
            lines.append("    - {prefix: %s, insecure: %s, mirrors: [%s]}"
                         % (json.dumps(prefix), "true" if insecure else "false", ms))
        if not self.registries:
            lines[-1] = "  registries: []"
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def registry(self, prefix, insecure=False, mirrors=()):
        self.registries.append((prefix, insecure, list(mirrors)))
        self.write_config()

    def run(self, *args, check=False, timeout=120):
        cmd = [os.path.join(BUILD, "bin", "crix-image"), "--root", self.root, "--config", self.config,
               "--certs-dir", self.certs] + self.extra + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        assert "Sanitizer" not in p.stderr, p.stderr
        if check:
            assert p.returncode == 0, "%s failed:\n%s" % (" ".join(args), p.stderr)
        return p

    def pull(self, *refs, **kw):
        return self.run("pull", *refs, **kw)

    def pull_ok(self, *refs):
        return self.run("pull", *refs, check=True).stdout.split()

    def status(self, ref):
        return json.loads(self.run("status", ref, check=True).stdout)

    def list(self):
        return json.loads(self.run("list", check=True).stdout)

    def dir(self, *parts):
        return os.path.join(self.root, *parts)

    def listdir(self, *parts):
        p = self.dir(*parts)
        return sorted(os.listdir(p)) if os.path.isdir(p) else []


def basic_auth_file(path, host, user=USER, password=PASSWORD, **extra):
    entry = {"auth": base64.b64encode(("%s:%s" % (user, password)).encode()).decode()} if user else {}
    entry.update(extra)
    with open(path, "w") as f:
        json.dump({"auths": {host: entry}}, f)
    return path


def ref(host, name="single", tag="v1"):
    return "%s/crix/%s:%s" % (host, name, tag)


def registries_yaml(*entries):
    """image.registries for crixd from (prefix, [mirror locations]) or (prefix, [mirrors],
    insecure) entries: the loopback test registries speak plain HTTP, so mirrors are insecure,
    and the registry too unless told otherwise."""
    lines = ["image:", "  registries:"]
    for prefix, mirrors, *insecure in entries:
        ms = ", ".join("{location: %s, insecure: true}" % json.dumps(m) for m in mirrors)
        lines.append("    - {prefix: %s, insecure: %s, mirrors: [%s]}"
                     % (json.dumps(prefix), "false" if insecure == [False] else "true", ms))
    return "\n".join(lines) + "\n"


def pull(d, image, auth=None, timeout=60):
    """PullImage through crixd d; returns the image ref."""
    req = api.PullImageRequest(image=api.ImageSpec(image=image))
    if auth is not None:
        req.auth.CopyFrom(auth)
    return d.image("PullImage", req, timeout=timeout).image_ref


def status(d, image, verbose=False):
    return d.image("ImageStatus", api.ImageStatusRequest(image=api.ImageSpec(image=image), verbose=verbose))
