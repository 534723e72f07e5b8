"""bench/results/throughput.png from a results.json of bench/run (run with .local/bench/venv).

Two panels side by side: events per second (medians) of every throughput step, and peak RSS of
the consumers (kcat, kpipe-ceiling, kpipe, Spark), both on a log scale so Spark and kpipe fit on
one chart.
With cost curves in the results (bench/curves.py), also curve-<dimension>.png beside it: events/s
and MB/s, and peak RSS, as that dimension grows alone.
"""
import json
import statistics
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {
    "produce": "kpipe produce\n--rate 0",
    "kcat": "kcat -C -e\n(ceiling)",
    "ceiling-default": "kpipe-ceiling\nlibrdkafka defaults",
    "ceiling-kpipe": "kpipe-ceiling\nkpipe's settings",
    "kpipe": "kpipe stream\nParquet+CSV",
    "kpipe-parquet": "kpipe stream\nParquet",
    "kpipe-s3": "kpipe stream\nParquet+CSV to S3",
    "kpipe-1m": "kpipe, P+CSV\n1M-event batches",
    "spark": "Spark 3.5\nParquet+CSV",
}
COLORS = {"produce": "#8c8c8c", "kcat": "#4c72b0", "ceiling-default": "#64b5cd", "ceiling-kpipe": "#8172b3",
          "kpipe": "#dd8452", "kpipe-parquet": "#f0b27a", "kpipe-s3": "#937860", "kpipe-1m": "#c44e52", "spark": "#55a868"}


def main(results_path, png_path):
    res = json.load(open(results_path))
    steps = [s for s in LABELS if res["steps"].get(s)]
    if not steps:  # a run of the curves alone
        plot_curves(res, Path(png_path).parent)
        return
    med = {s: {k: statistics.median(r[k] for r in res["steps"][s]) for k in ("events_per_s", "peak_rss_mb")}
           for s in steps}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [6, 5]})
    x = range(len(steps))
    bars = ax1.bar(x, [med[s]["events_per_s"] for s in steps], color=[COLORS[s] for s in steps])
    ax1.set_yscale("log")
    ax1.set_xticks(list(x), [LABELS[s] for s in steps], fontsize=8)
    ax1.set_ylabel("events per second (log)")
    ax1.set_title(f"Throughput, {res['events']:,} events, medians")
    for b, s in zip(bars, steps):
        ax1.annotate(f"{med[s]['events_per_s']:,.0f}", (b.get_x() + b.get_width() / 2, b.get_height()),
                     ha="center", va="bottom", fontsize=8)
    mem_steps = [s for s in steps if s != "produce"]
    x2 = range(len(mem_steps))
    bars = ax2.bar(x2, [med[s]["peak_rss_mb"] for s in mem_steps], color=[COLORS[s] for s in mem_steps])
    ax2.set_yscale("log")
    ax2.set_xticks(list(x2), [LABELS[s] for s in mem_steps], fontsize=8)
    ax2.set_ylabel("peak RSS, MB (log)")
    ax2.set_title("Memory")
    for b, s in zip(bars, mem_steps):
        ax2.annotate(f"{med[s]['peak_rss_mb']:,.0f} MB", (b.get_x() + b.get_width() / 2, b.get_height()),
                     ha="center", va="bottom", fontsize=8)
    m = res["machine"]
    fig.suptitle(f"kpipe vs Kafka ceiling and Spark Structured Streaming — {m['cores']} cores, "
                 f"{m['memory_gib']} GiB, {res['date']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plot_curves(res, Path(png_path).parent)


CURVE_TITLES = {
    "partitions": "partitions of the topic",
    "days": "days spanned by a batch",
    "event_bytes": "event size, bytes",
    "columns": "columns of the schema",
}


def plot_curves(res, out_dir):
    m = res["machine"]
    for dim, by_value in res.get("curves", {}).items():
        values = list(by_value)
        med = {v: {k: statistics.median(r[k] for r in by_value[v]["runs"])
                   for k in ("events_per_s", "mb_per_s", "peak_rss_mb")} for v in values}
        x = range(len(values))
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
        ax1.plot(x, [med[v]["events_per_s"] for v in values], "o-", color="#dd8452", label="events/s")
        ax1.set_ylim(bottom=0)
        ax1.set_ylabel("events per second", color="#dd8452")
        ax1b = ax1.twinx()
        ax1b.plot(x, [med[v]["mb_per_s"] for v in values], "s--", color="#4c72b0", label="MB/s")
        ax1b.set_ylim(bottom=0)
        ax1b.set_ylabel("input MB per second", color="#4c72b0")
        for i, v in enumerate(values):
            ax1.annotate(f"{med[v]['events_per_s']:,.0f}", (i, med[v]["events_per_s"]), textcoords="offset points",
                         xytext=(0, 6), ha="center", fontsize=8)
        ax1.set_title("Throughput, kpipe stream --once, Parquet + CSV")
        bars = ax2.bar(x, [med[v]["peak_rss_mb"] for v in values], color="#c44e52")
        for b, v in zip(bars, values):
            ax2.annotate(f"{med[v]['peak_rss_mb']:,.0f} MB", (b.get_x() + b.get_width() / 2, b.get_height()),
                         ha="center", va="bottom", fontsize=8)
        ax2.set_ylabel("peak RSS, MB")
        ax2.set_title("Memory")
        labels = [f"{v}\n{by_value[v]['events']:,} events" for v in values]
        for ax in (ax1, ax2):
            ax.set_xticks(list(x), labels, fontsize=8)
            ax.set_xlabel(CURVE_TITLES.get(dim, dim))
        fig.suptitle(f"Cost as one dimension grows alone: {CURVE_TITLES.get(dim, dim)} (medians of {res['repeat']}) — "
                     f"{m['cores']} cores, {m['memory_gib']} GiB, {res['date']}", fontsize=10)
        fig.tight_layout()
        fig.savefig(out_dir / f"curve-{dim.replace('_', '-')}.png", dpi=100)
        plt.close(fig)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
