"""How containers end: exit files, OOM markers, runtime failures, surviving the starter."""
import os
import signal
import sys

import pytest

from crixtest import pid_alive, wait_for


@pytest.mark.parametrize("script,code", [("exit 0", 0), ("exit 3", 3)])
def test_exit_code(containers, script, code):
    c = containers(["sh", "-c", script])
    c.start()
    assert c.exit_code() == code
    assert not c.oom_marked()


@pytest.mark.parametrize("sig,code", [("KILL", 137), ("TERM", 143)])
def test_killed_by_signal(containers, sig, code):
    # Outside a pid namespace, so SIGTERM's default action applies (an init would ignore it).
    c = containers(["sleep", "100"], pid_ns=False)
    c.start()
    c.runtime("kill", c.id, sig)
    assert c.exit_code() == code
    assert not c.oom_marked()


def test_oom_kill_is_marked(containers):
    # dd allocates and fills a 64 MiB block: over the 16 MiB limit
    c = containers(["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"], memory=16 << 20)
    c.start()
    assert c.exit_code() == 137
    assert c.oom_marked(), c.monitor_text()


def test_container_survives_killed_starter(containers):
    c = containers(["sleep", "100"])
    # The monitor is started by an intermediate process that then waits forever.
    starter = [sys.executable, "-c",
               "import os, subprocess, sys, time; subprocess.run(sys.argv[1:], pass_fds="
               "(int(os.environ['_CRIX_SYNCPIPE']),)); time.sleep(1000)"]
    result = c.create(starter=starter)
    assert result["pid"] > 0
    c.runtime("start", c.id)
    os.kill(c.starter.pid, signal.SIGKILL)
    c.starter.wait()
    assert pid_alive(result["pid"]) and pid_alive(c.monitor_pid)
    assert b'"running"' in c.runtime("state", c.id).stdout
    c.runtime("kill", c.id, "KILL")
    assert c.exit_code() == 137


def test_runtime_failure_is_reported(containers):
    c = containers(["/no/such/program"])
    result = c.create()
    assert result["pid"] == -1
    assert "/no/such/program" in result["message"], result
    assert not os.path.exists(os.path.join(c.exit_dir, c.id))


def test_bad_command_line_is_reported(containers):
    c = containers(["true"])
    result = c.spawn([c.command()[0], "--cid", c.id])
    assert result["pid"] == -1 and "--runtime" in result["message"]
    wait_for(lambda: c.starter.poll() is not None)
    assert c.starter.returncode == 2


def test_exit_recorded_while_a_straggler_keeps_writing(containers):
    # Without a pid namespace a background process outlives the container's main process and
    # keeps its stdout open: the exit must not wait for it.
    c = containers(["sh", "-c", "(while true; do echo bg; sleep 0.02; done) & echo main; exit 4"],
                   pid_ns=False)
    c.start()
    assert c.exit_code(10) == 4
    assert b"main" in [r[3] for r in c.log_records()]


def test_sigterm_to_monitor_is_forwarded(containers):
    c = containers(["sleep", "100"], pid_ns=False)
    c.start()
    os.kill(c.monitor_pid, signal.SIGTERM)
    assert c.exit_code() == 143
    wait_for(lambda: not pid_alive(c.monitor_pid), what="monitor exit")
