"""crix-runtime against runc: exit codes, state transitions and their JSON, errors."""
import json
import os
import re
import signal
import subprocess

import pytest

from crixtest import wait_for
from runtime_helpers import CGROUP_PARENT, create, new_container, new_id, read, run_both, start_detached


def status_of(rt, cid):
    st = rt("state", cid)
    return json.loads(st.stdout)["status"] if st.returncode == 0 else None


@pytest.mark.parametrize("code", [0, 1, 42])
def test_run_exit_code_matches_runc(runtimes, make_bundle, code):
    b = make_bundle(["sh", "-c", "echo out; echo err >&2; exit %d" % code])
    res = run_both(runtimes, b)
    for name, p in res.items():
        assert p.returncode == code, (name, p.stderr)
        assert p.stdout == "out\n" and "err" in p.stderr, (name, p.stdout, p.stderr)


@pytest.mark.parametrize("sig,code", [("KILL", 137), ("TERM", 143)])
def test_run_killed_exit_code_matches_runc(runtimes, make_bundle, sig, code):
    # The init of a pid namespace ignores signals it has no handler for (even from outside),
    # so share the host's pid namespace to see the default actions.
    b = make_bundle(["sleep", "30"])
    b.config["linux"]["namespaces"] = [n for n in b.config["linux"]["namespaces"] if n["type"] != "pid"]
    for rt in runtimes:
        cid = new_id(rt.name[:4])
        b.config["linux"]["cgroupsPath"] = "%s/%s" % (CGROUP_PARENT, cid)
        b.write()
        rt.ids.add(cid)
        p = subprocess.Popen(rt.cmd("run", "--bundle", b.path, cid), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        wait_for(lambda: status_of(rt, cid) == "running", what="%s %s running" % (rt.name, cid))
        rt("kill", cid, sig, check=True)
        assert p.wait(timeout=10) == code, (rt.name, p.stderr.read())


def test_lifecycle_states_match_runc(runtimes, make_bundle):
    b = make_bundle(["sleep", "30"])
    b.config["annotations"] = {"org.example.key": "value"}
    seen = {}
    for rt in runtimes:
        cid, _, _ = create(rt, b, "--pid-file", os.path.join(b.path, rt.name + ".pid"))
        created = rt.state(cid)
        pid_file = int(read(os.path.join(b.path, rt.name + ".pid")))
        assert created["pid"] == pid_file > 0
        assert created["id"] == cid and created["bundle"] == b.path
        assert created["annotations"] == {"org.example.key": "value"}
        listed = json.loads(rt("list", "--format", "json", check=True).stdout)
        assert [c["id"] for c in listed] == [cid]
        # delete of a running container without --force is refused
        rt("start", cid, check=True)
        running = rt.state(cid)
        refused = rt("delete", cid)
        again = rt("start", cid)
        rt("kill", cid, "KILL", check=True)
        wait_for(lambda: status_of(rt, cid) == "stopped", what="%s %s stopped" % (rt.name, cid))
        stopped = rt.state(cid)
        killed_again = rt("kill", cid, "KILL")
        rt("delete", cid, check=True)
        gone = rt("state", cid)
        rt.ids.discard(cid)
        seen[rt.name] = (created["status"], running["status"], refused.returncode != 0,
                         again.returncode != 0, stopped["status"], killed_again.returncode != 0,
                         gone.returncode != 0, sorted(created))
    assert seen["crix-runtime"] == seen["runc"]
    assert seen["runc"][:7] == ("created", "running", True, True, "stopped", True, True)


def test_delete_force_running_and_pause_resume(runtimes, make_bundle):
    b = make_bundle(["sleep", "30"])
    seen = {}
    for rt in runtimes:
        cid = start_detached(rt, b)
        rt("pause", cid, check=True)
        paused = rt.state(cid)["status"]
        rt("resume", cid, check=True)
        resumed = rt.state(cid)["status"]
        pid = rt.state(cid)["pid"]
        rt("delete", "--force", cid, check=True)
        rt.ids.discard(cid)
        seen[rt.name] = (paused, resumed, os.path.exists("/proc/%d/cmdline" % pid) and
                         read("/proc/%d/stat" % pid).split(") ")[1][0] != "Z")
    assert seen["crix-runtime"] == seen["runc"] == ("paused", "running", False)


def test_kill_signal_names_and_numbers(runtimes, make_bundle):
    crix, _ = runtimes
    b = make_bundle(["sh", "-c", "trap 'echo usr1' USR1; trap 'echo hup; exit 3' HUP; echo ready; "
                     "while true; do sleep 0.05; done"])
    cid, _, out = create(crix, b)
    crix("start", cid, check=True)
    wait_for(lambda: read(out).split() == ["ready"], what="the traps set")
    crix("kill", cid, "SIGUSR1", check=True)
    wait_for(lambda: read(out).split() == ["ready", "usr1"], what="USR1 handled")
    crix("kill", cid, str(int(signal.SIGHUP)), check=True)
    wait_for(lambda: status_of(crix, cid) == "stopped", what="stopped by HUP")
    assert read(out).split() == ["ready", "usr1", "hup"]
    assert crix("kill", cid, "NOSUCHSIG").returncode != 0


def test_errors_match_runc(runtimes, make_bundle, tmp_path):
    crix, runc = runtimes
    b = make_bundle(["true"])
    for rt in runtimes:
        # unknown id
        assert rt("state", "no-such-id").returncode != 0
        assert rt("delete", "no-such-id").returncode != 0
        # invalid ids cannot leave --root
        assert rt("state", "../etc").returncode != 0
        # duplicate id
        cid, _, _ = create(rt, b, cid=new_id(rt.name[:4]))
        _, dup, out = create(rt, b, cid=cid, check=False)
        assert dup.returncode != 0, rt.name
        assert rt.state(cid)["status"] == "created"
        rt("delete", "--force", cid, check=True)
    # bad JSON and missing rootfs: an error naming the problem, nothing left behind
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text('{"process": {"args": ["sh", 1]}}')
    p = crix("run", "--bundle", str(bad), "bad1")
    assert p.returncode != 0 and "process.args[1]: expected string" in p.stderr
    (bad / "config.json").write_text('{"process": {"args": ["sh"]')  # not JSON at all
    p = crix("run", "--bundle", str(bad), "bad2")
    assert p.returncode != 0 and "config.json" in p.stderr and "JSON" in p.stderr, p.stderr
    b.config["root"]["path"] = str(tmp_path / "missing-rootfs")
    b.write()
    for rt in runtimes:
        p = rt("run", "--bundle", b.path, "missing1")
        assert p.returncode != 0, rt.name
    assert "missing-rootfs" in crix("run", "--bundle", b.path, "missing2").stderr
    assert os.listdir(crix.root) == []
    # a missing program fails at create, as in runc
    b2 = make_bundle(["/bin/no-such-program"])
    for rt in runtimes:
        _, p, out = create(rt, b2, check=False)
        assert p.returncode != 0, rt.name
    assert "no-such-program" in read(out)


def test_spec_and_features(tmp_path, runtimes):
    crix, _ = runtimes
    crix("spec", "--bundle", str(tmp_path), check=True)
    spec = json.loads((tmp_path / "config.json").read_text())
    assert spec["process"]["args"] == ["sh"] and spec["root"]["path"] == "rootfs"
    assert crix("spec", "--bundle", str(tmp_path)).returncode != 0  # exists
    f = json.loads(crix("features", check=True).stdout)
    assert f["ociVersionMax"].startswith("1.2")
    assert "time" in f["linux"]["namespaces"] and "CAP_KILL" in f["linux"]["capabilities"]
    assert f["linux"]["seccomp"]["enabled"] is True
    assert "createContainer" in f["hooks"]
    p = crix("--systemd-cgroup", "list")
    assert p.returncode != 0 and "systemd" in p.stderr


def test_log_file_json_and_text(runtimes, make_bundle, tmp_path):
    """--log takes every log line (the runtime's and its init's) in --log-format; the
    container's stderr gets none of them."""
    crix, runc = runtimes
    b = make_bundle(["sh", "-c", "echo out; echo err >&2"])
    b.config["mounts"].append({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                               "options": ["nosuid", "tmpcopyup"]})
    log = tmp_path / "crix.json"
    cid = new_container(crix, b, prefix="crix")
    p = crix("--log", str(log), "--log-format", "json", "--debug", "run", "--bundle", b.path, cid)
    assert (p.returncode, p.stdout, p.stderr) == (0, "out\n", "err\n")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert all(set(e) == {"level", "msg", "time"} and e["time"].endswith("Z") for e in lines), lines
    msgs = [e["msg"] for e in lines if e["level"] == "debug"]
    assert "%s: spec read and process planned" % cid in msgs
    assert "mount option tmpcopyup ignored" in msgs  # written by the init
    # an error, as text: the same shape as runc's
    for rt in runtimes:
        text = tmp_path / ("%s.log" % rt.name)
        assert rt("--log", str(text), "kill", "no-such-id", "KILL").returncode != 0
        (line,) = text.read_text().splitlines()
        assert re.match(r'^time="[^"]+" level=error msg=".+"$', line), (rt.name, line)
