"""Fixtures for the cgroup/seccomp oracle tests: the runtime tests' own fixtures (runtimes,
make_bundle, default_spec) and helpers, loaded from ../runtime rather than copied."""
import importlib.util
import os
import sys

_RUNTIME_TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runtime")
sys.path.insert(0, _RUNTIME_TESTS)

_spec = importlib.util.spec_from_file_location("runtime_tests_conftest",
                                               os.path.join(_RUNTIME_TESTS, "conftest.py"))
_runtime_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_runtime_conftest)

default_spec = _runtime_conftest.default_spec
runtimes = _runtime_conftest.runtimes
make_bundle = _runtime_conftest.make_bundle
