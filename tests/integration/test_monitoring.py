"""The Grafana dashboard (deploy/grafana/kpipe-dashboard.json) and the monitoring profile of
docker-compose.yml, checked as far as no container runs here:

- every panel's query parses as PromQL (promql-parser, the Rust parser GreptimeDB uses), once
  Grafana's variables are put in;
- every metric a query names is served by a running `kpipe stream`'s /metrics, read with
  prometheus_client's own text parser, so a renamed metric breaks this test, not the dashboard;
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


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def panels(dashboard: dict) -> list[dict]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def queries(dashboard: dict) -> list[str]:
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


def metric_names(node) -> set[str]:
    """The metric of every vector and matrix selector in a parsed PromQL expression."""
    names = set()
    if isinstance(node, promql_parser.VectorSelector):
        names.add(node.name)
        return names
    for attr in ("expr", "lhs", "rhs", "vector_selector", "param"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, (str, int, float)):
            names |= metric_names(child)
    for arg in getattr(node, "args", None) or []:
        names |= metric_names(arg)
    return names


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


@pytest.fixture(scope="module")
def metrics_text(kafka, kpipe_bin, tmp_path_factory) -> str:
    """/metrics of a `kpipe stream` that has committed a batch with a bad record in it."""
    tmp = tmp_path_factory.mktemp("monitoring")
    topic = f"t-monitoring-{time.time_ns() % 10**9}"
    kafka.create_topic(topic, 2)
    events = [{"event_id": f"e{i}", "ts": "2025-11-06T12:00:00Z", "value": i, "source": "s"} for i in range(20)]
    kafka.produce(topic, [json.dumps(e).encode() for e in events] + [b"not json"])
    port = free_port()
    env = stream_env(tmp, kafka.bootstrap, topic, STATUS_ADDR=f"127.0.0.1:{port}", STARTING_OFFSETS="earliest")
    proc = subprocess.Popen([str(kpipe_bin), "stream"], env=clean_env(env), cwd=tmp, stdin=subprocess.DEVNULL,
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
            if re.search(r"^kpipe_last_committed_batch 0$", text, re.M):
                return text
            time.sleep(0.2)
        pytest.fail(f"no committed batch in /metrics within 60 s:\n{text}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_every_metric_of_the_dashboard_is_served(dashboard, metrics_text):
    served = {s.name for f in text_string_to_metric_families(metrics_text) for s in f.samples}
    wanted = set()
    for expr in queries(dashboard):
        wanted |= metric_names(promql_parser.parse(with_values(expr)))
    missing = wanted - served
    assert not missing, f"the dashboard queries metrics kpipe stream does not serve: {sorted(missing)}"


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
