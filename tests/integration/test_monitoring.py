"""The Grafana dashboard (deploy/grafana/kpipe-dashboard.json) and the monitoring profile of
docker-compose.yml, checked as far as no container runs here:

- every panel's query parses as PromQL (promql-parser, the Rust parser GreptimeDB uses), once
  Grafana's variables are put in;
- every metric a query names is served by a running `kpipe stream`'s /metrics, read with
  prometheus_client's own text parser, so a renamed metric breaks this test, not the dashboard:
  every panel against an instance started with GROUP_ID, every panel outside the "Consumer group
  (GROUP_ID)" row against a single instance too (which serves no kpipe_group_*);
- every label a query groups or matches by, or its legend names, is one the selected metrics carry
  (or `instance`/`job`, which Prometheus adds), so `sum by (partition)` cannot silently sum it all;
- the panels do not overlap, ids are unique, every panel uses the data source variable;
- Prometheus scrapes the stream's status port, Grafana is provisioned with that Prometheus and
  this dashboard, both only under the `monitoring` profile and on 127.0.0.1.
"""
from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import promql_parser
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from kafka_fixture import REPO_ROOT, clean_env, free_port
from output_check import stream_env

DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "kpipe-dashboard.json"
PROMETHEUS_YML = REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h", "$instance": ".*"}
GROUP_ROW = "Consumer group (GROUP_ID)"
# What /metrics serves only with GROUP_ID (src/status/prometheus.cc); the group row must show each.
GROUP_METRICS = {"kpipe_group_rebalances_total", "kpipe_group_owned_partitions", "kpipe_group_partition_owned",
                 "kpipe_group_fenced_batches_total"}
TARGET_LABELS = {"instance", "job"}  # added by Prometheus to every series it scrapes
GROUP_PROPS = ["--kafka-prop", "session.timeout.ms=6000", "--kafka-prop", "heartbeat.interval.ms=1000"]


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def panels(dashboard: dict) -> list[dict]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def group_row_panels(dashboard: dict) -> list[dict]:
    """The panels under the consumer-group row: Grafana puts a panel in the last row above it."""
    rows = sorted((p["gridPos"]["y"], p["title"]) for p in dashboard["panels"] if p["type"] == "row")
    starts = [y for y, title in rows if title == GROUP_ROW]
    assert len(starts) == 1, f"one row titled {GROUP_ROW!r}: {rows}"
    end = min([y for y, _ in rows if y > starts[0]], default=10**9)
    return [p for p in panels(dashboard) if starts[0] < p["gridPos"]["y"] < end]


def queries(dashboard: dict, of: list[dict] | None = None) -> list[str]:
    """Every query of the panels `of` (all panels and the query variables when None)."""
    if of is not None:
        return [t["expr"] for p in of for t in p["targets"]]
    out = [t["expr"] for p in panels(dashboard) for t in p["targets"]]
    for v in dashboard["templating"]["list"]:
        if v["type"] == "query":
            m = re.fullmatch(r"label_values\((.*), *\w+\)", v["definition"])
            assert m, f"variable {v['name']}: {v['definition']}"
            out.append(m.group(1))
    return out


def with_values(expr: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, f"a Grafana variable this test does not know: {expr}"
    return expr


def nodes(node):
    """Every node of a parsed PromQL expression, depth first (a selector's matchers are its own)."""
    yield node
    if isinstance(node, promql_parser.VectorSelector):
        return
    for attr in ("expr", "lhs", "rhs", "vector_selector", "param"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, (str, int, float)):
            yield from nodes(child)
    for arg in getattr(node, "args", None) or []:
        yield from nodes(arg)


def metric_names(node) -> set[str]:
    """The metric of every vector and matrix selector in a parsed PromQL expression."""
    return {n.name for n in nodes(node) if isinstance(n, promql_parser.VectorSelector)}


def wanted_metrics(exprs: list[str]) -> set[str]:
    return set().union(*(metric_names(promql_parser.parse(with_values(e))) for e in exprs))


def labels_used(node) -> set[str]:
    """Labels an expression groups by (by/without), matches on (on/ignoring/group_left) or selects by."""
    used = set()
    for n in nodes(node):
        if isinstance(n, promql_parser.VectorSelector):
            used |= {m.name for m in n.matchers.matchers if m.name != "__name__"}
        modifier = getattr(n, "modifier", None)
        if isinstance(n, promql_parser.AggregateExpr) and modifier is not None:
            used |= set(modifier.labels)
        if isinstance(n, promql_parser.BinaryExpr) and modifier is not None:
            if modifier.matching is not None:
                used |= set(modifier.matching.labels)
            used |= set(getattr(modifier.card, "labels", None) or [])
    return used


def test_every_query_is_promql_and_names_kpipe_metrics(dashboard):
    for expr in queries(dashboard):
        parsed = promql_parser.parse(with_values(expr))
        names = metric_names(parsed)
        assert names and all(n.startswith("kpipe_") for n in names), f"{expr}: selects {names}"


def test_panels_are_laid_out_and_use_the_data_source_variable(dashboard):
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    cells = {}
    for p in dashboard["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, f"{p['title']} is wider than the grid"
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = p["title"]
    for p in panels(dashboard):
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        assert p["targets"] and p.get("description"), f"{p['title']}: a query and a description"
    names = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "instance"} <= names


def serve_metrics(kafka, kpipe_bin, tmp: Path, partitions: int, ready, args=(), **settings) -> str:
    """/metrics of a `kpipe stream` on a new topic with 20 events and a bad record, read as soon as
    ready(text) holds; the job is stopped before this returns."""
    topic = f"t-monitoring-{time.time_ns() % 10**9}"
    kafka.create_topic(topic, partitions)
    events = [{"event_id": f"e{i}", "ts": "2025-11-06T12:00:00Z", "value": i, "source": "s"} for i in range(20)]
    kafka.produce(topic, [json.dumps(e).encode() for e in events] + [b"not json"])
    port = free_port()
    env = stream_env(tmp, kafka.bootstrap, topic, STATUS_ADDR=f"127.0.0.1:{port}", STARTING_OFFSETS="earliest",
                     **settings)
    proc = subprocess.Popen([str(kpipe_bin), "stream", *args], env=clean_env(env), cwd=tmp, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        text = ""
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    text = r.read().decode()
            except OSError:
                text = ""
            if text and ready(text):
                return text
            time.sleep(0.2)
        pytest.fail(f"/metrics not ready within 60 s:\n{text}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def samples(text: str) -> list:
    return [s for f in text_string_to_metric_families(text) for s in f.samples]


def value(text: str, name: str, **labels) -> float | None:
    found = [s.value for s in samples(text) if s.name == name and s.labels == labels]
    return found[0] if found else None


@pytest.fixture(scope="module")
def metrics_text(kafka, kpipe_bin, tmp_path_factory) -> str:
    """/metrics of a single `kpipe stream` that has committed a batch with a bad record in it."""
    return serve_metrics(kafka, kpipe_bin, tmp_path_factory.mktemp("monitoring"), 2,
                         lambda text: re.search(r"^kpipe_last_committed_batch 0$", text, re.M))


@pytest.fixture(scope="module")
def group_metrics_text(kafka, kpipe_bin, tmp_path_factory) -> str:
    """/metrics of the one instance of a consumer group (GROUP_ID; Delta table and Parquet sink, the
    defaults) on a 3-partition topic, once it owns every partition and has committed a batch."""
    def ready(text: str) -> bool:
        committed = value(text, "kpipe_last_committed_batch")
        return value(text, "kpipe_group_owned_partitions") == 3 and committed is not None and committed >= 0

    return serve_metrics(kafka, kpipe_bin, tmp_path_factory.mktemp("monitoring-group"), 3, ready, args=GROUP_PROPS,
                         GROUP_ID=f"g-monitoring-{time.time_ns() % 10**9}")


def assert_served(exprs: list[str], text: str, what: str) -> None:
    missing = wanted_metrics(exprs) - {s.name for s in samples(text)}
    assert not missing, f"the dashboard queries metrics {what} does not serve: {sorted(missing)}"


def assert_labels_exist(dashboard_panels: list[dict], text: str) -> None:
    """Each label a query groups, matches or selects by, or its legend names, is on a served series
    of a metric the query selects, or is one Prometheus adds."""
    served = samples(text)
    for p in dashboard_panels:
        for t in p["targets"]:
            parsed = promql_parser.parse(with_values(t["expr"]))
            names = metric_names(parsed)
            carried = TARGET_LABELS.union(*(s.labels.keys() for s in served if s.name in names))
            used = labels_used(parsed) | set(re.findall(r"\{\{ *(\w+) *\}\}", t.get("legendFormat", "")))
            assert used <= carried, f"{p['title']}: {t['expr']} uses labels {sorted(used - carried)} that " \
                                    f"{sorted(names)} do not carry ({sorted(carried)})"


def test_every_metric_of_the_dashboard_is_served(dashboard, metrics_text):
    """A single instance serves every metric outside the group row, and none of kpipe_group_*."""
    served = {s.name for s in samples(metrics_text)}
    group_series = sorted(n for n in served if n.startswith("kpipe_group_"))
    assert not group_series, f"a single instance (no GROUP_ID) serves {group_series}"
    single = [e for e in queries(dashboard) if not any(n.startswith("kpipe_group_") for n in wanted_metrics([e]))]
    assert_served(single, metrics_text, "a single kpipe stream")
    group_panels = group_row_panels(dashboard)
    assert_labels_exist([p for p in panels(dashboard) if p not in group_panels], metrics_text)


def test_the_group_row_shows_what_an_instance_in_a_group_serves(dashboard, group_metrics_text):
    group_panels = group_row_panels(dashboard)
    in_row = wanted_metrics(queries(dashboard, group_panels))
    assert GROUP_METRICS <= in_row, f"the {GROUP_ROW!r} row does not show {sorted(GROUP_METRICS - in_row)}"
    outside = [p["title"] for p in panels(dashboard) if p not in group_panels
               and any(n.startswith("kpipe_group_") for n in wanted_metrics(queries(dashboard, [p])))]
    assert not outside, f"panels with kpipe_group_* outside the {GROUP_ROW!r} row: {outside}"

    # Every panel, not only the group row's, works for an instance in a group.
    assert_served(queries(dashboard), group_metrics_text, "a kpipe stream with GROUP_ID")
    assert_labels_exist(panels(dashboard), group_metrics_text)

    # What the panels would show for this one instance: it owns the whole topic, one series per partition.
    text = group_metrics_text
    owned = {s.labels["partition"] for s in samples(text) if s.name == "kpipe_group_partition_owned" and s.value == 1}
    assert owned == {"0", "1", "2"}, text
    assert value(text, "kpipe_group_owned_partitions") == len(owned)
    assert value(text, "kpipe_group_rebalances_total") >= 1, "the first assignment counts as a rebalance"
    assert value(text, "kpipe_group_fenced_batches_total") == 0
    lag = {s.labels["partition"] for s in samples(text) if s.name == "kpipe_consumer_lag_records"}
    assert lag <= owned, f"lag rows for partitions this instance does not own: {sorted(lag - owned)}"


def test_compose_monitoring_profile():
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("prometheus", "grafana"):
        assert services[name].get("profiles") == ["monitoring"], f"{name} starts only with --profile monitoring"
        for port in services[name]["ports"]:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond the host"
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            assert (REPO_ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"
    for name in ("kafka", "kafka-init", "producer", "stream"):
        assert not services[name].get("profiles"), f"{name} must start with a plain `docker compose up`"

    stream_port = services["stream"]["environment"]["STATUS_ADDR"].rpartition(":")[2]
    scrape = yaml.safe_load(PROMETHEUS_YML.read_text())["scrape_configs"]
    targets = [t for job in scrape for c in job["static_configs"] for t in c["targets"]]
    assert targets == [f"stream:{stream_port}"], "Prometheus scrapes the stream's status port"

    prom_port = services["prometheus"]["ports"][0].split(":")[2]
    provisioning = REPO_ROOT / "deploy" / "grafana" / "provisioning"
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert [s["url"] for s in sources] == [f"http://prometheus:{prom_port}"]
    providers = yaml.safe_load((provisioning / "dashboards" / "kpipe.yml").read_text())["providers"]
    mounted = {v.split(":")[1] for v in services["grafana"]["volumes"]}
    dashboard_path = providers[0]["options"]["path"]
    assert f"{dashboard_path}/{DASHBOARD.name}" in mounted, "Grafana loads the dashboard from where it is mounted"


def test_readme_tells_how_to_start_the_monitoring_profile():
    text = (REPO_ROOT / "README.md").read_text()
    section = re.search(r"\n## Monitoring\n(.*?)(?=\n## )", text, re.S).group(1)
    assert "docker compose --profile monitoring up -d" in section
    assert "deploy/grafana/kpipe-dashboard.json" in section
    for port in ("127.0.0.1:9090", "127.0.0.1:3000"):
        assert port in section
