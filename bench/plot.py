"""bench/results/throughput.png from a results.json of bench/run (run with .local/bench/venv).

Two panels side by side: events per second (medians) of every throughput step, and peak RSS of
the consumers (kcat, kpipe, Spark), both on a log scale so Spark and kpipe fit on one chart.
"""
import json
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {
    "produce": "kpipe produce\n--rate 0",
    "kcat": "kcat -C -e\n(raw ceiling)",
    "kpipe": "kpipe stream\nParquet+CSV",
    "kpipe-parquet": "kpipe stream\nParquet",
    "kpipe-1m": "kpipe, P+CSV\n1M-event batches",
    "spark": "Spark 3.5\nParquet+CSV",
}
COLORS = {"produce": "#8c8c8c", "kcat": "#4c72b0", "kpipe": "#dd8452", "kpipe-parquet": "#f0b27a", "kpipe-1m": "#c44e52", "spark": "#55a868"}


def main(results_path, png_path):
    res = json.load(open(results_path))
    steps = [s for s in LABELS if res["steps"].get(s)]
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


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
