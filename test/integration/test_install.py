"""cmake --install lays out what a node needs, the installed default config is valid, and
static linking is a property of the helpers crix-runtime and crix-conmon alone."""
import os
import re
import subprocess

from crixtest import BUILD, binary


def install(prefix):
    subprocess.run(["cmake", "--install", BUILD, "--prefix", str(prefix)], check=True,
                   capture_output=True)


def test_install_layout(tmp_path):
    prefix = tmp_path / "prefix"
    install(prefix)
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


def sanitizer_build():
    with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
        return re.search(r"^CRIX_SANITIZE:BOOL=ON$", f.read(), re.M) is not None


def readelf(option, path):
    return subprocess.run(["readelf", "-W", option, path], capture_output=True, text=True,
                          check=True).stdout


def needed(path):
    """The DT_NEEDED names of an executable."""
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", readelf("--dynamic", path))


def shared_library_path(executable, soname):
    """Where the dynamic loader finds soname for executable."""
    out = subprocess.run(["ldd", executable], capture_output=True, text=True, check=True).stdout
    found = re.search(r"^\s*%s => (\S+)" % re.escape(soname), out, re.M)
    assert found, "%s: %s not resolved:\n%s" % (executable, soname, out)
    return found.group(1)


def defined_symbols(path, dynamic=False):
    args = ["nm", "--defined-only", "--format=posix"] + (["-D"] if dynamic else []) + [path]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return {line.split()[0].split("@")[0] for line in out.splitlines() if line.strip()}


def assert_shared(executable, library):
    """executable loads the shared library (libjson-c ...) and carries no copy of it: none of
    the library's functions is defined in the executable itself."""
    sonames = [n for n in needed(executable) if n.startswith(library + ".so")]
    assert sonames, "%s: no %s.so among its NEEDED %s" % (executable, library, needed(executable))
    exported = defined_symbols(shared_library_path(executable, sonames[0]), dynamic=True)
    copied = exported & defined_symbols(executable)
    assert not copied, "%s: static copy of %s: %s" % (executable, library, sorted(copied)[:10])


def test_only_the_helpers_link_statically(tmp_path):
    prefix = tmp_path / "prefix"
    install(prefix)
    for helper in ("crix-runtime", "crix-conmon"):
        path = str(prefix / "libexec/crix" / helper)
        headers = readelf("--program-headers", path)
        if sanitizer_build():
            # ASan cannot link statically: the sanitizer build's helpers are dynamic.
            assert "INTERP" in headers, helper
        else:
            assert "INTERP" not in headers and "DYNAMIC" not in headers, helper + ":\n" + headers
    # crixd, an executable that links the spec model (as crixd will) and one that links the
    # runtime's libraries stay dynamic, with json-c and libseccomp shared.
    assert_shared(str(prefix / "bin/crixd"), "libjson-c")
    assert_shared(binary("test", "unit", "oci", "test_oci_spec"), "libjson-c")
    runtime_test = binary("test", "unit", "oci_cgroup", "test_oci_seccomp_filter")
    assert_shared(runtime_test, "libjson-c")
    assert_shared(runtime_test, "libseccomp")
