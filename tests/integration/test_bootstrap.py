"""scripts/bootstrap on a machine without apt (issue 16): macOS, or any non-Debian system, gets a
clear message and exit 1 before anything is installed, instead of failing half-way."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_without_apt(tmp_path: Path, system: str) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "id", "printf", "cat"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    (bin_dir / "uname").write_text(f"#!{shutil.which('bash')}\necho {system}\n")
    (bin_dir / "uname").chmod(0o755)
    return subprocess.run([shutil.which("bash"), str(REPO / "scripts" / "bootstrap")], env={"PATH": str(bin_dir)},
                          capture_output=True, text=True, timeout=30, cwd=tmp_path)


def test_macos_is_told_what_to_do(tmp_path):
    p = run_without_apt(tmp_path, "Darwin")
    assert p.returncode == 1
    assert "apt-get, which this machine (Darwin) does not have" in p.stderr
    assert "docker compose up -d --build" in p.stderr
    assert "librdkafka simdjson apache-arrow" in p.stderr


def test_another_system_without_apt_is_told_too(tmp_path):
    p = run_without_apt(tmp_path, "FreeBSD")
    assert p.returncode == 1
    assert "(FreeBSD) does not have" in p.stderr
    assert "installing" not in p.stderr
