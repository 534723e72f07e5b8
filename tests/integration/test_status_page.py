"""The status page of a live pipeline: a real broker, `kpipe produce` at a steady rate and
`kpipe stream` with STATUS_ADDR on a free port.

1. tests/browser/check_page.mjs opens the page in Debian's headless Chromium (playwright-core,
   no downloaded browser) and checks that counters and charts change, that the console shows no
   error and that nothing is fetched from outside kpipe; it saves a screenshot.
2. Once the producer stops and the job has caught up, /api/status, /api/progress and /metrics
   agree with each other and with the files on disk, read with pyarrow and DuckDB.

3. A job fed in bursts, one batch each, is checked in Chromium at 1, 2 and 50 batches: the page
   shows that many batches, and every chart's time axis spans its points (at least a minute),
   not years.
4. The "Consumer group" card (GROUP_ID), from the live job's /api/status rewritten in the
   browser as a group member's would be; hidden for the plain job of 1.

The screenshots go to the test's folder and are listed under "artifacts" at the end of pytest's
output; KPIPE_UPDATE_SCREENSHOT=1 (or a missing file) also writes docs/status-page.png, the
README's picture, after letting the job run a minute so the charts have some history.
/metrics is read by prometheus_client's parser (metrics_check.py) as well as by ours.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kafka_fixture import REPO_ROOT, clean_env, free_port
from metrics_check import prometheus_samples
from output_check import data_files, read_csv_duckdb, read_parquet, stream_env

CHROMIUM = Path(os.environ.get("KPIPE_CHROMIUM", "/usr/bin/chromium"))
CHECK_PAGE = REPO_ROOT / "tests" / "browser" / "check_page.mjs"
PLAYWRIGHT = REPO_ROOT / "node_modules" / "playwright-core" / "package.json"
README_SCREENSHOT = REPO_ROOT / "docs" / "status-page.png"
RATE = 200  # messages per second from the producer


def http_get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", errors="replace")


def get_json(url: str):
    status, body = http_get(url)
    assert status == 200, f"GET {url}: {status} {body}"
    return json.loads(body)


class Pipeline:
    def __init__(self, kpipe_bin: Path, kafka, topic: str, folder: Path):
        self.kpipe_bin, self.kafka, self.topic, self.folder = kpipe_bin, kafka, topic, folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.out = folder / "out"
        self.procs: dict[str, subprocess.Popen] = {}
        self.stopped: set[str] = set()
        self.logs: dict[str, Path] = {}

    def spawn(self, name: str, args: list[str], env: dict) -> None:
        self.logs[name] = self.folder / f"{name}.log"
        with open(self.logs[name], "wb") as log:
            self.procs[name] = subprocess.Popen([str(self.kpipe_bin), *args], env=clean_env(env), cwd=self.folder,
                                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def log(self, name: str, lines: int = 40) -> str:
        try:
            text = self.logs[name].read_text(encoding="utf-8", errors="replace")
        except (KeyError, OSError):
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> None:
        self.kafka.create_topic(self.topic, 3)
        self.spawn("stream", ["stream"], stream_env(self.folder, self.kafka.bootstrap, self.topic,
                                                    STATUS_ADDR=f"127.0.0.1:{self.port}", TRIGGER_SECONDS=1,
                                                    STARTING_OFFSETS="earliest"))
        self.wait_for(lambda: http_get(self.url + "healthz", timeout=1)[0] == 200, 30, "the status server to answer")
        self.spawn("produce", ["produce"], {"KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap,
                                           "KAFKA_TOPIC": self.topic, "MSGS_PER_SEC": str(RATE)})
        self.wait_for(lambda: get_json(self.url + "api/status")["totals"]["inputRows"] > 0, 60,
                      "a first batch with records")

    def wait_for(self, cond, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            for name, p in self.procs.items():
                if name not in self.stopped and p.poll() is not None:
                    pytest.fail(f"kpipe {name} exited with {p.returncode} while waiting for {what}:\n{self.log(name)}")
            try:
                if cond():
                    return
            except (OSError, AssertionError, KeyError, ValueError) as e:
                last_error = e
            time.sleep(0.25)
        pytest.fail(f"timed out after {timeout} s waiting for {what} ({last_error})\n--- stream\n{self.log('stream')}"
                    f"\n--- produce\n{self.log('produce')}")

    def stop(self, name: str) -> int:
        p = self.procs[name]
        self.stopped.add(name)
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def stop_all(self) -> None:
        for name in ("produce", "stream"):
            if name in self.procs:
                self.stop(name)


@pytest.fixture(scope="module")
def pipeline(kafka, kpipe_bin, tmp_path_factory):
    pipe = Pipeline(kpipe_bin, kafka, f"t-status-page-{os.getpid()}-{time.time_ns() % 10**6}",
                    tmp_path_factory.mktemp("status-page"))
    try:
        pipe.start()
        yield pipe
    finally:
        pipe.stop_all()


def browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (scripts/bootstrap-web installs Debian's)"
    if shutil.which("node") is None:
        return "node is not installed (scripts/bootstrap-web installs it)"
    if not PLAYWRIGHT.exists():
        return "node_modules/playwright-core is missing (run scripts/bootstrap-web)"
    return None


def check_page(url: str, shot: Path, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["node", str(CHECK_PAGE), url, str(shot), *extra],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT)


def test_status_page_updates_live_in_chromium(pipeline, record_property):
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    update_readme = os.environ.get("KPIPE_UPDATE_SCREENSHOT") == "1" or not README_SCREENSHOT.exists()
    if update_readme:
        time.sleep(60)
    shot = pipeline.folder / "status-page.png"
    full = pipeline.folder / "status-page-full.png"
    proc = check_page(pipeline.url, shot, "--seconds", "10", "--full", str(full))
    assert proc.returncode == 0, f"page check failed:\n{proc.stdout}\n{proc.stderr}\n--- stream\n{pipeline.log('stream')}"
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot} (full page: {full})")
    record_property("artifact", f"screenshot {shot} (full page: {full})")
    if update_readme:
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, README_SCREENSHOT)


def test_consumer_group_card_renders_from_a_status_with_a_group(pipeline, record_property):
    """GROUP_ID (issue 15): the browser check rewrites the live job's /api/status on its way to
    the page as an instance of a group would answer (a `group` object, lag only for the owned
    partitions 1 and 2 of 3), so the card and the lag table are checked without an engine in a
    group. The plain run above checks that the card stays hidden for a single instance."""
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    shot = pipeline.folder / "status-page-group.png"
    proc = check_page(pipeline.url, shot, "--seconds", "10", "--group")
    assert proc.returncode == 0, f"page check failed:\n{proc.stdout}\n{proc.stderr}\n--- stream\n{pipeline.log('stream')}"
    seen = json.loads(proc.stdout)["last"]
    assert seen["group"]["owned"] == "1, 2 (2)" and not seen["group"]["hidden"], seen["group"]
    assert seen["lagPartitions"] == ["1", "2"], seen["lagPartitions"]
    print(f"screenshot: {shot}")
    record_property("artifact", f"consumer group card: {shot}")


def test_lag_at_steady_state_is_what_the_last_batch_left(pipeline):
    """With the producer at RATE and a 1 s trigger: committed is the last committed batch's end
    offsets (issue 12 showed its start offsets and its own size as lag), latest is between
    committed and the broker's end offsets, and the lag and the oldest record's age stay within
    what a trigger plus a sample lets arrive."""
    checked = 0
    deadline = time.monotonic() + 30
    while checked < 5 and time.monotonic() < deadline:
        before = get_json(pipeline.url + "api/status")
        last = get_json(pipeline.url + "api/progress?last=1")[-1]
        st = get_json(pipeline.url + "api/status")
        end = pipeline.kafka.end_offsets(pipeline.topic, 3)
        if not (before["lastCommittedBatch"] == st["lastCommittedBatch"] == last["batchId"]):
            continue  # a batch committed in between: look again
        committed = {lag["partition"]: lag["committedOffset"] for lag in st["lag"]}
        assert committed == {s["partition"]: s["endOffset"] for s in last["sources"]}, (st["lag"], last["sources"])
        for lag in st["lag"]:
            assert lag["committedOffset"] <= lag["latestOffset"] <= end[lag["partition"]], (lag, end)
            assert lag["lag"] == lag["latestOffset"] - lag["committedOffset"]
        assert st["totalLag"] <= RATE * 5, st["lag"]
        assert st["oldestUncommittedAgeSeconds"] <= 5, st["lag"]
        checked += 1
        time.sleep(0.7)
    assert checked >= 5, "the job committed a batch between every two reads of its status"


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? '
                    r'(NaN|[+-]Inf|[-+]?[0-9.eE+-]+)$')


def parse_metrics(text: str) -> dict[str, float]:
    """name{labels} → value; asserts every line is HELP, TYPE or a well-formed sample with HELP and
    TYPE before it (the strict checker is in tests/unit/status_prometheus_check.h)."""
    samples, typed, helped = {}, {}, set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helped.add(line.split()[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            typed[name] = kind
        else:
            m = SAMPLE.match(line)
            assert m, f"not a Prometheus sample line: {line!r}"
            name = m.group(1)
            family = re.sub(r"_(sum|count|bucket)$", "", name) if name not in typed else name
            assert family in typed and family in helped, f"no HELP/TYPE before {line!r}"
            if typed[family] == "counter":
                assert family.endswith("_total"), family
            samples[name + (m.group(2) or "")] = float(m.group(3))
    return samples


def test_status_json_and_metrics_match_the_output(pipeline):
    assert pipeline.stop("produce") == 0, pipeline.log("produce")

    # Caught up: no lag on any partition and the same committed batch twice in a row.
    seen = []

    def caught_up():
        st = get_json(pipeline.url + "api/status")
        seen.append(st["lastCommittedBatch"])
        return st["lag"] and st["totalLag"] == 0 and len(seen) >= 2 and seen[-1] == seen[-2] >= 0

    pipeline.wait_for(caught_up, 60, "the job to catch up")
    time.sleep(1.5)  # a trigger with no data must not change anything
    st = get_json(pipeline.url + "api/status")
    progress = get_json(pipeline.url + "api/progress?last=100000")
    code, metrics_text = http_get(pipeline.url + "metrics")
    assert code == 200
    metrics = parse_metrics(metrics_text)
    # Prometheus' own parser reads the same samples.
    assert prometheus_samples(metrics_text) == pytest.approx(
        {re.sub(r'\{(.*)\}', lambda m: "{" + ",".join(sorted(m.group(1).split(","))) + "}", k): v
         for k, v in metrics.items()}, nan_ok=True)

    parquet_rows = read_parquet(pipeline.out / "parquet").num_rows
    csv_rows = len(read_csv_duckdb(pipeline.out / "csv"))
    assert parquet_rows > 0

    assert st["state"] in ("running", "waiting for data"), st
    assert st["kafka"] == {"bootstrapServers": pipeline.kafka.bootstrap, "topic": pipeline.topic}
    assert {"name": "KAFKA_TOPIC", "value": pipeline.topic} in st["config"]
    assert st["queryId"] and all(p["id"] == st["queryId"] for p in progress)

    # The job's totals, its progress lines, its metrics and the files agree.
    assert st["totals"]["batches"] == len(progress) == metrics["kpipe_batches_total"]
    assert [p["batchId"] for p in progress] == sorted(p["batchId"] for p in progress)
    assert progress[-1]["batchId"] == st["lastCommittedBatch"] == metrics["kpipe_last_committed_batch"]
    assert st["totals"]["inputRows"] == sum(p["numInputRows"] for p in progress) == metrics["kpipe_input_records_total"]
    assert st["totals"]["inputRows"] == sum(lag["committedOffset"] for lag in st["lag"])  # a new topic starts at 0
    assert st["sinks"]["parquet"]["rows"] == parquet_rows == metrics['kpipe_output_rows_total{sink="parquet"}']
    assert st["sinks"]["csv"]["rows"] == csv_rows == metrics['kpipe_output_rows_total{sink="csv"}']
    assert st["deadLettered"] == 0 == metrics["kpipe_dead_letter_records_total"]

    parquet_files = data_files(pipeline.out / "parquet", ".parquet")
    assert st["sinks"]["parquet"]["files"] == len(parquet_files) == metrics['kpipe_output_files_total{sink="parquet"}']
    assert st["sinks"]["parquet"]["bytes"] == sum(f.stat().st_size for f in parquet_files)
    on_disk = {}
    for f in parquet_files:
        on_disk[f.parent.name] = on_disk.get(f.parent.name, 0) + 1
    assert {f"dt={d['dt']}": d["files"] for d in st["filesPerDt"]["parquet"]} == on_disk
    assert sum(d["rows"] for d in st["filesPerDt"]["parquet"]) == parquet_rows

    # Caught up: committed and latest are the broker's end offsets, nothing is waiting.
    end = pipeline.kafka.end_offsets(pipeline.topic, 3)
    assert {lag["partition"]: lag["committedOffset"] for lag in st["lag"]} == end
    assert {lag["partition"]: lag["latestOffset"] for lag in st["lag"]} == end
    assert st["totalLag"] == 0 == metrics["kpipe_consumer_total_lag_records"]
    assert st["oldestUncommittedAgeSeconds"] == 0
    for lag in st["lag"]:
        p = lag["partition"]
        assert metrics[f'kpipe_consumer_lag_records{{partition="{p}"}}'] == 0
        assert metrics[f'kpipe_committed_offset{{partition="{p}"}}'] == end[p]
        assert metrics[f'kpipe_latest_offset{{partition="{p}"}}'] == end[p]
        assert metrics[f'kpipe_oldest_uncommitted_age_seconds{{partition="{p}"}}'] == 0
    assert metrics["kpipe_up"] == 1
    assert http_get(pipeline.url + "healthz")[0] == 200


def event(i: int) -> bytes:
    return json.dumps({"event_id": f"burst-{i}", "ts": "2026-12-06T03:00:00Z", "value": i * 0.5,
                       "source": "burst"}).encode()


def test_page_reads_right_at_1_2_and_50_batches(kafka, kpipe_bin, tmp_path, record_property):
    """Batches one at a time: a burst of records to one partition (one produce request, so one
    batch takes it whole), then the wait for its commit. The page is checked when the job holds
    still at 1, 2 and 50 batches; issue 12 saw the years 2027-2029 under the first batch."""
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    pipe = Pipeline(kpipe_bin, kafka, f"t-status-batches-{os.getpid()}-{time.time_ns() % 10**6}", tmp_path)
    kafka.create_topic(pipe.topic, 3)
    pipe.spawn("stream", ["stream"], stream_env(tmp_path, kafka.bootstrap, pipe.topic,
                                                STATUS_ADDR=f"127.0.0.1:{pipe.port}", TRIGGER_SECONDS=0.2,
                                                STARTING_OFFSETS="earliest"))
    try:
        pipe.wait_for(lambda: http_get(pipe.url + "healthz", timeout=1)[0] == 200, 30, "the status server to answer")
        sent = 0
        batches = 0
        for target in (1, 2, 50):
            while batches < target:
                n = 10 + 15 * (batches % 4)
                kafka.produce(pipe.topic, [event(sent + i) for i in range(n)], partition=batches % 3)
                sent += n
                pipe.wait_for(lambda: get_json(pipe.url + "api/status")["totals"]["inputRows"] == sent, 30,
                              f"{sent} records committed")
                batches = get_json(pipe.url + "api/status")["totals"]["batches"]
            assert batches == target, f"a burst was split over two batches ({batches} batches, wanted {target})"
            shot = tmp_path / f"status-page-{target}-batches.png"
            proc = check_page(pipe.url, shot, "--batches", str(target), "--seconds", "15")
            assert proc.returncode == 0, \
                f"page check at {target} batches failed:\n{proc.stdout}\n{proc.stderr}\n--- stream\n{pipe.log('stream')}"
            seen = json.loads(proc.stdout)
            axes = {k: v["xAxis"] for k, v in seen["last"]["charts"].items()}
            print(f"{target} batches: screenshot {shot}; time axes {axes}")
            record_property("artifact", f"{target} batch{'es' if target > 1 else ''}: {shot}")
    finally:
        pipe.stop_all()
