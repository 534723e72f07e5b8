"""The README's "Verify" commands, run exactly as written against the output of a real run.

Each command is the fenced block after a `<!-- verify:NAME -->` marker in README.md. One real
pipeline run (events on three days → `kpipe stream --once`) writes `data/output/` into a
temporary folder, which stands for the repository: the commands run there with bash, `.venv`
(and `.venv-spark` when present) linked in. The Docker command for the topics runs without
Docker: its arguments go to Kafka's TopicCommand (the class the image's kafka-topics.sh runs)
against the test broker.
"""
from __future__ import annotations

import json
import re
import secrets
import shlex
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kafka_fixture import REPO_ROOT, clean_env, run_kpipe
from output_check import stream_env

# Events per day, all different so each count can be found in the printed tables.
PER_DAY = {"2025-11-06": 31, "2025-11-07": 17, "2025-11-08": 9}
TOTAL = sum(PER_DAY.values())


def readme_block(name: str) -> str:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(rf"<!-- verify:{re.escape(name)} -->\n```bash\n(.*?)```", readme, re.S)
    assert m, f"README.md has no ```bash block after <!-- verify:{name} -->"
    return m.group(1)


def run_block(name: str, cwd: Path, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", readme_block(name)], cwd=cwd, env=env or clean_env(),
                       capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, f"README verify:{name} failed (exit {p.returncode}):\n{p.stdout}\n{p.stderr}"
    return p


def events() -> list[bytes]:
    out = []
    for day, n in PER_DAY.items():
        start = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
        for i in range(n):
            ts = start + timedelta(minutes=37 * i, milliseconds=i)
            out.append(json.dumps({"event_id": f"{day}-{i:03d}", "value": 10.0 + i, "source": "verify",
                                   "ts": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")}).encode())
    return out


@pytest.fixture(scope="module")
def verified(kafka, kpipe_bin, tmp_path_factory):
    """(topic, folder) after a real run: folder/data/output holds kpipe's output, as in the
    repository after `make run`; folder/.venv links to the repository's."""
    topic = f"t-verify-commands-{secrets.token_hex(4)}"
    kafka.create_topic(topic, partitions=3)
    kafka.produce(topic, events())
    root = tmp_path_factory.mktemp("verify")
    for venv in (".venv", ".venv-spark"):
        if (REPO_ROOT / venv).is_dir():
            (root / venv).symlink_to(REPO_ROOT / venv)
    env = stream_env(root, kafka.bootstrap, topic)
    out = root / "data" / "output"
    env.update(OUTPUT_PATH=str(out / "parquet"), CSV_OUTPUT_PATH=str(out / "csv"),
               CHECKPOINT_PATH=str(out / "_checkpoint"), DEAD_LETTER_PATH=str(out / "_dead_letter"))
    p = run_kpipe(["stream", "--once"], env=env, cwd=root, kpipe_bin=kpipe_bin, timeout=180)
    assert p.returncode == 0, p.stderr
    return topic, root


def assert_counts_per_day(text: str):
    for day, n in PER_DAY.items():
        assert re.search(rf"{day}[^\d\n-]+{n}\b", text), f"no row '{day} … {n}' in:\n{text}"


def test_list_topics_natively(verified, kafka):
    topic, _ = verified
    p = run_block("topics", cwd=REPO_ROOT, env=kafka.env)
    assert f"{topic} (3 partitions)" in p.stdout, p.stdout


def test_list_topics_in_docker_runs_kafkas_topic_command(verified, kafka):
    topic, _ = verified
    prefix = "docker compose exec kafka /opt/kafka/bin/kafka-topics.sh "
    command = readme_block("topics-docker").strip()
    assert command.startswith(prefix), command
    args = shlex.split(command[len(prefix):])
    assert "kafka:9092" in args, "inside the Compose network the broker is kafka:9092"
    p = kafka.kafka_tool("org.apache.kafka.tools.TopicCommand",
                         *[kafka.bootstrap if a == "kafka:9092" else a for a in args])
    assert p.returncode == 0, p.stderr
    assert topic in p.stdout.split(), p.stdout


def test_look_at_the_output_files(verified):
    _, root = verified
    p = run_block("files", cwd=root)
    for day in PER_DAY:
        assert f"data/output/parquet/dt={day}:" in p.stdout and f"data/output/csv/dt={day}:" in p.stdout, p.stdout
    assert re.search(r"part-[0-9a-f]{8}-\d+-\d+\.snappy\.parquet", p.stdout), p.stdout
    assert re.search(r"part-[0-9a-f]{8}-\d+-\d+\.csv", p.stdout), p.stdout


def test_read_with_duckdb(verified):
    _, root = verified
    p = run_block("duckdb", cwd=root)
    assert_counts_per_day(p.stdout)
    assert re.search(rf"csv_rows[\s\S]*\b{TOTAL}\b", p.stdout), p.stdout


def test_read_with_pandas(verified):
    _, root = verified
    p = run_block("pandas", cwd=root)
    assert_counts_per_day(p.stdout)
    assert "verify" in p.stdout  # the tail shows rows, source included


def test_read_with_spark(verified):
    _, root = verified
    if not (REPO_ROOT / ".venv-spark" / "bin" / "python").exists():
        pytest.skip("PySpark is not set up: scripts/setup-spark (run by scripts/bootstrap) installs it into .venv-spark/")
    p = run_block("spark", cwd=root, timeout=600)
    assert_counts_per_day(p.stdout)
    assert re.search(r"\bts: timestamp\b", p.stdout) and re.search(r"\bdt: date\b", p.stdout), p.stdout
