"""The README documents every setting of both commands, with the default the program uses."""
from __future__ import annotations

import re

import pytest


def settings_from_help(run_kpipe, command):
    p = run_kpipe([command, "--help"])
    assert p.returncode == 0, p.stderr
    found = re.findall(r"\[env ([A-Z_]+)(?:, default ([^\]]*))?\]", p.stdout)
    assert len(found) >= 3, p.stdout
    return found


@pytest.mark.parametrize("command", ["stream", "produce"])
def test_every_setting_and_default_is_in_the_readme(run_kpipe, repo_root, command):
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    section = readme.split(f"### `kpipe {command}`", 1)[1].split("###", 1)[0]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([A-Z_]+)` \|.*$", section, re.M)}
    for name, default in settings_from_help(run_kpipe, command):
        if name == "PRODUCER_STATUS_ADDR":
            assert "--status-addr" in section
            continue
        assert name in rows, f"README's kpipe {command} table lacks {name}"
        if default:
            assert f"`{default}`" in rows[name], f"README gives another default for {name}: {rows[name]}"


def test_readme_shows_the_two_commands(repo_root):
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
