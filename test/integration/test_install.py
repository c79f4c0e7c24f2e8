"""cmake --install lays out what a node needs, and the installed default config is valid."""
import os
import subprocess

from crixtest import BUILD, binary


def test_install_layout(tmp_path):
    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", "--install", BUILD, "--prefix", str(prefix)], check=True,
                   capture_output=True)
    for path in ("bin/crixd", "libexec/crix/crix-runtime", "libexec/crix/crix-conmon", "libexec/crix/crix-pull"):
        assert os.access(prefix / path, os.X_OK), path
    unit = (prefix / "lib/systemd/system/crixd.service").read_text()
    assert "ExecStart=%s/bin/crixd" % prefix in unit
    assert "KillMode=process" in unit
    assert "unix:///run/crix/crix.sock" in (prefix / "share/crix/crictl.yaml").read_text()

    # The commented default file is the built-in defaults, key for key.
    empty = tmp_path / "empty.d"
    empty.mkdir()
    installed = subprocess.run([str(prefix / "bin/crixd"), "--config", str(prefix / "etc/crix/crix.yaml"),
                                "--config-dir", str(empty), "config"], capture_output=True, text=True, check=True)
    none = tmp_path / "none.yaml"
    none.write_text("")
    defaults = subprocess.run([binary("bin", "crixd"), "--config", str(none), "--config-dir", str(empty),
                               "config"], capture_output=True, text=True, check=True)
    assert installed.stdout == defaults.stdout
