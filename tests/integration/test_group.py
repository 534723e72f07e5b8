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
import random
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


def begin(g: Group, instances: int = 3, rate: int = 200) -> list:
    """The producer, then the instances, then the table sampler; returns once every partition
    has a commit in the table."""
    g.start_producer(rate)
    procs = [g.start() for _ in range(instances)]
    g.sampler = TableSampler(g.root)
    g.wait_every_partition_committed()
    return procs


def finish(g: Group, settle_timeout: float = 120) -> tuple[dict[int, int], float]:
    """Stops the producer, waits for the group to settle, stops every instance cleanly and checks
    the output; returns the ends and the seconds the group took to settle."""
    ends = g.stop_producer()
    took = g.settle(ends, timeout=settle_timeout)
    g.sampler.check()
    codes = g.stop_all()
    assert all(rc == 0 for rc in codes.values()), f"exit codes after SIGTERM: {codes}"
    n = check_exactly_once(g, ends)
    check_group_lag_zero(g, ends)
    print(f"{n} events in {PARTITIONS} partitions, {len(g.instances)} instances started, settled in {took:.1f} s, "
          f"{len(g.sampler.samples)} table samples, last version {g.sampler.samples[-1][0]}")
    return ends, took


def wait_mid_batch(g: Group, timeout: float = 30) -> None:
    """Waits until some batch is between its write-ahead entry and its end (groups/pending)."""
    wait_until(lambda: g.pending(), timeout, interval=0.01, what="a batch in flight")


# --- settings refused ----------------------------------------------------------------------

def refused(kpipe_bin, env, cwd, args=()) -> subprocess.CompletedProcess:
    p = run_kpipe(["stream", *args], env=env, cwd=cwd, timeout=60, kpipe_bin=kpipe_bin)
    assert p.returncode == 2, f"exit {p.returncode}, expected 2: {p.stderr[-2000:]}"
    return p


def test_group_id_needs_the_delta_table_and_no_dt_complete_after(kafka, kpipe_bin, unique_topic, tmp_path):
    kafka.create_topic(unique_topic, 2)
    base = stream_env(tmp_path, kafka.bootstrap, unique_topic, GROUP_ID="g1")
    for extra, named in (({"SINKS": "csv"}, "SINKS"), ({"PARQUET_TABLE_FORMAT": "none"}, "PARQUET_TABLE_FORMAT"),
                         ({"DT_COMPLETE_AFTER": "1h"}, "DT_COMPLETE_AFTER")):
        p = refused(kpipe_bin, {**base, **extra}, tmp_path)
        assert "GROUP_ID" in p.stderr and named in p.stderr, (extra, p.stderr[-2000:])
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
        procs = begin(g)
        time.sleep(8)
        finish(g)
        read = [g.partitions_read(p) for p in procs]
        # The coordinator shared the partitions: every instance read some, together all of them.
        assert all(read) and set().union(*read) == set(range(PARTITIONS)), read


def test_an_instance_sigkilled_mid_batch(group):
    g = group
    with explained(g):
        procs = begin(g)
        time.sleep(3)
        victim = procs[0]
        wait_mid_batch(g)
        g.kill(victim)
        pending_at_kill = g.pending()
        time.sleep(10)  # the session timeout (6 s) passes; the others take its partitions over
        finish(g)
        print(f"pending at the kill: {pending_at_kill}")
        survivors = set().union(*(g.partitions_read(p) for p in procs[1:]))
        assert survivors == set(range(PARTITIONS)), survivors


def test_an_instance_paused_past_the_session_timeout_is_fenced_and_rejoins(group):
    g = group
    with explained(g):
        procs = begin(g)
        time.sleep(3)
        zombie = procs[1]
        wait_mid_batch(g)
        g.pause(zombie)
        epochs_before = g.owner_epochs()
        time.sleep(9)  # past session.timeout.ms=6000: its partitions go to the others
        epochs_paused = g.owner_epochs()
        g.resume(zombie)
        time.sleep(6)
        assert zombie.running(), "the resumed instance exited instead of rejoining"
        finish(g)
        # Its partitions were fenced: their owner epochs moved while it was paused.
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
        ends, took = finish(g, settle_timeout=60)
        assert g.partitions_read(left) == set(range(PARTITIONS))


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
        finish(g, settle_timeout=150)
        assert len(g.sampler.samples) >= 10, g.sampler.samples
