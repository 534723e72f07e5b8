"""Steady state at the seed's settings (bench/run's `steady` step; issue 14 item 4).

For each rate in BENCH_STEADY_RATES (1000,10000 events/s): `kpipe produce` sends that rate to a
topic of its own for BENCH_STEADY_SECONDS (300) while `kpipe stream` (TRIGGER_SECONDS=
BENCH_STEADY_TRIGGER, 30, Parquet + CSV, the seed's file settings) and, when `bench/setup --spark`
has run, the seed's Spark job in its ProcessingTime trigger mode (bench/spark/job.py with
BENCH_SPARK_TRIGGER_SECONDS) read it side by side. kpipe starts first; Spark starts once kpipe
has committed its first batch, so that the JVM's start-up does not slow kpipe's.

Measured for each, every second, the whole process tree (the JVM is a grandchild of the Python
driver): CPU seconds (user + system) and RSS. Reported:
  startup_s            from the process's start to its first committed batch (commits/0 in its
                       checkpoint; Spark: both queries')
  cpu_per_m_events     CPU seconds per million events from the first committed batch to the end,
                       divided by the events produced meanwhile (rate x seconds): both keep up
  cpu_s                CPU seconds of the whole run, start-up included
  peak_rss_mb, mean_rss_mb   the tree's RSS, sampled every second (mean from the first commit)
"""
import os
import signal
import threading
import time
from pathlib import Path

RATES = [int(r) for r in os.environ.get("BENCH_STEADY_RATES", "1000,10000").split(",") if r.strip()]
SECONDS = int(os.environ.get("BENCH_STEADY_SECONDS", "300"))
TRIGGER = int(os.environ.get("BENCH_STEADY_TRIGGER", "30"))
TICK = os.sysconf("SC_CLK_TCK")


def tree_pids(pid):
    """pid and its descendants that are alive."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
            out.append(p)
        except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
            pass
    return out


def tree_cpu_s(pid):
    """CPU seconds (user + system) of pid's live process tree, with the children they reaped."""
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
            pass
    return total / TICK


class Watch:
    """Samples a Measured process's tree once a second and notes when `committed()` first holds."""

    def __init__(self, measured, tree_rss_kb, committed):
        self.m, self.tree_rss_kb, self.committed = measured, tree_rss_kb, committed
        self.samples = []  # (monotonic, cpu_s, rss_kb)
        self.first_commit = None  # monotonic
        self.cpu_at_first = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            now = time.monotonic()
            cpu = tree_cpu_s(self.m.proc.pid)
            self.samples.append((now, cpu, self.tree_rss_kb(self.m.proc.pid)))
            if self.first_commit is None and self.committed():
                self.first_commit, self.cpu_at_first = now, cpu
            self.stop.wait(0.2 if self.first_commit is None else 1.0)

    def wait_first_commit(self, timeout):
        deadline = time.monotonic() + timeout
        while self.first_commit is None and time.monotonic() < deadline and self.m.proc.poll() is None:
            time.sleep(0.2)
        return self.first_commit is not None

    def finish(self, rate):
        """Stops sampling; the report of this reader (None when it never committed)."""
        end = time.monotonic()
        cpu_end = tree_cpu_s(self.m.proc.pid)
        self.stop.set()
        self.thread.join()
        if self.first_commit is None:
            return None
        window = end - self.first_commit
        steady = [rss for t, _, rss in self.samples if t >= self.first_commit]
        return {
            "startup_s": self.first_commit - self.m.t0,
            "window_s": window,
            "events": rate * window,
            "cpu_window_s": cpu_end - self.cpu_at_first,
            "cpu_per_m_events": (cpu_end - self.cpu_at_first) / (rate * window) * 1e6,
            "cpu_s": cpu_end,
            "peak_rss_mb": max(rss for _, _, rss in self.samples) / 1024,
            "mean_rss_mb": sum(steady) / len(steady) / 1024 if steady else 0,
        }


def commits_done(checkpoint):
    return lambda: (Path(checkpoint) / "commits" / "0").exists()


def step_steady(ctx):
    """ctx: bench/run's pieces (broker, raw, work, spark, KPIPE, Measured, tree_rss_kb, kpipe_env,
    say, ROOT, PARTITIONS). Returns {rate: {"kpipe": {...}, "spark": {...} or None}}."""
    broker, raw, work, spark, say = ctx["broker"], ctx["raw"], ctx["work"], ctx["spark"], ctx["say"]
    Measured, KPIPE = ctx["Measured"], ctx["KPIPE"]
    results = {}
    for rate in RATES:
        topic = f"bench-steady-{rate}"
        broker.topic(topic, ctx["PARTITIONS"])
        out = work / f"steady-{rate}"
        out.mkdir(parents=True, exist_ok=True)
        producer = Measured([KPIPE, "produce", "--env-file", "/dev/null", "--bootstrap-servers", broker.address,
                             "--topic", topic, "--rate", str(rate), "--duration", str(SECONDS + 120),
                             "--status-addr", "off"], raw / f"steady-{rate}-produce.log")
        time.sleep(2)
        kenv = ctx["kpipe_env"](broker, topic, out / "kpipe", SINKS="parquet,csv", TRIGGER_SECONDS=TRIGGER,
                                STARTING_OFFSETS="earliest")
        (out / "kpipe").mkdir(parents=True, exist_ok=True)
        kpipe = Measured([KPIPE, "stream", "--env-file", "/dev/null"], raw / f"steady-{rate}-kpipe.log", env=kenv,
                         cwd=out / "kpipe")
        kw = Watch(kpipe, ctx["tree_rss_kb"], commits_done(out / "kpipe" / "_checkpoint"))
        if not kw.wait_first_commit(120):
            say(f"steady {rate}/s: kpipe committed nothing in 120 s (see {raw}/steady-{rate}-kpipe.log)")
        sw = spark_proc = None
        if spark:
            senv = ctx["kpipe_env"](broker, topic, out / "spark", SINKS="parquet,csv",
                                    PYSPARK_PYTHON=spark["SPARK_PYTHON"], PYSPARK_DRIVER_PYTHON=spark["SPARK_PYTHON"],
                                    BENCH_SPARK_TRIGGER_SECONDS=TRIGGER)
            (out / "spark").mkdir(parents=True, exist_ok=True)
            spark_proc = Measured([spark["SPARK_SUBMIT"], "--master", "local[*]", "--jars", spark["SPARK_JARS"],
                                   "--conf", "spark.ui.enabled=false", ctx["ROOT"] / "bench" / "spark" / "job.py"],
                                  raw / f"steady-{rate}-spark.log", env=senv, cwd=out / "spark")
            cp = out / "spark" / "_checkpoint"
            sw = Watch(spark_proc, ctx["tree_rss_kb"],
                       lambda: (cp / "parquet" / "commits" / "0").exists() and (cp / "csv" / "commits" / "0").exists())
        say(f"steady {rate}/s: kpipe{' and Spark' if spark else ''} reading for {SECONDS} s "
            f"(TRIGGER_SECONDS={TRIGGER})")
        time.sleep(SECONDS)
        r = {"kpipe": kw.finish(rate), "spark": sw.finish(rate) if sw else None,
             "rate": rate, "seconds": SECONDS, "trigger_seconds": TRIGGER}
        for m in [kpipe, spark_proc, producer]:
            if m is not None:
                try:
                    os.killpg(m.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                m.wait(timeout=60)
        for name in ["kpipe", "spark"]:
            x = r[name]
            if x:
                say(f"steady {rate}/s {name}: {x['cpu_per_m_events']:.1f} CPU-s per million events, "
                    f"first batch committed {x['startup_s']:.1f} s after start, RSS peak {x['peak_rss_mb']:.0f} MB, "
                    f"mean {x['mean_rss_mb']:.0f} MB")
        results[str(rate)] = r
    return results


def report(steady, drain_cpu, fmt_int):
    """The RESULTS.md section: one row per reader and rate ("" when the step did not run)."""
    if not steady:
        return ""
    rows = []
    for rate, st in sorted(steady.items(), key=lambda kv: int(kv[0])):
        for name, label in [("kpipe", "kpipe stream"), ("spark", "Spark (the seed's job)")]:
            x = st.get(name)
            if not x:
                continue
            rows.append(f"| {fmt_int(int(rate))} | {label} | {x['cpu_per_m_events']:.2f} | {x['cpu_s']:.1f} | "
                        f"{x['startup_s']:.1f} | {fmt_int(x['peak_rss_mb'])} | {fmt_int(x['mean_rss_mb'])} |")
    first = next(iter(steady.values()))
    drain = (f" Draining (the Parquet + CSV row above) took {drain_cpu:.2f} CPU-s per million events."
             if drain_cpu else "")
    return f"""
## Steady state at the seed's settings

`kpipe produce` at a steady rate for {first['seconds']} s, TRIGGER_SECONDS={first['trigger_seconds']}, Parquet + CSV
with the seed's file settings; `kpipe stream` and the seed's Spark job (ProcessingTime trigger)
read the same topic side by side, Spark started once kpipe had committed its first batch
(bench/steady.py). CPU per million events counts from the first committed batch to the end, over
the events produced meanwhile; the whole process tree (Spark: the Python driver and its JVM),
sampled every second.{drain}

| events/s | reader | CPU-s per million events | CPU s (whole run) | start-up to first committed batch (s) | peak RSS (MB) | mean RSS (MB) |
| ---: | --- | ---: | ---: | ---: | ---: | ---: |
""" + "\n".join(rows) + "\n"
