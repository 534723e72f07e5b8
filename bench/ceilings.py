"""The ceiling of bench/run's report: which reader is the ceiling, and the notes on a run where
kpipe beat it.

The ceiling is the fastest median of the readers in CEILING_STEPS (kcat, and bench/ceiling's
kpipe-ceiling with librdkafka's defaults and with kpipe's consumer settings), measured round by
round with the kpipe steps. A round in which a kpipe step is faster than the fastest ceiling
reader of the same round gets a note with the likely reason, from that round's numbers.
"""


def fmt_int(x):
    return f"{x:,.0f}"


CEILING_STEPS = ["kcat", "ceiling-default", "ceiling-kpipe"]
CEILING_SHORT = {"kcat": "kcat", "ceiling-default": "kpipe-ceiling, librdkafka defaults",
                 "ceiling-kpipe": "kpipe-ceiling, kpipe's settings"}


def ceiling_summary(med):
    """One phrase: each ceiling reader's median events/s and, for kpipe-ceiling, its stalls."""
    parts = []
    for name in CEILING_STEPS:
        if name not in med:
            continue
        x = med[name]
        stalls = (f" ({x['stalled_seconds']:.2f} s of its {x['read_seconds']:.2f} s of reading stalled, "
                  f"{plural(x['stalls'], 'wait')} of 100 ms or more)" if "stalled_seconds" in x else "")
        parts.append(f"{CEILING_SHORT[name]} {fmt_int(x['events_per_s'])} events/s in {x['wall_s']:.2f} s{stalls}")
    return "; ".join(parts) or "no ceiling step ran"


def plural(n, word):
    return f"{n:.0f} {word}" + ("" if round(n) == 1 else "s")


def beat_reason(kpipe_run, ceiling_name, ceiling_run, load):
    """The likely reason why kpipe_run was faster than ceiling_run, from their numbers."""
    k_wall, c_wall = kpipe_run["wall_s"], ceiling_run["wall_s"]
    reasons = []
    stalled = ceiling_run.get("stalled_seconds", 0)
    if stalled and c_wall - stalled < k_wall:
        reasons.append(
            f"{CEILING_SHORT[ceiling_name]} waited {stalled:.2f} s in {plural(ceiling_run['stalls'], 'stall')} of "
            f"100 ms or more with nothing delivered; without them it would have taken {c_wall - stalled:.2f} s against "
            f"kpipe's {k_wall:.2f} s (librdkafka — 2.0.2 when this was found — pauses fetching a partition whose queue reached "
            f"queued.min.messages or queued.max.messages.kbytes and resumes only when its broker thread wakes, up to a "
            f"second later; kpipe's source wakes it at once)")
    if "read_seconds" in ceiling_run and c_wall - ceiling_run["read_seconds"] > c_wall - k_wall:
        reasons.append(f"its start-up (metadata, watermarks, the first fetch) took "
                       f"{c_wall - ceiling_run['read_seconds']:.2f} s of its {c_wall:.2f} s, more than the "
                       f"{c_wall - k_wall:.2f} s between the two")
    if ceiling_name == "kcat":
        reasons.append("kcat writes a line for every message and runs librdkafka's defaults, whose queue "
                       "pauses kpipe's source works around")
    if c_wall / k_wall < 1.05:
        reasons.append(f"the difference is under 5%: noise on a shared machine (load average "
                       f"{load['before']['loadavg'][0]:.2f} at the start, {load['after']['loadavg'][0]:.2f} at the end)")
    return "; ".join(reasons) or "no number of this run explains it"


def ceiling_beaten(steps, med, load):
    """Note lines ("- ...\n") for each round in which a kpipe step beat the fastest ceiling reader
    of the same round, and for medians beyond the ceiling; "" when none did."""
    lines = []
    kpipe_steps = [n for n in ("kpipe", "kpipe-parquet", "kpipe-1m", "kpipe-s3") if steps.get(n)]
    rounds = max((len(steps.get(n) or []) for n in CEILING_STEPS), default=0)
    for i in range(rounds):
        in_round = {n: steps[n][i] for n in CEILING_STEPS if len(steps.get(n) or []) > i}
        if not in_round:
            continue
        best = max(in_round, key=lambda n: in_round[n]["events_per_s"])
        c = in_round[best]
        for name in kpipe_steps:
            if len(steps[name]) <= i or steps[name][i]["events_per_s"] <= c["events_per_s"]:
                continue
            k = steps[name][i]
            lines.append(f"- **{name} beat its ceiling in round {i + 1}**: {fmt_int(k['events_per_s'])} events/s "
                         f"({k['wall_s']:.2f} s) against {fmt_int(c['events_per_s'])} ({c['wall_s']:.2f} s) for "
                         f"{CEILING_SHORT[best]}, the fastest ceiling reader of that round. Likely: "
                         f"{beat_reason(k, best, c, load)}.")
    ceilings = {n: med[n]["events_per_s"] for n in CEILING_STEPS if n in med}
    if ceilings:
        best = max(ceilings, key=ceilings.get)
        for name in kpipe_steps:
            if med[name]["events_per_s"] > ceilings[best]:
                lines.append(f"- **{name}'s median beats the ceiling's** ({fmt_int(med[name]['events_per_s'])} "
                             f"against {fmt_int(ceilings[best])} events/s, {CEILING_SHORT[best]}): the ceiling is "
                             f"not a ceiling in this run; see the rounds above.")
    return "".join(line + "\n" for line in lines)
