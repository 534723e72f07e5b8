"""Which librdkafka kpipe runs with (cmake/KpipeRdkafka.cmake, issue 14): by default the one the
confluent-kafka wheel of .venv bundles (2.16), not Debian 12's 2.0.2, whose main thread spins
through the last millisecond before each timer. The binary finds it by its RPATH alone. Without
such a wheel the default (auto) links the system's and says so; KPIPE_RDKAFKA=wheel refuses."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from kafka_fixture import REPO_ROOT, clean_env

NO_LIBRARY_PATH = {"LD_LIBRARY_PATH": None}


def configured_rdkafka(kpipe_bin: Path) -> str:
    cache = kpipe_bin.parent / "CMakeCache.txt"
    if not cache.is_file():
        return "auto"
    m = re.search(r"^KPIPE_RDKAFKA:\w+=(\w+)$", cache.read_text(), re.M)
    return m.group(1) if m else "auto"


def python_without_confluent_kafka(tmp_path: Path) -> Path:
    """A stand-in for a Python whose confluent-kafka is missing: anything that asks about it
    fails the way importlib.metadata does; everything else (pyarrow for Arrow) is .venv's."""
    wrapper = tmp_path / "python"
    wrapper.write_text("#!/bin/sh\n"
                       'case "$*" in *confluent*) echo "PackageNotFoundError: confluent-kafka" >&2; exit 1;; esac\n'
                       f'exec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def test_kpipe_runs_with_the_wheels_librdkafka(kpipe_bin):
    # auto (the default) must take the wheel .venv has: falling back here would be a bug.
    if configured_rdkafka(kpipe_bin) == "system":
        pytest.skip("this build was configured with -DKPIPE_RDKAFKA=system")
    import confluent_kafka

    wheel_version = confluent_kafka.libversion()[0]
    p = subprocess.run([str(kpipe_bin), "version"], env=clean_env(NO_LIBRARY_PATH), capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert f"librdkafka {wheel_version}" in p.stdout.splitlines(), p.stdout
    major, minor = (int(x) for x in wheel_version.split(".")[:2])
    assert (major, minor) >= (2, 4), f"librdkafka {wheel_version} still has the idle timer's spin (fixed in 2.4.0)"
    ldd = subprocess.run(["ldd", str(kpipe_bin)], env=clean_env(NO_LIBRARY_PATH), capture_output=True, text=True,
                         check=True).stdout
    loaded = [line for line in ldd.splitlines() if "rdkafka" in line]
    assert loaded and all("/confluent_kafka.libs/" in line for line in loaded), ldd


def test_an_unknown_librdkafka_choice_is_refused_by_name(tmp_path):
    p = subprocess.run(["cmake", "-S", str(REPO_ROOT), "-B", str(tmp_path / "build"), "-DKPIPE_RDKAFKA=newest",
                        f"-DKPIPE_PYTHON={sys.executable}"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0
    assert "KPIPE_RDKAFKA is 'newest': it must be auto, wheel or system" in p.stderr


def test_without_a_wheel_the_default_links_the_systems_librdkafka_and_says_so(tmp_path):
    python = python_without_confluent_kafka(tmp_path)
    p = subprocess.run(["cmake", "-S", str(REPO_ROOT), "-B", str(tmp_path / "build"), f"-DKPIPE_PYTHON={python}"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "-- librdkafka: system librdkafka" in p.stdout, p.stdout[-3000:]
    warning = " ".join(p.stderr.split())
    assert "has no confluent-kafka wheel" in warning and "KPIPE_RDKAFKA=auto" in warning, p.stderr


def test_without_a_wheel_kpipe_rdkafka_wheel_stops_the_build_and_says_how(tmp_path):
    python = python_without_confluent_kafka(tmp_path)
    p = subprocess.run(["cmake", "-S", str(REPO_ROOT), "-B", str(tmp_path / "build"), "-DKPIPE_RDKAFKA=wheel",
                        f"-DKPIPE_PYTHON={python}"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0
    error = " ".join(p.stderr.split())
    assert "has no confluent-kafka wheel" in error and "-DKPIPE_RDKAFKA=system" in error, p.stderr
