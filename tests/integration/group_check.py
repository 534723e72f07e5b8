"""Helpers for tests/integration/test_group.py: a consumer group of `kpipe stream` instances
(GROUP_ID, issue 15) on one output, run against the real broker, and the exactly-once check by
Kafka coordinates: every row carries its Kafka partition and offset (KAFKA_COLUMNS), so the
output must hold exactly the offsets [0, end) of every partition, each once, read back by
delta-rs (through the log), DuckDB over the plain Parquet files (every file in the folders, not
through the log) and DuckDB over the CSV files."""
from __future__ import annotations

import collections
import json
import os
import re
import signal
import threading
import time
from pathlib import Path

import duckdb
import pyarrow.compute as pc
from deltalake import DeltaTable

from kafka_fixture import wait_until
from output_check import assert_every_file_opens, hidden_files, progress_lines, read_delta, stream_env
from test_faults import Proc, produce_summary

PARTITIONS = 6
# A paused or killed instance loses its partitions after 6 s (the broker's
# group.min.session.timeout.ms), not librdkafka's default 45 s.
GROUP_PROPS = ["--kafka-prop", "session.timeout.ms=6000", "--kafka-prop", "heartbeat.interval.ms=1000"]


class Group:
    """Instances of one consumer group on one output, a producer, and what the output says.

    Every process started here is killed by close() (the fixture's finalizer), paused ones too.
    """

    def __init__(self, kafka, kpipe_bin, tmp: Path, topic: str, **extra):
        self.kafka, self.kpipe_bin, self.tmp, self.topic = kafka, kpipe_bin, Path(tmp), topic
        self.group_id = f"g-{topic}"
        settings = dict(GROUP_ID=self.group_id, KAFKA_COLUMNS="partition,offset", MAX_BATCH_RECORDS=1000,
                        MAX_RECORDS_PER_FILE=100, STARTING_OFFSETS="earliest", TRIGGER_SECONDS=1)
        settings.update(extra)
        self.env = stream_env(self.tmp, kafka.bootstrap, topic, **settings)
        self.out = self.tmp / "out"
        self.root = self.out / "parquet"
        self.csv = self.out / "csv"
        self.checkpoint = self.out / "_checkpoint"
        self.instances: list[Proc] = []
        self.paused: set[int] = set()
        self._members: dict[int, Path] = {}
        self.producer: Proc | None = None
        self.sampler: TableSampler | None = None
        self.join_seconds = 0.0  # from the start of the instances to the last one's first claim

    # --- processes ---------------------------------------------------------------------------

    def start(self) -> Proc:
        proc = Proc(self.kpipe_bin, ["stream", *GROUP_PROPS], self.env, self.tmp, f"i{len(self.instances)}")
        self.instances.append(proc)
        return proc

    def live(self) -> list[Proc]:
        return [p for p in self.instances if p.running()]

    def kill(self, proc: Proc) -> None:
        proc.kill()
        self.paused.discard(proc.p.pid)

    def terminate(self, proc: Proc, timeout: float = 60) -> int:
        """SIGTERM, then the exit code (a clean stop leaves the group at once)."""
        self.resume(proc)
        return proc.stop(timeout=timeout)

    def pause(self, proc: Proc) -> None:
        os.kill(proc.p.pid, signal.SIGSTOP)
        self.paused.add(proc.p.pid)

    def resume(self, proc: Proc) -> None:
        if proc.p.pid in self.paused and proc.running():
            os.kill(proc.p.pid, signal.SIGCONT)
        self.paused.discard(proc.p.pid)

    def stop_all(self) -> dict[str, int]:
        """SIGTERMs every live instance; {log name: exit code}."""
        live = self.live()
        for p in live:
            self.resume(p)
            p.p.send_signal(signal.SIGTERM)
        return {p.log.name: p.stop(timeout=60) for p in live}

    def start_producer(self, rate: int = 200) -> None:
        self.producer = Proc(self.kpipe_bin, ["produce", "--rate", str(rate), "--timeout", "60"],
                             {"KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap, "KAFKA_TOPIC": self.topic}, self.tmp,
                             "produce")

    def stop_producer(self) -> dict[int, int]:
        """Stops the producer (SIGTERM flushes what is in flight); {partition: end offset}. The
        topic is fresh, so the ends add up to what the producer says it delivered."""
        assert self.producer is not None
        rc = self.producer.stop(timeout=90)
        assert rc == 0, self.producer.stderr()[-2000:]
        sent, delivered = produce_summary(self.producer.stderr())
        ends = self.kafka.end_offsets(self.topic, PARTITIONS)
        assert sent == delivered == sum(ends.values()), (sent, delivered, ends)
        return ends

    def close(self) -> None:
        if self.sampler:
            self.sampler.stop()
        for p in self.instances + ([self.producer] if self.producer else []):
            if p.running():
                os.kill(p.p.pid, signal.SIGCONT)  # harmless when not paused
            p.kill()

    # --- what the output says ----------------------------------------------------------------

    def query_id(self) -> str:
        return json.loads((self.checkpoint / "metadata").read_text())["queryId"]

    def txn_versions(self) -> dict[int, int | None]:
        """{partition: the last offset of it in the table} from the txn actions (delta-rs)."""
        if not (self.root / "_delta_log").exists() or not (self.checkpoint / "metadata").exists():
            return {p: None for p in range(PARTITIONS)}
        table = DeltaTable(str(self.root))
        qid = self.query_id()
        return {p: table.transaction_version(f"kpipe-{qid}-p{p}") for p in range(PARTITIONS)}

    def owner_epochs(self) -> dict[int, int | None]:
        table = DeltaTable(str(self.root))
        qid = self.query_id()
        return {p: table.transaction_version(f"kpipe-{qid}-p{p}-owner") for p in range(PARTITIONS)}

    # Each process writes through a checkpoint of its own, CHECKPOINT_PATH/members/<name>/
    # (offsets/N before a batch writes, commits/N after its Delta commit): engine/group_members.h.

    def member_dir(self, proc: Proc) -> Path | None:
        """proc's member checkpoint, from the line it logs at start."""
        if proc.p.pid not in self._members:
            m = re.search(r"this instance writes through (\S+) \(files", proc.stderr())
            if not m:
                return None
            self._members[proc.p.pid] = Path(m.group(1))
        return self._members[proc.p.pid]

    @staticmethod
    def _pending_in(member: Path) -> list[int]:
        def ids(log: str) -> set[int]:
            d = member / log
            return {int(n.name) for n in d.iterdir() if n.name.isdigit()} if d.exists() else set()

        return sorted(ids("offsets") - ids("commits"))

    def pending(self) -> list[str]:
        """The batches written ahead and not closed, as 'member/N', in every member checkpoint."""
        root = self.checkpoint / "members"
        if not root.exists():
            return []
        return [f"{m.name}/{n}" for m in sorted(root.iterdir()) if m.is_dir() and not m.name.startswith(".")
                for n in self._pending_in(m)]

    def pending_batch(self, proc: Proc) -> int | None:
        member = self.member_dir(proc)
        pending = self._pending_in(member) if member else []
        return pending[-1] if pending else None

    def batch_in_table(self, proc: Proc, batch: int) -> bool:
        """Whether the table has this process's batch (its writer txn, kpipe-<queryId>-w-<writer>)."""
        writer = json.loads((self.member_dir(proc) / "metadata").read_text())["queryId"]
        version = DeltaTable(str(self.root)).transaction_version(f"kpipe-{self.query_id()}-w-{writer}")
        return version is not None and version >= batch

    def pause_mid_batch(self, proc: Proc, timeout: float = 60) -> int:
        """SIGSTOPs proc while it is inside a batch that the table does not have yet (written
        ahead, its files being written, not committed); returns the batch id. SIGSTOP first, then
        look: a stopped process cannot move on, so what is seen is where it stays."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert proc.running(), f"{proc.log.name} exited"
            if self.pending_batch(proc) is not None:
                self.pause(proc)
                batch = self.pending_batch(proc)
                if batch is not None and not self.batch_in_table(proc, batch):
                    return batch
                self.resume(proc)
            time.sleep(0.003)
        raise AssertionError(f"{proc.log.name} was never seen inside an uncommitted batch in {timeout} s")

    def first_claim(self, proc: Proc) -> bool:
        return "claimed partitions" in proc.stderr()

    def wait_claimed(self, procs: list, timeout: float) -> float:
        """Waits until every one of procs has claimed partitions (the coordinator assigned it
        some and it raised their epochs); returns the seconds it took."""
        start = time.monotonic()
        try:
            wait_until(lambda: all(self.first_claim(p) for p in procs), timeout, interval=0.2,
                       what="every instance claiming partitions")
        except TimeoutError:
            idle = [p.log.name for p in procs if not self.first_claim(p)]
            raise AssertionError(f"{idle} had no partition {timeout:.0f} s after the start: the group did not "
                                 f"share the topic in time") from None
        return time.monotonic() - start

    def wait_every_partition_committed(self, timeout: float = 90) -> None:
        def committed() -> bool:
            assert self.live(), "every instance exited"
            return all(v is not None for v in self.txn_versions().values())

        wait_until(committed, timeout, interval=0.5, what=f"a commit of every partition of {self.topic}")

    def settle(self, ends: dict[int, int], timeout: float = 60) -> float:
        """Waits until the table holds every partition up to its end (txn version = end - 1);
        returns the seconds it took."""
        start = time.monotonic()
        want = {p: (end - 1 if end > 0 else None) for p, end in ends.items()}
        try:
            wait_until(lambda: self.txn_versions() == want, timeout, interval=0.5, what="the group settling")
        except TimeoutError as e:
            raise AssertionError(f"{e}: txn versions {self.txn_versions()}, want {want}, "
                                 f"pending {self.pending()}") from None
        return time.monotonic() - start

    def partitions_read(self, proc: Proc) -> set[int]:
        """Partitions of which this instance's batches held records (its progress lines)."""
        return {s["partition"] for b in progress_lines(proc.stderr()) for s in b.get("sources", [])
                if s.get("endOffset", 0) > s.get("startOffset", 0)}

    def logs(self, lines: int = 30) -> str:
        parts = []
        for p in self.instances + ([self.producer] if self.producer else []):
            text = p.stderr().splitlines()
            parts.append(f"--- {p.log.name} (pid {p.p.pid}, exit {p.p.returncode}), last {lines} of "
                         f"{len(text)} lines\n" + "\n".join(text[-lines:]))
        if self.sampler:
            parts.append(f"--- table samples: {self.sampler.samples[-5:]}, errors {self.sampler.errors[:3]}")
        return "\n".join(parts)


class TableSampler:
    """Reads the Delta table with delta-rs in a thread while instances run: at no moment may a
    (partition, offset) be in the table twice."""

    def __init__(self, root: Path, every: float = 1.0):
        self.root, self.every = Path(root), every
        self.samples: list[tuple[int, int]] = []  # (version, rows)
        self.duplicates: list[tuple[int, int, int]] = []  # (version, rows, distinct pairs)
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            if not (self.root / "_delta_log").exists():
                continue
            try:
                table = DeltaTable(str(self.root))
                rows = table.to_pyarrow_table(columns=["partition", "offset"])
            except Exception as e:  # a reader must never fail on a table being written
                self.errors.append(repr(e))
                continue
            key = pc.add(pc.multiply(pc.cast(rows.column("partition"), "int64"), 1 << 40), rows.column("offset"))
            distinct = pc.count_distinct(key).as_py()
            self.samples.append((table.version(), rows.num_rows))
            if distinct != rows.num_rows:
                self.duplicates.append((table.version(), rows.num_rows, distinct))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def check(self, at_least: int = 3) -> None:
        self.stop()
        assert self.errors == [], f"reading the table while instances ran failed: {self.errors[:3]}"
        assert self.duplicates == [], f"(partition, offset) twice in the table at versions {self.duplicates[:5]}"
        assert len(self.samples) >= at_least, f"only {len(self.samples)} samples of the table: {self.samples}"


# --- exactly once --------------------------------------------------------------------------

def _compare(where: str, rows: list[tuple], expected: dict[tuple[int, int], str]) -> None:
    """rows: (partition, offset, event_id); expected: {(partition, offset): event_id}."""
    counts = collections.Counter((int(p), int(o)) for p, o, _ in rows)
    twice = {k: n for k, n in counts.items() if n > 1}
    missing = sorted(set(expected) - set(counts))
    extra = sorted(set(counts) - set(expected))
    assert not twice and not missing and not extra, (
        f"{where}: {len(rows)} rows for {len(expected)} offsets; {len(twice)} (partition, offset) more than "
        f"once {sorted(twice.items())[:10]}, {len(missing)} missing {missing[:10]}, {len(extra)} extra {extra[:10]}")
    wrong = [(p, o, e) for p, o, e in rows if expected[(int(p), int(o))] != e]
    assert not wrong, f"{where}: rows whose event_id is not the one at their Kafka offset: {wrong[:5]}"


def check_exactly_once(group: Group, ends: dict[int, int]) -> int:
    """Every offset [0, end) of every partition once, with the event Kafka holds there, in the
    Delta table, in the plain Parquet files and in the CSV files; nothing hidden or pending left.
    Returns the number of events."""
    messages = group.kafka.consume(group.topic, timeout=120)
    expected = {(m["partition"], m["offset"]): json.loads(m["value"])["event_id"] for m in messages}
    assert set(expected) == {(p, o) for p, end in ends.items() for o in range(end)}, "the topic is not 0..end"

    delta = read_delta(group.root)
    _compare("Delta table (delta-rs)", list(zip(delta.column("partition").to_pylist(),
                                                delta.column("offset").to_pylist(),
                                                delta.column("event_id").to_pylist())), expected)
    # DuckDB's glob reads hidden names too: say so first, rather than as a duplicate.
    hidden = hidden_files(group.root, group.csv)
    assert hidden == [], f"temp files left behind: {[str(h) for h in hidden]}"
    con = duckdb.connect()
    plain = con.execute(f"""SELECT "partition", "offset", event_id FROM read_parquet('{group.root}/dt=*/*.parquet')""")
    _compare("plain Parquet files (DuckDB)", plain.fetchall(), expected)
    csv = con.execute(f"""SELECT "partition", "offset", event_id FROM read_csv('{group.csv}/dt=*/*.csv', header = true,
        hive_partitioning = false, types = {{'partition': 'INTEGER', 'offset': 'BIGINT', 'event_id': 'VARCHAR'}})""")
    _compare("CSV files (DuckDB)", csv.fetchall(), expected)

    assert_every_file_opens(group.root, group.csv)
    assert group.pending() == [], f"write-ahead entries left behind: {group.pending()}"
    return len(expected)


def check_group_lag_zero(group: Group, ends: dict[int, int]) -> None:
    """kafka-consumer-groups --describe: the committed offset of every partition is its end."""
    offsets = group.kafka.group_offsets(group.group_id)
    want = {(group.topic, p): end for p, end in ends.items()}
    assert offsets == want, f"consumer group {group.group_id} committed {offsets}, the ends are {want}"
