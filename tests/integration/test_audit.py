"""`kpipe verify`: the audit of an output and its checkpoint, on a real broker. It passes on what
`kpipe stream` wrote, also while the job runs, and each property broken on purpose is named by
its finding with exit 1 (text and --json)."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from output_check import stream_env
from test_stream import clean_env, make_events, produce_lines, run_stream, spawn


def verify(kpipe_bin, env, cwd, *args, timeout=60):
    return subprocess.run([str(kpipe_bin), "verify", *args], env=clean_env(env), cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def verify_json(kpipe_bin, env, cwd) -> tuple[int, dict]:
    p = verify(kpipe_bin, env, cwd, "--json")
    assert p.returncode in (0, 1), p.stderr
    return p.returncode, json.loads(p.stdout)


def kinds(report: dict) -> list[str]:
    return [f["kind"] for f in report["findings"]]


def query8(out: Path) -> str:
    return json.loads((out / "_checkpoint" / "metadata").read_text())["queryId"].replace("-", "")[:8]


def files_of_batch(root: Path, q8: str, batch: int, suffix: str) -> list[Path]:
    return sorted(root.glob(f"dt=*/part-{q8}-{batch:05d}-*{suffix}"))


class Broken:
    """Breaks one file for the length of a `with` block, and puts it back."""

    def __init__(self, path: Path):
        self.path = path
        self.saved = path.read_bytes() if path.exists() else None

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        if self.saved is None:
            self.path.unlink(missing_ok=True)
        else:
            self.path.write_bytes(self.saved)


def expect(kpipe_bin, env, cwd, kind: str, file_part: str | None = None) -> dict:
    """Runs verify twice (text, --json) and checks exit 1 and the finding `kind`."""
    p = verify(kpipe_bin, env, cwd)
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"FINDING {kind}: " in p.stdout, p.stdout
    assert "finding(s)" in p.stdout.splitlines()[-1]
    rc, report = verify_json(kpipe_bin, env, cwd)
    assert rc == 1 and report["ok"] is False
    found = [f for f in report["findings"] if f["kind"] == kind]
    assert found, report["findings"]
    if file_part:
        assert any(file_part in (f["file"] or "") for f in found), found
    return report


def test_stream_output_verifies_and_each_break_is_named(kafka, kpipe_bin, unique_topic, run_kpipe, tmp_path):
    kafka.create_topic(unique_topic, 2)
    events = make_events(2400, days=2)
    lines = [json.dumps(e) for e in events] + ['{"event_id": "bad", "ts": "not a time"}']
    produce_lines(run_kpipe, kafka, unique_topic, lines, tmp_path)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, MAX_OFFSETS_PER_TRIGGER=800, MAX_RECORDS_PER_FILE=300)
    p = run_stream(kpipe_bin, env, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    out = tmp_path / "out"
    parquet, csv, dlq = out / "parquet", out / "csv", out / "_dead_letter"
    q8 = query8(out)
    # A dt folder's _SUCCESS marker (DT_COMPLETE_AFTER) is neither stray nor a leftover.
    day = sorted(parquet.glob("dt=*"))[0]
    (day / "_SUCCESS").write_text("")

    ok = verify(kpipe_bin, env, tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    n_files = len(list(parquet.glob("dt=*/*.parquet")) + list(csv.glob("dt=*/*.csv")) + list(dlq.glob("*.jsonl")))
    assert ok.stdout.splitlines()[-1] == f"verified 4 batches, {n_files} files, 2400 rows: OK", ok.stdout
    assert "FINDING" not in ok.stdout
    rc, report = verify_json(kpipe_bin, env, tmp_path)
    assert rc == 0 and report["ok"] is True and report["findings"] == []
    assert (report["batches"], report["files"], report["rows"], report["pendingBatch"]) == (4, n_files, 2400, None)
    assert any("Kafka: 0 record(s)" in i for i in report["infos"]), report["infos"]

    # A committed file deleted.
    victim = files_of_batch(parquet, q8, 1, ".parquet")[0]
    with Broken(victim):
        victim.unlink()
        expect(kpipe_bin, env, tmp_path, "missing-file", victim.name)
    # A Parquet file rewritten with fewer rows (its footer says so).
    with Broken(victim):
        t = pq.read_table(victim)
        pq.write_table(t.slice(0, t.num_rows - 1), victim)
        report = expect(kpipe_bin, env, tmp_path, "row-count", victim.name)
        assert f"holds {t.num_rows - 1} rows" in report["findings"][0]["message"]
    # A CSV line removed.
    csv_file = files_of_batch(csv, q8, 2, ".csv")[0]
    with Broken(csv_file):
        text = csv_file.read_text()
        csv_file.write_text(text[: text.rstrip("\n").rfind("\n") + 1])
        expect(kpipe_bin, env, tmp_path, "row-count", csv_file.name)
    # A file under a final name of this query that no commit lists.
    stray = day / f"part-{q8}-00099-000.snappy.parquet"
    with Broken(stray):
        shutil.copy(victim, stray)
        expect(kpipe_bin, env, tmp_path, "stray-file", stray.name)
    # A hidden temp file left by a crashed attempt.
    temp = day / f".part-{q8}-00002-007.snappy.parquet.tmp"
    with Broken(temp):
        temp.write_bytes(b"half a file")
        expect(kpipe_bin, env, tmp_path, "hidden-leftover", temp.name)
    # offsets/2 edited to overlap batch 1, then to leave a gap after it.
    entry = out / "_checkpoint" / "offsets" / "2"
    for shift, kind in ((-5, "offsets-overlap"), (5, "offsets-gap")):
        with Broken(entry):
            e = json.loads(entry.read_text())
            r = next(r for r in e["ranges"] if r["end"] > r["start"])
            r["start"] += shift
            entry.write_text(json.dumps(e))
            report = expect(kpipe_bin, env, tmp_path, kind)
            assert report["findings"][0]["partition"] == r["partition"]
    # The Delta table: batch 1's add removed from its commit (version 2), then a bogus commit.
    log = parquet / "_delta_log"
    commit = log / "00000000000000000002.json"
    with Broken(commit):
        commit.write_text("".join(l + "\n" for l in commit.read_text().splitlines() if '"add"' not in l))
        expect(kpipe_bin, env, tmp_path, "delta-missing-add")
    bogus = log / "00000000000000000005.json"
    with Broken(bogus):
        query = json.loads((out / "_checkpoint" / "metadata").read_text())["queryId"]
        bogus.write_text(json.dumps({"txn": {"appId": query, "version": 7}}) + "\n" + json.dumps(
            {"add": {"path": f"{day.name}/part-{q8}-00007-000.snappy.parquet", "partitionValues": {"dt": day.name[3:]},
                     "size": 10, "modificationTime": 0, "dataChange": True}}) + "\n")
        report = expect(kpipe_bin, env, tmp_path, "delta-extra-add")
        assert {"delta-txn", "delta-missing-file"} <= set(kinds(report)), report["findings"]
    # Everything put back: OK again.
    assert verify(kpipe_bin, env, tmp_path).returncode == 0


def test_verify_while_the_job_runs(kafka, kpipe_bin, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 3)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, TRIGGER_SECONDS=0.3, MAX_RECORDS_PER_FILE=200,
                     FILES_PER_PARTITION=2)
    producer = spawn(kpipe_bin, ["produce", "--rate", "2000", "--duration", "10"],
                     {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "KAFKA_TOPIC": unique_topic}, tmp_path)
    stream = spawn(kpipe_bin, ["stream"], env, tmp_path)
    reports = []
    try:
        deadline = time.monotonic() + 60
        while producer.poll() is None and time.monotonic() < deadline:
            if (tmp_path / "out" / "_checkpoint" / "metadata").exists():
                rc, report = verify_json(kpipe_bin, env, tmp_path)
                assert rc == 0, report["findings"]
                reports.append(report)
            time.sleep(0.1)
        assert producer.wait(timeout=60) == 0
    finally:
        stream.terminate()
        stream.wait(timeout=30)
        if producer.poll() is None:
            producer.kill()
    assert len(reports) >= 5 and reports[-1]["batches"] > reports[0]["batches"], [r["batches"] for r in reports]
    # After the job: every batch checked, still OK.
    rc, final = verify_json(kpipe_bin, env, tmp_path)
    assert rc == 0 and final["batches"] >= reports[-1]["batches"]


@pytest.mark.parametrize("step", ["after_offsets", "after_temp_files", "mid_rename", "after_rename",
                                  "after_delta_commit"])
def test_a_batch_stopped_at_any_step_is_in_flight_not_a_finding(kafka, kpipe_bin, unique_topic, run_kpipe, tmp_path,
                                                               step):
    """What a running job leaves between two steps of the batch protocol, held still by a crash
    there: the pending entry, its temp files, its files under final names, its Delta commit."""
    kafka.create_topic(unique_topic, 2)
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in make_events(900)], tmp_path)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, MAX_OFFSETS_PER_TRIGGER=300, MAX_RECORDS_PER_FILE=100)
    p = run_stream(kpipe_bin, {**env, "KPIPE_TEST_CRASH_AT": f"{step}@1"}, tmp_path)
    assert p.returncode != 0 and "KPIPE_TEST_CRASH_AT" in p.stderr
    rc, report = verify_json(kpipe_bin, env, tmp_path)
    assert rc == 0, report["findings"]
    assert report["pendingBatch"] == 1 and report["batches"] == 1
    assert run_stream(kpipe_bin, env, tmp_path).returncode == 0  # the restart finishes it
    rc, report = verify_json(kpipe_bin, env, tmp_path)
    assert rc == 0 and report["pendingBatch"] is None and (report["batches"], report["rows"]) == (3, 900)


def delete_records(kafka, topic: str, partition: int, before: int, tmp: Path):
    spec = tmp / "delete.json"
    spec.write_text(json.dumps({"version": 1, "partitions": [{"topic": topic, "partition": partition,
                                                              "offset": before}]}))
    p = kafka.kafka_tool("org.apache.kafka.tools.DeleteRecordsCommand", "--bootstrap-server", kafka.bootstrap,
                         "--offset-json-file", str(spec))
    assert p.returncode == 0, p.stdout + p.stderr


def test_a_skip_of_fail_on_data_loss_is_recorded_and_not_a_gap(kafka, kpipe_bin, unique_topic, run_kpipe, tmp_path):
    kafka.create_topic(unique_topic, 1)
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in make_events(100, prefix="a")], tmp_path)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic, FAIL_ON_DATA_LOSS="false")
    assert run_stream(kpipe_bin, env, tmp_path).returncode == 0
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in make_events(100, prefix="b")], tmp_path)
    delete_records(kafka, unique_topic, 0, 150, tmp_path)  # offsets 100..149 are never read
    p = run_stream(kpipe_bin, env, tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    entry = json.loads((tmp_path / "out" / "_checkpoint" / "offsets" / "1").read_text())
    assert entry["skipped"] == [{"partition": 0, "start": 100, "end": 150}]
    ok = verify(kpipe_bin, env, tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"INFO: batch 1 skipped offsets 100..149 of {unique_topic}/0" in ok.stdout
    # Without the record of the skip, the same offsets are a gap.
    path = tmp_path / "out" / "_checkpoint" / "offsets" / "1"
    del entry["skipped"]
    path.write_text(json.dumps(entry))
    report = expect(kpipe_bin, env, tmp_path, "offsets-gap")
    assert "offsets 100..149 were never read" in report["findings"][0]["message"]


def test_unreachable_broker_is_a_warning_and_a_missing_checkpoint_exit_2(kafka, kpipe_bin, unique_topic, run_kpipe,
                                                                        tmp_path):
    kafka.create_topic(unique_topic, 1)
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in make_events(50)], tmp_path)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic)
    assert run_stream(kpipe_bin, env, tmp_path).returncode == 0
    started = time.monotonic()
    p = verify(kpipe_bin, {**env, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}, tmp_path)
    assert time.monotonic() - started < 40
    assert p.returncode == 0, p.stdout + p.stderr
    assert "WARNING: Kafka not checked: KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:1" in p.stdout
    assert p.stdout.splitlines()[-1].endswith(": OK")

    p = verify(kpipe_bin, {**env, "CHECKPOINT_PATH": str(tmp_path / "nowhere")}, tmp_path)
    assert p.returncode == 2
    assert "CHECKPOINT_PATH=" in p.stderr and "no checkpoint" in p.stderr
    assert not (tmp_path / "nowhere").exists()  # verify never writes
    p = verify(kpipe_bin, {**env, "KAFKA_TOPIC": "other"}, tmp_path)
    assert p.returncode == 2 and "KAFKA_TOPIC='other'" in p.stderr


def test_verify_on_s3_through_the_same_seam(s3, kafka, kpipe_bin, unique_topic, run_kpipe, tmp_path):
    from test_s3 import s3_env
    kafka.create_topic(unique_topic, 2)
    bucket = s3.new_bucket()
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in make_events(1000)] + ["{broken"], tmp_path)
    env = s3_env(s3, tmp_path, kafka, unique_topic, bucket, MAX_OFFSETS_PER_TRIGGER=600, MAX_RECORDS_PER_FILE=300)
    assert run_stream(kpipe_bin, env, tmp_path).returncode == 0
    ok = verify(kpipe_bin, env, tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.splitlines()[-1].startswith("verified 2 batches, ") and ", 1000 rows: OK" in ok.stdout
    fs = s3.fs()
    keys = s3.keys(f"{bucket}/out")
    parquet_key = next(k for k in keys if k.startswith("parquet/dt=") and k.endswith(".parquet"))
    q8 = parquet_key.split("/")[-1].split("-")[1]
    data = fs.open_input_file(f"{bucket}/out/{parquet_key}").read()
    fs.delete_file(f"{bucket}/out/{parquet_key}")
    expect(kpipe_bin, env, tmp_path, "missing-file", parquet_key.split("/")[-1])
    with fs.open_output_stream(f"{bucket}/out/{parquet_key}") as f:
        f.write(data)
    stray = f"{bucket}/out/{parquet_key.rsplit('/', 1)[0]}/part-{q8}-00042-000.snappy.parquet"
    with fs.open_output_stream(stray) as f:
        f.write(data)
    expect(kpipe_bin, env, tmp_path, "stray-file", "00042")
    fs.delete_file(stray)
    assert verify(kpipe_bin, env, tmp_path).returncode == 0


def test_readme_command_runs_beside_the_job_with_no_argument(kafka, kpipe_bin, unique_topic, run_kpipe, repo_root,
                                                             tmp_path):
    """README's `kpipe verify` block, as written, in a folder where `kpipe stream` ran with the
    default paths (data/output/...)."""
    import re
    block = re.search(r"<!-- verify:kpipe-verify -->\n```bash\n(.*?)```", (repo_root / "README.md").read_text(),
                      re.S).group(1)
    assert block.strip() == "build/kpipe verify"
    kafka.create_topic(unique_topic, 2)
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in make_events(300)], tmp_path)
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "KAFKA_TOPIC": unique_topic, "STATUS_ADDR": "off"}
    assert run_stream(kpipe_bin, env, tmp_path).returncode == 0
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "kpipe").symlink_to(kpipe_bin)
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=clean_env(env),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.fullmatch(r"verified 1 batch, \d+ files, 300 rows: OK", p.stdout.splitlines()[-1]), p.stdout


def test_topic_recreated_behind_the_checkpoint_is_a_kafka_finding(kafka, kpipe_bin, unique_topic, run_kpipe,
                                                                   tmp_path):
    kafka.create_topic(unique_topic, 1)
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in make_events(100)], tmp_path)
    env = stream_env(tmp_path, kafka.bootstrap, unique_topic)
    assert run_stream(kpipe_bin, env, tmp_path).returncode == 0
    p = kafka.kafka_tool("org.apache.kafka.tools.TopicCommand", "--bootstrap-server", kafka.bootstrap, "--delete",
                         "--topic", unique_topic)
    assert p.returncode == 0, p.stderr[-2000:]
    deadline = time.monotonic() + 60
    while True:  # the deletion completes in the background
        try:
            kafka.create_topic(unique_topic, 1)
            break
        except Exception:
            assert time.monotonic() < deadline, "the topic was not deleted within 60 s"
            time.sleep(1)
    produce_lines(run_kpipe, kafka, unique_topic, [json.dumps(e) for e in make_events(10, prefix="n")], tmp_path)
    report = expect(kpipe_bin, env, tmp_path, "kafka-offsets-ahead")
    f = next(f for f in report["findings"] if f["kind"] == "kafka-offsets-ahead")
    assert f["partition"] == 0 and "up to offset 100 but Kafka's high watermark is 10" in f["message"]
