"""Several instances of one consumer group (bench/run's `group` step; issue 15 item 6).

A topic of its own, bench-group, with 6 partitions, filled once with BENCH_GROUP_EVENTS
(2,000,000) of the seed's events (`kpipe produce --rate 0`). For each instance count in
BENCH_GROUP_INSTANCES (1,2,3), BENCH_REPEAT times, round by round: N `kpipe stream` processes
started at once with one fresh GROUP_ID and one fresh OUTPUT_PATH, CSV_OUTPUT_PATH,
CHECKPOINT_PATH (the Delta table, TRIGGER_SECONDS=1, SINKS=parquet,csv, STATUS_ADDR=off, the
seed's file settings, MAX_BATCH_RECORDS at its default). Measured:

  wall_s        from the start of the first process until the Delta log's per-partition txns
                (`kpipe-<queryId>-p<P>`, version = the last offset of P in the table) reach every
                partition's end offset - 1; the log's JSON commits are read as they appear,
                every 0.2 s. Then every instance gets SIGTERM.
  first_commit_s  from the start to the first partition txn: joining the group and claiming
  last_claim_s  from the start to the last "claimed partitions" line before SIGTERM: when the
                group's assignment settled (the rebalances of instances joining one another)
  cpu_s         user + system CPU of the instances summed, from /proc/<pid>/stat just before
                SIGTERM (cpu_total_s: the same from wait4, shutdown included)
  peak_rss_mb   each instance's VmHWM just before SIGTERM (a high-water mark: exact for the drain)
  claims        "claimed partitions" lines in the instances' logs before SIGTERM (one per
                assignment that raised owner epochs); revokes ("revoked/lost partitions") likewise;
                abandoned batches over the whole run

After each run the Delta table (deltalake, an independent reader) must hold exactly
BENCH_GROUP_EVENTS rows, or the step fails; the CSV folder's lines are counted too.
On 2 cores the instances share the same cores: no speed-up is expected from more of them.
"""
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

INSTANCES = [int(n) for n in os.environ.get("BENCH_GROUP_INSTANCES", "1,2,3").split(",") if n.strip()]
EVENTS = int(os.environ.get("BENCH_GROUP_EVENTS", "2000000").replace("_", ""))
# librdkafka properties for the instances, space-separated key=value (--kafka-prop each), e.g.
# heartbeat.interval.ms=500: how fast the members learn of a rebalance. Empty: kpipe's defaults.
KAFKA_PROPS = os.environ.get("BENCH_GROUP_KAFKA_PROP", "").split()
PARTITIONS = 6
TOPIC = "bench-group"
POLL_S = 0.2
DRAIN_TIMEOUT_S = 900
TICK = os.sysconf("SC_CLK_TCK")
PARTITION_TXN = re.compile(r"^kpipe-.+-p(\d+)$")


def end_offsets(broker):
    """Each partition's end offset (high watermark), from `kcat -Q` (offset for time -1 = the end)."""
    args = ["kcat", "-Q", "-b", broker.address]
    for p in range(PARTITIONS):
        args += ["-t", f"{TOPIC}:{p}:-1"]
    out = subprocess.run(args, check=True, stdout=subprocess.PIPE, text=True, timeout=60).stdout
    ends = {int(m.group(1)): int(m.group(2)) for m in re.finditer(r"\[(\d+)\]\s+offset\s+(-?\d+)", out)}
    if sorted(ends) != list(range(PARTITIONS)):
        sys.exit(f"bench: group: kcat -Q gave no end offset for every partition of {TOPIC}:\n{out}")
    return ends


def produce(ctx):
    """Creates and fills the group's topic; returns its end offsets."""
    broker, raw = ctx["broker"], ctx["raw"]
    broker.topic(TOPIC, PARTITIONS)
    log = raw / "group-produce.log"
    ctx["run_measured"]([ctx["KPIPE"], "produce", "--env-file", "/dev/null", "--bootstrap-servers", broker.address,
                         "--topic", TOPIC, "--rate", "0", "--count", str(EVENTS), "--status-addr", "off"], log,
                        timeout=900)
    m = re.search(r"done: sent \d+, delivered (\d+), failed (\d+)", log.read_text())
    if not m or int(m.group(1)) != EVENTS:
        sys.exit(f"bench: group: the producer did not deliver {EVENTS} events (see {log})")
    ends = end_offsets(broker)
    if sum(ends.values()) != EVENTS:
        sys.exit(f"bench: group: {TOPIC}'s end offsets {ends} add up to {sum(ends.values())}, not {EVENTS}")
    return ends


class DeltaTxns:
    """The highest partition txn version per partition in a Delta log, read commit by commit (each
    JSON commit is created whole, and kept: the log's retention is 30 days)."""

    def __init__(self, log_dir):
        self.dir = Path(log_dir)
        self.next_version = 0
        self.last = {}

    def poll(self):
        while True:
            path = self.dir / f"{self.next_version:020d}.json"
            try:
                text = path.read_text()
            except FileNotFoundError:
                return self.last
            for line in text.splitlines():
                if '"txn"' not in line:
                    continue
                txn = json.loads(line).get("txn")
                m = PARTITION_TXN.match(txn.get("appId", "")) if txn else None
                if m:
                    p = int(m.group(1))
                    self.last[p] = max(self.last.get(p, -1), int(txn["version"]))
            self.next_version += 1


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def proc_hwm_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def reap(proc, timeout):
    """Waits for proc (SIGKILL after `timeout` s); its exit code and CPU seconds (wait4; 0 when it
    was reaped already)."""
    if proc.returncode is not None:
        return proc.returncode, 0.0
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime


def line_times(log, needle):
    """Epoch seconds of the log lines holding `needle` (kpipe's lines start with an ISO UTC time)."""
    times = []
    for line in Path(log).read_text(errors="replace").splitlines():
        if needle in line:
            stamp = line.split(" ", 1)[0].rstrip("Z")
            try:
                times.append(datetime.datetime.fromisoformat(stamp).replace(tzinfo=datetime.timezone.utc).timestamp())
            except ValueError:
                pass
    return times


def count_lines(log, needle):
    return sum(1 for line in Path(log).read_text(errors="replace").splitlines() if needle in line)


def run_group(ctx, ends, n, i):
    """One run: n instances drain the topic into fresh paths; its measurements."""
    from deltalake import DeltaTable

    raw, work, KPIPE = ctx["raw"], ctx["work"], ctx["KPIPE"]
    out = work / f"group-{n}-{i}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = ctx["kpipe_env"](ctx["broker"], TOPIC, out, SINKS="parquet,csv", TRIGGER_SECONDS=1,
                           GROUP_ID=f"bench-group-{n}-{i}-{int(time.time())}", STARTING_OFFSETS="earliest",
                           PARQUET_TABLE_FORMAT="delta")
    env.pop("MAX_BATCH_RECORDS", None)
    logs = [raw / f"group-{n}-{i}-{k}.log" for k in range(n)]
    files = [open(log, "wb") for log in logs]
    wanted = {p: end - 1 for p, end in ends.items() if end > 0}
    txns = DeltaTxns(out / "parquet" / "_delta_log")
    t0, started_at = time.monotonic(), time.time()
    props = [arg for kv in KAFKA_PROPS for arg in ("--kafka-prop", kv)]
    procs = [subprocess.Popen([str(KPIPE), "stream", "--env-file", "/dev/null", *props], env=env, cwd=out, stdout=f,
                              stderr=f, start_new_session=True) for f in files]
    first_commit = None
    try:
        while True:
            last = txns.poll()
            now = time.monotonic()
            if first_commit is None and last:
                first_commit = now - t0
            if all(last.get(p, -1) >= w for p, w in wanted.items()):
                wall = now - t0
                break
            dead = [k for k, p in enumerate(procs) if p.poll() is not None]
            if dead or now - t0 > DRAIN_TIMEOUT_S:
                why = f"instance(s) {dead} exited" if dead else f"not drained in {DRAIN_TIMEOUT_S} s"
                sys.exit(f"bench: group {n} instance(s) #{i + 1}: {why}; the table has {last} of {wanted} "
                         f"(logs: {', '.join(map(str, logs))})")
            time.sleep(POLL_S)
        cpu = [proc_cpu_s(p.pid) for p in procs]
        hwm = [proc_hwm_mb(p.pid) for p in procs]
        # Before SIGTERM: the rebalances of the drain, not the revokes of shutting down.
        claims = sum(count_lines(log, "claimed partitions") for log in logs)
        settled = max(line_times(log, "claimed partitions")[-1:] or [started_at] for log in logs)[0] - started_at
        revokes = sum(count_lines(log, "revoked partitions") + count_lines(log, "lost partitions") for log in logs)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        exits, cpu_total = zip(*(reap(p, 60) for p in procs))
        for f in files:
            f.close()
    rows = DeltaTable(str(out / "parquet")).to_pyarrow_table(columns=["event_id"]).num_rows
    if rows != EVENTS:
        sys.exit(f"bench: group {n} instance(s) #{i + 1}: the Delta table holds {rows} rows, expected {EVENTS} "
                 f"(table: {out / 'parquet'}; logs: {', '.join(map(str, logs))})")
    csv_rows = ctx["count_output"](out, ["csv"])["csv"]
    r = {
        "instances": n, "events": EVENTS, "wall_s": wall, "events_per_s": EVENTS / wall,
        "first_commit_s": first_commit, "cpu_s": sum(cpu), "cpu_per_instance_s": cpu,
        "cpu_total_s": sum(cpu_total), "peak_rss_mb": max(hwm), "peak_rss_per_instance_mb": hwm,
        "claims": claims, "revokes": revokes, "last_claim_s": settled,
        "abandoned": sum(count_lines(log, "abandoned") for log in logs),
        "delta_versions": txns.next_version, "delta_rows": rows, "csv_rows": csv_rows, "exits": list(exits),
    }
    ctx["say"](f"group {n} instance(s) #{i + 1}: {r['events_per_s']:,.0f} events/s in {wall:.2f} s (first commit "
               f"at {first_commit:.1f} s, last claim at {settled:.1f} s), CPU {r['cpu_s']:.1f} s, peak RSS "
               f"{' / '.join(f'{x:.0f}' for x in hwm)} MB, {r['claims']} claims, {r['revokes']} revokes, "
               f"{r['abandoned']} abandoned, {r['delta_versions']} Delta versions, exits {exits}")
    if csv_rows != EVENTS:
        ctx["say"](f"group {n} instance(s) #{i + 1}: WARNING the CSV output holds {csv_rows} rows, expected {EVENTS}")
    if any(e != 0 for e in exits):
        ctx["say"](f"group {n} instance(s) #{i + 1}: WARNING exit codes after SIGTERM: {exits}")
    if not ctx["KEEP"]:
        shutil.rmtree(out, ignore_errors=True)
    return r


def step_group(ctx):
    """ctx: bench/run's pieces (broker, raw, work, KPIPE, kpipe_env, run_measured, count_output,
    other_load, say, REPEAT, KEEP). Returns {"runs": {n: [run, ...]}, ...}."""
    load_before = ctx["other_load"]()
    ends = produce(ctx)
    ctx["say"](f"group: {EVENTS:,} events in {PARTITIONS} partitions of {TOPIC}; instances {INSTANCES}, "
               f"{ctx['REPEAT']} runs each")
    runs = {}
    for i in range(ctx["REPEAT"]):
        for n in INSTANCES:
            runs.setdefault(str(n), []).append(run_group(ctx, ends, n, i))
    return {"events": EVENTS, "partitions": PARTITIONS, "repeat": ctx["REPEAT"], "end_offsets": ends,
            "kafka_props": KAFKA_PROPS,
            "runs": runs, "load_before": load_before, "load_after": ctx["other_load"]()}


def busy_names(busy):
    """other_load()'s "NN% command line" entries as "NN% program" (the compiler, not qemu's wrapper)."""
    out = []
    for entry in busy:
        share, _, cmd = entry.partition(" ")
        words = cmd.split()
        if len(words) > 1 and "qemu" in words[0]:
            words = words[1:]
        out.append(f"{share} {Path(words[0]).name}" if words else share)
    return out


def median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


HEADING = "## Several instances (GROUP_ID)"


def report(group, date, machine, fmt_int):
    """The RESULTS.md section ("" when the step did not run)."""
    if not group:
        return ""
    rows = []
    first = None
    for n, runs in sorted(group["runs"].items(), key=lambda kv: int(kv[0])):
        pick = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]  # the median run, for the per-instance lists
        x = {k: median([r[k] for r in runs]) for k in ("wall_s", "events_per_s", "cpu_s", "first_commit_s",
                                                        "last_claim_s")}
        walls = [r["wall_s"] for r in runs]
        first = first or x
        rows.append(f"| {n} | {x['wall_s']:.2f} ({min(walls):.1f}–{max(walls):.1f}) | {fmt_int(x['events_per_s'])} | "
                    f"{x['events_per_s'] / first['events_per_s'] * 100:.0f}% | {x['cpu_s']:.1f} | "
                    f"{' / '.join(fmt_int(v) for v in pick['peak_rss_per_instance_mb'])} | {x['first_commit_s']:.1f} | "
                    f"{x['last_claim_s']:.1f} | "
                    f"{' '.join(str(r['claims']) for r in runs)} | {' '.join(str(r['revokes']) for r in runs)} | "
                    f"{sum(r['abandoned'] for r in runs)} |")
    before, after = group["load_before"], group["load_after"]
    props = "".join(f", --kafka-prop {kv}" for kv in group.get("kafka_props", []))
    busy = ", ".join(busy_names(before["busy"])[:8]) or "nothing measurable"
    return f"""
{HEADING}

`kpipe stream` with GROUP_ID: N instances started at once, one consumer group, one Delta table
(bench/group.py, `BENCH_STEPS=group bench/run`), drain {fmt_int(group['events'])} of the seed's events
from a topic of {group['partitions']} partitions into Parquet (Delta) and CSV; TRIGGER_SECONDS=1, the
seed's file settings, MAX_BATCH_RECORDS at its default{props}; {machine['cores']} cores, {date}. Wall time from
the start until the Delta log's per-partition txns reach every partition's end offset - 1 (polled
every 0.2 s), then SIGTERM; {f"medians of {group['repeat']} runs" if group['repeat'] > 1 else "one run each"}. CPU-s: the instances' user + system
summed, before SIGTERM. Peak RSS: each instance's VmHWM (the median run). First commit: the first
partition txn in the log (joining the group and claiming included); last claim: the last
"claimed partitions" line, when the group's assignment settled. Claims and revokes: log lines of
each run before SIGTERM ("claimed partitions", "revoked/lost partitions"). Every run's table held exactly
{fmt_int(group['events'])} rows (deltalake).

| instances | wall s (min–max) | events/s | vs 1 | CPU-s (sum) | peak RSS per instance (MB) | first commit (s) | last claim (s) | claims per run | revokes per run | abandoned batches |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
""" + "\n".join(rows) + f"""

Load from other processes: load average {before['loadavg'][0]:.2f} at the start (busy: {busy}),
{after['loadavg'][0]:.2f} at the end. On {machine['cores']} cores more instances share the same cores, so
no speed-up is expected. {seen(group)}
"""


def seen(group):
    """What the runs show, in one paragraph: the runs of several instances split by whether the group
    rebalanced during the drain (a revoke) or every instance was in its first assignment."""
    runs = group["runs"]
    one = [r["wall_s"] for r in runs.get("1", [])]
    many = [r for n, rs in runs.items() if int(n) > 1 for r in rs]
    if not many:
        return ""
    calm = [r for r in many if r["revokes"] == 0]
    moved = [r for r in many if r["revokes"] > 0]
    parts = [f"Seen: one instance drained in {median(one):.2f} s (median)." if one else "Seen:"]
    if calm:
        parts.append(f"Of the {len(many)} runs of several instances, {len(calm)} had every instance in the group's "
                     f"first assignment (no revoke) and took {median([r['wall_s'] for r in calm]):.2f} s (median).")
    if moved:
        parts.append(f"{len(moved)} had a rebalance during the drain (one instance claimed partitions first, then "
                     f"gave some up) and took {median([r['wall_s'] for r in moved]):.2f} s: the assignment settled "
                     f"{median([r['last_claim_s'] for r in moved]):.1f} s after the start (median), partitions idle "
                     f"meanwhile.")
    cpu1 = median([r["cpu_s"] for r in runs.get("1", [])]) if one else None
    if cpu1:
        parts.append(f"CPU summed: {cpu1:.1f} s for one instance, {median([r['cpu_s'] for r in many]):.1f} s for "
                     f"several.")
    return " ".join(parts)



def update_results_md(path, section):
    """Puts `section` into an existing RESULTS.md in place of its earlier version (or before the
    Notes), leaving the rest as it was: for a run of the group step alone."""
    text = path.read_text() if path.exists() else ""
    section = section.strip("\n") + "\n"
    start = text.find(HEADING)
    if start >= 0:
        end = text.find("\n## ", start + len(HEADING))
        text = text[:start] + section + (text[end:] if end >= 0 else "")
    elif "\n## Notes" in text:
        at = text.index("\n## Notes") + 1
        text = text[:at] + section + "\n" + text[at:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
