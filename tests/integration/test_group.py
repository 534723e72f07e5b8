"""Several `kpipe stream` instances in one consumer group (GROUP_ID, issue 15) against the real
broker: a 6-partition topic, a producer running throughout, instances killed (SIGKILL) mid-batch,
paused past the session timeout (SIGSTOP, the zombie), added, removed (SIGTERM), and all of them
killed and restarted at random.

The invariant, read by delta-rs, by DuckDB over the plain Parquet files and over the CSV files
(group_check.py): every row carries its Kafka partition and offset (KAFKA_COLUMNS); while the
instances run the table never holds an offset twice, and once the group settles the table, the
Parquet folders and the CSV folders hold exactly the offsets [0, end) of every partition, each
once, with the event Kafka holds there. kafka-consumer-groups then shows lag 0.

On a failure, each test prints the tail of every instance's log (rebalances, fenced batches).
"""
from __future__ import annotations

import contextlib
import json
import random
import shutil
import subprocess
import time

import pytest

from group_check import PARTITIONS, Group, TableSampler, check_exactly_once, check_group_lag_zero
from kafka_fixture import run_kpipe, wait_until
from output_check import stream_env
from test_faults import Proc


@pytest.fixture
def group(kafka, kpipe_bin, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, PARTITIONS)
    g = Group(kafka, kpipe_bin, tmp_path, unique_topic)
    try:
        yield g
    finally:
        g.close()


@contextlib.contextmanager
def explained(g: Group):
    """Prints every instance's log tail when the body fails (pytest shows it with the failure)."""
    try:
        yield
    except BaseException:
        print(g.logs())
        raise


def begin(g: Group, instances: int = 3, rate: int = 200, together: bool = False) -> list:
    """The producer, then the instances, then the table sampler; returns once every partition
    has a commit in the table. together: all instances at once on the new checkpoint, as a user
    starts them; else the first one alone until it has made the checkpoint, then the others (so
    that a test of a kill or a pause tests that, not the first start)."""
    g.start_producer(rate)
    procs = [g.start()]
    if not together:
        wait_until(lambda: g.member_dir(procs[0]) or not procs[0].running(), 60, what="the first instance's start")
    started = time.monotonic()
    procs += [g.start() for _ in range(instances - 1)]
    g.sampler = TableSampler(g.root)
    # How long this may take is for test_instances_joining_get_partitions_at_once and the base test.
    g.wait_claimed(procs, 90)
    g.join_seconds = time.monotonic() - started
    g.wait_every_partition_committed()
    return procs


def finish(g: Group, settle_timeout: float = 60) -> tuple[dict[int, int], float]:
    """Stops the producer, waits for the group to settle, stops every instance cleanly and checks
    the output; returns the ends and the seconds the group took to settle."""
    ends = g.stop_producer()
    took = g.settle(ends, timeout=settle_timeout)
    g.sampler.check()
    codes = g.stop_all()
    assert all(rc == 0 for rc in codes.values()), f"exit codes after SIGTERM: {codes}"
    n = check_exactly_once(g, ends)
    check_group_lag_zero(g, ends)
    report = verify(g)
    assert report["ok"] and report["batches"] > 0 and report["rows"] == n, report
    assert any("0 offset(s) behind" in i for i in report["infos"]), report
    print(f"{n} events in {PARTITIONS} partitions, {len(g.instances)} instances started, settled in {took:.1f} s, "
          f"{len(g.sampler.samples)} table samples, last version {g.sampler.samples[-1][0]}")
    return ends, took


def verify(g: Group, expect_rc: int = 0) -> dict:
    """`kpipe verify --json` with the group's settings: the audit of a group's output."""
    p = run_kpipe(["verify", "--json"], env=g.env, cwd=g.tmp, timeout=120, kpipe_bin=g.kpipe_bin)
    assert p.returncode == expect_rc, f"kpipe verify exit {p.returncode}, expected {expect_rc}: {p.stdout[-3000:]}{p.stderr[-2000:]}"
    return json.loads(p.stdout)


# --- settings refused ----------------------------------------------------------------------

def refused(kpipe_bin, env, cwd, args=()) -> subprocess.CompletedProcess:
    p = run_kpipe(["stream", *args], env=env, cwd=cwd, timeout=60, kpipe_bin=kpipe_bin)
    assert p.returncode == 2, f"exit {p.returncode}, expected 2: {p.stderr[-2000:]}"
    return p


def test_group_id_needs_the_delta_table_and_neither_dt_complete_after_nor_once(kafka, kpipe_bin, unique_topic,
                                                                             tmp_path):
    kafka.create_topic(unique_topic, 2)
    base = stream_env(tmp_path, kafka.bootstrap, unique_topic, GROUP_ID="g1")
    for extra, named in (({"SINKS": "csv"}, "SINKS"), ({"PARQUET_TABLE_FORMAT": "none"}, "PARQUET_TABLE_FORMAT"),
                         ({"DT_COMPLETE_AFTER": "1h"}, "DT_COMPLETE_AFTER")):
        p = refused(kpipe_bin, {**base, **extra}, tmp_path)
        assert "GROUP_ID" in p.stderr and named in p.stderr, (extra, p.stderr[-2000:])
    p = refused(kpipe_bin, base, tmp_path, args=["--once"])
    assert "GROUP_ID" in p.stderr and "--once" in p.stderr, p.stderr[-2000:]
    assert not (tmp_path / "out" / "parquet" / "_delta_log").exists()


def test_a_checkpoint_is_refused_to_a_group_it_was_not_made_by(kafka, kpipe_bin, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 2)
    p = run_kpipe(["produce", "--count", "50", "--rate", "0"],
                  env={"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap, "KAFKA_TOPIC": unique_topic}, cwd=tmp_path,
                  kpipe_bin=kpipe_bin)
    assert p.returncode == 0, p.stderr[-2000:]

    # A single instance's checkpoint: no group may take it over.
    single = {**stream_env(tmp_path / "single", kafka.bootstrap, unique_topic), "GROUP_ID": None}
    p = run_kpipe(["stream", "--once"], env=single, cwd=tmp_path, kpipe_bin=kpipe_bin)
    assert p.returncode == 0, p.stderr[-2000:]
    p = refused(kpipe_bin, {**single, "GROUP_ID": "g1"}, tmp_path)
    assert "GROUP_ID" in p.stderr and single["CHECKPOINT_PATH"] in p.stderr, p.stderr[-2000:]

    # A group's checkpoint: neither a single instance nor another group may take it over.
    grouped = stream_env(tmp_path / "grouped", kafka.bootstrap, unique_topic, GROUP_ID="g1")
    first = Proc(kpipe_bin, ["stream"], grouped, tmp_path, "g1")
    try:
        wait_until(lambda: (tmp_path / "grouped" / "out" / "_checkpoint" / "metadata").exists(), 60,
                   what="the group's checkpoint")
        time.sleep(1)
        assert first.stop() == 0, first.stderr()[-2000:]
    finally:
        first.kill()
    p = refused(kpipe_bin, {**grouped, "GROUP_ID": None}, tmp_path)
    assert "GROUP_ID" in p.stderr and "g1" in p.stderr and grouped["CHECKPOINT_PATH"] in p.stderr, p.stderr[-2000:]
    p = refused(kpipe_bin, {**grouped, "GROUP_ID": "g2"}, tmp_path)
    assert "GROUP_ID" in p.stderr and "g1" in p.stderr and "g2" in p.stderr, p.stderr[-2000:]


# --- the group at work ---------------------------------------------------------------------

def test_three_instances_share_the_topic_exactly_once(group):
    g = group
    with explained(g):
        procs = begin(g, together=True)
        joined = g.join_seconds
        time.sleep(4)
        # Audited while the group writes: batches in flight, commits racing the listing, no finding.
        running = verify(g)
        assert running["batches"] > 0, running
        time.sleep(4)
        finish(g)
        # A file no batch of the table owns (a copy under another batch's name) is what verify finds.
        table_file = next(g.root.glob("dt=*/part-*.parquet"))
        stray = table_file.with_name(table_file.name.replace("-0", "-9", 1))
        shutil.copy(table_file, stray)
        found = verify(g, expect_rc=1)
        assert [f["kind"] for f in found["findings"]] == ["stray-file"], found
        assert str(stray) in found["findings"][0]["message"], found
        read = [g.partitions_read(p) for p in procs]
        # The coordinator shared the partitions: every instance read some, together all of them.
        assert all(read) and set().union(*read) == set(range(PARTITIONS)), read
        # Last, so that a slow rebalance does not hide the checks above: started together, every
        # instance holds partitions within 15 s (the session timeout is 6 s).
        assert joined < 15, f"the last of 3 instances started together had partitions only after {joined:.0f} s"


def test_instances_joining_get_partitions_at_once(group):
    """One instance starts the group; two more join while it writes its first batches. Each of
    them must be working within 15 s (the session timeout is 6 s, a rebalance takes a few
    heartbeats; healthy, it takes under 2 s here): meanwhile the partitions that move are read by
    nobody."""
    g = group
    with explained(g):
        g.start_producer(200)
        g.sampler = TableSampler(g.root)
        first = g.start()
        wait_until(lambda: g.member_dir(first) or not first.running(), 60, what="the first instance's start")
        joined = [g.start(), g.start()]
        took = g.wait_claimed(joined, 15)
        print(f"the two joining instances claimed partitions {took:.1f} s after their start")
        g.wait_every_partition_committed()
        # A few triggers on, every partition has moved on again: none is held up by the rebalance.
        before = g.txn_versions()
        wait_until(lambda: all((v or -1) > (before[p] or -1) for p, v in g.txn_versions().items()), 10,
                   interval=0.5, what="every partition committed again")
        finish(g)


def test_an_instance_sigkilled_mid_batch(group):
    g = group
    with explained(g):
        procs = begin(g)
        time.sleep(3)
        victim = procs[0]
        batch = g.pause_mid_batch(victim)  # written ahead, not in the table: its files are orphans
        g.kill(victim)
        name = g.member_dir(victim).name
        time.sleep(10)  # the session timeout (6 s) passes; the others take its partitions over
        finish(g)
        # The instance that took one of its partitions removed the batch's files.
        swept = f"of batch {batch} of a stopped instance ({name})"
        assert any(swept in p.stderr() for p in procs[1:]), f"no instance logged '{swept}'"
        survivors = set().union(*(g.partitions_read(p) for p in procs[1:]))
        assert survivors == set(range(PARTITIONS)), survivors


def test_an_instance_paused_past_the_session_timeout_is_fenced_and_rejoins(group):
    g = group
    with explained(g):
        procs = begin(g)
        time.sleep(3)
        zombie = procs[1]
        batch = g.pause_mid_batch(zombie)  # inside a batch the table does not have yet
        epochs_before = g.owner_epochs()
        claims_before = zombie.stderr().count("claimed partitions")
        time.sleep(9)  # past session.timeout.ms=6000: its partitions go to the others, who fence them
        epochs_paused = g.owner_epochs()
        g.resume(zombie)
        # Woken up, its commit is refused: it removes the batch's files, and rejoins the group.
        wait_until(lambda: f"batch {batch} abandoned" in zombie.stderr(), 30, what="the zombie's batch abandoned")
        wait_until(lambda: zombie.stderr().count("claimed partitions") > claims_before, 30,
                   what="the zombie claiming partitions again")
        assert zombie.running(), "the resumed instance exited instead of rejoining"
        time.sleep(3)
        finish(g)
        moved = [p for p in range(PARTITIONS) if epochs_paused[p] != epochs_before[p]]
        assert moved, f"no owner epoch moved while an instance was paused: {epochs_before} -> {epochs_paused}"


def test_a_fourth_instance_added(group):
    g = group
    with explained(g):
        begin(g)
        time.sleep(3)
        fourth = g.start()
        wait_until(lambda: g.partitions_read(fourth), 60, interval=0.5, what="the fourth instance reading")
        time.sleep(4)
        finish(g)
        assert g.partitions_read(fourth)


def test_two_instances_removed_with_sigterm(group):
    g = group
    with explained(g):
        procs = begin(g)
        time.sleep(3)
        for p in procs[:2]:
            assert g.terminate(p) == 0, p.stderr()[-2000:]
        left = procs[2]
        time.sleep(6)
        finish(g)
        assert g.partitions_read(left) == set(range(PARTITIONS))


def test_partitions_move_exactly_once_while_instances_rest_between_long_triggers(kafka, kpipe_bin, unique_topic,
                                                                                 tmp_path):
    """TRIGGER_SECONDS=12: after each batch an instance waits 10 s or more, so its source rests
    (each partition fetched only to its first new record, the rest by the next batch's read;
    KafkaSource::idle). An instance joins and one leaves with SIGTERM while the others rest: the
    partitions that move are read from where the table has them, every offset once."""
    kafka.create_topic(unique_topic, PARTITIONS)
    g = Group(kafka, kpipe_bin, tmp_path, unique_topic, TRIGGER_SECONDS=12)
    try:
        with explained(g):
            procs = begin(g, instances=2)
            time.sleep(3)  # both wait for their next trigger now
            joining = g.start()
            wait_until(lambda: g.partitions_read(joining), 60, interval=0.5, what="the joining instance reading")
            time.sleep(3)
            assert g.terminate(procs[0]) == 0, procs[0].stderr()[-2000:]
            finish(g, settle_timeout=90)
            assert g.partitions_read(procs[1]) and g.partitions_read(joining)
    finally:
        g.close()


def test_every_instance_killed_and_restarted_at_random_twenty_times(group):
    g = group
    seed = random.randrange(1 << 30)
    rnd = random.Random(seed)
    print(f"seed {seed}")
    with explained(g):
        begin(g)
        for _ in range(20):
            time.sleep(rnd.uniform(0.5, 2.0))
            live = g.live()
            assert live, "every instance exited on its own"
            g.kill(rnd.choice(live))
            if rnd.random() < 0.7:
                g.start()  # at once, or after the next kill
            while len(g.live()) < 2:
                g.start()
        while len(g.live()) < 3:
            g.start()
        finish(g, settle_timeout=90)
        assert len(g.sampler.samples) >= 10, g.sampler.samples
