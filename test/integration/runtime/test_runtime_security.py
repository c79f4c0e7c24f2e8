"""The three security properties of crix-runtime (CVE-2019-5736, CVE-2024-21626,
CVE-2021-30465), each shown by the attack failing."""
import errno
import os
import subprocess
import time

import pytest

from runtime_helpers import create, new_container, read, run_both


def test_runtime_binary_cannot_be_overwritten_through_proc_exe(runtimes, make_bundle, tmp_path):
    """CVE-2019-5736: hold /proc/<init>/exe while the init is still crix-runtime, let it exec
    the container's program, then reopen the held file for writing: refused."""
    crix, _ = runtimes
    binary = os.path.realpath(crix.path)
    before = os.stat(binary)
    b = make_bundle(["sleep", "30"])
    cid, _, _ = create(crix, b)
    pid = crix.state(cid)["pid"]
    held = os.open("/proc/%d/exe" % pid, os.O_PATH)
    try:
        assert os.statvfs("/proc/self/fd/%d" % held).f_flag & os.ST_RDONLY, \
            "the init does not run from a read-only copy of the runtime"
        crix("start", cid, check=True)
        deadline = time.monotonic() + 5
        while os.readlink("/proc/%d/exe" % pid).endswith("crix-runtime") and time.monotonic() < deadline:
            time.sleep(0.02)
        # While any process still executes the runtime's inode (the init's old mm can be
        # released a little after its exec), the kernel says ETXTBSY before EROFS: wait that out.
        deadline = time.monotonic() + 5
        while True:
            with pytest.raises(OSError) as e:
                fd = os.open("/proc/self/fd/%d" % held, os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(fd, b"\0")
                finally:
                    os.close(fd)
            if e.value.errno != errno.ETXTBSY or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert e.value.errno in (errno.EROFS, errno.EPERM)
    finally:
        os.close(held)
    after = os.stat(binary)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    # Inside the container the waiting init is not even inspectable.
    cid2, _, _ = create(crix, b)
    p = crix("exec", cid2, "readlink", "/proc/1/exe")
    assert p.returncode != 0 and p.stdout == ""


def with_fd3(path, cmd, **kw):
    """Runs cmd with path open on fd 3 (as a careless caller would leak it)."""
    kw.setdefault("capture_output", True)
    return subprocess.run(["sh", "-c", 'exec 3<"$0"; exec "$@"', path] + cmd, text=True, timeout=30, **kw)


def test_no_host_fd_reaches_the_container(runtimes, make_bundle, tmp_path):
    """CVE-2024-21626: fds the caller passes (beyond --preserve-fds) and the runtime's own
    never reach the container; the same under runc. Seen from the host in /proc/<pid>/fd."""
    secret = tmp_path / "secret"
    secret.write_text("host secret\n")
    b = make_bundle(["sleep", "30"])
    seen = {}
    for rt in runtimes:
        for preserve in (0, 1):
            cid = new_container(rt, b)
            p = with_fd3(str(secret), rt.cmd("create", "--bundle", b.path, "--preserve-fds", str(preserve), cid),
                         capture_output=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
            assert p.returncode == 0, rt.name
            rt("start", cid, check=True)
            pid = rt.state(cid)["pid"]
            deadline = time.monotonic() + 5
            while not os.readlink("/proc/%d/exe" % pid).endswith("busybox") and time.monotonic() < deadline:
                time.sleep(0.02)
            fds = {n: os.readlink("/proc/%d/fd/%s" % (pid, n)) for n in os.listdir("/proc/%d/fd" % pid)}
            seen[(rt.name, preserve)] = sorted(fds)
            assert (fds.get("3") == str(secret)) == bool(preserve), (rt.name, preserve, fds)
            rt("delete", "--force", cid, check=True)
    assert seen[("crix-runtime", 0)] == seen[("runc", 0)] == ["0", "1", "2"]
    assert seen[("crix-runtime", 1)] == seen[("runc", 1)] == ["0", "1", "2", "3"]


def test_cwd_through_a_leaked_fd_is_refused(runtimes, make_bundle, tmp_path):
    """CVE-2024-21626: process.cwd = /proc/self/fd/N naming a host directory the runtime holds
    open fails instead of giving the container a cwd outside its root."""
    crix, _ = runtimes
    b = make_bundle(["sh", "-c", "pwd; ls"])
    (tmp_path / "secret").write_text("x")
    for n in range(3, 12):
        b.config["process"]["cwd"] = "/proc/self/fd/%d" % n
        cid = new_container(crix, b, prefix="cwd")
        p = with_fd3(str(tmp_path), crix.cmd("run", "--bundle", b.path, cid))
        assert "secret" not in p.stdout and "bundle" not in p.stdout, (n, p.stdout)
        if p.returncode == 0:
            assert p.stdout.startswith("/"), (n, p.stdout)
        if n == 3:
            assert p.returncode != 0 and "outside the container" in p.stderr, p.stderr


@pytest.mark.parametrize("style", ["absolute", "dotdot"])
def test_symlinked_mount_destination_stays_inside(runtimes, make_bundle, busybox_rootfs, tmp_path, style):
    """CVE-2021-30465 class: a symlink in the image pointing at a host path (absolute, or
    through ..) cannot make a mount land on the host."""
    victim = tmp_path / "victim"
    victim.mkdir()
    target = str(victim) if style == "absolute" else "../../../../../../../../.." + str(victim)
    os.symlink(target, os.path.join(busybox_rootfs, "evil"))
    source = tmp_path / "payload"
    source.mkdir()
    (source / "payload").write_text("x")
    b = make_bundle(["sh", "-c", "grep -c ' %s/' /proc/self/mountinfo; ls /evil/" % victim])
    b.config["mounts"] += [
        {"destination": "/evil/tmpfs", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
        {"destination": "/evil/bind", "type": "bind", "source": str(source), "options": ["rbind"]},
    ]
    res = run_both(runtimes, b)
    for name, p in res.items():
        assert p.returncode == 0, (name, p.stderr)
        # Inside: the mounts sit at the symlink's target within the rootfs.
        assert p.stdout.split() == ["2", "bind", "tmpfs"], (name, p.stdout)
    # On the host: nothing was created or mounted in the victim directory.
    assert os.listdir(victim) == []
    assert str(victim) not in read("/proc/self/mountinfo")
    assert os.path.isdir(os.path.join(busybox_rootfs, str(victim).lstrip("/"), "tmpfs"))
