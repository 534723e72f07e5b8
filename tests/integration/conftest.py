"""Fixtures shared by every integration test.

    kafka         (session) a real Kafka broker on a free port with its own data folder, stopped
                  at the end of the session: .bootstrap, .create_topic(), .produce(), .consume(),
                  .stop(), .start(), .env and more (see kafka_fixture.KafkaBroker)
    s3            (session) a real S3-compatible server (S3Proxy via scripts/s3) on a free port with
                  its own data folder: .env, .new_bucket(), .fs(), .kill(), .start() (see s3_fixture)
    repo_root     (session) Path of the repository
    kpipe_bin     (session) Path of the kpipe binary: $KPIPE_BIN or <repo>/build/kpipe
    unique_topic  (function) a fresh topic name, t-<test name>-<random>; not created
    run_kpipe     (function) run_kpipe(args, env=None, timeout=120, cwd=None, *, input=None):
                  kpipe with a clean environment, in a fresh temporary folder by default
    small_disk    (function) small_disk(size="4m"): a tmpfs of that size mounted in the test's
                  folder and unmounted after it (skips where mounting is not allowed): a disk
                  that fills up for real

A test that stops the broker (an outage test) must start it again before it ends, in a
`finally:`, since every later test of the session shares it.
"""
from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from kafka_fixture import REPO_ROOT, KafkaBroker, KafkaError, default_kpipe_bin, free_ports
from kafka_fixture import run_kpipe as _run_kpipe
from s3_fixture import S3Error, S3Server


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a long-running test (deselect with -m 'not slow')")


def pytest_terminal_summary(terminalreporter):
    """Lists the files tests kept for a person to look at (record_property("artifact", path)),
    such as the status page's screenshots, whether or not output is captured."""
    lines = []
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            for key, value in getattr(report, "user_properties", []):
                if key == "artifact" and report.when == "call":
                    lines.append(f"{report.nodeid}: {value}")
    if lines:
        terminalreporter.section("artifacts")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def kpipe_bin() -> Path:
    path = default_kpipe_bin()
    if not path.is_file():
        pytest.fail(f"kpipe binary not found at {path}: build it (cmake --build build) or set KPIPE_BIN")
    return path


@pytest.fixture(scope="session")
def kafka(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("kafka")
    broker = None
    for attempt in range(3):
        # Free ports can be taken by someone else before the broker binds them: retry with others.
        port, sasl_port = free_ports(2)
        broker = KafkaBroker(data_dir, port=port, sasl_port=sasl_port)
        try:
            broker.start()
            break
        except KafkaError as e:
            if "in use" in str(e) and attempt < 2:
                continue
            pytest.fail(str(e), pytrace=False)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    server = None
    for attempt in range(3):
        server = S3Server(tmp_path_factory.mktemp("s3"))
        try:
            server.start()
            break
        except S3Error as e:
            if "in use" in str(e) and attempt < 2:
                continue
            pytest.fail(str(e), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def unique_topic(request) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", request.node.name).strip("-")[:180]
    return f"t-{name}-{secrets.token_hex(4)}"


@pytest.fixture
def run_kpipe(kpipe_bin, tmp_path_factory):
    def run(args, env=None, timeout: float = 120, cwd=None, *, input=None):
        if cwd is None:
            cwd = tmp_path_factory.mktemp("kpipe-run")
        return _run_kpipe(args, env=env, timeout=timeout, cwd=cwd, input=input, kpipe_bin=kpipe_bin)

    return run


@pytest.fixture
def small_disk(tmp_path):
    mounted = []

    def mount(size: str = "4m") -> Path:
        mnt = tmp_path / f"small-disk-{len(mounted)}"
        mnt.mkdir()
        if shutil.which("mount") is None:
            pytest.skip("no mount command: cannot create a small file system")
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True,
                           text=True)
        if p.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {p.stderr.strip()}")
        mounted.append(mnt)
        return mnt

    try:
        yield mount
    finally:
        for mnt in mounted:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
